"""The patcher's run as points in time, and what each slot holds and publishes.

The patcher is deterministic, so everything about it is computed here once:
the flat list of primitive steps (stop_machine blocks marked, sync_icache
expanded, non-atomic writes split into chunks), each slot's value at every
point, each modifying write's publication point, the forced context
synchronization points and the spans that threads may not cross. Both checkers
(SMT and enumeration) read this, so they agree on the patcher by construction
and differ only in how they search the observers' behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fpatch.errors import Loc
from fpatch.model.arch import CacheType
from fpatch.spec.types import (
    END,
    CacheOp,
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

if TYPE_CHECKING:
    from fpatch.arch.publication import Op

@dataclass(frozen=True)
class PStep:
    """One primitive patcher step; the point after it has the step's ``index``."""

    index: int  # 1-based
    kind: str  # write | dc_cvau | ic_ivau | ic_iallu | ic_ialluis | dsb | dmb | isb | ipi_sync
    #            | wait_tasks
    label: str  # for people, e.g. "write f slot 1 as in ON"
    loc: Loc
    block: int | None  # stop_machine block number, if inside one
    addr: int = 0  # write: first byte; cache ops: unused
    data: bytes = b""  # write: the bytes of this chunk
    lines: tuple[int, ...] = ()  # cache ops: line base addresses covered
    option: str = ""  # dsb option
    chunk: tuple[int, int] = (1, 1)  # write: (k, n) chunk k of n


@dataclass(frozen=True)
class Block:
    """A stop_machine block spanning steps ``first..last``."""

    first: int
    last: int
    loc: Loc


@dataclass(frozen=True)
class SlotHistory:
    values: tuple[int, ...]  # word at points 0..N
    torn: tuple[bool, ...]  # the word at that point is a mix of two writes' bytes
    writes: tuple[tuple[int, int | None], ...]  # (point of modifying write, publication point)

    def newest_published(self, c: int) -> int:
        """``L`` of MODEL.md s.3: newest modifying write published by point ``c`` (0: none)."""
        best = 0
        for w, pub in self.writes:
            if pub is not None and pub <= c and w > best:
                best = w
        return best

    def window(self, c: int, e: int) -> range:
        """Points whose value a fetch at ``e`` with last CSE ``c`` may return."""
        return range(self.newest_published(c), e + 1)

    def written_at(self, t: int) -> int:
        """The point of the write that produced the word the slot holds at ``t`` (0: initial)."""
        while t > 0 and self.values[t - 1] == self.values[t]:
            t -= 1
        return t


def fetch_floor(hist: tuple[SlotHistory, ...], earlier: list[tuple[int, int]], slot: int,
                ordered: bool = True) -> int:
    """The fetch floor of docs/model.md: no older than what was published when the
    observer's earlier fetches were written. ``earlier`` holds (slot, fetched_at) pairs.
    ``ordered``: the cache type's ``fetches_ordered`` (an erratum may make it 0)."""
    if not ordered:
        return 0
    return max((hist[slot].newest_published(hist[s].written_at(f)) for s, f in earlier),
               default=0)


@dataclass(frozen=True)
class Timeline:
    spec: Spec
    steps: tuple[PStep, ...]
    blocks: tuple[Block, ...]
    cache: CacheType
    marks: tuple[tuple[str, int, Loc], ...] = ()  # (name, point, loc) of each `- mark:`

    def mark_point(self, name: str) -> int:
        """The point a mark names (``end``: the last point)."""
        if name == END:
            return self.n
        return next(p for m, p, _ in self.marks if m == name)

    def complete_points(self) -> tuple[tuple[str, int], ...]:
        """``complete:`` as (name, point), in the spec's order (MODEL.md 6.5)."""
        return tuple((name, self.mark_point(name)) for name, _ in self.spec.complete)

    @property
    def n(self) -> int:
        return len(self.steps)

    def forced_cse_points(self) -> tuple[int, ...]:
        """Points by which every CPU has taken a CSE: ipi_sync, the end of stop_machine."""
        pts = {s.index for s in self.steps if s.kind == "ipi_sync"}
        pts |= {b.last for b in self.blocks}
        return tuple(sorted(pts))

    def wait_points(self) -> tuple[int, ...]:
        return tuple(s.index for s in self.steps if s.kind == "wait_tasks")

    def thread_blocked(self, point: int) -> bool:
        """No thread executes site code while a stop_machine block runs."""
        return any(b.first <= point < b.last for b in self.blocks)

    def forced_before(self, e: int) -> int:
        """Latest forced CSE point at or before ``e`` (0 if none)."""
        return max((p for p in self.forced_cse_points() if p <= e), default=0)

    def history(self, site: Site) -> tuple[SlotHistory, ...]:
        parts = getattr(site, "parts", ())
        if parts:  # a region (fpatch/region.py): its sites' histories, in slot order
            return tuple(h for part in parts for h in _histories(self, part))
        return _histories(self, site)

    def step_at(self, point: int) -> PStep | None:
        return self.steps[point - 1] if 1 <= point <= self.n else None


