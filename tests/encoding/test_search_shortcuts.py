"""The SMT search's shortcuts (issue 10 item 3) change how many queries are asked,
never an answer (verdict, violations, reasons): witnesses, relaxations, Python
evaluation of a level's constraints, deferred register-only steps, pruning a subtree
that can add nothing. Speed is measured in bench/bench.py, not here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from fpatch.encoding import check_spec, smt
from fpatch.enumerate import check as enum_check
from fpatch.model.timeline import build
from fpatch.spec import parse_file, parse_text
from fpatch.spec.types import Spec
from fpatch.verdict import Result

SPECS = sorted((Path(__file__).parents[2] / "specs").glob("*.yaml"))


def rewrite(k: int, preemptible: bool, nmi: bool = True, max_insns: int | None = None
            ) -> Spec:
    """k slots rewritten at once inside stop_machine (bench/bench.py's rewrite_spec,
    which has no NMI)."""
    lines = ["fpatch: 1", f"env: {{preemptible: {str(preemptible).lower()}, "
             f"nmi: {str(nmi).lower()}}}",
             "sites:", "  f:", "    base: 0x10000", f"    slots: {k}", "    states:",
             "      OFF:"]
    lines += ["        - nop"] * k + ["      ON:"] + ['        - "add x0, x0, #1"'] * k
    lines += ["    initial: OFF", "steps:", "  - stop_machine:",
              f"      - write: {{slots: {list(range(k))}, as: ON}}", "      - sync_icache: f"]
    lines += [f"max_insns: {max_insns}"] if max_insns else []
    return parse_text("\n".join(lines) + "\n", "rewrite.yaml")


def answers(r: Result) -> list[tuple[str, str, str, tuple[str, ...], frozenset[str]]]:
    return [(o.site, o.observer, o.status, tuple(c.violation for c in o.counterexamples),
             frozenset(o.reasons)) for o in r.observers]


def without_shortcuts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every question to the incremental solver over the whole prefix, every state
    computed at once: the search as it was before the shortcuts."""
    monkeypatch.setattr(smt._ObserverSearch, "_extend", lambda *a, **k: None)
    monkeypatch.setattr(smt._ObserverSearch, "_refuted", lambda *a, **k: False)
    monkeypatch.setattr(smt.SiteEncoder, "deferrable", lambda *a, **k: False)
    monkeypatch.setattr(smt._ObserverSearch, "_nothing_left", lambda *a, **k: False)


@pytest.mark.parametrize("spec", [rewrite(k, pre) for k in (3, 7) for pre in (False, True)]
                         + [rewrite(7, True, nmi=False), rewrite(7, True, max_insns=6)]
                         + [parse_file(p) for p in SPECS[::3]],
                         ids=lambda s: Path(s.path).name + (f"-{s.sites[0].nslots}"
                                                           if s.path == "rewrite.yaml" else ""))
