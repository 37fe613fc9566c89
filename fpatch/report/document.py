"""The report of one checked spec as data: the single source every renderer reads.

``build_report`` turns a spec, its timeline and the checker's ``Result`` into a
plain, JSON-ready ``dict`` (``report.json``; schema ``report.schema.json``
beside this file, described in docs/reports.md). The Markdown, the terminal
rendering (``fpatch explain``) and both SVG pictures are drawn from this dict
only, so they can never disagree with each other or with the JSON.

Nothing here is timed: the same spec and result give the same dict, so report
files are byte-identical across runs.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from fpatch.errors import Diagnostic, Loc
from fpatch.isa import decode, is_cmodx
from fpatch.model.graph import contents_name, transition_graph
from fpatch.model.timeline import SlotHistory, Timeline
from fpatch.region import Region, globalize, region
from fpatch.spec.types import Site, Spec
from fpatch.verdict import Counterexample, Exec, Result

REPORT_FORMAT = "fpatch-report"
REPORT_VERSION = 1

# The short name of each primitive step kind, for pictures and narrow columns.
STEP_SHORT = {
    "write": "W", "dc_cvau": "DC", "ic_ivau": "IC", "ic_iallu": "IC*", "ic_ialluis": "IC",
    "dmb": "DMB", "dsb": "DSB", "isb": "ISB", "ipi_sync": "IPI", "wait_tasks": "WAIT",
}


def _hex(v: int) -> str:
    return f"0x{v:x}"


def _loc(loc: Loc | None) -> dict[str, Any] | None:
    return None if loc is None else {"file": loc.file, "line": loc.line, "col": loc.col}


def diff_category(what: str) -> str:
    """register | memory | call | exit: what kind of effect an ``EffectDiff`` names."""
    if what == "exit":
        return "exit"
    if what.startswith("mem["):
        return "memory"
    if what.startswith("call"):
        return "call"
    return "register"


def symbolize(text: str, spec: Spec, site: Site) -> str:
    """Replace addresses in disassembly with helper/symbol names or ``site+off``."""
    names = {addr: name for name, addr in spec.symbols}
    for h in spec.helpers:
        names[h.address] = h.name

    def sub(m: re.Match[str]) -> str:
        v = int(m.group(0), 16)
        if v in names:
            return names[v]
        if site.base <= v <= site.end:
            return f"{site.name}+{v - site.base:#x}" if v != site.base else site.name
        return m.group(0)

    return re.sub(r"0x[0-9a-f]+\b", sub, text)


def source_write(hist: SlotHistory, fetched_at: int) -> int | None:
    """The modifying write whose value a fetch as at ``fetched_at`` returned (None: initial)."""
    best = None
    for w, _pub in hist.writes:
        if w <= fetched_at and (best is None or w > best):
            best = w
    return best


def _site_doc(spec: Spec, tl: Timeline, site: Site,
              cx_docs: list[dict[str, Any]]) -> dict[str, Any]:
    hist = tl.history(site)
    g = transition_graph(tl, site)
    contents = [contents_name(site, tuple(h.values[t] for h in hist)) for t in range(tl.n + 1)]
    states = []
    for st in site.states:
        slots = []
        for i, w in enumerate(st.words):
            d = decode(w, site.slot_addr(i))
            slots.append({"word": f"{w:08x}", "text": symbolize(d.text, spec, site),
                          "source": st.texts[i], "label": st.labels[i]})
        states.append({"name": st.name, "initial": st.name == site.initial,
                       "valid": st.name in site.valid, "line": st.loc.line, "slots": slots})
    slots_doc = [{"index": i, "addr": _hex(site.slot_addr(i)),
                  "differs": len({st.words[i] for st in site.states}) > 1}
                 for i in range(site.nslots)]
    writes = sorted(({"slot": i, "point": w, "publication": pub,
                      "word": f"{h.values[w]:08x}",
                      "text": symbolize(decode(h.values[w], site.slot_addr(i)).text, spec, site),
                      **_closing(tl, pub)}
                     for i, h in enumerate(hist) for w, pub in h.writes),
                    key=lambda d: (d["point"], d["slot"]))
    nodes = [{"name": n, "first_point": d["first_point"], "valid": bool(d["valid"]),
              "named": bool(d["named"]), "initial": n == contents[0], "final": n == contents[-1]}
             for n, d in sorted(g.nodes(data=True), key=lambda nd: nd[1]["first_point"])]
    transitions = []
    for u, v, d in sorted(g.edges(data=True), key=lambda e: e[2]["point"]):
        t = d["point"]
        inside = [c["id"] for c in cx_docs
                  if c["site"] == site.name and c["span"][0] < t <= c["span"][1]]
        transitions.append({"from": u, "to": v, "point": t, "step": d["label"],
                            "unsafe": bool(inside), "counterexamples": inside})
    return {
        "name": site.name, "base": _hex(site.base), "entry": site.entry, "enter": site.enter,
        "line": site.loc.line,
        "initial": site.initial, "valid": list(site.valid), "slots": slots_doc, "states": states,
        "data": [{"name": d.name, "offset": d.offset, "size": d.size, "value": _hex(d.value)}
                 for d in site.data],
        "writes": writes, "contents": contents, "nodes": nodes, "transitions": transitions,
    }


def _closing(tl: Timeline, pub: int | None) -> dict[str, Any]:
    """When every CPU must fetch a published write: its first forced CSE at or after the
    publication (an ipi_sync, or the end of a stop_machine block), and which it is."""
    if pub is None:
        return {"visible_to_all": None, "closed_by": None}
    ends = {b.last for b in tl.blocks}
    for p in tl.forced_cse_points():
        if p >= pub:
            step = tl.step_at(p)
            by = "ipi_sync" if step is not None and step.kind == "ipi_sync" else (
                "the end of stop_machine" if p in ends else "a CSE on every CPU")
            return {"visible_to_all": p, "closed_by": by}
    return {"visible_to_all": None, "closed_by": None}


def _cmodx_words(c: Counterexample, spec: Spec, site: Site,
                 hist: tuple[SlotHistory, ...]) -> list[dict[str, Any]]:
    """The different words a CMODX fetch's window holds, each with whether it is in the
    CMODX set: the conflict a CMODX violation names."""
    if c.violation != "cmodx" or not c.execs:
        return []
    x = c.execs[-1]
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    name, local = site.owners[x.slot] if isinstance(site, Region) else (site.name, x.slot)
    part = spec.site(name)
    where = {"site": name} if isinstance(site, Region) and site.multi else {}
    for t in range(x.window[0], x.window[1] + 1):
        w = hist[x.slot].values[t]
        if w in seen:
            continue
        seen.add(w)
        out.append(where | {"slot": local, "point": t, "word": f"{w:08x}",
                    "text": symbolize(decode(w, part.slot_addr(local)).text, spec, part),
                    "states": [st.name for st in part.states if st.words[local] == w],
                    "cmodx": is_cmodx(w, spec.cmodx_linux)})
    return out


READ_HEAD: list[object] = ["#", "data word", "address", "loaded at", "value", "value of point", "write",
             "window", "torn", "valid"]


def read_rows(cx: dict[str, Any]) -> list[list[object]]:
    """The table of a counterexample's data loads (Markdown and HTML)."""
    return [[r["index"] + 1, r["word"], r["addr"], r["point"], r["value"], r["source"],
             r["write"], f"{r['window'][0]}..{r['window'][1]}", "yes" if r["torn"] else "",
             "yes" if r["valid"] else "NO"] for r in cx.get("reads", [])]


