"""Branch Target Identification: which instruction may an indirect branch land on.

Stated once here, from the Arm ARM (A64 instruction descriptions, DDI 0596/0602:
BR, BLR, BTI, PACIASP), and read by both engines and by replay:

* An indirect branch sets PSTATE.BTYPE for the instruction it lands on. In a
  guarded page, ``BR Xn`` sets 0b01 when ``n`` is 16 or 17 and 0b11 otherwise;
  ``BLR`` sets 0b10; ``RET`` (and every direct branch) leaves 0b00 (no check).
  fpatch's sites are all guarded when ``env.bti`` is on, so a ``br`` from a site is
  in a guarded page.
* While BTYPE != 0b00, every instruction takes a Branch Target exception except
  "BRK, BTI, HLT, PACIASP, and PACIBSP, which might not" (BTI's description):
  ``bti`` (no target) is compatible with nothing, ``bti c`` with 0b01 and 0b10,
  ``bti j`` with 0b01 and 0b11, ``bti jc`` with all three; ``paciasp``/``pacibsp``
  with 0b01 and 0b10, and with 0b11 only when SCTLR_ELx.BT is 0. Linux sets
  SCTLR_EL1.BT0|BT1 (arch/arm64/kernel/cpufeature.c, ``bti_enable()``: "forbid other
  BRs using other registers to jump onto a PACIxSP instruction"), so fpatch reads BT
  as 1. ``brk`` lands (its breakpoint exception is taken, then the run leaves the
  site as a trap anyway).
"""

from __future__ import annotations

from fpatch.isa.decode import decode
from fpatch.isa.insn import GReg, Insn, Name

# PSTATE.BTYPE values, spelled as the Arm ARM writes them.
BTYPE_JUMP_X16 = "01"  # br x16 / br x17
BTYPE_CALL = "10"  # blr (and an observer entering indirectly: a call through a pointer)
BTYPE_JUMP = "11"  # br through any other register

_PADS: dict[tuple[str, str], frozenset[str]] = {
    ("bti", ""): frozenset(),
    ("bti", "c"): frozenset({"01", "10"}),
    ("bti", "j"): frozenset({"01", "11"}),
    ("bti", "jc"): frozenset({"01", "10", "11"}),
    ("paciasp", ""): frozenset({"01", "10"}),  # SCTLR_EL1.BT = 1 (Linux)
    ("pacibsp", ""): frozenset({"01", "10"}),
    ("brk", ""): frozenset({"01", "10", "11"}),
}


def branch_type(insn: Insn) -> str | None:
    """The BTYPE an executed ``insn`` sets for the next instruction (None: 0b00)."""
    if insn.op == "blr":
        return BTYPE_CALL
    if insn.op == "br":
        r = insn.operands[0]
        assert isinstance(r, GReg)
        return BTYPE_JUMP_X16 if r.num in (16, 17) else BTYPE_JUMP
    return None


def landing_ok(word: int, btype: str, pc: int = 0) -> bool:
    """May a branch that set ``btype`` land on ``word`` without a Branch Target exception?"""
    insn = decode(word, pc)
    if not isinstance(insn, Insn):
        return False
    target = next((o.value for o in insn.operands if isinstance(o, Name)), "")
    return btype in _PADS.get((insn.op, target if insn.op == "bti" else ""), frozenset())


def btype_name(btype: str) -> str:
    """For reports: which branch set the BTYPE."""
    return {BTYPE_CALL: "an indirect call (blr, BTYPE 0b10)",
            BTYPE_JUMP_X16: "br x16/x17 (BTYPE 0b01)",
            BTYPE_JUMP: "br (BTYPE 0b11)"}[btype]
