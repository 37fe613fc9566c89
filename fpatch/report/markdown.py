"""report.md: the report of one spec for people, from the report dict (document.py).

Every string that comes from the spec (names, labels, description, paths, and the
texts built from them) is escaped with ``fpatch.textsafe``: it renders as the
characters it is made of, so it can neither end a table cell nor open an HTML
comment or emphasis, and the verdict line is built from the verdict alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fpatch.report.document import READ_HEAD, entry_phrase, read_rows, slot_cell
from fpatch.textsafe import markdown, markdown_code, markdown_lines

_CATEGORY = {"register": "register", "memory": "memory/stack byte", "call": "helper call",
             "exit": "exit"}


class Md(str):
    """Markdown made here (already escaped); any other string is user text."""


def _cell(text: object) -> str:
    """A Markdown table cell: user text escaped, each line of it on its own line (<br>)."""
    if isinstance(text, Md):
        return text
    return "<br>".join(markdown(line) for line in str(text).split("\n"))


def _table(head: list[object], rows: list[list[object]]) -> list[str]:
    out = ["| " + " | ".join(_cell(h) for h in head) + " |",
           "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _spans(text: str) -> Md:
    """Generated text that quotes instructions in backticks: the quoted parts as code,
    the rest as text, every part escaped (a name holding a backtick stays text)."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: all of it as text
        return Md(markdown(text))
    return Md("".join(markdown_code(p) if k % 2 else markdown(p) for k, p in enumerate(parts)))


def _where(loc: dict[str, Any]) -> str:
    return f"{loc['file']}:{loc['line']}:{loc['col']}"


def _code(text: str) -> Md:
    return Md(markdown_code(text))


def observers_text(cx: dict[str, Any]) -> str:
    """`observer thread`, or for one run that several kinds share: `observers thread,
    nmi-local, nmi-remote (the same run)`."""
    kinds = cx.get("observers") or [cx["observer"]]
    if len(kinds) == 1:
        return f"observer {kinds[0]}"
    return f"observers {', '.join(kinds)} (the same run)"


def environment_lines(doc: dict[str, Any], code: Callable[[str], str] = _code) -> list[str]:
    """The environment as list items; ``code`` renders a name (Markdown code by default)."""
    env = doc["environment"]
    c = env["cache"]
    lines = [
        f"- cache: IDC={int(c['idc'])} DIC={int(c['dic'])}, line {c['line']} bytes",
        f"- kernel: preemptible={str(env['preemptible']).lower()}, "
        f"nmi={str(env['nmi']).lower()}, CMODX set: {env['cmodx']}"
        + (f", BTI guarded pages: {str(env.get('bti', False)).lower()}, "
           f"PAC: {str(env.get('pac', False)).lower()}"
           if env.get("bti") or env.get("pac") else ""),
        f"- observers: {', '.join(env['observers'])}; at most {env['max_insns']} instructions "
        f"per run",
    ]
    if env.get("errata"):
        lines.append(f"- CPU errata (weaken the architecture model): "
                     f"{', '.join(code(e) for e in env['errata'])}")
    if env.get("complete"):
        at = ", ".join(("the end" if m["name"] == "end" else f"mark {code(m['name'])}")
                       + f" (point {m['point']})" for m in env["complete"])
        lines.append(f"- complete at return: every CPU runs the site's words from {at} on")
    for h in env["helpers"]:
        restores = ", ".join(f"{d}<-{s}" for d, s in h["restores"].items()) or "nothing"
        lines.append(f"- helper {code(h['name'])} at {h['address']}: inputs "
                     f"{', '.join(h['inputs'])}; returns to {h['returns_to']} (entry value); "
                     f"restores {restores}; clobbers {', '.join(h['clobbers']) or 'nothing'}")
    return lines


def step_label(doc: dict[str, Any], s: dict[str, Any]) -> str:
    """A step's label, followed by the marks (`- mark: NAME`) that name the point after it."""
    names = [m["name"] for m in doc.get("marks", []) if m["point"] == s["point"]]
    return s["label"] + (f" [mark {', '.join(names)}]" if names else "")


