"""Explicit-state checker for instruction-fetch litmus tests.

MODEL.md s.3 generalised from one patcher to several threads (docs/litmus.md):
threads interleave instruction by instruction, data accesses are sequentially
consistent, every store to a code word is a modifying write, and a fetch may
return any value the word held between the newest write published by the
thread's last context synchronization event and now.

The state is abstract (no absolute time points) so that interleavings reaching
the same state merge: per code word we keep its value sequence and, for each
write, how far its publication chain has progressed; per thread the lowest
write index its fetches may still return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fpatch.isa import Insn, decode, semantics
from fpatch.isa.interp import Machine, eval_cond, eval_expr
from fpatch.isa.ir import (
    MASK64,
    REGISTERS,
    Barrier,
    CondJump,
    Expr,
    Jump,
    Load,
    Maintenance,
    Reg,
    SetReg,
    Stmt,
    Store,
    Trap,
)
from fpatch.litmus.parse import (
    AndP,
    Atom,
    Litmus,
    LitmusUnsupported,
    MemLoc,
    Not,
    OrP,
    Prop,
    RegLoc,
    TrueP,
)
from fpatch.litmus.rules import FULL_DSB_OPTIONS, Rules, rules_for

MAX_STEPS = 256  # per thread; a longer run (a loop) makes the answer `unsupported`
MAX_STATES = 2_000_000

_RIDX = {r: i for i, r in enumerate(REGISTERS)}

# ----------------------------------------------------------------- state types
# Plain tuples keep states hashable and cheap to copy.
#
# WriteStatus = (stage, pending, dmb_pending, writer): `stage` indexes the rule
#   chain (== len(chain) means published); `pending` are the threads whose
#   maintenance for the current stage still waits for their DSB; `dmb_pending`
#   those of them that have since executed a DMB SY/ISH (their next memory
#   access completes a DC, herd: [DC.CVAU]; po; [dmb.full]; po; [Exp & M]).
# CodeLoc = (values, statuses, snapshots): values[0] is the initial word;
#   statuses[j-1] belongs to write j; snapshots[j] is, for every code location,
#   the newest write index published when write j was made. A thread that
#   fetched write j can never again fetch below that snapshot (the fetch came
#   after those invalidations completed; herd's ic-ca keeps it so).
# ThreadState = (pc, regs, lo, floor, steps, done, early): lo[k]/floor[k] are
#   lower bounds for code location k (CSE-based and fetch-based); `early` the
#   addresses of DC/IC instructions ahead that were performed early.

WriteStatus = tuple[int, frozenset[int], frozenset[int], int]
CodeLoc = tuple[tuple[int, ...], tuple[WriteStatus, ...], tuple[tuple[int, ...], ...]]
ThreadState = tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...], int, bool,
                    frozenset[int]]
State = tuple[tuple[ThreadState, ...], tuple[tuple[int, int], ...], tuple[CodeLoc, ...]]


@dataclass(frozen=True)
class Answer:
    verdict: str  # "Allowed" | "Forbidden" | "Required" | "unsupported"
    reason: str = ""
    states: int = 0
    outcomes: int = 0
    witnesses: int = 0

    def text(self) -> str:
        if self.verdict in ("unsupported", "error"):
            return f"{self.verdict}: {self.reason}"
        return self.verdict


class _Checker:
    def __init__(self, t: Litmus, rules: Rules) -> None:
        self.t = t
        self.rules = rules
        self.code = t.code_words()
        self.code_addrs = sorted(self.code)
        self.loc_index = {a: k for k, a in enumerate(self.code_addrs)}
        self.insn_cache: dict[tuple[int, int], tuple[Insn | None, tuple[Stmt, ...]]] = {}
        self.nthreads = len(t.threads)
        self.ends = {th.end for th in t.threads}
        self.written: set[int] = set()

    # ------------------------------------------------------------ the initial state

    def check_supported(self) -> None:
        """Constructs whose ordering herd models and this engine does not."""
        for th in self.t.threads:
            picks: dict[str, str] = {}
            for ins in th.code:
                insn, stmts = self.decoded(ins.word, ins.addr)
                if insn is None:
                    continue
                for st in stmts:
                    used = set()
                    for e in _addresses(st):
                        used |= _regs_of(e)
                    if isinstance(st, Maintenance) or isinstance(st, Jump):
                        used |= _regs_of(st.addr if isinstance(st, Maintenance) else st.target)
                    for r in used & set(picks):
                        raise LitmusUnsupported(
                            f"P{th.index}: `{ins.text}` uses {r}, picked by `{picks[r]}` "
                            "(a pick dependency into an address; its ordering is not modelled)")
                if insn.op in ("csel", "csinc"):
                    for st in stmts:
                        if isinstance(st, SetReg):
                            picks[st.name] = ins.text
                else:
                    for st in stmts:
                        if isinstance(st, SetReg):
                            picks.pop(st.name, None)

    def initial(self) -> State:
        mem: dict[int, int] = {}
        for a, w in self.code.items():
            _store(mem, a, w, 4)
        for name, v in self.t.mem.items():
            _store(mem, self.t.variables[name], v, 8)
        threads: list[ThreadState] = []
        nloc = len(self.code_addrs)
        for th in self.t.threads:
            regs = [0] * len(REGISTERS)
            for (i, r), v in self.t.regs.items():
                if i == th.index:
                    regs[_RIDX[r]] = v
            done = th.base == th.end
            threads.append((th.base, tuple(regs), (0,) * nloc, (0,) * nloc, 0, done,
                            frozenset()))
        locs = tuple(((self.code[a],), (), ((0,) * nloc,)) for a in self.code_addrs)
        return tuple(threads), _freeze(mem), locs

    # ------------------------------------------------------------------ fetch rules

    def _published(self, loc: CodeLoc) -> int:
        """Index of the newest published write of a location (0: the initial word)."""
        n = len(self.rules.chain)
        best = 0
        for j, st in enumerate(loc[1], start=1):
            if st[0] >= n:
                best = j
        return best

    def fetch_choices(self, state: State, ti: int, pc: int) -> list[tuple[int, int]]:
        """(word, write index) pairs the thread may fetch at ``pc`` now."""
        k = self.loc_index.get(pc)
        if k is None:
            raise LitmusUnsupported(f"P{ti} executes 0x{pc:x}, outside every thread's code")
        values, _, snaps = state[2][k]
        th = state[0][ti]
        lo = max(th[2][k], th[3][k])
        out: dict[int, int] = {}
        for j in range(lo, len(values)):
            w = values[j]
            # among writes with the same word, the weakest later bound
            if w not in out or sum(snaps[j]) < sum(snaps[out[w]]):
                out[w] = j
        return [(w, j) for w, j in out.items()]

    # ------------------------------------------------------------------ one step

    def decoded(self, word: int, pc: int) -> tuple[Insn | None, tuple[Stmt, ...]]:
        key = (word, pc)
        if key not in self.insn_cache:
            insn = decode(word, pc)
            if isinstance(insn, Insn):
                self.insn_cache[key] = (insn, semantics(insn, pc))
            else:
                self.insn_cache[key] = (None, ())
        return self.insn_cache[key]

    def successors(self, state: State, ti: int) -> Iterator[State]:
        threads, mem_f, locs = state
        th = threads[ti]
        pc, regs_t, lo, floor, steps, _, early = th
        if steps >= MAX_STEPS:
            raise LitmusUnsupported(f"P{ti} runs more than {MAX_STEPS} instructions (a loop); "
                                    "unbounded runs are not modelled")
        for word, j in self.fetch_choices(state, ti, pc):
            insn, stmts = self.decoded(word, pc)
            if insn is None:
                raise LitmusUnsupported(
                    f"P{ti} can execute 0x{word:08x} at 0x{pc:x}, which is not a supported "
                    "instruction (an undefined-instruction exception; faults are not modelled)")
            k = self.loc_index[pc]
            snap = locs[k][2][j]
            new_floor = floor
            if self.rules.fetch_floor:
                new_floor = tuple(max(a, b) for a, b in zip(floor, snap, strict=True))
            nxt = self._execute(state, ti, insn, () if pc in early else stmts, new_floor, pc)
            if nxt is not None:
                yield nxt
        for q in self._hoistable(state, ti):
            insn, stmts = self.decoded(self.code[q], q)
            assert insn is not None
            nxt = self._execute(state, ti, insn, stmts, floor, q)
            if nxt is not None:
                yield nxt

    def _hoistable(self, state: State, ti: int) -> Iterator[int]:
        """DC/IC instructions further down straight-line code that may be performed now:
        herd orders them after earlier instructions only through DSB, ISB, address
        dependencies, same-cache-line accesses and (DC only) DMB SY/ISH."""
        if not self.rules.hoist:
            return
        th = state[0][ti]
        pc, early = th[0], th[6]
        m = Machine(dict(zip(REGISTERS, th[1], strict=True)), lambda a: 0)
        written_regs: set[str] = set()
        accessed: list[int] = []  # addresses of the memory accesses passed so far
        q = pc
        for _ in range(16):
            if q not in self.code or q in self.ends and q != pc:
                return
            k = self.loc_index[q]
            if len(state[2][k][0]) > 1 or q in self.written:
                return  # modified code: what lies ahead is not known yet
            insn, stmts = self.decoded(self.code[q], q)
            if insn is None:
                return
            if q != pc and q not in early and insn.op in ("dc", "ic"):
                mt = stmts[0]
                assert isinstance(mt, Maintenance)
                regs = _regs_of(mt.addr)
                if not regs & written_regs:
                    a = None if mt.addr is None else eval_expr(mt.addr, m)
                    if a is None or not any(self.rules.same_line(a, b) for b in accessed):
                        yield q
            if q in early or q == pc and insn.op in ("dc", "ic"):
                q += 4
                continue
            # can a later DC/IC pass this instruction?
            for st in stmts:
                if isinstance(st, CondJump):
                    continue  # speculation past a branch: a taken branch discards the run
                if isinstance(st, (Jump, Trap, Barrier)):
                    if not (isinstance(st, Barrier) and st.kind == "dmb"):
                        return  # unconditional branches, DSB, ISB, exceptions
                    if st.option in FULL_DSB_OPTIONS:
                        return  # conservative: stops the DC; an IC could pass it
                for e in _addresses(st):
                    if _regs_of(e) & written_regs or _has_load(e):
                        return  # an address not known yet (a dependency)
                    accessed.append(eval_expr(e, m))
                if isinstance(st, SetReg):
                    written_regs.add(st.name)
            q += 4

    def _execute(self, state: State, ti: int, insn: Insn, stmts: tuple[Stmt, ...],
                 floor: tuple[int, ...], at: int) -> State | None:
        """Perform ``stmts`` of the instruction at ``at`` (the thread's pc, or a DC/IC
        ahead of it that is performed early)."""
        threads, mem_f, locs_t = state
        pc, regs_t, lo, _, steps, _, early = threads[ti]
        hoisted = at != pc
        addr: int | None
        mem = dict(mem_f)
        m = Machine(dict(zip(REGISTERS, regs_t, strict=True)), lambda a: 0, mem)
        locs = list(locs_t)
        next_pc = (pc + 4) & MASK64
        lo_l = list(lo)
        if any(isinstance(st, Store) or _has_load(st) for st in stmts):
            for k, loc in enumerate(locs):
                locs[k] = self._access(loc, ti)
        for s in stmts:
            if isinstance(s, SetReg):
                m.regs[s.name] = eval_expr(s.value, m)
            elif isinstance(s, Store):
                addr = eval_expr(s.addr, m)
                m.store(addr, eval_expr(s.value, m), s.size, False)
                self._code_write(locs, mem, addr, s.size, ti)
            elif isinstance(s, Jump):
                next_pc = eval_expr(s.target, m)
            elif isinstance(s, CondJump):
                if eval_cond(s.cond, m):
                    next_pc = eval_expr(s.target, m)
            elif isinstance(s, Barrier):
                if s.kind == "isb":
                    for k, loc in enumerate(locs):
                        lo_l[k] = max(lo_l[k], self._published(loc))
                elif s.kind == "dsb":
                    for k, loc in enumerate(locs):
                        locs[k] = self._advance_dsb(loc, ti, s.option)
                elif s.option in FULL_DSB_OPTIONS:
                    for k, loc in enumerate(locs):
                        locs[k] = self._dmb_full(loc, ti)
            elif isinstance(s, Maintenance):
                addr = None if s.addr is None else eval_expr(s.addr, m)
                op = "dc" if s.op.startswith("dc") else "ic"
                immediate = op == "ic" and self._ic_completes_at_issue(at)
                for k, a in enumerate(self.code_addrs):
                    if addr is None or self.rules.covers(addr, a):
                        locs[k] = self._advance_maint(locs[k], ti, op, immediate)
            elif isinstance(s, Trap):
                raise LitmusUnsupported(f"P{ti} executes `{insn.text}`: exceptions are not "
                                        "modelled")
            else:  # pragma: no cover - every IR statement is handled above
                raise TypeError(s)
        regs = tuple(m.regs[r] for r in REGISTERS)
        if hoisted:
            new_th: ThreadState = (pc, regs, tuple(lo_l), floor, steps, False, early | {at})
        elif early - {pc} and next_pc != (pc + 4) & MASK64:
            return None  # a DC/IC performed speculatively on a path not taken
        else:
            # reaching the end of any thread's code ends the thread (herd: the code ends)
            done = next_pc in self.ends
            new_th = (next_pc, regs, tuple(lo_l), floor, steps + 1, done, early - {pc})
        threads_l = list(threads)
        threads_l[ti] = new_th
        return tuple(threads_l), _freeze(mem), tuple(locs)

    def _code_write(self, locs: list[CodeLoc], mem: dict[int, int], addr: int, size: int,
                    ti: int) -> None:
        first = addr & ~3
        for a in range(first, addr + size, 4):
            k = self.loc_index.get(a)
            if k is None:
                continue
            values, sts, snaps = locs[k]
            word = _load(mem, a, 4)
            if word == values[-1]:
                continue  # the same value again: not a modification (MODEL.md s.4)
            self.written.add(a)
            snap = tuple(self._published(loc) for loc in locs)
            new: WriteStatus = (0, frozenset(), frozenset(), ti)
            locs[k] = (values + (word,), sts + (new,), snaps + (snap,))

    def _ic_completes_at_issue(self, at: int) -> bool:
        """An IC whose thread next executes a DSB SY/ISH (only register moves between)
        takes effect when issued: herd orders it against every fetch (ic-after), not
        at its DSB."""
        if not self.rules.ic_at_issue:
            return False
        q = at + 4
        while q in self.code and q not in self.written:
            insn, stmts = self.decoded(self.code[q], q)
            if insn is None:
                return False
            if insn.op == "dsb":
                b = stmts[0]
                return isinstance(b, Barrier) and b.option in FULL_DSB_OPTIONS
            if not all(isinstance(st, SetReg) and not _has_load(st) for st in stmts):
                return False
            q += 4
        return False

    @staticmethod
    def _map_chains(loc: CodeLoc, step: Callable[[WriteStatus], WriteStatus]) -> CodeLoc:
        """Apply ``step`` to every pending publication chain of a code location.

        Returns ``loc`` itself when nothing changed, so unchanged states stay shared.
        """
        values, sts, pf = loc
        new = tuple(step(st) for st in sts)
        return loc if new == sts else (values, new, pf)

    def _advance_maint(self, loc: CodeLoc, ti: int, op: str, immediate: bool) -> CodeLoc:
        chain = self.rules.chain

        def step(st: WriteStatus) -> WriteStatus:
            stage, pending, dmbp, writer = st
            if stage < len(chain) and chain[stage] == op:
                if immediate and stage + 1 < len(chain) and chain[stage + 1] == "dsb_full":
                    return (stage + 2, frozenset(), frozenset(), writer)
                if ti not in pending:
                    return (stage, pending | {ti}, dmbp, writer)
            return st

        return self._map_chains(loc, step)

    def _dmb_full(self, loc: CodeLoc, ti: int) -> CodeLoc:
        chain = self.rules.chain
        if not self.rules.dc_by_dmb:
            return loc

        def step(st: WriteStatus) -> WriteStatus:
            stage, pending, dmbp, writer = st
            if stage < len(chain) and chain[stage] == "dc" and ti in pending and ti not in dmbp:
                return (stage, pending, dmbp | {ti}, writer)
            return st

        return self._map_chains(loc, step)

    def _access(self, loc: CodeLoc, ti: int) -> CodeLoc:
        """A memory access by ``ti`` after DC; DMB SY/ISH completes the DC."""

        def step(st: WriteStatus) -> WriteStatus:
            stage, _, dmbp, writer = st
            return (stage + 2, frozenset(), frozenset(), writer) if ti in dmbp else st

        return self._map_chains(loc, step)

    def _advance_dsb(self, loc: CodeLoc, ti: int, option: str) -> CodeLoc:
        chain = self.rules.chain

        def step(st: WriteStatus) -> WriteStatus:
            stage, pending, _, writer = st
            if stage < len(chain):
                kind = chain[stage]
                if kind in ("dsb", "dsb_full") and ti == writer and \
                        self.rules.dsb_matches(kind, option):
                    return (stage + 1, frozenset(), frozenset(), writer)
                if kind in ("dc", "ic") and ti in pending and stage + 1 < len(chain) and \
                        self.rules.dsb_matches(chain[stage + 1], option):
                    return (stage + 2, frozenset(), frozenset(), writer)
            return st

        return self._map_chains(loc, step)

    # ------------------------------------------------------------------ the search

    def run(self) -> tuple[set[tuple[int, ...]], int]:
        self.check_supported()
        probes = _probes(self.t.condition)
        init = self.initial()
        seen = {init}
        stack = [init]
        outcomes: set[tuple[int, ...]] = set()
        while stack:
            st = stack.pop()
            live = [i for i, th in enumerate(st[0]) if not th[5]]
            if not live:
                if not any(th[6] for th in st[0]):
                    outcomes.add(self._project(st, probes))
                continue
            for ti in live:
                for nxt in self.successors(st, ti):
                    if nxt not in seen:
                        if len(seen) >= MAX_STATES:
                            raise LitmusUnsupported(f"more than {MAX_STATES} states")
                        seen.add(nxt)
                        stack.append(nxt)
        return outcomes, len(seen)

    def _project(self, st: State, probes: list[RegLoc | MemLoc]) -> tuple[int, ...]:
        mem = dict(st[1])
        out = []
        for p in probes:
            if isinstance(p, RegLoc):
                v = st[0][p.thread][1][_RIDX[p.reg]]
                out.append(v if p.wide else v & 0xFFFFFFFF)
            else:
                out.append(_load(mem, self.t.variables[p.name], 8))
        return tuple(out)


# ----------------------------------------------------------------- helpers


def _store(mem: dict[int, int], addr: int, value: int, size: int) -> None:
    for i in range(size):
        mem[(addr + i) & MASK64] = (value >> (8 * i)) & 0xFF


def _load(mem: dict[int, int], addr: int, size: int) -> int:
    return sum(mem.get((addr + i) & MASK64, 0) << (8 * i) for i in range(size))


def _has_load(s: object) -> bool:
    def walk(e: object) -> bool:
        if isinstance(e, Load):
            return True
        return any(walk(getattr(e, f)) for f in ("a", "b", "addr", "value", "cond", "target")
                   if hasattr(e, f))

    return walk(s)


def _regs_of(e: object) -> set[str]:
    if e is None:
        return set()
    if isinstance(e, Reg):
        return {e.name}
    out: set[str] = set()
    for f in ("a", "b", "addr", "value", "cond"):
        if hasattr(e, f):
            out |= _regs_of(getattr(e, f))
    return out


def _addresses(s: object) -> list[Expr]:
    """Address expressions of the memory accesses in a statement."""
    out: list[Expr] = []
    if isinstance(s, Store):
        out.append(s.addr)
    if isinstance(s, Load):
        out.append(s.addr)
    for f in ("a", "b", "value", "cond", "target"):
        if hasattr(s, f):
            out += _addresses(getattr(s, f))
    return out


def _freeze(mem: dict[int, int]) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((a, b) for a, b in mem.items() if b))


def _probes(p: Prop) -> list[RegLoc | MemLoc]:
    out: list[RegLoc | MemLoc] = []

    def walk(q: Prop) -> None:
        if isinstance(q, Atom):
            if q.loc not in out:
                out.append(q.loc)
        elif isinstance(q, Not):
            walk(q.arg)
        elif isinstance(q, (AndP, OrP)):
            for a in q.args:
                walk(a)

    walk(p)
    return out


def _holds(p: Prop, env: dict[RegLoc | MemLoc, int]) -> bool:
    if isinstance(p, Atom):
        v = env[p.loc]
        want = p.value if not (isinstance(p.loc, RegLoc) and not p.loc.wide) else \
            p.value & 0xFFFFFFFF
        return v == want
    if isinstance(p, Not):
        return not _holds(p.arg, env)
    if isinstance(p, AndP):
        return all(_holds(a, env) for a in p.args)
    if isinstance(p, OrP):
        return any(_holds(a, env) for a in p.args)
    assert isinstance(p, TrueP)
    return p.value


def check(t: Litmus, rules: Rules | None = None) -> Answer:
    """Enumerate every execution of ``t`` and answer for its final condition."""
    rules = rules or rules_for(t.idc, t.dic)
    try:
        outcomes, nstates = _Checker(t, rules).run()
    except LitmusUnsupported as e:
        return Answer("unsupported", str(e))
    probes = _probes(t.condition)
    sat = [o for o in outcomes if _holds(t.condition, dict(zip(probes, o, strict=True)))]
    if t.quantifier == "forall":
        verdict = "Required" if len(sat) == len(outcomes) else ("Allowed" if sat else "Forbidden")
    else:
        verdict = "Allowed" if sat else "Forbidden"
    return Answer(verdict, "", nstates, len(outcomes), len(sat))
