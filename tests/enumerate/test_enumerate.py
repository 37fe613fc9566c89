"""The explicit enumerator against MODEL.md s.8's known answers and its own patcher model.

Specs are inline so each test reads as the scenario it checks.
"""

from __future__ import annotations

import random
import textwrap
from collections.abc import Iterable

import pytest

from fpatch.enumerate import (
    FAMILY,
    Call,
    History,
    Member,
    Timing,
    check,
    effect_diffs,
    effect_of,
    flatten,
    publication,
    run_insn,
    run_state,
)
from fpatch.errors import SpecError
from fpatch.isa import decode, is_cmodx
from fpatch.isa.insn import Unsupported
from fpatch.isa.interp import Machine
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
        # ic iallu is local to the patching CPU (MODEL.md s.2): it publishes to no other
        (False, False, "- write: {slot: 0, as: B}\n- dc_cvau: {slots: [0]}\n- dsb: ish\n"
                       "- ic_iallu\n- dsb: sy\n", None),
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
    # (timing states end with the fetch floor, 0 here)
    assert {mv[0] for mv in thread.next((0, 0, 0, 0), False)} == {0}
    remote = Timing("nmi-remote", s, tl, h)
    assert {mv[0] for mv in remote.first()} == set(range(21))
    # an NMI on another CPU that entered at point 3 returns before the block ends at 6
    assert {mv[0] for mv in remote.next((3, 0, 0, 0), False)} == {3, 4, 5}
    local = Timing("nmi-local", s, tl, h)
    assert local.next((7, 5), True) == [(7, 7, None, (7, 5))]


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


# ------------------------------------------- exactness of the search's reductions
# A naive enumerator written straight from docs/model.md's Observers rules: every e,
# every c (no canonical classes), every f (no merging of equal words), memoized only on
# the complete history. The real search must find exactly the same violation kinds.

POOL = ["nop", "b .+8", "bl h", '"mov x9, x30"', '"mov x10, x30"', "isb",
        '"stp x29, x30, [sp, #-16]!"', '"ldp x29, x30, [sp], #16"', "0x00000000"]


def _random_spec(rng: random.Random) -> Spec:
    states = {name: [rng.choice(POOL) for _ in range(2)] for name in ("A", "B", "C")}
    steps: list[str] = []
    while len(steps) < rng.randint(3, 6):
        kind = rng.randrange(9)
        if kind < 3:
            width = rng.choice([4, 4, 2, 8])
            slots = "[0, 1]" if width == 8 else f"[{rng.randrange(2)}]"
            steps.append(f"- write: {{slots: {slots}, as: {rng.choice('ABC')}, width: {width}}}")
        else:
            steps.append(rng.choice(["- dc_cvau: f", "- dsb: ish", "- ic_ivau: f", "- isb",
                                     "- ipi_sync", "- wait_tasks", "- sync_icache: f",
                                     "- stop_machine: [{write: {slot: 0, as: A}}, dsb]"]))
    cache = rng.choice(["{idc: false, dic: false}", "{idc: true, dic: false}",
                        "{idc: true, dic: true}"])
    lines = [
        "fpatch: 1", f"cache: {cache}",
        f"env: {{preemptible: {rng.choice(['true', 'false'])}, nmi: true}}",
        "helpers: {h: {address: 0x9000, inputs: [x30, sp], restores: {x30: x9}}}",
        "sites:", "  f:", "    base: 0x1000", "    slots: 2", "    states:",
    ]
    lines += [f"      {n}: [{', '.join(ws)}]" for n, ws in states.items()]
    lines += ["steps:"] + [f"  {s}" for s in steps]
    return spec("\n".join(lines) + "\n")


