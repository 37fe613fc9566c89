"""The Z3 encoding: observer runs against the patcher's timeline, as constraints.

This is the only package that imports z3 (with ``extract.py``). It reads the
plain model (``Timeline``, ``SlotHistory``, the ISA's IR) and answers with
``fpatch.verdict`` records, so no solver object leaves it.

The search is split in two, because the two halves have nothing in common
but the sequence of words the observer fetched:

- *Timing* (integer difference constraints): for a prefix of fetched words
  ``w_0..w_i``, are there points ``e``, CSEs ``c`` and fetch points ``f``
  allowed by the observer kind (docs/model.md) such that each ``w_k`` is the
  slot's word at ``f_k`` in the window ``[L(c_k), e_k]``? One incremental
  solver per observer kind, extended one step at a time (push/pop), so
  impossible prefixes are cut at once. Torn, CMODX and stale goals are
  asked of the same solver at each step.
- *Data* (bit-vectors, arrays, uninterpreted functions): the run's effect
  along a fixed word sequence is symbolic execution without case splits,
  compared with each valid state's complete execution from the same initial
  registers and memory. Conditional branches fork the path with a path
  condition.

A violation needs both: the run is possible (timing) and wrong (data).
Enumerating word sequences is exponential in the number of slots that change
and branch; the benchmarks measure how far that goes.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

import z3

from fpatch.isa import Insn, Unsupported, decode, is_cmodx, semantics
from fpatch.isa.bti import BTYPE_CALL, branch_type, landing_ok
from fpatch.isa.ir import (
    MASK64,
    PAC_STATE,
    REGISTERS,
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
from fpatch.model.arch import NMI_LOCAL, NMI_REMOTE, THREAD
from fpatch.model.timeline import DataHistory, SlotHistory, Timeline, data_histories
from fpatch.region import is_branch_exit
from fpatch.spec.types import Helper, Site, Spec
from fpatch.verdict import (
    BTI,
    BUDGET_SPENT,
    CMODX,
    DATA,
    INCOMPLETE,
    INEQUIVALENT,
    STALE,
    TORN,
    UNDEFINED,
    VIOLATION_KINDS,
    Counterexample,
    ObserverResult,
)

BV: TypeAlias = z3.BitVecRef
# The values (e_i, c_i, max(w_0..w_i), e_0, c_0) of one timing of a search prefix:
# all that the constraints of the next fetch read (see ``timing``).
PointWitness: TypeAlias = tuple[int, int, int, int, int]
# A goal on the fetch at a level: (constraints, point variables a counterexample shows),
# built for a given search object and level so the shortcuts can ask it of a scratch one.
GoalFn: TypeAlias = "Callable[[_ObserverSearch, int], tuple[list[z3.BoolRef], tuple[z3.ArithRef, ...]]]"
MAX_SEARCH_STEPS = 100_000  # fetched-word choices per observer search, then unknown
MAX_VALID_PATHS = 10_000  # paths of one valid state's execution, then unknown
MAX_CMODX_PAIRS = 256  # word pairs of one slot in a CMODX goal; beyond, a linear encoding
# The kinds ``_ObserverSearch._nothing_left`` knows how to rule out (a new kind: no pruning).
KNOWN_KINDS = frozenset({TORN, CMODX, UNDEFINED, INEQUIVALENT, STALE, INCOMPLETE, BTI, DATA})
SHORTCUT_DEPTH = 3  # shallower, the whole prefix is as small as a shortcut's query
MINIMIZE_MS = 500  # per query spent making a counterexample simpler; never affects the verdict
SP_MIN = 1 << 32
SP_MAX = (1 << 64) - (1 << 32) - 16
# Initial registers tried first for counterexamples: distinct and easy to spot.
TYPICAL_INIT = {f"x{i}": 0x1111 * i for i in range(1, 29)} | {
    "x0": 0xF0F0,  # not 0: untouched memory often reads as 0 in a model
    "x29": 0xFFFF80000A013F80,  # a frame record on the kernel stack
    "x30": 0xFFFF800008300010,  # the caller's return address
    "sp": 0xFFFF80000A013F40,
}
TRAP_CODES = {"brk": 1, "svc": 2, "hvc": 3, "smc": 4, "pac": 5}  # pac: an aut* fault (env.pac)


@dataclass(frozen=True)
class Candidate:
    """A word that slot ``slot`` may be fetched as, with its meaning."""

    idx: int
    slot: int
    word: int
    insn: Insn | Unsupported
    stmts: tuple[Stmt, ...] | None  # None: not a supported instruction
    cmodx: bool
    points: tuple[tuple[int, int], ...]  # intervals of points where the slot holds it
    isb: bool = False


@dataclass
class SymState:
    """The machine along one path: plain z3 terms, no case splits."""

    regs: dict[str, BV]
    mem: z3.ArrayRef
    cond: list[z3.BoolRef] = field(default_factory=list)
    stores: list[tuple[BV, int, bool]] = field(default_factory=list)
    calls: list[tuple[str, list[BV]]] = field(default_factory=list)
    reads: list[tuple[int, str, int]] = field(default_factory=list)  # (insn, word, value)

    def fork(self) -> SymState:
        return SymState(dict(self.regs), self.mem, list(self.cond), list(self.stores),
                        list(self.calls), list(self.reads))


@dataclass
class _DataIO:
    """The data loads of one executed instruction (MODEL.md 6.7): the values chosen for
    them (None: learn which words are read), what was read and what is not modelled."""

    values: dict[str, int] | None
    index: int
    read: list[str] = field(default_factory=list)
    unmodelled: list[str] = field(default_factory=list)


def _mentions_sp(e: object) -> bool:
    """A load through sp is a stack access: kernel stacks hold no site memory."""
    if isinstance(e, Reg):
        return e.name == "sp"
    return any(_mentions_sp(getattr(e, f)) for f in getattr(e, "__dataclass_fields__", {}))


@dataclass
class Exit:
    """How a path leaves the site: address (and trap code, 0 for none)."""

    pc: BV
    code: int
    undefined: bool = False


@dataclass
class PathEnd:
    state: SymState
    exit: Exit
    cands: tuple[Candidate, ...]


@dataclass
class Pending:
    """A state not computed yet: ``base`` after ``cand``, an instruction whose only
    effect is on registers (see ``SiteEncoder.deferrable``). The search computes it
    (``_ObserverSearch.force``) only when a question reads the data; most nodes of a
    big search never need it once their violations are found. ``cond`` is the
    base's: such an instruction adds no path condition."""

    base: SymState | Pending
    cand: Candidate
    cond: list[z3.BoolRef]
    reads: list[tuple[int, str, int]]  # the base's too: such an instruction loads nothing
    done: SymState | None = None


