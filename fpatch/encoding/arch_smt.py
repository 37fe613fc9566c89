"""The Z3 evaluator of the architecture model (fpatch/arch/model.py).

The memory system's choices become variables: a Boolean per possible
reads-from edge (exactly one per read), an integer position per write for
coherence, a Boolean per ``ic-after`` / ``dc-after`` pair that the static
relations leave open. The axioms are the same definitions the explicit
evaluator reads, interpreted over ``Z3Algebra`` (a relation is a map from pairs
to Boolean terms); ``ob`` is acyclic iff integer ranks exist that increase along
every edge present.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeAlias

import z3

from fpatch.arch.model import Choices, Pair, Skeleton, Static, axioms, rf_options

Cond: TypeAlias = "z3.BoolRef | bool"
ZRel: TypeAlias = "dict[Pair, Cond]"


def _or(cs: list[Cond]) -> Cond:
    if any(c is True for c in cs):
        return True
    cs = [c for c in cs if c is not False]
    if not cs:
        return False
    return cs[0] if len(cs) == 1 else z3.Or(*cs)


def _and(a: Cond, b: Cond) -> Cond:
    if a is True:
        return b
    if b is True:
        return a
    if a is False or b is False:
        return False
    return z3.And(a, b)


class Z3Algebra:
    """Relations as maps from pairs to the condition under which the pair is in it."""

    def const(self, pairs: Iterable[Pair]) -> ZRel:
        return {p: True for p in pairs}

    def union(self, *rs: ZRel) -> ZRel:
        acc: dict[Pair, list[Cond]] = {}
        for r in rs:
            for p, c in r.items():
                acc.setdefault(p, []).append(c)
        return {p: _or(cs) for p, cs in acc.items()}

    def seq(self, a: ZRel, b: ZRel) -> ZRel:
        by: dict[int, list[tuple[int, Cond]]] = {}
        for (x, y), c in b.items():
            by.setdefault(x, []).append((y, c))
        acc: dict[Pair, list[Cond]] = {}
        for (x, y), c1 in a.items():
            for z, c2 in by.get(y, ()):
                acc.setdefault((x, z), []).append(_and(c1, c2))
        return {p: _or(cs) for p, cs in acc.items()}

    def inv(self, a: ZRel) -> ZRel:
        return {(y, x): c for (x, y), c in a.items()}

    def restrict(self, a: ZRel, dom: set[int] | None, rng: set[int] | None) -> ZRel:
        return {(x, y): c for (x, y), c in a.items()
                if (dom is None or x in dom) and (rng is None or y in rng)}

    def inter(self, a: ZRel, pairs: set[Pair]) -> ZRel:
        return {p: c for p, c in a.items() if p in pairs}


ALG = Z3Algebra()


def outcomes_of(sk: Skeleton, st: Static, addrs: list[int],
                timeout_ms: int = 60_000) -> Iterator[dict[int, int]]:
    """The final values of ``addrs`` over the consistent executions of ``sk`` (each
    distinct outcome once; a single empty outcome when ``addrs`` is empty and some
    execution is consistent). Raises ``TimeoutError`` when Z3 answers unknown."""
    ev = sk.by_id
    ctx = z3.Context()
    s = z3.Solver(ctx=ctx)
    s.set("timeout", timeout_ms)
    rf: ZRel = {}
    rf_opts = rf_options(sk, st)
    if rf_opts is None:
        return
    for r, opts in zip(st.reads, rf_opts, strict=True):
        bs = [z3.Bool(f"rf_{w}_{r}", ctx) for w in opts]
        s.add(z3.PbEq([(x, 1) for x in bs], 1))
        for w, x in zip(opts, bs, strict=True):
            rf[(w, r)] = x
    pos = {w: z3.Int(f"co_{w}", ctx) for ws in st.writes_at.values() for w in ws}
    co: ZRel = {}
    for ws in st.writes_at.values():
        if len(ws) > 2:
            s.add(z3.Distinct(*[pos[w] for w in ws[1:]]))
        for w in ws[1:]:
            co[(ws[0], w)] = True
            for v in ws[1:]:
                if v != w:
                    co[(w, v)] = pos[w] < pos[v]
    ic: ZRel = {}
    for p in st.ic_pairs:
        b: Cond = st.ic_fixed[p] if p in st.ic_fixed else z3.Bool(f"ic_{p[0]}_{p[1]}", ctx)
        ic[p] = b
        ic[(p[1], p[0])] = z3.Not(b) if not isinstance(b, bool) else not b
    dc: ZRel = {}
    for p in st.dc_pairs:
        d: Cond = st.dc_fixed[p] if p in st.dc_fixed else z3.Bool(f"dc_{p[0]}_{p[1]}", ctx)
        dc[p] = d
        dc[(p[1], p[0])] = z3.Not(d) if not isinstance(d, bool) else not d
    ax = axioms(ALG, sk, st, Choices(rf, co, ic, dc))
    rank = {e: z3.Int(f"rank_{e}", ctx) for e in ev}
    for x, y in ax.static_ob:  # local-hw-reqs, reduced (the same cycles)
        s.add(rank[x] < rank[y] if x != y else z3.BoolVal(False, ctx))
    for (x, y), c in ax.ob.items():
        if c is False:
            continue
        s.add(z3.Implies(c, rank[x] < rank[y]) if c is not True else rank[x] < rank[y])
    for rel in ax.irreflexive.values():
        for (x, y), c in rel.items():
            if x == y and c is not False:
                s.add(z3.Not(c) if c is not True else z3.BoolVal(False, ctx))
    final: dict[int, z3.ArithRef] = {}
    for a in addrs:
        if a not in st.writes_at:
            continue
        ws = st.writes_at[a]
        val: z3.ArithRef = z3.IntVal(ev[ws[0]].value, ctx)
        for w in ws[1:]:
            last = z3.And(*[pos[w] > pos[v] for v in ws[1:] if v != w], ctx) \
                if len(ws) > 2 else z3.BoolVal(True, ctx)
            val = z3.If(last, z3.IntVal(ev[w].value, ctx), val)
        final[a] = val
    while True:
        res = s.check()
        if res == z3.unknown:
            raise TimeoutError(f"Z3 answered unknown: {s.reason_unknown()}")
        if res == z3.unsat:
            return
        m = s.model()
        out = {a: m.eval(v, model_completion=True).as_long() for a, v in final.items()}
        yield out
        if not final:
            return
        s.add(z3.Or(*[v != out[a] for a, v in final.items()]))
