"""Bit-level decoder for the supported AArch64 subset.

Decoding is done by hand against exact encoding masks rather than through a
general disassembler: the contract is "never a wrong instruction", so every
field that the subset does not pin down (reserved values, unallocated or
CONSTRAINED UNPREDICTABLE combinations, other members of the same encoding
class) yields ``Unsupported``.
"""

from __future__ import annotations

from fpatch.isa.insn import (
    BARRIER_OPTIONS,
    CACHE_OPS,
    CONDITIONS,
    HINTS,
    GReg,
    Imm,
    Insn,
    Mem,
    Name,
    Operand,
    Target,
    Unsupported,
    format_insn,
)

MASK64 = (1 << 64) - 1


def _sext(value: int, bits: int) -> int:
    sign = 1 << (bits - 1)
    return (value & (sign - 1)) - (value & sign)


def preferred_mnemonic(op: str, operands: tuple[Operand, ...]) -> str:
    """The alias rules of the Arm ARM, as GNU objdump applies them."""
    if op == "orr":
        return "mov"
    if op == "add":
        rd, rn, imm = operands[0], operands[1], operands[2]
        assert isinstance(rd, GReg) and isinstance(rn, GReg) and isinstance(imm, Imm)
        if imm.value == 0 and imm.shift == 0 and (rd.num == 31 or rn.num == 31):
            return "mov"
        return "add"
    if op == "movz":
        imm = operands[1]
        assert isinstance(imm, Imm)
        if imm.value != 0 or imm.shift == 0:
            return "mov"
        return "movz"
    if op == "ldr_lit":
        return "ldr"
    if op.endswith("_reg"):
        op = op[:-4]
        if op == "subs" and _is_zr(operands[0]):
            return "cmp"
        return op
    if op == "subs" and _is_zr(operands[0]):
        return "cmp"
    if op == "csinc":
        rn, rm, cond = operands[1], operands[2], operands[3]
        assert isinstance(rn, GReg) and isinstance(rm, GReg) and isinstance(cond, Name)
        if rn.num == rm.num and cond.value not in ("al", "nv"):
            return "cset" if rn.num == 31 else "cinc"
    return op


def _is_zr(o: Operand) -> bool:
    return isinstance(o, GReg) and o.is_zr


def _invert(cond: Operand) -> Name:
    assert isinstance(cond, Name)
    return Name(CONDITIONS[CONDITIONS.index(cond.value) ^ 1])


def _alias_operands(op: str, operands: tuple[Operand, ...]) -> tuple[Operand, ...]:
    """Operands as printed under the preferred alias."""
    m = preferred_mnemonic(op, operands)
    if op == "ret" and operands == (_x(30),):
        return ()
    if op == "add" and m == "mov":
        return operands[:2]
    if op == "movz" and m == "mov":
        rd, imm = operands
        assert isinstance(imm, Imm)
        return (rd, Imm(imm.value << imm.shift))
    if m == "cmp":
        return operands[1:]
    if m == "cset":
        return (operands[0], _invert(operands[3]))
    if m == "cinc":
        return (operands[0], operands[1], _invert(operands[3]))
    return operands


def build(op: str, operands: tuple[Operand, ...], word: int) -> Insn:
    """Insn whose ``operands`` are the architectural fields (``op`` view) and
    whose text is the alias view."""
    mnemonic = preferred_mnemonic(op, operands)
    text = format_insn(mnemonic, _alias_operands(op, operands))
    return Insn(mnemonic, operands, word, text, op)


# ------------------------------------------------------------------- decoder


def _x(n: int, sp: bool = False) -> GReg:
    return GReg(n, True, sp)


def _decode_hint_system(w: int) -> Insn | Unsupported | None:
    if (w & 0xFFFFF01F) == 0xD503201F:
        imm7 = (w >> 5) & 0x7F
        if imm7 not in HINTS:
            return Unsupported(w, f"hint #0x{imm7:x} is outside the supported subset")
        mnem, arg = HINTS[imm7]
        ops: tuple[Operand, ...] = (Name(arg),) if arg else ()
        return build(mnem, ops, w)
    if (w & 0xFFFFF0FF) == 0xD503309F or (w & 0xFFFFF0FF) == 0xD50330BF:
        kind = "dsb" if (w & 0xFF) == 0x9F else "dmb"
        crm = (w >> 8) & 0xF
        if crm not in BARRIER_OPTIONS:
            return Unsupported(w, f"{kind} with unnamed option #{crm} (e.g. ssbb/pssbb)")
        return build(kind, (Name(BARRIER_OPTIONS[crm]),), w)
    if (w & 0xFFFFF0FF) == 0xD50330DF:
        if w == 0xD5033FDF:
            return build("isb", (), w)
        return Unsupported(w, "isb with an option other than sy")
    if (w & 0xFFF80000) == 0xD5080000:  # SYS: only the cache-maintenance aliases
        fields = ((w >> 16) & 7, (w >> 12) & 15, (w >> 8) & 15, (w >> 5) & 7)
        rt = w & 31
        for (kind, name), (op1, crn, crm, op2, takes_reg) in CACHE_OPS.items():
            if fields == (op1, crn, crm, op2) and takes_reg == (rt != 31):
                sys_ops: tuple[Operand, ...] = (Name(name),) + ((_x(rt),) if takes_reg else ())
                return build(kind, sys_ops, w)
        return Unsupported(w, "system instruction outside the supported cache maintenance")
    return None