def read_text(r: dict[str, Any]) -> str:
    """One data load, said once for every report kind."""
    torn = ", torn" if r["torn"] else ""
    bad = "" if r["valid"] else ", NOT VALID"
    return (f"#{r['index'] + 1} loads data word {r['word']} = {r['value']} (the value of point "
            f"{r['source']}, {r['write']}{torn}; window {r['window'][0]}..{r['window'][1]}){bad}")


def _exec_doc(x: Exec, hist: SlotHistory, spec: Spec, site: Site) -> dict[str, Any]:
    where = {"site": x.site} if x.site else {}  # a run through several sites (code graph)
    return where | {
        "index": x.index, "slot": x.slot, "addr": _hex(x.addr), "point": x.point, "cse": x.cse,
        "fetched_at": x.fetched_at, "window": [x.window[0], x.window[1]],
        "source_write": source_write(hist, x.fetched_at), "word": f"{x.word:08x}",
        "text": symbolize(x.text, spec, site), "states": list(x.states), "torn": x.torn,
        "interrupted_before": x.interrupted_before,
    }


def slot_cell(x: dict[str, Any]) -> str:
    """An executed instruction's slot as report tables show it: ``1``, or ``plt 1`` when
    the run goes through several sites (code graph)."""
    return f"{x['site']} {x['slot']}" if x.get("site") else str(x["slot"])


