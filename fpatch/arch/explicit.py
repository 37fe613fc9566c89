"""The explicit evaluator of the architecture model: enumerate candidate executions.

For a skeleton (one run per thread), every choice of reads-from (a write of the
read's location with the value the run assumed), coherence (an order of each
location's writes after its initial write) and orientation of the ``ic-after`` /
``dc-after`` pairs is a candidate; the axioms of fpatch/arch/model.py decide it,
read over plain sets of pairs. No solver: this is the cross-check of the Z3
evaluator (fpatch/encoding/arch_smt.py), and the faster of the two on litmus
tests.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fpatch.arch.events import Unsupported
from fpatch.arch.model import Axioms, Choices, Pair, Skeleton, Static, axioms, rf_options

Rel = frozenset[Pair]
MAX_CANDIDATES = 50_000  # per combination of runs (the visible herd tests need 16)
MAX_OPEN_PAIRS = 16  # ic-after/dc-after pairs left open (the visible tests need at most 3)


class Budget:
    """Candidate executions one question may evaluate in all (a bound on time, checked
    as the work is done): past it the answer is ``unsupported``, never a guess."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = self.left = limit

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise Unsupported(f"more than {self.limit} candidate executions evaluated; "
                              "not enumerated further")


class SetAlgebra:
    """Relations as frozensets of pairs."""

    def const(self, pairs: Iterable[Pair]) -> Rel:
        return frozenset(pairs)

    def union(self, *rs: Rel) -> Rel:
        return frozenset().union(*rs)

    def seq(self, a: Rel, b: Rel) -> Rel:
        by: dict[int, list[int]] = {}
        for x, y in b:
            by.setdefault(x, []).append(y)
        return frozenset((x, z) for x, y in a for z in by.get(y, ()))

    def inv(self, a: Rel) -> Rel:
        return frozenset((y, x) for x, y in a)

    def restrict(self, a: Rel, dom: set[int] | None, rng: set[int] | None) -> Rel:
        return frozenset((x, y) for x, y in a
                         if (dom is None or x in dom) and (rng is None or y in rng))

    def inter(self, a: Rel, pairs: set[Pair]) -> Rel:
        return frozenset(p for p in a if p in pairs)


ALG = SetAlgebra()


def acyclic(edges: Iterable[Pair]) -> bool:
    succ: dict[int, list[int]] = {}
    indeg: dict[int, int] = {}
    for a, b in edges:
        if a == b:
            return False
        succ.setdefault(a, []).append(b)
        indeg[b] = indeg.get(b, 0) + 1
        indeg.setdefault(a, 0)
    ready = [n for n, d in indeg.items() if d == 0]
    seen = 0
    while ready:
        n = ready.pop()
        seen += 1
        for m in succ.get(n, ()):
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
    return seen == len(indeg)


@dataclass(frozen=True)
class Candidate:
    """A consistent execution: its reads-from (read -> write) and the last write of
    every location in coherence order."""

    rf: dict[int, int]
    final: dict[int, int]  # location -> eid of the co-last write


def ob_acyclic(ax: Axioms[Rel]) -> bool:
    return acyclic(itertools.chain(ax.ob, ax.static_ob))


def consistent(sk: Skeleton, st: Static, c: Choices[Rel]) -> bool:
    ax: Axioms[Rel] = axioms(ALG, sk, st, c)
    if any(x == y for r in ax.irreflexive.values() for x, y in r):
        return False
    return ob_acyclic(ax)


def candidates(sk: Skeleton, st: Static, budget: Budget | None = None) -> Iterator[Candidate]:
    """Every consistent execution of the skeleton (one per rf/co choice)."""
    rf_opts = rf_options(sk, st)
    if rf_opts is None:
        return
    co_locs = sorted(st.writes_at)
    # the size before anything is built: coherence orders grow as a factorial
    size = math.prod(len(o) for o in rf_opts)
    for loc in co_locs:
        size *= math.factorial(len(st.writes_at[loc]) - 1)
        if size > MAX_CANDIDATES:
            break
    if size > MAX_CANDIDATES:
        raise Unsupported(f"more than {MAX_CANDIDATES} candidate executions of one combination "
                          "of runs (reads-from x coherence); not enumerated")
    co_opts = [[(ws[0],) + p for p in itertools.permutations(ws[1:])]
               for ws in (st.writes_at[loc] for loc in co_locs)]
    free_ic = [p for p in st.ic_pairs if p not in st.ic_fixed]
    free_dc = [p for p in st.dc_pairs if p not in st.dc_fixed]
    if len(free_ic) + len(free_dc) > MAX_OPEN_PAIRS:
        raise Unsupported(f"more than {MAX_OPEN_PAIRS} IC/DC pairs whose order the memory "
                          "system chooses (2^n orientations); not enumerated")
    fixed_ic = [p if first else (p[1], p[0]) for p, first in st.ic_fixed.items()]
    fixed_dc = [p if first else (p[1], p[0]) for p, first in st.dc_fixed.items()]
    for rf_pick in itertools.product(*rf_opts):
        rf = frozenset(zip(rf_pick, st.reads, strict=True))
        for co_pick in itertools.product(*co_opts):
            if budget is not None:
                budget.spend()
            co = frozenset((o[i], o[j]) for o in co_pick for i in range(len(o))
                           for j in range(i + 1, len(o)))
            base: Choices[Rel] = Choices(rf, co, frozenset(fixed_ic), frozenset(fixed_dc))
            ax = axioms(ALG, sk, st, base)
            if any(x == y for r in ax.irreflexive.values() for x, y in r):
                continue
            if not ob_acyclic(ax):
                continue  # more choice edges only add to ob
            if not _some_orientation(sk, st, rf, co, fixed_ic, fixed_dc, free_ic, free_dc):
                continue
            yield Candidate(dict(zip(st.reads, rf_pick, strict=True)),
                            {loc: o[-1] for loc, o in zip(co_locs, co_pick, strict=True)})


def _some_orientation(sk: Skeleton, st: Static, rf: Rel, co: Rel, fixed_ic: list[Pair],
                      fixed_dc: list[Pair], free_ic: list[Pair], free_dc: list[Pair]) -> bool:
    free = [(True, p) for p in free_ic] + [(False, p) for p in free_dc]
    for bits in itertools.product((True, False), repeat=len(free)):
        ic = list(fixed_ic)
        dc = list(fixed_dc)
        for b, (is_ic, p) in zip(bits, free, strict=True):
            (ic if is_ic else dc).append(p if b else (p[1], p[0]))
        if consistent(sk, st, Choices(rf, co, frozenset(ic), frozenset(dc))):
            return True
    return False
