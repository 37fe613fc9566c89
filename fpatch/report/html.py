"""report.html: one self-contained page per spec for CI artefacts (docs/reports.md).

The same content as report.md, from the same report dict, with both pictures
inline (no external file, script, font or style sheet), so the page opens from
an artefact download as it is. Every piece of text from the spec or the checker
is escaped. Deterministic like every report file.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from fpatch.report.document import READ_HEAD, entry_phrase, read_rows, slot_cell
from fpatch.report.markdown import (
    environment_lines,
    observers_text,
    publications,
    state_table,
    step_label,
    timeline_points,
)
from fpatch.report.svg import states_svg, timeline_svg

_CATEGORY = {"register": "register", "memory": "memory/stack byte", "call": "helper call",
             "exit": "exit"}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #1c2127;
       padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1em; }
code, td, th { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.85em; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #d8dde3; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eceff3; }
.verdict-safe { color: #238551; } .verdict-unsafe, .verdict-error { color: #cd2626; }
.verdict-unknown { color: #b07d00; }
.dim { color: #8a949e; } .missing li { color: #cd2626; }
.picture { overflow-x: auto; border: 1px solid #d8dde3; margin: 0.5em 0; }
"""


def _e(v: object) -> str:
    return escape(str(v), quote=True)


def _table(head: list[str], rows: list[list[object]], row_class: list[str] | None = None) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for i, row in enumerate(rows):
        cls = f' class="{row_class[i]}"' if row_class and row_class[i] else ""
        cells = "".join("<td>" + "<br>".join(_e(p) for p in str(c).split("\n")) + "</td>"
                        for c in row)
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


def inline_svg(svg: str, prefix: str) -> str:
    """An SVG file's text for inlining: no XML declaration, marker ids made unique."""
    body = svg.split("?>", 1)[1].lstrip() if svg.startswith("<?xml") else svg
    body = re.sub(r'id="(arrow[\w-]*)"', rf'id="{prefix}-\1"', body)
    return re.sub(r"url\(#(arrow[\w-]*)\)", rf"url(#{prefix}-\1)", body)


