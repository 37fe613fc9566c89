"""BTI landing pads and PAC faults (issue 9.4, MODEL.md 6.6) in both engines.

Each case is checked by the Z3 engine and the enumerator, which must agree
(``assert_agree`` also requires every SMT counterexample to replay)."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from fpatch.encoding import check_spec
from fpatch.enumerate import check as enum_check
from fpatch.model.replay import replays
from fpatch.model.timeline import build
from fpatch.spec import parse_text
from fpatch.verdict import Result

from .test_differential import assert_agree


def results(env: str, enter: str, states: str, steps: str = "[{dsb: ish}]",
            valid: str = "") -> tuple[Result, Result]:
    valid_states = valid or ("A, B" if "B:" in states else "A")
    text = textwrap.dedent(f"""\
        fpatch: 1
        name: bti
        cache: {{idc: true, dic: true}}
        env: {{preemptible: false, nmi: false, {env}}}
        helpers: {{h: {{address: 0x9000}}}}
        sites:
          f:
            base: 0x1000
            slots: 3
            enter: {enter}
            states: {states}
            valid: [{valid_states}]
        steps: {steps}
        """)
    spec = parse_text(text, "<bti>")
    assert_agree(spec)
    return check_spec(spec, timeout=30), enum_check(spec)


def kinds(r: Result) -> set[str]:
    return {c.violation for c in r.counterexamples}


@pytest.mark.parametrize("first,enter,bti,bad", [
    ("bti c", "indirect", True, False),
    ("paciasp", "indirect", True, False),
    ("bti j", "indirect", True, True),   # a call needs c/jc
    ("nop", "indirect", True, True),
    ("nop", "both", True, True),
    ("nop", "direct", True, False),      # b/bl: no landing pad needed
    ("nop", "indirect", False, False),   # pages not guarded
])
def test_entry_landing_pad(first: str, enter: str, bti: bool, bad: bool) -> None:
    for r in results(f"bti: {str(bti).lower()}", enter, f'{{A: ["{first}", nop, nop]}}'):
        assert ("bti" in kinds(r)) == bad, r.counterexamples


@pytest.mark.parametrize("reg,pad,bad", [
    ("x16", "bti c", False),     # br x16: BTYPE 01, c is compatible
    ("x9", "bti c", True),       # br x9: BTYPE 11 needs j/jc
    ("x9", "bti j", False),
    ("x9", "paciasp", True),     # SCTLR_EL1.BT = 1 (Linux)
    ("x17", "paciasp", False),
])
def test_br_landing(reg: str, pad: str, bad: bool) -> None:
    states = f'{{A: ["adr {reg}, .+8", "br {reg}", "{pad}"]}}'
    for r in results("bti: true", "direct", states):
        assert ("bti" in kinds(r)) == bad, r.counterexamples


def test_blr_landing_on_paciasp() -> None:
    for r in results("bti: true", "direct", '{A: ["adr x3, .+8", "blr x3", "paciasp"]}'):
        assert "bti" not in kinds(r)
    for r in results("bti: true", "direct", '{A: ["adr x3, .+8", "blr x3", "bti j"]}'):
        assert "bti" in kinds(r)


def test_window_with_an_old_non_pad_word_is_a_violation() -> None:
    """The entry becomes `bti c` (from `nop`) only at point 1 and is published at the
    dsb: an observer may still fetch the old `nop` from its window."""
    for r in results("bti: true, cmodx: linux", "indirect",
                     '{A: [nop, nop, nop], B: ["bti c", nop, nop]}',
                     "[{write: {slot: 0, as: B}}, {dsb: ish}]"):
        assert kinds(r) == {"bti"}
        cx = r.counterexamples[0]
        assert cx.execs[-1].text == "nop" and cx.exit == "(Branch Target exception)"


def test_overwriting_the_pad_is_bti_and_replays() -> None:
    spec = parse_text(open("specs/bti-landing-pad-overwritten.yaml").read(), "o.yaml")
    smt = check_spec(spec, timeout=30)
    cx = next(c for c in smt.counterexamples if c.violation == "bti")
    assert cx.replayed
    tl = build(spec)
    honest = cx.execs[-1]
    forged = dataclasses.replace(honest, word=0xD503245F)  # `bti c`: a pad after all
    assert not replays(spec, tl, dataclasses.replace(cx, execs=cx.execs[:-1] + (forged,)))
    kept = parse_text(open("specs/bti-landing-pad-kept.yaml").read(), "k.yaml")
    assert check_spec(kept, timeout=30).verdict == "safe"
    assert enum_check(kept).verdict == "safe"


# ----------------------------------------------------------------------- PAC


def test_pac_fault_ends_the_run_and_is_compared() -> None:
    """aut with the same sp as its pac passes; after `sub sp` it faults, which the valid
    state (no sub) does not: inequivalent with the fault as the exit."""
    ok = '{A: [paciasp, nop, autiasp], B: [paciasp, "mov x9, x30", autiasp]}'
    for r in results("pac: true", "direct", ok):
        assert r.verdict == "safe"
    bad = '{A: [paciasp, nop, autiasp], B: [paciasp, "sub sp, sp, #16", autiasp]}'
    for r in results("pac: true", "direct", bad, "[{write: {slot: 1, as: B}}, {dsb: ish}]",
                     "A"):
        cx = next(c for c in r.counterexamples if c.violation == "inequivalent")
        assert cx.exit == "pac fault at 0x1008", cx.exit


def test_pac_off_is_a_hint() -> None:
    bad = '{A: [paciasp, nop, autiasp], B: [paciasp, "sub sp, sp, #16", autiasp]}'
    for r in results("pac: false", "direct", bad, "[{write: {slot: 1, as: B}}, {dsb: ish}]",
                     "A"):
        cx = next(c for c in r.counterexamples if c.violation == "inequivalent")
        assert "pac fault" not in cx.exit


def test_aut_without_pac_faults_in_every_state_alike() -> None:
    """No pac before the aut: every run and every valid state faults at slot 0 with the same
    effect, so the patch after it is not inequivalent."""
    states = '{A: [autiasp, nop, nop], B: [autiasp, "mov x9, x30", nop]}'
    for r in results("pac: true", "direct", states, "[{write: {slot: 1, as: B}}, {dsb: ish}]"):
        assert r.verdict == "safe"


def test_seed_q2_with_pac_is_a_pac_fault() -> None:
    spec = parse_text(open("specs/pac-seed-q2-disable-stop-machine-preemptible.yaml").read(),
                      "q2.yaml")
    for r in (check_spec(spec, timeout=30), enum_check(spec)):
        cx = next(c for c in r.counterexamples if c.violation == "inequivalent")
        assert "pac fault" in cx.exit, cx.exit


def test_enter_both_goes_on_after_a_non_pad_entry() -> None:
    """`enter: both`: the indirect entry takes a Branch Target exception at the `nop`, the
    direct entry runs on and finds the inequivalence; `indirect` alone stops at the nop."""
    states = '{A: [nop, nop, nop], B: [nop, "sub sp, sp, #16", nop]}'
    steps = "[{write: {slot: 1, as: B}}, {dsb: ish}]"
    for r in results("bti: true", "both", states, steps, "A"):
        assert kinds(r) >= {"bti", "inequivalent"}
    for r in results("bti: true", "indirect", states, steps, "A"):
        assert "inequivalent" not in kinds(r) and "bti" in kinds(r)
