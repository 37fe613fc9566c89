"""The AArch64 model of instruction fetch and data memory, stated once.

Derived from herd's ``aarch64.cat`` for ``-variant ifetch`` (the Arm memory model
with the instruction-fetch extension of Simner et al., ESOP 2020), and its
libraries ``aarch64hwreqs.cat``, ``aarch64fences.cat``, ``cm-after.cat``; written
here in our own code, one definition per relation, in the cat's names. The
translation and what it leaves out are in docs/model.md ("The architecture
model").

The model has two parts:

* **static**: relations fixed by the threads' runs (program order, dependencies,
  barriers, maintenance, fetches): ``local-hw-reqs`` and the pairs whose order
  the memory system chooses (``ic-after``, ``dc-after``). Computed here on plain
  sets, once per combination of runs.
* **dynamic**: relations that depend on the memory system's choices
  (reads-from, coherence and the two choice relations). They are written against
  a small relation algebra (``Algebra``) so that two evaluators read the *same*
  definitions: the explicit enumerator (sets of pairs, fpatch/arch/explicit.py) and
  the Z3 evaluator (a Boolean per pair, fpatch/encoding/arch_smt.py).

An execution is consistent when ``ob`` (ordered-before) is acyclic and the
internal (per-location coherence) relations are irreflexive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from fpatch.arch.errata import fetches_ordered
from fpatch.arch.events import (
    DC,
    DMB,
    DSB,
    FETCH,
    IC,
    ISB,
    IW,
    READ,
    WRITE,
    Event,
    Run,
    Unsupported,
)

Pair = tuple[int, int]


@dataclass(frozen=True)
class CacheType:
    """CTR_EL0.IDC/DIC. herd reads ``CacheType=DIC`` as IDC=1, DIC=1."""

    idc: bool = False
    dic: bool = False
    errata: tuple[str, ...] = ()  # ids of fpatch/arch/errata.py ERRATA (off in litmus)

    @property
    def fetches_ordered(self) -> bool:
        """Does IC-Ordered-Before's DIC term hold? An erratum (fpatch/arch/errata.py) may
        take it away."""
        return fetches_ordered(self.dic, self.errata)

    def __str__(self) -> str:
        base = f"IDC={int(self.idc)} DIC={int(self.dic)}"
        return base + (f" errata={','.join(self.errata)}" if self.errata else "")


@dataclass
class Skeleton:
    """A combination of one run per thread plus the initial writes: everything of a
    candidate execution except reads-from, coherence and the choice relations."""

    events: list[Event]
    runs: list[Run]
    cache: CacheType
    line: int | None = None  # cache line size in bytes; None: every location its own line
    by_id: dict[int, Event] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {e.eid: e for e in self.events}


@dataclass
class Static:
    """The relations of a skeleton that no memory-system choice changes."""

    lhr: set[Pair]  # local-hw-reqs (transitively closed)
    lhr_reduced: set[Pair]  # its transitive reduction (same cycles with any other edges)
    po_loc: set[Pair]  # explicit memory events, same location, program order
    ic_pairs: list[Pair]  # (completed IC, fetch) on the same cache line
    dc_pairs: list[Pair]  # (DC CVAU, explicit write) on the same cache line
    ic_fixed: dict[Pair, bool]  # pair -> True if local-hw-reqs orders IC first
    dc_fixed: dict[Pair, bool]  # pair -> True if DC first (initial writes come first)
    ext: set[Pair]  # pairs of memory events of different threads (or an initial write)
    po_ff: set[Pair]  # fetch -> po-later fetch
    ic_dsb_after: set[Pair]  # IC -> events after a later DSB (not implicit accesses)
    reads: list[int]
    writes_at: dict[int, list[int]]  # location -> writes (initial first)
    internal: set[Pair] = field(default_factory=set)  # memory events of one thread
    kinds: dict[str, set[int]] = field(default_factory=dict)  # event sets by kind


# ----------------------------------------------------------------- static part


def _closure(pairs: set[Pair], nodes: Iterable[int]) -> set[Pair]:
    succ: dict[int, int] = {}
    idx = {n: i for i, n in enumerate(nodes)}
    ids = list(idx)
    for a, b in pairs:
        succ[idx[a]] = succ.get(idx[a], 0) | (1 << idx[b])
    # Warshall on bitsets
    for k in range(len(ids)):
        bk = 1 << k
        sk = succ.get(k, 0)
        if not sk:
            continue
        for i in list(succ):
            if succ[i] & bk:
                succ[i] |= sk
    out = set()
    for i, s in succ.items():
        j = 0
        while s:
            if s & 1:
                out.add((ids[i], ids[j]))
            s >>= 1
            j += 1
    return out


def _reduction(closed: set[Pair]) -> set[Pair]:
    """Transitive reduction of a transitively closed acyclic relation (on a cyclic one,
    a sub-relation with the same cycles)."""
    succ: dict[int, set[int]] = {}
    for a, b in closed:
        succ.setdefault(a, set()).add(b)
    out = set()
    for a, bs in succ.items():
        indirect: set[int] = set()
        for b in bs:
            if b != a:
                indirect |= succ.get(b, set()) - {b}
        out |= {(a, b) for b in bs if b not in indirect or b == a}
    return out


def scl(a: Event, b: Event, line: int | None = None) -> bool:
    """Same cache line. Every litmus location is its own line (herd assumes no two
    modified instructions share a line; ``line`` None); IC IALLU/IALLUIS covers
    every line."""
    if a.loc is None or b.loc is None:
        return a.kind == IC or b.kind == IC
    if line is None:
        return a.loc == b.loc
    return a.loc // line == b.loc // line


MAX_EVENTS = 160  # per candidate execution (the visible herd tests have at most 21)


def static_relations(sk: Skeleton) -> Static:
    if len(sk.events) > MAX_EVENTS:
        # relations such as po; [DMB]; po grow as the cube of the events: bound them first
        raise Unsupported(f"more than {MAX_EVENTS} events in one execution; not evaluated")
    ev = sk.by_id
    po: set[Pair] = set()
    iico: set[Pair] = set()
    for r in sk.runs:
        es = r.events
        for i, a in enumerate(es):
            for b in es[i + 1:]:
                if b.instr > a.instr:
                    po.add((a.eid, b.eid))
                elif a.kind == FETCH:
                    iico.add((a.eid, b.eid))  # f-ib: the fetch before its own effects
    addr = set().union(*(r.addr for r in sk.runs))
    data = set().union(*(r.data for r in sk.runs))
    ctrl = set().union(*(r.ctrl for r in sk.runs))

    k = {e: x.kind for e, x in ev.items()}.__getitem__

    def is_exp(e: int) -> bool:
        return ev[e].explicit

    def bclass(e: int) -> str:
        return ev[e].barrier_class()

    dmb_full = {e for e in ev if k(e) in (DMB, DSB) and bclass(e) == "full"}
    dmb_ld = {e for e in ev if k(e) in (DMB, DSB) and bclass(e) == "ld"}
    dmb_st = {e for e in ev if k(e) in (DMB, DSB) and bclass(e) == "st"}
    dsb_full = {e for e in dmb_full if k(e) == DSB}
    dsb_ld = {e for e in dmb_ld if k(e) == DSB}
    dsb_st = {e for e in dmb_st if k(e) == DSB}
    cse = {e for e in ev if k(e) == ISB}
    acq = {e for e in ev if k(e) == READ and ev[e].opt in ("A", "Q")}
    rel = {e for e in ev if k(e) == WRITE and ev[e].opt == "L"}
    reads_exp = {e for e in ev if k(e) == READ}
    writes_exp = {e for e in ev if k(e) == WRITE}
    mem_exp = reads_exp | writes_exp
    imp_m = {e for e in ev if k(e) == FETCH}
    dcs = {e for e in ev if k(e) == DC}
    ics = {e for e in ev if k(e) == IC}

    succ: dict[int, set[int]] = {}
    pred: dict[int, set[int]] = {}
    for x, y in po:
        succ.setdefault(x, set()).add(y)
        pred.setdefault(y, set()).add(x)

    def after(fences: set[int]) -> set[Pair]:
        """po; [fences]; po"""
        return {(a, c) for f in fences for a in pred.get(f, ()) for c in succ.get(f, ())}

    def same_loc(a: int, b: int) -> bool:
        return ev[a].loc is not None and ev[a].loc == ev[b].loc

    po_loc = {(a, b) for a, b in po if a in mem_exp and b in mem_exp and same_loc(a, b)}
    # lrs: a write and a po-later read of its location with no write between
    lrs = {(a, b) for a, b in po_loc if a in writes_exp and b in reads_exp
           and not any((a, w) in po_loc and (w, b) in po_loc for w in writes_exp)}

    def comp(r: set[Pair], s: set[Pair]) -> set[Pair]:
        by: dict[int, set[int]] = {}
        for a, b in s:
            by.setdefault(a, set()).add(b)
        return {(a, c) for a, b in r for c in by.get(b, ())}

    def rng(r: set[Pair], s: set[int]) -> set[Pair]:
        return {p for p in r if p[1] in s}

    def dom(s: set[int], r: set[Pair]) -> set[Pair]:
        return {p for p in r if p[0] in s}

    po_cse_po = comp(rng(po, cse), po)  # [CSE] reached by po, then po: X -> after CSE
    cse_po = dom(cse, po)
    exp_addr = rng(addr, mem_exp)
    # Dependency-ordered-before
    dob = (addr | data | rng(ctrl, writes_exp) | comp(exp_addr, rng(po, writes_exp))
           | comp(comp(exp_addr, rng(po, cse)), rng(cse_po, reads_exp))
           | comp(exp_addr, lrs) | comp(rng(data, mem_exp), lrs))
    # Barrier-ordered-before
    bob = (after(dmb_full) | dom(reads_exp | imp_m, after(dmb_ld))
           | rng(dom(writes_exp, after(dmb_st)), writes_exp)
           | {(a, b) for a, b in po if a in rel and b in acq}
           | dom(acq, po) | rng(po, rel))
    lws = rng(po_loc, writes_exp)
    lob = _closure(lws | dob | bob, ev)
    lob = {(a, b) for a, b in lob if a in mem_exp and b in mem_exp}
    not_imp = {e for e in ev if k(e) != FETCH and k(e) != IW}
    dsb_ob = (rng(dom(mem_exp | imp_m | dcs | ics, after(dsb_full)), not_imp)
              | rng(dom(reads_exp, after(dsb_ld)), not_imp)
              | rng(dom(writes_exp, after(dsb_st)), not_imp))
    cse_ob = (comp(rng(dom(reads_exp, ctrl), cse), cse_po)
              | comp(rng(dsb_ob, cse), cse_po)
              | comp(rng(iico, cse), cse_po))
    po_scl = {(a, b) for a, b in po if scl(ev[a], ev[b], sk.line)}
    lhr_base = (iico | lob | dsb_ob | cse_ob
                | rng(dom(reads_exp, addr), dcs | ics)
                | rng(dom(reads_exp, ctrl), dcs | ics)  # not in the stored cat: docs/model.md
                | comp(exp_addr, comp(rng(po, cse), cse_po))
                | rng(dom(imp_m, po), set(ev) - imp_m)
                | rng(dom(mem_exp, after(dmb_full)), dcs)
                | rng(dom(dcs, after(dmb_full)), mem_exp | dcs)
                | rng(dom(mem_exp, po_scl), dcs)
                | rng(dom(dcs, po_scl), mem_exp | dcs))
    del po_cse_po
    lhr = _closure(lhr_base, ev)

    completed_ic = {i for i in ics if any((i, d) in po for d in dsb_full)}  # C_IC
    ic_pairs = sorted((i, f) for i in completed_ic for f in imp_m if scl(ev[i], ev[f], sk.line))
    ic_fixed = {}
    for p in ic_pairs:
        if p in lhr:
            ic_fixed[p] = True
        elif (p[1], p[0]) in lhr:
            ic_fixed[p] = False
    all_writes = writes_exp | {e for e in ev if k(e) == IW}
    dc_pairs = sorted((d, w) for d in dcs for w in all_writes if scl(ev[d], ev[w], sk.line))
    dc_fixed = {}
    for p in dc_pairs:
        if k(p[1]) == IW or (p[1], p[0]) in lhr:
            dc_fixed[p] = False  # the write first
        elif p in lhr:
            dc_fixed[p] = True
    mem_all = {e for e in ev if ev[e].kind in (IW, FETCH, READ, WRITE)}
    ext = {(a, b) for a in mem_all for b in mem_all
           if ev[a].tid != ev[b].tid or ev[a].tid < 0 or ev[b].tid < 0}
    reads = sorted(reads_exp | imp_m)
    writes_at: dict[int, list[int]] = {}
    for e in sorted(all_writes, key=lambda x: (k(x) != IW, x)):
        loc = ev[e].loc
        assert loc is not None
        writes_at.setdefault(loc, []).append(e)
    po_ff = {(a, b) for a, b in po if a in imp_m and b in imp_m}
    ic_dsb_after = rng(dom(ics, after(dsb_full)), not_imp)
    internal = {(a, b) for a in mem_all for b in mem_all
                if ev[a].tid == ev[b].tid and ev[a].tid >= 0}
    kinds = {"F": imp_m, "IC": ics, "DC": dcs, "W": all_writes, "R": reads_exp}
    return Static(lhr, _reduction(lhr), po_loc, ic_pairs, dc_pairs, ic_fixed, dc_fixed, ext,
                  po_ff, ic_dsb_after, reads, writes_at, internal, kinds)


def rf_options(sk: Skeleton, st: Static) -> list[list[int]] | None:
    """For each read (``st.reads`` order), the writes it may read from: its location,
    the value its run assumed. None when some read has none (no execution)."""
    ev = sk.by_id
    out: list[list[int]] = []
    for r in st.reads:
        e = ev[r]
        assert e.loc is not None
        mask = (1 << (8 * e.size)) - 1
        opts = [w for w in st.writes_at.get(e.loc, []) if ev[w].value & mask == e.value]
        if not opts:
            return None
        out.append(opts)
    return out


# ----------------------------------------------------------------- dynamic part

R = TypeVar("R")


class Algebra(Protocol[R]):
    """Relations over event ids; each evaluator gives them its own meaning."""

    def const(self, pairs: Iterable[Pair]) -> R: ...
    def union(self, *rs: R) -> R: ...
    def seq(self, a: R, b: R) -> R: ...
    def inv(self, a: R) -> R: ...
    def restrict(self, a: R, dom: set[int] | None, rng: set[int] | None) -> R: ...
    def inter(self, a: R, pairs: set[Pair]) -> R: ...


@dataclass
class Choices(Generic[R]):
    """The memory system's choices for one candidate, as relations."""

    rf: R  # write -> read (fetches included)
    co: R  # coherence: write -> later write of the same location (transitive)
    ic_after: R  # completed IC -> fetch or fetch -> IC, one per ic pair
    dc_after: R  # DC -> write or write -> DC, one per dc pair


