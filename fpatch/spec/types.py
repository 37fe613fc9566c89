"""The validated spec: plain, frozen data that the later layers read.

Everything here is already resolved: instructions are 32-bit words, writes
are byte strings at addresses, slots are indices. Each record keeps the
``Loc`` of the YAML it came from so that verdicts can point back at the spec.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from fpatch.errors import Loc

END = "end"  # in ``complete:``, the point after the last step

DEFAULT_LIVE: tuple[str, ...] = tuple(f"x{i}" for i in range(9)) + tuple(
    f"x{i}" for i in range(18, 31)
) + ("sp",)


@dataclass(frozen=True)
class HelperRead:
    """A data word a helper loads at the call (docs/spec-format.md, ``reads``): the
    address is ((entry value of ``base``) & ~(align - 1)) + offset."""

    base: str
    align: int
    offset: int
    size: int
    loc: Loc


@dataclass(frozen=True)
class Helper:
    """A function the site calls with ``bl``, reduced to its contract."""

    name: str
    address: int
    inputs: tuple[str, ...]
    returns_to: str  # register whose value *at entry* is the return address
    restores: tuple[tuple[str, str], ...]  # (dst, src): dst <- entry value of src
    clobbers: tuple[str, ...]
    loc: Loc
    reads: tuple[HelperRead, ...] = ()


@dataclass(frozen=True)
class State:
    name: str
    words: tuple[int, ...]  # one 32-bit encoding per slot
    texts: tuple[str, ...]  # the source text of each slot, for reports
    labels: tuple[str, ...]  # label of each slot ("" for none)
    locs: tuple[Loc, ...]
    loc: Loc


@dataclass(frozen=True)
class DataWord:
    """A data word inside a site (e.g. an ftrace_ops literal before the entry)."""

    name: str
    offset: int  # bytes from the site's base (negative: before slot 0)
    size: int  # 4 or 8
    value: int
    loc: Loc


@dataclass(frozen=True)
class Site:
    name: str
    base: int
    nslots: int
    entry: int  # slot index where observers enter
    states: tuple[State, ...]
    initial: str
    valid: tuple[str, ...]
    live: tuple[str, ...]
    data: tuple[DataWord, ...]
    loc: Loc
    # How observers reach the entry slot (CONTEXT s.4): "direct" (b/bl, the v1 meaning),
    # "indirect" (blr: a BTI landing-pad check with env.bti), "both", or "none" (only
    # branches from other sites reach it: no observer run starts here).
    enter: str = "direct"
    # Code graph (docs/model.md): the mark before which no CPU executes the site's slots.
    reachable_after: str | None = None
    # state -> ((data word, acceptable values), ...); a word not listed accepts every
    # value it holds when no write to it is in progress (MODEL.md 6.7)
    valid_data: tuple[tuple[str, tuple[tuple[str, tuple[int, ...]], ...]], ...] = ()

    def data_word_at(self, addr: int, size: int) -> tuple[DataWord | None, bool]:
        """(the data word [addr, addr+size) is exactly, whether it touches any data word)."""
        for d in self.data:
            lo = self.base + d.offset
            if addr < lo + d.size and lo < addr + size:
                return (d if (addr, size) == (lo, d.size) else None), True
        return None, False

    def valid_values(self, state: str, word: str) -> tuple[int, ...] | None:
        """The values of ``word`` listed for ``state``; None: not listed (default)."""
        for st, words in self.valid_data:
            if st == state:
                for w, vals in words:
                    if w == word:
                        return vals
        return None

    def slot_addr(self, i: int) -> int:
        return self.base + 4 * i

    def slot_at(self, pc: int) -> int | None:
        """The slot at address ``pc`` (None: not a slot of this site)."""
        if self.base <= pc < self.end and (pc - self.base) % 4 == 0:
            return (pc - self.base) // 4
        return None

    def slot_name(self, i: int) -> str:
        """How reports name slot ``i`` ("slot 1"; a region says which site)."""
        return f"slot {i}"

    def states_holding(self, i: int, word: int) -> tuple[str, ...]:
        """Names of the states whose slot ``i`` holds ``word`` (a region: its site's)."""
        return tuple(st.name for st in self.states if st.words[i] == word)

    @property
    def end(self) -> int:
        return self.base + 4 * self.nslots

    @functools.cached_property
    def _by_name(self) -> dict[str, State]:
        return {s.name: s for s in reversed(self.states)}  # the first of a name wins

    @functools.cached_property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    def state(self, name: str) -> State:
        """The state called ``name`` (KeyError if none); constant time."""
        return self._by_name[name]


# --------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Write:
    """Store ``data`` at ``addr`` as ``len(data) // width`` single-copy-atomic chunks."""

    site: str
    addr: int
    data: bytes
    width: int
    descending: bool
    what: str  # human description, e.g. "slot 1 as in ON"
    loc: Loc


@dataclass(frozen=True)
class CacheOp:
    """``dc_cvau`` / ``ic_ivau`` over the lines holding ``addrs``; ``ic_iallu`` (the
    patching CPU's own instruction cache) and ``ic_ialluis`` (every CPU's) have none."""

    op: str
    addrs: tuple[int, ...]
    what: str
    loc: Loc


@dataclass(frozen=True)
class Dsb:
    option: str  # sy | ish | osh | nsh, with an st or ld suffix (MODEL.md s.2)
    loc: Loc


@dataclass(frozen=True)
class Dmb:
    """Orders the patcher's data accesses; completes nothing (publication ignores it)."""

    option: str
    loc: Loc


@dataclass(frozen=True)
class Isb:
    loc: Loc


@dataclass(frozen=True)
class IpiSync:
    loc: Loc


@dataclass(frozen=True)
class WaitTasks:
    loc: Loc


@dataclass(frozen=True)
class SyncIcache:
    addrs: tuple[int, ...]
    what: str
    loc: Loc


@dataclass(frozen=True)
class Mark:
    """``- mark: NAME``: names the point after the previous step; adds no point."""

    name: str
    loc: Loc


@dataclass(frozen=True)
class StopMachine:
    body: tuple[Step, ...]
    loc: Loc


Step = (Write | CacheOp | Dsb | Dmb | Isb | IpiSync | WaitTasks | SyncIcache | StopMachine
        | Mark)


@dataclass(frozen=True)
class Spec:
    path: str
    name: str
    description: str
    idc: bool
    dic: bool
    line_size: int
    preemptible: bool
    nmi: bool
    cmodx_linux: bool  # Linux's older reading of the CMODX set
    helpers: tuple[Helper, ...]
    symbols: tuple[tuple[str, int], ...]
    sites: tuple[Site, ...]
    steps: tuple[Step, ...]
    observers: tuple[str, ...]  # "thread", "nmi"
    max_insns: int
    expect: str | None  # "safe" | "unsafe" | None
    timeout: float | None
    loc: Loc
    key_locs: dict[str, Loc] = field(default_factory=dict, compare=False, hash=False)
    bti: bool = False  # env.bti: the sites are guarded pages (MODEL.md s.6.6)
    pac: bool = False  # env.pac: pac*/aut* sign and authenticate x30 (else hints)
    # complete: marks (or END) after which every CPU must run the site's words (MODEL 6.5)
    complete: tuple[tuple[str, Loc], ...] = ()
    errata: tuple[str, ...] = ()  # ids of fpatch.arch.errata.ERRATA, e.g. neoverse-n1-1542419

    def site(self, name: str) -> Site:
        for s in self.sites:
            if s.name == name:
                return s
        raise KeyError(name)

    def named(self, text: str) -> str:
        """Disassembly with every symbol's or helper's address written as its name
        (``bl 0xffff800008010000`` -> ``bl ftrace_caller``): people know the names."""
        for name, addr in self.symbols:
            text = re.sub(rf"\b0x{addr:x}\b", name, text)
        return text

    def helper_at(self, addr: int) -> Helper | None:
        for h in self.helpers:
            if h.address == addr:
                return h
        return None