def _intervals(points: list[int]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for p in sorted(points):
        if out and out[-1][1] == p - 1:
            out[-1][1] = p
        else:
            out.append([p, p])
    return tuple((a, b) for a, b in out)


def solve(solver: z3.Solver, query: str, timeout_ms: int,
          deadline: float | None = None) -> tuple[str, str]:
    """Every solver call goes through here: ``("sat" | "unsat" | "unknown", reason)``.

    ``query`` names what is asked (timing, bound, torn, cmodx, undefined, stale,
    path, inequivalence, minimize) so a test can make each kind answer unknown
    and require the verdict to say so. ``deadline`` (``time.monotonic()``) is
    the whole run's budget: past it, every query is unknown with that reason.
    """
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            return "unknown", BUDGET_SPENT
        timeout_ms = max(1, min(timeout_ms, int(left * 1000)))
    solver.set("timeout", timeout_ms)
    r = solver.check()
    if r == z3.sat:
        return "sat", ""
    if r == z3.unsat:
        return "unsat", ""
    if deadline is not None and time.monotonic() >= deadline:
        return "unknown", BUDGET_SPENT
    return "unknown", solver.reason_unknown() or "no reason given"


def gave_up(query: str, reason: str) -> str:
    """The reason an unknown answer is reported with."""
    return reason if reason == BUDGET_SPENT else f"{query}: solver gave up ({reason})"


def fresh_context() -> None:
    """Start every spec in a new Z3 context.

    Z3 hash-conses terms in its global context, so the models it returns (and
    hence the counterexamples we print) would otherwise depend on which specs
    the same process checked before. A report must not.
    """
    z3.z3._main_ctx = None  # type: ignore[attr-defined]  # z3py recreates it on demand


class SiteEncoder:
    """Everything about one site that does not depend on the observer kind."""

    def __init__(self, spec: Spec, tl: Timeline, site: Site, timeout_ms: int,
                 deadline: float | None = None) -> None:
        self.spec, self.tl, self.site = spec, tl, site
        self.ordered = tl.cache.fetches_ordered  # the fetch floor holds (errata.py)
        self.timeout_ms = timeout_ms
        self.deadline = deadline
        self.hist: tuple[SlotHistory, ...] = tl.history(site)
        self.n = tl.n
        self.complete = tl.complete_points()  # (mark, point) of `complete:` (MODEL.md 6.5)
        self.k = spec.max_insns
        self.helpers = {h.address: h for h in spec.helpers}
        self.cands: list[Candidate] = []
        self.by_slot: list[list[Candidate]] = []
        for j, h in enumerate(self.hist):
            mine = []
            for word in dict.fromkeys(h.values):
                pts = [t for t, v in enumerate(h.values) if v == word]
                mine.append(self._candidate(j, word, _intervals(pts)))
            self.by_slot.append(mine)
        self.uf: dict[tuple[str, str], z3.FuncDeclRef] = {}
        self._deferrable: dict[int, bool] = {}
        self._next_pc: dict[int, BV] = {}
        self._forward: bool | None = None
        self.regs0 = {r: z3.BitVec(f"init_{r}", 64) for r in REGISTERS}
        # PAC pseudo-registers start empty: no signature before the run (env.pac).
        self.regs0.update({r: z3.BitVecVal(0, 64) for r in PAC_STATE})
        self.mem0 = z3.Array("init_mem", z3.BitVecSort(64), z3.BitVecSort(8))
        sp = self.regs0["sp"]
        # AAPCS64 alignment, and a stack far from both ends of the address space:
        # a kernel stack never wraps (docs/model.md, Initial state).
        self.init_ok = z3.And(sp & 15 == 0, z3.UGE(sp, SP_MIN), z3.ULE(sp, SP_MAX))
        self.unknowns: list[str] = self._unsupported()
        self.data: dict[str, DataHistory] = data_histories(tl, site)
        self._io: _DataIO | None = None
        # A valid state's execution is not modelled (a data-word load it cannot decide):
        # no effect comparison can be trusted, so none is made (the answer is unknown).
        self.valid_unknown = False
        self._loads_memo: dict[int, bool] = {}
        self.valid_paths: dict[str, list[PathEnd]] = {}
        self._fixed: dict[str, list[Candidate]] = {}
        self._rho_paths: dict[tuple[object, ...], list[PathEnd]] = {}
        for name in site.valid:
            st = site.state(name)
            fixed = []
            for j, word in enumerate(st.words):
                match = [c for c in self.by_slot[j] if c.word == word]
                fixed.append(match[0] if match else self._candidate(j, word, ()))
            self._fixed[name] = fixed
            ends, bounded = self._valid_paths(fixed, self.valid_choice(name))
            self.valid_paths[name] = ends
            if bounded:
                self.unknowns.append(f"valid state {name} may not finish within max_insns="
                                     f"{self.k} instructions")

    def _candidate(self, slot: int, word: int, points: tuple[tuple[int, int], ...]) -> Candidate:
        pc = self.site.slot_addr(slot)
        insn = decode(word, pc)
        stmts = semantics(insn, pc, pac=self.spec.pac) if isinstance(insn, Insn) else None
        isb = any(isinstance(s, Barrier) and s.kind == "isb" for s in stmts or ())
        c = Candidate(len(self.cands), slot, word, insn, stmts,
                      is_cmodx(word, self.spec.cmodx_linux), points, isb)
        self.cands.append(c)
        return c

    def valid_choice(self, state: str) -> dict[str, tuple[int, ...]]:
        """The values of each data word acceptable with ``state`` (MODEL.md 6.7)."""
        out = {}
        for d in self.site.data:
            listed = self.site.valid_values(state, d.name)
            out[d.name] = listed if listed is not None else self.data[d.name].clean()
        return out

    def _unsupported(self) -> list[str]:
        """Constructs the model does not cover: the answer must then be unknown."""
        site = self.site
        lo = site.base  # loads of the instruction slots (data words are modelled)
        out = []
        for c in self.cands:
            for s in c.stmts or ():
                loads = _loads(s)
                for ld in loads:
                    if isinstance(ld.addr, Const) and lo <= ld.addr.value < site.end:
                        out.append(f"slot {c.slot} `{c.insn.text}` loads from the site's "
                                   f"instruction slots (not modelled)")
        return sorted(set(out))

    # ------------------------------------------------------------ symbolic run

    def _expr(self, e: Expr, st: SymState) -> BV:
        if isinstance(e, Const):
            return z3.BitVecVal(e.value & MASK64, 64)
        if isinstance(e, Reg):
            return st.regs[e.name]
        if isinstance(e, Add):
            return self._expr(e.a, st) + self._expr(e.b, st)
        if isinstance(e, Sub):
            return self._expr(e.a, st) - self._expr(e.b, st)
        if isinstance(e, And):
            return self._expr(e.a, st) & self._expr(e.b, st)
        if isinstance(e, Or):
            return self._expr(e.a, st) | self._expr(e.b, st)
        if isinstance(e, Xor):
            return self._expr(e.a, st) ^ self._expr(e.b, st)
        if isinstance(e, Shr):
            return z3.LShR(self._expr(e.a, st), e.amount)
        if isinstance(e, Ite):
            return z3.If(self._cond(e.cond, st), self._expr(e.a, st), self._expr(e.b, st))
        if isinstance(e, Load):
            addr = self._expr(e.addr, st)
            if self._io is not None and not _mentions_sp(e.addr):
                hit = self._data_load(z3.simplify(addr), e.size)
                if hit is not None:
                    return hit
            parts = [z3.Select(st.mem, addr + k) for k in range(e.size)]
            val = z3.Concat(*reversed(parts)) if len(parts) > 1 else parts[0]
            return z3.ZeroExt(64 - 8 * e.size, val)
        raise TypeError(e)

    def _data_load(self, addr: BV, size: int, who: str = "") -> BV | None:
        """A load that may touch a data word: its chosen value, or None for plain memory."""
        io = self._io
        assert io is not None
        if not z3.is_bv_value(addr):
            if not self.site.data:
                return None  # nothing to hit but the slots, which no free address is
            io.unmodelled.append(f"{who or 'a load'} through a register from an address that "
                                 f"depends on the initial state (it may or may not be a data "
                                 f"word; not modelled)")
            return None
        a = addr.as_long()
        d, touches = self.site.data_word_at(a, size)
        if d is None:
            if touches:
                io.unmodelled.append(f"{who or 'a load'} of {size} bytes at 0x{a:x} partly "
                                     f"overlaps a data word (not modelled)")
            elif a < self.site.end and self.site.base < a + size:
                io.unmodelled.append(f"{who or 'a load'} at 0x{a:x} reads the site's "
                                     f"instruction slots (not modelled)")
            return None
        io.read.append(d.name)
        v = d.value if io.values is None else io.values[d.name]
        return z3.BitVecVal(v, 64)

    def _cond(self, c: Cond, st: SymState) -> z3.BoolRef:
        if isinstance(c, Ult):
            return z3.ULT(self._expr(c.a, st), self._expr(c.b, st))
        v = self._expr(c.value, st)
        return v == 0 if isinstance(c, IsZero) else v != 0

    def _clobber(self, h: Helper, reg: str, inputs: list[BV]) -> BV:
        key = (h.name, reg)
        if key not in self.uf:
            sorts = [z3.BitVecSort(64)] * len(inputs) + [z3.BitVecSort(64)]
            self.uf[key] = z3.Function(f"clobber_{h.name}_{reg}", *sorts)
        f = self.uf[key]
        return f(*inputs) if inputs else f()  # type: ignore[no-any-return]

    def probe(self, cand: Candidate, st: SymState) -> tuple[tuple[str, ...], list[str]]:
        """The data words ``cand`` loads (and helper reads), and what is not modelled."""
        if not self._may_load(cand):
            return (), []
        io = _DataIO(None, len(st.reads))
        self.step(cand, st.fork(), io)
        return tuple(dict.fromkeys(io.read)), list(dict.fromkeys(io.unmodelled))

    def _may_load(self, cand: Candidate) -> bool:
        """Whether ``cand`` has a load not through sp, or calls a helper that reads."""
        hit = self._loads_memo.get(cand.idx)
        if hit is None:
            stmts = cand.stmts or ()
            hit = any(not _mentions_sp(ld.addr) for s in stmts for ld in _loads(s)) or any(
                isinstance(s, Jump) and s.link and isinstance(s.target, Const)
                and s.target.value in self.helpers and self.helpers[s.target.value].reads
                for s in stmts)
            self._loads_memo[cand.idx] = hit
        return hit

    def step(self, cand: Candidate, st: SymState, io: _DataIO | None = None
             ) -> list[tuple[SymState, BV | None, Exit | None]]:
        """Execute ``cand``: each outcome is (state, next pc or None, exit or None);
        ``io`` chooses the values of its data loads."""
        self._io = io if io is not None else _DataIO(None, 0)
        try:
            outs = self._step(cand, st)
        finally:
            self._io = None
        if io is not None and io.values:
            for cur, _, _ in outs:
                cur.reads += [(io.index, w, io.values[w]) for w in dict.fromkeys(io.read)]
        return outs

    def _step(self, cand: Candidate, st: SymState) -> list[tuple[SymState, BV | None, Exit | None]]:
        pc = self.site.slot_addr(cand.slot)
        if cand.stmts is None:
            return [(st, None, Exit(z3.BitVecVal(pc, 64), 0, undefined=True))]
        outs: list[tuple[SymState, BV]] = [(st.fork(), z3.BitVecVal((pc + 4) & MASK64, 64))]
        call: Helper | None = None
        trap: Trap | None = None
        faulted: list[tuple[SymState, Fault]] = []  # outcomes ended by a Fault (env.pac)
        for s in cand.stmts:
            nxt_outs: list[tuple[SymState, BV]] = []
            for cur, nxt in outs:
                if isinstance(s, SetReg):
                    cur.regs[s.name] = z3.simplify(self._expr(s.value, cur))
                elif isinstance(s, Store):
                    addr = z3.simplify(self._expr(s.addr, cur))
                    val = self._expr(s.value, cur)
                    mem = cur.mem
                    for b in range(s.size):
                        mem = z3.Store(mem, addr + b, z3.Extract(8 * b + 7, 8 * b, val))
                    cur.mem = mem
                    cur.stores.append((addr, s.size, s.stack))
                elif isinstance(s, Jump):
                    nxt = self._expr(s.target, cur)
                    if s.link and isinstance(s.target, Const) and s.target.value in self.helpers:
                        call = self.helpers[s.target.value]
                elif isinstance(s, CondJump):
                    cond = z3.simplify(self._cond(s.cond, cur))
                    if not z3.is_false(cond):
                        taken = cur.fork()
                        taken.cond.append(cond)
                        nxt_outs.append((taken, self._expr(s.target, cur)))
                    if z3.is_true(cond):
                        continue
                    cur.cond.append(z3.Not(cond))
                elif isinstance(s, Trap):
                    trap = s
                elif isinstance(s, Fault):
                    # Fork like a conditional branch: one outcome faults (a trap exit at
                    # this instruction), the other goes on.
                    cond = z3.simplify(self._cond(s.cond, cur))
                    if not z3.is_false(cond):
                        bad = cur.fork()
                        bad.cond.append(cond)
                        faulted.append((bad, s))
                    if z3.is_true(cond):
                        continue
                    cur.cond.append(z3.Not(cond))
                elif isinstance(s, (Barrier, Maintenance)):
                    pass
                else:  # pragma: no cover
                    raise TypeError(s)
                nxt_outs.append((cur, nxt))
            outs = nxt_outs
        result: list[tuple[SymState, BV | None, Exit | None]] = [
            (bad, None, Exit(z3.BitVecVal(pc, 64), TRAP_CODES[f.kind] * 65536))
            for bad, f in faulted]
        for cur, nxt in outs:
            if trap is not None:
                code = TRAP_CODES[trap.kind] * 65536 + trap.imm
                result.append((cur, None, Exit(z3.BitVecVal(pc, 64), code)))
                continue
            if call is not None:
                # The bl has set x30; the helper runs to completion under its contract.
                entry = dict(cur.regs)
                inputs = [entry[r] for r in call.inputs]
                for hr in call.reads:  # recorded like an input (MODEL.md 6.7)
                    base = z3.simplify(entry[hr.base])
                    addr = z3.simplify((base & ~(hr.align - 1)) + hr.offset)
                    v = self._data_load(addr, hr.size, f"helper {call.name}'s read")
                    if v is None:
                        assert self._io is not None
                        if z3.is_bv_value(addr):
                            self._io.unmodelled.append(
                                f"helper {call.name} reads 0x{addr.as_long():x}, which is not a "
                                f"data word of site {self.site.name} (not modelled)")
                        v = z3.BitVecVal(0, 64)
                    inputs.append(v)
                cur.calls.append((call.name, inputs))
                for r in call.clobbers:
                    cur.regs[r] = self._clobber(call, r, inputs)
                for dst, src in call.restores:
                    cur.regs[dst] = entry[src]
                nxt = entry[call.returns_to]
            result.append((cur, z3.simplify(nxt), None))
        return result

    def deferrable(self, cand: Candidate) -> bool:
        """Only registers change, by plain computation (no load, store, call, trap,
        branch): one outcome, falling through to the next slot, with no new path
        condition, so its effect can be computed later (``Pending``)."""
        hit = self._deferrable.get(cand.idx)
        if hit is None:
            hit = cand.stmts is not None and all(
                isinstance(s, (Barrier, Maintenance))
                or (isinstance(s, SetReg) and not any(True for _ in _loads(s)))
                for s in cand.stmts)
            self._deferrable[cand.idx] = hit
        return hit

    @property
    def forward_only(self) -> bool:
        """Every word of every slot either falls through or branches to a constant
        address later in the site or outside it (no loop, no branch through a
        register, no helper call), and the spec has this one site: every run visits
        slots in increasing order. Computed once."""
        if self._forward is None:
            site = self.site

            def forward(c: Candidate) -> bool:
                pc = site.slot_addr(c.slot)
                for s in c.stmts or ():
                    if isinstance(s, (Jump, CondJump)):
                        t = s.target
                        if not isinstance(t, Const) or (isinstance(s, Jump) and s.link
                                                        and t.value in self.helpers):
                            return False
                        if site.base <= t.value < site.end and t.value <= pc:
                            return False
                return True

            self._forward = len(self.spec.sites) == 1 and all(forward(c) for c in self.cands)
        return self._forward

    def fall_through(self, cand: Candidate) -> BV:
        """The address after ``cand`` (a constant, made once)."""
        pc = self._next_pc.get(cand.slot)
        if pc is None:
            pc = self._next_pc[cand.slot] = z3.BitVecVal(
                (self.site.slot_addr(cand.slot) + 4) & MASK64, 64)
        return pc

    def slot_of(self, pc: BV) -> int | None | str:
        """Slot index of a constant PC, None if outside the site, "dynamic" if symbolic."""
        if not z3.is_bv_value(pc):
            return "dynamic"
        return self.site.slot_at(pc.as_long())

    def inside(self, pc: BV) -> z3.BoolRef:
        return z3.Or(*[pc == self.site.slot_addr(j) for j in range(self.site.nslots)])

    def foreign(self, pc: BV, cond: list[z3.BoolRef], cand: Candidate) -> str | None:
        """Why an exit to ``pc`` by ``cand`` is unknown: a branch that may enter a declared
        site the code graph (fpatch/region.py) did not connect to this region, which is not
        followed. Falling through or a helper's return into an adjacent site ends the run."""
        addrs = sorted(getattr(self.site, "foreign", ()))
        if not addrs or any(isinstance(s, Jump) and s.link and isinstance(s.target, Const)
                            and s.target.value in self.helpers for s in cand.stmts or ()):
            return None
        if z3.is_bv_value(pc):
            if pc.as_long() not in addrs or not is_branch_exit(
                    self.site.slot_addr(cand.slot), pc.as_long()):
                return None
        elif self.data_sat(cond + [z3.Or(*[pc == a for a in addrs])])[0] == "unsat":
            return None
        return (f"a run may branch from site {self.site.name}'s code graph into another "
                f"declared site through a target the graph did not find (not modelled)")

    def _valid_paths(self, fixed: list[Candidate], choice: dict[str, tuple[int, ...]]
                     ) -> tuple[list[PathEnd], bool]:
        """Every path of a valid state's complete execution (forks on data only), one per
        choice of the values its data loads read (``choice``: acceptable values)."""
        ends: list[PathEnd] = []
        bounded = False
        start = SymState(dict(self.regs0), self.mem0)
        todo: list[tuple[SymState, int, tuple[Candidate, ...]]] = [(start, self.site.entry, ())]
        while todo:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                self.unknowns.append(BUDGET_SPENT)
                break
            if len(ends) + len(todo) > MAX_VALID_PATHS:
                self.unknowns.append(f"a valid state has more than {MAX_VALID_PATHS} paths")
                break
            st, slot, cands = todo.pop()
            if len(cands) >= self.k:
                # only a path that can be taken (e.g. not one past a certain PAC fault)
                bounded = bounded or self.data_sat(st.cond)[0] != "unsat"
                continue
            cand = fixed[slot]
            needs, unmodelled = self.probe(cand, st)
            if unmodelled:
                self.unknowns += [f"a valid state: {u}" for u in unmodelled]
                self.valid_unknown = True
                continue
            outs = []
            for combo in itertools.product(*[choice[w] for w in needs]):
                io = _DataIO(dict(zip(needs, combo, strict=True)), len(cands))
                outs += self.step(cand, st.fork(), io)
            for nst, nxt, ex in outs:
                if ex is not None:
                    if ex.undefined:
                        continue  # rejected by the spec layer for valid states
                    ends.append(PathEnd(nst, ex, cands + (cand,)))
                    continue
                assert nxt is not None
                where = self.slot_of(nxt)
                if where == "dynamic":
                    out = nst.fork()
                    out.cond.append(z3.Not(self.inside(nxt)))
                    ends.append(PathEnd(out, Exit(nxt, 0), cands + (cand,)))
                    r, why = self.data_sat(nst.cond + [self.inside(nxt)])
                    if r != "unsat":
                        self.unknowns.append("a valid state may branch into the site through a "
                                             "register (not modelled)")
                    if r == "unknown":
                        self.unknowns.append(gave_up("path", why))
                elif where is None:
                    ends.append(PathEnd(nst, Exit(nxt, 0), cands + (cand,)))
                    if (away := self.foreign(nxt, nst.cond, cand)) is not None:
                        self.unknowns.append(away)
                else:
                    assert isinstance(where, int)
                    todo.append((nst, where, cands + (cand,)))
        return ends, bounded

    # ------------------------------------------------------------- data side

    def data_sat(self, conds: list[z3.BoolRef]) -> tuple[str, str]:
        """Can a path with these conditions be taken: ``(answer, reason)`` as ``solve``."""
        if not conds:
            return "sat", ""
        s = z3.Solver()
        s.add(self.init_ok, *conds)
        return solve(s, "path", self.timeout_ms, self.deadline)

    def equal(self, run: PathEnd, v: PathEnd) -> z3.BoolRef:
        """Same observable effect (docs/model.md, Execution and effects)."""
        if run.exit.code != v.exit.code or len(run.state.calls) != len(v.state.calls):
            return z3.BoolVal(False)
        conds = [run.exit.pc == v.exit.pc]
        conds += [run.state.regs[r] == v.state.regs[r] for r in self.site.live]
        for (h1, in1), (h2, in2) in zip(run.state.calls, v.state.calls, strict=True):
            if h1 != h2:
                return z3.BoolVal(False)
            conds += [a == b for a, b in zip(in1, in2, strict=True)]
        sp_v = v.state.regs["sp"]
        events = run.state.stores + v.state.stores
        stack_events = [(a, n) for a, n, stack in events if stack]
        for addr, size, _ in events:
            for b in range(size):
                a = addr + b
                same = z3.Select(run.state.mem, a) == z3.Select(v.state.mem, a)
                if stack_events:
                    on_stack = z3.Or(*[z3.ULT(a - sa, n) for sa, n in stack_events])
                    same = z3.Or(same, z3.And(on_stack, z3.ULT(a, sp_v)))
                conds.append(same)
        return z3.And(*conds)

    def inequivalent(self, run: PathEnd, extra: list[PathEnd] | None = None
                     ) -> z3.ModelRef | None | str:
        """A model of an initial state where ``run`` matches no valid path (nor any of
        ``extra``), or None."""
        s = z3.Solver()
        s.set("random_seed", 0)
        s.add(self.init_ok, *run.state.cond)
        for ends in list(self.valid_paths.values()) + [extra or []]:
            for v in ends:
                s.add(z3.Implies(z3.And(*v.state.cond), z3.Not(self.equal(run, v))))
        r, why = solve(s, "inequivalence", self.timeout_ms, self.deadline)
        if r == "sat":
            model = s.model()
            # Prefer an initial state a person recognises (docs/model.md, reports);
            # an unknown here only costs a less readable counterexample.
            s.push()
            s.add(*[self.regs0[reg] == val for reg, val in TYPICAL_INIT.items()])
            if solve(s, "minimize", min(MINIMIZE_MS, self.timeout_ms), self.deadline)[0] == "sat":
                model = s.model()
            s.pop()
            return model
        if r == "unknown":
            return gave_up("inequivalence", why)
        return None

    def rho_paths(self, run: PathEnd) -> dict[str, list[PathEnd]]:
        """Each valid state's executions when its loads of the words the run read return
        the run's values instead of the acceptable ones (MODEL.md 6.7, data)."""
        rho: dict[str, tuple[int, ...]] = {}
        for _, w, v in run.state.reads:
            rho[w] = tuple(dict.fromkeys(rho.get(w, ()) + (v,)))
        key = tuple(sorted(rho.items()))
        out: dict[str, list[PathEnd]] = {}
        for name in self.site.valid:
            k = (name,) + key
            if k not in self._rho_paths:
                choice = self.valid_choice(name) | rho
                self._rho_paths[k] = self._valid_paths(self._fixed[name], choice)[0]
            out[name] = self._rho_paths[k]
        return out

    def classify(self, run: PathEnd) -> tuple[str, z3.ModelRef, str | None] | None | str:
        """(violation, initial state, matching state) for a run that matches no valid
        state: ``data`` when, from every initial state where it matches none, it matches
        a valid state whose loads return the run's values, else ``inequivalent``. None:
        no violation; a string: why the solver gave up."""
        data = self.inequivalent(run)
        if not isinstance(data, z3.ModelRef) or not run.state.reads:
            return (INEQUIVALENT, data, None) if isinstance(data, z3.ModelRef) else data
        rho = self.rho_paths(run)
        extra = [v for ends in rho.values() for v in ends]
        other = self.inequivalent(run, extra)
        if isinstance(other, z3.ModelRef):
            return INEQUIVALENT, other, None
        if isinstance(other, str):
            return other
        for name, ends in rho.items():
            for v in ends:
                if z3.is_true(data.eval(z3.And(*v.state.cond, self.equal(run, v)),
                                        model_completion=True)):
                    return DATA, data, name
        return INEQUIVALENT, data, None  # pragma: no cover - the second query says otherwise

    def check(self, kind: str, with_stale: bool) -> ObserverResult:
        return _ObserverSearch(self, kind).search(with_stale)


def _loads(s: Stmt) -> Iterator[Load]:
    """Every load inside a statement, whatever IR nodes it is built from."""

    def walk(node: object) -> Iterator[Load]:
        if isinstance(node, Load):
            yield node
        if dataclasses.is_dataclass(node):
            for f in dataclasses.fields(node):
                yield from walk(getattr(node, f.name))

    yield from walk(s)


Evaluator: TypeAlias = Callable[[dict[str, int]], "int | bool"]
_OPS: dict[str, Callable[[list[int]], int | bool]] = {
    "+": sum, "-": lambda xs: -xs[0] if len(xs) == 1 else xs[0] - sum(xs[1:]),
    "<=": lambda xs: xs[0] <= xs[1], "<": lambda xs: xs[0] < xs[1],
    ">=": lambda xs: xs[0] >= xs[1], ">": lambda xs: xs[0] > xs[1],
    "=": lambda xs: xs[0] == xs[1], "not": lambda xs: not xs[0],
    "distinct": lambda xs: len(set(xs)) == len(xs), "=>": lambda xs: (not xs[0]) or xs[1]}
_TOKEN = re.compile(r"[()]|[^\s()]+")


def compile_int(t: z3.ExprRef) -> Evaluator | None:
    """``t`` (integer and Boolean connectives over integer constants) as a Python
    function of the constants' values, or None if it uses anything else. It lets the
    search *check* a candidate timing in microseconds; a check proves only what it
    evaluates (a satisfying assignment), never an impossibility. Read from the
    term's SMT-LIB text: one call into z3, not one per node."""
    tokens = _TOKEN.findall(t.sexpr())
    pos = 0

    def parse() -> object:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok != "(":
            return tok
        items = []
        while tokens[pos] != ")":
            items.append(parse())
        pos += 1
        return items

    def comp(x: object, scope: dict[str, Evaluator]) -> Evaluator | None:
        if isinstance(x, str):
            if x in scope:
                return scope[x]
            if x.isdigit():
                v = int(x)
                return lambda env: v
            if x in ("true", "false"):
                truth = x == "true"
                return lambda env: truth
            if x.replace("_", "").isalnum():
                return lambda env: env[x]
            return None
        assert isinstance(x, list)
        if not x or not isinstance(x[0], str):
            return None
        head, args = x[0], x[1:]
        if head == "let":
            inner = dict(scope)
            for binding in args[0]:  # type: ignore[union-attr]
                f = comp(binding[1], scope)  # type: ignore[index]
                if f is None:
                    return None
                inner[binding[0]] = f  # type: ignore[index]
            return comp(args[1], inner)
        fs = [comp(a, scope) for a in args]
        if any(f is None for f in fs):
            return None
        gs = [f for f in fs if f is not None]
        if head == "and":
            return lambda env: all(g(env) for g in gs)
        if head == "or":
            return lambda env: any(g(env) for g in gs)
        if head == "ite" and len(gs) == 3:
            cond, yes, no = gs
            return lambda env: yes(env) if cond(env) else no(env)
        op = _OPS.get(head)
        if op is None:
            return None
        return lambda env: op([g(env) for g in gs])  # type: ignore[arg-type]

    try:
        return comp(parse(), {})
    except (IndexError, TypeError):  # text of a form not foreseen: no evaluation
        return None


def _stale_goal(s: _ObserverSearch, j: int) -> tuple[list[z3.BoolRef], tuple[z3.ArithRef, ...]]:
    """The observer's first CSE is after the patcher's last step (docs/model.md, stale)."""
    return [s.c[0] >= s.enc.n], ()


def _incomplete_goal(mark: int) -> GoalFn:
    """Fetch executed at or after point ``mark`` of a word fetched from before it."""
    def goal(s: _ObserverSearch, j: int) -> tuple[list[z3.BoolRef], tuple[z3.ArithRef, ...]]:
        return [s.e[j] >= mark, s.f[j] < mark], ()

    return goal


class _ObserverSearch:
    """One observer kind on one site: DFS over fetched words, timing in Z3."""

    def __init__(self, enc: SiteEncoder, kind: str) -> None:
        self.enc, self.kind, self.tl = enc, kind, enc.tl
        self.solver = z3.Solver()
        self.solver.set("random_seed", 0)
        self.e: list[z3.ArithRef] = []
        self.c: list[z3.ArithRef] = []
        self.f: list[z3.ArithRef] = []
        self.w: list[z3.ArithRef] = []  # the write point of each fetched word (fetch floor)
        self.wmax: dict[int, z3.ArithRef] = {}  # i -> latest of w[0..i-1] (set by timing(i))
        self._L: dict[tuple[int, str], z3.ArithRef] = {}
        self.found: dict[str, Counterexample] = {}
        self.reasons: list[str] = list(enc.unknowns)
        self.queries = 0
        self.seconds = 0.0
        self.steps = 0  # fetched-word choices tried (bounded by MAX_SEARCH_STEPS)
        # The search path (fetched candidates) and, per level, a witness: the values of
        # the point variables later levels read, from one timing of the whole prefix.
        # Only the first ``self.mat`` levels are asserted in ``self.solver`` (lazily:
        # most nodes are decided by the shortcuts below, without the whole prefix).
        self.levels: list[Candidate] = []
        self.wit: list[PointWitness] = []
        self.mat = 0
        self._sigs: dict[int, int] = {}  # candidate -> number of its signature
        self._sig_ids: dict[tuple[object, ...], int] = {}
        self._ext: dict[tuple[object, ...], PointWitness | None] = {}
        self._rel: dict[tuple[object, ...], bool] = {}
        self._lvl: dict[tuple[object, ...], z3.BoolRef] = {}
        self._lvl_eval: dict[tuple[object, ...], Evaluator | None] = {}
        self._guessed: set[tuple[object, ...]] = set()
        self._pseudo: dict[int, Candidate] = {}
        self._goal_info: dict[int, tuple[tuple[tuple[int, int], ...], int, int, int]] = {}
        self._nevers: dict[str, bool] = {}
        self._pinned = 0  # data-load timing pushed on the solver: no shortcut below
        self._sh: _ObserverSearch | None = None

    # -- timing constraints ----------------------------------------------------

    def L(self, slot: int, c: z3.ArithRef) -> z3.ArithRef:
        """Newest modifying write of ``slot`` published by point ``c`` (memoised: the
        point variables are reused by name along the search)."""
        key = (slot, c.sexpr())
        hit = self._L.get(key)
        if hit is not None:
            return hit
        expr: z3.ArithRef = z3.IntVal(0)
        for w, pub in sorted(self.enc.hist[slot].writes):
            if pub is not None:
                expr = z3.If(c >= pub, z3.IntVal(w), expr)
        self._L[key] = expr
        return expr

    def F(self, e: z3.ArithRef) -> z3.ArithRef:
        expr: z3.ArithRef = z3.IntVal(0)
        for p in self.tl.forced_cse_points():
            expr = z3.If(e >= p, z3.IntVal(p), expr)
        return expr

    def in_window(self, i: int, slot: int, pt: z3.ArithRef,
                  intervals: tuple[tuple[int, int], ...] | list[tuple[int, int]]) -> z3.BoolRef:
        """``pt`` is a point fetch ``i`` of ``slot`` may return, in one of ``intervals``."""
        if not intervals:
            return z3.BoolVal(False)
        # Fetch floor (docs/model.md): nothing older than what was published when the
        # words of the observer's earlier fetches were written. L(s, .) is monotone, so
        # the floor is L(s, the latest of those write points): one term, not one per
        # earlier fetch.
        floor = [self.L(slot, self.wmax[i]) <= pt] if i > 0 and self.enc.ordered else []
        return z3.And(self.L(slot, self.c[i]) <= pt, pt <= self.e[i], *floor,
                      z3.Or(*[z3.And(a <= pt, pt <= b) for a, b in intervals]))

    def timing(self, i: int, cand: Candidate, prev: Candidate | None) -> list[z3.BoolRef]:
        """Constraints for fetching ``cand`` as the i-th instruction (docs/model.md).

        They read only the variables of levels ``i-1`` and ``0`` (e, c, w, wmax): the
        search's shortcuts (``_extend``, ``_refuted``) rely on it, so a new rule that
        reads other levels must extend ``PointWitness`` and those two.
        """
        e, c, f = z3.Int(f"e{i}"), z3.Int(f"c{i}"), z3.Int(f"f{i}")
        self.e.append(e)
        self.c.append(c)
        self.f.append(f)
        n, tl = self.enc.n, self.tl
        out = [0 <= e, e <= n, 0 <= c, c <= e]
        if i > 0:  # the latest write point among the words fetched so far
            wm = z3.Int(f"wmax{i}")
            prev_max = self.wmax[i - 1] if i > 1 else self.w[0]
            if i > 1:
                out.append(wm == z3.If(self.w[i - 1] > prev_max, self.w[i - 1], prev_max))
            else:
                out.append(wm == prev_max)
            self.wmax[i] = wm
        if self.kind == NMI_LOCAL:
            out += [e == self.e[0], c == self.e[0]]
        elif i > 0:
            out.append(self.e[i - 1] <= e)
        if self.kind == THREAD:
            out += [z3.Not(z3.And(b.first <= e, e < b.last)) for b in tl.blocks]
            out += [z3.Not(z3.And(self.e[0] < t, e >= t)) for t in tl.wait_points()]
            out.append(c >= self.F(e))
            if i > 0:
                assert prev is not None
                out.append(z3.Or(c == self.c[i - 1], z3.And(self.e[i - 1] <= c, c <= e)))
                if prev.isb:
                    out.append(c >= self.e[i - 1])
                if not self.enc.spec.preemptible:
                    out += [z3.Not(z3.And(self.e[i - 1] < b.first, e >= b.last))
                            for b in tl.blocks]
        elif self.kind == NMI_REMOTE:
            if i > 0:
                assert prev is not None
                out.append(c == (self.e[i - 1] if prev.isb else self.c[i - 1]))
            out += [z3.Not(z3.And(self.c[0] < p, e >= p)) for p in tl.forced_cse_points()]
        out.append(self.in_window(i, cand.slot, f, cand.points))
        reach = getattr(self.enc.site, "reach", ())
        if reach and reach[cand.slot]:  # reachable_after: not executed before the mark
            out.append(e >= reach[cand.slot])
        w = z3.Int(f"w{i}")
        self.w.append(w)
        out.append(z3.Or(*[z3.And(a <= f, f <= b, w == a) for a, b in cand.points]))
        return out

    def _check(self, extra: list[z3.BoolRef], query: str, timeout_ms: int | None = None
               ) -> tuple[str, z3.ModelRef | None]:
        """``("sat" | "unsat" | "unknown: reason", model)``; every unknown but a
        minimisation's is also recorded as a reason for an ``unknown`` answer."""
        self.solver.push()
        self.solver.add(*extra)
        t0 = time.perf_counter()
        r, why = solve(self.solver, query, timeout_ms or self.enc.timeout_ms, self.enc.deadline)
        self.seconds += time.perf_counter() - t0
        self.queries += 1
        model = self.solver.model() if r == "sat" else None
        self.solver.pop()
        if r == "unknown":
            if query != "minimize":
                self.reasons.append(gave_up(query, why))
            return f"unknown: {why}", None
        return r, model

    def _path_sat(self, st: SymState | Pending, query: str) -> bool:
        """The path to a violation can be taken; an unknown is a reason, not a yes."""
        r, why = self.enc.data_sat(st.cond)
        if r == "unknown":
            self.reasons.append(gave_up(f"path (to a {query} fetch)", why))
        return r == "sat"

    def _timing_model(self, goal: list[z3.BoolRef], query: str) -> z3.ModelRef | None:
        """A model of the current prefix + goal telling the simplest story the solver finds
        (docs/reports.md, "Which counterexample"): first as few interruptions as possible,
        then, among those, the last instruction executed as early as possible. Only the
        timing of an already found run changes, never whether one exists.

        None when there is none, or when the solver gave up (then with a reason)."""
        r, model = self._check(goal, query)
        if model is None:
            return None
        fixed = list(goal)
        if len(self.c) > 1:
            measure = z3.Sum(*[z3.If(self.c[i] != self.c[i - 1], 1, 0)
                               for i in range(1, len(self.c))])
            current = model.eval(measure, model_completion=True).as_long()
            model, current = self._least(goal, measure, current, model)
            fixed.append(measure <= current)
        if self.e:
            last = self.e[-1]
            end = model.eval(last, model_completion=True).as_long()
            model, _ = self._least(fixed, last, end, model)
        return model

    def _least(self, goal: list[z3.BoolRef], term: z3.ArithRef, hi: int, model: z3.ModelRef
               ) -> tuple[z3.ModelRef, int]:
        """The least bound ``term <= b`` (b <= hi, which ``model`` satisfies) the solver
        proves satisfiable with ``goal``, and its model: bisection, since a bound
        that holds holds for every greater one. Only a simpler counterexample is at
        stake: an unknown counts as no (the bound found is then less tight)."""
        lo = 0
        while lo < hi:
            mid = (lo + hi) // 2
            r, better = self._check(goal + [term <= mid], "minimize",
                                    min(MINIMIZE_MS, self.enc.timeout_ms))
            if better is not None:
                model, hi = better, mid
            else:
                lo = mid + 1
        return model, hi

    # -- shortcuts: exact answers without the whole prefix's constraints --------
    #
    # The search tree has one node per feasible prefix of fetched words, and a
    # rewrite of k slots has O(k^2) of them. Asking the incremental solver at
    # every node costs O(depth) each (the stack holds every level), so two exact
    # shortcuts come first, each cached on what it reads:
    # - ``_extend`` (a *sat* proof): the constraints of level i read only levels
    #   i-1 and 0, so a timing of the parent prefix (its ``PointWitness``) plus a
    #   solution of level i's constraints with those values fixed is a timing of
    #   the whole prefix.
    # - ``_refuted`` (an *unsat* proof): level 0, levels i-1 and i and the goal,
    #   with levels 1..i-2 dropped (only facts every prefix implies kept), is a
    #   relaxation; no solution there means none for the whole prefix.
    # Anything they do not settle (or an unknown) goes to the incremental solver
    # as before, so the answers are the same; only the number of queries shrinks.

    def _sig(self, cand: Candidate) -> int:
        """What ``timing`` reads of a candidate (its slot's writes, its points, isb),
        numbered: equal numbers, equal constraints up to the level's variables."""
        sig = self._sigs.get(cand.idx)
        if sig is None:
            full = (self.enc.hist[cand.slot].writes, cand.points, cand.isb)
            sig = self._sigs[cand.idx] = self._sig_ids.setdefault(full, len(self._sig_ids))
        return sig

    def _scratch(self) -> _ObserverSearch:
        """The search object of the shortcut queries: its own solver, and the
        variables of levels 0..3 under their usual names."""
        if self._sh is None:
            sh = _ObserverSearch.__new__(_ObserverSearch)
            sh.enc, sh.kind, sh.tl = self.enc, self.kind, self.tl
            sh.solver = z3.SimpleSolver()  # one check per push: no incremental solving
            sh.solver.set("random_seed", 0)
            sh.e, sh.c, sh.f, sh.w, sh.wmax, sh._L = [], [], [], [], {}, self._L
            for j in range(4):
                sh._level_vars(j)
            self._sh = sh
        return self._sh

    def _level_vars(self, i: int) -> None:
        """The variables of level ``i`` with no constraint (the scratch object's)."""
        self.e.append(z3.Int(f"e{i}"))
        self.c.append(z3.Int(f"c{i}"))
        self.f.append(z3.Int(f"f{i}"))
        self.w.append(z3.Int(f"w{i}"))
        if i > 0:
            self.wmax[i] = z3.Int(f"wmax{i}")

    def _level(self, j: int, cand: Candidate, prev: Candidate | None) -> z3.BoolRef:
        """``timing(j, cand, prev)`` over the scratch variables, built once (it reads
        of ``prev`` only whether it is an isb)."""
        key = (j, cand.idx, prev.isb if prev else None)
        hit = self._lvl.get(key)
        if hit is None:
            sh = self._scratch()
            for lst in (sh.e, sh.c, sh.f, sh.w):
                del lst[j:]
            # One term: asserting it costs one call, not one per constraint.
            hit = self._lvl[key] = z3.And(*sh.timing(j, cand, prev))
            while len(sh.e) < 4:
                sh._level_vars(len(sh.e))
        return hit

    def _ask(self, cons: list[z3.BoolRef], query: str) -> tuple[str, z3.ModelRef | None]:
        """One shortcut query on the scratch solver."""
        sh = self._scratch()
        sh.solver.push()
        sh.solver.add(*cons)
        r, _ = solve(sh.solver, query, self.enc.timeout_ms, self.enc.deadline)
        m = sh.solver.model() if r == "sat" else None
        sh.solver.pop()
        return r, m

    def _witness(self, m: z3.ModelRef, vars_of: _ObserverSearch, j: int) -> PointWitness:
        """The values the next level reads; w and wmax only through their maximum."""
        def v(x: z3.ArithRef) -> int:
            return m.eval(x, model_completion=True).as_long()  # type: ignore[no-any-return]

        top = max(v(vars_of.w[j]), v(vars_of.wmax[j])) if j > 0 else v(vars_of.w[0])
        return (v(vars_of.e[j]), v(vars_of.c[j]), top, v(vars_of.e[0]), v(vars_of.c[0]))

    def _extend(self, i: int, cand: Candidate, ask: bool) -> PointWitness | None:
        """A timing of the path plus ``cand`` at level ``i`` that keeps the parent's
        witness: known, or found by evaluating a few stories, or (``ask``) asked of
        the solver. None when none is known of that form."""
        prev = self.levels[i - 1] if i else None
        pw = self.wit[i - 1] if i else None
        j = min(i, 2)
        key = (pw, prev.isb if prev else None, self._sig(cand), j)
        if key in self._ext:
            return self._ext[key]
        level = self._level(j, cand, prev)
        if pw is not None and key not in self._guessed:
            self._guessed.add(key)
            out = self._guess(j, pw, cand, prev)
            if out is not None:
                self._ext[key] = out
                return out
        if not ask:
            return None
        sh = self._scratch()
        cons: list[z3.BoolRef] = []
        if pw is not None:
            cons += [sh.e[0] == pw[3], sh.c[0] == pw[4]]
            if j == 1:
                cons.append(sh.w[0] == pw[2])
            else:
                # The next level reads w and wmax only as max(w, wmax) (the fetch floor).
                cons += [sh.e[1] == pw[0], sh.c[1] == pw[1], sh.w[1] == pw[2],
                         sh.wmax[1] == pw[2]]
        r, m = self._ask(cons + [level], "timing")
        if r == "unknown":
            return None  # not cached: the whole prefix is asked (and says why)
        out = self._witness(m, sh, j) if m is not None else None
        self._ext[key] = out
        return out

    def _guess(self, j: int, pw: PointWitness, cand: Candidate, prev: Candidate | None
               ) -> PointWitness | None:
        """Simple stories checked by evaluation, not search: the observer goes on at
        the parent's point or jumps to a point where something changes (a block's end,
        a forced CSE, the word's write, the end), keeps its CSE or takes one there,
        and fetches the word as late as its window allows. The first that satisfies
        the level's constraints is a witness; finding none proves nothing."""
        key = (j, cand.idx, prev.isb if prev else None)
        if key not in self._lvl_eval:
            self._lvl_eval[key] = compile_int(self._level(j, cand, prev))
        fn = self._lvl_eval[key]
        if fn is None:
            return None
        e, c, top, e0, c0 = pw
        tl, n = self.tl, self.enc.n
        marks = {n} | {b.last for b in tl.blocks} | set(tl.forced_cse_points())
        marks |= {a for a, _ in cand.points}
        pubs = {p for _, p in self.enc.hist[cand.slot].writes if p is not None}
        env = {"e0": e0, "c0": c0}
        if j == 1:
            env |= {"w0": top, "wmax1": top}
        else:
            env |= {"e1": e, "c1": c, "w1": top, "wmax1": top, "wmax2": top}
        for e2 in sorted({e} | {p for p in marks if e <= p <= n}):
            cses = [c] + sorted({e, e2} | {p for p in marks | pubs if e <= p <= e2} - {c})
            for c2 in cses:
                for a, b in reversed(cand.points):
                    if a > e2:
                        continue
                    env |= {f"e{j}": e2, f"c{j}": c2, f"f{j}": min(b, e2), f"w{j}": a}
                    try:
                        ok = fn(env)
                    except KeyError:  # a variable these stories do not set
                        return None
                    if ok:
                        return (e2, c2, max(a, top), e0, c0)
        return None

    def _any_word(self, cand: Candidate) -> Candidate:
        """A candidate of ``cand``'s slot that may be fetched at any point: its level
        is a relaxation of every word's of the slot (goals about the window only)."""
        key = -1 - cand.slot
        hit = self._pseudo.get(key)
        if hit is None:
            hit = self._pseudo[key] = dataclasses.replace(cand, idx=key,
                                                          points=((0, self.enc.n),))
        return hit

    def _refuted(self, i: int, cand: Candidate, query: str, goal_key: object,
                 goal: GoalFn | None, any_word: bool = False) -> bool:
        """Proved impossible on a relaxation of the path: level 0, the fetch of ``cand``
        at level ``i`` with ``goal`` on it, and (first without it) level i-1; the
        levels between are left out, keeping only what every prefix implies of them."""
        lv = self.levels
        # (level i-1 kept, level 0 kept): the cheapest and most shared first (level 0
        # differs between paths that reach the same fetch).
        tries: list[tuple[int, bool]] = []
        if goal is not None and i >= 1 and any_word:
            tries.append((-1, False))  # a fetch of any word of the slot: one per slot
        if goal is not None and i >= 1:
            tries.append((0, False))
        if goal is not None and i >= 2:
            tries.append((0, True))
        if i >= 3:
            tries += [(1, False), (1, True)]
        for width, with0 in tries:
            if self._relaxed(query, goal_key, goal, width,
                             self._any_word(cand) if width < 0 else cand, lv[i - 1],
                             lv[0] if with0 else None, lv[i - 2] if width > 0 else None):
                return True
        return False

    def _relaxed(self, query: str, goal_key: object, goal: GoalFn | None, width: int,
                 fetch: Candidate, prev: Candidate, lv0: Candidate | None,
                 before: Candidate | None) -> bool:
        """One relaxation of ``_refuted`` is unsatisfiable (cached; an unknown is no).
        ``width`` 1 keeps ``prev`` (preceded by ``before``) as a level, 0 and -1 (a
        fetch of any word) only its isb; ``lv0``: level 0's constraints are kept."""
        key = (query, goal_key, width, self._sig(lv0) if lv0 else None, prev.isb,
               self._sig(fetch), (before.isb, self._sig(prev)) if before else None)
        hit = self._rel.get(key)
        if hit is None:
            sh = self._scratch()
            j = max(width, 0) + 2
            # Shadow level 1 stands for level i-1 (width 0, -1) or i-2 (width 1), and
            # shadow level 0 for level 0 (its constraints left out without lv0):
            # e and c never go back, c <= e, e <= n, true of every level of a path.
            cons = [0 <= sh.c[0], sh.c[0] <= sh.e[0], sh.e[0] <= sh.e[1],
                    sh.c[0] <= sh.c[1], sh.c[1] <= sh.e[1], sh.e[1] <= self.enc.n]
            if lv0 is not None:
                cons.append(self._level(0, lv0, None))
            if width > 0:
                cons.append(self._level(2, prev, before))
            cons.append(self._level(j, fetch, prev))
            if goal is not None:
                cons += goal(sh, j)[0]
            r, _ = self._ask(cons, query)
            if r == "unknown":
                return False  # not cached: the whole prefix is asked (and says why)
            hit = self._rel[key] = r == "unsat"
        return hit

    def _never(self, kind: str, i: int) -> bool:
        """No fetch at depth >= 1 of any path can show ``kind``: each word of each slot,
        after an instruction that is or is not an isb, is refuted path-independently
        (``_relaxed`` without levels before the fetch). Cached: it is about the spec."""
        hit = self._nevers.get(kind)
        if hit is not None:
            return hit
        enc = self.enc
        after = list({c.isb: c for c in enc.cands}.values())  # a previous word of each kind
        ok = True
        for cand in enc.cands:
            if not ok:
                break
            slot = cand.slot
            pts, torn_key, n_pairs, cmodx_key = self._slot_goals(slot)
            goals: list[tuple[object, GoalFn, bool]] = []
            if kind == UNDEFINED:
                ok = cand.stmts is not None
            elif kind == BTI:
                ok = not enc.spec.bti  # without guarded pages no fetch is a BTI violation
            elif kind == DATA:
                ok = not enc._may_load(cand)  # nothing read, nothing torn
            elif kind == TORN and pts:
                goals.append((torn_key, self._goal_fns(slot)[0], True))
            elif kind == CMODX and n_pairs:
                goals.append((cmodx_key, self._goal_fns(slot)[1], True))
            elif kind == STALE and cand.word != enc.hist[slot].values[enc.n]:
                goals.append(("stale", _stale_goal, False))
            elif kind == INCOMPLETE:
                at = enc.hist[slot].values
                goals += [((INCOMPLETE, m), _incomplete_goal(m), False)
                          for _, m in enc.complete if cand.word != at[m]]
            for key, fn, any_word in goals:
                fetch = self._any_word(cand) if any_word else cand
                if not all(self._relaxed(kind, key, fn, -1 if any_word else 0, fetch, p, None,
                                         None) for p in after):
                    ok = False
                    break
        self._nevers[kind] = ok
        return ok

    def _nothing_left(self, i: int, slot: int, with_stale: bool) -> bool:
        """Exact pruning: no node of the subtree at (depth ``i`` >= 1, ``slot``) can add
        a violation or a reason. Inequivalence is found; every other kind is found or
        impossible at any depth >= 1 (``_never``); the code only goes forward inside
        the site (no loop, no branch through a register, no call), so no path below
        reaches ``max_insns``. A kind this does not know (a new one) stops it."""
        enc = self.enc
        if INEQUIVALENT not in self.found or not enc.forward_only:
            return False
        if i + enc.site.nslots - slot > enc.k or set(VIOLATION_KINDS) - KNOWN_KINDS:
            return False
        kinds = [k for k in KNOWN_KINDS - {INEQUIVALENT} if k not in self.found
                 and (k != STALE or with_stale)]
        return all(self._never(k, i) for k in sorted(kinds))

    def _materialize(self) -> None:
        """Assert every level of the path in the incremental solver."""
        while self.mat < len(self.levels):
            j = self.mat
            self.solver.push()
            self.solver.add(*self.timing(j, self.levels[j], self.levels[j - 1] if j else None))
            self.mat += 1

    def _feasible(self, i: int, cand: Candidate) -> bool:
        """Can the path go on with ``cand`` at level ``i``? On yes, the level is pushed."""
        cut = i >= SHORTCUT_DEPTH and not self._pinned
        wit = self._extend(i, cand, ask=False) if cut else None
        if wit is None and cut:
            if self._refuted(i, cand, "timing", "timing", None):
                return False
            wit = self._extend(i, cand, ask=True)
        if wit is None:
            self._materialize()
            self.levels.append(cand)
            self._materialize()
            r, m = self._check([], "timing")
            if m is None:  # an unknown is recorded by _check
                self._leave()
                return False
            wit = self._witness(m, self, i)
        else:
            self.levels.append(cand)
        self.wit.append(wit)
        return True

    def _leave(self) -> None:
        """Back out of the deepest level of the path."""
        self.levels.pop()
        if len(self.wit) > len(self.levels):
            self.wit.pop()
        if self.mat > len(self.levels):
            self._pop_step()
            self.mat -= 1

    def _goal_model(self, i: int, cand: Candidate, query: str, goal_key: object,
                    goal: GoalFn, any_word: bool = False
                    ) -> tuple[z3.ModelRef | None, tuple[z3.ArithRef, ...]]:
        """``_timing_model`` of the path with ``goal`` on its last fetch (level ``i``);
        ``any_word``: the goal is about the fetch's window, not the word fetched."""
        if i >= SHORTCUT_DEPTH and not self._pinned and self._refuted(
                i, cand, query, goal_key, goal, any_word):
            return None, ()
        self._materialize()
        cons, pts = goal(self, i)
        return self._timing_model(cons, query), pts

    def force(self, st: SymState | Pending) -> SymState:
        """The state itself, computing deferred instructions (each once)."""
        chain: list[Pending] = []
        cur = st
        while isinstance(cur, Pending) and cur.done is None:
            chain.append(cur)
            cur = cur.base
        done = cur.done if isinstance(cur, Pending) else cur
        assert done is not None
        for p in reversed(chain):
            [(nst, _, _)] = self.enc.step(p.cand, done)
            p.done = done = nst
        return done

    # -- the search ------------------------------------------------------------

    def search(self, with_stale: bool) -> ObserverResult:
        enc = self.enc
        start = SymState(dict(enc.regs0), enc.mem0)
        self._dfs(0, enc.site.entry, start, (), with_stale)
        found = tuple(self.found[k] for k in (TORN, CMODX, UNDEFINED, BTI, INEQUIVALENT, STALE,
                                              INCOMPLETE, DATA) if k in self.found)
        reasons = tuple(dict.fromkeys(self.reasons))
        status = "unsafe" if found else ("unknown" if reasons else "safe")
        return ObserverResult(enc.site.name, self.kind, status, found, reasons,
                              self.queries, round(self.seconds, 4))

    def _dfs(self, i: int, slot: int, st: SymState | Pending, path: tuple[Candidate, ...],
             with_stale: bool) -> None:
        from fpatch.encoding.extract import counterexample

        enc = self.enc
        if i >= 1 and self._nothing_left(i, slot, with_stale):
            return
        if i >= enc.k:
            self._materialize()
            r, _ = self._check([], "bound")
            if r != "unsat":
                self.reasons.append(f"a run may execute more than max_insns={enc.k} "
                                    f"instructions inside the site; raise max_insns")
            return
        for cand in enc.by_slot[slot]:
            # The run's budget: most nodes are decided without a query (which would
            # notice it), so the search looks at the clock itself.
            if enc.deadline is not None and time.monotonic() >= enc.deadline:
                self.reasons.append(BUDGET_SPENT)
                return
            self.steps += 1
            if self.steps > MAX_SEARCH_STEPS:
                self.reasons.append(f"the search tried more than {MAX_SEARCH_STEPS} fetched "
                                    f"instructions for this observer (too many paths)")
                return
            if not self._feasible(i, cand):
                continue
            here = path + (cand,)
            self._window_goals(i, cand, here, st)
            self._incomplete_goal(i, cand, here, st)
            if with_stale and STALE not in self.found:
                final = enc.hist[cand.slot].values[enc.n]
                if cand.word != final and self._path_sat(st, STALE):
                    m, _ = self._goal_model(i, cand, STALE, "stale", _stale_goal)
                    if m is not None:
                        self.found[STALE] = counterexample(self, STALE, here, m, None, None)
            if self._bti_landing(i, cand, here, st) and not (
                    i == 0 and enc.site.enter == "both"):
                # A Branch Target exception: the run stops at this fetch. With `enter: both`
                # the direct entry's run goes on from the same first fetch.
                self._leave()
                continue
            if enc.deferrable(cand):  # no load, one outcome: computed when read (Pending)
                self._outcomes(i, cand, here, [(Pending(st, cand, st.cond, st.reads),
                                                enc.fall_through(cand), None)], with_stale)
                self._leave()
                continue
            now = self.force(st)
            needs, unmodelled = enc.probe(cand, now)
            if unmodelled:
                self.reasons += [f"slot {cand.slot} `{cand.insn.text}`: {u}" for u in unmodelled]
                self._leave()
                continue
            if needs:
                self._materialize()
            for vals, goal in self._data_choices(i, needs, now):
                if goal:
                    # The load's timing constrains this level: the shortcuts (which read a
                    # level's own constraints only) stay off below it.
                    self.solver.push()
                    self.solver.add(*goal)
                    if self._check([], "timing")[0] != "sat":
                        self.solver.pop()
                        continue
                    self._pinned += 1
                outs = enc.step(cand, now, _DataIO(vals, i) if needs else None)
                self._outcomes(i, cand, here, list(outs), with_stale)
                if goal:
                    self._pinned -= 1
                    self.solver.pop()
            self._leave()

    def _data_choices(self, i: int, needs: tuple[str, ...], st: SymState
                      ) -> list[tuple[dict[str, int], list[z3.BoolRef]]]:
        """Each choice of values for the data words instruction ``i`` loads, with its timing:
        a load at point e returns the word's value at some point of [Ld(e), e] (MODEL.md
        6.7), Ld(e) the newest write complete by e, and not from a write older than the one
        the observer's previous load of the word read (coRR)."""
        if not needs:
            return [({}, [])]
        options = []
        for w in needs:
            h = self.enc.data[w]
            g = z3.Int(f"g{i}_{w}")
            prev = [j for j, word, _ in st.reads if word == w and j < i]
            corr = [g >= self._written_at(w, z3.Int(f"g{prev[-1]}_{w}"))] if prev else []
            per = []
            for v in dict.fromkeys(h.values):
                pts = _intervals([t for t, x in enumerate(h.values) if x == v])
                per.append((v, corr + [self.Ld(w, self.e[i]) <= g, g <= self.e[i],
                                z3.Or(*[z3.And(a <= g, g <= b) for a, b in pts])]))
            options.append(per)
        out = []
        for combo in itertools.product(*options):
            vals = {w: v for w, (v, _) in zip(needs, combo, strict=True)}
            out.append((vals, [c for _, cs in combo for c in cs]))
        return out

    def _written_at(self, word: str, g: z3.ArithRef) -> z3.ArithRef:
        """The point of the write that produced the word's value at point ``g``."""
        vals = self.enc.data[word].values
        expr: z3.ArithRef = z3.IntVal(0)
        for t in range(1, len(vals)):
            if vals[t] != vals[t - 1]:
                expr = z3.If(g >= t, z3.IntVal(t), expr)
        return expr

    def Ld(self, word: str, e: z3.ArithRef) -> z3.ArithRef:  # noqa: N802 - docs/model.md
        """Newest modifying write of the data word complete by point ``e`` (0: none)."""
        expr: z3.ArithRef = z3.IntVal(0)
        for w, comp in sorted(self.enc.data[word].writes):
            if comp is not None:
                expr = z3.If(e >= comp, z3.IntVal(w), expr)
        return expr

    def _outcomes(self, i: int, cand: Candidate, here: tuple[Candidate, ...],
                  outs: list[tuple[SymState | Pending, BV | None, Exit | None]],
                  with_stale: bool) -> None:
        """Follow every outcome of executing ``cand`` as the i-th instruction."""
        enc = self.enc
        for nst, nxt, ex in outs:
            if ex is None and nxt is not None:
                where = enc.slot_of(nxt)
                if where == "dynamic":
                    r, why = enc.data_sat(nst.cond + [enc.inside(nxt)])
                    if r != "unsat":
                        self.reasons.append(f"slot {cand.slot} `{cand.insn.text}` may branch "
                                            f"into the site through a register (not "
                                            f"modelled)")
                    nst.cond.append(z3.Not(enc.inside(nxt)))
                    ex = Exit(nxt, 0)
                elif where is None:
                    ex = Exit(nxt, 0)
                else:
                    assert isinstance(where, int)
                    # An unknown path is explored too: more runs, never fewer.
                    if enc.data_sat(nst.cond)[0] != "unsat":
                        self._dfs(i + 1, where, nst, here, with_stale)
                    continue
            assert ex is not None
            if ex.code == 0 and not ex.undefined and (
                    away := enc.foreign(ex.pc, nst.cond, cand)) is not None:
                self.reasons.append(away)
            self._at_exit(i, nst, ex, here)
    def _btype(self, i: int, path: tuple[Candidate, ...]) -> str | None:
        """The BTYPE fetch ``i`` must be a landing pad for (env.bti, MODEL.md 6.6): an
        indirect entry is a call (blr); a br/blr of the run sets its own."""
        spec = self.enc.spec
        if not spec.bti:
            return None
        if i == 0:
            return BTYPE_CALL if self.enc.site.enter in ("indirect", "both") else None
        prev = path[-2].insn
        return branch_type(prev) if isinstance(prev, Insn) else None

    def _bti_landing(self, i: int, cand: Candidate, here: tuple[Candidate, ...],
                     st: SymState | Pending) -> bool:
        """Is this fetch a branch target whose word is not a landing pad? (then a BTI
        violation when the path can be taken; the run stops here either way)."""
        from fpatch.encoding.extract import counterexample

        btype = self._btype(i, here)
        if btype is None or landing_ok(cand.word, btype, self.enc.site.slot_addr(cand.slot)):
            return False
        if BTI not in self.found and self._path_sat(st, BTI):
            self._materialize()
            m = self._timing_model([], BTI)
            if m is not None:
                self.found[BTI] = counterexample(self, BTI, here, m, None, None)
        return True

    def _pop_step(self) -> None:
        self.solver.pop()
        self.e.pop()
        self.c.pop()
        self.f.pop()
        self.w.pop()

    def _slot_goals(self, slot: int) -> tuple[tuple[tuple[int, int], ...], int, int, int]:
        """Per slot, once: its torn points, the number of its word pairs a CMODX goal
        looks at, and numbers naming the two goals (keys of the shortcut caches)."""
        hist, others = self.enc.hist[slot], self.enc.by_slot[slot]
        pts = _intervals([t for t, torn in enumerate(hist.torn) if torn])
        k, plain = len(others), sum(1 for a in others if a.cmodx)
        n_pairs = k * (k - 1) // 2 - plain * (plain - 1) // 2  # not both in the CMODX set
        ids = self._sig_ids
        torn_key = ids.setdefault((TORN, pts), len(ids))
        cmodx_key = ids.setdefault((CMODX, tuple((a.points, a.cmodx) for a in others)), len(ids))
        return pts, torn_key, n_pairs, cmodx_key

    def _goal_fns(self, slot: int) -> tuple[GoalFn, GoalFn]:
        """The torn and CMODX goals on a fetch of ``slot`` (its window)."""
        enc = self.enc
        pts, _, n_pairs, _ = self._slot_goals(slot)
        others = enc.by_slot[slot]

        def torn_goal(s: _ObserverSearch, j: int
                      ) -> tuple[list[z3.BoolRef], tuple[z3.ArithRef, ...]]:
            g = z3.Int(f"torn_g{j}")
            return [s.in_window(j, slot, g, pts)], (g,)

        def cmodx_goal(s: _ObserverSearch, j: int
                       ) -> tuple[list[z3.BoolRef], tuple[z3.ArithRef, ...]]:
            g, h = z3.Int(f"cmodx_g{j}"), z3.Int(f"cmodx_h{j}")
            if n_pairs <= MAX_CMODX_PAIRS:
                goal = z3.Or(*[z3.And(s.in_window(j, slot, g, a.points),
                                      s.in_window(j, slot, h, b.points))
                               for a in others for b in others
                               if a.idx < b.idx and not (a.cmodx and b.cmodx)])
            else:
                # The same goal in size linear in the words: g at a word outside the
                # CMODX set, h at any other word of the slot (hostile specs give slots
                # hundreds of words, and pairs grow as their square).
                goal = z3.Or(*[z3.And(s.in_window(j, slot, g, a.points),
                                      s.in_window(j, slot, h, [(0, enc.n)]),
                                      z3.Not(z3.Or(*[z3.And(lo <= h, h <= hi)
                                                     for lo, hi in a.points])))
                               for a in others if not a.cmodx and a.points])
            return [goal], (g, h)

        return torn_goal, cmodx_goal

    def _window_goals(self, i: int, cand: Candidate, here: tuple[Candidate, ...],
                      st: SymState | Pending) -> None:
        from fpatch.encoding.extract import counterexample

        slot = cand.slot
        info = self._goal_info.get(slot)
        if info is None:
            info = self._goal_info[slot] = self._slot_goals(slot)
        pts, torn_key, n_pairs, cmodx_key = info
        if TORN not in self.found and pts:
            m, gs = self._goal_model(i, cand, TORN, torn_key, self._goal_fns(slot)[0],
                                     any_word=True)
            if m is not None and self._path_sat(st, TORN):
                self.found[TORN] = counterexample(self, TORN, here, m, None, gs)
        if CMODX not in self.found and n_pairs:
            m, gh = self._goal_model(i, cand, CMODX, cmodx_key, self._goal_fns(slot)[1],
                                     any_word=True)
            if m is not None and self._path_sat(st, CMODX):
                self.found[CMODX] = counterexample(self, CMODX, here, m, None, gh)
        if cand.stmts is None and UNDEFINED not in self.found and self._path_sat(st, UNDEFINED):
            self._materialize()
            m = self._timing_model([], UNDEFINED)
            if m is not None:
                self.found[UNDEFINED] = counterexample(self, UNDEFINED, here, m, None, None)

    def _incomplete_goal(self, i: int, cand: Candidate, here: tuple[Candidate, ...],
                         st: SymState | Pending) -> None:
        """MODEL.md 6.5: fetch ``i`` executes at or after a `complete:` mark ``m`` a word
        fetched from before ``m`` that the slot no longer holds at ``m``."""
        from fpatch.encoding.extract import counterexample

        if INCOMPLETE in self.found:
            return
        at = self.enc.hist[cand.slot].values
        for name, m in self.enc.complete:
            if cand.word == at[m]:
                continue
            model, _ = self._goal_model(i, cand, INCOMPLETE, (INCOMPLETE, m),
                                        _incomplete_goal(m))
            if model is not None and self._path_sat(st, INCOMPLETE):
                self.found[INCOMPLETE] = counterexample(self, INCOMPLETE, here, model, None,
                                                        None, mark=(name, m))
                return

    def _at_exit(self, i: int, st: SymState | Pending, ex: Exit,
                 here: tuple[Candidate, ...]) -> None:
        from fpatch.encoding.extract import counterexample

        if ex.undefined or self.enc.valid_unknown or (INEQUIVALENT in self.found
                                                      and (not st.reads or DATA in self.found)):
            return
        end = PathEnd(self.force(st), ex, here)
        got = self.enc.classify(end)
        if isinstance(got, str):
            self.reasons.append(got)
            return
        if got is None or got[0] in self.found:
            return
        kind, data, state = got
        self._materialize()
        m = self._timing_model([], kind)
        if m is not None:
            self.found[kind] = counterexample(self, kind, end.cands, m, data, None, end,
                                              state=state)
