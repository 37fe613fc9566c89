"""Events of a candidate execution, and how one thread's run produces them.

This is the vocabulary of the axiomatic model (fpatch/arch/model.py): an
execution is a set of events (instruction fetches, explicit reads and writes,
cache maintenance, barriers, initial writes) with the relations a thread's
program text fixes (program order, the instruction an event belongs to,
address/data/control dependencies). The relations that the memory system
chooses (reads-from, coherence, the order of cache maintenance against fetches
and writes) are not here: the evaluators choose them.

A thread's run is computed with concrete values and a *choice* for every value
the memory system supplies (each load and each fetch of a written code word),
so a run is a path through the program; registers carry the set of reads their
value was computed from, which is exactly herd's register data-flow ``dd``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from fpatch.isa import Insn, decode
from fpatch.isa.ir import (
    MASK64,
    Add,
    And,
    Barrier,
    Cond,
    CondJump,
    Const,
    Expr,
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

# Event kinds. "IW" is the initial write of a location (no thread).
IW, FETCH, READ, WRITE, DC, IC, DMB, DSB, ISB = "IW", "F", "R", "W", "DC", "IC", "DMB", "DSB", "ISB"

# Barrier classes (herd's aarch64fences.cat): one inner-shareable domain, so the
# ISH, OSH and SY options are the same barrier; a DSB is also a DMB of its class.
_FULL = frozenset({"sy", "ish", "osh", "nsh"})
_LD = frozenset({"ld", "ishld", "oshld", "nshld"})
_ST = frozenset({"st", "ishst", "oshst", "nshst"})


class Unsupported(Exception):
    """The program does something the model does not state (answer: unsupported)."""


@dataclass(frozen=True)
class Event:
    eid: int
    tid: int  # -1: an initial write
    kind: str
    loc: int | None = None  # byte address; None: barriers, IC IALLU/IALLUIS
    value: int = 0
    size: int = 4
    opt: str = ""  # barrier option; IC/DC operation; "A"/"Q" acquire, "L" release
    instr: int = -1  # the index of the dynamic instruction in its thread's run
    text: str = ""  # the instruction, for explanations

    @property
    def explicit(self) -> bool:
        """herd's Exp & M (initial writes count as explicit writes)."""
        return self.kind in (READ, WRITE, IW)

    def barrier_class(self) -> str:
        """'full', 'ld' or 'st' for DMB/DSB; '' otherwise."""
        if self.kind not in (DMB, DSB):
            return ""
        if self.opt in _FULL:
            return "full"
        if self.opt in _LD:
            return "ld"
        if self.opt in _ST:
            return "st"
        raise Unsupported(f"barrier option {self.opt!r} is not modelled")


@dataclass
class Run:
    """One path of one thread: its events in program order and its dependencies."""

    tid: int
    events: list[Event] = field(default_factory=list)
    addr: set[tuple[int, int]] = field(default_factory=set)  # read -> access/DC/IC
    data: set[tuple[int, int]] = field(default_factory=set)  # read -> write
    ctrl: set[tuple[int, int]] = field(default_factory=set)  # read -> every later event
    regs: dict[str, int] = field(default_factory=dict)  # final register values
    choices: tuple[int, ...] = ()
    pcs: set[int] = field(default_factory=set)  # code addresses executed


MAX_INSTRUCTIONS = 256


class _NeedChoice(Exception):
    def __init__(self, options: list[int]) -> None:
        self.options = options


@dataclass
class ThreadProgram:
    """What a thread runs: its start, where runs end, the code and initial registers."""

    tid: int
    start: int
    ends: frozenset[int]
    code: Mapping[int, int]  # address -> initial word, for every thread's code
    regs: Mapping[str, int]


def runs_of(p: ThreadProgram, written_code: frozenset[int],
            values: Callable[[int, int], list[int]], first_eid: int) -> list[Run]:
    """Every path of thread ``p``: ``values(loc, size)`` lists the values a read of
    ``loc`` may return (the initial value and every value stored there), and a fetch
    of a code word in ``written_code`` is an event whose value is chosen the same way."""
    out: list[Run] = []
    todo: list[tuple[int, ...]] = [()]
    while todo:
        prefix = todo.pop()
        try:
            run = _run(p, prefix, written_code, values, first_eid)
        except _NeedChoice as c:
            todo.extend(prefix + (v,) for v in reversed(c.options))
            continue
        out.append(run)
        if len(out) > 4096:
            raise Unsupported(f"P{p.tid} has more than 4096 paths")
    return out


