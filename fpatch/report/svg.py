"""Hand-written, deterministic SVG pictures of a report (no drawing library).

- ``timeline_svg``: time runs left to right over the patcher's points. One lane
  for the patcher (its steps, stop_machine blocks, publication points, forced
  CSEs), one lane per counterexample (each executed instruction on its own row:
  fetch window, last CSE, the point whose value it fetched, the point it
  executed at), and an arrow from each write to every fetch that saw it.
- ``states_svg`` / ``states_dot``: the state-transition graph, nodes in the
  order the patcher first reaches them, edges labelled with their point;
  edges inside a counterexample's span in red (docs/reports.md).

Both read only the report dict (document.py). Coordinates are integers or
fixed-precision, and iteration orders are fixed, so the output is byte-stable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fpatch.report.document import STEP_SHORT
from fpatch.textsafe import one_line
from fpatch.textsafe import xml_escape as escape

FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
CHAR_W = 6.7  # width of one character at font-size 11, for layout estimates

C_WRITE = "#d9822b"
C_MAINT = "#5c7080"
C_CSE = "#7b3fa0"
C_PUB = "#238551"
C_FETCH = "#1f6fb2"
C_EXEC = "#1c2127"
C_BAD = "#cd2626"
C_BLOCK = "#eceff3"
C_WINDOW = "#cfe3f5"


def _a(v: object) -> str:
    return escape(str(v), {'"': "&quot;"})


def _num(v: float) -> str:
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


class _Svg:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, tag: str, body: str | None = None, **attrs: object) -> None:
        parts = []
        for k, v in attrs.items():
            name = k.rstrip("_").replace("_", "-")
            val = _num(v) if isinstance(v, float) else v
            parts.append(f'{name}="{_a(val)}"')
        a = " ".join(parts)
        if body is None:
            self.items.append(f"<{tag} {a}/>")
        else:
            self.items.append(f"<{tag} {a}>{escape(body)}</{tag}>")

    def text(self, x: float, y: float, s: str, size: float = 11, anchor: str = "start",
             fill: str = C_EXEC, weight: str = "normal", title: str | None = None) -> None:
        extra = f"<title>{escape(title)}</title>" if title else ""
        # A white halo under every glyph keeps text readable where it crosses a line.
        halo = ('' if fill == "white" else
                ' stroke="white" stroke-width="3" stroke-linejoin="round" paint-order="stroke"')
        self.items.append(
            f'<text x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}" text-anchor="{anchor}" '
            f'fill="{fill}" font-weight="{weight}"{halo}>{escape(s)}{extra}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 1,
             dash: str | None = None, arrow: str | None = None, opacity: float = 1) -> None:
        extra = ""
        if dash:
            extra += f' stroke-dasharray="{dash}"'
        if arrow:
            extra += f' marker-end="url(#{arrow})"'
        if opacity != 1:
            extra += f' stroke-opacity="{_num(opacity)}"'
        self.items.append(
            f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" '
            f'stroke="{stroke}" stroke-width="{_num(width)}"{extra}/>')

    def finish(self, width: float, height: float, title: str) -> str:
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(width)}" '
            f'height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}" '
            f'font-family="{FONT}">\n'
            f"<title>{escape(title)}</title>\n"
            "<defs>\n" + "\n".join(
                f'<marker id="{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" '
                f'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
                f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
                for name, color in (("arrow", C_FETCH), ("arrow-grey", C_MAINT),
                                    ("arrow-red", C_BAD))) + "\n</defs>\n"
            f'<rect x="0" y="0" width="{_num(width)}" height="{_num(height)}" fill="white"/>\n'
        )
        return head + "\n".join(self.items) + "\n</svg>\n"


def _short(label: str, n: int) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


# ------------------------------------------------------------------ timeline


def _s(x: dict[str, Any]) -> str:
    """``s1``, or ``plt.s1`` when the run goes through several sites (code graph)."""
    return f"{x['site']}.s{x['slot']}" if x.get("site") else f"s{x['slot']}"


def _exec_label(k: int, e: dict[str, Any]) -> str:
    states = ",".join(e["states"]) or ("torn" if e["torn"] else "no state")
    return f"#{k + 1} {_s(e)} {e['text']} [{states}]"

def _stagger(labels: dict[int, str], x: Callable[[int], float]) -> dict[int, list[tuple[int, str]]]:
    """Rows for the labels under the writes, so no two overlap: each label starts just
    left of its write and takes the first row where the previous label has ended."""
    ends: list[float] = []
    out: dict[int, list[tuple[int, str]]] = {}
    for t in sorted(labels):
        x0 = x(t) - 3
        x1 = x0 + len(labels[t]) * CHAR_W * 9 / 11 + 16
        row = next((r for r, e in enumerate(ends) if e < x0), len(ends))
        if row == len(ends):
            ends.append(x1)
        else:
            ends[row] = x1
        out[t] = [(row, labels[t])]
    return out


_DATA_WRITE = re.compile(r"(\S+) data (\S+) := (\S+)(?: \(chunk (\d+/\d+))?")


def _pub_labels(doc: dict[str, Any]) -> dict[int, str]:
    """point -> "P slots published there" (site-qualified when there are several)."""
    multi = len(doc["sites"]) > 1
    pubs: dict[int, list[str]] = {}
    for site in doc["sites"]:
        for w in site["writes"]:
            if w["publication"] is not None:
                label = f"{site['name']}.s{w['slot']}" if multi else f"s{w['slot']}"
                if label not in pubs.setdefault(w["publication"], []):
                    pubs[w["publication"]].append(label)
    return {p: "P " + ",".join(slots) for p, slots in pubs.items()}


def _lane_notes(c: dict[str, Any]) -> list[tuple[str, str]]:
    """What a counterexample's lane says under its instructions: the effect difference,
    the conflicting words of a CMODX fetch, what is missing."""
    notes: list[tuple[str, str]] = []
    if c.get("cmodx_words"):
        notes.append(("head", f"CMODX conflict in slot {c['cmodx_words'][0]['slot']}: the "
                              f"window holds"))
        for w in c["cmodx_words"]:
            tag = "in the CMODX set" if w["cmodx"] else "NOT in the CMODX set"
            states = ",".join(w["states"]) or "no state"
            notes.append(("bad" if not w["cmodx"] else "ok",
                          f"  {w['text']} [{states}] (from point {w['point']}): {tag}"))
    for r in c.get("reads", []):  # data words loaded by the run (MODEL.md 6.7)
        how = "torn: mid-way through a multi-chunk write" if r["torn"] else r["write"]
        tag = "valid" if r["valid"] else f"NOT valid with {c['nearest_valid'] or 'any state'}"
        notes.append(("bad" if not r["valid"] else "ok",
                      f"#{r['index'] + 1} loads {r['word']} at point {r['point']}: {r['value']} "
                      f"(value at point {r['source']}, {how}): {tag}"))
    if c["diffs"]:
        notes.append(("head", f"effect vs nearest valid {c['nearest_valid']}:"))
        for d in c["diffs"]:
            notes.append(("bad", f"  {d['what']}: {d['run']}, not {d['valid']}"))
    for n in c.get("needs", []):
        notes.append(("ok", f"missing: {n}" if not n.startswith("or:") else n))
    return notes


def _safe_rows(doc: dict[str, Any]) -> list[tuple[dict[str, Any], int, str]]:
    """Per modifying write: (write, the point its window closes, what closes it, in words)."""
    rows = []
    multi = len(doc["sites"]) > 1
    for site in doc["sites"]:
        for w in site["writes"]:
            name = f"{site['name']}." if multi else ""
            end = w["visible_to_all"] if w["visible_to_all"] is not None else w["publication"]
            if w["publication"] is None:
                why = "never published: fetches may keep the old word"
            elif w["visible_to_all"] is None:
                why = (f"published at {w['publication']}; no forced CSE after it: each CPU sees "
                       f"it after its own next CSE")
            else:
                why = (f"published at {w['publication']}; every CPU from {w['visible_to_all']} "
                       f"({w['closed_by']})")
            rows.append((w, w["point"] if end is None else end,
                         f"{name}s{w['slot']} := {w['text']} (W at {w['point']}): {why}"))
    return rows


def _safe_lane(svg: _Svg, doc: dict[str, Any], writes: list[tuple[dict[str, Any], dict[str, Any]]],
               top: float, width: float, x: Callable[[int], float]) -> None:
    """A safe spec's lane: for each write, where its window closes and which sync closes it."""
    h = max(34 + 16 * max(len(writes), 1), 64)
    svg.add("rect", x=8.0, y=top, width=width - 16, height=float(h), fill="none", stroke=C_PUB)
    svg.text(16, top + 16, "why it is " + doc["verdict"], weight="bold", fill=C_PUB)
    svg.text(16, top + 30, "bar: from a write to its", size=10, fill=C_MAINT)
    svg.text(16, top + 42, "publication; green tick: every", size=10, fill=C_MAINT)
    svg.text(16, top + 54, "CPU has had a CSE since", size=10, fill=C_MAINT)
    for i, (w, end, label) in enumerate(_safe_rows(doc)):
        ry = top + 24 + 16 * i
        if w["publication"] is not None:
            svg.add("rect", x=x(w["point"]) - 4, y=ry - 4,
                    width=x(w["publication"]) - x(w["point"]) + 8, height=8.0, fill=C_WINDOW, rx=3)
            svg.line(x(end), ry - 7, x(end), ry + 7, C_PUB, 2.5)
        svg.text(x(end) + 10, ry + 4, label, size=10, fill=C_EXEC)
    if not writes:
        svg.text(LEFT + 4, top + 28, "no write changes the site", size=10)


