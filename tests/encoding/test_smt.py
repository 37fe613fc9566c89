"""The Z3 engine: known answers (MODEL.md s.8), counterexample content, soundness rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import z3

from fpatch.encoding import check_spec
from fpatch.spec import parse_file, parse_text
from tests.helpers import ftrace_spec

SPECS = Path(__file__).parents[2] / "specs"
SYNC1 = "  - sync_icache: {slots: [1]}\n"


def test_linux_ftrace_design_is_safe_for_every_observer() -> None:
    r = check_spec(ftrace_spec("  - write: {slot: 1, as: ON}\n" + SYNC1
                               + "  - write: {slot: 1, as: OFF}\n" + SYNC1))
    assert r.verdict == "safe"
    assert {o.observer for o in r.observers} == {"thread", "nmi-local", "nmi-remote"}


def test_seed_q2_preempted_task_returns_with_sp_16_low() -> None:
    r = check_spec(parse_file(SPECS / "seed-q2-disable-stop-machine-preemptible.yaml"))
    assert r.verdict == "unsafe"
    (cx,) = r.counterexamples
    assert (cx.observer, cx.violation) == ("thread", "inequivalent")
    first, *rest = cx.execs
    assert first.text.startswith("stp x29, x30, [sp, #-16]!") and first.states == ("B",)
    resumed = [k for k, x in enumerate(rest) if x.interrupted_before]
    assert resumed, "the task must be interrupted (preempted) inside the site"
    after = rest[resumed[0]:]
    assert after[0].point > first.point and all(x.text == "nop" for x in after)
    sp = next(d for d in cx.diffs if d.what == "sp")
    assert "sp at entry - 16" in sp.run and "= sp at entry" in sp.valid
    assert cx.loc is not None and cx.loc.line > 0


def test_non_preemptible_stop_machine_is_safe_and_nmi_breaks_it() -> None:
    assert check_spec(parse_file(SPECS / "seed-q2-disable-stop-machine-nonpreemptible.yaml")
                      ).verdict == "safe"
    r = check_spec(parse_file(SPECS / "seed-q2-disable-stop-machine-nonpreemptible-nmi.yaml"))
    assert r.verdict == "unsafe"
    assert {(c.observer, c.violation) for c in r.counterexamples} == {
        ("nmi-local", "cmodx"), ("nmi-remote", "cmodx")}


def test_forgotten_ic_ivau_is_stale() -> None:
    r = check_spec(ftrace_spec("  - write: {slot: 1, as: ON}\n  - dc_cvau: {slots: [1]}\n"
                               "  - dsb: ish\n"))
    assert {c.violation for c in r.counterexamples} == {"stale"}
    (cx,) = r.counterexamples
    assert cx.execs[-1].text == "nop" and cx.execs[-1].cse == 3


def test_two_non_cmodx_words_concurrently_is_cmodx() -> None:
    r = check_spec(ftrace_spec('  - write: {slot: 0, insn: "mov x10, x30"}\n'
                               "  - sync_icache: {slots: [0]}\n",
                               env="{preemptible: false, nmi: false}"))
    kinds = {c.violation for c in r.counterexamples}
    assert "cmodx" in kinds
    cx = next(c for c in r.counterexamples if c.violation == "cmodx")
    assert "mov x9, x30" in cx.detail and "mov x10, x30" in cx.detail


def test_bytewise_copy_is_torn() -> None:
    r = check_spec(ftrace_spec("  - write: {slot: 1, as: ON, width: 1}\n" + SYNC1))
    assert "torn" in {c.violation for c in r.counterexamples}


def test_cmodx_linux_reading_accepts_hint_pairs_the_manual_does_not() -> None:
    text = """
fpatch: 1
env: {preemptible: false, nmi: false, cmodx: %s}
sites:
  f:
    base: 0x1000
    slots: 1
    states:
      A: [nop]
      B: [bti c]
steps:
  - write: {slot: 0, as: B}
  - sync_icache: f
  - ipi_sync
"""
    manual = check_spec(parse_text(text % "manual"))
    linux = check_spec(parse_text(text % "linux"))
    assert "cmodx" in {c.violation for c in manual.counterexamples}
    assert linux.verdict == "safe"


def test_loop_in_a_state_is_unknown_not_safe() -> None:
    r = check_spec(parse_file(Path(__file__).parents[1] / "data" / "loop-in-state.yaml"))
    # Entering after the write loops forever: the max_insns bound makes it unknown.
    assert r.verdict == "unknown"
    assert any("max_insns" in reason for o in r.observers for reason in o.reasons)

def test_solver_unknown_is_never_reported_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ftrace_spec("  - write: {slot: 1, as: ON}\n" + SYNC1)
    monkeypatch.setattr(z3.Solver, "check", lambda self, *a: z3.unknown)
    monkeypatch.setattr(z3.Solver, "reason_unknown", lambda self: "timeout")
    r = check_spec(spec)
    assert r.verdict == "unknown"
    assert all(o.status == "unknown" and o.reasons for o in r.observers)


@pytest.mark.parametrize(("target", "verdict"), [
    ("0xff8", "safe"),  # the data word: modelled (MODEL.md 6.7), both values valid by default
    ("0x1004", "unknown"),  # the instruction slots: not modelled
])
def test_literal_load_of_site_memory(target: str, verdict: str) -> None:
    spec = parse_text(f"""
fpatch: 1
env: {{nmi: false}}
sites:
  f:
    base: 0x1000
    slots: 2
    data:
      ops: {{offset: -8, size: 8, value: 0}}
    states:
      A:
        - ldr x16, {target}
        - nop
steps:
  - write: {{data: ops, value: 0x1234, width: 8}}
""")
    r = check_spec(spec)
    assert r.verdict == verdict


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_bundled_specs_meet_their_expectation(path: Path) -> None:
    r = check_spec(parse_file(path))
    assert r.meets_expectation, [c.summary for c in r.counterexamples]
    if r.verdict == "unsafe":
        for cx in r.counterexamples:
            assert cx.execs and cx.detail and cx.summary


def test_counterexample_does_not_depend_on_what_ran_before() -> None:
    """Reports must be byte-identical whatever else the process checked first."""
    path = SPECS / "ftrace-8-byte-store-both-slots.yaml"
    first = check_spec(parse_file(path)).counterexamples
    check_spec(parse_file(SPECS / "seed-q2-enable-stop-machine-preemptible.yaml"))
    again = check_spec(parse_file(path)).counterexamples
    assert first == again
