"""Instruction semantics as IR statements (see ``fpatch.isa.ir``).

Evaluation contract (shared by every consumer of the IR):

* Statements are applied in order; every expression is evaluated against the
  machine state at the moment its statement is applied (so a later statement
  sees the register writes of earlier ones).
* ``Jump``/``CondJump`` only record the next PC; they do not end the
  statement list. When no jump is taken the next PC is ``pc + 4``.
* Because the IR has no temporaries, the builders order statements so that
  every architectural read happens before the write that would clobber it:
  ``blr x30`` emits its ``Jump(Reg("x30"))`` *before* ``SetReg("x30", pc+4)``;
  ``ldp`` loads into the base register last and writes the base back after
  both loads.
* Pointer authentication (``pac=True``, the spec's env.pac) is abstract:
  ``paciasp``/``pacibsp`` record (key, x30, sp) in the pseudo-registers
  ``PAC_STATE`` and leave x30 as it is; ``autiasp``/``autibsp`` fault (``Fault``)
  unless the record holds their key, the current x30 and the current sp, then
  consume it. With ``pac=False`` they are hints (no-ops), like ``nop`` and ``bti``.
"""

from __future__ import annotations

from fpatch.isa.insn import GReg, Imm, Insn, Mem, Name, Target
from fpatch.isa.ir import (
    FLAG_C,
    FLAG_N,
    FLAG_V,
    FLAG_Z,
    MASK64,
    Add,
    And,
    Barrier,
    Cond,
    CondJump,
    Const,
    Expr,
    Fault,
    IsZero,
    Ite,
    Jump,
    Load,
    Maintenance,
    NotZero,
    Or,
    Reg,
    SetReg,
    Shr,
    Stmt,
    Store,
    Sub,
    Trap,
    Ult,
    Xor,
)

MASK32 = 0xFFFFFFFF


def _src(r: GReg) -> Expr:
    """The full 64-bit register (Const(0) for the zero register); callers mask W views."""
    name = r.xname
    return Const(0) if name is None else Reg(name)


def _val(r: GReg) -> Expr:
    """The operand value at its width: W registers read as their low 32 bits."""
    e = _src(r)
    if r.wide or isinstance(e, Const):
        return e
    return And(e, Const(MASK32))


def _write(r: GReg, value: Expr, already_extended: bool = False) -> tuple[Stmt, ...]:
    """Write a result; W results are zero-extended, writes to the zero register dropped."""
    name = r.xname
    if name is None:
        return ()
    if not r.wide and not already_extended:
        value = And(value, Const(MASK32))
    return (SetReg(name, value),)


def _offset(base: Expr, off: int) -> Expr:
    if off == 0:
        return base
    if off < 0:
        return Sub(base, Const(-off))
    return Add(base, Const(off))


def _target(o: object) -> int:
    assert isinstance(o, Target)
    return o.addr


def _sub_flags(a: Expr, b: Expr, wide: bool) -> tuple[Expr, Expr]:
    """(result, nzcv) of ``a - b`` at the operand width (a, b already zero-extended)."""
    top = 63 if wide else 31
    res: Expr = Sub(a, b) if wide else And(Sub(a, b), Const(MASK32))
    sign = Const(1 << top)
    n: Expr = Shr(And(res, sign), top - 31)
    z: Expr = Ite(IsZero(res), Const(FLAG_Z), Const(0))
    c: Expr = Ite(Ult(a, b), Const(0), Const(FLAG_C))
    v: Expr = Shr(And(And(Xor(a, b), Xor(a, res)), sign), top - 28)
    return res, Or(Or(n, z), Or(c, v))


_NZCV = Reg("nzcv")


def flag_cond(name: str) -> Cond | None:
    """The condition ``name`` over the ``nzcv`` pseudo-register; None means always."""
    f = _NZCV
    n_eq_v = Xor(f, Shr(f, 3))  # bit 28: N != V
    table: dict[str, Cond] = {
        "eq": NotZero(And(f, Const(FLAG_Z))),
        "cs": NotZero(And(f, Const(FLAG_C))),
        "mi": NotZero(And(f, Const(FLAG_N))),
        "vs": NotZero(And(f, Const(FLAG_V))),
        # hi: C set and Z clear, i.e. (f & (C|Z)) == C
        "hi": IsZero(Xor(And(f, Const(FLAG_C | FLAG_Z)), Const(FLAG_C))),
        "ge": IsZero(And(n_eq_v, Const(FLAG_V))),
        # gt: Z clear and N == V: bit 28 of (N^V) | (Z >> 2) is clear
        "gt": IsZero(And(Or(n_eq_v, Shr(f, 2)), Const(FLAG_V))),
    }
    inverse = {"ne": "eq", "cc": "cs", "pl": "mi", "vc": "vs", "ls": "hi", "lt": "ge", "le": "gt"}
    if name in ("al", "nv"):
        return None
    if name in table:
        return table[name]
    c = table[inverse[name]]
    if isinstance(c, IsZero):
        return NotZero(c.value)
    assert isinstance(c, NotZero)
    return IsZero(c.value)