def _run(p: ThreadProgram, choices: tuple[int, ...], written_code: frozenset[int],
         values: Callable[[int, int], list[int]], first_eid: int) -> Run:
    run = Run(p.tid, choices=choices)
    regs: dict[str, tuple[int, frozenset[int]]] = {r: (0, frozenset()) for r in _ALL_REGS}
    for r, v in p.regs.items():
        regs[r] = (v & MASK64, frozenset())
    ctrl: set[int] = set()  # reads that decided a branch so far
    # Registers whose value was picked by a CSEL-like select on a condition computed
    # from reads: herd orders such pick dependencies (pob) differently from plain
    # data flow, which the model does not state; using one as an address or a
    # branch target is unsupported rather than guessed.
    picked: set[str] = set()
    pick_seen = False
    pos = 0
    pc = p.start
    eid = first_eid

    def choose(options: list[int]) -> int:
        nonlocal pos
        if pos < len(choices):
            pos += 1
            return choices[pos - 1]
        raise _NeedChoice(options)

    def emit(instr: int, kind: str, text: str, **kw: object) -> Event:
        nonlocal eid
        e = Event(eid, p.tid, kind, instr=instr, text=text, **kw)  # type: ignore[arg-type]
        eid += 1
        run.events.append(e)
        run.ctrl.update((r, e.eid) for r in ctrl)
        return e

    for n in range(MAX_INSTRUCTIONS + 1):
        if pc in p.ends:
            break
        if n == MAX_INSTRUCTIONS:
            raise Unsupported(f"P{p.tid} runs more than {MAX_INSTRUCTIONS} instructions "
                              "(a loop); unbounded runs are not modelled")
        run.pcs.add(pc)
        if pc not in p.code:
            raise Unsupported(f"P{p.tid} executes 0x{pc:x}, outside every thread's code")
        word = p.code[pc]
        if pc in written_code:
            word = choose(values(pc, 4))
            emit(n, FETCH, f"fetch 0x{pc:x}", loc=pc, value=word, size=4)
        insn, stmts = _decoded(word, pc)
        if insn is None:
            raise Unsupported(f"P{p.tid} can execute 0x{word:08x} at 0x{pc:x}, which is not "
                              "a supported instruction (an undefined-instruction exception; "
                              "faults are not modelled)")
        text = insn.text

        def ev(e: Expr, _n: int = n, _text: str = text,
               _op: str = insn.op) -> tuple[int, frozenset[int]]:
            """Value of an expression and the reads it depends on (loads become events)."""
            if isinstance(e, Const):
                return e.value & MASK64, frozenset()
            if isinstance(e, Reg):
                return regs[e.name]
            if isinstance(e, Load):
                a, ad = ev(e.addr)
                v = choose(values(a, e.size))
                r = emit(_n, READ, _text, loc=a, value=v, size=e.size, opt=e.order)
                run.addr.update((d, r.eid) for d in ad)
                return v, frozenset({r.eid})
            if isinstance(e, Shr):
                a, ad = ev(e.a)
                return a >> e.amount, ad
            if isinstance(e, Ite):
                nonlocal pick_seen
                c, cd = ec(e.cond)
                pick_seen = pick_seen or (bool(cd) and _op in ("csel", "csinc"))
                x, xd = ev(e.a) if c else ev(e.b)
                return x, xd | cd
            assert isinstance(e, (Add, Sub, And, Or, Xor))
            (a, ad), (b, bd) = ev(e.a), ev(e.b)
            return _BIN[type(e)](a, b) & MASK64, ad | bd

        def ec(c: Cond) -> tuple[bool, frozenset[int]]:
            if isinstance(c, IsZero):
                v, d = ev(c.value)
                return v == 0, d
            if isinstance(c, NotZero):
                v, d = ev(c.value)
                return v != 0, d
            assert isinstance(c, Ult)
            (a, ad), (b, bd) = ev(c.a), ev(c.b)
            return a < b, ad | bd

        def no_pick(e: Expr | Cond | None, what: str, _text: str = text) -> None:
            if e is not None and _regs_in(e) & picked:
                raise Unsupported(f"P{p.tid}: `{_text}` uses a register picked by a select on a "
                                  f"loaded value as {what} (a pick dependency; not modelled)")

        next_pc = (pc + 4) & MASK64
        for s in stmts:
            for a_expr in _addresses(s):
                no_pick(a_expr, "an address")
            if isinstance(s, SetReg):
                pick_seen = False
                regs[s.name] = ev(s.value)
                if pick_seen or _regs_in(s.value) & picked:
                    picked.add(s.name)
                else:
                    picked.discard(s.name)
            elif isinstance(s, Store):
                a, ad = ev(s.addr)
                v, vd = ev(s.value)
                mask = (1 << (8 * s.size)) - 1
                w = emit(n, WRITE, text, loc=a, value=v & mask, size=s.size, opt=s.order)
                run.addr.update((d, w.eid) for d in ad)
                run.data.update((d, w.eid) for d in vd)
            elif isinstance(s, Jump):
                no_pick(s.target, "a branch target")
                t, td = ev(s.target)
                next_pc = t
                ctrl.update(td)
            elif isinstance(s, CondJump):
                no_pick(s.cond, "a branch condition")
                c, cd = ec(s.cond)
                t, _ = ev(s.target)
                if c:
                    next_pc = t
                ctrl.update(cd)
            elif isinstance(s, Barrier):
                kind = {"isb": ISB, "dsb": DSB, "dmb": DMB}[s.kind]
                e = emit(n, kind, text, opt=s.option)
                e.barrier_class()  # rejects options the model does not state
            elif isinstance(s, Maintenance):
                no_pick(s.addr, "a cache-maintenance address")
                op = s.op
                if op not in ("dc_cvau", "ic_ivau", "ic_iallu", "ic_ialluis"):
                    raise Unsupported(f"P{p.tid}: `{text}` is not modelled")
                loc = None
                if s.addr is not None:
                    loc, ad = ev(s.addr)
                else:
                    ad = frozenset()
                m = emit(n, DC if op.startswith("dc") else IC, text, loc=loc, opt=op[3:])
                run.addr.update((d, m.eid) for d in ad)
            elif isinstance(s, Trap):
                raise Unsupported(f"P{p.tid} executes `{text}`: exceptions are not modelled")
            else:  # pragma: no cover - every IR statement is handled above
                raise TypeError(s)
        pc = next_pc
    run.regs = {r: v for r, (v, _) in regs.items()}
    if pos != len(choices):  # pragma: no cover - a path is replayed exactly
        raise AssertionError("choices left over")
    return run


