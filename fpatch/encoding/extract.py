"""Turn Z3 models back into a ``Counterexample`` made of fpatch's own records.

Everything a person needs to replay the run is read out here, before the
solver is dropped: each executed instruction with its slot, point, CSE, fetch
point and state, the initial registers that matter, and the effect difference
against the nearest valid state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import z3

from fpatch.errors import Loc
from fpatch.isa import decode
from fpatch.isa.bti import btype_name
from fpatch.isa.ir import MASK64, REGISTERS
from fpatch.model.timeline import fetch_floor
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
    DataRead,
    EffectDiff,
    Exec,
    Witness,
    data_detail,
)

if TYPE_CHECKING:
    from fpatch.encoding.smt import Candidate, PathEnd, _ObserverSearch

_TRAP_NAMES = {1: "brk", 2: "svc", 3: "hvc", 4: "smc", 5: "pac"}


def _int(model: z3.ModelRef, e: Any) -> int:
    v = model.eval(e, model_completion=True)
    return int(v.as_long())


def _h(v: int) -> str:
    return f"0x{v:x}"


def counterexample(
    srch: _ObserverSearch,
    violation: str,
    path: tuple[Candidate, ...],
    tm: z3.ModelRef,
    dm: z3.ModelRef | None,
    points: tuple[z3.ArithRef, ...] | None,
    end: PathEnd | None = None,
    mark: tuple[str, int] | None = None,
    state: str | None = None,
) -> Counterexample:
    """``mark``: for an incomplete violation, the `complete:` mark (name, point) it breaks."""
    enc = srch.enc
    site = enc.site
    execs: list[Exec] = []
    for i, cand in enumerate(path):
        e, c, f = _int(tm, srch.e[i]), _int(tm, srch.c[i]), _int(tm, srch.f[i])
        hist = enc.hist[cand.slot]
        lo = max(hist.newest_published(c),
                 fetch_floor(enc.hist, [(x.slot, x.fetched_at) for x in execs], cand.slot,
                             enc.tl.cache.fetches_ordered))
        execs.append(Exec(
            index=i, slot=cand.slot, addr=site.slot_addr(cand.slot), point=e, cse=c,
            fetched_at=f, window=(lo, e), word=cand.word,
            text=symbolize(cand.insn.text, enc.spec.symbols),
            states=tuple(s.name for s in site.states if s.words[cand.slot] == cand.word),
            torn=hist.torn[f], interrupted_before=i > 0 and c != execs[-1].cse,
        ))
    x = execs[-1]
    hist = enc.hist[x.slot]
    lo, hi = x.window
    regs0 = {r: _int(dm, enc.regs0[r]) for r in REGISTERS} if dm is not None else {}
    diffs: tuple[EffectDiff, ...] = ()
    nearest = None
    exit_text = "(the run stops being predictable at this fetch)"
    loc: Loc | None = None
    if violation == TORN:
        assert points is not None
        g = _int(tm, points[0])
        detail = (f"{site.slot_name(x.slot)} is fetched at point {x.point} with last CSE at {x.cse}; its "
                  f"window [{lo}, {hi}] includes point {g}, where the word is torn "
                  f"({_h(hist.values[g])}: part old, part new bytes of a non-atomic write)")
        loc = _write_loc(srch, x.slot, g)
    elif violation == CMODX:
        assert points is not None
        g, h = _int(tm, points[0]), _int(tm, points[1])
        a, b = _word_desc(srch, x.slot, hist.values[g]), _word_desc(srch, x.slot, hist.values[h])
        detail = (f"{site.slot_name(x.slot)} is fetched at point {x.point} with last CSE at {x.cse}; its "
                  f"window [{lo}, {hi}] holds both {a} (point {g}) and {b} (point {h}), and not "
                  f"both are in the CMODX set: the fetched instruction is CONSTRAINED "
                  f"UNPREDICTABLE")
        loc = _write_loc(srch, x.slot, max(g, h))
    elif violation == UNDEFINED:
        detail = (f"{site.slot_name(x.slot)} was fetched as {_h(x.word)}, which is not an instruction of "
                  f"the supported set (executing it is undefined)")
        exit_text = "undefined instruction"
        loc = _write_loc(srch, x.slot, x.fetched_at)
    elif violation == BTI:
        btype = srch._btype(len(path) - 1, path)
        assert btype is not None
        how = ("the observer enters the site indirectly" if len(path) == 1
               else f"`{execs[-2].text}` branches to slot {x.slot}")
        detail = (f"{how} ({btype_name(btype)}) and fetches {_h(x.word)} (`{x.text}`) at point "
                  f"{x.point} from window [{lo}, {hi}]: in a BTI-guarded page that is not a "
                  f"landing pad for the branch, so the CPU takes a Branch Target exception")
        exit_text = "(Branch Target exception)"
        loc = _write_loc(srch, x.slot, x.fetched_at)
    elif violation == INCOMPLETE:
        assert mark is not None
        name, m = mark
        where = "the end" if name == "end" else f"mark {name}"
        detail = (f"after {where} (point {m}) every CPU must execute the site's words as they "
                  f"are there, but {srch.kind}, whose last context synchronization event is at "
                  f"point {x.cse}, fetches {site.slot_name(x.slot)} at point {x.point} as `{x.text}` "
                  f"({_h(x.word)}, the word at point {x.fetched_at}) instead of "
                  f"{_h(hist.values[m])}: it need not have taken a CSE since the write was "
                  f"published")
        exit_text = "(the old instruction runs after the mark)"
        loc = _write_loc(srch, x.slot, m)
    elif violation == STALE:
        final = hist.values[enc.n]
        detail = (f"after the last step (point {enc.n}) and a CSE, {site.slot_name(x.slot)} can still be "
                  f"fetched as `{x.text}` ({_h(x.word)}) instead of the final {_h(final)}: "
                  f"the write is never published to instruction fetch")
        exit_text = "(the stale instruction runs)"
        loc = _unpublished_loc(srch, x.slot)
    elif violation == DATA:
        assert dm is not None and end is not None and state is not None
        exit_text = _exit_text(srch, dm, end, regs0)
        nearest = state
        reads = _reads(srch, tm, end, execs, state)
        bad = next(r for r in reads if not r.valid)
        detail = data_detail(bad, state, srch.enc.valid_choice(state)[bad.word])
        loc = _data_loc(srch, bad)
    else:
        assert violation == INEQUIVALENT and dm is not None and end is not None
        exit_text = _exit_text(srch, dm, end, regs0)
        best: tuple[int, str, list[EffectDiff]] | None = None
        for name, ends in enc.valid_paths.items():
            for v in ends:
                if all(z3.is_true(dm.eval(c, model_completion=True)) for c in v.state.cond):
                    d = _diffs(srch, dm, end, v, regs0)
                    if best is None or len(d) < best[0]:
                        best = (len(d), name, d)
        if best is None:
            # No valid state completes from this initial state (each executes an undefined
            # word): any completed run is inequivalent (tests/test_differential.py).
            detail = "the run completes, but no valid state's execution does"
        else:
            nearest, diffs = best[1], tuple(best[2])
            what = ", ".join(f"{d.what} = {d.run} instead of {d.valid}" for d in diffs[:3])
            detail = (f"the run's effect differs from every valid state's; against the "
                      f"nearest, {nearest}: {what}")
        loc = _run_loc(srch, execs)
    show = {"sp", "x29", "x30"} | {d.what for d in diffs if d.what in regs0}
    initial = tuple((r, regs0[r]) for r in REGISTERS if r in show and r in regs0)
    ran = "; ".join(f"{e.text} @{e.point}" for e in execs)
    summary = f"{violation}: {srch.kind} ran [{ran}]"
    reads_out = _reads(srch, tm, end, execs, nearest) if end is not None else ()
    if violation == DATA:
        bad = next(r for r in reads_out if not r.valid)
        summary = (f"data: {srch.kind} loads {bad.word} = 0x{bad.value:x} at point {bad.point}, "
                   f"not valid with state {nearest}")
    if violation == INEQUIVALENT and diffs:
        summary += f" -> {exit_text}; {diffs[0].what} {diffs[0].run} vs {diffs[0].valid} in {nearest}"
    if violation == INCOMPLETE and mark is not None:
        summary += (f"; {site.slot_name(x.slot)} fetched from point {x.fetched_at}, before "
                    f"{'the end' if mark[0] == 'end' else 'mark ' + mark[0]} (point {mark[1]}); "
                    f"last CSE at point {x.cse}")
    return Counterexample(
        site=site.name, observer=srch.kind, violation=violation, summary=summary, detail=detail,
        execs=tuple(execs), exit=exit_text, nearest_valid=nearest, diffs=diffs, initial=initial,
        loc=loc, witness=_witness(srch, dm, regs0) if dm is not None else None,
        reads=reads_out,
    )


def _reads(srch: _ObserverSearch, tm: z3.ModelRef, end: PathEnd, execs: list[Exec],
           state: str | None) -> tuple[DataRead, ...]:
    """The run's data loads: value, the point it was read from, the write behind it."""
    enc = srch.enc
    ok = enc.valid_choice(state) if state else None
    out = []
    for i, w, v in end.state.reads:
        h = enc.data[w]
        e = execs[i].point
        g = _int(tm, z3.Int(f"g{i}_{w}"))
        src = h.written_at(g)
        what = "initial value" if src == 0 else f"step {src}: {_step_what(srch, src)}"
        out.append(DataRead(i, w, h.addr, e, v, g, (h.newest_complete(e), e), what, h.torn[g],
                            ok is None or v in ok[w]))
    return tuple(out)