def _decode_exception(w: int) -> Insn | Unsupported | None:
    if (w & 0xFF000000) != 0xD4000000:
        return None
    imm16 = (w >> 5) & 0xFFFF
    kinds = {0xD4000001: "svc", 0xD4000002: "hvc", 0xD4000003: "smc", 0xD4200000: "brk"}
    kind = kinds.get(w & 0xFFE0001F)
    if kind is None:
        return Unsupported(w, "exception-generating instruction outside the subset")
    return build(kind, (Imm(imm16),), w)


def _decode_branch(w: int, pc: int) -> Insn | Unsupported | None:
    if (w & 0x7C000000) == 0x14000000:
        off = _sext(w & 0x3FFFFFF, 26) * 4
        return build("bl" if w >> 31 else "b", (Target((pc + off) & MASK64),), w)
    if (w & 0x7E000000) == 0x34000000:
        wide = bool(w >> 31)
        off = _sext((w >> 5) & 0x7FFFF, 19) * 4
        op = "cbnz" if (w >> 24) & 1 else "cbz"
        return build(op, (GReg(w & 31, wide), Target((pc + off) & MASK64)), w)
    if (w & 0xFF000010) == 0x54000000:  # b.cond
        off = _sext((w >> 5) & 0x7FFFF, 19) * 4
        return build(f"b.{CONDITIONS[w & 15]}", (Target((pc + off) & MASK64),), w)
    if (w & 0xFF9FFC1F) == 0xD61F0000:
        opc = (w >> 21) & 3
        rn = (w >> 5) & 31
        op = ("br", "blr", "ret")[opc] if opc < 3 else ""
        if not op:
            return None
        if rn == 31:
            return Unsupported(w, f"{op} xzr is outside the supported subset")
        return build(op, (_x(rn),), w)
    return None


def _decode_dp_imm(w: int, pc: int) -> Insn | Unsupported | None:
    wide = bool(w >> 31)
    rd = w & 31
    if (w & 0x1F000000) == 0x10000000:  # adr / adrp
        imm = _sext(((w >> 5) & 0x7FFFF) << 2 | ((w >> 29) & 3), 21)
        if w >> 31:
            target = ((pc & ~0xFFF) + (imm << 12)) & MASK64
            return build("adrp", (_x(rd), Target(target)), w)
        return build("adr", (_x(rd), Target((pc + imm) & MASK64)), w)
    if (w & 0x3F800000) == 0x11000000:  # add/sub (immediate), not setting flags
        sh = (w >> 22) & 1
        imm12 = (w >> 10) & 0xFFF
        rn = (w >> 5) & 31
        op = "sub" if (w >> 30) & 1 else "add"
        ops: tuple[Operand, ...] = (
            GReg(rd, wide, True),
            GReg(rn, wide, True),
            Imm(imm12, 12 if sh else 0),
        )
        return build(op, ops, w)
    if (w & 0x1F800000) == 0x12800000:  # move wide
        opc = (w >> 29) & 3
        hw = (w >> 21) & 3
        if opc in (0, 1):
            return Unsupported(w, "movn/unallocated move-wide is outside the subset")
        if not wide and hw >= 2:
            return Unsupported(w, "unallocated: 32-bit move-wide with hw >= 2")
        op = "movk" if opc == 3 else "movz"
        return build(op, (GReg(rd, wide), Imm((w >> 5) & 0xFFFF, hw * 16)), w)
    return None


def _decode_mov_reg(w: int) -> Insn | Unsupported | None:
    if (w & 0x7FE0FFE0) == 0x2A0003E0:
        wide = bool(w >> 31)
        return build("orr", (GReg(w & 31, wide), GReg((w >> 16) & 31, wide)), w)
    return None


