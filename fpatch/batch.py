"""Checking a spec of many sites by shape (issue 10: kernel batches of 10^4-10^5 sites).

Each site is checked against its own *view* of the batch: a spec holding only that site
and only the patcher steps that can affect it -- its own writes, cache maintenance that
covers one of its cache lines (a neighbour's ``dc``/``ic`` on a shared line publishes
it too), and every barrier, ISB, IPI, ``wait_tasks`` and ``stop_machine`` boundary at
its position. A run of other steps between two kept ones (other sites' writes, cache
maintenance of other lines) changes nothing this site can observe: it stands as one
step (a point of the same state), never dropped, so ``stop_machine`` blocks keep a body.

Sites whose views are equal up to their addresses (the shape ``key``: words with their
PC-relative targets named relative to the site, a symbol, or an absolute address;
steps with their addresses relative to the site and its cache lines) share one check;
its verdict and counterexamples are carried to every site of that shape. Point numbers
in a counterexample are those of the site's own view (``view(spec, name)``), whose rows
are what a report of that counterexample shows.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import re
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from fpatch.spec.types import (
    CacheOp,
    Site,
    Spec,
    Step,
    StopMachine,
    SyncIcache,
    Write,
)
from fpatch.verdict import (
    BUDGET_SPENT,
    SAFE,
    UNKNOWN,
    Counterexample,
    Exec,
    ObserverResult,
    Result,
)

Runner = Callable[[Spec, "float | None"], Result]  # (view, seconds left) -> result
Progress = Callable[[int, int], None]  # (sites done, sites in all)


@dataclass(frozen=True)
class _Item:
    """One top-level step of the flattened batch, with its stop_machine block."""

    step: Step
    block: int | None  # index into the spec's stop_machine blocks


class View:
    """One site's view of the batch: the site, the steps that can affect it, its shape."""

    __slots__ = ("_batch", "_spec", "key", "site", "steps")

    def __init__(self, batch: Spec, site: Site, steps: tuple[Step, ...], key: Hashable) -> None:
        self._batch, self.site, self.steps, self.key = batch, site, steps, key
        self._spec: Spec | None = None

    @property
    def spec(self) -> Spec:
        """The view as a spec of its own (built on first use: most views only need a key)."""
        if self._spec is None:
            spec = copy.copy(self._batch)
            object.__setattr__(spec, "sites", (self.site,))
            object.__setattr__(spec, "steps", self.steps)
            self._spec = spec
        return self._spec


def _flatten(spec: Spec) -> tuple[list[_Item], list[StopMachine]]:
    items: list[_Item] = []
    blocks: list[StopMachine] = []
    for st in spec.steps:
        if isinstance(st, StopMachine):
            blocks.append(st)
            items += [_Item(s, len(blocks) - 1) for s in st.body]
        else:
            items.append(_Item(st, None))
    return items, blocks