def _step_what(srch: _ObserverSearch, point: int) -> str:
    step = srch.tl.step_at(point)
    return step.label.removeprefix("write ") if step is not None else "?"


def _data_loc(srch: _ObserverSearch, r: DataRead) -> Loc | None:
    src = srch.enc.data[r.word].written_at(r.source)
    step = srch.tl.step_at(src)
    return step.loc if step is not None and src else None


def _witness(srch: _ObserverSearch, dm: z3.ModelRef, regs0: dict[str, int]) -> Witness:
    """The model's initial state as plain numbers, for the solver-free replay."""
    arr = dm.eval(srch.enc.mem0, model_completion=True)
    memory: dict[int, int] = {}
    while z3.is_store(arr):
        base, idx, val = arr.children()
        memory.setdefault(idx.as_long(), val.as_long())  # outermost store wins
        arr = base
    default = arr.children()[0].as_long() if z3.is_K(arr) else 0
    clobbers: list[tuple[str, str, tuple[int, ...], int]] = []
    defaults: list[tuple[str, str, int]] = []
    present = {d.name() for d in dm.decls()}
    for (helper, reg), f in sorted(srch.enc.uf.items(), key=lambda kv: kv[0]):
        interp = dm.get_interp(f) if f.name() in present else None
        if interp is None:
            defaults.append((helper, reg, 0))
        elif isinstance(interp, z3.FuncInterp):
            *entries, other = interp.as_list()
            for entry in entries:
                *args, val = entry
                clobbers.append((helper, reg, tuple(a.as_long() for a in args), val.as_long()))
            defaults.append((helper, reg, other.as_long() if z3.is_bv_value(other) else 0))
        else:
            defaults.append((helper, reg, interp.as_long()))
    return Witness(tuple(sorted(regs0.items())), tuple(sorted(memory.items())), default,
                   tuple(clobbers), tuple(defaults))