@lru_cache(maxsize=65536)
def _decoded(word: int, pc: int) -> tuple[Insn | None, tuple[Stmt, ...]]:
    from fpatch.isa import semantics  # on first use (start-up time, bench/startup.py)

    insn = decode(word, pc)
    if not isinstance(insn, Insn):
        return None, ()
    return insn, semantics(insn, pc)


@lru_cache(maxsize=65536)
def _regs_in(e: object) -> frozenset[str]:
    if isinstance(e, Reg):
        return frozenset({e.name})
    out: set[str] = set()
    for f in ("a", "b", "addr", "value", "cond", "target"):
        if hasattr(e, f):
            out |= _regs_in(getattr(e, f))
    return frozenset(out)


@lru_cache(maxsize=65536)
def _addresses(s: object) -> list[Expr]:
    """Address expressions of the loads and stores in a statement."""
    out: list[Expr] = []
    if isinstance(s, (Store, Load)):
        out.append(s.addr)
    for f in ("a", "b", "value", "cond", "target", "addr"):
        if hasattr(s, f) and not (f == "addr" and isinstance(s, (Store, Load, Maintenance))):
            out += _addresses(getattr(s, f))
    return out


_ALL_REGS = tuple(f"x{i}" for i in range(31)) + ("sp", "nzcv")
_BIN: dict[type, Callable[[int, int], int]] = {
    Add: lambda a, b: a + b, Sub: lambda a, b: a - b, And: lambda a, b: a & b,
    Or: lambda a, b: a | b, Xor: lambda a, b: a ^ b,
}
