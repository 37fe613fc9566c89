"""Terminal rendering of specs and verdicts (rich; plain text when piped).

A counterexample is printed as a timeline (``fpatch.report.explain``): one row
per patcher point, with the step that produced it and what the observer did
there, so a reader can replay the interleaving top to bottom.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fpatch.errors import Loc
from fpatch.isa import decode
from fpatch.model.graph import graph_lines, transition_graph
from fpatch.model.timeline import Timeline, data_histories
from fpatch.report.document import symbolize
from fpatch.report.explain import render_counterexample
from fpatch.spec.types import Spec
from fpatch.verdict import UNKNOWN, UNSAFE, Result

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


def render_result(console: Console, result: Result, doc: dict[str, Any],
                  verbose: bool = True) -> None:
    """One spec: its result line (``one_line``), each observer kind, the counterexamples.

    The counterexamples are drawn from the report dict by the renderer ``fpatch explain``
    uses, so both commands print the same timeline.
    """
    line = Text()
    line.append(one_line(result), style=STYLE.get(result.verdict, "") if
                not result.meets_expectation else "")
    console.print(line)
    for o in result.observers:
        row = Text(f"  site {o.site}, observer {o.observer}: ")
        row.append(o.status, style=STYLE.get(o.status, ""))
        row.append(f"  ({o.queries} queries, {o.solver_seconds:.2f}s in the solver)")
        console.print(row)
        for r in o.reasons:
            console.print(f"    unknown because: {r}")
    if result.verdict == UNSAFE and verbose:
        for cx in doc["counterexamples"]:
            console.print()
            # a batch: each counterexample with its own site's view (build_batch_report)
            render_counterexample(console, doc.get("views", {}).get(cx["site"], doc), cx)
    elif result.verdict == UNSAFE:
        for cx in doc["counterexamples"]:
            others = ", ".join(cx["observers"][1:])
            console.print(Text(f"    {cx['summary']}" + (f"  [the same run for {others}]"
                                                          if others else "")))
        console.print(f"    (the full counterexamples: fpatch explain {result.path})")


def _value(spec: Spec, v: int) -> str:
    """A data word value, with the symbol it points at."""
    names = {a: k for k, a in spec.symbols}
    return f"{names[v]} (0x{v:x})" if v in names else f"0x{v:x}"


def render_show(console: Console, spec: Spec, tl: Timeline) -> None:
    console.print(Text(f"{spec.path}: {spec.name}", style="bold"))
    if spec.description:
        console.print(spec.description)
    console.print(f"cache: IDC={int(spec.idc)} DIC={int(spec.dic)}, line {spec.line_size} bytes; "
                  f"preemptible={spec.preemptible}, nmi={spec.nmi}, "
                  f"cmodx={'linux' if spec.cmodx_linux else 'manual'}; "
                  + (f"errata: {', '.join(spec.errata)}; " if spec.errata else "") +
                  f"observers: {', '.join(spec.observers)}; max_insns {spec.max_insns}"
                  + (f"; bti={spec.bti}, pac={spec.pac}" if spec.bti or spec.pac else ""))
    for h in spec.helpers:
        console.print(f"helper {h.name} @0x{h.address:x}: inputs {', '.join(h.inputs)}; returns to "
                      f"{h.returns_to} at entry; restores "
                      f"{', '.join(f'{d}<-{s}' for d, s in h.restores) or 'nothing'}; clobbers "
                      f"{', '.join(h.clobbers) or 'nothing'}"
                      + "".join(f"; reads {r.size} bytes at ({r.base} & ~{r.align - 1}) "
                                f"{r.offset:+d}" for r in h.reads))
    for site in spec.sites:
        enter = f", entered {site.enter}" if site.enter != "direct" else ""
        if site.reachable_after:
            enter += f", reachable after mark {site.reachable_after}"
        table = Table(title=f"site {site.name} @0x{site.base:x} (entry slot {site.entry}{enter})",
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
                cells.append(f"{lab}{symbolize(d.text, spec, site)}  ({st.words[i]:08x})")
            table.add_row(str(i), f"0x{site.slot_addr(i):x}", *cells,
                          "*" if len(words) > 1 else "")
        console.print(table)
        hist = data_histories(tl, site) if site.data else {}
        for dw in site.data:
            console.print(f"  data {dw.name}: {dw.size} bytes at base{dw.offset:+d}, "
                          f"initially {_value(spec, dw.value)}")
            for w, done in hist[dw.name].writes:
                console.print(f"    written at point {w}, complete (visible to every later "
                              f"load) at " + (f"point {done}" if done is not None else "no point"))
            for st in site.states:
                ok = site.valid_values(st.name, dw.name)
                if st.name in site.valid and ok is not None:
                    console.print(f"    valid with {st.name}: "
                                  + ", ".join(_value(spec, v) for v in ok))
        console.print(Text("state transitions:", style="bold"))
        for line in graph_lines(transition_graph(tl, site)):
            console.print(f"  {line}")
    console.print(Text("steps (point: step):", style="bold"))
    marks: dict[int, list[tuple[str, Loc]]] = {}
    for name, point, loc in tl.marks:
        marks.setdefault(point, []).append((name, loc))
    complete = {name for name, _ in spec.complete}

    def show_marks(point: int) -> None:
        for name, loc in marks.get(point, []):
            req = "  [complete: every CPU runs the words of this point from here on]" \
                if name in complete else ""
            console.print(f"       mark {name} = point {point}{req}   ({loc.line}:{loc.col})")

    show_marks(0)
    for step in tl.steps:
        blk = "  [stop_machine]" if step.block is not None else ""
        console.print(f"  {step.index:3}: {step.label}{blk}   ({step.loc.line}:{step.loc.col})")
        show_marks(step.index)
    if "end" in complete:
        console.print(f"       end = point {tl.n}  [complete: every CPU runs the final words "
                      f"from here on]")