def test_shortcuts_give_the_answers_of_the_whole_prefix(
        spec: Spec, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = check_spec(spec)
    assert all(c.replayed for c in fast.counterexamples)
    without_shortcuts(monkeypatch)
    slow = check_spec(spec)
    assert answers(fast) == answers(slow)


@pytest.mark.parametrize("preemptible", [False, True])
def test_the_rewrite_benchmark_agrees_with_the_enumerator(preemptible: bool) -> None:
    spec = rewrite(12, preemptible, nmi=False)
    smt_r, enum_r = check_spec(spec), enum_check(spec)
    assert smt_r.violations() == enum_r.violations()
    # Preempted before the block, resumed after it: a mix of old and new words.
    assert smt_r.verdict == ("unsafe" if preemptible else "safe")
    if preemptible:
        (cx,) = [c for c in smt_r.counterexamples if c.observer == "thread"]
        assert cx.violation == "inequivalent" and cx.replayed
        assert {x.text for x in cx.execs} == {"nop", "add x0, x0, #0x1"}


def test_python_evaluation_of_a_level_agrees_with_z3() -> None:
    """compile_int reads the SMT-LIB text of a level (let bindings, negative numbers,
    if-then-else); on many assignments it says what z3 says."""
    spec = rewrite(5, True)
    tl = build(spec)
    enc = smt.SiteEncoder(spec, tl, spec.sites[0], 10_000)
    srch = smt._ObserverSearch(enc, "thread")
    terms: list[z3.BoolRef] = []
    for j in (1, 2, 3):
        for cand in enc.cands:
            for prev in enc.by_slot[max(cand.slot - 1, 0)]:
                terms.append(srch._level(j, cand, prev))
    x, y = z3.Ints("e1 c2")
    terms.append(z3.And(z3.If(y >= 2, x - 1, -5) == -4, z3.Or(x == 3, y - x < -2),
                        z3.Implies(x > 0, z3.Distinct(x, y)), z3.Not(x + y == 0)))
    fns = [smt.compile_int(t) for t in terms]
    assert all(f is not None for f in fns)

    @settings(max_examples=60, deadline=None)
    @given(st.dictionaries(st.sampled_from(["e0", "c0", "f0", "w0", "e1", "c1", "f1", "w1",
                                            "wmax1", "e2", "c2", "f2", "w2", "wmax2", "e3",
                                            "c3", "f3", "w3", "wmax3"]),
                           st.integers(-2, enc.n + 2), min_size=19))
    def agree(env: dict[str, int]) -> None:
        pairs = [(z3.Int(name), z3.IntVal(v)) for name, v in env.items()]
        for t, f in zip(terms, fns, strict=True):
            assert f is not None
            assert bool(f(env)) == z3.is_true(z3.simplify(z3.substitute(t, *pairs)))

    agree()


def test_a_term_outside_integer_arithmetic_is_not_evaluated() -> None:
    b = z3.BitVec("b", 8)
    assert smt.compile_int(z3.ULT(b, 3)) is None
    assert smt.compile_int(z3.Int("e1") * z3.Int("c1") > 2) is None


def test_deferred_register_steps_compute_the_same_state() -> None:
    spec = parse_text("fpatch: 1\nsites:\n  f:\n    base: 0x10000\n    slots: 3\n"
                      "    states:\n      A: [\"add x0, x0, #1\", \"mov x9, x30\", nop]\n"
                      "    initial: A\nsteps: []\n", "d.yaml")
    tl = build(spec)
    enc = smt.SiteEncoder(spec, tl, spec.sites[0], 10_000)
    srch = smt._ObserverSearch(enc, "thread")
    start = smt.SymState(dict(enc.regs0), enc.mem0)
    direct: Any = start
    lazy: smt.SymState | smt.Pending = start
    for slot in range(3):
        (cand,) = enc.by_slot[slot]
        assert enc.deferrable(cand)
        [(direct, _, _)] = enc.step(cand, direct)
        lazy = smt.Pending(lazy, cand, lazy.cond, lazy.reads)
    forced = srch.force(lazy)
    assert all(forced.regs[r].eq(direct.regs[r]) for r in direct.regs)
    assert forced is srch.force(lazy)  # computed once


def test_pruning_happens_only_when_nothing_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    """The preemptible rewrite is pruned once its inequivalence is found (the tree
    shrinks from O(k^2) nodes to O(k)); a bound it could reach, or a loop, stops it."""
    pruned: list[int] = []
    real = smt._ObserverSearch._nothing_left

    def spy(self: Any, i: int, slot: int, with_stale: bool) -> bool:
        out = real(self, i, slot, with_stale)
        if out:
            pruned.append(i)
        return out

    monkeypatch.setattr(smt._ObserverSearch, "_nothing_left", spy)
    assert check_spec(rewrite(10, True, nmi=False)).verdict == "unsafe"
    assert pruned
    pruned.clear()
    r = check_spec(rewrite(10, True, nmi=False, max_insns=9))
    assert not pruned and r.verdict == "unknown"
    assert any("max_insns=9" in why for o in r.observers for why in o.reasons)