def _events(cx: dict[str, Any]) -> list[dict[str, Any]]:
    """The observer's doings placed on patcher points, in the order a reader replays them."""
    ev: list[dict[str, Any]] = []
    execs = cx["execs"]
    for k, x in enumerate(execs):
        n = k + 1
        if k == 0:
            ev.append({"point": x["cse"], "kind": "cse",
                       "text": f"last CSE before entering the site (for #{n})"})
            ev.append({"point": x["point"], "kind": "enter",
                       "text": f"enters the site at slot {slot_cell(x)}"})
        else:
            prev = execs[k - 1]
            if x["interrupted_before"]:
                ev.append({"point": prev["point"], "kind": "interrupt",
                           "text": f"interrupted after #{k}"})
                ev.append({"point": x["cse"], "kind": "cse",
                           "text": f"returns from the interruption: CSE (for #{n})"})
            elif x["cse"] != prev["cse"]:
                ev.append({"point": x["cse"], "kind": "cse",
                           "text": f"CSE from its own isb (for #{n})"})
        states = ", ".join(x["states"]) or ("torn word" if x["torn"] else "no state")
        fetched = ""
        if x["fetched_at"] != x["point"]:
            # An older value, said on the row where it runs: the rows stay in time order.
            src = ("the initial value" if x["source_write"] is None
                   else f"written at point {x['source_write']}")
            fetched = f", fetched as at point {x['fetched_at']} ({src})"
        ev.append({"point": x["point"], "kind": "exec",
                   "text": f"#{n} executes slot {slot_cell(x)}: `{x['text']}` [{states}]"
                           f"{fetched}"})
        for r in cx.get("reads", []):
            if r["index"] == k:
                ev.append({"point": r["point"], "kind": "load", "text": read_text(r)})
    if execs:
        ev.append({"point": execs[-1]["point"], "kind": "exit", "text": f"-> {cx['exit']}"})
    order = {id(e): i for i, e in enumerate(ev)}
    return sorted(ev, key=lambda e: (e["point"], order[id(e)]))


def chain_text(tl: Timeline) -> str:
    """The maintenance that publishes a write under the spec's cache type, as instructions
    (the shortest sequence the architecture model accepts, fpatch/arch/publication.py)."""
    from fpatch.arch.model import CacheType
    from fpatch.arch.publication import publishing_sequence

    return "; ".join(publishing_sequence(CacheType(tl.cache.idc, tl.cache.dic, tl.cache.errata)))


def needs(c: Counterexample, tl: Timeline, hist: tuple[SlotHistory, ...],
          name: Callable[[int], str] = "slot {}".format) -> list[str]:
    """What the patcher would have to add to close the window this counterexample used.

    Per executed instruction whose fetch window ``[L, e]`` spans a modifying write
    ``w`` of its slot (``L < w <= e``): if ``w`` is never published, the cache
    type's maintenance chain after it is missing; if it is published at ``p`` but
    the observer's last CSE is older than ``p``, a CSE on every CPU after ``p`` (or
    a wait until no task is inside the site) is missing. A torn fetch needs one
    single-copy-atomic store instead of the copy.
    """
    out: list[str] = []

    def add(text: str) -> None:
        if text not in out:
            out.append(text)

    unpublished: dict[int, list[int]] = {}
    late: dict[int, tuple[list[tuple[int, int]], list[int]]] = {}  # pub -> (slot, w), cses
    for x in c.execs:
        if x.torn or (c.violation == "torn" and x is c.execs[-1]):
            add(f"{name(x.slot)} is written by a non-atomic copy: it needs one single-copy-atomic "
                f"store (width 4 or 8, aligned)")
        lo, e = x.window
        for w, pub in hist[x.slot].writes:
            if not lo < w <= e:
                continue
            if pub is None:
                unpublished.setdefault(x.slot, []).append(w)
            elif pub > x.cse:
                writes, cses = late.setdefault(pub, ([], []))
                writes.append((x.slot, w))
                cses.append(x.cse)
    for slot, ws in unpublished.items():
        add(f"{_writes(name(slot), ws)} never published: `{chain_text(tl)}` is missing after "
            f"{'them' if len(set(ws)) > 1 else 'it'} (cache {tl.cache})")
    for pub, (writes, cses) in sorted(late.items()):
        add(f"{_late_writes(writes, name)} published at point {pub}, but the observer's last CSE "
            f"was at point {max(cses)}: a CSE on every CPU after point {pub} (ipi_sync, or the "
            f"end of a stop_machine) is missing before the site may run again")
    if c.execs and c.violation == "inequivalent":
        first, last = c.execs[0].point, c.execs[-1].point
        during = sorted({w for h in hist for w, _ in h.writes if first < w <= last})
        if during:
            pts = ", ".join(map(str, during))
            add(f"the run spans the write(s) at point(s) {pts}: no task may be inside the site "
                f"while it changes: stop_machine in a non-preemptible kernel, or wait_tasks "
                f"before the next write")
    if c.violation == "bti":
        add("every word an indirect branch can land on must be a landing pad for it: keep "
            "`bti c` (or `paciasp`) at the entry of an indirectly entered site in every state "
            "and patch only the slots after it")
    if c.violation == "cmodx":
        add("or: no CPU may run the site while it changes (stop_machine in a non-preemptible "
            "kernel), or both words must be in the CMODX set (b, bl, nop, ...)")
    return out


