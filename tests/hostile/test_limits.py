"""Resource limits (issue 12): derived sizes are checked before the work, and a search
that hits a bound answers unknown with the reason, never safe."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fpatch.encoding import check_spec, smt
from fpatch.errors import SpecError
from fpatch.spec import parse, parse_file, parse_text
from fpatch.spec.parse import MAX_POINTS
from fpatch.verdict import UNKNOWN

ROOT = Path(__file__).parents[2]


def chain(n: int, extra_steps: str = "") -> str:
    """n slots of `b .+4` becoming `nop` one by one: 2^n fetched-word sequences, all safe."""
    a = "\n".join("        - b .+4" for _ in range(n))
    b = "\n".join("        - nop" for _ in range(n))
    steps = "\n".join(f"  - write: {{slot: {i}, as: B}}" for i in range(n))
    return (f"fpatch: 1\nenv: {{nmi: false, preemptible: false}}\nsites:\n  f:\n"
            f"    base: 0x1000\n    slots: {n}\n    states:\n      A:\n{a}\n      B:\n{b}\n"
            f"    valid: [A, B]\nsteps:\n{steps}\n{extra_steps}  - sync_icache: f\n"
            f"  - ipi_sync\nmax_insns: {n + 2}\n")


def test_point_count_is_checked_before_the_timeline_is_built(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 64 slots written byte by byte, 100 times: 25,600 points (the spec had 4
    # million) against a bound lowered to 20,000 (the real one is sized for batches)
    monkeypatch.setattr(parse, "MAX_POINTS", 20_000)
    n = 64
    slots = ", ".join(str(i) for i in range(n))
    writes = "".join(f"  - write: {{slots: [{slots}], as: {'B' if k % 2 else 'A'}, "
                     f"width: 1}}\n" for k in range(100))
    text = chain(n, writes).replace("\n  - write: {slot: 0, as: B}", "", 1)
    t0 = time.perf_counter()
    with pytest.raises(SpecError) as info:
        parse_text(text, "big.yaml")
    assert time.perf_counter() - t0 < 10
    msgs = [d.message for d in info.value.diagnostics]
    assert any("patcher points" in m and "20000" in m for m in msgs), msgs
    assert MAX_POINTS >= 20_000


def test_search_bound_gives_unknown_with_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = parse_text(chain(6), "chain.yaml")
    assert check_spec(spec).verdict == "safe"  # within the bound: proved
    monkeypatch.setattr(smt, "MAX_SEARCH_STEPS", 20)
    r = check_spec(spec)
    assert r.verdict == UNKNOWN
    assert any("more than 20 fetched instructions" in why for o in r.observers
               for why in o.reasons)


def test_run_budget_stops_a_long_search() -> None:
    spec = parse_text(chain(16), "chain.yaml")
    t0 = time.perf_counter()
    r = check_spec(spec, max_time=1.0)
    assert time.perf_counter() - t0 < 20
    assert r.verdict == UNKNOWN
    assert any(smt.BUDGET_SPENT in why for o in r.observers for why in o.reasons)


def test_bundled_specs_are_within_the_limits() -> None:
    for p in sorted((ROOT / "specs").glob("*.yaml")):
        parse_file(p)  # no limit error


def test_enumerator_honours_the_run_budget() -> None:
    from fpatch.enumerate import check as enum_check

    spec = parse_text(chain(12), "chain.yaml")
    t0 = time.perf_counter()
    r = enum_check(spec, max_time=0.5)
    assert time.perf_counter() - t0 < 20
    assert r.verdict == UNKNOWN
    assert any(smt.BUDGET_SPENT in why for o in r.observers for why in o.reasons)


def test_linear_cmodx_goal_finds_what_the_pairwise_goal_finds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Slots with many words use a CMODX goal linear in their number; it must give the
    same answers as the pairwise one (forced here on every bundled spec)."""
    specs = [parse_file(p) for p in sorted((ROOT / "specs").glob("*.yaml"))]
    pairwise = [_answer(s) for s in specs]
    monkeypatch.setattr(smt, "MAX_CMODX_PAIRS", 0)
    linear = [_answer(s) for s in specs]
    assert linear == pairwise
    assert any(("cmodx" in {v for _, _, v in viol}) for _, viol in linear)


def test_a_slot_with_hundreds_of_words_stays_within_the_budget() -> None:
    n_states = 300
    states = "\n".join(f"      S{k}:\n" + "\n".join(f'        - "mov x{j}, #{k}"'
                                                   for j in range(2)) for k in range(n_states))
    steps = "\n".join(f"  - write: {{slots: [0, 1], as: S{k}}}" for k in range(1, n_states))
    spec = parse_text(f"fpatch: 1\nsites:\n  f:\n    base: 0x1000\n    slots: 2\n    states:\n"
                      f"{states}\n    initial: S0\n    valid: [S0]\nsteps:\n{steps}\n"
                      f"  - sync_icache: f\n", "many.yaml")
    t0 = time.perf_counter()
    r = check_spec(spec, max_time=5.0)
    assert time.perf_counter() - t0 < 60
    assert r.verdict != "safe"


def _answer(spec: object) -> tuple[str, frozenset[tuple[str, str, str]]]:
    r = check_spec(spec)  # type: ignore[arg-type]
    return r.verdict, r.violations()