LEFT = 230  # the lane-label column
COL = 46  # width of one point


def timeline_svg(doc: dict[str, Any]) -> str:
    steps = doc["steps"]
    n = len(steps)
    cxs = doc["counterexamples"]
    svg = _Svg()

    def x(t: int) -> float:
        return LEFT + COL / 2 + t * COL

    chart_right = x(n) + COL / 2
    # wide enough for every instruction's label right of where it executed
    need = [x(e["point"]) + 10 + len(_exec_label(k, e)) * CHAR_W + 20
            for c in cxs for k, e in enumerate(c["execs"])]
    need += [x(c["execs"][-1]["point"]) + 10 + (len(c["exit"]) + 3) * CHAR_W + 20
             for c in cxs if c["execs"]]
    need += [LEFT + 4 + len(note) * CHAR_W * 10 / 11 + 20
             for c in cxs for _, note in _lane_notes(c)]
    if not cxs:
        need += [x(end) + 10 + len(label) * CHAR_W * 10 / 11 + 20
                 for _, end, label in _safe_rows(doc)]
    width = max([chart_right + 80, 960.0] + need)
    spec = doc["spec"]
    svg.text(16, 26, f"fpatch timeline: {spec['name']}", size=16, weight="bold")
    sub = (f"verdict {doc['verdict'].upper()} (expected {doc['expect']}); {len(cxs)} "
           f"counterexample(s); time runs left to right over patcher points 0..{n}")
    svg.text(16, 46, sub, size=11, fill=C_MAINT)

    axis_y = 72
    lane_top = 84
    w_labels: dict[int, str] = {}
    for site in doc["sites"]:
        for w in site["writes"]:
            pre = f"{site['name']}." if len(doc["sites"]) > 1 else ""
            w_labels[w["point"]] = (w_labels.get(w["point"], "") + " " if w["point"] in w_labels
                                    else "") + f"{pre}s{w['slot']}: {w['text']}"
    for s in steps:  # data-word writes (MODEL.md s.1): the word, the value, which chunk
        m = _DATA_WRITE.search(s["label"]) if s["kind"] == "write" else None
        if m and s["point"] not in w_labels:
            chunk = f" ({m.group(4)})" if m.group(4) else ""
            w_labels[s["point"]] = f"{m.group(2)} := {m.group(3)}{chunk}"
    n_rows = max((r for rows in _stagger(w_labels, x).values() for r, _ in rows), default=0) + 1
    pub_labels = _pub_labels(doc)
    pub_rows = _stagger(pub_labels, x)
    n_pub = max((r for rows in pub_rows.values() for r, _ in rows), default=0) + 1
    patcher_h = 80 + 12 * n_rows + 12 * (n_pub - 1)
    lanes: list[tuple[dict[str, Any], float, float]] = []
    y = float(lane_top + patcher_h + 10)
    rows_of: dict[str, list[float]] = {}
    notes_of: dict[str, list[tuple[str, str]]] = {}
    for c in cxs:
        offs, off = [], 24.0
        for e in c["execs"]:
            if e["interrupted_before"]:
                off += 14  # room for the interruption's line and label
            offs.append(off)
            off += 20
        rows_of[c["id"]] = offs
        notes_of[c["id"]] = notes = _lane_notes(c)
        off += 14 + 14 * len(notes)  # the exit line, then what went wrong
        h = max(off + 8, 64.0)
        lanes.append((c, y, h))
        y += h + 10
    writes = [(site, w) for site in doc["sites"] for w in site["writes"]]
    safe_top = y
    if not cxs:
        y += max(34 + 16 * max(len(writes), 1), 64) + 10
    chart_bottom = y

    # stop_machine blocks: shaded columns over every lane, labelled at the top
    for b in doc["stop_machine_blocks"]:
        x0, x1 = x(b["first"]) - COL / 2, x(b["last"]) + COL / 2
        svg.add("rect", x=x0, y=float(lane_top - 4), width=x1 - x0,
                height=chart_bottom - lane_top + 4, fill=C_BLOCK)
        svg.text((x0 + x1) / 2, lane_top + 8, f"stop_machine {b['first']}..{b['last']}",
                 size=10, anchor="middle", fill=C_MAINT)
    # point axis, top and bottom
    for t in range(n + 1):
        svg.text(x(t), axis_y, str(t), size=10, anchor="middle", fill=C_MAINT)
        svg.text(x(t), chart_bottom + 12, str(t), size=10, anchor="middle", fill=C_MAINT)
        svg.line(x(t), lane_top, x(t), chart_bottom, "#d8dde3", 0.5)
    svg.text(LEFT - 8, axis_y, "point", size=10, anchor="end", fill=C_MAINT)

    # forced CSEs: a dashed line through every lane
    for p in doc["forced_cse_points"]:
        svg.line(x(p), lane_top + 12, x(p), chart_bottom, C_CSE, 1.2, dash="5,3")
        svg.text(x(p) + 3, chart_bottom - 3, "CSE all CPUs", size=9, fill=C_CSE)
    # step marks (`- mark: NAME`), named under the axis; `complete:` ones in bold
    complete = {m["name"] for m in doc["environment"].get("complete", [])}
    for m in doc.get("marks", []):
        bold = m["name"] in complete
        mx = x(m["point"]) + 3
        svg.line(mx, lane_top, mx, chart_bottom, C_MAINT, 1.6 if bold else 0.8, dash="2,2")
        svg.text(mx + 2, axis_y + 10, ("complete: " if bold else "mark ") + m["name"], size=9,
                 fill=C_MAINT, weight="bold" if bold else "normal")

    # the patcher lane
    svg.add("rect", x=8.0, y=float(lane_top), width=width - 16, height=float(patcher_h),
            fill="none", stroke="#aab4bf")
    svg.text(16, lane_top + 30, "patcher (one CPU)", weight="bold")
    svg.text(16, lane_top + 46, "steps, writes (W) and", size=10, fill=C_MAINT)
    svg.text(16, lane_top + 58, "publication points (P)", size=10, fill=C_MAINT)
    step_y = lane_top + 30
    write_y = step_y
    slot_writes = w_labels
    w_rows = _stagger(w_labels, x)
    svg.text(x(0), step_y + 4, "init", size=9, anchor="middle", fill=C_MAINT)
    for s in steps:
        t = s["point"]
        short = STEP_SHORT.get(s["kind"], s["kind"])
        if s["kind"] == "write":
            svg.add("rect", x=x(t) - 9, y=float(step_y - 9), width=18.0, height=18.0,
                    fill=C_WRITE if t in slot_writes else "#f3d2b0", stroke="none", rx=2)
            svg.text(x(t), step_y + 4, "W", size=10, anchor="middle", fill="white",
                     weight="bold", title=s["label"])
            for row, label in w_rows.get(t, []):
                wy = step_y + 22 + 12 * row
                svg.line(x(t), step_y + 9, x(t), wy - 8, C_WRITE, 0.8)
                svg.text(x(t) - 3, wy, label, size=9, fill=C_WRITE, title=s["label"])
        else:
            color = C_CSE if s["kind"] in ("isb", "ipi_sync") else C_MAINT
            svg.text(x(t), step_y + 4, short, size=9, anchor="middle", fill=color,
                     title=s["label"])
    pub_y0 = lane_top + patcher_h - 16 - 12 * (n_pub - 1)
    for p, rows in sorted(pub_rows.items()):
        for row, label in rows:  # staggered like the write labels: no two overlap
            pub_y = pub_y0 + 12 * row
            d = f"M{_num(x(p))},{pub_y - 7} l7,7 l-7,7 l-7,-7 z"
            svg.add("path", d=d, fill=C_PUB)
            svg.text(x(p) + 9, pub_y + 4, label, size=9, fill=C_PUB)

    # one lane per counterexample
    for c, top, h in lanes:
        svg.add("rect", x=8.0, y=float(top), width=width - 16, height=float(h), fill="none",
                stroke=C_BAD, stroke_opacity="0.5")
        kinds = c.get("observers") or [c["observer"]]
        svg.text(16, top + 16, f"{c['id']}: {kinds[0]} in {c['site']}", weight="bold")
        if len(kinds) > 1:
            svg.text(16, top + 56, "same run for " + ", ".join(kinds[1:]), size=10,
                     fill=C_MAINT)
        svg.text(16, top + 30, c["violation"].upper(), size=10, fill=C_BAD, weight="bold")
        if c["nearest_valid"]:
            svg.text(16, top + 43, f"vs nearest valid {c['nearest_valid']}", size=10,
                     fill=C_MAINT)
        prev: tuple[float, float] | None = None
        for k, e in enumerate(c["execs"]):
            ry = top + rows_of[c["id"]][k]
            lo, hi = e["window"]
            svg.add("rect", x=x(lo) - 4, y=ry - 4, width=x(hi) - x(lo) + 8, height=8.0,
                    fill=C_WINDOW, rx=3)
            # the last CSE before this fetch
            svg.line(x(e["cse"]), ry - 8, x(e["cse"]), ry + 8, C_CSE, 2.5)
            if e["interrupted_before"] and prev is not None:
                iy = ry - 13
                svg.line(prev[0], prev[1] + 4, prev[0], iy, C_BAD, 1.2, dash="2,2")
                svg.line(prev[0], iy, x(e["cse"]), iy, C_BAD, 1.2, dash="2,2")
                svg.line(x(e["cse"]), iy, x(e["cse"]), ry - 9, C_BAD, 1.2, dash="2,2")
                svg.text(prev[0] + 6, iy - 2, "interrupted / preempted: away until the CSE "
                         f"at point {e['cse']}", size=9, fill=C_BAD)
            # the point whose value was fetched, and the write that produced it
            fx = x(e["fetched_at"])
            svg.add("circle", cx=fx, cy=ry, r=4.5, fill="white", stroke=C_FETCH,
                    stroke_width="1.8")
            sw = e["source_write"]
            src_x = x(0 if sw is None else sw)
            svg.line(src_x, lane_top + patcher_h - 26 if sw is not None else write_y + 6, fx, ry - 5,
                     C_FETCH, 1.1, arrow="arrow", opacity=0.7)
            # where it executed
            last = k == len(c["execs"]) - 1
            ex = x(e["point"])
            svg.add("circle", cx=ex, cy=ry, r=4.0, fill=C_BAD if last else C_EXEC)
            label = _exec_label(k, e)
            tx = ex + 10
            anchor = "start"
            if tx + len(label) * CHAR_W > width - 12:
                tx, anchor = x(lo) - 10, "end"
            svg.text(tx, ry + 4, label, size=11, anchor=anchor, fill=C_BAD if last else C_EXEC,
                     title=(f"executed at {e['point']}, fetched as at {e['fetched_at']}, "
                            f"window {lo}..{hi}, last CSE {e['cse']}"))
            prev = (ex, ry)
        if prev is not None:
            ex_label = f"-> {c['exit']}"
            tx, anchor = prev[0] + 10, "start"
            if tx + len(ex_label) * CHAR_W > width - 12:
                tx, anchor = prev[0] - 10, "end"
            svg.text(tx, prev[1] + 18, ex_label, size=10, anchor=anchor, fill=C_MAINT)
            ny = prev[1] + 36
            for kind, note in notes_of[c["id"]]:
                svg.text(LEFT + 4, ny, note, size=10, weight="bold" if kind == "head" else "normal",
                         fill=C_BAD if kind in ("head", "bad") else C_EXEC)
                ny += 14

    if not cxs:
        _safe_lane(svg, doc, writes, safe_top, width, x)

    # legend
    ly = chart_bottom + 34
    svg.text(16, ly, "Legend", weight="bold")
    items = [
        ("write", "W  a patcher write (orange: modifies the slots listed under it)"),
        ("pub", "P  publication point: the write's cache maintenance has completed"),
        ("cse", "|  the observer's last context synchronization event (CSE) before the fetch"),
        ("window", "   fetch window: the points whose value the fetch may return"),
        ("fetch", "o  the point whose value was fetched; the arrow comes from its write"),
        ("exec", "●  where the observer executed the instruction (red: the last one)"),
        ("forced", "┆  forced CSE on every CPU (end of stop_machine, ipi_sync)"),
        ("block", "   grey columns: steps inside stop_machine"),
    ]
    if doc.get("marks"):
        items.append(("mark", "┆  a step mark; bold: listed in complete: (every CPU runs its words)"))
    for i, (kind, text) in enumerate(items):
        yy = ly + 18 + 16 * i
        sx = 24.0
        if kind == "write":
            svg.add("rect", x=sx - 7, y=float(yy - 11), width=14.0, height=14.0, fill=C_WRITE)
        elif kind == "pub":
            svg.add("path", d=f"M{_num(sx)},{yy - 11} l7,7 l-7,7 l-7,-7 z", fill=C_PUB)
        elif kind == "cse":
            svg.line(sx, yy - 11, sx, yy + 3, C_CSE, 2.5)
        elif kind == "window":
            svg.add("rect", x=sx - 10, y=float(yy - 8), width=20.0, height=8.0, fill=C_WINDOW)
        elif kind == "fetch":
            svg.add("circle", cx=sx, cy=float(yy - 4), r=4.5, fill="white", stroke=C_FETCH,
                    stroke_width="1.8")
        elif kind == "exec":
            svg.add("circle", cx=sx, cy=float(yy - 4), r=4.0, fill=C_EXEC)
        elif kind == "forced":
            svg.line(sx, yy - 12, sx, yy + 3, C_CSE, 1.2, dash="5,3")
        elif kind == "mark":
            svg.line(sx, yy - 12, sx, yy + 3, C_MAINT, 1.6, dash="2,2")
        else:
            svg.add("rect", x=sx - 10, y=float(yy - 12), width=20.0, height=15.0, fill=C_BLOCK)
        svg.text(44, yy, text[3:], size=11)
    # the step key, so the picture reads without the Markdown
    ky = ly + 18 + 16 * len(items) + 14
    svg.text(16, ky, "Patcher steps (point: step)", weight="bold")
    half = (n + 1) // 2 if n > 12 else n
    colw = (width - 32) / 2
    for i, s in enumerate(steps):
        col, row = (0, i) if i < half else (1, i - half)
        blk = " [sm]" if s["stop_machine"] is not None else ""
        label = _short(f"{s['point']:>3}: {s['label']}{blk}", int(colw / 6.2) - 1)
        svg.text(16 + col * colw, ky + 16 + 14 * row, label, size=10)
    height = ky + 16 + 14 * max(half, 1) + 12
    return svg.finish(width, height, f"fpatch timeline of {spec['name']}")


