"""Terminal rendering of specs and verdicts (rich; plain text when piped).

A counterexample is printed as a timeline: one row per patcher point, with the
step that produced it and what the observer did there, so a reader can replay
the interleaving top to bottom.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fpatch.isa import decode
from fpatch.model.graph import graph_lines, transition_graph
from fpatch.model.timeline import Timeline
from fpatch.spec.types import Spec
from fpatch.verdict import UNKNOWN, UNSAFE, Counterexample, Result

STYLE = {"safe": "bold green", "unsafe": "bold red", "unknown": "bold yellow"}


def one_line(result: Result) -> str:
    expect = result.expect or "safe"
    mark = "ok" if result.meets_expectation else "FAIL"
    kinds = sorted({c.violation for c in result.counterexamples})
    extra = f" [{', '.join(kinds)}]" if kinds else ""
    if result.verdict == UNKNOWN:
        reasons = {r for o in result.observers for r in o.reasons}
        extra = f" ({'; '.join(sorted(reasons))})" if reasons else ""
    return (f"{mark:4} {result.path}: {result.verdict}{extra} (expected {expect}), "
            f"{result.seconds:.2f}s")


def render_result(console: Console, result: Result, tl: Timeline, verbose: bool = True) -> None:
    style = STYLE.get(result.verdict, "")
    head = Text()
    head.append(f"{result.path}: ", style="bold")
    head.append(result.verdict.upper(), style=style)
    head.append(f"  (expected {result.expect or 'safe'}; "
                f"{'as expected' if result.meets_expectation else 'NOT as expected'}; "
                f"{result.seconds:.2f}s)")
    console.print(head)
    for o in result.observers:
        line = Text(f"  site {o.site}, observer {o.observer}: ")
        line.append(o.status, style=STYLE.get(o.status, ""))
        line.append(f"  ({o.queries} queries, {o.solver_seconds:.2f}s in the solver)")
        console.print(line)
        for r in o.reasons:
            console.print(f"    unknown because: {r}")
    if result.verdict == UNSAFE and verbose:
        for cx in result.counterexamples:
            console.print()
            render_counterexample(console, cx, tl)
    elif result.verdict == UNSAFE:
        for cx in result.counterexamples:
            console.print(f"    {cx.summary}")
        console.print(f"    (the full counterexamples: fpatch explain {result.path})")


def render_counterexample(console: Console, cx: Counterexample, tl: Timeline) -> None:
    console.print(Text(f"  {cx.violation.upper()} — site {cx.site}, observer {cx.observer}",
                       style="bold red"))
    if cx.loc:
        console.print(f"  caused by the spec at {cx.loc}")
    if cx.replayed is False:
        console.print(Text("  WARNING: this counterexample did not replay without the solver "
                           "(please report it); the verdict stands", style="bold yellow"))
    elif cx.replayed:
        console.print("  confirmed by a solver-free replay (fetch windows and concrete execution)")
    console.print(f"  {cx.detail}")
    if cx.initial:
        console.print("  initial registers: " + ", ".join(f"{r}=0x{v:x}" for r, v in cx.initial))
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
    table.add_column("point", justify="right")
    table.add_column("patcher step")
    table.add_column(f"observer ({cx.observer})")
    by_point: dict[int, list[str]] = {}
    prev_point = None
    for k, x in enumerate(cx.execs):
        events = by_point.setdefault(x.point, [])
        if k == 0:
            events.append(f"enters the site (last CSE at point {x.cse})")
        elif x.interrupted_before:
            events.append(f"interrupted after the previous instruction; returns with a CSE at "
                          f"point {x.cse}")
        elif prev_point is not None and x.point != prev_point:
            events.append("(continues, no CSE)")
        src = ", ".join(x.states) if x.states else ("torn word" if x.torn else "no state")
        events.append(
            f"slot {x.slot}: `{x.text}` [{src}], fetched as at point {x.fetched_at} "
            f"(window {x.window[0]}..{x.window[1]})"
        )
        prev_point = x.point
    last = cx.execs[-1].point if cx.execs else 0
    rows = range(0, tl.n + 1)
    for t in rows:
        step = tl.step_at(t)
        label = "(before the first step)" if t == 0 else (step.label if step else "")
        if step and step.block is not None:
            label = f"[stop_machine] {label}"
        events = by_point.get(t, [])
        if t == last and cx.execs:
            events = events + [f"-> {cx.exit}"]
        table.add_row(str(t), label, "\n".join(events))
    console.print(table)
    if cx.diffs:
        console.print(f"  effect against the nearest valid state, {cx.nearest_valid}:")
        for d in cx.diffs:
            console.print(f"    {d.what}: run {d.run}; {cx.nearest_valid} {d.valid}")


def render_show(console: Console, spec: Spec, tl: Timeline) -> None:
    console.print(Text(f"{spec.path}: {spec.name}", style="bold"))
    if spec.description:
        console.print(spec.description)
    console.print(f"cache: IDC={int(spec.idc)} DIC={int(spec.dic)}, line {spec.line_size} bytes; "
                  f"preemptible={spec.preemptible}, nmi={spec.nmi}, "
                  f"cmodx={'linux' if spec.cmodx_linux else 'manual'}; "
                  f"observers: {', '.join(spec.observers)}; max_insns {spec.max_insns}")
    for h in spec.helpers:
        console.print(f"helper {h.name} @0x{h.address:x}: inputs {', '.join(h.inputs)}; returns to "
                      f"{h.returns_to} at entry; restores "
                      f"{', '.join(f'{d}<-{s}' for d, s in h.restores) or 'nothing'}; clobbers "
                      f"{', '.join(h.clobbers) or 'nothing'}")
    for site in spec.sites:
        table = Table(title=f"site {site.name} @0x{site.base:x} (entry slot {site.entry})",
                      header_style="bold")
        table.add_column("slot")
        table.add_column("addr")
        for st in site.states:
            flags = []
            if st.name == site.initial:
                flags.append("initial")
            if st.name in site.valid:
                flags.append("valid")
            table.add_column(f"{st.name}" + (f" ({', '.join(flags)})" if flags else ""))
        table.add_column("differs")
        for i in range(site.nslots):
            words = {st.words[i] for st in site.states}
            cells = []
            for st in site.states:
                d = decode(st.words[i], site.slot_addr(i))
                lab = f"{st.labels[i]}: " if st.labels[i] else ""
                cells.append(f"{lab}{d.text}  ({st.words[i]:08x})")
            table.add_row(str(i), f"0x{site.slot_addr(i):x}", *cells,
                          "*" if len(words) > 1 else "")
        console.print(table)
        for dw in site.data:
            console.print(f"  data {dw.name}: {dw.size} bytes at base{dw.offset:+d}, "
                          f"initially 0x{dw.value:x}")
        console.print(Text("state transitions:", style="bold"))
        for line in graph_lines(transition_graph(tl, site)):
            console.print(f"  {line}")
    console.print(Text("steps (point: step):", style="bold"))
    for step in tl.steps:
        blk = "  [stop_machine]" if step.block is not None else ""
        console.print(f"  {step.index:3}: {step.label}{blk}   ({step.loc.line}:{step.loc.col})")
