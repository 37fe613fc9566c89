"""Semantics on concrete values.

Each scenario runs through a minimal evaluator written here (an independent
reading of the IR contract) and, when available, through the project's
``fpatch.isa.interp``; both must give the expected machine state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import pytest

from fpatch.isa import Insn, assemble, decode, semantics
from fpatch.isa.ir import (
    MASK64,
    REGISTERS,
    Add,
    And,
    Barrier,
    CondJump,
    Const,
    Expr,
    IsZero,
    Jump,
    Load,
    NotZero,
    Or,
    Reg,
    SetReg,
    Stmt,
    Store,
    Sub,
    Trap,
)


@dataclass
class State:
    regs: dict[str, int] = field(default_factory=lambda: {r: 0 for r in REGISTERS})
    mem: dict[int, int] = field(default_factory=dict)  # byte-addressed
    stack_bytes: set[int] = field(default_factory=set)
    next_pc: int = 0
    call: bool = False
    trap: Trap | None = None
    barriers: list[Barrier] = field(default_factory=list)

    def load(self, addr: int, size: int) -> int:
        return sum(self.mem.get((addr + k) & MASK64, 0) << (8 * k) for k in range(size))

    def store(self, addr: int, value: int, size: int) -> None:
        for k in range(size):
            self.mem[(addr + k) & MASK64] = (value >> (8 * k)) & 0xFF


def _ev(e: Expr, s: State) -> int:
    if isinstance(e, Const):
        return e.value
    if isinstance(e, Reg):
        return s.regs[e.name]
    if isinstance(e, Add):
        return (_ev(e.a, s) + _ev(e.b, s)) & MASK64
    if isinstance(e, Sub):
        return (_ev(e.a, s) - _ev(e.b, s)) & MASK64
    if isinstance(e, And):
        return _ev(e.a, s) & _ev(e.b, s)
    if isinstance(e, Or):
        return _ev(e.a, s) | _ev(e.b, s)
    if isinstance(e, Load):
        return s.load(_ev(e.addr, s), e.size)
    raise TypeError(e)


def run_local(stmts: tuple[Stmt, ...], s: State, pc: int) -> None:
    """Statements in order, each against the current state; jumps only set next_pc."""
    s.next_pc = (pc + 4) & MASK64
    for st in stmts:
        if isinstance(st, SetReg):
            assert st.name in REGISTERS
            s.regs[st.name] = _ev(st.value, s)
        elif isinstance(st, Store):
            addr = _ev(st.addr, s)
            s.store(addr, _ev(st.value, s), st.size)
            if st.stack:
                s.stack_bytes.update(range(addr, addr + st.size))
        elif isinstance(st, Jump):
            s.next_pc, s.call = _ev(st.target, s), st.link
        elif isinstance(st, CondJump):
            c = st.cond
            v = _ev(c.value, s)
            if (v == 0) if isinstance(c, IsZero) else (v != 0 if isinstance(c, NotZero) else None):
                s.next_pc = _ev(st.target, s)
        elif isinstance(st, Barrier):
            s.barriers.append(st)
        elif isinstance(st, Trap):
            s.trap = st
        else:
            raise TypeError(st)


def run_interp(stmts: tuple[Stmt, ...], s: State, pc: int) -> None:
    """The same through fpatch.isa.interp, copying the result back into ``s``."""
    interp = pytest.importorskip("fpatch.isa.interp")
    if not hasattr(interp, "Machine") or not hasattr(interp, "execute"):
        pytest.skip("fpatch.isa.interp has no Machine/execute")
    mem = dict(s.mem)
    m = interp.Machine(dict(s.regs), lambda a: mem.get(a, 0))
    out = interp.execute(stmts, m, pc)
    s.regs = dict(m.regs)
    s.mem.update(m.mem)
    s.stack_bytes |= set(m.stack_bytes)
    s.next_pc, s.call, s.trap = out.next_pc, out.call, out.trap
    s.barriers.extend(st for st in stmts if isinstance(st, Barrier))


class Runner(Protocol):
    def __call__(self, text: str, s: State, pc: int = 0x1000) -> State: ...


@pytest.fixture(params=["local", "interp"])
def run(request: pytest.FixtureRequest) -> Runner:
    engine = run_local if request.param == "local" else run_interp

    def go(text: str, s: State, pc: int = 0x1000) -> State:
        word = assemble(text, pc)
        insn = decode(word, pc)
        assert isinstance(insn, Insn), insn
        engine(semantics(insn, pc), s, pc)
        return s

    return go


def st(**regs: int) -> State:
    s = State()
    s.regs.update(regs)
    return s


def test_stp_pre_index_pushes_frame(run: Runner) -> None:
    s = run("stp x29, x30, [sp, #-16]!", st(sp=0x8000, x29=0x1111, x30=0x2222))
    assert s.regs["sp"] == 0x8000 - 16
    assert s.load(0x8000 - 16, 8) == 0x1111
    assert s.load(0x8000 - 8, 8) == 0x2222
    assert s.stack_bytes == set(range(0x8000 - 16, 0x8000))


def test_ldp_post_index_restores(run: Runner) -> None:
    s = st(sp=0x7FF0)
    s.store(0x7FF0, 0xAAAA, 8)
    s.store(0x7FF8, 0xBBBB, 8)
    run("ldp x29, x30, [sp], #16", s)
    assert (s.regs["x29"], s.regs["x30"], s.regs["sp"]) == (0xAAAA, 0xBBBB, 0x8000)


def test_ldp_into_base_register_reads_old_base(run: Runner) -> None:
    s = st(x1=0x100)
    s.store(0x100, 0x5, 8)
    s.store(0x108, 0x6, 8)
    run("ldp x1, x2, [x1]", s)
    assert (s.regs["x1"], s.regs["x2"]) == (5, 6)
    s = st(x2=0x100)
    s.store(0x100, 0x5, 8)
    s.store(0x108, 0x6, 8)
    run("ldp x1, x2, [x2]", s)
    assert (s.regs["x1"], s.regs["x2"]) == (5, 6)


def test_str_ldr_forms(run: Runner) -> None:
    s = run("str x1, [x2, #8]!", st(x1=0x0123456789ABCDEF, x2=0x200))
    assert s.regs["x2"] == 0x208 and s.load(0x208, 8) == 0x0123456789ABCDEF
    assert not s.stack_bytes
    s = run("ldr w3, [x2], #-8", s)
    assert s.regs["w3".replace("w", "x")] == 0x89ABCDEF and s.regs["x2"] == 0x200
    s = run("ldur x4, [x2, #8]", s)
    assert s.regs["x4"] == 0x0123456789ABCDEF
    s = run("str w1, [sp, #4]", st(sp=0x300, x1=0xFFFF_FFFF_0000_0001))
    assert s.load(0x304, 4) == 1 and s.load(0x308, 1) == 0 and s.stack_bytes == set(range(0x304,
                                                                                           0x308))


def test_movk_keeps_other_bits(run: Runner) -> None:
    s = run("movk x1, #0xbeef, lsl #16", st(x1=0x1111_2222_3333_4444))
    assert s.regs["x1"] == 0x1111_2222_BEEF_4444
    s = run("movk w1, #0xbeef", st(x1=0x1111_2222_3333_4444))
    assert s.regs["x1"] == 0x3333_BEEF
    s = run("movz x1, #0xbeef, lsl #48", st(x1=0x1234))
    assert s.regs["x1"] == 0xBEEF_0000_0000_0000
    s = run("mov w1, #0xffff0000", st(x1=MASK64))
    assert s.regs["x1"] == 0xFFFF_0000


def test_w_results_zero_extend(run: Runner) -> None:
    s = run("mov w1, w2", st(x1=MASK64, x2=0xFFFF_FFFF_8000_0001))
    assert s.regs["x1"] == 0x8000_0001
    s = run("add w1, w2, #1", st(x2=0xFFFF_FFFF))
    assert s.regs["x1"] == 0
    s = run("sub w1, w2, #1", st(x2=0))
    assert s.regs["x1"] == 0xFFFF_FFFF
    s = run("sub x1, x2, #1, lsl #12", st(x2=0))
    assert s.regs["x1"] == MASK64 - 0xFFF


def test_zero_register_reads_zero_and_drops_writes(run: Runner) -> None:
    before = st(x1=7, sp=0x500)
    s = run("mov xzr, x1", before)
    assert s.regs == st(x1=7, sp=0x500).regs
    s = run("str xzr, [sp]", st(sp=0x500))
    assert s.load(0x500, 8) == 0 and 0x500 in s.mem
    s = run("mov x1, xzr", st(x1=9))
    assert s.regs["x1"] == 0


def test_mov_to_and_from_sp(run: Runner) -> None:
    assert run("mov x29, sp", st(sp=0x8000)).regs["x29"] == 0x8000
    assert run("mov sp, x1", st(x1=0x9000)).regs["sp"] == 0x9000
    assert run("add sp, sp, #0x10", st(sp=0x8000)).regs["sp"] == 0x8010


def test_calls_and_returns(run: Runner) -> None:
    s = run("bl 0x2000", st(), pc=0x1000)
    assert (s.next_pc, s.call, s.regs["x30"]) == (0x2000, True, 0x1004)
    s = run("blr x30", st(x30=0x3000), pc=0x1000)
    assert (s.next_pc, s.call, s.regs["x30"]) == (0x3000, True, 0x1004)
    s = run("blr x5", st(x5=0x4000), pc=0x1000)
    assert (s.next_pc, s.regs["x30"]) == (0x4000, 0x1004)
    s = run("ret", st(x30=0x5000))
    assert (s.next_pc, s.call) == (0x5000, False)
    assert run("ret x7", st(x7=0x6000)).next_pc == 0x6000
    assert run("br x9", st(x9=0x7000)).next_pc == 0x7000
    assert run("b .-8", st(), pc=0x1000).next_pc == 0xFF8


def test_cbz_cbnz(run: Runner) -> None:
    assert run("cbz x1, 0x1100", st(x1=0)).next_pc == 0x1100
    assert run("cbz x1, 0x1100", st(x1=1)).next_pc == 0x1004
    assert run("cbz w1, 0x1100", st(x1=1 << 32)).next_pc == 0x1100  # only the low 32 bits
    assert run("cbnz w1, 0x1100", st(x1=1 << 32)).next_pc == 0x1004
    assert run("cbnz x1, 0x1100", st(x1=1 << 32)).next_pc == 0x1100


def test_adr_adrp_and_literal(run: Runner) -> None:
    assert run("adr x1, .+5", st(), pc=0x1234).regs["x1"] == 0x1239
    assert run("adrp x1, 0x5678", st(), pc=0x1234).regs["x1"] == 0x5000
    assert run("adrp x1, .-0x2000", st(), pc=0x1234).regs["x1"] == MASK64 + 1 - 0x1000
    s = State()
    s.store(0x1100, 0x1122334455667788, 8)
    assert run("ldr x2, 0x1100", s).regs["x2"] == 0x1122334455667788
    assert run("ldr w2, 0x1100", s).regs["x2"] == 0x55667788


def test_barriers_traps_and_hints(run: Runner) -> None:
    assert run("isb", st()).barriers == [Barrier("isb")]
    assert run("dsb ish", st()).barriers == [Barrier("dsb", "ish")]
    assert run("dmb ishld", st()).barriers == [Barrier("dmb", "ishld")]
    assert run("brk #0x800", st()).trap == Trap("brk", 0x800)
    assert run("svc #0", st()).trap == Trap("svc", 0)
    for text in ("nop", "bti", "bti c", "paciasp", "autiasp"):
        s = run(text, st(x30=0x1234))
        assert s.regs == st(x30=0x1234).regs and s.next_pc == 0x1004


def test_blr_x30_jump_is_emitted_before_link_write() -> None:
    insn = decode(assemble("blr x30"))
    assert isinstance(insn, Insn)
    stmts = semantics(insn, 0)
    assert stmts == (Jump(Reg("x30"), link=True), SetReg("x30", Const(4)))


def test_stack_flag_only_for_sp_base() -> None:
    for text, stack in (("stp x1, x2, [sp]", True), ("str x1, [x2]", False),
                        ("stur w1, [sp, #-4]", True)):
        insn = decode(assemble(text))
        assert isinstance(insn, Insn)
        stores = [s for s in semantics(insn, 0) if isinstance(s, Store)]
        assert stores and all(s.stack == stack for s in stores)
