"""The explicit enumerator: a second, independent checker of docs/model.md.

fpatch's main engine encodes the model as Z3 constraints; this module checks
small specs by enumerating runs explicitly, with no solver and without the
main engine's ``fpatch.model``/``fpatch.encoding`` code, so that a bug in one
reading of docs/model.md shows up as a disagreement between the two. It is
written to be obviously correct rather than fast.

How it enumerates (and why the reductions are exact):

* The patcher is simulated step by step (``flatten`` and ``History``): the
  word of every slot at every point, torn points, modifying writes and their
  publication points, hence ``L(s, c)``.
* A run is a sequence of fetched words plus a timing (``e_i``, ``c_i``) per
  fetch. The concrete execution, hence everything about the run except the
  windows, depends only on the fetched words, never on which point ``f`` a word
  came from. So the search is a tree over word sequences, and each tree node
  keeps the *set* of timing states the observer can be in after that prefix
  (a subset construction: exact for reachability).
* A timing state holds only what the future depends on: the last ``e``, the
  last CSE ``c``, and (only when a rule needs it) the first ``e`` (wait_tasks)
  or the entry CSE (nmi-remote). ``c`` is replaced by a canonical
  representative: the greatest *breakpoint* (0, a publication point of the
  site, a forced CSE point) at or below it. Every later use of ``c`` is
  ``L(s, c)`` (a step function changing only at publication points) or a
  comparison ``c >= F(e)`` with a forced point, so states with the same
  representative have exactly the same futures.
* Every ``e`` is enumerated (no reduction). Torn/CMODX are properties of each
  window, checked for every (timing state, transition) pair.
* Inequivalence is checked concretely on a fixed family of initial machine
  states (``FAMILY``): an under-approximation of "exists an initial state",
  so a reported inequivalence is real but a rare one may be missed.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fpatch.arch.errata import fetches_ordered
from fpatch.arch.model import CacheType as ArchCache
from fpatch.arch.publication import completion_point, step_op
from fpatch.arch.publication import publication_point as derived_publication
from fpatch.errors import Loc
from fpatch.isa import decode, is_cmodx, semantics
from fpatch.isa.bti import BTYPE_CALL, branch_type, btype_name, landing_ok
from fpatch.isa.insn import Insn, Target, Unsupported
from fpatch.isa.interp import Machine, execute
from fpatch.isa.ir import MASK64, PAC_INITIAL, REGISTERS, Const, Jump, Load, Reg, Stmt
from fpatch.region import Region, is_branch_exit, localize, regions
from fpatch.spec.types import (
    CacheOp,
    DataWord,
    Dmb,
    Dsb,
    IpiSync,
    Isb,
    Mark,
    Site,
    Spec,
    Step,
    StopMachine,
    SyncIcache,
    WaitTasks,
    Write,
)
from fpatch.verdict import (
    BTI,
    BUDGET_SPENT,
    CMODX,
    DATA,
    INCOMPLETE,
    INEQUIVALENT,
    SAFE,
    STALE,
    TORN,
    UNDEFINED,
    UNKNOWN,
    UNSAFE,
    Counterexample,
    DataRead,
    EffectDiff,
    Exec,
    ObserverResult,
    Result,
    data_detail,
)

# ----------------------------------------------------------------- the patcher


@dataclass(frozen=True)
class Prim:
    """One primitive patcher step (1-based ``index``); point ``index`` is after it."""

    index: int
    kind: str  # write | dc_cvau | ic_ivau | ic_iallu | dsb | isb | ipi_sync | wait_tasks
    addr: int = 0  # write: first byte
    data: bytes = b""  # write: the bytes of this single-copy-atomic chunk
    group: int = -1  # write: which spec-level write this chunk belongs to
    lines: frozenset[int] = frozenset()  # dc_cvau / ic_ivau: line numbers covered
    option: str = ""  # dsb option
    what: str = ""
    loc: Loc | None = None


@dataclass(frozen=True)
class Timeline:
    """The flattened patcher: steps 1..n, stop_machine blocks, forced CSE points."""

    steps: tuple[Prim, ...]
    blocks: tuple[tuple[int, int], ...]  # (a, b): points a..b-1 inside, b after
    forced: tuple[int, ...]  # forced CSE points (ipi_sync, end of stop_machine), sorted
    waits: tuple[int, ...]  # wait_tasks steps
    marks: tuple[tuple[str, int], ...] = ()  # `- mark: NAME` -> the point after the previous step

    @property
    def n(self) -> int:
        return len(self.steps)

    def step(self, t: int) -> Prim:
        return self.steps[t - 1]

    def inside_block(self, p: int) -> bool:
        """Is point ``p`` inside a stop_machine block (no thread runs there)?"""
        return any(a <= p < b for a, b in self.blocks)

    def forced_before(self, p: int) -> int:
        """F(p): the latest forced CSE point <= p, or 0."""
        return max((f for f in self.forced if f <= p), default=0)


def _sync_icache_kinds(idc: bool, dic: bool) -> tuple[tuple[str, str], ...]:
    """Linux's caches_clean_inval_pou per cache type, as (kind, dsb option) pairs."""
    if not idc and not dic:
        return (("dc_cvau", ""), ("dsb", "ish"), ("ic_ivau", ""), ("dsb", "ish"), ("isb", ""))
    if idc and not dic:
        return (("dsb", "ishst"), ("ic_ivau", ""), ("dsb", "ish"), ("isb", ""))
    if not idc and dic:
        return (("dc_cvau", ""), ("dsb", "ish"), ("isb", ""))
    return (("dsb", "ishst"), ("isb", ""))


