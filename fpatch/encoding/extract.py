"""Turn a Z3 model back into a ``Counterexample`` made of fpatch's own records.

Everything a person needs to replay the run is read out here, before the
solver is dropped: each executed instruction with its slot, point, CSE,
fetch point and state, the initial registers that matter, and the effect
difference against the nearest valid state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import z3

from fpatch.errors import Loc
from fpatch.isa import Insn
from fpatch.isa.ir import REGISTERS
from fpatch.verdict import (
    CMODX,
    INEQUIVALENT,
    STALE,
    TORN,
    UNDEFINED,
    Counterexample,
    EffectDiff,
    Exec,
)

if TYPE_CHECKING:
    from fpatch.encoding.smt import Effects, _ObserverCheck

_TRAP_NAMES = {1: "brk", 2: "svc", 3: "hvc", 4: "smc"}


def _int(model: z3.ModelRef, e: Any) -> int:
    v = model.eval(e, model_completion=True)
    return v.as_long() if hasattr(v, "as_long") else int(str(v))


def _bool(model: z3.ModelRef, e: Any) -> bool:
    return z3.is_true(model.eval(e, model_completion=True))


def _h(v: int) -> str:
    return f"0x{v:x}"


def extract(chk: _ObserverCheck, model: z3.ModelRef, violation: str, extra: object) -> Counterexample:
    enc = chk.enc
    site = enc.site
    execs: list[Exec] = []
    prev_c = None
    for i, st in enumerate(chk.steps):
        if not _bool(model, st["act"]):
            break
        cand = enc.cands[_int(model, st["sel"])]
        e, c, f = _int(model, chk.e[i]), _int(model, chk.c[i]), _int(model, chk.f[i])
        hist = enc.hist[cand.slot]
        text = cand.insn.text if isinstance(cand.insn, Insn) else cand.insn.text
        execs.append(Exec(
            index=i, slot=cand.slot, addr=site.slot_addr(cand.slot), point=e, cse=c,
            fetched_at=f, window=(hist.newest_published(c), e), word=cand.word, text=text,
            states=tuple(s.name for s in site.states if s.words[cand.slot] == cand.word),
            torn=hist.torn[f], interrupted_before=prev_c is not None and c != prev_c,
        ))
        prev_c = c
    regs0 = {r: _int(model, chk.regs0[r]) for r in REGISTERS}
    exit_text = _exit_text(chk, model, chk.run, regs0)
    detail, loc = "", None
    diffs: tuple[EffectDiff, ...] = ()
    nearest = None
    step_i = len(execs) - 1
    if violation in (TORN, CMODX):
        step_i, detail, loc = _window_detail(chk, model, violation, extra, execs)
    elif violation == UNDEFINED:
        x = execs[-1]
        detail = (f"slot {x.slot} was fetched as {_h(x.word)}, which is not an instruction "
                  f"of the supported set (executing it is undefined)")
        loc = _write_loc(chk, x.slot, x.fetched_at)
    elif violation == STALE:
        n = enc.n
        for x in execs:
            final = enc.hist[x.slot].values[n]
            if x.word != final:
                step_i = x.index
                detail = (f"after the last step (point {n}) and a CSE, slot {x.slot} can still be "
                          f"fetched as {x.text} ({_h(x.word)}) instead of the final "
                          f"{_h(final)}: the write is never published to instruction fetch")
                loc = _unpublished_loc(chk, x.slot)
                break
    elif violation == INEQUIVALENT:
        assert isinstance(extra, dict)
        best: tuple[int, str, list[EffectDiff]] | None = None
        for name, eff in extra.items():
            d = _diffs(chk, model, eff, regs0)
            if best is None or len(d) < best[0]:
                best = (len(d), name, d)
        assert best is not None
        nearest, diffs = best[1], tuple(best[2])
        what = ", ".join(f"{d.what} = {d.run} instead of {d.valid}" for d in diffs[:3])
        detail = (f"the run's effect differs from every valid state's; against the nearest, "
                  f"{nearest}: {what}")
        loc = _run_loc(chk, execs)
    show = {"sp", "x29", "x30"} | {d.what for d in diffs if d.what in regs0}
    for x in execs:
        for r in ("x9",):
            if r in x.text:
                show.add(r)
    initial = tuple((r, regs0[r]) for r in REGISTERS if r in show)
    ran = "; ".join(f"{x.text} @{x.point}" for x in execs)
    summary = f"{violation}: {chk.kind} ran [{ran}] -> {exit_text}"
    if violation == INEQUIVALENT and diffs:
        summary += f"; {diffs[0].what} {diffs[0].run} vs {diffs[0].valid} in {nearest}"
    return Counterexample(
        site=site.name, observer=chk.kind, violation=violation, summary=summary,
        detail=detail, execs=tuple(execs[: step_i + 1] if violation in (TORN, CMODX) else execs),
        exit=exit_text, nearest_valid=nearest, diffs=diffs, initial=initial, loc=loc,
    )


def _exit_text(chk: _ObserverCheck, model: z3.ModelRef, eff: Effects, regs0: dict[str, int]) -> str:
    if any(_bool(model, u) for u in eff.undefined):
        return "undefined instruction"
    code = _int(model, eff.code)
    pc = _int(model, eff.pc)
    if code:
        return f"trap {_TRAP_NAMES[code >> 16]} #{code & 0xFFFF} at {_h(pc)}"
    if _bool(model, eff.active_at_end):
        return "still inside the site (bound reached)"
    site = chk.enc.site
    if pc == site.end:
        return f"leaves through the end of the site ({_h(pc)})"
    if pc == regs0["x30"]:
        return f"returns to the caller (x30 at entry, {_h(pc)})"
    return f"leaves to {_h(pc)}"


def _diffs(chk: _ObserverCheck, model: z3.ModelRef, v: Effects, regs0: dict[str, int]) -> list[EffectDiff]:
    run = chk.run
    out: list[EffectDiff] = []

    def rel(val: int, reg: str) -> str:
        delta = (val - regs0[reg]) & ((1 << 64) - 1)
        if delta == 0:
            return f"{_h(val)} (= {reg} at entry)"
        if delta >= 1 << 63:
            return f"{_h(val)} ({reg} at entry - {(1 << 64) - delta})"
        return f"{_h(val)} ({reg} at entry + {delta})"

    r_exit = _exit_text(chk, model, run, regs0)
    v_exit = _exit_text(chk, model, v, regs0)
    if r_exit != v_exit:
        out.append(EffectDiff("exit", r_exit, v_exit))
    for r in chk.enc.site.live:
        a, b = _int(model, run.regs[r]), _int(model, v.regs[r])
        if a != b:
            out.append(EffectDiff(r, rel(a, r), rel(b, r)))
    nr, nv = _int(model, run.ncalls), _int(model, v.ncalls)
    if nr != nv:
        out.append(EffectDiff("calls", f"{nr} helper call(s)", f"{nv} helper call(s)"))
    sp_v = _int(model, v.regs["sp"])
    seen: set[int] = set()
    for g, addr, size, stack in run.stores + v.stores:
        if not _bool(model, g):
            continue
        base = _int(model, addr)
        for b in range(size):
            a = (base + b) & ((1 << 64) - 1)
            if a in seen or (stack and a < sp_v):
                continue
            seen.add(a)
            x = _int(model, z3.Select(run.mem, z3.BitVecVal(a, 64)))
            y = _int(model, z3.Select(v.mem, z3.BitVecVal(a, 64)))
            if x != y:
                out.append(EffectDiff(f"mem[{_h(a)}]", _h(x), _h(y)))
    return out


def _window_detail(
    chk: _ObserverCheck, model: z3.ModelRef, violation: str, extra: object, execs: list[Exec]
) -> tuple[int, str, Loc | None]:
    enc = chk.enc
    pts = extra if violation == CMODX else [extra]
    assert isinstance(pts, list)
    for x in execs:
        hist = enc.hist[x.slot]
        lo, hi = x.window
        if violation == TORN:
            g = _int(model, pts[0][x.index])
            if lo <= g <= hi and hist.torn[g]:
                return x.index, (
                    f"slot {x.slot} is fetched at point {x.point} with last CSE at {x.cse}; its "
                    f"window [{lo}, {hi}] includes point {g}, where the word is torn "
                    f"({_h(hist.values[g])}: part old, part new bytes of a non-atomic write)"
                ), _write_loc(chk, x.slot, g)
        else:
            g, h = _int(model, pts[0][x.index]), _int(model, pts[1][x.index])
            if lo <= g <= hi and lo <= h <= hi and hist.values[g] != hist.values[h]:
                a, b = _word_desc(chk, x.slot, hist.values[g]), _word_desc(chk, x.slot, hist.values[h])
                return x.index, (
                    f"slot {x.slot} is fetched at point {x.point} with last CSE at {x.cse}; its "
                    f"window [{lo}, {hi}] holds both {a} (point {g}) and {b} (point {h}), and "
                    f"not both are in the CMODX set: the fetched instruction is CONSTRAINED "
                    f"UNPREDICTABLE"
                ), _write_loc(chk, x.slot, max(g, h))
    return len(execs) - 1, f"{violation} in a fetch window", None


def _word_desc(chk: _ObserverCheck, slot: int, word: int) -> str:
    from fpatch.isa import decode

    insn = decode(word, chk.enc.site.slot_addr(slot))
    states = [s.name for s in chk.enc.site.states if s.words[slot] == word]
    where = f" [{', '.join(states)}]" if states else ""
    return f"`{insn.text}`{where}"


def _write_loc(chk: _ObserverCheck, slot: int, point: int) -> Loc | None:
    """The write step that put the word the slot holds at ``point``."""
    writes = [w for w, _ in chk.enc.hist[slot].writes if w <= point]
    if not writes:
        return None
    step = chk.tl.step_at(max(writes))
    return step.loc if step else None


def _unpublished_loc(chk: _ObserverCheck, slot: int) -> Loc | None:
    n = chk.enc.n
    for w, pub in reversed(chk.enc.hist[slot].writes):
        if pub is None or pub > n:
            step = chk.tl.step_at(w)
            return step.loc if step else None
    return None


def _run_loc(chk: _ObserverCheck, execs: list[Exec]) -> Loc | None:
    if not execs:
        return None
    lo, hi = execs[0].point, execs[-1].point
    for slot, h in enumerate(chk.enc.hist):
        for w, _ in h.writes:
            if lo < w <= hi:
                step = chk.tl.step_at(w)
                if step:
                    return step.loc
    for x in execs:
        if x.fetched_at > 0 and x.word != chk.enc.hist[x.slot].values[0]:
            return _write_loc(chk, x.slot, x.fetched_at)
    return None
