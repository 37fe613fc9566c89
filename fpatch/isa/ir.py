"""Instruction semantics as plain data (a tiny IR).

The ISA layer describes what an instruction does with these records; the Z3
encoder and the concrete interpreter (`fpatch.isa.interp`) each give them a
meaning. Keeping semantics as data is what lets two independent checkers share
one description of the instructions without either importing the other's
machinery (and keeps z3 out of the ISA layer).

Registers are named ``x0``..``x30`` and ``sp``; every value is 64 bits wide and
arithmetic wraps modulo 2**64. ``nzcv`` is a pseudo-register holding the
condition flags where the architecture keeps them (N bit 31, Z 30, C 29, V 28),
so flag-setting and flag-reading instructions need no separate state. ``xzr``
never appears: reads of it are ``Const(0)`` and writes to it are dropped by
the semantics builder.
"""

from __future__ import annotations

from dataclasses import dataclass

MASK64 = (1 << 64) - 1

REGISTERS: tuple[str, ...] = tuple(f"x{i}" for i in range(31)) + ("sp", "nzcv")

# Pseudo-registers of pointer authentication (env.pac, docs/model.md "PAC"): the
# run's last signature, abstractly: the key (0 none, 1 A, 2 B), the x30 it signed
# and the sp modifier. Not architectural registers, so not in REGISTERS: every run
# and every valid execution starts with them 0 (PAC_INITIAL), nothing compares them.
PAC_STATE: tuple[str, ...] = ("pac_key", "pac_x30", "pac_sp")
PAC_INITIAL: dict[str, int] = {r: 0 for r in PAC_STATE}

# NZCV flag bits inside the ``nzcv`` pseudo-register.
FLAG_N, FLAG_Z, FLAG_C, FLAG_V = 1 << 31, 1 << 30, 1 << 29, 1 << 28


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Const:
    value: int  # 0 <= value < 2**64


@dataclass(frozen=True)
class Reg:
    name: str  # one of REGISTERS


@dataclass(frozen=True)
class Add:
    a: Expr
    b: Expr


@dataclass(frozen=True)
class Sub:
    a: Expr
    b: Expr


@dataclass(frozen=True)
class And:
    a: Expr
    b: Expr


@dataclass(frozen=True)
class Or:
    a: Expr
    b: Expr


@dataclass(frozen=True)
class Xor:
    a: Expr
    b: Expr


@dataclass(frozen=True)
class Shr:
    """Logical shift right by a constant amount (0..63)."""

    a: Expr
    amount: int


@dataclass(frozen=True)
class Ite:
    """``a`` if ``cond`` holds, else ``b`` (flag results, ``csel``/``cset``)."""

    cond: Cond
    a: Expr
    b: Expr


@dataclass(frozen=True)
class Load:
    """Little-endian load of ``size`` bytes (1, 2, 4 or 8), zero-extended."""

    addr: Expr
    size: int
    order: str = ""  # "A": acquire (ldar), "Q": acquire-PC (ldapr); "" plain


Expr = Const | Reg | Add | Sub | And | Or | Xor | Shr | Ite | Load


# ----------------------------------------------------------------- conditions


@dataclass(frozen=True)
class IsZero:
    value: Expr


@dataclass(frozen=True)
class NotZero:
    value: Expr


@dataclass(frozen=True)
class Ult:
    """Unsigned ``a < b`` (the carry flag of a subtraction)."""

    a: Expr
    b: Expr


Cond = IsZero | NotZero | Ult


# ----------------------------------------------------------------- statements
# Statements of one instruction are applied in order; each reads the machine
# state as left by the previous statement of the same instruction. Semantics
# builders place reads before writes where the architecture reads all
# operands first (e.g. ``ldp`` with writeback).


@dataclass(frozen=True)
class SetReg:
    name: str
    value: Expr


@dataclass(frozen=True)
class Store:
    """Little-endian store of the low ``size`` bytes of ``value``."""

    addr: Expr
    value: Expr
    size: int
    stack: bool = False  # address computed from sp (see docs/model.md, memory)
    order: str = ""  # "L": release (stlr); "" plain


@dataclass(frozen=True)
class Jump:
    """Set the next PC; ``link`` marks a call (``bl``/``blr``)."""

    target: Expr
    link: bool = False


@dataclass(frozen=True)
class CondJump:
    cond: Cond
    target: Expr


@dataclass(frozen=True)
class Barrier:
    """``isb`` (a context synchronization event), ``dsb``, ``dmb``."""

    kind: str  # "isb" | "dsb" | "dmb"
    option: str = ""


@dataclass(frozen=True)
class Trap:
    """An exception-generating instruction: the run leaves the site."""

    kind: str  # "brk" | "svc" | "hvc" | "smc" | "udf"
    imm: int


@dataclass(frozen=True)
class Maintenance:
    """Cache maintenance executed by an observer (``dc cvau``, ``ic ivau``...)."""

    op: str
    addr: Expr | None


@dataclass(frozen=True)
class Fault:
    """The instruction faults when ``cond`` holds (an ``aut*`` whose signature does not
    match, with env.pac): the run leaves the site at the instruction, like a trap."""

    cond: Cond
    kind: str  # "pac"


Stmt = SetReg | Store | Jump | CondJump | Barrier | Trap | Maintenance | Fault


def const(value: int) -> Const:
    return Const(value & MASK64)
