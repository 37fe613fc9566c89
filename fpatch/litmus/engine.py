"""Answer instruction-fetch litmus tests with the architecture model (fpatch/arch).

A test becomes, per thread, the set of its runs (fpatch.arch.events): every path
its code can take given the values the memory system may supply to its loads and
to its fetches of code that some thread writes. A combination of one run per
thread plus the initial writes is a skeleton; an evaluator of the model lists its
consistent executions, and the final condition is read on each.

Two evaluators read the same axioms (fpatch/arch/model.py): the explicit one
(default, fpatch/arch/explicit.py) and Z3 (fpatch/encoding/arch_smt.py, chosen
with ``engine="smt"``); tests/litmus requires them to agree on every test.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fpatch.arch.events import IW, MAX_INSTRUCTIONS, Event, Run, ThreadProgram, Unsupported, runs_of
from fpatch.arch.explicit import Budget, candidates
from fpatch.arch.model import CacheType, Skeleton, Static, static_relations
from fpatch.litmus.parse import AndP, Atom, Litmus, MemLoc, Not, OrP, Prop, RegLoc, TrueP

__all__ = ["MAX_INSTRUCTIONS", "Answer", "check"]

MAX_SKELETONS = 20_000
_IW_BASE = 1 << 40


@dataclass(frozen=True)
class Answer:
    verdict: str  # "Allowed" | "Forbidden" | "Required" | "unsupported"
    reason: str = ""
    states: int = 0  # skeletons examined
    outcomes: int = 0
    witnesses: int = 0

    def text(self) -> str:
        if self.verdict in ("unsupported", "error"):
            return f"{self.verdict}: {self.reason}"
        return self.verdict


def cache_type(t: Litmus) -> CacheType:
    """herd: ``CacheType=DIC`` means IDC=1 and DIC=1 (DIC implies IDC)."""
    return CacheType(idc=t.idc or t.dic, dic=t.dic)


def _programs(t: Litmus) -> list[ThreadProgram]:
    code = t.code_words()
    ends = frozenset(th.end for th in t.threads)
    out = []
    for th in t.threads:
        regs = {r: v for (i, r), v in t.regs.items() if i == th.index}
        out.append(ThreadProgram(th.index, th.base, ends, code, regs))
    return out


def thread_runs(t: Litmus) -> list[list[Run]]:
    """Every run of every thread, with the value sets grown to a fixed point: a read
    may return the initial value or any value some run stores to its location."""
    code = t.code_words()
    init: dict[int, int] = {}
    for name, v in t.mem.items():
        init[t.variables[name]] = v
    progs = _programs(t)
    stored: dict[int, set[int]] = {}
    # per thread: its runs, and what they depended on (locations read, code executed)
    memo: dict[int, tuple[list[Run], dict[tuple[int, int], list[int]], dict[int, bool]]] = {}
    for _ in range(8):
        written_code = frozenset(a for a in stored if a in code)
        snapshot = {a: frozenset(vs) for a, vs in stored.items()}

        def values(loc: int, size: int, snapshot: dict[int, frozenset[int]] = snapshot) -> list[int]:
            mask = (1 << (8 * size)) - 1
            first = code[loc] if loc in code else init.get(loc, 0)
            vals = [first & mask]
            for v in sorted(snapshot.get(loc, ())):
                if v & mask not in vals:
                    vals.append(v & mask)
            return vals

        runs = []
        for p in progs:
            old = memo.get(p.tid)
            if old is not None and all(values(loc, size) == vs for (loc, size), vs in old[1].items()) \
                    and not any((pc in written_code) != was for pc, was in old[2].items()):
                runs.append(old[0])  # nothing it depended on changed: the same runs
                continue
            seen: dict[tuple[int, int], list[int]] = {}

            def recording(loc: int, size: int, _seen: dict[tuple[int, int], list[int]] = seen
                          ) -> list[int]:
                _seen[(loc, size)] = vals = values(loc, size)
                return vals

            rs = runs_of(p, written_code, recording, first_eid=(p.tid + 1) << 20)
            pcs = {pc: pc in written_code for r in rs for pc in r.pcs}
            memo[p.tid] = (rs, seen, pcs)
            runs.append(rs)
        new: dict[int, set[int]] = {}
        for rs in runs:
            for r in rs:
                for e in r.events:
                    if e.kind == "W":
                        assert e.loc is not None
                        if e.loc in code and (e.size != 4 or e.loc % 4):
                            raise Unsupported("a store to code that is not one aligned "
                                              "4-byte word is not modelled")
                        new.setdefault(e.loc, set()).add(e.value)
        if new == stored:
            return runs
        stored = new
    raise Unsupported("the values stored do not reach a fixed point in 8 rounds")


def skeletons(t: Litmus, cache: CacheType | None = None) -> Iterator[Skeleton]:
    runs = thread_runs(t)
    code = t.code_words()
    init: dict[int, int] = {t.variables[n]: v for n, v in t.mem.items()}
    cache = cache or cache_type(t)
    n = 0
    for combo in itertools.product(*runs):
        n += 1
        if n > MAX_SKELETONS:
            raise Unsupported(f"more than {MAX_SKELETONS} combinations of thread runs")
        events: list[Event] = [e for r in combo for e in r.events]
        locs = sorted({e.loc for e in events if e.kind in ("R", "W", "F") and e.loc is not None})
        for k, loc in enumerate(locs):
            v = code[loc] if loc in code else init.get(loc, 0)
            events.append(Event(_IW_BASE + k, -1, IW, loc=loc, value=v, size=8))
        yield Skeleton(events, list(combo), cache)


def check(t: Litmus, engine: str = "explicit", cache: CacheType | None = None) -> Answer:
    """Every consistent execution of ``t``; the verdict for its final condition.
    ``cache`` overrides the test's own cache type (the monotonicity property test)."""
    probes = _probes(t.condition)
    mem_probes = [p for p in probes if isinstance(p, MemLoc)]
    sat = unsat = 0
    outcomes: set[tuple[int, ...]] = set()
    n = 0
    addrs = [t.variables[p.name] for p in mem_probes]
    try:
        outcomes_of: Callable[[Skeleton, Static, list[int]], Iterator[dict[int, int]]]
        if engine == "smt":
            from fpatch.encoding.arch_smt import outcomes_of as smt_outcomes
            outcomes_of = smt_outcomes
        else:
            budget = Budget()

            def outcomes_of(sk: Skeleton, st: Static, addrs: list[int]
                            ) -> Iterator[dict[int, int]]:
                return explicit_outcomes(sk, st, addrs, budget)
        statics: dict[object, Static] = {}
        for sk in skeletons(t, cache):
            n += 1
            # runs that differ only in the values they read share their static relations
            key = (tuple((e.eid, e.tid, e.kind, e.loc, e.opt, e.instr) for e in sk.events),
                   tuple((frozenset(r.addr), frozenset(r.data), frozenset(r.ctrl))
                         for r in sk.runs))
            st = statics.get(key)
            if st is None:
                st = statics[key] = static_relations(sk)
            regs = {r.tid: r.regs for r in sk.runs}
            for final in outcomes_of(sk, st, addrs):
                env: dict[RegLoc | MemLoc, int] = {}
                for p in probes:
                    if isinstance(p, RegLoc):
                        v = regs[p.thread].get(p.reg, 0)
                        env[p] = v if p.wide else v & 0xFFFFFFFF
                    else:
                        addr = t.variables[p.name]
                        env[p] = final.get(addr, t.mem.get(p.name, 0))
                outcomes.add(tuple(env[p] for p in probes))
                if _holds(t.condition, env):
                    sat += 1
                else:
                    unsat += 1
    except Unsupported as e:
        return Answer("unsupported", str(e))
    except TimeoutError as e:
        return Answer("unsupported", f"no answer: {e}")
    if t.quantifier == "forall":
        verdict = "Required" if sat and not unsat else ("Allowed" if sat else "Forbidden")
    else:
        verdict = "Allowed" if sat else "Forbidden"
    return Answer(verdict, "", n, len(outcomes), sat)


def explicit_outcomes(sk: Skeleton, st: Static, addrs: list[int],
                      budget: Budget | None = None) -> Iterator[dict[int, int]]:
    """The final values of ``addrs`` over the consistent executions, each once."""
    seen: set[tuple[tuple[int, int], ...]] = set()
    for c in candidates(sk, st, budget):
        final = {a: sk.by_id[c.final[a]].value for a in addrs if a in c.final}
        key = tuple(sorted(final.items()))
        if key not in seen:
            seen.add(key)
            yield final
        if not addrs:
            return  # the registers are the runs': one execution is enough


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