def render_markdown(doc: dict[str, Any]) -> str:
    if doc["verdict"] == "error":
        return _render_error(doc)
    spec = doc["spec"]
    out = [f"# fpatch report: {markdown(spec['name'])}", ""]
    out.append(f"Spec: {_code(spec['path'])}  ")
    verdict = doc["verdict"].upper()
    gate = "as expected" if doc["meets_expectation"] else "**NOT as expected**"
    out.append(f"Verdict: **{verdict}** (expected {doc['expect']}; {gate}; "
               f"engine {doc['engine']})")
    out.append("")
    if spec["description"]:
        out += markdown_lines(spec["description"]) + [""]
    out += ["## Verdict per observer", ""]
    out += _table(["site", "observer", "status", "why unknown"],
                  [[o["site"], o["observer"], o["status"],
                    Md("; ".join(_spans(r) for r in o["reasons"]))]
                   for o in doc["observers"]])
    out += ["", "## Environment", ""] + environment_lines(doc) + [""]
    for site in doc["sites"]:
        out += _site_section(site)
    out += ["## Patcher steps", ""]
    out.append("Point *t* is the moment after step *t*; point 0 is before the first step.")
    out.append("")
    pubs = publications(doc)
    out += _table(
        ["point", "step", "stop_machine", "forced CSE", "publishes", "spec line"],
        [[s["point"], step_label(doc, s),
          "" if s["stop_machine"] is None else f"block {s['stop_machine']}",
          "yes" if s["forced_cse"] else "", pubs.get(s["point"], ""), s["line"]]
         for s in doc["steps"]])
    out.append("")
    if not doc["counterexamples"]:
        out += ["## Counterexamples", "",
                "None: " + ("every observer is safe within the model." if doc["verdict"] == "safe"
                            else "the answer is unknown (see above); nothing was proved."), ""]
    for cx in doc["counterexamples"]:
        out += _cx_section(doc, cx)
    out += ["## Pictures", "",
            "- `timeline.svg`: the interleaving (patcher lane, one lane per counterexample).",
            "- `states.svg` / `states.dot`: the state-transition graph; red edges lie inside "
            "a counterexample's span.", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def publications(doc: dict[str, Any]) -> dict[int, str]:
    """Per point, which modifying writes become visible to instruction fetch there."""
    by_point: dict[int, list[str]] = {}
    for site in doc["sites"]:
        for w in site["writes"]:
            if w["publication"] is not None:
                by_point.setdefault(w["publication"], []).append(
                    f"{site['name']} slot {w['slot']} (write at {w['point']})")
    return {p: ", ".join(v) for p, v in by_point.items()}


def timeline_points(doc: dict[str, Any]) -> Iterator[tuple[int, str, bool, bool, str | None]]:
    """Per patcher point: (point, step label, inside stop_machine, forced CSE, publications).

    The Markdown and terminal timelines both walk these rows, each in its own words.
    """
    pubs = publications(doc)
    for t in range(len(doc["steps"]) + 1):
        step = doc["steps"][t - 1] if t else None
        label = "(before the first step)" if step is None else step["label"]
        in_block = bool(step and step["stop_machine"] is not None)
        forced = bool(step and step["forced_cse"])
        yield t, label, in_block, forced, pubs.get(t)


def state_table(site: dict[str, Any], cell: Callable[[str, str, str], object],
                differs: object) -> tuple[list[object], list[list[object]]]:
    """The site's states side by side (head, rows), for Markdown and HTML alike;
    ``cell(label, text, word)`` renders one slot of one state, ``differs`` marks a
    slot whose states differ."""
    head: list[object] = ["slot", "addr"]
    for st in site["states"]:
        flags = [f for f, on in (("initial", st["initial"]), ("valid", st["valid"])) if on]
        head.append(st["name"] + (f" ({', '.join(flags)})" if flags else ""))
    head.append("differs")
    rows: list[list[object]] = []
    for sl in site["slots"]:
        row: list[object] = [sl["index"], sl["addr"]]
        for st in site["states"]:
            s = st["slots"][sl["index"]]
            row.append(cell(s["label"] or "", s["text"], s["word"]))
        row.append(differs if sl["differs"] else "")
        rows.append(row)
    return head, rows


def _site_section(site: dict[str, Any]) -> list[str]:
    out = [f"## Site {_code(site['name'])} at {site['base']} ({entry_phrase(site)})", ""]
    head, rows = state_table(
        site, lambda lab, text, word: Md(f"{markdown(lab + ': ' if lab else '')}"
                                         f"{_code(text)} ({word})"),
        Md("**\\***"))
    out += _table(head, rows)
    out.append("")
    if any(sl["differs"] for sl in site["slots"]):
        out += ["Slots marked \\* differ between states.", ""]
    for d in site["data"]:
        out.append(f"- data word {_code(d['name'])}: {d['size']} bytes at base{d['offset']:+d}, "
                   f"initially {d['value']}")
    out += ["### State transitions", ""]
    if site["transitions"]:
        out += _table(["point", "from", "to", "step", "inside a counterexample"],
                      [[t["point"], t["from"], t["to"], t["step"],
                        ", ".join(t["counterexamples"])] for t in site["transitions"]])
    else:
        out.append(f"No transitions: the site stays {_code(site['contents'][0])}.")
    out.append("")
    return out


def _cx_section(doc: dict[str, Any], cx: dict[str, Any]) -> list[str]:
    out = [f"## Counterexample {cx['id']}: {cx['violation'].upper()} "
           f"(site {_code(cx['site'])}, {observers_text(cx)})", ""]
    if cx["loc"]:
        loc = cx["loc"]
        out.append(f"Caused by the spec at {_code(_where(loc))}.  ")
    out.append(_spans(cx["detail"]))
    out.append("")
    if cx["replayed"] is True:
        out += ["Confirmed by a solver-free replay (fetch windows and concrete execution).", ""]
    elif cx["replayed"] is False:
        out += ["**Warning:** this counterexample did not replay without the solver "
                "(a bug in fpatch; the verdict stands).", ""]
    if cx["initial"]:
        out.append("Initial registers: "
                   + ", ".join(f"{r}={v}" for r, v in cx["initial"].items()))
        out.append("")
    out += ["### Timeline", ""]
    by_point: dict[int, list[str]] = {}
    for e in cx["events"]:
        by_point.setdefault(e["point"], []).append(e["text"])
    rows: list[list[object]] = []
    ends = {b["last"] for b in doc["stop_machine_blocks"]}
    for t, label, in_block, forced, pub in timeline_points(doc):
        if in_block:
            # On a block's last row the observer's doings come after the block ends.
            label = f"[stop_machine ends] {label}" if t in ends else f"[stop_machine] {label}"
        marks = ["CSE on every CPU"] if forced else []
        if pub:
            marks.append(f"published: {pub}")
        rows.append([t, label, "; ".join(marks),
                     Md("<br>".join(_spans(e) for e in by_point.get(t, [])))])
    observers = ", ".join(cx.get("observers") or [cx["observer"]])
    out += _table(["point", "patcher step", "visibility", f"observer ({observers})"], rows)
    out += ["", "### Instructions the observer ran", ""]
    out += _table(
        ["#", "slot", "instruction", "word", "from state", "executed at", "fetched as at",
         "written at", "window", "last CSE", "interrupted before"],
        [[k + 1, slot_cell(x), _code(x["text"]), x["word"],
          ", ".join(x["states"]) or ("torn word" if x["torn"] else "no state"),
          x["point"], x["fetched_at"],
          "initial" if x["source_write"] is None else x["source_write"],
          f"{x['window'][0]}..{x['window'][1]}", x["cse"],
          "yes" if x["interrupted_before"] else ""] for k, x in enumerate(cx["execs"])])
    out += ["", f"Exit: {_spans(cx['exit'])}", ""]
    if cx.get("reads"):
        out += ["### Data words the run loaded", ""]
        out += _table(READ_HEAD, read_rows(cx))
        out.append("")
    if cx.get("needs"):
        out += ["### What is missing", ""]
        out += [f"- {_spans(n)}" for n in cx["needs"]]
        out.append("")
    if cx["diffs"]:
        out += [f"### Effect against the nearest valid state, {markdown(cx['nearest_valid'])}",
                ""]
        out += _table(["what", "kind", "this run", f"{cx['nearest_valid']}"],
                      [[d["what"], _CATEGORY.get(d["category"], d["category"]), d["run"],
                        d["valid"]] for d in cx["diffs"]])
        out.append("")
    return out


def _render_error(doc: dict[str, Any]) -> str:
    out = [f"# fpatch report: {markdown(doc['spec']['name'])}", "",
           f"Spec: {_code(doc['spec']['path'])}  ", "Verdict: **ERROR** (invalid spec)", ""]
    out += [f"- {_code(_where(e))}: {markdown(e['message'])}" for e in doc["errors"]]
    return "\n".join(out) + "\n"