def symbolize(text: str, symbols: tuple[tuple[str, int], ...]) -> str:
    """``bl 0xffff800008010000`` -> ``bl ftrace_caller``: people know the names. Whole
    numbers only (``0x9000`` must not rename part of ``0x90000``)."""
    import re

    for name, addr in symbols:
        text = re.sub(rf"\b{_h(addr)}\b", name, text)
    return text


def _exit_text(srch: _ObserverSearch, dm: z3.ModelRef, end: PathEnd, regs0: dict[str, int]) -> str:
    pc = _int(dm, end.exit.pc)
    if end.exit.undefined:
        return "undefined instruction"
    if end.exit.code >> 16 == 5:
        return f"pac fault at {_h(pc)}"
    if end.exit.code:
        return f"trap {_TRAP_NAMES[end.exit.code >> 16]} #{end.exit.code & 0xFFFF} at {_h(pc)}"
    site = srch.enc.site
    if pc == site.end:
        return f"leaves through the end of the site ({_h(pc)})"
    if regs0 and pc == regs0["x30"]:
        return f"returns to the caller (x30 at entry, {_h(pc)})"
    for name, addr in srch.enc.spec.symbols:
        if addr == pc:
            return f"branches to {name} ({_h(pc)})"
    return f"leaves to {_h(pc)}"