def _decode_dp_reg(w: int) -> Insn | Unsupported | None:
    """Shifted-register ALU ops with LSL #0, compares and conditional selects."""
    wide = bool(w >> 31)
    rd, rn, rm = GReg(w & 31, wide), GReg((w >> 5) & 31, wide), GReg((w >> 16) & 31, wide)
    if (w & 0x1F000000) == 0x0A000000:  # logical (shifted register)
        opc = (w >> 29) & 3
        if (w >> 21) & 1 or opc == 3:
            return Unsupported(w, "bic/orn/eon/ands/tst are outside the subset")
        if (w >> 10) & 0x3F or (w >> 22) & 3:
            return Unsupported(w, "shifted-register operands are outside the subset")
        return build(("and", "orr_reg", "eor")[opc], (rd, rn, rm), w)
    if (w & 0x1F200000) == 0x0B000000:  # add/sub (shifted register)
        op = ("add", "adds", "sub", "subs")[(w >> 29) & 3]
        if (w >> 10) & 0x3F or (w >> 22) & 3:
            return Unsupported(w, "shifted-register operands are outside the subset")
        if op == "adds":
            return Unsupported(w, "adds/cmn are outside the subset")
        if op == "subs" and rd.num == 31:
            return build("subs_reg", (rd, rn, rm), w)  # cmp
        if rn.num == 31 or rd.num == 31:
            return Unsupported(w, "neg/negs and register 31 operands are outside the subset")
        return build(op + "_reg", (rd, rn, rm), w)
    if (w & 0x7F800000) == 0x71000000:  # subs (immediate)
        sh = (w >> 22) & 1
        ops = (rd, GReg((w >> 5) & 31, wide, True), Imm((w >> 10) & 0xFFF, 12 if sh else 0))
        return build("subs", ops, w)
    if (w & 0x3FE00000) == 0x1A800000:  # conditional select
        op2 = (w >> 10) & 3
        if (w >> 30) & 1 or op2 > 1:
            return Unsupported(w, "csinv/csneg are outside the subset")
        cond = Name(CONDITIONS[(w >> 12) & 15])
        return build("csinc" if op2 else "csel", (rd, rn, rm, cond), w)
    return None


def _decode_ldst(w: int, pc: int) -> Insn | Unsupported | None:
    rt = w & 31
    rn = (w >> 5) & 31
    if (w & 0x3F000000) == 0x18000000:  # load literal
        opc = w >> 30
        if opc > 1:
            return Unsupported(w, "ldrsw/prfm (literal) are outside the subset")
        off = _sext((w >> 5) & 0x7FFFF, 19) * 4
        return build("ldr_lit", (GReg(rt, bool(opc)), Target((pc + off) & MASK64)), w)
    if (w >> 25) == 0x54:  # stp/ldp 64-bit (opc=10, V=0)
        mode = {1: "post", 2: "offset", 3: "pre"}.get((w >> 23) & 3)
        if mode is None:
            return Unsupported(w, "stnp/ldnp are outside the subset")
        load = bool((w >> 22) & 1)
        rt2 = (w >> 10) & 31
        off = _sext((w >> 15) & 0x7F, 7) * 8
        if load and rt == rt2:
            return Unsupported(w, "constrained unpredictable: ldp with Rt == Rt2")
        if mode != "offset" and rn != 31 and rn in (rt, rt2):
            return Unsupported(w, "constrained unpredictable: pair writeback with Rt == Rn")
        mem = Mem(_x(rn, True), off, mode)
        return build("ldp" if load else "stp", (_x(rt), _x(rt2), mem), w)
    for op, pattern in (("ldar", 0x88DFFC00), ("stlr", 0x889FFC00), ("ldapr", 0xB8BFC000)):
        if (w & 0xBFFFFC00) == pattern:
            return build(op, (GReg(rt, bool((w >> 30) & 1)), Mem(_x(rn, True), 0, "offset")), w)
    size = w >> 30
    if size < 2:
        return None
    wide = size == 3
    scale = 8 if wide else 4
    if (w & 0x3F000000) == 0x39000000:  # unsigned offset
        opc = (w >> 22) & 3
        if opc > 1:
            return Unsupported(w, "ldrsw/prfm (immediate) are outside the subset")
        mem = Mem(_x(rn, True), ((w >> 10) & 0xFFF) * scale, "offset")
        return build("ldr" if opc else "str", (GReg(rt, wide), mem), w)
    if (w & 0x3F200000) == 0x38000000:  # imm9 forms
        opc = (w >> 22) & 3
        idx = (w >> 10) & 3
        if opc > 1:
            return Unsupported(w, "ldrsw/prfm are outside the subset")
        if idx == 2:
            return Unsupported(w, "unprivileged ldtr/sttr are outside the subset")
        load = bool(opc)
        mode = {0: "offset", 1: "post", 3: "pre"}[idx]
        if mode != "offset" and rn != 31 and rn == rt:
            return Unsupported(w, "constrained unpredictable: writeback with Rt == Rn")
        mem = Mem(_x(rn, True), _sext((w >> 12) & 0x1FF, 9), mode)
        if mode == "offset":
            op = "ldur" if load else "stur"
        else:
            op = "ldr" if load else "str"
        return build(op, (GReg(rt, wide), mem), w)
    return None


def decode(word: int, pc: int = 0) -> Insn | Unsupported:
    """Decode one 32-bit word at ``pc`` (PC-relative targets become absolute)."""
    w = word & 0xFFFFFFFF
    if w != word:
        return Unsupported(word, "not a 32-bit word")
    pc &= MASK64
    if (w >> 16) == 0:
        return Unsupported(w, "udf (permanently undefined)")
    for result in (
        _decode_hint_system(w),
        _decode_exception(w),
        _decode_branch(w, pc),
        _decode_dp_imm(w, pc),
        _decode_mov_reg(w),
        _decode_dp_reg(w),
        _decode_ldst(w, pc),
    ):
        if result is not None:
            return result
    return Unsupported(w, "outside the supported subset")


def disassemble(word: int, pc: int = 0) -> str:
    """Canonical text of ``word`` (``.inst 0x... (unsupported)`` when outside the subset)."""
    return decode(word, pc).text
