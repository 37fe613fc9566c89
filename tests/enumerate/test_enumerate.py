"""The explicit enumerator against MODEL.md s.8's known answers and its own patcher model.

Specs are inline so each test reads as the scenario it checks.
"""

from __future__ import annotations

import textwrap

import pytest

from fpatch.enumerate import FAMILY, History, Timing, check, flatten, publication
from fpatch.spec.parse import parse_text
from fpatch.spec.types import Spec
from fpatch.verdict import CMODX, INEQUIVALENT, STALE, TORN, UNDEFINED, Result

HELPER = "0xffff800008010000"
BASE = 0xFFFF800008200000


def spec(body: str) -> Spec:
    return parse_text(textwrap.dedent(body), "<test>")


def kinds(r: Result, observer: str) -> set[str]:
    return {v for (_, o, v) in r.violations() if o == observer}


# ------------------------------------------------------------ MODEL.md s.8

SEED_Q2 = f"""
fpatch: 1
name: seed-q2
env: {{preemptible: PREEMPT, nmi: NMI}}
helpers:
  ftrace_caller: {{address: {HELPER}}}
sites:
  func:
    base: {BASE:#x}
    slots: 4
    states:
      B: ["stp x29, x30, [sp, #-16]!", "mov x29, sp", bl ftrace_caller,
          "ldp x29, x30, [sp], #16"]
      B': [b .+16, "mov x29, sp", bl ftrace_caller, "ldp x29, x30, [sp], #16"]
      A': [b .+16, nop, nop, nop]
      A: [nop, nop, nop, nop]
    initial: B
    valid: [A, B]
steps:
  - stop_machine:
      - write: {{slot: 0, as: B'}}
      - sync_icache: {{slots: [0]}}
  - stop_machine:
      - write: {{slots: [1, 2, 3], as: A'}}
      - sync_icache: {{slots: [1, 2, 3]}}
  - stop_machine:
      - write: {{slot: 0, as: A}}
      - sync_icache: {{slots: [0]}}
"""


def seed(preempt: bool, nmi: bool) -> Spec:
    text = SEED_Q2.replace("PREEMPT", str(preempt).lower()).replace("NMI", str(nmi).lower())
    return spec(text)


def test_seed_q2_preemptible_thread_returns_with_sp_16_low() -> None:
    r = check(seed(True, False))
    assert r.verdict == "unsafe"
    assert r.violations() == {("func", "thread", INEQUIVALENT)}
    (cex,) = r.counterexamples
    assert cex.execs[0].text.startswith("stp")
    assert [e.text for e in cex.execs[1:]] == ["nop", "nop", "nop"]
    assert cex.execs[1].interrupted_before
    sp = next(d for d in cex.diffs if d.what == "sp")
    assert int(sp.valid, 16) - int(sp.run, 16) == 16


def test_seed_q2_not_preemptible_without_nmi_is_safe() -> None:
    r = check(seed(False, False))
    assert r.verdict == "safe", r.violations()


def test_seed_q2_nmi_on_patching_cpu_sees_unsynchronized_write() -> None:
    r = check(seed(False, True))
    assert kinds(r, "thread") == set()
    assert CMODX in kinds(r, "nmi-local")
    assert r.verdict == "unsafe"


FTRACE = f"""
fpatch: 1
name: ftrace
env: {{preemptible: true, nmi: true}}
helpers:
  ftrace_caller:
    address: {HELPER}
    inputs: [x9, x30, sp]
    returns_to: x30
    restores: {{x30: x9}}
    clobbers: [x9]
sites:
  func:
    base: {BASE:#x}
    slots: 2
    states:
      OFF: ["mov x9, x30", nop]
      ON: ["mov x9, x30", bl ftrace_caller]
steps:
STEPS
"""


def ftrace(steps: str) -> Spec:
    return spec(FTRACE.replace("STEPS", textwrap.indent(textwrap.dedent(steps), "  ")))


def test_ftrace_nop_bl_toggle_is_safe_for_thread_and_nmi() -> None:
    r = check(ftrace("""
        - write: {slot: 1, as: ON}
        - sync_icache: {slots: [1]}
        - write: {slot: 1, as: OFF}
        - sync_icache: {slots: [1]}
    """))
    assert r.verdict == "safe", [c.summary for c in r.counterexamples]
    assert {o.observer for o in r.observers} == {"thread", "nmi-local", "nmi-remote"}
    assert r.extra["complete"] is True


def test_ftrace_without_ic_ivau_is_stale() -> None:
    r = check(ftrace("""
        - write: {slot: 1, as: ON}
        - dc_cvau: {slots: [1]}
        - dsb: ish
    """))
    assert r.violations() == {("func", "thread", STALE)}
    (cex,) = r.counterexamples
    assert cex.execs[-1].text == "nop" and cex.execs[-1].window == (0, 3)