def _naive(s: Spec, kind: str) -> set[str]:
    """Every fetch-level violation kind and inequivalence, by brute force."""
    site, tl = s.sites[0], flatten(s)
    h, n, found = History(s, site, tl), tl.n, set()
    seen: set[tuple[object, ...]] = set()
    leaves: set[tuple[object, ...]] = set()
    valid = {mb.name: [run_state(s, site, site.state(v).words, mb)[0] for v in site.valid]
             for mb in FAMILY}

    def ok_thread(e1: int, e: int, e2: int) -> bool:
        if tl.inside_block(e2):
            return False
        if not s.preemptible and any(e < a and e2 >= b for a, b in tl.blocks):
            return False
        return not any(e1 < t <= e2 for t in tl.waits)

    def choices(i: int, e0: int, c0: int, e1: int, c1: int, isb: bool
                ) -> Iterable[tuple[int, int, int, int]]:
        for e in range(n + 1) if i == 0 else range(e0, n + 1):
            f = tl.forced_before(e)
            if kind == "nmi-local":
                if i == 0 or e == e0:
                    yield e, e, e, e
            elif kind == "nmi-remote":
                cs = range(e + 1) if i == 0 else [e0 if isb else c0]
                for c in cs:
                    first = c if i == 0 else c1
                    if f <= first:
                        yield e, c, (e if i == 0 else e1), first
            else:
                if i == 0:
                    if not tl.inside_block(e):
                        for c in range(f, e + 1):
                            yield e, c, e, c
                    continue
                if not ok_thread(e1, e0, e):
                    continue
                cs = set(range(max(e0, f), e + 1))
                if not isb and c0 >= f:
                    cs.add(c0)
                for c in cs:
                    yield e, c, e1, c1

    def go(member: Member, m: Machine, pc: int, words: tuple[int, ...], calls: tuple[Call, ...],
           e0: int, c0: int, e1: int, c1: int, isb: bool) -> None:
        key = (member.name, words, e0, c0, e1, c1)
        if key in seen:
            return
        seen.add(key)
        i, sl = len(words), (pc - site.base) // 4
        for e, c, e1n, c1n in choices(i, e0, c0, e1, c1, isb):
            lo = h.L(sl, c)
            vals = [h.words[sl][p] for p in range(lo, e + 1)]
            if any(h.torn[sl][p] for p in range(lo, e + 1)):
                found.add(TORN)
            if len(set(vals)) > 1 and not all(is_cmodx(v, s.cmodx_linux) for v in vals):
                found.add(CMODX)
            for w in dict.fromkeys(vals):  # the same word from the same machine: one execution
                insn = decode(w, pc)
                if isinstance(insn, Unsupported):
                    found.add(UNDEFINED)
                    continue
                m2 = m.copy()
                out = run_insn(s, site, insn, m2, pc)
                calls2 = calls + ((out.call,) if out.call else ())
                if out.trap is not None or not site.base <= out.next_pc < site.end:
                    ex = (("trap", out.trap[0], out.trap[1], pc) if out.trap
                          else ("pc", out.next_pc))
                    leaf = (member.name, words + (w,))
                    if leaf not in leaves:
                        leaves.add(leaf)
                        eff = effect_of(m2, ex, calls2)
                        if all(v is None or effect_diffs(site, member, eff, v)
                               for v in valid[member.name]):
                            found.add(INEQUIVALENT)
                elif i + 1 < s.max_insns:
                    go(member, m2, out.next_pc, words + (w,), calls2, e, c, e1n, c1n, out.isb)

    for member in FAMILY:
        go(member, member.machine(), site.slot_addr(site.entry), (), (), 0, 0, 0, 0, False)
    return found


def test_search_matches_naive_enumeration() -> None:
    rng = random.Random(20240607)
    checked = 0
    for _ in range(60):
        try:
            s = _random_spec(rng)
        except SpecError:
            continue
        r = check(s)
        assert r.extra["complete"]
        for kind in ("thread", "nmi-local", "nmi-remote"):
            got = kinds(r, kind) - {STALE}
            assert got == _naive(s, kind), (kind, [st for st in s.steps])
        checked += 1
    assert checked >= 40