# ------------------------------------------------------------------ states

NODE_H = 44
GAP = 110


def _node_sub(nd: dict[str, Any]) -> str:
    flags = [f for f, on in (("initial", nd["initial"]), ("final", nd["final"]),
                             ("valid", nd["valid"])) if on]
    return f"from point {nd['first_point']}" + (f"; {', '.join(flags)}" if flags else "")


def _node_lines(site: dict[str, Any], nd: dict[str, Any]) -> list[str]:
    """Each slot's instruction in a node: from its state, or per slot for a mix."""
    by_name = {st["name"]: st for st in site["states"]}
    n = len(site["slots"])
    if nd["name"] in by_name:
        parts = [nd["name"]] * n
    elif nd["name"].startswith("mix(") and nd["name"].endswith(")"):
        parts = nd["name"][4:-1].split(",")
    else:  # pragma: no cover - document.py names every node one of these ways
        parts = []
    out = []
    for i, part in enumerate(parts):
        st = by_name.get(part)
        out.append(f"s{i} {st['slots'][i]['text']}" if st else f"s{i} .word {part}")
    return out


NODE_LINE = 12  # the height of one instruction line in a node (font-size 9.5)
LINE_W = 5.9  # width of one character at font-size 9.5


def _node_h(site: dict[str, Any]) -> float:
    return float(NODE_H + NODE_LINE * len(site["slots"]))


