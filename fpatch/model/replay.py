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
import itertools
from dataclasses import dataclass, field

from fpatch.isa import Insn, Unsupported, decode, is_cmodx, semantics
from fpatch.isa.bti import BTYPE_CALL, branch_type, landing_ok
from fpatch.isa.interp import Machine, execute
from fpatch.isa.ir import MASK64, PAC_INITIAL, REGISTERS, Const, Jump, Load, Reg, Stmt, Trap
from fpatch.model.timeline import Timeline, data_histories, fetch_floor
from fpatch.region import Region, globalize, region
from fpatch.spec.types import Helper, Site, Spec
from fpatch.verdict import (
    BTI,
    CMODX,
    DATA,
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
    if not _reads_legal(tl, site, cx):
        return False
    if cx.violation in (INEQUIVALENT, DATA) and cx.witness is not None:
        return _inequivalent(spec, tl, site, cx, cx.witness)
    return False


def _reads_legal(tl: Timeline, site: Site, cx: Counterexample) -> bool:
    """Every data load returns the word's value at a point of [Ld(e), e] (MODEL.md 6.7)."""
    hist = data_histories(tl, site)
    floors: dict[str, int] = {}
    for r in cx.reads:
        h = hist.get(r.word)
        if h is None or r.index >= len(cx.execs) or cx.execs[r.index].point != r.point:
            return False
        lo = h.newest_complete(r.point)
        if r.window != (lo, r.point) or not lo <= r.source <= r.point \
                or h.values[r.source] != r.value or r.source < floors.get(r.word, 0):
            return False  # outside its window, another value, or older than a read before
        floors[r.word] = h.written_at(r.source)
    return True


Choice = dict[str, tuple[int, ...]]


def _choices(tl: Timeline, site: Site, state: str, rho: Choice) -> Choice:
    """The values a valid state's loads may return: listed, else the word's clean values;
    with ``rho`` (the run's values) in place of them for the words the run read."""
    hist = data_histories(tl, site)
    out: Choice = {}
    for d in site.data:
        listed = site.valid_values(state, d.name)
        out[d.name] = listed if listed is not None else hist[d.name].clean()
    return out | rho


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
        lo = max(h.newest_published(x.cse),
                 fetch_floor(hist, earlier, x.slot, tl.cache.fetches_ordered))
        ok = (x.window == (lo, x.point) and lo <= x.fetched_at <= x.point
              and h.values[x.fetched_at] == x.word and x.cse <= x.point and x.point >= prev
              and x.point >= site.reach[x.slot])
        if not ok:
            return False
        prev = x.point
    return True


def _inequivalent(spec: Spec, tl: Timeline, site: Site, cx: Counterexample, w: Witness
                  ) -> bool:
    """The run's effect equals no valid execution's; for ``data``, it equals the nearest
    valid state's when that state's loads return the run's values."""
    path = [(x.slot, x.word) for x in cx.execs]
    fixed: dict[int, dict[str, tuple[int, ...]]] = {}
    rho: Choice = {}
    for r in cx.reads:
        fixed.setdefault(r.index, {})[r.word] = (r.value,)
        rho[r.word] = tuple(dict.fromkeys(rho.get(r.word, ()) + (r.value,)))
    runs = _execute(spec, site, w, lambda i, slot: path[i] if i < len(path) else None, len(path),
                    lambda i, word: fixed.get(i, {}).get(word, ()))
    if len(runs) != 1:
        return False
    run = runs[0]
    for name in site.valid:
        words = site.state(name).words
        ok = _choices(tl, site, name, {})
        valid = _execute(spec, site, w, lambda i, slot, words=words: (slot, words[slot]), None,
                         lambda i, word, ok=ok: ok[word])
        # No valid state completing makes every completed run inequivalent (docs/model.md).
        if not all(_differ(run, v, site, w) for v in valid):
            return False
    if cx.violation == DATA:
        assert cx.nearest_valid is not None
        words = site.state(cx.nearest_valid).words
        ok = _choices(tl, site, cx.nearest_valid, rho)
        near = _execute(spec, site, w, lambda i, slot: (slot, words[slot]), None,
                        lambda i, word: ok[word])
        return any(not _differ(run, v, site, w) for v in near)
    return True


def _execute(spec: Spec, site: Site, w: Witness, fetch: object, length: int | None,
             choose: object) -> list[Effect]:
    """Run from the entry, fetching ``fetch(i, slot)``; one effect per choice of the values
    the data loads return (``choose(i, word)``); none if the path does not fit.

    ``length``: the number of instructions the counterexample says the run executed
    (None for a valid state's own execution, which runs until it leaves the site).
    """
    memory = dict(w.memory)
    m0 = Machine(dict(w.regs), lambda a: memory.get(a, w.memory_default))
    for r in REGISTERS:
        m0.regs.setdefault(r, 0)
    m0.regs.update(PAC_INITIAL)  # no signature before the run (env.pac)
    out: list[Effect] = []
    todo: list[tuple[Machine, int, int, list[tuple[str, tuple[int, ...]]]]] = [
        (m0, site.slot_addr(site.entry), 0, [])]
    while todo:
        m, pc, i, calls = todo.pop()
        if i >= spec.max_insns:
            continue
        slot = site.slot_at(pc)
        got = fetch(i, slot)  # type: ignore[operator]
        if got is None or got[0] != slot:
            continue
        insn = decode(got[1], pc)
        if not isinstance(insn, Insn):
            continue
        stmts = semantics(insn, pc, pac=spec.pac)
        needs = _data_words_read(spec, site, stmts, m.copy(), pc)
        options = [choose(i, word) for word in needs]  # type: ignore[operator]
        for combo in itertools.product(*options):
            m2 = m.copy()
            done = _step(spec, site, w, stmts, m2, pc, dict(zip(needs, combo, strict=True)),
                         list(calls))
            if done is None:
                continue
            nxt, trap, calls2 = done
            if trap is not None:
                if length is None or i + 1 == length:
                    out.append(Effect(("trap", trap.kind, trap.imm, pc), m2.regs, m2.mem,
                                      m2.stack_bytes, calls2))
                continue
            if site.slot_at(nxt) is None:
                if length is None or i + 1 == length:  # else the run went on (or stopped)
                    out.append(Effect(("exit", nxt), m2.regs, m2.mem, m2.stack_bytes, calls2))
                continue
            todo.append((m2, nxt, i + 1, calls2))
    return out


def _loads(node: object) -> list[Load]:
    if isinstance(node, Load):
        return [node]
    if isinstance(node, tuple):
        return [ld for x in node for ld in _loads(x)]
    return [ld for f in getattr(node, "__dataclass_fields__", {})
            for ld in _loads(getattr(node, f))]


def _mentions_sp(e: object) -> bool:
    """A load through sp is a stack access: kernel stacks hold no site memory."""
    if isinstance(e, Reg):
        return e.name == "sp"
    return any(_mentions_sp(getattr(e, f)) for f in getattr(e, "__dataclass_fields__", {}))


def _helper(spec: Spec, stmts: tuple[Stmt, ...], nxt: int) -> Helper | None:
    """The helper a ``bl`` calls, if the instruction is one."""
    if any(isinstance(s, Jump) and s.link and isinstance(s.target, Const) for s in stmts):
        return spec.helper_at(nxt)
    return None


def _data_words_read(spec: Spec, site: Site, stmts: tuple[Stmt, ...], m: Machine, pc: int
                     ) -> tuple[str, ...]:
    """The data words one instruction (and a helper it calls) loads, in order."""
    words: list[str] = []

    def hook(addr: int, size: int) -> int | None:
        d, _ = site.data_word_at(addr, size)
        if d is not None:
            words.append(d.name)
            return d.value
        return None

    m.on_load = hook if any(not _mentions_sp(ld.addr) for ld in _loads(stmts)) else None
    out = execute(stmts, m, pc)
    m.on_load = None
    helper = _helper(spec, stmts, out.next_pc)
    if helper is not None:
        for hr in helper.reads:
            a = ((m.regs[hr.base] & ~(hr.align - 1)) + hr.offset) & MASK64
            d, _ = site.data_word_at(a, hr.size)
            if d is not None:
                words.append(d.name)
    return tuple(dict.fromkeys(words))


def _step(spec: Spec, site: Site, w: Witness, stmts: tuple[Stmt, ...], m: Machine, pc: int,
          values: dict[str, int], calls: list[tuple[str, tuple[int, ...]]]
          ) -> tuple[int, Trap | None, list[tuple[str, tuple[int, ...]]]] | None:
    """Execute one instruction with its data loads returning ``values``."""
    def hook(addr: int, size: int) -> int | None:
        d, _ = site.data_word_at(addr, size)
        return values[d.name] if d is not None else None

    m.on_load = hook if any(not _mentions_sp(ld.addr) for ld in _loads(stmts)) else None
    out = execute(stmts, m, pc)
    m.on_load = None
    nxt = out.next_pc
    if out.trap is not None:
        return nxt, out.trap, calls
    helper = _helper(spec, stmts, nxt)
    if helper is not None:
        entry = dict(m.regs)
        inputs = tuple(m.regs[r] for r in helper.inputs)
        for hr in helper.reads:
            a = ((entry[hr.base] & ~(hr.align - 1)) + hr.offset) & MASK64
            d, _ = site.data_word_at(a, hr.size)
            if d is None:
                return None
            inputs += (values[d.name],)
        calls.append((helper.name, inputs))
        clobber = {(h, r, ins): v for h, r, ins, v in w.clobbers}
        clobber_default = {(h, r): v for h, r, v in w.clobber_defaults}
        for r in helper.clobbers:
            m.regs[r] = clobber.get((helper.name, r, inputs),
                                    clobber_default.get((helper.name, r), 0))
        for dst, src in helper.restores:
            m.regs[dst] = entry[src]
        nxt = entry[helper.returns_to]
    return nxt & MASK64, None, calls


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
