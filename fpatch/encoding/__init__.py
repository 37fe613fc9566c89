"""Encoding layer: the model as Z3 constraints (the only place z3 is imported)."""

from __future__ import annotations

import dataclasses
import time

from fpatch.encoding.smt import SiteEncoder, fresh_context
from fpatch.model.arch import observer_kinds
from fpatch.model.replay import replays
from fpatch.model.timeline import build
from fpatch.region import localize, regions
from fpatch.spec.types import Spec
from fpatch.verdict import BUDGET_SPENT, UNKNOWN, ObserverResult, Result

DEFAULT_TIMEOUT = 60.0


def check_spec(spec: Spec, timeout: float | None = None, max_time: float | None = None
               ) -> Result:
    """Check every site of ``spec`` against every observer kind it allows.

    ``timeout`` bounds each solver query, ``max_time`` the whole check (seconds):
    past it every remaining query is ``unknown`` with that reason.
    """
    t0 = time.perf_counter()
    deadline = time.monotonic() + max_time if max_time is not None else None
    fresh_context()
    tl = build(spec)
    per_query = timeout or spec.timeout or DEFAULT_TIMEOUT
    results = []
    kinds = observer_kinds(spec.observers)
    def spent() -> bool:
        return deadline is not None and time.monotonic() >= deadline

    for site in regions(spec, tl.marks):
        if spent():  # not even the site's encoding: every observer is unknown
            results += [ObserverResult(site.name, kind, UNKNOWN, reasons=(BUDGET_SPENT,))
                        for kind in kinds]
            continue
        enc = SiteEncoder(spec, tl, site, int(per_query * 1000), deadline)
        enc.unknowns[:0] = site.unmodelled
        for n, kind in enumerate(kinds):
            if spent():
                results.append(ObserverResult(site.name, kind, UNKNOWN,
                                              reasons=tuple(dict.fromkeys(
                                                  enc.unknowns + [BUDGET_SPENT]))))
                continue
            res = enc.check(kind, with_stale=n == 0)
            # The solver-free replay confirms a counterexample; past the budget it is
            # left unconfirmed (replayed=None), which the reports say.
            local = (localize(site, c) for c in res.counterexamples)
            checked = tuple(dataclasses.replace(c, replayed=None if spent()
                                                else replays(spec, tl, c))
                            for c in local)
            results.append(dataclasses.replace(res, counterexamples=checked))
    return Result(spec.path, spec.name, spec.expect, tuple(results),
                  round(time.perf_counter() - t0, 4), engine="smt")
