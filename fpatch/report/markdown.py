"""report.md: the report of one spec for people, from the report dict (document.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_CATEGORY = {"register": "register", "memory": "memory/stack byte", "call": "helper call",
             "exit": "exit"}


def _cell(text: object) -> str:
    """A Markdown table cell: pipes escaped, line breaks as <br>."""
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def _table(head: list[str], rows: list[list[object]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def observers_text(cx: dict[str, Any]) -> str:
    """`observer thread`, or for one run that several kinds share: `observers thread,
    nmi-local, nmi-remote (the same run)`."""
    kinds = cx.get("observers") or [cx["observer"]]
    if len(kinds) == 1:
        return f"observer {kinds[0]}"
    return f"observers {', '.join(kinds)} (the same run)"


def environment_lines(doc: dict[str, Any]) -> list[str]:
    env = doc["environment"]
    c = env["cache"]
    lines = [
        f"- cache: IDC={int(c['idc'])} DIC={int(c['dic'])}, line {c['line']} bytes",
        f"- kernel: preemptible={str(env['preemptible']).lower()}, "
        f"nmi={str(env['nmi']).lower()}, CMODX set: {env['cmodx']}",
        f"- observers: {', '.join(env['observers'])}; at most {env['max_insns']} instructions "
        f"per run",
    ]
    for h in env["helpers"]:
        restores = ", ".join(f"{d}<-{s}" for d, s in h["restores"].items()) or "nothing"
        lines.append(f"- helper `{h['name']}` at {h['address']}: inputs "
                     f"{', '.join(h['inputs'])}; returns to {h['returns_to']} (entry value); "
                     f"restores {restores}; clobbers {', '.join(h['clobbers']) or 'nothing'}")
    return lines


def render_markdown(doc: dict[str, Any]) -> str:
    if doc["verdict"] == "error":
        return _render_error(doc)
    spec = doc["spec"]
    out = [f"# fpatch report: {spec['name']}", ""]
    out.append(f"Spec: `{spec['path']}`  ")
    verdict = doc["verdict"].upper()
    gate = "as expected" if doc["meets_expectation"] else "**NOT as expected**"
    out.append(f"Verdict: **{verdict}** (expected {doc['expect']}; {gate}; "
               f"engine {doc['engine']})")
    out.append("")
    if spec["description"]:
        out += [spec["description"], ""]
    out += ["## Verdict per observer", ""]
    out += _table(["site", "observer", "status", "why unknown"],
                  [[o["site"], o["observer"], o["status"], "; ".join(o["reasons"])]
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
        [[s["point"], s["label"],
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


def _site_section(site: dict[str, Any]) -> list[str]:
    out = [f"## Site `{site['name']}` at {site['base']} (entry slot {site['entry']})", ""]
    head = ["slot", "addr"]
    for st in site["states"]:
        flags = [f for f, on in (("initial", st["initial"]), ("valid", st["valid"])) if on]
        head.append(st["name"] + (f" ({', '.join(flags)})" if flags else ""))
    head.append("differs")
    rows: list[list[object]] = []
    for sl in site["slots"]:
        row: list[object] = [sl["index"], sl["addr"]]
        for st in site["states"]:
            s = st["slots"][sl["index"]]
            lab = f"{s['label']}: " if s["label"] else ""
            row.append(f"{lab}{_code(s['text'])} ({s['word']})")
        row.append("**\\***" if sl["differs"] else "")
        rows.append(row)
    out += _table(head, rows)
    out.append("")
    if any(sl["differs"] for sl in site["slots"]):
        out += ["Slots marked \\* differ between states.", ""]
    for d in site["data"]:
        out.append(f"- data word `{d['name']}`: {d['size']} bytes at base{d['offset']:+d}, "
                   f"initially {d['value']}")
    out += ["### State transitions", ""]
    if site["transitions"]:
        out += _table(["point", "from", "to", "step", "inside a counterexample"],
                      [[t["point"], t["from"], t["to"], t["step"],
                        ", ".join(t["counterexamples"])] for t in site["transitions"]])
    else:
        out.append(f"No transitions: the site stays `{site['contents'][0]}`.")
    out.append("")
    return out


def _cx_section(doc: dict[str, Any], cx: dict[str, Any]) -> list[str]:
    out = [f"## Counterexample {cx['id']}: {cx['violation'].upper()} "
           f"(site `{cx['site']}`, {observers_text(cx)})", ""]
    if cx["loc"]:
        loc = cx["loc"]
        out.append(f"Caused by the spec at `{loc['file']}:{loc['line']}:{loc['col']}`.  ")
    out.append(cx["detail"])
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
        rows.append([t, label, "; ".join(marks), "\n".join(by_point.get(t, []))])
    out += _table(["point", "patcher step", "visibility", f"observer ({', '.join(cx['observers'])})"],
                  rows)
    out += ["", "### Instructions the observer ran", ""]
    out += _table(
        ["#", "slot", "instruction", "word", "from state", "executed at", "fetched as at",
         "written at", "window", "last CSE", "interrupted before"],
        [[k + 1, x["slot"], _code(x["text"]), x["word"],
          ", ".join(x["states"]) or ("torn word" if x["torn"] else "no state"),
          x["point"], x["fetched_at"],
          "initial" if x["source_write"] is None else x["source_write"],
          f"{x['window'][0]}..{x['window'][1]}", x["cse"],
          "yes" if x["interrupted_before"] else ""] for k, x in enumerate(cx["execs"])])
    out += ["", f"Exit: {cx['exit']}", ""]
    if cx.get("needs"):
        out += ["### What is missing", ""]
        out += [f"- {n}" for n in cx["needs"]]
        out.append("")
    if cx["diffs"]:
        out += [f"### Effect against the nearest valid state, {cx['nearest_valid']}", ""]
        out += _table(["what", "kind", "this run", f"{cx['nearest_valid']}"],
                      [[d["what"], _CATEGORY.get(d["category"], d["category"]), d["run"],
                        d["valid"]] for d in cx["diffs"]])
        out.append("")
    return out


def _render_error(doc: dict[str, Any]) -> str:
    out = [f"# fpatch report: {doc['spec']['name']}", "",
           f"Spec: `{doc['spec']['path']}`  ", "Verdict: **ERROR** (invalid spec)", ""]
    out += [f"- `{e['file']}:{e['line']}:{e['col']}`: {e['message']}" for e in doc["errors"]]
    return "\n".join(out) + "\n"