def _node_w(nd: dict[str, Any], lines: list[str] | None = None) -> float:
    longest = max((len(ln) for ln in lines or []), default=0)
    return max(90.0, len(nd["name"]) * 7.6 + 24, len(_node_sub(nd)) * 5.7 + 18,
               longest * LINE_W + 18)


def _edge_tag(t: dict[str, Any]) -> str:
    """An edge's label: its point, and for an unsafe edge the counterexamples it is in."""
    ids = ",".join(t["counterexamples"])
    if len(ids) > 11:
        ids = f"{len(t['counterexamples'])} cx"
    return f"{t['point']}" + (f" ({ids})" if t["unsafe"] else "")


def _ran_lines(cx: dict[str, Any]) -> list[str]:
    """The mix a counterexample's observer executed: each instruction, its slot, its state."""
    out = []
    for k, x in enumerate(cx["execs"]):
        src = ",".join(x["states"]) or ("torn" if x["torn"] else "no state")
        out.append(f"#{k + 1} {_s(x)} {x['text']} [{src}] @{x['point']}")
    return out


def states_svg(doc: dict[str, Any]) -> str:
    svg = _Svg()
    spec = doc["spec"]
    svg.text(16, 26, f"fpatch state transitions: {spec['name']}", size=16, weight="bold")
    svg.text(16, 46, "nodes: the site's contents, in the order the patcher first reaches "
             "them; edges: patcher steps (point number)", size=11, fill=C_MAINT)
    y = 70.0
    width = 760.0
    for site in doc["sites"]:
        nodes = site["nodes"]
        trans = site["transitions"]
        xs: dict[str, float] = {}
        lines = {nd["name"]: _node_lines(site, nd) for nd in nodes}
        ws = {nd["name"]: _node_w(nd, lines[nd["name"]]) for nd in nodes}
        nh = _node_h(site)
        site_cxs = [c for c in doc["counterexamples"] if c["site"] == site["name"]]
        # room between neighbours for the widest edge label, clear of both nodes
        gap = max([float(GAP)] + [len(_edge_tag(t)) * 6.8 + 36 for t in trans])
        cx = 40.0
        for nd in nodes:
            xs[nd["name"]] = cx
            cx += ws[nd["name"]] + gap
        width = max(width, cx - gap + 40)
        order = {nd["name"]: i for i, nd in enumerate(nodes)}
        fwd = [order[t["to"]] - order[t["from"]] for t in trans
               if order[t["to"]] > order[t["from"]] + 1]
        bwd = [order[t["from"]] - order[t["to"]] for t in trans
               if order[t["to"]] <= order[t["from"]]]
        # room for arcs: forward skips above the row, backward edges below it
        up = (44.0 + 26 * max(fwd) + 14 * len(trans)) if fwd else 36.0
        down = (44.0 + 26 * max(bwd) + 14 * len(trans)) if bwd else 16.0
        svg.text(16, y + 16, f"site {site['name']} at {site['base']}", size=13, weight="bold")
        row_y = y + 28 + up
        # edges first, nodes drawn on top
        seen: dict[tuple[str, str], int] = {}
        for t in trans:
            u, v = t["from"], t["to"]
            k = seen.get((u, v), 0)
            seen[(u, v)] = k + 1
            color = C_BAD if t["unsafe"] else C_MAINT
            wdt = 2.4 if t["unsafe"] else 1.3
            arrow = "arrow-red" if t["unsafe"] else "arrow-grey"
            du, dv = order[u], order[v]
            if dv == du + 1 and k == 0:
                x1 = xs[u] + ws[u]
                x2 = xs[v]
                svg.line(x1, row_y, x2 - 2, row_y, color, wdt, arrow=arrow,
                         dash="7,3" if t["unsafe"] else None)
                lx, ly = (x1 + x2) / 2, row_y - 7
            else:
                # an arc above the row (forward) or below it (backward)
                sgn = -1 if dv > du else 1
                x1 = xs[u] + ws[u] / 2 + (8 if sgn < 0 else -8)
                x2 = xs[v] + ws[v] / 2 + (-8 if sgn < 0 else 8)
                y1 = row_y + sgn * nh / 2
                hgt = 30 + 26 * abs(dv - du) + 14 * k
                cy = y1 + sgn * hgt
                svg.add("path", d=(f"M{_num(x1)},{_num(y1)} C{_num(x1)},{_num(cy)} "
                                   f"{_num(x2)},{_num(cy)} {_num(x2)},{_num(y1)}"),
                        fill="none", stroke=color, stroke_width=_num(wdt),
                        stroke_dasharray="7,3" if t["unsafe"] else "none",
                        marker_end=f"url(#{arrow})")
                lx, ly = (x1 + x2) / 2, y1 + sgn * hgt * 0.75 + (4 if sgn > 0 else -3)
            tag = _edge_tag(t)
            svg.add("rect", x=lx - len(tag) * 3.4 - 4, y=ly - 11, width=len(tag) * 6.8 + 8,
                    height=15.0, fill="white", stroke=color, stroke_width="0.8", rx=3)
            svg.text(lx, ly, tag, size=10, anchor="middle", fill=color, title=t["step"])
        for nd in nodes:
            w = ws[nd["name"]]
            nx0 = xs[nd["name"]]
            if nd["valid"]:
                fill, stroke, dash = "#e3f4e8", C_PUB, "none"
            elif nd["named"]:
                fill, stroke, dash = "#e6eefa", C_FETCH, "none"
            else:
                fill, stroke, dash = "#f4f5f7", C_MAINT, "4,3"
            if nd["initial"]:
                svg.add("rect", x=nx0 - 4, y=row_y - nh / 2 - 4, width=w + 8,
                        height=nh + 8, fill="none", stroke=stroke, rx=8)
            svg.add("rect", x=nx0, y=row_y - nh / 2, width=w, height=nh,
                    fill=fill, stroke=stroke, stroke_width="2" if nd["final"] else "1.2",
                    stroke_dasharray=dash, rx=6)
            ty = row_y - nh / 2
            svg.text(nx0 + w / 2, ty + 17, nd["name"], size=12, anchor="middle",
                     weight="bold")
            svg.text(nx0 + w / 2, ty + 31, _node_sub(nd), size=9, anchor="middle", fill=C_MAINT)
            for i, ln in enumerate(lines[nd["name"]]):
                svg.text(nx0 + 9, ty + 46 + NODE_LINE * i, ln, size=9.5, fill=C_EXEC)
        # what each counterexample's observer actually executed: a mix across points
        ky = row_y + nh / 2 + down + 10
        bx = 40.0
        box_h = 0.0
        for c in site_cxs:
            ran = _ran_lines(c)
            head = f"{c['id']} executed ({', '.join(c['observers'])})"
            bw = max([len(ln) * LINE_W for ln in ran] + [len(head) * 6.6]) + 18
            bh = 24.0 + NODE_LINE * len(ran)
            svg.add("rect", x=bx, y=ky, width=bw, height=bh, fill="#fdf0f0", stroke=C_BAD,
                    stroke_width="1.2", stroke_dasharray="4,3", rx=6)
            svg.text(bx + 9, ky + 15, head, size=10, fill=C_BAD, weight="bold")
            for i, ln in enumerate(ran):
                svg.text(bx + 9, ky + 29 + NODE_LINE * i, ln, size=9.5, fill=C_EXEC)
            bx += bw + 24
            box_h = max(box_h, bh)
        width = max(width, bx + 16)
        if site_cxs:
            ky += box_h + 24
        svg.text(16, ky, "Edges (point: step)", size=11, weight="bold")
        for i, t in enumerate(trans):
            mark = "  <- inside " + ", ".join(t["counterexamples"]) if t["unsafe"] else ""
            svg.text(24, ky + 16 + 14 * i, f"{t['point']:>3}: {t['from']} -> {t['to']}: "
                     f"{t['step']}{mark}", size=10, fill=C_BAD if t["unsafe"] else C_EXEC)
        if not trans:
            svg.text(24, ky + 16, "(no transitions)", size=10)
        y = ky + 16 + 14 * max(len(trans), 1) + 16
        longest = max([len(f"{t['point']:>3}: {t['from']} -> {t['to']}: {t['step']}") + 30
                       for t in trans] + [0])
        width = max(width, 40 + longest * 6.1)
    # legend
    svg.text(16, y + 4, "Legend", weight="bold")
    legend = [
        ("#e3f4e8", C_PUB, "none", "valid state (a complete execution is acceptable)"),
        ("#e6eefa", C_FETCH, "none", "named state that is not valid"),
        ("#f4f5f7", C_MAINT, "4,3", "mix: slots from different states (name lists each slot's)"),
    ]
    for i, (fill, stroke, dash, text) in enumerate(legend):
        yy = y + 20 + 18 * i
        svg.add("rect", x=18.0, y=yy - 11, width=30.0, height=14.0, fill=fill, stroke=stroke,
                stroke_dasharray=dash, rx=3)
        svg.text(58, yy, text, size=11)
    yy = y + 20 + 18 * len(legend)
    svg.line(18, yy - 4, 46, yy - 4, C_MAINT, 1.3, arrow="arrow-grey")
    svg.text(58, yy, "transition (label: the point after the step)", size=11)
    yy += 18
    svg.line(18, yy - 4, 46, yy - 4, C_BAD, 2.4, arrow="arrow-red", dash="7,3")
    svg.text(58, yy, "unsafe: inside a counterexample's span (oldest fetchable point, "
             "last execution]", size=11)
    yy += 18
    svg.text(18, yy, "outer frame: initial state; thick border: final state", size=11,
             fill=C_MAINT)
    width = max(width, 18 + 95 * CHAR_W)
    return svg.finish(width, yy + 14, f"fpatch state transitions of {spec['name']}")