def _lines(site: Site, line: int) -> range:
    return range(site.base // line, (site.end - 1) // line + 1)


class _Index:
    """Who each step concerns, computed once for the whole batch (linear)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.items, self.blocks = _flatten(spec)
        line = spec.line_size
        self.own: dict[str, list[int]] = {}
        self.by_line: dict[int, list[int]] = {}  # line -> maintenance items covering it
        self.always: list[int] = []  # barriers and sync_icache: kept for every site
        for i, it in enumerate(self.items):
            st = it.step
            if isinstance(st, Write):
                self.own.setdefault(st.site, []).append(i)
            elif isinstance(st, SyncIcache):
                self.always.append(i)
                for ln in {a // line for a in st.addrs}:
                    self.by_line.setdefault(ln, []).append(i)
            elif isinstance(st, CacheOp) and st.addrs:
                for ln in {a // line for a in st.addrs}:
                    self.by_line.setdefault(ln, []).append(i)
            else:
                self.always.append(i)
        # block of each item, for splitting a run of other sites' steps at block edges
        self.block_of = [it.block for it in self.items]
        self.edges = [i for i in range(1, len(self.items))
                      if self.block_of[i] != self.block_of[i - 1]]

    def view(self, site: Site) -> View:
        line = self.spec.line_size
        site_lines = set(_lines(site, line))
        keep: dict[int, Step] = {}
        for i in self.own.get(site.name, ()):
            keep[i] = self.items[i].step
        covering: set[int] = set()
        for ln in site_lines:
            covering.update(self.by_line.get(ln, ()))
        for i in self.always:
            if i not in covering:
                st = self.items[i].step
                keep[i] = SyncIcache((), st.what, st.loc) if isinstance(st, SyncIcache) \
                    else st
        covered: dict[int, list[int]] = {}
        for ln in sorted(site_lines):
            for i in self.by_line.get(ln, ()):
                covered.setdefault(i, []).append(ln * line)  # the line, by its first byte
        for i, addrs in covered.items():
            st = self.items[i].step
            if isinstance(st, SyncIcache):
                keep[i] = SyncIcache(tuple(addrs), st.what, st.loc)
            else:
                assert isinstance(st, CacheOp)
                keep[i] = CacheOp(st.op, tuple(addrs), st.what, st.loc)
        kept = sorted(keep)
        out: list[tuple[int | None, Step, Hashable]] = []  # (block, step, shape key)
        prev = -1
        for i in kept + [len(self.items)]:
            if i > prev + 1:
                out += self._others(prev + 1, i - 1)
            if i < len(self.items):
                st = keep[i]
                out.append((self.block_of[i], st, _step_key(st, site, line)))
            prev = i
        steps: list[Step] = []
        keys: list[Hashable] = []
        k = 0
        while k < len(out):
            block = out[k][0]
            if block is None:
                steps.append(out[k][1])
                keys.append(out[k][2])
                k += 1
                continue
            body, bkeys = [], []
            while k < len(out) and out[k][0] == block:
                body.append(out[k][1])
                bkeys.append(out[k][2])
                k += 1
            steps.append(StopMachine(tuple(body), self.blocks[block].loc))
            keys.append(("stop_machine", tuple(bkeys)))
        # A write narrower than a word leaves torn mixes of bytes, whose meaning depends
        # on the address: such a site shares its check with no other.
        strict = site.base if any(isinstance(st, Write) and st.width < 4
                                  for st in keep.values()) else None
        key = (_site_key(site, line), tuple(keys), strict)
        return View(self.spec, site, tuple(steps), key)

    def _others(self, lo: int, hi: int) -> list[tuple[int | None, Step, Hashable]]:
        """Items lo..hi concern other sites (or other lines): one step per block run."""
        out: list[tuple[int | None, Step, Hashable]] = []
        a = lo
        j = bisect.bisect_right(self.edges, lo)
        while a <= hi:
            b = min(hi, self.edges[j] - 1) if j < len(self.edges) else hi
            st = self.items[a].step
            what = f"{b - a + 1} step(s) for other sites or cache lines (no effect here)"
            if isinstance(st, Write):
                st = copy.copy(st)
                object.__setattr__(st, "what", what)
            else:
                assert isinstance(st, CacheOp)
                st = dataclasses.replace(st, addrs=(), what=what)
            out.append((self.block_of[a], st, ("others",)))
            a = b + 1
            j += 1
        return out


_NO_KEY = ("loc", "locs", "what", "texts")  # fields for people, not for the check


_MEMO: dict[int, tuple[object, Hashable]] = {}  # id -> (the value, kept alive; its key)


def _plain(value: object) -> Hashable:
    """A value without its source locations and labels, for a shape key. Generic over
    dataclass fields, so a field added to the spec's types is part of every key.
    Memoized by identity for one ``views`` pass: a template's instances share their
    tuples and every view shares the batch's barriers."""
    if isinstance(value, (int, str, bool, float, bytes)) or value is None:
        return value
    hit = _MEMO.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    key = _plain_of(value)
    _MEMO[id(value)] = (value, key)
    return key


def _plain_of(value: object) -> Hashable:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,) + tuple(
            _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
            if f.name not in _NO_KEY)
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v)) for k, v in value.items()))
    assert isinstance(value, Hashable)
    return value