def flatten(spec: Spec) -> Timeline:
    """Number the spec's steps 1..N as docs/model.md says (writes split into chunks)."""
    prims: list[Prim] = []
    blocks: list[tuple[int, int]] = []
    forced: list[int] = []
    waits: list[int] = []
    marks: list[tuple[str, int]] = []
    groups = [0]

    def emit(kind: str, **kw: object) -> None:
        prims.append(Prim(len(prims) + 1, kind, **kw))  # type: ignore[arg-type]

    def lines(addrs: Iterable[int]) -> frozenset[int]:
        return frozenset(a // spec.line_size for a in addrs)

    def walk(steps: Iterable[Step]) -> None:
        for st in steps:
            if isinstance(st, Write):
                w = st.width
                chunks = [(st.addr + k, st.data[k : k + w]) for k in range(0, len(st.data), w)]
                if st.descending:
                    chunks.reverse()
                for addr, data in chunks:
                    emit("write", addr=addr, data=data, group=groups[0], what=st.what, loc=st.loc)
                groups[0] += 1
            elif isinstance(st, CacheOp):
                emit(st.op, lines=lines(st.addrs), what=st.what, loc=st.loc)
            elif isinstance(st, Dsb):
                emit("dsb", option=st.option, loc=st.loc)
            elif isinstance(st, Dmb):
                emit("dmb", option=st.option, loc=st.loc)
            elif isinstance(st, Isb):
                emit("isb", loc=st.loc)
            elif isinstance(st, IpiSync):
                emit("ipi_sync", loc=st.loc)
                forced.append(len(prims))
            elif isinstance(st, WaitTasks):
                emit("wait_tasks", loc=st.loc)
                waits.append(len(prims))
            elif isinstance(st, Mark):
                marks.append((st.name, len(prims)))
            elif isinstance(st, SyncIcache):
                for kind, option in _sync_icache_kinds(spec.idc, spec.dic):
                    if kind in ("dc_cvau", "ic_ivau"):
                        emit(kind, lines=lines(st.addrs), what=f"sync_icache {st.what}", loc=st.loc)
                    else:
                        emit(kind, option=option, what="sync_icache", loc=st.loc)
            elif isinstance(st, StopMachine):
                a = len(prims) + 1
                walk(st.body)
                b = len(prims)
                if b >= a:
                    blocks.append((a, b))
                    forced.append(b)
            else:  # pragma: no cover - the spec layer has no other steps
                raise TypeError(st)

    walk(spec.steps)
    return Timeline(tuple(prims), tuple(blocks), tuple(sorted(set(forced))), tuple(waits),
                    tuple(marks))


def publication(
    tl: Timeline, idc: bool, dic: bool, line_size: int, w: int, addr: int,
    errata: tuple[str, ...] = (),
) -> int | None:
    """pub(w) for the slot at ``addr``, from the architecture model (fpatch.arch): the
    one statement of the rule both engines read."""
    line = addr // line_size
    return derived_publication(
        ArchCache(idc, dic, errata),
        [(t, step_op(tl.step(t).kind, line in tl.step(t).lines, tl.step(t).option))
         for t in range(w + 1, tl.n + 1)])


@dataclass(frozen=True)
class Window:
    """What a fetch with window [lo, hi] can return."""

    words: tuple[int, ...]  # distinct words, in order of first point
    torn_at: int | None  # a torn point inside the window
    cmodx: bool  # two different words, one not in the CMODX set


class History:
    """The patcher's effect on one site: slot words per point, torn points, L(s, c)."""

    def __init__(self, spec: Spec, site: Site, tl: Timeline) -> None:
        self.spec, self.site, self.tl = spec, site, tl
        n, ns = tl.n, site.nslots
        init = site.state(site.initial).words
        mem: dict[int, int] = {}
        for i, word in enumerate(init):
            for k in range(4):
                mem[site.slot_addr(i) + k] = (word >> (8 * k)) & 0xFF

        def snapshot() -> list[int]:
            return [
                sum(mem[site.slot_addr(i) + k] << (8 * k) for k in range(4)) for i in range(ns)
            ]

        rows = [snapshot()]
        for p in tl.steps:
            if p.kind == "write":
                for k, byte in enumerate(p.data):
                    if p.addr + k in mem:
                        mem[p.addr + k] = byte
            rows.append(snapshot())
        # words[s][p]: slot s at point p
        self.words: list[list[int]] = [[rows[p][s] for p in range(n + 1)] for s in range(ns)]
        # modifying writes of each slot, with publication points
        self.writes: list[list[tuple[int, int | None]]] = []
        for s in range(ns):
            ws = []
            for t in range(1, n + 1):
                if tl.step(t).kind == "write" and self.words[s][t] != self.words[s][t - 1]:
                    pub = publication(tl, spec.idc, spec.dic, spec.line_size, t, site.slot_addr(s),
                                      spec.errata)
                    ws.append((t, pub))
            self.writes.append(ws)
        # torn points: inside a multi-chunk write, neither the word before nor after it
        self.torn: list[list[bool]] = [[False] * (n + 1) for _ in range(ns)]
        by_group: dict[int, list[int]] = {}
        for p in tl.steps:
            if p.kind == "write":
                by_group.setdefault(p.group, []).append(p.index)
        for idx in by_group.values():
            first, last = min(idx), max(idx)
            for s in range(ns):
                before, after = self.words[s][first - 1], self.words[s][last]
                for t in range(first, last):
                    if self.words[s][t] not in (before, after):
                        self.torn[s][t] = True
        pubs = {pub for ws in self.writes for _, pub in ws if pub is not None}
        self.breakpoints: tuple[int, ...] = tuple(sorted({0} | pubs | set(tl.forced)))
        self._windows: dict[tuple[int, int, int], Window] = {}

    def L(self, s: int, c: int) -> int:  # noqa: N802 - the name docs/model.md uses
        """The newest modifying write of slot s published at or before point c (0 if none)."""
        return max((w for w, pub in self.writes[s] if pub is not None and pub <= c), default=0)

    def canon(self, c: int) -> int:
        """The breakpoint representing c: same L(s, .) for all s, same forced CSEs <= c."""
        return max(b for b in self.breakpoints if b <= c)

    def window(self, s: int, lo: int, hi: int) -> Window:
        key = (s, lo, hi)
        win = self._windows.get(key)
        if win is None:
            seen = list(dict.fromkeys(self.words[s][lo : hi + 1]))
            torn_at = next((p for p in range(lo, hi + 1) if self.torn[s][p]), None)
            bad = len(seen) > 1 and any(not is_cmodx(w, self.spec.cmodx_linux) for w in seen)
            win = Window(tuple(seen), torn_at, bad)
            self._windows[key] = win
        return win

    def first_change(self, s: int, lo: int, hi: int) -> int | None:
        """The first point in (lo, hi] whose word differs from the previous point's."""
        return next((p for p in range(lo + 1, hi + 1) if self.words[s][p] != self.words[s][p - 1]),
                    None)


@dataclass(frozen=True)
class DataHist:
    """One data word under the patcher (MODEL.md 6.7): its value at every point, torn
    points, and its modifying writes with their completion points (fpatch.arch)."""

    word: DataWord
    addr: int
    values: tuple[int, ...]
    torn: tuple[bool, ...]
    writes: tuple[tuple[int, int | None], ...]

    def Ld(self, e: int) -> int:  # noqa: N802 - the name docs/model.md uses
        """The newest modifying write complete by point e (0: the initial value)."""
        return max((w for w, c in self.writes if c is not None and c <= e), default=0)

    def window(self, e: int) -> tuple[int, ...]:
        """The values a load at point e may return: those of points [Ld(e), e]."""
        return tuple(dict.fromkeys(self.values[self.Ld(e):e + 1]))

    def clean(self) -> tuple[int, ...]:
        """The values the word holds when no write to it is in progress."""
        return tuple(dict.fromkeys(v for v, t in zip(self.values, self.torn, strict=True)
                                   if not t))

    def source(self, e: int, value: int, floor: int = 0) -> int:
        """The first point in [max(Ld(e), floor), e] at which the word holds ``value``."""
        lo = max(self.Ld(e), floor)
        return next(p for p in range(lo, e + 1) if self.values[p] == value)

    def written_at(self, p: int) -> int:
        """The write that produced the value at point p (0: the initial value)."""
        while p > 0 and self.values[p - 1] == self.values[p]:
            p -= 1
        return p

    def choices(self, e: int, floor: int) -> dict[int, int]:
        """value -> the observer's next floor, for a load at e after one that read the
        write at ``floor`` (coRR: no read of a write coherence-before it): the values of
        [max(Ld(e), floor), e], each from its earliest point (the lowest floor, which
        allows every future a later one does)."""
        out: dict[int, int] = {}
        for p in range(max(self.Ld(e), floor), e + 1):
            out.setdefault(self.values[p], self.written_at(p))
        return out


def data_histories(spec: Spec, site: Site, tl: Timeline) -> dict[str, DataHist]:
    """Every data word of the site under the flattened patcher."""
    out: dict[str, DataHist] = {}
    cache = ArchCache(spec.idc, spec.dic)
    for d in site.data:
        addr = site.base + d.offset
        mem = bytearray(d.value.to_bytes(d.size, "little"))
        values = [d.value]
        for p in tl.steps:
            if p.kind == "write":
                for k, byte in enumerate(p.data):
                    if addr <= p.addr + k < addr + d.size:
                        mem[p.addr + k - addr] = byte
            values.append(int.from_bytes(mem, "little"))
        writes = []
        for t in range(1, tl.n + 1):
            if values[t] != values[t - 1]:
                after = [(u, step_op(tl.step(u).kind, False, tl.step(u).option))
                         for u in range(t + 1, tl.n + 1)]
                writes.append((t, completion_point(cache, after)))
        torn = [False] * (tl.n + 1)
        by_group: dict[int, list[int]] = {}
        for p in tl.steps:
            if p.kind == "write":
                by_group.setdefault(p.group, []).append(p.index)
        for idx in by_group.values():
            first, last = min(idx), max(idx)
            for t in range(first, last):
                if values[t] not in (values[first - 1], values[last]):
                    torn[t] = True
        out[d.name] = DataHist(d, addr, tuple(values), tuple(torn), tuple(writes))
    return out


# ------------------------------------------------------------------ observers

TState = tuple[int, ...]
# (e, canonical c, displayed c or None for "unchanged", next timing state)
Move = tuple[int, int, "int | None", TState]


class Timing:
    """The timing rules of one observer kind (docs/model.md, Observers)."""

    def __init__(self, kind: str, spec: Spec, tl: Timeline, hist: History, tail: int = 1
                 ) -> None:
        self.kind, self.spec, self.tl, self.hist = kind, spec, tl, hist
        self.tail = tail  # floors at the end of a timing state: fetch floor, data floors
        self._next: dict[tuple[TState, bool], list[Move]] = {}

    def _thread_ok(self, e1: int, e: int, e2: int) -> bool:
        """May a thread that entered at e1 and executed last at e execute next at e2?"""
        if self.tl.inside_block(e2):
            return False
        if not self.spec.preemptible and any(e < a and e2 >= b for a, b in self.tl.blocks):
            return False
        return not any(e1 < t <= e2 for t in self.tl.waits)

    def _classes(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """(canonical, smallest real value) for every class meeting [lo, hi]."""
        out: dict[int, int] = {}
        for c in range(lo, hi + 1):
            out.setdefault(self.hist.canon(c), c)
        return list(out.items())

    def first(self) -> list[Move]:
        """Choices for the first fetch: (e1, c1)."""
        n, tl = self.tl.n, self.tl
        moves: list[Move] = []
        if self.kind == "thread":
            keep_e1 = bool(tl.waits)
            for e1 in range(n + 1):
                if tl.inside_block(e1):
                    continue
                for cc, disp in self._classes(tl.forced_before(e1), e1):
                    moves.append((e1, cc, disp, (e1, cc, e1 if keep_e1 else 0)))
        elif self.kind == "nmi-local":
            moves = [(a, a, a, (a,)) for a in range(n + 1)]
        else:  # nmi-remote
            for e1 in range(n + 1):
                for cc, disp in self._classes(0, e1):
                    if tl.forced_before(e1) <= cc:
                        moves.append((e1, cc, disp, (e1, cc, cc)))
        # Every timing state ends with the fetch floor (see _search), 0 before any fetch.
        return [(e, c, disp, t2 + (0,) * self.tail) for e, c, disp, t2 in moves]

    def next(self, t: TState, isb: bool) -> list[Move]:
        """Choices for the next fetch from timing state t (isb: the last insn was an isb)."""
        key = (t, isb)
        cached = self._next.get(key)
        if cached is not None:
            return cached
        # the floors ride along unchanged (see _search)
        floor, t = t[len(t) - self.tail:], t[:len(t) - self.tail]
        n, tl = self.tl.n, self.tl
        moves: list[Move] = []
        if self.kind == "thread":
            e, c, e1 = t
            for e2 in range(e, n + 1):
                if not self._thread_ok(e1, e, e2):
                    continue
                f = tl.forced_before(e2)
                seen: set[int] = set()
                if not isb and c >= f:
                    moves.append((e2, c, None, (e2, c, e1)))
                    seen.add(c)
                for cc, disp in self._classes(max(e, f), e2):
                    if cc not in seen:
                        seen.add(cc)
                        moves.append((e2, cc, disp, (e2, cc, e1)))
        elif self.kind == "nmi-local":
            moves = [(t[0], t[0], None, t)]
        else:  # nmi-remote: no interruptions, never spans a forced CSE
            e, c, c1 = t
            cc = self.hist.canon(e) if isb else c
            shown = e if isb else None
            for e2 in range(e, n + 1):
                if tl.forced_before(e2) <= c1:
                    moves.append((e2, cc, shown, (e2, cc, c1)))
        moves = [(e2, c2, disp, t2 + floor) for e2, c2, disp, t2 in moves]
        self._next[key] = moves
        return moves


# ------------------------------------------------------------------- execution


def _hash64(*parts: object) -> int:
    """A deterministic 64-bit hash (stable across runs, unlike hash())."""
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8)
    return int.from_bytes(h.digest(), "little")


@dataclass(frozen=True)
class Member:
    """One initial machine state of the fixed family used for inequivalence."""

    name: str
    regs: tuple[tuple[str, int], ...]

    def machine(self) -> Machine:
        name = self.name
        # The PAC pseudo-registers start empty: no signature before the run (env.pac).
        return Machine(dict(self.regs) | PAC_INITIAL, lambda a: _hash64("mem", name, a) & 0xFF)

    def init_byte(self, a: int) -> int:
        return _hash64("mem", self.name, a) & 0xFF


SP_MIN = 1 << 32  # initial sp range of docs/model.md: a kernel stack never wraps
SP_MAX = (1 << 64) - (1 << 32) - 16


def _family() -> tuple[Member, ...]:
    """Random registers (twice), all-zero registers, x_i = i; sp always 16-byte aligned."""
    rng = random.Random(0x5EED_F9A7)
    out = []
    for name in ("random-1", "random-2"):
        regs = {r: rng.getrandbits(64) for r in REGISTERS}
        regs["sp"] = (regs["sp"] & (MASK64 ^ 0xF)) | SP_MIN  # away from both ends (docs/model.md)
        regs["sp"] = min(regs["sp"], SP_MAX)
        out.append(Member(name, tuple(regs.items())))
    zero = {r: 0 for r in REGISTERS}
    zero["sp"] = 0xFFFF_8000_0BAD_0000
    out.append(Member("zero", tuple(zero.items())))
    idx = {r: (int(r[1:]) if r[1:].isdigit() else 0) for r in REGISTERS}
    idx["sp"] = 0x0000_7FFF_FFF0_0000
    out.append(Member("x_i=i", tuple(idx.items())))
    return tuple(out)


FAMILY: tuple[Member, ...] = _family()

Call = tuple[str, tuple[int, ...]]


@dataclass(frozen=True)
class StepOut:
    """The result of executing one site instruction (helper calls included)."""

    next_pc: int
    trap: tuple[str, int] | None
    isb: bool
    call: Call | None
    unmodelled: str | None = None
    indirect: bool = False  # the next pc came from a register (ret/br/blr, a helper's return)
    reads: tuple[tuple[str, int], ...] = ()  # data words loaded (word, value), in order
    addrs: tuple[int, ...] = ()  # addresses of loads not through sp (initial-state check)
    btype: str | None = None  # env.bti: the PSTATE.BTYPE a br/blr sets for the next fetch


def helper_clobber(helper: str, reg: str, inputs: tuple[int, ...], salt: str = "") -> int:
    """The value a helper leaves in a clobbered register: a function of the call."""
    if salt:  # another choice of the (free) clobber functions, for _twin_next_pc
        return _hash64("clobber", helper, reg, inputs, salt)
    return _hash64("clobber", helper, reg, inputs)


_TWIN_XOR = 0x5A5A_5A5A_5A5A_5A50  # keeps sp 16-byte aligned


def _twin(member: Member) -> Member:
    """member with every initial register, memory byte (and clobber value) changed."""
    return Member(member.name + "/twin", tuple((r, v ^ _TWIN_XOR) for r, v in member.regs))


def free_target(spec: Spec, site: Site, member: Member, words: Iterable[tuple[int, int]],
                out: StepOut, values: list[dict[str, int]] | None = None) -> bool:
    """Does the indirect branch ending the run ``words`` jump to a free (initial-state
    dependent) address, which for some initial state is inside the site?

    docs/model.md: every initial register and memory byte is free, so e.g. ``ret`` with
    the entry x30 may jump back into the site, which neither engine follows: the answer is
    unknown ("branch into the site through a register (not modelled)", as the Z3 engine
    finds by asking the solver). Without a solver, dependence is decided by replaying the
    same fetched words ((slot, word) pairs) on a twin initial state that differs in every
    register, byte and clobber value: a target computed by the site alone (e.g. x30 set by
    a ``bl``) is the same for both; a free one differs.
    """
    if not out.indirect:
        return False
    m = _twin(member).machine()
    nxt = out.next_pc
    for k, (slot, word) in enumerate(words):
        pc = site.slot_addr(slot)
        insn = decode(word, pc)
        assert not isinstance(insn, Unsupported)
        nxt = run_insn(spec, site, insn, m, pc, salt="twin",
                       values=values[k] if values else None).next_pc
    return nxt != out.next_pc


def free_load(spec: Spec, site: Site, member: Member, words: list[tuple[int, int]],
              values: list[dict[str, int]], out: StepOut) -> bool:
    """Does a load of the last instruction of ``words`` (or a helper's read) use an address
    that depends on the initial state? Then whether it reads a data word is not decided
    (unknown). Decided like ``free_target``, by replaying on the twin initial state."""
    m = _twin(member).machine()
    twin = out
    for k, (slot, word) in enumerate(words):
        pc = site.slot_addr(slot)
        insn = decode(word, pc)
        assert not isinstance(insn, Unsupported)
        twin = run_insn(spec, site, insn, m, pc, salt="twin", values=values[k])
    return twin.addrs != out.addrs


def _loads_in(node: object) -> list[Load]:
    if isinstance(node, Load):
        return [node]
    out: list[Load] = []
    for f in getattr(node, "__dataclass_fields__", {}):
        out += _loads_in(getattr(node, f))
    return out


def _mentions_sp(e: object) -> bool:
    """A load through sp is a stack access: kernel stacks hold no site memory."""
    if isinstance(e, Reg):
        return e.name == "sp"
    return any(_mentions_sp(getattr(e, f)) for f in getattr(e, "__dataclass_fields__", {}))


def _may_load(spec: Spec, insn: Insn, pc: int) -> bool:
    """Whether the instruction may load a data word (a load not through sp, or a call of
    a helper that reads): the others need no choice of values."""
    stmts = semantics(insn, pc, pac=spec.pac)
    return _plain_loads(stmts) or any(
        isinstance(s, Jump) and s.link and isinstance(s.target, Const)
        and (h := spec.helper_at(s.target.value)) is not None and bool(h.reads) for s in stmts)


def _plain_loads(stmts: tuple[Stmt, ...]) -> bool:
    return any(not _mentions_sp(ld.addr) for st in stmts for ld in _loads_in(st))


def run_insn(spec: Spec, site: Site, insn: Insn, m: Machine, pc: int, salt: str = "",
             values: dict[str, int] | None = None) -> StepOut:
    """Execute one decoded instruction at pc on m (in place), including a helper call.

    A load of a data word returns ``values[word]`` (the caller chooses it from the
    word's window; without one, its initial value, to learn which words are read)."""
    unmodelled: str | None = None
    stmts = semantics(insn, pc, pac=spec.pac)
    plain = _plain_loads(stmts)
    reads: list[tuple[str, int]] = []
    addrs: list[int] = []

    def data_load(addr: int, size: int) -> int | None:
        nonlocal unmodelled
        if not plain:
            return None
        addrs.append(addr)
        d, touches = site.data_word_at(addr, size)
        if d is not None:
            v = (values or {}).get(d.name, d.value)
            reads.append((d.name, v))
            return v
        if touches:
            unmodelled = unmodelled or (f"`{insn.text}` loads {size} bytes at 0x{addr:x}, "
                                        f"partly overlapping a data word (not modelled)")
        elif addr < site.end and site.base < addr + size:
            unmodelled = unmodelled or (f"`{insn.text}` loads from the site's instruction "
                                        f"slots at 0x{addr:x} (not modelled)")
        return None

    m.on_load = data_load
    try:
        out = execute(stmts, m, pc)
    finally:
        m.on_load = None
    indirect = any(isinstance(st, Jump) and not isinstance(st.target, Const) for st in stmts)
    trap = (out.trap.kind, out.trap.imm) if out.trap is not None else None
    call: Call | None = None
    next_pc = out.next_pc
    helper = spec.helper_at(next_pc) if insn.op == "bl" and out.call else None
    if helper is not None and trap is None:
        entry = dict(m.regs)
        inputs = tuple(entry[r] for r in helper.inputs)
        for hr in helper.reads:  # the value read is recorded like an input (MODEL.md 6.7)
            addr = ((entry[hr.base] & ~(hr.align - 1)) + hr.offset) & MASK64
            addrs.append(addr)
            d, _ = site.data_word_at(addr, hr.size)
            if d is None:
                unmodelled = unmodelled or (f"helper {helper.name} reads 0x{addr:x}, which is "
                                            f"not a data word of site {site.name} (not modelled)")
                v = 0
            else:
                v = (values or {}).get(d.name, d.value)
                reads.append((d.name, v))
            inputs += (v,)
        call = (helper.name, inputs)
        for r in helper.clobbers:
            m.regs[r] = helper_clobber(helper.name, r, inputs, salt)
        for dst, src in helper.restores:
            m.regs[dst] = entry[src]
        next_pc = entry[helper.returns_to]
        indirect = True
    btype = branch_type(insn) if spec.bti and trap is None else None
    return StepOut(next_pc, trap, out.isb, call, unmodelled, indirect, tuple(reads),
                   tuple(addrs), btype)


def _in_site(site: Site, pc: int) -> bool:
    return site.slot_at(pc) is not None


def _slot(site: Site, pc: int) -> int:
    """The slot at ``pc``, which the caller knows to be one of the site's (or region's)."""
    s = site.slot_at(pc)
    assert s is not None
    return s


def _foreign(site: Site, pc: int, at: int, out: StepOut) -> str | None:
    """Why a run leaving a region to ``pc`` by a branch at ``at`` is unknown: it enters a
    declared site the code graph did not connect (fpatch/region.py), which no engine
    follows (falling through or a helper's return into an adjacent site ends the run)."""
    if (isinstance(site, Region) and pc in site.foreign and out.call is None
            and is_branch_exit(at, pc)):
        return (f"a run may branch from site {site.name}'s code graph into another declared "
                f"site at 0x{pc:x} through a target the graph did not find (not modelled)")
    return None


Exit = tuple[object, ...]


def _exit_text(ex: Exit) -> str:
    if ex[0] == "trap" and ex[1] == "pac":
        return f"pac fault at 0x{ex[3]:x}"
    if ex[0] == "trap":
        return f"{ex[1]} #{ex[2]} at 0x{ex[3]:x}"
    return f"0x{ex[1]:x}"


@dataclass(frozen=True)
class Effect:
    """What an execution did: exit, final registers, stored bytes, helper calls."""

    exit: Exit
    regs: tuple[tuple[str, int], ...]  # every register (live ones are compared)
    mem: tuple[tuple[int, int], ...]  # final value of every byte stored
    stack: frozenset[int]  # bytes stored through sp
    calls: tuple[Call, ...]

    def reg(self, r: str) -> int:
        return dict(self.regs)[r]


def effect_of(m: Machine, ex: Exit, calls: Iterable[Call]) -> Effect:
    return Effect(ex, tuple(sorted(m.regs.items())), tuple(sorted(m.mem.items())),
                  frozenset(m.stack_bytes), tuple(calls))


def effect_diffs(site: Site, member: Member, run: Effect, valid: Effect) -> list[EffectDiff]:
    """How run differs from valid, per docs/model.md (empty: equal effects)."""
    diffs: list[EffectDiff] = []
    if run.exit != valid.exit:
        diffs.append(EffectDiff("exit", _exit_text(run.exit), _exit_text(valid.exit)))
    rr, vr = dict(run.regs), dict(valid.regs)
    for r in site.live:
        if rr[r] != vr[r]:
            diffs.append(EffectDiff(r, f"0x{rr[r]:x}", f"0x{vr[r]:x}"))
    rm, vm = dict(run.mem), dict(valid.mem)
    vsp = vr["sp"]
    stack = run.stack | valid.stack
    for a in sorted(set(rm) | set(vm)):
        if a in stack and a < vsp:
            continue  # dead stack below the valid execution's final sp
        x, y = rm.get(a, member.init_byte(a)), vm.get(a, member.init_byte(a))
        if x != y:
            diffs.append(EffectDiff(f"mem[0x{a:x}]", f"0x{x:02x}", f"0x{y:02x}"))
    if run.calls != valid.calls:
        for i in range(max(len(run.calls), len(valid.calls))):
            a_ = run.calls[i] if i < len(run.calls) else None
            b_ = valid.calls[i] if i < len(valid.calls) else None
            if a_ != b_:
                diffs.append(EffectDiff(f"call {i + 1}", _call_text(a_), _call_text(b_)))
    return diffs


def _call_text(c: Call | None) -> str:
    if c is None:
        return "none"
    return f"{c[0]}({', '.join(f'0x{v:x}' for v in c[1])})"


def run_state(spec: Spec, site: Site, words: tuple[int, ...], member: Member,
              notes: list[str] | None = None,
              choose: Callable[[str], tuple[int, ...]] | None = None
              ) -> tuple[Effect | None, str | None]:
    """A valid state's complete execution: (effect, None) or (None, why it has none);
    with data loads, the first of ``run_state_all``'s executions."""
    effs, why = run_state_all(spec, site, words, member, notes, choose)
    return (effs[0] if effs else None), why


def run_state_all(spec: Spec, site: Site, words: tuple[int, ...], member: Member,
                  notes: list[str] | None = None,
                  choose: Callable[[str], tuple[int, ...]] | None = None
                  ) -> tuple[list[Effect], str | None]:
    """Every complete execution of a state: one per choice of the values its data loads
    return (``choose(word)``: the values acceptable; default the word's initial value).

    ``notes`` collects why the answer must be unknown although the execution completes."""
    effects: list[Effect] = []
    todo: list[tuple[Machine, int, tuple[Call, ...], tuple[tuple[int, int], ...],
                     tuple[dict[str, int], ...]]] = [
        (member.machine(), site.slot_addr(site.entry), (), (), ())]
    while todo:
        m0, pc, calls, path, vals = todo.pop()
        if len(path) >= spec.max_insns:
            return [], f"does not leave the site within max_insns={spec.max_insns}"
        slot = _slot(site, pc)
        insn = decode(words[slot], pc)
        if isinstance(insn, Unsupported):
            return [], f"executes an undefined word at 0x{pc:x}"
        probe = run_insn(spec, site, insn, m0.copy(), pc)
        if probe.unmodelled:
            return [], UNMODELLED + probe.unmodelled
        needs = tuple(dict.fromkeys(w for w, _ in probe.reads))
        options = [choose(w) if choose else (probe_value(site, w),) for w in needs]
        for combo in itertools.product(*options):
            m = m0.copy()
            cv = dict(zip(needs, combo, strict=True))
            out = run_insn(spec, site, insn, m, pc, values=cv)
            here = path + ((slot, words[slot]),)
            hv = vals + (cv,)
            if (notes is not None and out.trap is None and not _in_site(site, out.next_pc)
                    and free_target(spec, site, member, here, out, list(hv))):
                msg = "a valid state may branch into the site through a register (not modelled)"
                if msg not in notes:
                    notes.append(msg)
            if site.data and out.addrs and free_load(spec, site, member, list(here), list(hv),
                                                     out):
                return [], (f"{UNMODELLED}`{insn.text}` loads through a register from an "
                            f"address that depends on the initial state (it may or may not "
                            f"be a data word; not modelled)")
            ncalls = calls + ((out.call,) if out.call else ())
            if out.trap is not None:
                effects.append(effect_of(m, ("trap", out.trap[0], out.trap[1], pc), ncalls))
            elif not _in_site(site, out.next_pc):
                why = _foreign(site, out.next_pc, pc, out)
                if why is not None and notes is not None and why not in notes:
                    notes.append(why)
                effects.append(effect_of(m, ("pc", out.next_pc), ncalls))
            else:
                todo.append((m, out.next_pc, ncalls, here, hv))
    return effects, None


UNMODELLED = "is not modelled: "  # a valid state's execution the model does not cover


def probe_value(site: Site, word: str) -> int:
    return next(d.value for d in site.data if d.name == word)


# ------------------------------------------------------------------ the search

# A timing state's witness at a node: (parent timing state, e, displayed c or None, L)
Wit = tuple["TState | None", int, "int | None", int]


@dataclass
class Node:
    """A prefix of fetched words, with the timing states that can reach it."""

    parent: Node | None
    slot: int  # slot of the fetch that led here (-1 at the root)
    word: int
    machine: Machine
    pc: int  # next instruction
    count: int
    isb: bool
    calls: tuple[Call, ...]
    tstates: dict[TState, Wit] = field(default_factory=dict)
    vals: dict[str, int] = field(default_factory=dict)  # data values this insn loaded
    reads: tuple[tuple[str, int], ...] = ()  # (word, value) this insn loaded, in order
    btype: str | None = None  # env.bti: the BTYPE the fetch at pc must be a landing pad for


def _values(node: Node) -> list[dict[str, int]]:
    """The data values each instruction on the way to node loaded, in order."""
    out: list[dict[str, int]] = []
    cur: Node | None = node
    while cur is not None and cur.parent is not None:
        out.append(cur.vals)
        cur = cur.parent
    out.reverse()
    return out


def _fetched(node: Node) -> list[tuple[int, int]]:
    """The (slot, word) pairs fetched on the way to node, in order."""
    out: list[tuple[int, int]] = []
    cur: Node | None = node
    while cur is not None and cur.parent is not None:
        out.append((cur.slot, cur.word))
        cur = cur.parent
    out.reverse()
    return out


class _Budget(Exception):
    """The enumeration exceeded max_runs, or the run's time budget (``reason`` then)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class SiteChecker:
    """Checks one site for one spec: every observer kind, stale, effects."""

    def __init__(self, spec: Spec, site: Region, tl: Timeline, max_runs: int,
                 deadline: float | None = None) -> None:
        self.spec, self.site, self.tl = spec, site, tl
        self.hist = History(spec, site, tl)
        self.max_runs = max_runs
        self.deadline = deadline
        self.runs = 0
        # complete: (mark name, point): every CPU runs the site's words from there on
        marks = dict(tl.marks)
        # The fetch floor is the time reading of IC-Ordered-Before; an erratum may take
        # it away (fpatch/arch/errata.py).
        self.ordered = fetches_ordered(spec.dic, spec.errata)
        self.complete = tuple((name, tl.n if name == "end" else marks[name])
                              for name, _ in spec.complete)
        self.site_reasons: list[str] = []
        self.data = data_histories(spec, site, tl)
        # A valid state's execution is not modelled: no effect comparison can be trusted,
        # so none is made (the answer is unknown).
        self.valid_unknown = False
        self.valid: dict[str, list[tuple[str, Effect]]] = {}
        for mem in FAMILY:
            effects = []
            for name in site.valid:
                effs, why = run_state_all(spec, site, site.state(name).words, mem,
                                          self.site_reasons, self.valid_values(name))
                effects += [(name, eff) for eff in effs]
                if why and why.startswith(UNMODELLED):
                    self.valid_unknown = True
                if not effs and why and "undefined" not in why:
                    msg = f"valid state {name} {why}"
                    if msg not in self.site_reasons:
                        self.site_reasons.append(msg)
            self.valid[mem.name] = effects

    def valid_values(self, state: str) -> Callable[[str], tuple[int, ...]]:
        """The values of each data word acceptable with ``state`` (MODEL.md 6.7)."""
        def choose(word: str) -> tuple[int, ...]:
            listed = self.site.valid_values(state, word)
            return listed if listed is not None else self.data[word].clean()
        return choose

    # -- reporting helpers ------------------------------------------------------

    def _reads(self, leaf: Node, execs: list[Exec], state: str | None) -> tuple[DataRead, ...]:
        """The data loads along the path to leaf, with where each value came from."""
        nodes: list[Node] = []
        cur: Node | None = leaf
        while cur is not None and cur.parent is not None:
            nodes.append(cur)
            cur = cur.parent
        nodes.reverse()
        out: list[DataRead] = []
        ok = self.valid_values(state) if state else None
        floors: dict[str, int] = {}
        for i, nd in enumerate(nodes[:len(execs)]):
            for word, value in nd.reads:
                h = self.data[word]
                e = execs[i].point
                src = h.source(e, value, floors.get(word, 0))
                floors[word] = h.written_at(src)
                w = max((t for t, _ in h.writes if t <= src), default=0)
                what = "initial value" if w == 0 else f"step {w}: {self.tl.step(w).what}"
                out.append(DataRead(i, word, h.addr, e, value, src, (h.Ld(e), e), what,
                                    h.torn[src], ok is None or value in ok(word)))
        return tuple(out)


    def _states_of(self, s: int, word: int) -> tuple[str, ...]:
        return self.site.states_holding(s, word)

    def _exec(self, index: int, s: int, e: int, c: int, lo: int, word: int,
              interrupted: bool, torn: bool = False) -> Exec:
        h = self.hist
        f = next((p for p in range(lo, e + 1) if h.words[s][p] == word
                  and (h.torn[s][p] or not torn)), lo)
        addr = self.site.slot_addr(s)
        d = decode(word, addr)
        return Exec(index, s, addr, e, c, f, (lo, e), word, self.spec.named(d.text),
                    self._states_of(s, word), h.torn[s][f], interrupted)

    def _path(self, node: Node, t: TState | None) -> list[Exec]:
        """The executed instructions leading to node, for timing state t at node."""
        raw: list[tuple[int, int, int, int | None, int]] = []  # slot, word, e, c, lo
        cur: Node | None = node
        while cur is not None and cur.parent is not None and t is not None:
            pt, e, disp, lo = cur.tstates[t]
            raw.append((cur.slot, cur.word, e, disp, lo))
            t, cur = pt, cur.parent
        raw.reverse()
        out: list[Exec] = []
        prev_c = 0
        for i, (s, word, e, disp, lo) in enumerate(raw):
            c = prev_c if disp is None else disp
            out.append(self._exec(i, s, e, c, lo, word, i > 0 and c != prev_c))
            prev_c = c
        return out

    def _step_loc(self, s: int, lo: int, hi: int) -> Loc | None:
        p = self.hist.first_change(s, lo, hi)
        return self.tl.step(p).loc if p is not None else None

    # -- the search ---------------------------------------------------------------

    def _tick(self) -> None:
        self.runs += 1
        if self.runs > self.max_runs:
            raise _Budget
        if self.deadline is not None and self.runs % 64 == 0 \
                and time.monotonic() >= self.deadline:
            raise _Budget(BUDGET_SPENT)

    def observe(self, kind: str) -> tuple[dict[str, Counterexample], list[str], bool]:
        """Enumerate every run of one observer kind: (violations, unknown reasons, complete)."""
        found: dict[str, Counterexample] = {}
        reasons: list[str] = []
        timing = Timing(kind, self.spec, self.tl, self.hist, 1 + len(self.data))
        try:
            for member in FAMILY:
                self._search(kind, member, timing, found, reasons)
                if set(self.kinds_sought()) | ({DATA} if self.data else set()) <= set(found):
                    break
        except _Budget as b:
            reasons.append(b.reason or f"enumeration stopped after max_runs={self.max_runs} "
                                       f"run prefixes")
            return found, reasons, False
        return found, reasons, True

    def kinds_sought(self) -> tuple[str, ...]:
        """The violation kinds one observer search looks for (stale is separate)."""
        return ((TORN, CMODX, UNDEFINED, INEQUIVALENT) + ((INCOMPLETE,) if self.complete else ())
                + ((BTI,) if self.spec.bti else ()))

    def _incomplete(self, s: int, lo: int, e: int) -> tuple[str, int, int] | None:
        """MODEL.md 6.5: a fetch at ``e`` with window ``[lo, e]`` that may return a word from
        a point before a `complete:` mark at ``m <= e`` differing from the word at ``m``:
        (mark, m, that older point)."""
        words = self.hist.words[s]
        for name, m in self.complete:
            if lo < m <= e:
                old = next((p for p in range(lo, m) if words[p] != words[m]), None)
                if old is not None:
                    return name, m, old
        return None

    def _search(self, kind: str, member: Member, timing: Timing,
                found: dict[str, Counterexample], reasons: list[str]) -> None:
        site, spec, hist = self.site, self.spec, self.hist
        root = Node(None, -1, 0, member.machine(), site.slot_addr(site.entry), 0, False, (),
                    btype=entry_btype(spec, site))
        stack = [root]
        while stack:
            node = stack.pop()
            self._tick()
            s = _slot(site, node.pc)
            groups: dict[int, dict[TState, Wit]] = {}
            if node.parent is None:
                sources: Iterable[tuple[TState | None, Move]] = (
                    (None, mv) for mv in timing.first())
            else:
                sources = ((t, mv) for t in node.tstates for mv in timing.next(t, node.isb))
            for t, (e, c, disp, t2) in sources:
                if e < site.reach[s]:
                    continue  # reachable_after: no CPU executes this slot before the mark
                # Fetch floor (docs/model.md): the window starts no earlier than what was
                # published when the words of earlier fetches were written. The floor is the
                # last element of a timing state, kept canonical like c (L only changes at
                # publication points), so L(s, max(c, floor)) = max(L(s, c), L(s, floor)).
                nd = len(self.data)
                floor = t2[len(t2) - 1 - nd] if self.ordered else 0
                lo = hist.L(s, max(c, floor))
                win = hist.window(s, lo, e)
                if win.torn_at is not None and TORN not in found:
                    found[TORN] = self._fetch_cex(kind, TORN, node, t, s, e, c, disp, lo, win)
                if win.cmodx and CMODX not in found:
                    found[CMODX] = self._fetch_cex(kind, CMODX, node, t, s, e, c, disp, lo, win)
                if self.complete and INCOMPLETE not in found:
                    hit = self._incomplete(s, lo, e)
                    if hit is not None:
                        found[INCOMPLETE] = self._incomplete_cex(kind, node, t, s, e, disp, lo,
                                                                 hit)
                for w in win.words:
                    # The earliest occurrence gives the lowest floor, which allows every
                    # future the later ones allow (monotone), so it is the only one kept.
                    first = next(p for p in range(lo, e + 1) if hist.words[s][p] == w)
                    while first > 0 and hist.words[s][first - 1] == w:
                        first -= 1
                    key = (t2[:len(t2) - 1 - nd] + (hist.canon(max(floor, first)),)
                           + t2[len(t2) - nd:])
                    groups.setdefault(w, {}).setdefault(key, (t, e, disp, lo))
            for word, ts0 in groups.items():
                addr = site.slot_addr(s)
                no_pad = node.btype is not None and not landing_ok(word, node.btype, addr)
                if no_pad and BTI not in found:
                    found[BTI] = self._bti_cex(kind, node, ts0, next(iter(ts0)), s, word)
                insn = decode(word, addr)
                if isinstance(insn, Unsupported):
                    if UNDEFINED not in found:
                        t2 = next(iter(ts0))
                        found[UNDEFINED] = self._undefined_cex(kind, node, ts0, t2, s, word)
                    continue
                if no_pad and not (node.parent is None and site.enter == "both"):
                    # A Branch Target exception: the run stops here (MODEL.md 6.6). With
                    # `enter: both` the direct entry's run goes on from the same fetch.
                    continue
                for vals, ts in self._data_variants(spec, insn, node, addr, ts0):
                    m = node.machine.copy()
                    out = run_insn(spec, site, insn, m, addr, values=vals)
                    child = Node(node, s, word, m, out.next_pc, node.count + 1, out.isb,
                                 node.calls + ((out.call,) if out.call else ()), ts, vals=vals,
                                 reads=out.reads, btype=out.btype)
                    if out.unmodelled:
                        if out.unmodelled not in reasons:
                            reasons.append(out.unmodelled)
                        continue
                    if site.data and out.addrs and free_load(spec, site, member, _fetched(child),
                                                             _values(child), out):
                        msg = (f"slot {s} `{insn.text}` loads through a register from an "
                               f"address that depends on the initial state (it may or may not "
                               f"be a data word; not modelled)")
                        if msg not in reasons:
                            reasons.append(msg)
                        continue
                    self._child(kind, member, child, insn, out, s, addr, found, reasons, stack)

    def _data_variants(self, spec: Spec, insn: Insn, node: Node, addr: int,
                       ts: dict[TState, Wit]) -> list[tuple[dict[str, int], dict[TState, Wit]]]:
        """The choices of values for the data words the instruction loads, each with the
        timing states that allow it: a load at point e returns the word's value at some
        point of [Ld(e), e] (docs/model.md, Data words). e is a timing state's first entry."""
        if not _may_load(spec, insn, addr):
            return [({}, ts)]
        probe = run_insn(spec, self.site, insn, node.machine.copy(), addr)
        needs = tuple(dict.fromkeys(w for w, _ in probe.reads))
        if not needs or probe.unmodelled:
            return [({}, ts)]
        by_combo: dict[tuple[int, ...], dict[TState, Wit]] = {}
        order = list(self.data)
        nd = len(order)
        for t2, wit in ts.items():
            per = []
            for w in needs:
                k = len(t2) - nd + order.index(w)
                per.append([(v, k, f) for v, f in self.data[w].choices(t2[0], t2[k]).items()])
            for combo in itertools.product(*per):
                key = list(t2)
                for _, k, f in combo:
                    key[k] = f
                by_combo.setdefault(tuple(v for v, _, _ in combo), {})[tuple(key)] = wit
        return [(dict(zip(needs, combo, strict=True)), sub) for combo, sub in by_combo.items()]

    def _child(self, kind: str, member: Member, child: Node, insn: Insn, out: StepOut, s: int,
               addr: int, found: dict[str, Counterexample], reasons: list[str],
               stack: list[Node]) -> None:
        """Continue the search at ``child`` or end the run there."""
        site, spec, m = self.site, self.spec, child.machine
        if out.trap is not None or not _in_site(site, out.next_pc):
            if out.trap is None and free_target(spec, site, member, _fetched(child), out,
                                                _values(child)):
                msg = (f"{site.slot_name(s)} `{insn.text}` may branch into the site "
                       f"through a register (not modelled)")
                if msg not in reasons:
                    reasons.append(msg)
            why = _foreign(site, out.next_pc, addr, out) if out.trap is None else None
            if why is not None and why not in reasons:
                reasons.append(why)
            ex: Exit = (("trap", out.trap[0], out.trap[1], addr) if out.trap is not None
                        else ("pc", out.next_pc))
            reads = any(nd for nd in _values(child))
            if self.valid_unknown:
                return
            if INEQUIVALENT not in found or (reads and DATA not in found):
                cex = self._compare(kind, member, child, effect_of(m, ex, child.calls),
                                    found)
                if cex is not None:
                    found[cex.violation] = cex
            return
        if child.count >= spec.max_insns:
            msg = (f"a run can still be inside the site after max_insns="
                   f"{spec.max_insns} instructions")
            if msg not in reasons:
                reasons.append(msg)
            return
        stack.append(child)

    def _fetch_cex(self, kind: str, violation: str, node: Node, t: TState | None, s: int,
                   e: int, c: int, disp: int | None, lo: int, win: Window) -> Counterexample:
        """A torn or CMODX counterexample: the path so far plus the offending fetch."""
        sn = self.site.slot_name(s)
        execs = self._path(node, t)
        prev_c = execs[-1].cse if execs else 0
        shown_c = prev_c if disp is None else disp
        if violation == TORN:
            assert win.torn_at is not None
            word = self.hist.words[s][win.torn_at]
        else:
            word = next((w for w in win.words if not is_cmodx(w, self.spec.cmodx_linux)),
                        win.words[0])
        ex = self._exec(len(execs), s, e, shown_c, lo, word, bool(execs) and shown_c != prev_c,
                        torn=violation == TORN)
        words = ", ".join(f"0x{w:08x} ({decode(w, ex.addr).text})" for w in win.words)
        if violation == TORN:
            detail = (f"{sn} is torn at point {win.torn_at} (mid-way through a non-atomic "
                      f"write) and the fetch at point {e} with last CSE {shown_c} may return "
                      f"any value of points {lo}..{e}: {words}")
        else:
            detail = (f"the fetch of {sn} at point {e} with last CSE {shown_c} may return "
                      f"any of {words}; not all are in the CMODX set, so the result is "
                      f"CONSTRAINED UNPREDICTABLE")
        return Counterexample(
            site=self.site.name, observer=kind, violation=violation,
            summary=f"{violation}: {kind} fetches {sn} at point {e} with window [{lo}, {e}]",
            detail=detail, execs=tuple(execs) + (ex,), exit="(still inside the site)",
            loc=self._step_loc(s, lo, e))

    def _incomplete_cex(self, kind: str, node: Node, t: TState | None, s: int, e: int,
                        disp: int | None, lo: int, hit: tuple[str, int, int]
                        ) -> Counterexample:
        """The path so far plus a fetch, at or after a `complete:` mark, of a word from
        before the mark that the site no longer holds there."""
        name, m, old = hit
        execs = self._path(node, t)
        prev_c = execs[-1].cse if execs else 0
        shown_c = prev_c if disp is None else disp
        word, now = self.hist.words[s][old], self.hist.words[s][m]
        ex = self._exec(len(execs), s, e, shown_c, lo, word, bool(execs) and shown_c != prev_c)
        mark = "the end" if name == "end" else f"mark {name}"
        return Counterexample(
            site=self.site.name, observer=kind, violation=INCOMPLETE,
            summary=(f"incomplete: at point {e} (>= {mark}, point {m}) {kind} with last CSE at "
                     f"point {shown_c} can fetch {self.site.slot_name(s)} as 0x{word:08x} ({ex.text}) from "
                     f"before the mark"),
            detail=(f"after {mark} (point {m}) every CPU must execute the site's words as they "
                    f"are there, but {kind}, whose last context synchronization event is at "
                    f"point {shown_c}, fetches {self.site.slot_name(s)} at point {e} from "
                    f"window [{lo}, {e}], "
                    f"which holds 0x{word:08x} (point {old}) besides 0x{now:08x}: it need not "
                    f"have taken a CSE since the write was published"),
            execs=tuple(execs) + (ex,), exit="(the old instruction runs after the mark)",
            loc=self._step_loc(s, lo, m))

    def _undefined_cex(self, kind: str, node: Node, ts: dict[TState, Wit], t2: TState,
                       s: int, word: int) -> Counterexample:
        sn = self.site.slot_name(s)
        pt, e, disp, lo = ts[t2]
        execs = self._path(node, pt)
        prev_c = execs[-1].cse if execs else 0
        shown_c = prev_c if disp is None else disp
        ex = self._exec(len(execs), s, e, shown_c, lo, word, bool(execs) and shown_c != prev_c)
        return Counterexample(
            site=self.site.name, observer=kind, violation=UNDEFINED,
            summary=f"undefined: {kind} executes 0x{word:08x} in {sn} at point {e}",
            detail=(f"the word 0x{word:08x} fetched from {sn} (window [{lo}, {e}]) is not "
                    f"a supported instruction"),
            execs=tuple(execs) + (ex,), exit="(undefined instruction)",
            loc=self._step_loc(s, lo, e))

    def _bti_cex(self, kind: str, node: Node, ts: dict[TState, Wit], t2: TState,
                 s: int, word: int) -> Counterexample:
        """A branch-target counterexample: the path so far plus the non-landing-pad fetch."""
        assert node.btype is not None
        pt, e, disp, lo = ts[t2]
        execs = self._path(node, pt)
        prev_c = execs[-1].cse if execs else 0
        shown_c = prev_c if disp is None else disp
        ex = self._exec(len(execs), s, e, shown_c, lo, word, bool(execs) and shown_c != prev_c)
        how = "the observer enters the site indirectly" if not execs else \
            f"`{execs[-1].text}` branches to slot {s}"
        return Counterexample(
            site=self.site.name, observer=kind, violation=BTI,
            summary=(f"bti: {kind} lands on slot {s} at point {e} fetching `{ex.text}`, not a "
                     f"landing pad for {btype_name(node.btype)}"),
            detail=(f"{how} ({btype_name(node.btype)}) and fetches 0x{word:08x} (`{ex.text}`) "
                    f"from window [{lo}, {e}]: in a BTI-guarded page that is not a landing pad "
                    f"for the branch, so the CPU takes a Branch Target exception"),
            execs=tuple(execs) + (ex,), exit="(Branch Target exception)",
            loc=self._step_loc(s, lo, e))

    def _compare(self, kind: str, member: Member, leaf: Node, eff: Effect,
                 found: dict[str, Counterexample]) -> Counterexample | None:
        """An inequivalence counterexample if no valid state's effect equals eff; a data
        one (MODEL.md 6.7) if some valid state's effect would, reading the run's values."""
        best: tuple[int, str, list[EffectDiff]] | None = None
        for name, veff in self.valid[member.name]:
            diffs = effect_diffs(self.site, member, eff, veff)
            if not diffs:
                return None
            if best is None or len(diffs) < best[0]:
                best = (len(diffs), name, diffs)
        t = next(iter(leaf.tstates))
        execs = self._path(leaf, t)
        read: dict[str, list[int]] = {}
        for vals in _values(leaf):
            for w, v in vals.items():
                read.setdefault(w, []).append(v)
        if read:  # classified even when a data run is already found: it is no inequivalence
            for name in self.site.valid:
                ok = self.valid_values(name)

                def choose(w: str, ok: Callable[[str], tuple[int, ...]] = ok) -> tuple[int, ...]:
                    return tuple(dict.fromkeys(read[w])) if w in read else ok(w)

                effs, _ = run_state_all(self.spec, self.site, self.site.state(name).words,
                                        member, None, choose)
                if any(not effect_diffs(self.site, member, eff, v) for v in effs):
                    if DATA in found:
                        return None
                    reads = self._reads(leaf, execs, name)
                    bad = next(r for r in reads if not r.valid)
                    return Counterexample(
                        site=self.site.name, observer=kind, violation=DATA,
                        summary=(f"data: {kind} loads {bad.word} = 0x{bad.value:x} at point "
                                 f"{bad.point}, not valid with state {name}"),
                        detail=data_detail(bad, name, ok(bad.word)),
                        execs=tuple(execs), exit=_exit_text(eff.exit), nearest_valid=name,
                        initial=(), reads=reads, loc=self._read_loc(bad))
        if INEQUIVALENT in found:
            return None
        regs = dict(member.regs)
        # (nearest and diffs before shown: with no valid state completing, the loop above
        # never binds diffs; tests/test_differential.py::test_regression_no_valid_completes)
        nearest = best[1] if best else None
        diffs = best[2] if best else []
        shown = ["sp"] + [d.what for d in diffs if d.what in regs and d.what != "sp"]
        what = ", ".join(d.what for d in diffs[:4]) or "no valid state completes"
        return Counterexample(
            site=self.site.name, observer=kind, violation=INEQUIVALENT,
            summary=(f"inequivalent: {kind} run differs from every valid state"
                     f" (nearest {nearest}: {what})"),
            detail=(f"from the initial state '{member.name}' the run leaves the site at "
                    f"{_exit_text(eff.exit)} with an effect equal to no valid state's "
                    f"({', '.join(self.site.valid)})"),
            execs=tuple(execs), exit=_exit_text(eff.exit), nearest_valid=nearest,
            diffs=tuple(diffs), initial=tuple((r, regs[r]) for r in shown),
            reads=self._reads(leaf, execs, nearest))

    def _read_loc(self, r: DataRead) -> Loc | None:
        w = max((t for t, _ in self.data[r.word].writes if t <= r.source), default=0)
        return self.tl.step(w).loc if w else None

    def stale(self, kind: str) -> Counterexample | None:
        """A run whose CSE is at N that fetches a word other than the final one."""
        site, spec, hist, n = self.site, self.spec, self.hist, self.tl.n
        for member in FAMILY:
            stack: list[tuple[int, Machine, int, tuple[Exec, ...], str | None,
                              list[dict[str, int]], dict[str, int]]] = [
                (site.slot_addr(site.entry), member.machine(), 0, (), entry_btype(spec, site),
                 [], {})]
            while stack:
                pc, m, count, execs, btype, vals_so_far, floors = stack.pop()
                self._tick()
                s = _slot(site, pc)
                lo = hist.L(s, n)
                final = hist.words[s][n]
                win = hist.window(s, lo, n)
                for word in win.words:
                    ex = self._exec(len(execs), s, n, n, lo, word, False)
                    if word != final:
                        sn = site.slot_name(s)
                        return Counterexample(
                            site=site.name, observer=kind, violation=STALE,
                            summary=(f"stale: after the last step, {sn} can still be "
                                     f"fetched as 0x{word:08x} ({ex.text})"),
                            detail=(f"an observer whose last CSE is at the final point {n} "
                                    f"fetches {sn} from window [{lo}, {n}], which holds "
                                    f"0x{word:08x} besides the final 0x{final:08x}: the "
                                    f"writes after point {lo} are never published"),
                            execs=execs + (ex,), exit="(still inside the site)",
                            loc=self._step_loc(s, lo, n))
                    insn = decode(word, pc)
                    if isinstance(insn, Unsupported):
                        continue
                    if btype is not None and not landing_ok(word, btype, pc) \
                            and not (count == 0 and site.enter == "both"):
                        continue  # a Branch Target exception ends the run here
                    probe = run_insn(spec, site, insn, m.copy(), pc)
                    needs = tuple(dict.fromkeys(w for w, _ in probe.reads))
                    # every load is at point n too: values of [Ld(n), n] (docs/model.md)
                    options = [list(self.data[w].choices(n, floors.get(w, 0)).items())
                               for w in needs]
                    for combo in itertools.product(*options):
                        vals = {w: v for w, (v, _) in zip(needs, combo, strict=True)}
                        after = floors | {w: f for w, (_, f) in zip(needs, combo, strict=True)}
                        m2 = m.copy()
                        out = run_insn(spec, site, insn, m2, pc, values=vals)
                        path = [(x.slot, x.word) for x in execs] + [(s, word)]
                        if (out.trap is None and _in_site(site, out.next_pc)
                                and count + 1 < spec.max_insns and not out.unmodelled
                                and not (site.data and out.addrs and free_load(
                                    spec, site, member, path, vals_so_far + [vals],
                                    out))):
                            stack.append((out.next_pc, m2, count + 1, execs + (ex,),
                                          out.btype, vals_so_far + [vals], after))
        return None


# ------------------------------------------------------------------ entry point


def entry_btype(spec: Spec, site: Site) -> str | None:
    """The BTYPE an observer's first fetch must be a landing pad for: an indirect entry is
    a call through a pointer (blr, 0b10); a direct one (b/bl) sets none. With
    ``enter: both`` the first fetch is checked as an indirect entry's, and the direct
    entry's run goes on past it whatever it fetched (the runs are otherwise the same)."""
    return BTYPE_CALL if spec.bti and site.enter in ("indirect", "both") else None


def observer_kinds(spec: Spec) -> tuple[str, ...]:
    """Spec observers to report kinds: thread -> thread; nmi -> nmi-local, nmi-remote."""
    out: list[str] = []
    for o in spec.observers:
        out.extend(("thread",) if o == "thread" else ("nmi-local", "nmi-remote"))
    return tuple(out)


def _site_unmodelled(site: Site, hist: History) -> list[str]:
    """Constructs docs/model.md leaves out: literal loads of the site's instruction slots,
    by any word a slot holds at some point."""
    out = []
    for i in range(site.nslots):
        for word in dict.fromkeys(hist.words[i]):
            insn = decode(word, site.slot_addr(i))
            if isinstance(insn, Insn) and insn.op == "ldr_lit":
                target = next(o.addr for o in insn.operands if isinstance(o, Target))
                if site.base <= target < site.end:
                    out.append(f"slot {i} `{insn.text}` loads from the site's instruction "
                               f"slots, which is not modelled")
    return out


def check(spec: Spec, max_runs: int = 2_000_000, max_time: float | None = None) -> Result:
    """Check every (site, observer kind) of spec by explicit enumeration; ``max_time``
    (seconds) bounds the whole check, after which the rest is unknown."""
    start = time.monotonic()
    deadline = None if max_time is None else start + max_time
    tl = flatten(spec)
    kinds = observer_kinds(spec)
    results: list[ObserverResult] = []
    complete = True
    runs = 0
    for site in regions(spec, tl.marks):
        checker = SiteChecker(spec, site, tl, max_runs, deadline)
        site_reasons = (list(site.unmodelled) + checker.site_reasons
                        + _site_unmodelled(site, checker.hist))
        stale: Counterexample | None = None
        stale_reason: list[str] = []
        try:
            stale = checker.stale(kinds[0]) if kinds else None
        except _Budget as b:
            complete = False
            stale_reason = [b.reason or f"stale check stopped after max_runs={max_runs} run "
                                        f"prefixes"]
        runs += checker.runs
        for kind in kinds:
            checker.runs = 0  # max_runs bounds each (site, observer kind) search
            found, reasons, done = checker.observe(kind)
            runs += checker.runs
            complete = complete and done
            cexs = [found[v] for v in (TORN, CMODX, UNDEFINED, BTI, INEQUIVALENT, DATA)
                    if v in found]
            reasons = site_reasons + reasons
            if kind == kinds[0]:
                reasons += stale_reason
                if stale is not None:
                    cexs.append(stale)
            if INCOMPLETE in found:
                cexs.append(found[INCOMPLETE])
            cexs = [localize(site, c) for c in cexs]
            status = UNSAFE if cexs else (UNKNOWN if reasons else SAFE)
            results.append(ObserverResult(site.name, kind, status, tuple(cexs), tuple(reasons),
                                          queries=checker.runs))
    return Result(path=spec.path, name=spec.name, expect=spec.expect, observers=tuple(results),
                  seconds=time.monotonic() - start, engine="enum",
                  extra={"complete": complete, "runs": runs})
