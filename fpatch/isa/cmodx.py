"""Concurrent-modification-and-execution (CMODX) safe encodings.

The Arm ARM (B2.2.5) lets one thread rewrite an instruction that another is
executing, without synchronization, only when both the old and the new
instruction are in a small set: B, BL, BRK, HVC, ISB, NOP, SMC, SVC. Linux's
older ``__aarch64_insn_hotpatch_safe`` read that list differently (every HINT
except the scheduling hints, and no ISB); ``linux_hints=True`` selects that
reading so the checker can show where the two disagree.
"""

from __future__ import annotations

NOP = 0xD503201F
ISB_SY = 0xD5033FDF

# (mask, value) pairs common to both readings: B, BL, SVC, HVC, SMC, BRK.
_COMMON: tuple[tuple[int, int], ...] = (
    (0xFC000000, 0x14000000),  # b
    (0xFC000000, 0x94000000),  # bl
    (0xFFE0001F, 0xD4000001),  # svc
    (0xFFE0001F, 0xD4000002),  # hvc
    (0xFFE0001F, 0xD4000003),  # smc
    (0xFFE0001F, 0xD4200000),  # brk
)

# HINT immediates Linux excluded: YIELD, WFE, WFI, SEV, SEVL.
_LINUX_UNSAFE_HINTS = frozenset({1, 2, 3, 4, 5})


def is_cmodx(word: int, linux_hints: bool = False) -> bool:
    """Is ``word`` in the Arm ARM CMODX set (or Linux's older reading of it)?"""
    w = word & 0xFFFFFFFF
    if any((w & mask) == value for mask, value in _COMMON):
        return True
    if linux_hints:
        if (w & 0xFFFFF01F) == NOP:  # any HINT #imm
            return ((w >> 5) & 0x7F) not in _LINUX_UNSAFE_HINTS
        return False
    return w in (NOP, ISB_SY)
