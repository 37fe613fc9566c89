"""Fault injection: every kind of solver query, made to answer ``unknown`` in turn,
turns into an ``unknown`` answer with its reason, never into ``safe``.

Fix (issue 12): an unknown on a torn/CMODX/stale goal was dropped, and 5 of 11
unsafe bundled specs came out safe with such answers injected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fpatch.encoding import check_spec, smt
from fpatch.spec import parse_file
from fpatch.spec.types import Spec
from fpatch.verdict import SAFE, UNKNOWN, UNSAFE, Result

ROOT = Path(__file__).parents[2]
SPECS = sorted((ROOT / "specs").glob("*.yaml")) + [ROOT / "tests" / "data" / n for n in (
    "loop-in-state.yaml", "cond-branch.yaml")]
# Each kind of query the encoding asks (smt.solve's ``query``), and the violation it
# would prove, if any. "minimize" only makes a counterexample simpler.
QUERIES = {"timing": None, "bound": None, "path": None, "torn": "torn", "cmodx": "cmodx",
           "undefined": "undefined", "bti": "bti", "stale": "stale", "inequivalence": "inequivalent",
           "inequivalent": "inequivalent"}
REAL_SOLVE = smt.solve
INJECTED = "injected fault"


def _run(spec: Spec, monkeypatch: pytest.MonkeyPatch, broken: str | None
         ) -> tuple[Result, set[str]]:
    asked: set[str] = set()

    def solve(solver: Any, query: str, *args: Any) -> tuple[str, str]:
        asked.add(query)
        if query == broken:
            return "unknown", INJECTED
        return REAL_SOLVE(solver, query, *args)

    monkeypatch.setattr(smt, "solve", solve)
    return check_spec(spec), asked


@pytest.fixture(scope="module")
def specs() -> dict[str, Spec]:
    return {p.name: parse_file(p) for p in SPECS}


@pytest.fixture(scope="module")
def baseline(specs: dict[str, Spec]) -> dict[str, tuple[Result, set[str]]]:
    mp = pytest.MonkeyPatch()
    try:
        return {name: _run(spec, mp, None) for name, spec in specs.items()}
    finally:
        mp.undo()


def test_every_query_kind_is_asked_by_some_bundled_spec(
        baseline: dict[str, tuple[Result, set[str]]]) -> None:
    """Otherwise the injection below would test nothing for that kind."""
    asked = set().union(*(a for _, a in baseline.values()))
    assert set(QUERIES) <= asked, set(QUERIES) - asked
    assert asked <= set(QUERIES) | {"minimize"}, asked


@pytest.mark.parametrize("broken", sorted(QUERIES))
def test_an_unknown_answer_is_never_safe(broken: str, specs: dict[str, Spec],
                                         baseline: dict[str, tuple[Result, set[str]]],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    hit = 0
    for name, spec in specs.items():
        before, asked = baseline[name]
        if broken not in asked:
            continue
        hit += 1
        after, _ = _run(spec, monkeypatch, broken)
        assert after.verdict != SAFE, (name, broken)
        reasons = [r for o in after.observers for r in o.reasons]
        if after.verdict == UNKNOWN:
            assert any(INJECTED in r and r.startswith(broken) for r in reasons), (name, reasons)
        else:
            # Unsafe stays unsafe only through a counterexample the solver proved on
            # another query and the concrete replay confirmed.
            assert after.verdict == UNSAFE and before.verdict == UNSAFE, name
            assert after.counterexamples and all(c.replayed for c in after.counterexamples)
            assert QUERIES[broken] not in {c.violation for c in after.counterexamples}, \
                (name, broken)
        if before.verdict == SAFE:
            assert after.verdict == UNKNOWN, (name, broken)
        # Every observer that found this query's violation now says why it cannot,
        # even when another violation still makes it unsafe.
        for b, a in zip(before.observers, after.observers, strict=True):
            if QUERIES[broken] in {c.violation for c in b.counterexamples}:
                assert any(INJECTED in r and r.startswith(broken) for r in a.reasons), \
                    (name, b.site, b.observer, a.reasons)
    assert hit, f"no spec asks a {broken} query"


def test_unsafe_only_through_one_violation_becomes_unknown(
        specs: dict[str, Spec], monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: a spec whose only violation is stale, with stale queries
    unknown, is unknown (it came out safe)."""
    spec = specs["ftrace-forgot-ic-ivau.yaml"]
    after, _ = _run(spec, monkeypatch, "stale")
    assert after.verdict == UNKNOWN
    assert any(r == f"stale: solver gave up ({INJECTED})"
               for o in after.observers for r in o.reasons)


def test_the_run_budget_ends_in_unknown_with_its_reason(specs: dict[str, Spec]) -> None:
    r = check_spec(specs["seed-q1b-frame-bl.yaml"], max_time=0.0)
    assert r.verdict == UNKNOWN
    assert any(smt.BUDGET_SPENT in why for o in r.observers for why in o.reasons)