def _step_key(st: Step, site: Site, line: int) -> Hashable:
    if isinstance(st, Write):
        rest = tuple(_plain(getattr(st, f.name)) for f in dataclasses.fields(st)
                     if f.name not in _NO_KEY + ("site", "addr", "data"))
        return ("write", st.addr - site.base, _data_key(st, site), rest)
    if isinstance(st, (CacheOp, SyncIcache)):
        first = site.base // line
        rel = tuple(sorted(a // line - first for a in st.addrs))
        return (st.op if isinstance(st, CacheOp) else "sync_icache", rel)
    return _plain(st)


def _data_key(st: Write, site: Site) -> Hashable:
    off = st.addr - site.base
    if off >= 0 and off % 4 == 0 and len(st.data) % 4 == 0 and st.width >= 4:
        return tuple(_word_key(int.from_bytes(st.data[k:k + 4], "little"), st.addr + k, site)
                     for k in range(0, len(st.data), 4))
    return st.data


_SITE_SPECIAL = ("name", "base", "states", "loc")


def _site_key(site: Site, line: int) -> Hashable:
    states = tuple((s.name, s.labels, tuple(_word_key(w, site.slot_addr(i), site)
                                            for i, w in enumerate(s.words)))
                   for s in site.states)
    rest = tuple(_plain(getattr(site, f.name)) for f in dataclasses.fields(site)
                 if f.name not in _SITE_SPECIAL)
    return (site.base % line, states, rest)


_SPEC_SPECIAL = ("path", "name", "description", "expect", "loc", "key_locs", "sites", "steps")


def spec_key(spec: Spec, engine: str) -> Hashable:
    """What a check depends on besides the site and its steps (generic over fields)."""
    return (engine,) + tuple(_plain(getattr(spec, f.name)) for f in dataclasses.fields(spec)
                             if f.name not in _SPEC_SPECIAL)


_SYMBOLS: dict[int, str] = {}


def _word_key(word: int, pc: int, site: Site) -> Hashable:
    """A word as the check sees it, up to the site's address: a PC-relative target is
    named relative to the site (inside it), by symbol, or absolutely."""
    from fpatch.isa import decode
    from fpatch.isa.insn import Insn, Target

    if word & 0x7C000000 == 0x14000000:  # b, bl: the common case, without a decode
        imm = word & 0x3FFFFFF
        target = (pc + 4 * (imm - (1 << 26) if imm >> 25 else imm)) & ((1 << 64) - 1)
        return ("bl" if word >> 31 else "b", _target_key(target, site))
    if not _has_target(word):
        return word
    insn = decode(word, pc)
    if not isinstance(insn, Insn):
        return word
    ops = [_target_key(o.addr, site) if isinstance(o, Target) else o for o in insn.operands]
    from fpatch.isa import is_cmodx

    return (insn.op, tuple(ops), is_cmodx(word), is_cmodx(word, True))


def _target_key(addr: int, site: Site) -> Hashable:
    lo = site.base + min([0] + [d.offset for d in site.data])
    if lo <= addr < site.end:
        return ("rel", addr - site.base)
    if addr in _SYMBOLS:
        return ("sym", _SYMBOLS[addr])
    return ("abs", addr)


_TARGET_CACHE: dict[int, bool] = {}


def _has_target(word: int) -> bool:
    """Does the word's meaning depend on its address (a PC-relative operand)?"""
    got = _TARGET_CACHE.get(word)
    if got is None:
        from fpatch.isa import decode
        from fpatch.isa.insn import Insn, Target

        insn = decode(word, 1 << 40)
        got = isinstance(insn, Insn) and any(isinstance(o, Target) for o in insn.operands)
        if len(_TARGET_CACHE) < 1 << 16:
            _TARGET_CACHE[word] = got
    return got


def views(spec: Spec) -> list[View]:
    """Every site's view of the batch, in the spec's order (linear in the batch)."""
    _SYMBOLS.clear()
    _SYMBOLS.update({addr: name for name, addr in spec.symbols})
    idx = _Index(spec)
    try:
        return [idx.view(site) for site in spec.sites]
    finally:
        _MEMO.clear()


def _targets(word: int, pc: int) -> list[int]:
    """The PC-relative targets of a word (none for most)."""
    from fpatch.isa import decode
    from fpatch.isa.insn import Insn, Target

    if word & 0x7C000000 == 0x14000000:
        imm = word & 0x3FFFFFF
        return [(pc + 4 * (imm - (1 << 26) if imm >> 25 else imm)) & ((1 << 64) - 1)]
    if not _has_target(word):
        return []
    insn = decode(word, pc)
    return [o.addr for o in insn.operands if isinstance(o, Target)] \
        if isinstance(insn, Insn) else []


def crosses(spec: Spec) -> bool:
    """Does some site's code branch to (or load from) another declared site? Then a
    site's runs are not its own and views would not be exact: such a spec is checked
    whole, as before batches."""
    spans = sorted((s.base + min([0] + [d.offset for d in s.data]), s.end, s.name)
                   for s in spec.sites)
    starts = [lo for lo, _, _ in spans]
    written: dict[str, list[tuple[int, int]]] = {}
    for it in _flatten(spec)[0]:
        st = it.step
        if isinstance(st, Write):
            written.setdefault(st.site, []).extend(
                (int.from_bytes(st.data[k:k + 4], "little"), st.addr + k)
                for k in range(0, len(st.data) - 3, 4))
    for site in spec.sites:
        words = [(w, site.slot_addr(i)) for st in site.states for i, w in enumerate(st.words)]
        words += [(w, pc) for w, pc in written.get(site.name, ()) if pc >= site.base]
        for w, pc in words:
            for t in _targets(w, pc):
                k = bisect.bisect_right(starts, t) - 1
                if k >= 0 and t < spans[k][1] and spans[k][2] != site.name:
                    return True
    return False


def _too_large(v: View) -> str | None:
    from fpatch.spec.parse import MAX_SLOT_POINTS, _count_points

    points = _count_points(v.spec.steps)
    if v.site.nslots * (points + 1) > MAX_SLOT_POINTS:
        return (f"the steps that affect site '{v.site.name}' are {points} patcher points for "
                f"{v.site.nslots} slots; at most {MAX_SLOT_POINTS} slot values are supported")
    return None


def check(spec: Spec, run: Runner, engine: str, max_time: float | None = None,
          progress: Progress | None = None) -> Result:
    """Check ``spec`` site by site on each site's view, one check per shape."""
    if crosses(spec):
        return run(spec, max_time)
    t0 = time.perf_counter()
    deadline = time.monotonic() + max_time if max_time is not None else None
    all_views = views(spec)
    done: dict[Hashable, tuple[View, Result]] = {}
    env = spec_key(spec, engine)
    observers: list[ObserverResult] = []
    shapes = 0
    for n, v in enumerate(all_views):
        if progress is not None:
            progress(n, len(all_views))
        why = _too_large(v)
        if why is not None:
            observers += [ObserverResult(v.site.name, k, UNKNOWN, reasons=(why,))
                          for k in _kinds(spec)]
            continue
        if v.key not in done and (env, v.key) in _SAFE:
            done[v.key] = _SAFE[(env, v.key)]
        if v.key not in done:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                observers += [ObserverResult(v.site.name, k, UNKNOWN, reasons=(BUDGET_SPENT,))
                              for k in _kinds(spec)]
                continue
            done[v.key] = (v, run(v.spec, left))
            shapes += 1
            _remember(env, v.key, *done[v.key])
        rep, res = done[v.key]
        observers += [_carry(o, rep, v) for o in res.observers]
    if progress is not None:
        progress(len(all_views), len(all_views))
    return Result(spec.path, spec.name, spec.expect, tuple(observers),
                  round(time.perf_counter() - t0, 4), engine=engine,
                  extra={"batch": {"sites": len(all_views), "shapes": shapes}})


# Safe answers of earlier specs in this process, by shape: a folder of specs of a few
# shapes (extracted one per site) is checked once per shape. Only safe answers are
# kept: they carry nothing of their spec (no counterexample, no location), and the same
# key means the same check (tests/batch/test_shapes.py). Bounded.
_SAFE: dict[Hashable, tuple[View, Result]] = {}
MAX_REMEMBERED = 4096


def _remember(env: Hashable, key: Hashable, v: View, res: Result) -> None:
    if res.verdict == SAFE and not any(o.reasons for o in res.observers) \
            and len(_SAFE) < MAX_REMEMBERED:
        _SAFE[(env, key)] = (v, res)


def check_one(spec: Spec, run: Runner, engine: str, max_time: float | None = None) -> Result:
    """One spec of one site: as ``run``, but a safe answer for the same shape checked
    earlier in this process (e.g. another spec of a folder) is reused."""
    [v] = views(spec)
    env = spec_key(spec, engine)
    hit = _SAFE.get((env, v.key))
    if hit is None:
        res = run(spec, max_time)
        _remember(env, v.key, v, res)
        return res
    rep, res = hit
    return Result(spec.path, spec.name, spec.expect,
                  tuple(_carry(o, rep, v) for o in res.observers), 0.0, engine,
                  extra={"shared": True})


def _kinds(spec: Spec) -> tuple[str, ...]:
    from fpatch.model.arch import observer_kinds

    return tuple(observer_kinds(spec.observers))


def _carry(o: ObserverResult, rep: View, v: View) -> ObserverResult:
    if rep.site.name == v.site.name:
        return o
    if not o.counterexamples:  # the common case: only the name changes
        out = copy.copy(o)
        object.__setattr__(out, "site", v.site.name)
        return out
    return dataclasses.replace(o, site=v.site.name, counterexamples=tuple(
        _relocate(c, rep, v) for c in o.counterexamples))


def _relocate(c: Counterexample, rep: View, v: View) -> Counterexample:
    """A counterexample of ``rep`` as the same run at ``v`` (their views are equal up to
    addresses, so point numbers, slots and states carry over; words and addresses are
    ``v``'s own)."""
    from fpatch.isa import decode
    from fpatch.model.timeline import build

    words: dict[tuple[int, int], int] = {}
    for a, b in zip(rep.site.states, v.site.states, strict=True):
        for s, (wa, wb) in enumerate(zip(a.words, b.words, strict=True)):
            words[(s, wa)] = wb
    if any((x.slot, x.word) not in words for x in c.execs):
        ha, hb = build(rep.spec).history(rep.site), build(v.spec).history(v.site)
        for s, (xa, xb) in enumerate(zip(ha, hb, strict=True)):
            for wa, wb in zip(xa.values, xb.values, strict=True):
                words.setdefault((s, wa), wb)
    syms = v.spec.symbols

    def text(x: Exec, word: int) -> str:
        if word == x.word:
            return x.text
        t = decode(word, v.site.slot_addr(x.slot)).text
        for name, addr in syms:
            t = t.replace(f"0x{addr:x}", name)
        return t

    execs = []
    for x in c.execs:
        w = words.get((x.slot, x.word), x.word)
        execs.append(dataclasses.replace(x, addr=v.site.slot_addr(x.slot), word=w,
                                         text=text(x, w)))
    name = re.compile(r"(?<![\w\[\].])" + re.escape(rep.site.name) + r"(?![\w\[\]])")
    note = (f" (one check for every site of this shape; the run was found and replayed "
            f"at site {rep.site.name})")

    def own(text: str) -> str:
        text = name.sub(v.site.name, text)
        for (_, wa), wb in words.items():
            if wa != wb:
                text = text.replace(f"0x{wa:08x}", f"0x{wb:08x}")
        return text

    return dataclasses.replace(c, site=v.site.name, execs=tuple(execs), summary=own(c.summary),
                               detail=own(c.detail) + note)


def site_views(spec: Spec, names: list[str]) -> dict[str, Spec]:
    """The views of the named sites (one pass over the batch)."""
    _SYMBOLS.clear()
    _SYMBOLS.update({addr: n for n, addr in spec.symbols})
    idx = _Index(spec)
    try:
        return {n: idx.view(spec.site(n)).spec for n in names}
    finally:
        _MEMO.clear()
