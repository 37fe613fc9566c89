"""``fpatch explain SPEC``: the report (report.md's content) in the terminal, with rich.

Colour on a terminal, plain text when piped or with ``--no-color`` (the CLI
builds the console). Reads only the report dict (document.py).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from fpatch.report.document import entry_phrase, read_text, slot_cell
from fpatch.report.markdown import (
    environment_lines,
    observers_text,
    publications,
    step_label,
    timeline_points,
)

STYLE = {"safe": "bold green", "unsafe": "bold red", "unknown": "bold yellow",
         "error": "bold red"}
EVENT_STYLE = {"cse": "magenta", "interrupt": "red", "fetch": "blue", "exec": "",
               "enter": "bold", "exit": "dim"}


def render_explain(console: Console, doc: dict[str, Any]) -> None:
    spec = doc["spec"]
    head = Text()
    head.append(f"{spec['path']}: {spec['name']}  ", style="bold")
    head.append(doc["verdict"].upper(), style=STYLE.get(doc["verdict"], ""))
    if doc["verdict"] == "error":
        console.print(head)
        for e in doc["errors"]:
            console.print(f"  {e['file']}:{e['line']}:{e['col']}: error: {e['message']}")
        return
    head.append(f"  (expected {doc['expect']}; "
                f"{'as expected' if doc['meets_expectation'] else 'NOT as expected'})")
    console.print(head)
    if spec["description"]:
        console.print(spec["description"])
    for o in doc["observers"]:
        line = Text(f"  site {o['site']}, observer {o['observer']}: ")
        line.append(o["status"], style=STYLE.get(o["status"], ""))
        if o["reasons"]:
            line.append(f"  (unknown because: {'; '.join(o['reasons'])})")
        console.print(line)
    console.print()
    console.print(Text("Environment", style="bold underline"))
    for ln in environment_lines(doc, code=str):
        console.print("  " + ln[2:])
    for site in doc["sites"]:
        console.print()
        _site(console, site)
    console.print()
    console.print(Text("Patcher steps", style="bold underline"))
    pubs = publications(doc)
    table = Table(box=None, header_style="bold", padding=(0, 1))
    for col in ("point", "step", "", "publishes", "line"):
        table.add_column(col, justify="right" if col in ("point", "line") else "left")
    for s in doc["steps"]:
        marks = []
        if s["stop_machine"] is not None:
            marks.append(f"stop_machine {s['stop_machine']}")
        if s["forced_cse"]:
            marks.append("CSE on every CPU")
        table.add_row(str(s["point"]), step_label(doc, s), ", ".join(marks),
                      pubs.get(s["point"], ""), str(s["line"]))
    console.print(table)
    for cx in doc["counterexamples"]:
        console.print()
        render_counterexample(console, doc, cx)
    if not doc["counterexamples"]:
        console.print()
        console.print("No counterexample: " + (
            "every observer is safe within the model." if doc["verdict"] == "safe"
            else "the answer is unknown; nothing was proved."))


def _site_narrow(console: Console, site: dict[str, Any]) -> None:
    """The states slot by slot, one line each, for terminals too narrow for the table."""
    console.print(Text(f"site {site['name']} @{site['base']} ({entry_phrase(site)})",
                       style="bold"))
    for st in site["states"]:
        flags = [f for f, on in (("initial", st["initial"]), ("valid", st["valid"])) if on]
        console.print(Text("  " + st["name"] + (f" ({', '.join(flags)})" if flags else ""),
                           style="bold"))
        for sl in site["slots"]:
            s = st["slots"][sl["index"]]
            mark = "*" if sl["differs"] else " "
            lab = f"{s['label']}: " if s["label"] else ""
            console.print(Padding(Text(f"{mark} s{sl['index']} {sl['addr']}  {lab}{s['text']}  "
                                       f"({s['word']})"), (0, 0, 0, 4), expand=False))
    console.print("  (* the slot differs between states)")


def _site(console: Console, site: dict[str, Any]) -> None:
    if console.width < WIDE:
        _site_narrow(console, site)
    else:
        _site_table(console, site)
    console.print(Text("state transitions:", style="bold"))
    for t in site["transitions"]:
        line = Text(f"{t['from']} --[{t['point']}: {t['step']}]--> {t['to']}")
        if t["unsafe"]:
            line.stylize("red")
            line.append(f"   (inside {', '.join(t['counterexamples'])})", style="red")
        console.print(Padding(line, (0, 0, 0, 2), expand=False))
    if not site["transitions"]:
        console.print(f"  (none: the site stays {site['contents'][0]})")


def _site_table(console: Console, site: dict[str, Any]) -> None:
    table = Table(title=f"site {site['name']} @{site['base']} ({entry_phrase(site)})",
                  header_style="bold", title_style="bold")
    table.add_column("slot", justify="right")
    table.add_column("addr")
    for st in site["states"]:
        flags = [f for f, on in (("initial", st["initial"]), ("valid", st["valid"])) if on]
        table.add_column(st["name"] + (f" ({', '.join(flags)})" if flags else ""))
    table.add_column("differs")
    for sl in site["slots"]:
        style = "yellow" if sl["differs"] else ""
        cells = []
        for st in site["states"]:
            s = st["slots"][sl["index"]]
            lab = f"{s['label']}: " if s["label"] else ""
            cells.append(Text(f"{lab}{s['text']}  ({s['word']})", style=style))
        table.add_row(str(sl["index"]), sl["addr"], *cells,
                      Text("*", style="bold yellow") if sl["differs"] else "")
    console.print(table)


# Below this width the timeline and the instruction list stack their columns, so an
# 80-column terminal gets no line wrapped by the terminal itself.
WIDE = 110


def render_counterexample(console: Console, doc: dict[str, Any], cx: dict[str, Any]) -> None:
    """One counterexample: what, why, the timeline, the instructions, the effect, the fix.

    ``fpatch check`` and ``fpatch explain`` both print counterexamples with this.
    """
    narrow = console.width < WIDE
    console.print(Text(f"{cx['id']}: {cx['violation'].upper()} — site {cx['site']}, "
                       f"{observers_text(cx)}", style="bold red"))
    if cx["loc"]:
        loc = cx["loc"]
        console.print(f"  caused by the spec at {loc['file']}:{loc['line']}:{loc['col']}")
    if cx["replayed"] is True:
        console.print("  confirmed by a solver-free replay (fetch windows and concrete execution)")
    elif cx["replayed"] is False:
        console.print("  WARNING: did not replay without the solver (a bug in fpatch; the verdict "
                      "stands)", style="bold yellow")
    console.print(Padding(Text(cx["detail"]), (0, 0, 0, 2), expand=False))
    if cx["initial"]:
        console.print(Padding(Text("initial registers: " + ", ".join(
            f"{r}={v}" for r, v in cx["initial"].items())), (0, 0, 0, 2), expand=False))
    _timeline(console, doc, cx, narrow)
    _instructions(console, cx, narrow)
    console.print(f"  exit: {cx['exit']}")
    if cx.get("reads"):
        console.print(Text("  data words the run loaded:", style="bold"))
        for r in cx["reads"]:
            console.print(Padding(Text(read_text(r), style="" if r["valid"] else "red"),
                                  (0, 0, 0, 4), expand=False))
    if cx["diffs"]:
        console.print(Text(f"  effect against the nearest valid state, {cx['nearest_valid']}:",
                           style="bold"))
        for d in cx["diffs"]:
            line = Text(f"{d['what']} ({d['category']}): run ")
            line.append(d["run"], style="red")
            line.append(f"; {cx['nearest_valid']} ")
            line.append(d["valid"], style="green")
            console.print(Padding(line, (0, 0, 0, 4), expand=False))
    if cx.get("needs"):
        console.print(Text("  what is missing:", style="bold"))
        for n in cx["needs"]:
            console.print(Padding(Text(f"- {n}"), (0, 0, 0, 4), expand=False))


def _block_ends(doc: dict[str, Any]) -> set[int]:
    return {b["last"] for b in doc["stop_machine_blocks"]}


def _timeline(console: Console, doc: dict[str, Any], cx: dict[str, Any], narrow: bool) -> None:
    by_point: dict[int, list[dict[str, Any]]] = {}
    for e in cx["events"]:
        by_point.setdefault(e["point"], []).append(e)
    kinds = ", ".join(cx.get("observers") or [cx["observer"]])
    table = Table(box=None, header_style="bold", padding=(0, 1), title="timeline",
                  title_justify="left", title_style="bold")
    table.add_column("point", justify="right")
    if narrow:
        table.add_column(f"patcher step; > observer ({kinds})", overflow="fold")
    else:
        table.add_column("patcher step")
        table.add_column("visibility")
        table.add_column(f"observer ({kinds})")
    ends = _block_ends(doc)
    lo, hi = cx["span"]
    for t, label, in_block, forced, pub in timeline_points(doc):
        if in_block:
            # The observer's doings on a block's last row come after the block: say so.
            label = f"[sm end] {label}" if t in ends else f"[sm] {label}"
        marks = ["CSE all CPUs"] if forced else []
        if pub:
            marks.append(f"pub {pub}")
        events = Text()
        for i, e in enumerate(by_point.get(t, [])):
            if i or narrow:
                events.append("\n")
            events.append(("> " if narrow else "") + e["text"],
                          style=EVENT_STYLE.get(e["kind"], ""))
        row_style = "" if lo <= t <= hi else "dim"
        if narrow:
            cell = Text(label, style=row_style)
            if marks:
                cell.append(f"  ({'; '.join(marks)})", style="green")
            cell.append_text(events)
            table.add_row(str(t), cell)
        else:
            table.add_row(str(t), Text(label, style=row_style),
                          Text("; ".join(marks), style="green"), events)
    console.print(table)


def _instructions(console: Console, cx: dict[str, Any], narrow: bool) -> None:
    title = "instructions the observer ran"
    if narrow:
        console.print(Text(title, style="bold"))
        for k, x in enumerate(cx["execs"]):
            src = ", ".join(x["states"]) or ("torn word" if x["torn"] else "no state")
            written = "initial" if x["source_write"] is None else f"written at {x['source_write']}"
            intr = "; after an interruption" if x["interrupted_before"] else ""
            console.print(Padding(Text(
                f"#{k + 1} slot {slot_cell(x)}: {x['text']} [{src}] at point {x['point']}, fetched "
                f"as at {x['fetched_at']} ({written}), window {x['window'][0]}..{x['window'][1]}, "
                f"last CSE {x['cse']}{intr}"), (0, 0, 0, 2), expand=False))
        return
    ran = Table(box=None, header_style="bold", padding=(0, 1),
                title=title, title_justify="left", title_style="bold")
    for col in ("#", "slot", "instruction", "from state", "at", "fetched as at", "written at",
                "window", "CSE", "interrupted"):
        ran.add_column(col)
    for k, x in enumerate(cx["execs"]):
        ran.add_row(str(k + 1), slot_cell(x), x["text"],
                    ", ".join(x["states"]) or ("torn word" if x["torn"] else "no state"),
                    str(x["point"]), str(x["fetched_at"]),
                    "initial" if x["source_write"] is None else str(x["source_write"]),
                    f"{x['window'][0]}..{x['window'][1]}", str(x["cse"]),
                    "yes" if x["interrupted_before"] else "")
    console.print(ran)