def _late_writes(writes: list[tuple[int, int]],
                 name: Callable[[int], str] = "slot {}".format) -> str:
    """`the write of slot 1 at point 8 is`, or for several: `the writes of slots 1, 2, 3
    (at points 8, 9, 10) are`."""
    ws = sorted(set(writes))
    if len(ws) == 1:
        return f"the write of {name(ws[0][0])} at point {ws[0][1]} is"
    slots = sorted({s for s, _ in ws})
    pts = sorted({w for _, w in ws})
    what = (name(slots[0]) if len(slots) == 1
            else "slots " + ", ".join(map(str, slots)) if name(0) == "slot 0"
            else ", ".join(map(name, slots)))
    at = f"point {pts[0]}" if len(pts) == 1 else "points " + ", ".join(map(str, pts))
    return f"the writes of {what} (at {at}) are"


def _writes(slot: str, ws: list[int]) -> str:
    pts = sorted(set(ws))
    if len(pts) == 1:
        return f"the write of {slot} at point {pts[0]} is"
    return f"the writes of {slot} at points {', '.join(map(str, pts))} are"


def _merge(cxs: tuple[Counterexample, ...]) -> list[tuple[Counterexample, list[str]]]:
    """Counterexamples that tell the same story for several observer kinds, once each."""
    groups: dict[tuple[Any, ...], tuple[Counterexample, list[str]]] = {}
    for c in cxs:
        key = (c.site, c.violation, c.execs, c.exit, c.diffs, c.initial, c.detail,
               c.nearest_valid, c.loc, c.replayed, c.reads)
        if key in groups:
            groups[key][1].append(c.observer)
        else:
            groups[key] = (c, [c.observer])
    return list(groups.values())


def _cx_doc(k: int, c: Counterexample, spec: Spec, tl: Timeline,
            observers: list[str] | None = None) -> dict[str, Any]:
    site = spec.site(c.site)
    # The run's code graph region (fpatch/region.py): the engines' slot numbers index its
    # histories; each exec names its own site and slot (Exec.site).
    reg = region(spec, tl.marks, c.site)
    hist = tl.history(reg)
    named = c
    c = dataclasses.replace(c, execs=tuple(dataclasses.replace(x, slot=globalize(reg, x))
                                           for x in c.execs))
    execs = [_exec_doc(x, hist[g.slot], spec, site) for x, g in zip(named.execs, c.execs,
                                                                     strict=True)]
    lo = min((x.window[0] for x in c.execs), default=0)
    hi = max((x.point for x in c.execs), default=0)
    loc = c.loc or site.loc
    doc: dict[str, Any] = {
        "id": f"cx{k}", "site": c.site, "observer": c.observer,
        "observers": list(observers or [c.observer]), "violation": c.violation,
        "summary": c.summary, "detail": c.detail, "loc": _loc(loc),
        "exit": c.exit, "nearest_valid": c.nearest_valid, "replayed": c.replayed,
        "initial": {r: _hex(v) for r, v in c.initial}, "span": [lo, hi], "execs": execs,
        "diffs": [{"what": d.what, "category": diff_category(d.what), "run": d.run,
                   "valid": d.valid} for d in c.diffs],
        "needs": needs(c, tl, hist, reg.slot_name),
        "reads": [{"index": r.index, "word": r.word, "addr": _hex(r.addr), "point": r.point,
                   "value": _hex(r.value), "source": r.source,
                   "window": [r.window[0], r.window[1]], "write": r.write, "torn": r.torn,
                   "valid": r.valid} for r in c.reads],
        "cmodx_words": _cmodx_words(c, spec, reg, hist),
    }
    doc["events"] = _events(doc)
    return doc