def test_non_cmodx_replacement_without_stop_machine_is_cmodx() -> None:
    r = check(ftrace("""
        - write: {slot: 0, insn: "mov x10, x30"}
        - sync_icache: {slots: [0]}
    """))
    for observer in ("thread", "nmi-local", "nmi-remote"):
        assert CMODX in kinds(r, observer)
    cex = next(c for c in r.counterexamples if c.violation == CMODX)
    assert cex.execs[-1].window[0] < cex.execs[-1].window[1]


def test_bytewise_copy_is_torn() -> None:
    r = check(ftrace("""
        - write: {slot: 1, as: ON, width: 1}
        - sync_icache: {slots: [1]}
    """))
    assert TORN in kinds(r, "thread")
    cex = next(c for c in r.counterexamples if c.violation == TORN)
    assert cex.execs[-1].torn


def test_undefined_word_written() -> None:
    r = check(ftrace("""
        - write: {slot: 1, value: 0x00000000}
        - sync_icache: {slots: [1]}
    """))
    assert UNDEFINED in kinds(r, "thread")
    # nop -> udf: udf is not in the CMODX set either
    assert CMODX in kinds(r, "thread")


# ----------------------------------------------------- the patcher simulation

CACHE = f"""
fpatch: 1
cache: {{idc: IDC, dic: DIC}}
sites:
  s:
    base: 0x1000
    slots: 32
    states:
      A: [{", ".join(["nop"] * 32)}]
      B: [{", ".join(["b .+4"] + ["nop"] * 31)}]
steps:
STEPS
"""


def cache_spec(idc: bool, dic: bool, steps: str) -> Spec:
    text = CACHE.replace("IDC", str(idc).lower()).replace("DIC", str(dic).lower())
    return spec(text.replace("STEPS", textwrap.indent(textwrap.dedent(steps), "  ")))


@pytest.mark.parametrize(
    ("idc", "dic", "n", "pub"),
    [(False, False, 6, 5), (True, False, 5, 4), (False, True, 4, 3), (True, True, 3, 2)],
)
def test_sync_icache_expansion_and_publication(idc: bool, dic: bool, n: int, pub: int) -> None:
    s = cache_spec(idc, dic, """
        - write: {slot: 0, as: B}
        - sync_icache: {slots: [0]}
    """)
    tl = flatten(s)
    assert tl.n == n and tl.steps[-1].kind == "isb"
    assert publication(tl, idc, dic, 64, 1, 0x1000) == pub
    assert History(s, s.sites[0], tl).writes[0] == [(1, pub)]


MANUAL = """
- write: {slot: 0, as: B}
- dsb: ishst
- ic_ivau: {slots: [0]}
- dsb: ish
"""


@pytest.mark.parametrize(
    ("idc", "dic", "steps", "pub"),
    [
        (True, False, MANUAL, 4),
        (False, False, MANUAL, None),  # no clean to PoU
        (True, True, MANUAL, 2),  # any dsb
        (False, True, MANUAL, None),  # IDC=0 DIC=1 still needs dc cvau
        (False, False, "- write: {slot: 0, as: B}\n- dc_cvau: {slots: [0]}\n- dsb: ish\n"
                       "- ic_iallu\n- dsb: sy\n", 5),
        # dsb ishst does not complete cache maintenance; the dc of another line does not count
        (False, False, "- write: {slot: 0, as: B}\n- dc_cvau: {slots: [16]}\n"
                       "- dc_cvau: {slots: [0]}\n- dsb: ishst\n- ic_ivau: {slots: [0]}\n"
                       "- dsb: ish\n- ic_ivau: {slots: [0]}\n- dsb: ish\n", 8),
        # a line size of 64 covers slots 0..15 with one operation
        (False, False, "- write: {slot: 0, as: B}\n- sync_icache: {slots: [15]}\n", 5),
        (False, False, "- write: {slot: 0, as: B}\n- sync_icache: {slots: [16]}\n", None),
        (True, False, "- write: {slot: 0, as: B}\n- ic_ivau: {slots: [0]}\n- dsb: ish\n"
                      "- ic_ivau: {slots: [0]}\n- dsb: ish\n", 5),
    ],
)
def test_publication_chains(idc: bool, dic: bool, steps: str, pub: int | None) -> None:
    s = cache_spec(idc, dic, steps)
    assert publication(flatten(s), idc, dic, 64, 1, 0x1000) == pub