@dataclass
class Axioms(Generic[R]):
    """``ob`` = ``static_ob | dynamic_ob`` must be acyclic (external); the static part
    is local-hw-reqs (the same for every candidate of a skeleton)."""

    static_ob: set[Pair]
    ob: R  # the dynamic part of ob
    irreflexive: dict[str, R]  # name -> relation that must be irreflexive


def axioms(a: Algebra[R], sk: Skeleton, st: Static, c: Choices[R]) -> Axioms[R]:
    fetch, icset, dcset = st.kinds["F"], st.kinds["IC"], st.kinds["DC"]
    w, exp_r = st.kinds["W"], st.kinds["R"]
    exp_m = exp_r | w
    internal = st.internal

    fr = a.seq(a.inv(c.rf), c.co)  # reads -> writes co-after their source
    ca = a.union(fr, c.co)
    # Explicitly-observed-by
    exp_obs = a.restrict(a.inter(a.union(c.rf, ca), st.ext), exp_m, exp_m)
    # IC-Coherence-After, by cache type
    ic_f = a.restrict(c.ic_after, icset, fetch)
    f_w = a.restrict(ca, fetch, w)
    w_dc = a.restrict(c.dc_after, w, dcset)
    cache = sk.cache
    dic = cache.dic
    if dic and cache.idc:
        ic_ca = f_w
    elif dic:
        # not a herd configuration (herd: DIC implies IDC); Linux treats the bits
        # separately: no IC needed, the clean to PoU still is (docs/model.md)
        ic_ca = a.seq(f_w, w_dc)
    elif cache.idc:
        ic_ca = a.seq(ic_f, f_w)
    else:
        ic_ca = a.seq(a.seq(ic_f, f_w), w_dc)
    # Ifetch-observed-by
    ifetch_obs = a.union(a.restrict(c.rf, None, fetch), c.ic_after, c.dc_after, ic_ca)
    # Explicit-Hazard-Ordered-Before
    po_loc_rr = {(x, y) for x, y in st.po_loc if x in exp_r and y in exp_r}
    haz = a.seq(a.const(po_loc_rr), a.restrict(a.inter(fr, st.ext), None, w))
    # IC-Ordered-Before: a fetch po-before another fetch that is ordered before a
    # completed IC is ordered before what follows the IC's DSB (and, with DIC,
    # before every write the later fetch is coherence-before)
    ic_dsb_after = {(x, y) for x, y in st.ic_dsb_after}
    ifetch_ob = a.seq(a.restrict(c.ic_after, fetch, icset), a.const(ic_dsb_after))
    if dic and cache.fetches_ordered:  # an erratum may take this term away (errata.py)
        ifetch_ob = a.union(ifetch_ob, f_w)
    ic_ob = a.seq(a.const(st.po_ff), ifetch_ob)
    ob = a.union(haz, ic_ob, exp_obs, ifetch_obs)
    po_loc_rw = {(x, y) for x, y in st.po_loc if x in exp_r and y in w}
    po_loc_ww = {(x, y) for x, y in st.po_loc if x in w and y in w}
    po_loc_wr = {(x, y) for x, y in st.po_loc if x in w and y in exp_r}
    irr = {
        "coRW1-Exp": a.seq(a.const(po_loc_rw), a.restrict(a.inter(c.rf, internal), None, exp_r)),
        "coWW-Exp": a.seq(a.const(po_loc_ww), a.inter(c.co, internal)),
        "coWR-Exp": a.seq(a.const(po_loc_wr), a.restrict(a.inter(fr, internal), None, w)),
    }
    return Axioms(st.lhr_reduced, ob, irr)