def _diffs(srch: _ObserverSearch, dm: z3.ModelRef, run: PathEnd, v: PathEnd,
           regs0: dict[str, int]) -> list[EffectDiff]:
    out: list[EffectDiff] = []

    site = srch.enc.site

    def rel(val: int, reg: str) -> str:
        """Say what a value is, in terms a reader can check: an entry register or the site."""
        same = [reg] if regs0[reg] == val else [r for r in REGISTERS if regs0[r] == val and val]
        if same:
            return f"{_h(val)} (= {same[0]} at entry)"
        if site.base <= val <= site.end:
            return f"{_h(val)} ({site.name}+0x{val - site.base:x}, inside the site)"
        best = None
        for base in dict.fromkeys((reg, "sp", "x29", "x30")):
            delta = (val - regs0[base]) & MASK64
            signed = delta - (1 << 64) if delta >= 1 << 63 else delta
            if best is None or abs(signed) < abs(best[1]):
                best = (base, signed)
        assert best is not None
        base, signed = best
        if abs(signed) > 1 << 20:
            return _h(val)
        sign = "-" if signed < 0 else "+"
        return f"{_h(val)} ({base} at entry {sign} {abs(signed)})"

    r_exit, v_exit = _exit_text(srch, dm, run, regs0), _exit_text(srch, dm, v, regs0)
    if r_exit != v_exit:
        out.append(EffectDiff("exit", r_exit, v_exit))
    for r in srch.enc.site.live:
        a, b = _int(dm, run.state.regs[r]), _int(dm, v.state.regs[r])
        if a != b:
            out.append(EffectDiff(r, rel(a, r), rel(b, r)))
    rc, vc = run.state.calls, v.state.calls
    if [h for h, _ in rc] != [h for h, _ in vc]:
        out.append(EffectDiff("calls", ", ".join(h for h, _ in rc) or "none",
                              ", ".join(h for h, _ in vc) or "none"))
    else:
        for k, ((h, a_in), (_, b_in)) in enumerate(zip(rc, vc, strict=True), 1):
            helper = next(x for x in srch.enc.spec.helpers if x.name == h)
            names = list(helper.inputs) + [f"read {i + 1}" for i in range(len(helper.reads))]
            for reg, a, b in zip(names, a_in, b_in, strict=True):
                av, bv = _int(dm, a), _int(dm, b)
                if av != bv:
                    out.append(EffectDiff(f"call {k} ({h}) input {reg}", _h(av), _h(bv)))
    sp_v = _int(dm, v.state.regs["sp"])
    events = run.state.stores + v.state.stores
    stack_bytes: set[int] = set()
    for addr, size, stack in events:
        if stack:
            base = _int(dm, addr)
            stack_bytes |= {(base + b) & MASK64 for b in range(size)}
    seen: set[int] = set()
    for addr, size, _ in events:
        base = _int(dm, addr)
        for b in range(size):
            a = (base + b) & MASK64
            if a in seen or (a in stack_bytes and a < sp_v):
                continue
            seen.add(a)
            x = _int(dm, z3.Select(run.state.mem, z3.BitVecVal(a, 64)))
            y = _int(dm, z3.Select(v.state.mem, z3.BitVecVal(a, 64)))
            if x != y:
                out.append(EffectDiff(f"mem[{_h(a)}]", _h(x), _h(y)))
    return out


def _word_desc(srch: _ObserverSearch, slot: int, word: int) -> str:
    insn = decode(word, srch.enc.site.slot_addr(slot))
    states = srch.enc.site.states_holding(slot, word)
    where = f" [{', '.join(states)}]" if states else ""
    return f"`{insn.text}`{where}"


def _write_loc(srch: _ObserverSearch, slot: int, point: int) -> Loc | None:
    """The write step that put the word the slot holds at ``point``."""
    writes = [w for w, _ in srch.enc.hist[slot].writes if w <= point]
    if not writes:
        return None
    step = srch.tl.step_at(max(writes))
    return step.loc if step else None


def _unpublished_loc(srch: _ObserverSearch, slot: int) -> Loc | None:
    n = srch.enc.n
    for w, pub in reversed(srch.enc.hist[slot].writes):
        if pub is None or pub > n:
            step = srch.tl.step_at(w)
            return step.loc if step else None
    return None


def _run_loc(srch: _ObserverSearch, execs: list[Exec]) -> Loc | None:
    lo, hi = execs[0].point, execs[-1].point
    for h in srch.enc.hist:
        for w, _ in h.writes:
            if lo < w <= hi:
                step = srch.tl.step_at(w)
                if step:
                    return step.loc
    for x in execs:
        if x.fetched_at > 0 and x.word != srch.enc.hist[x.slot].values[0]:
            return _write_loc(srch, x.slot, x.fetched_at)
    return None
