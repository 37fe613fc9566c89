"""Replay a counterexample without a solver, to confirm it before a person reads it.

The SMT engine's answer rests on its encoding; this module re-checks each
counterexample it prints against the plain timeline and the concrete IR
interpreter: every fetch is legal (the word is the slot's word at the fetch
point, inside the window of its CSE), the violation holds on those fetches,
and for an inequivalence the concrete run from the witness initial state
differs from every valid state's concrete execution. A counterexample that
does not replay is reported as such (``replayed: false``): a bug to chase,
never a reason to answer ``safe``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from fpatch.isa import Insn, Unsupported, decode, is_cmodx, semantics
from fpatch.isa.bti import BTYPE_CALL, branch_type, landing_ok
from fpatch.isa.interp import Machine, execute
from fpatch.isa.ir import MASK64, PAC_INITIAL, REGISTERS, Const, Jump
from fpatch.model.timeline import Timeline, fetch_floor
from fpatch.region import Region, globalize, region
from fpatch.spec.types import Site, Spec
from fpatch.verdict import (
    BTI,
    CMODX,
    INCOMPLETE,
    INEQUIVALENT,
    STALE,
    TORN,
    UNDEFINED,
    Counterexample,
    Witness,
)


@dataclass
class Effect:
    exit: tuple[object, ...]
    regs: dict[str, int]
    mem: dict[int, int]
    stack: set[int]
    calls: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)


def replays(spec: Spec, tl: Timeline, cx: Counterexample) -> bool:
    # The run is checked on the code graph region the observer entered (fpatch/region.py),
    # with the engines' region slot numbers.
    site = region(spec, tl.marks, cx.site)
    cx = dataclasses.replace(cx, execs=tuple(
        dataclasses.replace(x, slot=globalize(site, x), site="") for x in cx.execs))
    if not _fetches_legal(tl, site, cx):
        return False
    hist = tl.history(site)
    last = cx.execs[-1]
    h = hist[last.slot]
    window = range(last.window[0], last.window[1] + 1)
    if cx.violation == TORN:
        return any(h.torn[t] for t in window)
    if cx.violation == CMODX:
        words = {h.values[t] for t in window}
        return len(words) > 1 and not all(is_cmodx(w, spec.cmodx_linux) for w in words)
    if cx.violation == UNDEFINED:
        return isinstance(decode(last.word, last.addr), Unsupported)
    if cx.violation == BTI:
        return _bti(spec, site, cx)
    if cx.violation == STALE:
        return cx.execs[0].cse >= tl.n and any(
            x.word != hist[x.slot].values[tl.n] for x in cx.execs)
    if cx.violation == INCOMPLETE:
        # MODEL.md 6.5: executed at or after a `complete:` mark, a word fetched from before
        # the mark that the slot does not hold at the mark.
        return any(last.fetched_at < m <= last.point and last.word != h.values[m]
                   for _, m in tl.complete_points())
    if cx.violation == INEQUIVALENT and cx.witness is not None:
        return _inequivalent(spec, site, cx, cx.witness)
    return False


def _bti(spec: Spec, site: Site, cx: Counterexample) -> bool:
    """The last fetch is a branch target (an indirect entry, or the word before it is a
    br/blr that lands there) and its word is no landing pad for that branch."""
    if not spec.bti:
        return False
    last = cx.execs[-1]
    if len(cx.execs) == 1:
        btype = BTYPE_CALL if site.enter in ("indirect", "both") else None
    else:
        prev = decode(cx.execs[-2].word, cx.execs[-2].addr)
        btype = branch_type(prev) if isinstance(prev, Insn) else None
    return btype is not None and not landing_ok(last.word, btype, last.addr)


def _fetches_legal(tl: Timeline, site: Region, cx: Counterexample) -> bool:
    hist = tl.history(site)
    if not cx.execs or cx.execs[0].slot != site.entry:
        return False
    prev = 0
    for k, x in enumerate(cx.execs):
        h = hist[x.slot]
        earlier = [(y.slot, y.fetched_at) for y in cx.execs[:k]]
        lo = max(h.newest_published(x.cse), fetch_floor(hist, earlier, x.slot))
        ok = (x.window == (lo, x.point) and lo <= x.fetched_at <= x.point
              and h.values[x.fetched_at] == x.word and x.cse <= x.point and x.point >= prev
              and x.point >= site.reach[x.slot])
        if not ok:
            return False
        prev = x.point
    return True


def _inequivalent(spec: Spec, site: Site, cx: Counterexample, w: Witness) -> bool:
    path = [(x.slot, x.word) for x in cx.execs]
    run = _execute(spec, site, w, lambda i, slot: path[i] if i < len(path) else None, len(path))
    if run is None:
        return False
    valid = []
    for name in site.valid:
        words = site.state(name).words
        eff = _execute(spec, site, w, lambda i, slot, words=words: (slot, words[slot]), None)
        if eff is not None:
            valid.append(eff)
    # No valid state completing makes every completed run inequivalent (docs/model.md).
    return all(_differ(run, v, site, w) for v in valid)


def _execute(spec: Spec, site: Site, w: Witness, fetch: object, length: int | None
              ) -> Effect | None:
    """Run from the entry, fetching ``fetch(i, slot)``; None if the path does not fit.

    ``length``: the number of instructions the counterexample says the run executed
    (None for a valid state's own execution, which runs until it leaves the site).
    """
    memory = dict(w.memory)
    m = Machine(dict(w.regs), lambda a: memory.get(a, w.memory_default))
    for r in REGISTERS:
        m.regs.setdefault(r, 0)
    m.regs.update(PAC_INITIAL)  # no signature before the run (env.pac)
    helpers = {h.address: h for h in spec.helpers}
    clobber = {(h, r, ins): v for h, r, ins, v in w.clobbers}
    clobber_default = {(h, r): v for h, r, v in w.clobber_defaults}
    pc = site.slot_addr(site.entry)
    calls: list[tuple[str, tuple[int, ...]]] = []
    for i in range(spec.max_insns):
        slot = site.slot_at(pc)
        got = fetch(i, slot)  # type: ignore[operator]
        if got is None or got[0] != slot:
            return None
        insn = decode(got[1], pc)
        if not isinstance(insn, Insn):
            return None
        stmts = semantics(insn, pc, pac=spec.pac)
        out = execute(stmts, m, pc)
        if out.trap is not None:
            if length is not None and i + 1 != length:
                return None
            return Effect(("trap", out.trap.kind, out.trap.imm, pc), m.regs, m.mem,
                          m.stack_bytes, calls)
        nxt = out.next_pc
        helper = helpers.get(nxt) if any(
            isinstance(s, Jump) and s.link and isinstance(s.target, Const) for s in stmts) else None
        if helper is not None:
            inputs = tuple(m.regs[r] for r in helper.inputs)
            calls.append((helper.name, inputs))
            entry = dict(m.regs)
            for r in helper.clobbers:
                m.regs[r] = clobber.get((helper.name, r, inputs),
                                        clobber_default.get((helper.name, r), 0))
            for dst, src in helper.restores:
                m.regs[dst] = entry[src]
            nxt = entry[helper.returns_to]
        pc = nxt & MASK64
        if site.slot_at(pc) is None:
            if length is not None and i + 1 != length:
                return None  # the counterexample says the run went on (or stopped earlier)
            return Effect(("exit", pc), m.regs, m.mem, m.stack_bytes, calls)
    return None


def _differ(run: Effect, v: Effect, site: Site, w: Witness) -> bool:
    if run.exit != v.exit or run.calls != v.calls:
        return True
    if any(run.regs[r] != v.regs[r] for r in site.live):
        return True
    memory = dict(w.memory)
    sp_v = v.regs["sp"]
    stack = run.stack | v.stack
    for a in set(run.mem) | set(v.mem):
        if a in stack and a < sp_v:
            continue
        init = memory.get(a, w.memory_default)
        if run.mem.get(a, init) != v.mem.get(a, init):
            return True
    return False