def test_flatten_blocks_forced_points_and_chunks() -> None:
    s = cache_spec(True, True, """
        - write: {slot: 0, as: B, width: 1, order: descending}
        - stop_machine:
            - write: {slots: [0, 1], as: A, width: 8}
            - dsb: ish
        - ipi_sync
        - wait_tasks
    """)
    tl = flatten(s)
    assert tl.n == 8
    assert [p.addr for p in tl.steps[:4]] == [0x1003, 0x1002, 0x1001, 0x1000]
    assert tl.blocks == ((5, 6),) and tl.forced == (6, 7) and tl.waits == (8,)
    assert [p for p in range(9) if tl.inside_block(p)] == [5]
    assert tl.forced_before(5) == 0 and tl.forced_before(6) == 6 and tl.forced_before(8) == 7
    h = History(s, s.sites[0], tl)
    nop, b = 0xD503201F, h.words[0][4]
    assert h.words[0][0] == nop and b == 0x14000001 and h.words[0][5] == nop
    # descending byte copy: the high bytes change first; points 1..3 are torn
    assert [h.torn[0][p] for p in range(9)] == [False, True, True, True] + [False] * 5
    # every chunk and the block's write are published by the dsb at step 6
    assert h.L(0, 5) == 0 and h.L(0, 6) == 5 and h.L(0, 8) == 5
    win = h.window(0, 0, 4)
    assert win.torn_at == 1 and len(win.words) == 5
    # every torn word between nop and `b .+4` written high byte first is itself a `b`:
    # torn, but by docs/model.md's rule not a CMODX violation
    assert not win.cmodx


def test_writing_the_same_word_is_no_write() -> None:
    s = cache_spec(False, False, "- write: {slot: 0, as: A}\n")
    h = History(s, s.sites[0], flatten(s))
    assert h.writes[0] == []


def test_timing_rules() -> None:
    s = seed(False, True)
    tl = flatten(s)
    h = History(s, s.sites[0], tl)
    thread = Timing("thread", s, tl, h)
    # threads run only outside the blocks: points 0, 6, 14, 20
    assert sorted({mv[0] for mv in thread.first()}) == [0, 6, 14, 20]
    # not preemptible: a thread that ran at point 0 cannot resume after a block
    assert {mv[0] for mv in thread.next((0, 0, 0), False)} == {0}
    remote = Timing("nmi-remote", s, tl, h)
    assert {mv[0] for mv in remote.first()} == set(range(21))
    # an NMI on another CPU that entered at point 3 returns before the block ends at 6
    assert {mv[0] for mv in remote.next((3, 0, 0), False)} == {3, 4, 5}
    local = Timing("nmi-local", s, tl, h)
    assert local.next((7,), True) == [(7, 7, None, (7,))]


WAIT = f"""
fpatch: 1
env: {{preemptible: false, nmi: false}}
sites:
  f:
    base: {BASE:#x}
    slots: 2
    states:
      B: ["stp x29, x30, [sp, #-16]!", "ldp x29, x30, [sp], #16"]
      B': [b .+8, "ldp x29, x30, [sp], #16"]
      A': [b .+8, nop]
      A: [nop, nop]
    valid: [A, B]
steps:
  - write: {{slot: 0, as: B'}}
  - sync_icache: f
  - ipi_sync
  WAIT
  - write: {{slot: 1, as: A'}}
  - sync_icache: f
  - ipi_sync
  - write: {{slot: 0, as: A}}
  - sync_icache: f
"""


def test_wait_tasks_prevents_resuming_into_the_new_code() -> None:
    without = check(spec(WAIT.replace("WAIT", "")))
    assert INEQUIVALENT in kinds(without, "thread")
    with_wait = check(spec(WAIT.replace("WAIT", "- wait_tasks")))
    assert INEQUIVALENT not in kinds(with_wait, "thread")
    assert CMODX in kinds(with_wait, "thread")  # stp -> b is still a CMODX violation


def test_bounds_give_unknown_never_safe() -> None:
    steps = """
        - write: {slot: 1, as: ON}
        - sync_icache: {slots: [1]}
    """
    tight = ftrace(steps)
    r = check(tight, max_runs=3)
    assert r.verdict == "unknown" and r.extra["complete"] is False
    loop = spec(f"""
        fpatch: 1
        env: {{nmi: false}}
        max_insns: 3
        sites:
          f:
            base: {BASE:#x}
            slots: 2
            states:
              A: [nop, nop]
              L: [nop, "b .-4"]
        steps:
          - write: {{slot: 1, as: L}}
          - sync_icache: f
    """)
    r = check(loop)
    assert r.verdict == "unknown"
    assert any("max_insns" in reason for o in r.observers for reason in o.reasons)


def test_family_has_aligned_sp_and_distinct_members() -> None:
    assert all(dict(m.regs)["sp"] % 16 == 0 for m in FAMILY)
    assert len({m.regs for m in FAMILY}) == len(FAMILY)