def _mem_access(insn: Insn) -> tuple[Stmt, ...]:
    op = insn.op
    if op in ("stp", "ldp"):
        rt, rt2, mem = insn.operands
        assert isinstance(rt, GReg) and isinstance(rt2, GReg)
        regs = [(rt, 0), (rt2, 8)]
        size = 8
    else:
        rt, mem = insn.operands
        assert isinstance(rt, GReg)
        regs = [(rt, 0)]
        size = 8 if rt.wide else 4
    assert isinstance(mem, Mem)
    base_name = mem.base.xname
    assert base_name is not None
    base = Reg(base_name)
    first = 0 if mem.mode == "post" else mem.offset
    stack = base_name == "sp"
    out: list[Stmt] = []
    if op in ("stp", "str", "stur"):
        for r, delta in regs:
            out.append(Store(_offset(base, first + delta), _val(r), size, stack))
    else:
        # Load into the base register last so the other load still sees the old base
        # (writeback forms with Rt == Rn are rejected by the decoder as unpredictable).
        regs.sort(key=lambda rd: rd[0].xname == base_name)
        for r, delta in regs:
            out.extend(_write(r, Load(_offset(base, first + delta), size), already_extended=True))
    if mem.mode != "offset":
        out.append(SetReg(base_name, _offset(base, mem.offset)))
    return tuple(out)


_PAC_KEYS = {"paciasp": 1, "pacibsp": 2, "autiasp": 1, "autibsp": 2}


def _pac(op: str) -> tuple[Stmt, ...]:
    """Abstract pointer authentication with sp as the modifier (docs/model.md, PAC)."""
    key = _PAC_KEYS[op]
    if op.startswith("pac"):
        # Signing an already signed x30 is not modelled (its PAC bits are not
        # represented): fault, which can only report more (docs/model.md, PAC).
        return (Fault(NotZero(Reg("pac_key")), "pac"),
                SetReg("pac_key", Const(key)), SetReg("pac_x30", Reg("x30")),
                SetReg("pac_sp", Reg("sp")))
    mismatch = Or(Xor(Reg("pac_key"), Const(key)),
                  Or(Xor(Reg("pac_x30"), Reg("x30")), Xor(Reg("pac_sp"), Reg("sp"))))
    return (Fault(NotZero(mismatch), "pac"), SetReg("pac_key", Const(0)))


