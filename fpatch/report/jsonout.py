"""Machine-readable output, versioned (docs/json.md describes the schema)."""

from __future__ import annotations

import dataclasses
from typing import Any

from fpatch.errors import Diagnostic, Loc
from fpatch.model.graph import transition_graph
from fpatch.model.timeline import Timeline
from fpatch.spec.types import Spec
from fpatch.verdict import Result

SCHEMA_VERSION = 1


def _plain(obj: Any) -> Any:
    if isinstance(obj, Loc):
        return {"file": obj.file, "line": obj.line, "col": obj.col}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, bytes):
        return obj.hex()
    return obj


def result_json(result: Result) -> dict[str, Any]:
    cxs = []
    for o in result.observers:
        for c in o.counterexamples:
            d = _plain(c)
            for x in d["execs"]:
                x["word"] = f"{x['word']:08x}"
            d["initial"] = {r: f"0x{v:x}" for r, v in c.initial}
            cxs.append(d)
    return {
        "schema": SCHEMA_VERSION,
        "spec": result.path,
        "name": result.name,
        "engine": result.engine,
        "verdict": result.verdict,
        "expect": result.expect or "safe",
        "meets_expectation": result.meets_expectation,
        "seconds": result.seconds,
        "observers": [
            {"site": o.site, "observer": o.observer, "status": o.status,
             "reasons": list(o.reasons), "queries": o.queries,
             "solver_seconds": o.solver_seconds}
            for o in result.observers
        ],
        "counterexamples": cxs,
    }


def error_json(path: str, diagnostics: list[Diagnostic]) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "spec": path,
        "verdict": "error",
        "errors": [{"file": d.loc.file, "line": d.loc.line, "col": d.loc.col,
                    "message": d.message} for d in diagnostics],
    }


def show_json(spec: Spec, tl: Timeline) -> dict[str, Any]:
    sites = []
    for site in spec.sites:
        g = transition_graph(tl, site)
        sites.append({
            "name": site.name, "base": f"0x{site.base:x}", "slots": site.nslots,
            "entry": site.entry, "enter": site.enter, "initial": site.initial, "valid": list(site.valid),
            "states": [
                {"name": st.name, "words": [f"{w:08x}" for w in st.words],
                 "text": list(st.texts), "labels": list(st.labels)}
                for st in site.states
            ],
            "differing_slots": [
                i for i in range(site.nslots) if len({st.words[i] for st in site.states}) > 1
            ],
            "transitions": [
                {"from": u, "to": v, "point": d["point"], "step": d["label"]}
                for u, v, d in sorted(g.edges(data=True), key=lambda e: e[2]["point"])
            ],
        })
    return {
        "schema": SCHEMA_VERSION,
        "spec": spec.path,
        "name": spec.name,
        "cache": {"idc": spec.idc, "dic": spec.dic, "line": spec.line_size},
        "env": {"preemptible": spec.preemptible, "nmi": spec.nmi,
                "cmodx": "linux" if spec.cmodx_linux else "manual",
                "errata": list(spec.errata), "bti": spec.bti, "pac": spec.pac},
        "marks": [{"name": name, "point": point, "line": loc.line}
                  for name, point, loc in tl.marks],
        "complete": [{"name": name, "point": point} for name, point in tl.complete_points()],
        "observers": list(spec.observers),
        "max_insns": spec.max_insns,
        "expect": spec.expect,
        "helpers": [_plain(h) for h in spec.helpers],
        "sites": sites,
        "steps": [
            {"point": s.index, "kind": s.kind, "label": s.label, "stop_machine": s.block,
             "line": s.loc.line, "col": s.loc.col}
            for s in tl.steps
        ],
    }
