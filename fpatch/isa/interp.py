"""A concrete interpreter of the semantics IR.

Used by the enumerating checker, by counterexample replay and by the ISA unit
tests. It is deliberately plain Python over integers, with no solver, so that
it is an independent reading of the same IR the Z3 encoder translates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fpatch.isa.ir import (
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


@dataclass
class Machine:
    regs: dict[str, int]
    init_byte: Callable[[int], int]  # the byte at an address nobody wrote
    mem: dict[int, int] = field(default_factory=dict)  # bytes written so far
    stack_bytes: set[int] = field(default_factory=set)  # written through sp
    # A checker's say over a load (data words: the value depends on timing); None
    # from it, or no hook, reads memory as usual.
    on_load: Callable[[int, int], int | None] | None = field(default=None, compare=False)

    def load(self, addr: int, size: int) -> int:
        if self.on_load is not None:
            hooked = self.on_load(addr & MASK64, size)
            if hooked is not None:
                return hooked
        value = 0
        for k in range(size):
            a = (addr + k) & MASK64
            value |= self.mem.get(a, self.init_byte(a)) << (8 * k)
        return value

    def store(self, addr: int, value: int, size: int, stack: bool) -> None:
        for k in range(size):
            a = (addr + k) & MASK64
            self.mem[a] = (value >> (8 * k)) & 0xFF
            if stack:
                self.stack_bytes.add(a)

    def copy(self) -> Machine:
        return Machine(dict(self.regs), self.init_byte, dict(self.mem), set(self.stack_bytes))


@dataclass(frozen=True)
class Outcome:
    next_pc: int  # where execution goes next
    call: bool  # the jump was a call (bl/blr)
    trap: Trap | None
    isb: bool


def eval_expr(e: Expr, m: Machine) -> int:
    if isinstance(e, Const):
        return e.value & MASK64
    if isinstance(e, Reg):
        return m.regs[e.name]
    if isinstance(e, Add):
        return (eval_expr(e.a, m) + eval_expr(e.b, m)) & MASK64
    if isinstance(e, Sub):
        return (eval_expr(e.a, m) - eval_expr(e.b, m)) & MASK64
    if isinstance(e, And):
        return eval_expr(e.a, m) & eval_expr(e.b, m)
    if isinstance(e, Or):
        return eval_expr(e.a, m) | eval_expr(e.b, m)
    if isinstance(e, Xor):
        return eval_expr(e.a, m) ^ eval_expr(e.b, m)
    if isinstance(e, Shr):
        return eval_expr(e.a, m) >> e.amount
    if isinstance(e, Ite):
        return eval_expr(e.a, m) if eval_cond(e.cond, m) else eval_expr(e.b, m)
    if isinstance(e, Load):
        return m.load(eval_expr(e.addr, m), e.size)
    raise TypeError(e)


def eval_cond(c: Cond, m: Machine) -> bool:
    if isinstance(c, IsZero):
        return eval_expr(c.value, m) == 0
    if isinstance(c, NotZero):
        return eval_expr(c.value, m) != 0
    if isinstance(c, Ult):
        return eval_expr(c.a, m) < eval_expr(c.b, m)
    raise TypeError(c)


def execute(stmts: Iterable[Stmt], m: Machine, pc: int) -> Outcome:
    """Apply one instruction's statements to ``m`` (in place)."""
    next_pc = (pc + 4) & MASK64
    call = isb = False
    trap: Trap | None = None
    for s in stmts:
        if isinstance(s, SetReg):
            m.regs[s.name] = eval_expr(s.value, m)
        elif isinstance(s, Store):
            m.store(eval_expr(s.addr, m), eval_expr(s.value, m), s.size, s.stack)
        elif isinstance(s, Jump):
            next_pc = eval_expr(s.target, m)
            call = call or s.link
        elif isinstance(s, CondJump):
            if eval_cond(s.cond, m):
                next_pc = eval_expr(s.target, m)
        elif isinstance(s, Barrier):
            isb = isb or s.kind == "isb"
        elif isinstance(s, Trap):
            trap = s
        elif isinstance(s, Maintenance):
            pass
        elif isinstance(s, Fault):
            if eval_cond(s.cond, m):  # the instruction faults: nothing after it applies
                return Outcome(next_pc, call, Trap(s.kind, 0), isb)
        else:
            raise TypeError(s)
    return Outcome(next_pc, call, trap, isb)