def render_html(doc: dict[str, Any]) -> str:
    spec = doc["spec"]
    title = f"fpatch report: {spec['name']}"
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
           f"<h1>{_e(title)}</h1>", f"<p>Spec: <code>{_e(spec['path'])}</code><br>"]
    verdict = doc["verdict"]
    if verdict == "error":
        out.append('Verdict: <strong class="verdict-error">ERROR</strong> (invalid spec)</p>')
        out.append("<ul>" + "".join(f"<li><code>{_e(e['file'])}:{e['line']}:{e['col']}</code>: "
                                    f"{_e(e['message'])}</li>" for e in doc["errors"]) + "</ul>")
        return "\n".join(out + ["</body>", "</html>"]) + "\n"
    gate = "as expected" if doc["meets_expectation"] else "<strong>NOT as expected</strong>"
    out.append(f'Verdict: <strong class="verdict-{_e(verdict)}">{_e(verdict.upper())}</strong> '
               f"(expected {_e(doc['expect'])}; {gate}; engine {_e(doc['engine'])})</p>")
    if spec["description"]:
        out.append(f"<p>{_e(spec['description'])}</p>")
    out.append("<h2>Verdict per observer</h2>")
    out.append(_table(["site", "observer", "status", "why unknown"],
                      [[o["site"], o["observer"], o["status"], "; ".join(o["reasons"])]
                       for o in doc["observers"]]))
    out.append("<h2>Pictures</h2>")
    out.append('<h3>Timeline</h3><div class="picture">' + inline_svg(timeline_svg(doc), "t")
               + "</div>")
    out.append('<h3>State transitions</h3><div class="picture">'
               + inline_svg(states_svg(doc), "s") + "</div>")
    out.append("<h2>Environment</h2><ul>")
    out += [f"<li>{_e(ln[2:].replace('`', ''))}</li>" for ln in environment_lines(doc)]
    out.append("</ul>")
    for site in doc["sites"]:
        out.append(f"<h2>Site <code>{_e(site['name'])}</code> at {_e(site['base'])} "
                   f"({_e(entry_phrase(site))})</h2>")
        head, rows = state_table(
            site, lambda lab, text, word: (f"{lab}: " if lab else "") + f"{text} ({word})", "*")
        out.append(_table([str(h) for h in head], rows))
        out.append("<h3>State transitions</h3>")
        out.append(_table(["point", "from", "to", "step", "inside a counterexample"],
                          [[t["point"], t["from"], t["to"], t["step"],
                            ", ".join(t["counterexamples"])] for t in site["transitions"]]))
    out.append("<h2>Patcher steps</h2>")
    pubs = publications(doc)
    out.append(_table(["point", "step", "stop_machine", "forced CSE", "publishes", "spec line"],
                      [[s["point"], step_label(doc, s),
                        "" if s["stop_machine"] is None else f"block {s['stop_machine']}",
                        "yes" if s["forced_cse"] else "", pubs.get(s["point"], ""), s["line"]]
                       for s in doc["steps"]]))
    if not doc["counterexamples"]:
        out.append("<h2>Counterexamples</h2><p>None: " + (
            "every observer is safe within the model." if verdict == "safe"
            else "the answer is unknown; nothing was proved.") + "</p>")
    for cx in doc["counterexamples"]:
        out += _cx(doc, cx)
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _cx(doc: dict[str, Any], cx: dict[str, Any]) -> list[str]:
    out = [f'<h2 id="{_e(cx["id"])}">Counterexample {_e(cx["id"])}: '
           f"{_e(cx['violation'].upper())} (site <code>{_e(cx['site'])}</code>, "
           f"{_e(observers_text(cx))})</h2>"]
    if cx["loc"]:
        loc = cx["loc"]
        out.append(f"<p>Caused by the spec at <code>{_e(loc['file'])}:{loc['line']}:"
                   f"{loc['col']}</code>.</p>")
    out.append(f"<p>{_e(cx['detail'])}</p>")
    if cx["replayed"] is True:
        out.append("<p>Confirmed by a solver-free replay (fetch windows and concrete "
                   "execution).</p>")
    elif cx["replayed"] is False:
        out.append("<p><strong>Warning:</strong> this counterexample did not replay without the "
                   "solver (a bug in fpatch; the verdict stands).</p>")
    if cx["initial"]:
        out.append("<p>Initial registers: " + _e(", ".join(f"{r}={v}" for r, v in
                                                         cx["initial"].items())) + "</p>")
    if cx.get("needs"):
        out.append('<h3>What is missing</h3><ul class="missing">'
                   + "".join(f"<li>{_e(n)}</li>" for n in cx["needs"]) + "</ul>")
    if cx["diffs"]:
        out.append(f"<h3>Effect against the nearest valid state, {_e(cx['nearest_valid'])}</h3>")
        out.append(_table(["what", "kind", "this run", str(cx["nearest_valid"])],
                          [[d["what"], _CATEGORY.get(d["category"], d["category"]), d["run"],
                            d["valid"]] for d in cx["diffs"]]))
    out.append("<h3>Timeline</h3>")
    by_point: dict[int, list[str]] = {}
    for e in cx["events"]:
        by_point.setdefault(e["point"], []).append(e["text"])
    ends = {b["last"] for b in doc["stop_machine_blocks"]}
    lo, hi = cx["span"]
    rows: list[list[object]] = []
    classes: list[str] = []
    for t, label, in_block, forced, pub in timeline_points(doc):
        if in_block:
            label = f"[stop_machine ends] {label}" if t in ends else f"[stop_machine] {label}"
        marks = ["CSE on every CPU"] if forced else []
        if pub:
            marks.append(f"published: {pub}")
        rows.append([t, label, "; ".join(marks), "\n".join(by_point.get(t, []))])
        classes.append("" if lo <= t <= hi else "dim")
    out.append(_table(["point", "patcher step", "visibility",
                       f"observer ({', '.join(cx['observers'])})"], rows, classes))
    out.append("<h3>Instructions the observer ran</h3>")
    out.append(_table(
        ["#", "slot", "instruction", "word", "from state", "executed at", "fetched as at",
         "written at", "window", "last CSE", "interrupted before"],
        [[k + 1, slot_cell(x), x["text"], x["word"],
          ", ".join(x["states"]) or ("torn word" if x["torn"] else "no state"),
          x["point"], x["fetched_at"],
          "initial" if x["source_write"] is None else x["source_write"],
          f"{x['window'][0]}..{x['window'][1]}", x["cse"],
          "yes" if x["interrupted_before"] else ""] for k, x in enumerate(cx["execs"])]))
    out.append(f"<p>Exit: {_e(cx['exit'])}</p>")
    if cx.get("reads"):
        out.append("<h3>Data words the run loaded</h3>")
        out.append(_table([str(h) for h in READ_HEAD], read_rows(cx)))
    return out