def states_dot(doc: dict[str, Any]) -> str:
    """The same graph for Graphviz (``dot -Tsvg states.dot``)."""

    def q(s: str) -> str:
        return '"' + one_line(s).replace("\\", "\\\\").replace('"', '\\"') + '"'

    out = [f"digraph {q(doc['spec']['name'])} {{", "  rankdir=LR;",
           '  node [shape=box, style="rounded,filled", fontname="monospace"];',
           '  edge [fontname="monospace", fontsize=10];']
    for site in doc["sites"]:
        out.append(f"  subgraph {q('cluster_' + site['name'])} {{")
        out.append(f"    label={q('site ' + site['name'])};")
        for nd in site["nodes"]:
            color = "#e3f4e8" if nd["valid"] else "#e6eefa" if nd["named"] else "#f4f5f7"
            extra = ", peripheries=2" if nd["initial"] else ""
            out.append(f"    {q(site['name'] + ':' + nd['name'])} [label={q(nd['name'])}, "
                       f"fillcolor={q(color)}{extra}];")
        for t in site["transitions"]:
            style = ', color="#cd2626", penwidth=2.4, style=dashed' if t["unsafe"] else ""
            out.append(f"    {q(site['name'] + ':' + t['from'])} -> "
                       f"{q(site['name'] + ':' + t['to'])} "
                       f"[label={q(str(t['point']) + ': ' + t['step'])}{style}];")
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"
