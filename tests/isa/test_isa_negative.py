"""Negative corpus: arbitrary words must never decode to a wrong instruction.

Whenever ``decode`` returns an ``Insn`` for a word, objdump must print the same
mnemonic and the same operand text (after normalisation). Words are batched
into one ``.inst`` file per run so that as/ld/objdump run once per batch.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpatch.isa import Insn, Unsupported, assemble, decode

BASE = 0x400000

# Representative supported words: flipping bits of these lands next to the subset.
SEEDS = [
    "nop", "isb", "dsb ish", "dmb ishld", "bti c", "paciasp", "autiasp", "brk #0x1",
    "svc #0x0", "hvc #0x0", "smc #0x0", "b 0x400100", "bl 0x3ff000", "br x1", "blr x2",
    "ret", "cbz x1, 0x400040", "cbnz w2, 0x3fff00", "mov x1, x2", "mov w1, w2",
    "mov sp, x1", "mov x29, sp", "mov x1, #0x10", "movk x1, #0x1, lsl #48",
    "movz w1, #0x0, lsl #16",
    "add x1, x2, #0x10", "sub sp, sp, #0x20", "add w1, w2, #0x1, lsl #12",
    "stp x29, x30, [sp, #-16]!", "ldp x29, x30, [sp], #16", "stp x1, x2, [x3, #8]",
    "str x1, [sp, #8]", "ldr w1, [x2, #4]", "ldr x1, [x2, #-8]!", "str w1, [x2], #4",
    "ldur x1, [x2, #-1]", "stur w1, [x2, #3]", "ldr x1, 0x400800", "ldr w1, 0x3ff800",
    "adr x1, 0x400011", "adrp x1, 0x500000",
    # litmus additions (issue #5)
    "dc cvau, x1", "ic ivau, x3", "ic iallu", "ic ialluis", "cmp w2, w0", "cmp x1, #0x4",
    "subs x1, x2, x3", "cset w3, eq", "csel x1, x14, x24, ne", "cinc w1, w2, lt",
    "b.ne 0x400040", "b.le 0x3fff00", "and w2, w2, w4", "eor x6, x2, x2", "orr x1, x2, x3",
    "add x1, x2, x3", "sub w1, w2, w3",
]


def _seed_words() -> list[int]:
    return [assemble(t, BASE) for t in SEEDS]


def _mutants(rnd: random.Random, n: int) -> list[int]:
    seeds = _seed_words()
    out = []
    for _ in range(n):
        w = rnd.choice(seeds)
        for _ in range(rnd.randint(1, 3)):
            w ^= 1 << rnd.randrange(32)
        out.append(w)
    return out


def _check_batch(binutils: object, words: list[int]) -> int:
    """Compare decode with objdump for every word; returns how many decoded to an Insn."""
    dumped = binutils.dump([f".inst 0x{w:08x}" for w in words], BASE)  # type: ignore[attr-defined]
    bad: list[str] = []
    supported = 0
    for d in dumped:
        insn = decode(d.word, d.addr)
        if isinstance(insn, Unsupported):
            continue
        supported += 1
        assert isinstance(insn, Insn)
        if insn.mnemonic != d.mnemonic or insn.text != d.text:
            bad.append(f"{d.word:08x} @0x{d.addr:x}: fpatch {insn.text!r} vs objdump {d.text!r}")
        elif assemble(insn.text, d.addr) != d.word:
            bad.append(f"{d.word:08x}: {insn.text!r} does not re-assemble")
    assert not bad, f"{len(bad)} disagreements:\n" + "\n".join(bad[:20])
    return supported


@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.large_base_example, HealthCheck.data_too_large])
@given(drawn=st.lists(st.integers(0, 2**32 - 1), min_size=200, max_size=200),
       seed=st.integers(0, 2**64 - 1))
def test_random_words_never_misdecode(binutils: object, drawn: list[int], seed: int) -> None:
    """Hypothesis draws 200 words itself plus a seed for 2000 uniform words and 2000
    mutants of supported words; each example is one as/objdump batch."""
    rnd = random.Random(seed)
    words = drawn + [rnd.getrandbits(32) for _ in range(2000)] + _mutants(rnd, 2000)
    assert _check_batch(binutils, words) > 200


def test_single_bit_flips_of_supported_words(binutils: object) -> None:
    words = [w ^ (1 << b) for w in _seed_words() for b in range(32)]
    assert _check_batch(binutils, words) > 100


def test_system_and_exception_spaces_exhaustively(binutils: object) -> None:
    """Every HINT, every barrier CRm/op2 and every exception opc/LL combination."""
    words = [0xD503201F | (imm << 5) for imm in range(128)]
    words += [0xD503301F | (crm << 8) | (op2 << 5) for crm in range(16) for op2 in range(8)]
    words += [0xD4000000 | (opc << 21) | (0x1234 << 5) | ll for opc in range(8) for ll in range(4)]
    words += [0xD61F0000 | (opc << 21) | (rn << 5) | op4 for opc in range(4)
              for rn in (0, 30, 31) for op4 in (0, 1, 31)]
    words += [0xD63F0800 | (30 << 5) | 31, 0xD65F0BFF]  # blraaz/retaa-style neighbours
    assert _check_batch(binutils, words) > 20


def test_udf_and_unallocated_are_unsupported() -> None:
    d = decode(0x00000000)
    assert isinstance(d, Unsupported) and d.reason == "udf (permanently undefined)"
    assert decode(0x0000BEEF).text == ".inst 0x0000beef (unsupported)"
    for word in (0xD503203F, 0xD503205F, 0xD503207F, 0xD50320DF,  # yield, wfe, wfi, hint #6
                 0x52C00001,  # 32-bit movz with hw=2: unallocated
                 0x92800001,  # movn
                 0xA8C107E1,  # ldp x1, x1, [sp], #16 (unpredictable)
                 0xF8408C21,  # ldr x1, [x1, #8]! (unpredictable)
                 0xD61F03E0,  # br xzr
                 0xD503309F,  # ssbb
                 0xD50333DF,  # isb #3
                 0xAB020020):  # adds
        assert isinstance(decode(word), Unsupported), hex(word)
    assert isinstance(decode(1 << 32), Unsupported)


def test_sys_and_conditional_spaces(binutils: object) -> None:
    """SYS neighbours of the cache-maintenance aliases, every b.cond/csel/csinc condition,
    and register-31 corners of the shifted-register and compare forms (issue #5)."""
    words = [0xD5080000 | (op1 << 16) | (7 << 12) | (crm << 8) | (op2 << 5) | rt
             for op1 in (0, 3) for crm in (1, 5, 10, 11, 14) for op2 in (0, 1, 2)
             for rt in (1, 31)]
    words += [0xD50B7B20 | rt for rt in range(32)] + [0xD50B7520 | rt for rt in range(32)]
    words += [0x54000000 | (5 << 5) | cond | (o << 4) for cond in range(16) for o in (0, 1)]
    words += [0x1A800000 | (sf << 31) | (op << 30) | (s << 29) | (rm << 16) | (cond << 12)
              | (op2 << 10) | (rn << 5) | 3
              for sf in (0, 1) for op in (0, 1) for s in (0, 1) for cond in (0, 1, 14, 15)
              for op2 in (0, 1, 2) for rn, rm in ((31, 31), (2, 2), (2, 4))]
    for base in (0x0A000000, 0x2A000000, 0x4A000000, 0x6A000000, 0x0B000000, 0x2B000000,
                 0x4B000000, 0x6B000000):
        for sf in (0, 1):
            for rd, rn in ((1, 2), (31, 2), (1, 31), (31, 31)):
                for extra in (0, 1 << 21, 1 << 22, 5 << 10):
                    words.append(base | (sf << 31) | extra | (3 << 16) | (rn << 5) | rd)
    words += [0x71000000 | (sf << 31) | (sh << 22) | (5 << 10) | (rn << 5) | rd
              for sf in (0, 1) for sh in (0, 1) for rn in (2, 31) for rd in (1, 31)]
    assert _check_batch(binutils, words) > 100