def semantics(insn: Insn, pc: int, pac: bool = False) -> tuple[Stmt, ...]:
    """The IR statements for ``insn`` executed at ``pc`` (``pac``: env.pac is on)."""
    op = insn.op
    ops = insn.operands
    pc &= MASK64
    if op in _PAC_KEYS:
        return _pac(op) if pac else ()
    if op in ("nop", "bti"):
        return ()
    if op == "b":
        return (Jump(Const(_target(ops[0]))),)
    if op == "bl":
        return (SetReg("x30", Const((pc + 4) & MASK64)), Jump(Const(_target(ops[0])), link=True))
    if op in ("br", "blr", "ret"):
        r = ops[0]
        assert isinstance(r, GReg)
        jump = Jump(_src(r), link=op == "blr")
        if op == "blr":  # jump target read before x30 is overwritten
            return (jump, SetReg("x30", Const((pc + 4) & MASK64)))
        return (jump,)
    if op in ("cbz", "cbnz"):
        r = ops[0]
        assert isinstance(r, GReg)
        cond = IsZero(_val(r)) if op == "cbz" else NotZero(_val(r))
        return (CondJump(cond, Const(_target(ops[1]))),)
    if op == "orr":  # mov (register)
        rd, rm = ops
        assert isinstance(rd, GReg) and isinstance(rm, GReg)
        return _write(rd, _val(rm), already_extended=True)
    if op in ("add", "sub"):
        rd, rn, imm = ops
        assert isinstance(rd, GReg) and isinstance(rn, GReg) and isinstance(imm, Imm)
        value = imm.value << imm.shift
        src = _src(rn)
        if value == 0:
            return _write(rd, src)
        expr: Expr = Add(src, Const(value)) if op == "add" else Sub(src, Const(value))
        return _write(rd, expr)
    if op in ("movz", "movk"):
        rd, imm = ops
        assert isinstance(rd, GReg) and isinstance(imm, Imm)
        value = imm.value << imm.shift
        if op == "movz":
            return _write(rd, Const(value), already_extended=True)
        keep = ~(0xFFFF << imm.shift) & (MASK64 if rd.wide else MASK32)
        return _write(rd, Or(And(_src(rd), Const(keep)), Const(value)), already_extended=True)
    if op in ("stp", "ldp", "str", "ldr", "stur", "ldur"):
        return _mem_access(insn)
    if op in ("ldar", "ldapr", "stlr"):
        rt, mem = ops
        assert isinstance(rt, GReg) and isinstance(mem, Mem) and mem.base.xname is not None
        size = 8 if rt.wide else 4
        if op == "stlr":
            return (Store(Reg(mem.base.xname), _val(rt), size, mem.base.xname == "sp", "L"),)
        load = Load(Reg(mem.base.xname), size, "A" if op == "ldar" else "Q")
        return _write(rt, load, already_extended=True)
    if op == "ldr_lit":
        rt = ops[0]
        assert isinstance(rt, GReg)
        return _write(rt, Load(Const(_target(ops[1])), 8 if rt.wide else 4), already_extended=True)
    if op in ("adr", "adrp"):
        rd = ops[0]
        assert isinstance(rd, GReg)
        return _write(rd, Const(_target(ops[1])))
    if op.startswith("b."):
        bcond = flag_cond(op[2:])
        target = Const(_target(ops[0]))
        return (Jump(target),) if bcond is None else (CondJump(bcond, target),)
    if op in ("add_reg", "sub_reg", "and", "orr_reg", "eor"):
        rd, rn, rm = ops
        assert isinstance(rd, GReg) and isinstance(rn, GReg) and isinstance(rm, GReg)
        a, b = _src(rn), _src(rm)
        alu: Expr
        if op == "add_reg":
            alu = Add(a, b)
        elif op == "sub_reg":
            alu = Sub(a, b)
        elif op == "and":
            alu = And(a, b)
        elif op == "orr_reg":
            alu = Or(a, b)
        else:
            alu = Xor(a, b)
        return _write(rd, alu)
    if op in ("subs", "subs_reg"):
        rd, rn, op2 = ops
        assert isinstance(rd, GReg) and isinstance(rn, GReg)
        if isinstance(op2, Imm):
            rhs: Expr = Const(op2.value << op2.shift)
        else:
            assert isinstance(op2, GReg)
            rhs = _val(op2)
        res, nzcv = _sub_flags(_val(rn), rhs, rd.wide)
        return (SetReg("nzcv", nzcv),) + _write(rd, res, already_extended=True)
    if op in ("csel", "csinc"):
        rd, rn, rm, cname = ops
        assert isinstance(rd, GReg) and isinstance(rn, GReg) and isinstance(rm, GReg)
        assert isinstance(cname, Name)
        other: Expr = _src(rm) if op == "csel" else Add(_src(rm), Const(1))
        sel = flag_cond(cname.value)
        return _write(rd, _src(rn) if sel is None else Ite(sel, _src(rn), other))
    if op in ("dc", "ic"):
        kind = ops[0]
        assert isinstance(kind, Name)
        addr: Expr | None = None
        if len(ops) > 1:
            r = ops[1]
            assert isinstance(r, GReg)
            addr = _src(r)
        return (Maintenance(f"{op}_{kind.value}", addr),)
    if op == "isb":
        return (Barrier("isb"),)
    if op in ("dsb", "dmb"):
        opt = ops[0]
        assert isinstance(opt, Name)
        return (Barrier(op, opt.value),)
    if op in ("brk", "svc", "hvc", "smc"):
        imm = ops[0]
        assert isinstance(imm, Imm)
        return (Trap(op, imm.value),)
    raise ValueError(f"no semantics for {insn.text!r} (op {op!r})")
