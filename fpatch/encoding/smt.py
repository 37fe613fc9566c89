"""The Z3 encoding: one observer run against the patcher's timeline, as constraints.

This is the only module that imports z3. It reads the plain model (``Timeline``,
``SlotHistory``, the ISA's IR) and answers with ``fpatch.verdict`` records, so
no solver object leaves it.

Shape of the encoding, per site and observer kind (docs/model.md):
- step ``i`` of the run (``0..K-1``, K = max_insns) has a PC, an "active" flag
  (the run is still inside the site), execution point ``e_i``, last CSE ``c_i``,
  fetch point ``f_i`` and a selector ``sel_i`` naming which (slot, word)
  candidate it fetched; the machine state after it is a fresh set of 64-bit
  registers and a byte array, constrained by the IR of the selected word;
- each valid state's complete execution is encoded the same way with the fetch
  pinned to that state's words, from the same initial registers and memory;
- each violation kind is a goal asserted under push/pop.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import z3

from fpatch.isa import Insn, Unsupported, decode, is_cmodx, semantics
from fpatch.isa.ir import (
    MASK64,
    REGISTERS,
    Add,
    And,
    Barrier,
    CondJump,
    Const,
    Cond,
    Expr,
    IsZero,
    Jump,
    Load,
    Maintenance,
    NotZero,
    Or,
    Reg,
    SetReg,
    Stmt,
    Store,
    Sub,
    Trap,
)
from fpatch.model.arch import NMI_LOCAL, NMI_REMOTE, THREAD
from fpatch.model.timeline import SlotHistory, Timeline
from fpatch.spec.types import Helper, Site, Spec
from fpatch.verdict import (
    CMODX,
    INEQUIVALENT,
    STALE,
    TORN,
    UNDEFINED,
    Counterexample,
    EffectDiff,
    Exec,
    ObserverResult,
)

BV = z3.BitVecRef
MINIMIZE_MS = 500  # per query spent making a counterexample simpler; never affects the verdict
TRAP_CODES = {"brk": 1, "svc": 2, "hvc": 3, "smc": 4}


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


@dataclass
class Effects:
    """What one encoded execution leaves behind (all z3 terms)."""

    regs: dict[str, BV]
    mem: z3.ArrayRef
    pc: BV
    code: z3.ArithRef
    active_at_end: z3.BoolRef
    undefined: list[z3.BoolRef]
    stores: list[tuple[z3.BoolRef, BV, int, bool]]
    calls: list[tuple[z3.BoolRef, str, z3.ArithRef, list[BV]]]  # guard, helper, position, inputs
    ncalls: z3.ArithRef


def _intervals(points: Sequence[int]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for p in sorted(points):
        if out and out[-1][1] == p - 1:
            out[-1][1] = p
        else:
            out.append([p, p])
    return tuple((a, b) for a, b in out)


class SiteEncoder:
    """Everything about one site that does not depend on the observer kind."""

    def __init__(self, spec: Spec, tl: Timeline, site: Site, timeout_ms: int) -> None:
        self.spec, self.tl, self.site = spec, tl, site
        self.timeout_ms = timeout_ms
        self.hist: tuple[SlotHistory, ...] = tl.history(site)
        self.n = tl.n
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
        self.queries = 0
        self.solver_seconds = 0.0

    def _candidate(self, slot: int, word: int, points: tuple[tuple[int, int], ...]) -> Candidate:
        pc = self.site.slot_addr(slot)
        insn = decode(word, pc)
        stmts = semantics(insn, pc) if isinstance(insn, Insn) else None
        c = Candidate(len(self.cands), slot, word, insn, stmts,
                      is_cmodx(word, self.spec.cmodx_linux), points)
        self.cands.append(c)
        return c

    # ------------------------------------------------------------ expressions

    def _expr(self, e: Expr, regs: dict[str, BV], mem: z3.ArrayRef) -> BV:
        if isinstance(e, Const):
            return z3.BitVecVal(e.value & MASK64, 64)
        if isinstance(e, Reg):
            return regs[e.name]
        if isinstance(e, Add):
            return self._expr(e.a, regs, mem) + self._expr(e.b, regs, mem)
        if isinstance(e, Sub):
            return self._expr(e.a, regs, mem) - self._expr(e.b, regs, mem)
        if isinstance(e, And):
            return self._expr(e.a, regs, mem) & self._expr(e.b, regs, mem)
        if isinstance(e, Or):
            return self._expr(e.a, regs, mem) | self._expr(e.b, regs, mem)
        if isinstance(e, Load):
            addr = self._expr(e.addr, regs, mem)
            parts = [z3.Select(mem, addr + k) for k in range(e.size)]
            val = z3.Concat(*reversed(parts)) if len(parts) > 1 else parts[0]
            return z3.ZeroExt(64 - 8 * e.size, val)
        raise TypeError(e)

    def _cond(self, c: Cond, regs: dict[str, BV], mem: z3.ArrayRef) -> z3.BoolRef:
        v = self._expr(c.value, regs, mem)
        return v == 0 if isinstance(c, IsZero) else v != 0

    def _clobber(self, h: Helper, reg: str, inputs: list[BV]) -> BV:
        key = (h.name, reg)
        if key not in self.uf:
            sorts = [z3.BitVecSort(64)] * len(inputs) + [z3.BitVecSort(64)]
            self.uf[key] = z3.Function(f"clobber_{h.name}_{reg}", *sorts)
        f = self.uf[key]
        return f(*inputs) if inputs else f()  # type: ignore[no-any-return]

    def _apply(self, cand: Candidate, regs: dict[str, BV], mem: z3.ArrayRef) -> dict:
        """Symbolic effect of executing ``cand`` from (regs, mem)."""
        assert cand.stmts is not None
        pc = self.site.slot_addr(cand.slot)
        regs = dict(regs)
        nxt: BV = z3.BitVecVal((pc + 4) & MASK64, 64)
        stores: list[tuple[BV, int, bool]] = []
        call: Helper | None = None
        trap: Trap | None = None
        isb = False
        for s in cand.stmts:
            if isinstance(s, SetReg):
                regs[s.name] = self._expr(s.value, regs, mem)
            elif isinstance(s, Store):
                addr = self._expr(s.addr, regs, mem)
                val = self._expr(s.value, regs, mem)
                for b in range(s.size):
                    mem = z3.Store(mem, addr + b, z3.Extract(8 * b + 7, 8 * b, val))
                stores.append((addr, s.size, s.stack))
            elif isinstance(s, Jump):
                nxt = self._expr(s.target, regs, mem)
                if s.link and isinstance(s.target, Const) and s.target.value in self.helpers:
                    call = self.helpers[s.target.value]
            elif isinstance(s, CondJump):
                nxt = z3.If(self._cond(s.cond, regs, mem), self._expr(s.target, regs, mem), nxt)
            elif isinstance(s, Barrier):
                isb = isb or s.kind == "isb"
            elif isinstance(s, Trap):
                trap = s
            elif isinstance(s, Maintenance):
                pass
            else:  # pragma: no cover
                raise TypeError(s)
        inputs: list[BV] = []
        if call is not None:
            # The bl has set x30; the helper runs to completion under its contract.
            inputs = [regs[r] for r in call.inputs]
            entry = dict(regs)
            for r in call.clobbers:
                regs[r] = self._clobber(call, r, inputs)
            for dst, src in call.restores:
                regs[dst] = entry[src]
            nxt = entry[call.returns_to]
        if trap is not None:
            nxt = z3.BitVecVal(pc, 64)
        return {"regs": regs, "mem": mem, "next": nxt, "stores": stores, "call": call,
                "inputs": inputs, "trap": trap, "isb": isb}

    # ------------------------------------------------------------- executions

    def execution(
        self,
        tag: str,
        solver: z3.Solver,
        regs0: dict[str, BV],
        mem0: z3.ArrayRef,
        cands_for: list[list[Candidate]],
    ) -> tuple[Effects, list[dict]]:
        """Encode up to K steps fetching, at each slot, one of ``cands_for[slot]``."""
        site = self.site
        regs, mem = dict(regs0), mem0
        pc: BV = z3.BitVecVal(site.slot_addr(site.entry), 64)
        code: z3.ArithRef = z3.IntVal(0)
        ncalls: z3.ArithRef = z3.IntVal(0)
        act: z3.BoolRef = z3.BoolVal(True)
        steps: list[dict] = []
        eff = Effects(regs, mem, pc, code, act, [], [], [], ncalls)
        reach = {site.entry}
        for i in range(self.k):
            if not reach:
                act = z3.BoolVal(False)
                break
            sel = z3.Int(f"{tag}_sel{i}")
            options = [c for j in sorted(reach) for c in cands_for[j]]
            step = {"act": act, "pc": pc, "sel": sel, "isb": z3.BoolVal(False),
                    "options": options, "slots": sorted(reach)}
            reach = set().union(*[self._successors(c) for c in options])
            at_slot = [pc == site.slot_addr(j) for j in range(site.nslots)]
            solver.add(z3.Implies(act, z3.Or(*[
                z3.And(sel == c.idx, at_slot[c.slot]) for c in options])))
            new_regs: dict[str, BV] = {}
            outs = [(c, self._apply(c, regs, mem)) for c in options if c.stmts is not None]
            undef = [c for c in options if c.stmts is None]
            if undef:
                eff.undefined.append(z3.And(act, z3.Or(*[sel == c.idx for c in undef])))
            changed = {r for _, o in outs for r in REGISTERS if o["regs"][r] is not regs[r]}
            for r in REGISTERS:
                if r not in changed:
                    new_regs[r] = regs[r]
                    continue
                v = z3.BitVec(f"{tag}_{r}_{i + 1}", 64)
                expr: BV = regs[r]
                for c, o in outs:
                    if o["regs"][r] is not regs[r]:
                        expr = z3.If(z3.And(act, sel == c.idx), o["regs"][r], expr)
                solver.add(v == expr)
                new_regs[r] = v
            if any(o["mem"] is not mem for _, o in outs):
                m2 = z3.Array(f"{tag}_mem_{i + 1}", z3.BitVecSort(64), z3.BitVecSort(8))
                mexpr = mem
                for c, o in outs:
                    if o["mem"] is not mem:
                        mexpr = z3.If(z3.And(act, sel == c.idx), o["mem"], mexpr)
                solver.add(m2 == mexpr)
                new_mem = m2
            else:
                new_mem = mem
            npc = z3.BitVec(f"{tag}_pc_{i + 1}", 64)
            pexpr: BV = pc
            trap_here: list[z3.BoolRef] = []
            for c, o in outs:
                g = z3.And(act, sel == c.idx)
                pexpr = z3.If(g, o["next"], pexpr)
                for addr, size, stack in o["stores"]:
                    eff.stores.append((g, addr, size, stack))
                if o["call"] is not None:
                    eff.calls.append((g, o["call"].name, ncalls, o["inputs"]))
                if o["trap"] is not None:
                    code = z3.If(g, z3.IntVal(TRAP_CODES[o["trap"].kind] * 65536 + o["trap"].imm),
                                 code)
                    trap_here.append(g)
                if o["isb"]:
                    step["isb"] = z3.Or(step["isb"], g)
            solver.add(npc == pexpr)
            called = [z3.And(act, sel == c.idx) for c, o in outs if o["call"] is not None]
            if called:
                ncalls = ncalls + z3.If(z3.Or(*called), 1, 0)
            inside = z3.Or(*[npc == site.slot_addr(j) for j in range(site.nslots)])
            ended = z3.Or(*trap_here) if trap_here else z3.BoolVal(False)
            undef_here = eff.undefined[-1] if undef else z3.BoolVal(False)
            nact = z3.Bool(f"{tag}_act{i + 1}")
            solver.add(nact == z3.And(act, z3.Not(ended), z3.Not(undef_here), inside))
            steps.append(step)
            regs, mem, pc, act = new_regs, new_mem, npc, nact
        eff.regs, eff.mem, eff.pc, eff.code, eff.active_at_end, eff.ncalls = (
            regs, mem, pc, code, act, ncalls)
        return eff, steps

    def _successors(self, cand: Candidate) -> set[int]:
        """Slots the run may be at after ``cand`` (all of them when the target is dynamic).

        Only a pruning of the encoding: a superset of the real successors is
        always sound, it merely costs solver time.
        """
        if cand.stmts is None:
            return set()
        site = self.site
        pc = site.slot_addr(cand.slot)
        everywhere = set(range(site.nslots))

        def slot_of(addr: int) -> set[int]:
            if site.base <= addr < site.end and (addr - site.base) % 4 == 0:
                return {(addr - site.base) // 4}
            return set()

        nxt = slot_of(pc + 4)
        for s in cand.stmts:
            if isinstance(s, Trap):
                return set()
            if isinstance(s, Jump):
                if not isinstance(s.target, Const):
                    return everywhere
                h = self.helpers.get(s.target.value) if s.link else None
                if h is not None:
                    nxt = slot_of(pc + 4) if h.returns_to == "x30" else everywhere
                else:
                    nxt = slot_of(s.target.value)
            elif isinstance(s, CondJump):
                if not isinstance(s.target, Const):
                    return everywhere
                nxt = nxt | slot_of(s.target.value)
        return nxt

    # -------------------------------------------------------------- the checks

    def check(self, kind: str, with_stale: bool) -> ObserverResult:
        return _ObserverCheck(self, kind).solve_all(with_stale)


class _ObserverCheck:
    """One observer kind on one site: the timing constraints and the goals."""

    def __init__(self, enc: SiteEncoder, kind: str) -> None:
        self.enc, self.kind = enc, kind
        self.tl = enc.tl
        self.solver = z3.Solver()
        self.solver.set("timeout", enc.timeout_ms)
        self.solver.set("random_seed", 0)
        self.regs0 = {r: z3.BitVec(f"init_{r}", 64) for r in REGISTERS}
        self.mem0 = z3.Array("init_mem", z3.BitVecSort(64), z3.BitVecSort(8))
        s = self.solver
        s.add(self.regs0["sp"] & 15 == 0)
        self.run, self.steps = enc.execution("run", s, self.regs0, self.mem0, enc.by_slot)
        self.k = len(self.steps)
        self.e = [z3.Int(f"e{i}") for i in range(self.k)]
        self.c = [z3.Int(f"c{i}") for i in range(self.k)]
        self.f = [z3.Int(f"f{i}") for i in range(self.k)]
        self._timing()
        self._fetch()
        self.queries = 0
        self.seconds = 0.0

    # -- helpers ------------------------------------------------------------

    def L(self, slot: int, c: z3.ArithRef) -> z3.ArithRef:
        """Newest modifying write of ``slot`` published by point ``c``."""
        expr: z3.ArithRef = z3.IntVal(0)
        for w, pub in sorted(self.enc.hist[slot].writes):
            if pub is not None:
                expr = z3.If(c >= pub, z3.IntVal(w), expr)
        return expr

    def F(self, e: z3.ArithRef) -> z3.ArithRef:
        expr: z3.ArithRef = z3.IntVal(0)
        for p in self.tl.forced_cse_points():
            expr = z3.If(e >= p, z3.IntVal(p), expr)
        return expr

    def in_window(self, i: int, slot: int, pt: z3.ArithRef,
                  intervals: Sequence[tuple[int, int]]) -> z3.BoolRef:
        return z3.And(
            self.L(slot, self.c[i]) <= pt, pt <= self.e[i],
            z3.Or(*[z3.And(a <= pt, pt <= b) for a, b in intervals]) if intervals
            else z3.BoolVal(False),
        )

    # -- constraints ----------------------------------------------------------

    def _timing(self) -> None:
        s, e, c, n = self.solver, self.e, self.c, self.enc.n
        acts = [st["act"] for st in self.steps]
        for i in range(self.k):
            s.add(0 <= e[i], e[i] <= n, 0 <= c[i], c[i] <= e[i])
        kind = self.kind
        if kind == NMI_LOCAL:
            for i in range(self.k):
                s.add(e[i] == e[0], c[i] == e[0])
            return
        for i in range(1, self.k):
            s.add(z3.Implies(acts[i], e[i - 1] <= e[i]))
        forced = self.tl.forced_cse_points()
        if kind == THREAD:
            s.add(c[0] >= self.F(e[0]))
            for i in range(self.k):
                for b in self.tl.blocks:
                    s.add(z3.Implies(acts[i], z3.Not(z3.And(b.first <= e[i], e[i] < b.last))))
                for t in self.tl.wait_points():
                    s.add(z3.Implies(acts[i], z3.Not(z3.And(e[0] < t, e[i] >= t))))
            for i in range(1, self.k):
                isb = self.steps[i - 1]["isb"]
                s.add(z3.Implies(acts[i], z3.And(
                    z3.Or(c[i] == c[i - 1], z3.And(e[i - 1] <= c[i], c[i] <= e[i])),
                    z3.Implies(isb, c[i] >= e[i - 1]),
                    c[i] >= self.F(e[i]),
                )))
                if not self.enc.spec.preemptible:
                    for b in self.tl.blocks:
                        s.add(z3.Implies(acts[i], z3.Not(z3.And(e[i - 1] < b.first,
                                                                e[i] >= b.last))))
        elif kind == NMI_REMOTE:
            for i in range(1, self.k):
                isb = self.steps[i - 1]["isb"]
                s.add(z3.Implies(acts[i], c[i] == z3.If(isb, e[i - 1], c[i - 1])))
            for i in range(self.k):
                for p in forced:
                    s.add(z3.Implies(acts[i], z3.Not(z3.And(c[0] < p, e[i] >= p))))
        else:  # pragma: no cover
            raise ValueError(kind)

    def _fetch(self) -> None:
        for i, st in enumerate(self.steps):
            for cand in st["options"]:
                self.solver.add(z3.Implies(
                    z3.And(st["act"], st["sel"] == cand.idx),
                    self.in_window(i, cand.slot, self.f[i], cand.points)))

    # -- goals --------------------------------------------------------------

    def _goal_torn(self) -> tuple[z3.BoolRef, list]:
        g = [z3.Int(f"tg{i}") for i in range(self.k)]
        parts = []
        for i, st in enumerate(self.steps):
            for j in st["slots"]:
                h = self.enc.hist[j]
                pts = [t for t, torn in enumerate(h.torn) if torn]
                if pts:
                    parts.append(z3.And(st["act"], st["pc"] == self.enc.site.slot_addr(j),
                                        self.in_window(i, j, g[i], _intervals(pts))))
        return (z3.Or(*parts) if parts else z3.BoolVal(False)), g

    def _goal_cmodx(self) -> tuple[z3.BoolRef, list]:
        g = [z3.Int(f"cg{i}") for i in range(self.k)]
        h = [z3.Int(f"ch{i}") for i in range(self.k)]
        parts = []
        for i, st in enumerate(self.steps):
            for j in st["slots"]:
                cands = self.enc.by_slot[j]
                for a in cands:
                    for b in cands:
                        if a.idx < b.idx and not (a.cmodx and b.cmodx):
                            parts.append(z3.And(
                                st["act"], st["pc"] == self.enc.site.slot_addr(j),
                                self.in_window(i, j, g[i], a.points),
                                self.in_window(i, j, h[i], b.points)))
        return (z3.Or(*parts) if parts else z3.BoolVal(False)), [g, h]

    def _goal_stale(self) -> z3.BoolRef:
        parts = []
        n = self.enc.n
        for i, st in enumerate(self.steps):
            for cand in st["options"]:
                if cand.word != self.enc.hist[cand.slot].values[n]:
                    parts.append(z3.And(st["act"], st["sel"] == cand.idx))
        if not parts:
            return z3.BoolVal(False)
        return z3.And(self.c[0] >= n, z3.Or(*parts))

    def _goal_inequivalent(self) -> tuple[z3.BoolRef, dict[str, Effects]]:
        enc, s = self.enc, self.solver
        valid: dict[str, Effects] = {}
        diffs = []
        for name in enc.site.valid:
            st = enc.site.state(name)
            cands = []
            for j, word in enumerate(st.words):
                match = [c for c in enc.by_slot[j] if c.word == word]
                cands.append(match[:1] or [enc._candidate(j, word, ())])
            eff, _ = enc.execution(f"v_{name}", s, self.regs0, self.mem0, cands)
            valid[name] = eff
            diffs.append(z3.Not(self._equal(self.run, eff)))
        complete = z3.And(z3.Not(self.run.active_at_end),
                          *[z3.Not(u) for u in self.run.undefined])
        return z3.And(complete, *diffs), valid

    def _equal(self, run: Effects, v: Effects) -> z3.BoolRef:
        conds = [run.code == v.code, run.pc == v.pc, run.ncalls == v.ncalls]
        conds += [run.regs[r] == v.regs[r] for r in self.enc.site.live]
        sp_v = v.regs["sp"]
        for g, addr, size, stack in run.stores + v.stores:
            for b in range(size):
                a = addr + b
                same = z3.Select(run.mem, a) == z3.Select(v.mem, a)
                if stack:
                    same = z3.Or(same, z3.ULT(a, sp_v))
                conds.append(z3.Implies(g, same))
        for g1, h1, p1, in1 in run.calls:
            for g2, h2, p2, in2 in v.calls:
                both = z3.And(g1, g2, p1 == p2)
                if h1 != h2:
                    conds.append(z3.Not(both))
                else:
                    conds.append(z3.Implies(both, z3.And(*[a == b for a, b in zip(in1, in2)])))
        return z3.And(*conds)

    # -- solving --------------------------------------------------------------

    def _solve(self, goal: z3.BoolRef, timeout_ms: int | None = None) -> tuple[str, z3.ModelRef | None]:
        self.solver.push()
        self.solver.add(goal)
        self.solver.set("timeout", timeout_ms or self.enc.timeout_ms)
        t0 = time.perf_counter()
        r = self.solver.check()
        self.seconds += time.perf_counter() - t0
        self.queries += 1
        model = self.solver.model() if r == z3.sat else None
        self.solver.pop()
        return ("sat" if r == z3.sat else "unsat" if r == z3.unsat else "unknown"), model

    def _simplest(self, goal: z3.BoolRef, model: z3.ModelRef) -> z3.ModelRef:
        """Prefer a counterexample with fewer interruptions, then fewer instructions.

        People read these; the first model Z3 finds often interrupts the
        observer more often than the bug needs.
        """
        acts = [st["act"] for st in self.steps]
        interrupts = z3.Sum(*[z3.If(z3.And(acts[i], self.c[i] != self.c[i - 1]), 1, 0)
                              for i in range(1, self.k)] or [z3.IntVal(0)])
        length = z3.Sum(*[z3.If(a, 1, 0) for a in acts] or [z3.IntVal(0)])
        for measure in (interrupts, length):
            current = model.eval(measure, model_completion=True).as_long()
            for bound in range(current):
                r, better = self._solve(z3.And(goal, measure <= bound),
                                        min(MINIMIZE_MS, self.enc.timeout_ms))
                if r == "sat" and better is not None:
                    model = better
                    goal = z3.And(goal, measure <= bound)
                    break
            else:
                goal = z3.And(goal, measure <= current)
        return model

    def solve_all(self, with_stale: bool) -> ObserverResult:
        from fpatch.encoding.extract import extract  # keeps model->record code apart

        found: list[Counterexample] = []
        reasons: list[str] = []
        torn_goal, torn_pts = self._goal_torn()
        cmodx_goal, cmodx_pts = self._goal_cmodx()
        undef_goal = z3.Or(*self.run.undefined) if self.run.undefined else z3.BoolVal(False)
        ineq_goal, valid = self._goal_inequivalent()
        goals: list[tuple[str, z3.BoolRef, object]] = [
            (TORN, torn_goal, torn_pts),
            (CMODX, cmodx_goal, cmodx_pts),
            (UNDEFINED, undef_goal, None),
            (INEQUIVALENT, ineq_goal, valid),
        ]
        if with_stale:
            goals.append((STALE, self._goal_stale(), None))
        for vname, eff in valid.items():
            r, _ = self._solve(eff.active_at_end)
            if r != "unsat":
                reasons.append(f"valid state {vname} may not finish within max_insns="
                               f"{self.enc.k} instructions")
        for violation, goal, extra in goals:
            r, model = self._solve(goal)
            if r == "sat":
                assert model is not None
                model = self._simplest(goal, model)
                found.append(extract(self, model, violation, extra))
            elif r == "unknown":
                reasons.append(f"{violation}: solver gave up ({self.solver.reason_unknown()})")
        r, _ = self._solve(self.run.active_at_end)
        if r != "unsat":
            reasons.append(f"a run may execute more than max_insns={self.enc.k} instructions "
                           f"inside the site; raise max_insns")
        status = "unsafe" if found else ("unknown" if reasons else "safe")
        return ObserverResult(self.enc.site.name, self.kind, status, tuple(found),
                              tuple(reasons), self.queries, round(self.seconds, 4))