def build(spec: Spec) -> Timeline:
    cache = CacheType(spec.idc, spec.dic, spec.errata)
    out: list[PStep] = []
    blocks: list[Block] = []
    marks: list[tuple[str, int, Loc]] = []

    def emit(kind: str, label: str, loc: Loc, block: int | None, **kw: object) -> None:
        out.append(PStep(len(out) + 1, kind, label, loc, block, **kw))  # type: ignore[arg-type]

    def lines_of(addrs: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(sorted({a - a % spec.line_size for a in addrs}))

    def flatten(step: Step, block: int | None) -> None:
        if isinstance(step, StopMachine):
            start = len(out) + 1
            bno = len(blocks)
            for s in step.body:
                flatten(s, bno)
            blocks.append(Block(start, len(out), step.loc))
        elif isinstance(step, Write):
            chunks = [
                (step.addr + k, step.data[k:k + step.width])
                for k in range(0, len(step.data), step.width)
            ]
            if step.descending:
                chunks.reverse()
            for k, (addr, data) in enumerate(chunks, 1):
                part = f" (chunk {k}/{len(chunks)}, {step.width}B at 0x{addr:x})" if len(chunks) > 1 else ""
                emit("write", f"write {step.what}{part}", step.loc, block,
                     addr=addr, data=data, chunk=(k, len(chunks)))
        elif isinstance(step, CacheOp):
            if step.op in ("ic_iallu", "ic_ialluis"):
                emit(step.op, step.op.replace("_", " "), step.loc, block)
            else:
                emit(step.op, f"{step.op.replace('_', ' ')} {step.what}", step.loc, block,
                     lines=lines_of(step.addrs))
        elif isinstance(step, Dsb):
            emit("dsb", f"dsb {step.option}", step.loc, block, option=step.option)
        elif isinstance(step, Dmb):
            emit("dmb", f"dmb {step.option}", step.loc, block, option=step.option)
        elif isinstance(step, Isb):
            emit("isb", "isb (patching CPU)", step.loc, block)
        elif isinstance(step, IpiSync):
            emit("ipi_sync", "ipi_sync (IPI to all CPUs: each takes a CSE)", step.loc, block)
        elif isinstance(step, WaitTasks):
            emit("wait_tasks", "wait_tasks (no task inside the site)", step.loc, block)
        elif isinstance(step, Mark):
            marks.append((step.name, len(out), step.loc))  # adds no point
        elif isinstance(step, SyncIcache):
            seq = cache.sync_icache()
            for k, (kind, opt) in enumerate(seq, 1):
                label = f"sync_icache {step.what} [{k}/{len(seq)}: {kind.replace('_', ' ')}"
                label += f" {opt}]" if opt else "]"
                if kind in ("dc_cvau", "ic_ivau"):
                    emit(kind, label, step.loc, block, lines=lines_of(step.addrs))
                elif kind == "dsb":
                    emit("dsb", label, step.loc, block, option=opt)
                else:
                    emit(kind, label, step.loc, block)
        else:  # pragma: no cover - the spec layer produces no other step
            raise TypeError(step)

    for s in spec.steps:
        flatten(s, None)
    return Timeline(spec, tuple(out), tuple(blocks), cache, tuple(marks))


def model_op(step: PStep, line: int) -> Op | None:
    """A primitive step as the architecture model sees it, for the slot on ``line``."""
    from fpatch.arch.publication import step_op

    return step_op(step.kind, line in step.lines, step.option)


def publication_point(tl: Timeline, w: int, addr: int) -> int | None:
    """First point after write step ``w`` at which the write is published, as the
    architecture model derives it (fpatch/arch/publication.py)."""
    # the architecture model on first use: `validate` and `show` need no publication
    from fpatch.arch.model import CacheType as ArchCache
    from fpatch.arch.publication import publication_point as derived_publication

    line = addr - addr % tl.spec.line_size
    return derived_publication(ArchCache(tl.cache.idc, tl.cache.dic, tl.cache.errata),
                               [(s.index, model_op(s, line)) for s in tl.steps[w:]])


def _histories(tl: Timeline, site: Site) -> tuple[SlotHistory, ...]:
    init = site.state(site.initial).words
    mem = bytearray(b"".join(w.to_bytes(4, "little") for w in init))
    values: list[list[int]] = [[w] for w in init]
    torn: list[list[bool]] = [[False] for _ in init]
    writes: list[list[tuple[int, int | None]]] = [[] for _ in init]
    # per slot: (value before the in-progress multi-chunk write, its final value)
    pending: dict[int, tuple[int, int]] = {}
    for step in tl.steps:
        if step.kind == "write" and step.data and site.base <= step.addr < site.end:
            if step.chunk[0] == 1:
                pending = _final_values(tl, step, site, mem)
            off = step.addr - site.base
            mem[off:off + len(step.data)] = step.data
        for i in range(site.nslots):
            word = int.from_bytes(mem[4 * i:4 * i + 4], "little")
            prev = values[i][-1]
            if word != prev:
                pub = publication_point(tl, step.index, site.slot_addr(i))
                writes[i].append((step.index, pub))
            values[i].append(word)
            mid = step.kind == "write" and step.chunk[0] < step.chunk[1] and i in pending
            torn[i].append(mid and word not in pending[i])
        if step.kind == "write" and step.chunk[0] == step.chunk[1]:
            pending = {}
    return tuple(
        SlotHistory(tuple(values[i]), tuple(torn[i]), tuple(writes[i])) for i in range(site.nslots)
    )


def _final_values(
    tl: Timeline, first: PStep, site: Site, mem: bytearray
) -> dict[int, tuple[int, int]]:
    """Old and new word of every slot a multi-chunk write touches (torn = neither)."""
    n = first.chunk[1]
    if n == 1:
        return {}
    chunks = tl.steps[first.index - 1:first.index - 1 + n]
    after = bytearray(mem)
    for c in chunks:
        off = c.addr - site.base
        after[off:off + len(c.data)] = c.data
    out: dict[int, tuple[int, int]] = {}
    for c in chunks:
        for b in range(c.addr, c.addr + len(c.data)):
            i = (b - site.base) // 4
            if 0 <= i < site.nslots:
                old = int.from_bytes(mem[4 * i:4 * i + 4], "little")
                new = int.from_bytes(after[4 * i:4 * i + 4], "little")
                out[i] = (old, new)
    return out


@dataclass(frozen=True)
class DataHistory:
    """A data word under the patcher (MODEL.md 6.7): value per point, torn points, and
    each modifying write with its completion point (fpatch.arch.publication.completed)."""

    name: str
    addr: int
    size: int
    values: tuple[int, ...]
    torn: tuple[bool, ...]
    writes: tuple[tuple[int, int | None], ...]  # (point of modifying write, completion)

    def newest_complete(self, e: int) -> int:
        """``Ld(e)``: newest modifying write complete by point ``e`` (0: the initial value)."""
        return max((w for w, c in self.writes if c is not None and c <= e), default=0)

    def clean(self) -> tuple[int, ...]:
        """The values held when no write to the word is in progress (the default valid set)."""
        return tuple(dict.fromkeys(v for v, t in zip(self.values, self.torn, strict=True)
                                   if not t))

    def written_at(self, t: int) -> int:
        while t > 0 and self.values[t - 1] == self.values[t]:
            t -= 1
        return t


def data_histories(tl: Timeline, site: Site) -> dict[str, DataHistory]:
    """Every data word of ``site`` under the patcher."""
    from fpatch.arch.model import CacheType as ArchCache
    from fpatch.arch.publication import completion_point, step_op

    cache = ArchCache(tl.cache.idc, tl.cache.dic)
    out: dict[str, DataHistory] = {}
    for d in site.data:
        addr = site.base + d.offset
        mem = bytearray(d.value.to_bytes(d.size, "little"))
        values = [d.value]
        torn = [False]
        for step in tl.steps:
            if step.kind == "write":
                for k, byte in enumerate(step.data):
                    if addr <= step.addr + k < addr + d.size:
                        mem[step.addr + k - addr] = byte
            values.append(int.from_bytes(mem, "little"))
            torn.append(False)
        # torn: strictly inside a multi-chunk write, neither the value before nor after it
        for step in tl.steps:
            if step.kind == "write" and step.chunk[0] < step.chunk[1]:
                first = step.index - step.chunk[0] + 1
                last = first + step.chunk[1] - 1
                if values[step.index] not in (values[first - 1], values[last]):
                    torn[step.index] = True
        writes = []
        for t in range(1, tl.n + 1):
            if values[t] != values[t - 1]:
                after = [(s.index, step_op(s.kind, False, s.option)) for s in tl.steps[t:]]
                writes.append((t, completion_point(cache, after)))
        out[d.name] = DataHistory(d.name, addr, d.size, tuple(values), tuple(torn),
                                  tuple(writes))
    return out