def build_report(spec: Spec, tl: Timeline, result: Result) -> dict[str, Any]:
    """The whole report of one spec (report.json), deterministic."""
    cxs = [_cx_doc(k, c, spec, tl, kinds)
           for k, (c, kinds) in enumerate(_merge(result.counterexamples), 1)]
    forced = set(tl.forced_cse_points())
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "spec": {"path": result.path, "name": spec.name, "description": spec.description,
                 "line": spec.loc.line},
        "engine": result.engine,
        "verdict": result.verdict,
        "expect": result.expect or "safe",
        "meets_expectation": result.meets_expectation,
        "environment": {
            "cache": {"idc": spec.idc, "dic": spec.dic, "line": spec.line_size},
            "preemptible": spec.preemptible, "nmi": spec.nmi,
            "cmodx": "linux" if spec.cmodx_linux else "manual",
            "bti": spec.bti, "pac": spec.pac,
            "errata": list(spec.errata),
            "complete": [{"name": name, "point": point} for name, point in tl.complete_points()],
            "observers": list(spec.observers), "max_insns": spec.max_insns,
            "helpers": [{"name": h.name, "address": _hex(h.address), "inputs": list(h.inputs),
                         "returns_to": h.returns_to,
                         "restores": {d: s for d, s in h.restores},
                         "clobbers": list(h.clobbers)} for h in spec.helpers],
        },
        "steps": [{"point": s.index, "kind": s.kind, "label": s.label, "stop_machine": s.block,
                   "line": s.loc.line, "col": s.loc.col, "forced_cse": s.index in forced}
                  for s in tl.steps],
        "stop_machine_blocks": [{"first": b.first, "last": b.last, "line": b.loc.line}
                                for b in tl.blocks],
        "marks": [{"name": name, "point": point, "line": loc.line}
                  for name, point, loc in tl.marks],
        "forced_cse_points": sorted(forced),
        "sites": [_site_doc(spec, tl, site, cxs) for site in spec.sites],
        "observers": [{"site": o.site, "observer": o.observer, "status": o.status,
                       "reasons": list(o.reasons)} for o in result.observers],
        "counterexamples": cxs,
    }


def error_report(path: str, name: str, diagnostics: list[Diagnostic]) -> dict[str, Any]:
    """The report of a spec that did not validate (verdict ``error``)."""
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "spec": {"path": path, "name": name, "description": "", "line": 1},
        "verdict": "error",
        "errors": [{"file": d.loc.file, "line": d.loc.line, "col": d.loc.col,
                    "message": d.message} for d in sorted(diagnostics)],
    }


MAX_BATCH_REPORTS = 50  # sites of a batch whose counterexamples are shown in full


def build_batch_report(spec: Spec, result: Result) -> dict[str, Any]:
    """The report of a batch checked by shape (fpatch/batch.py): each counterexample with
    its own site's view (only the steps that affect that site, point numbers as in the
    check), for the first ``MAX_BATCH_REPORTS`` sites that have any; every site is named
    in ``observers``. ``views`` maps a site to its own report (not written to files)."""
    from fpatch.batch import site_views
    from fpatch.model.timeline import build

    bad = list(dict.fromkeys(c.site for c in result.counterexamples))[:MAX_BATCH_REPORTS]
    views: dict[str, dict[str, Any]] = {}
    for name, vspec in site_views(spec, bad).items():
        sub = Result(result.path, result.name, result.expect,
                     tuple(o for o in result.observers if o.site == name), result.seconds,
                     result.engine)
        vspec = dataclasses.replace(vspec, name=f"{spec.name}.{name}")
        views[name] = build_report(vspec, build(vspec), sub)
    doc = build_report(dataclasses.replace(spec, sites=(), steps=()),
                       build(dataclasses.replace(spec, sites=(), steps=())), result.__class__(
                           result.path, result.name, result.expect, (), result.seconds,
                           result.engine))
    doc["verdict"] = result.verdict
    doc["meets_expectation"] = result.meets_expectation
    doc["observers"] = [{"site": o.site, "observer": o.observer, "status": o.status,
                         "reasons": list(o.reasons)} for o in result.observers]
    doc["counterexamples"] = [cx for v in views.values() for cx in v["counterexamples"]]
    doc["views"] = views
    return doc


def entry_phrase(site: dict[str, Any]) -> str:
    """How observers enter a site, for every report's site heading."""
    enter = site.get("enter", "direct")
    if enter == "none":
        return "entered only through branches from other sites"
    how = {"direct": "", "indirect": ", entered indirectly",
           "both": ", entered directly and indirectly"}.get(enter, "")
    return f"entry slot {site['entry']}{how}"
