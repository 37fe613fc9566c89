"""Publication points, derived from the architecture model (not written as rules).

``fpatch check`` reasons in time (MODEL.md s.3): an observer whose last context
synchronization event (CSE) is at or after the *publication point* of a write
cannot fetch anything older than that write. This module asks the axioms of
fpatch/arch/model.py when that holds, with the message-passing question of the
catalogue's ``MP.RF+...+ctrlisb`` tests:

    patcher:  STR new -> slot ; <the steps after the write, up to k> ; STR 1 -> flag
    observer: LDR flag (= 1) ; CBNZ (ctrl) ; ISB ; fetch slot (= the old word?)

The write is *published by step k* when no consistent execution lets the observer
see the flag and then fetch the old word. Only a DSB can be a publication point:
the timeline reads points as time, and only a DSB waits for earlier accesses and
maintenance to complete (a DMB orders the flag after the write without making
the write visible to anyone who has not read the flag). Publication is monotone
in k (more steps only add order), so the first such DSB is the point.

``IC IALLU`` invalidates the patching CPU's own instruction cache (Arm ARM): it
does not cover another CPU's fetch, so for the remote observer of this question
it is an IC on a line nobody fetches. The local NMI uses the same points (a
conservative reading: the local IC IALLU may publish earlier for it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from fpatch.arch.events import DC, DSB, FETCH, IC, ISB, IW, READ, WRITE, Event, Run
from fpatch.arch.explicit import candidates
from fpatch.arch.model import CacheType, Skeleton, static_relations

_SLOT, _FLAG, _OTHER = 0x1000, 0x2000, 0x3000
_OLD, _NEW = 0xD503201F, 0x14000001


@dataclass(frozen=True)
class Op:
    """One patcher step as the model sees it, relative to the slot being published."""

    kind: str  # "dc" | "ic" (by address) | "ic_ialluis" | "ic_iallu" | "dsb" | "isb"
    covers: bool = False  # dc/ic: the step's lines include the slot's
    option: str = ""  # dsb/dmb option

    def event(self, eid: int, instr: int) -> Event:
        if self.kind == "dc":
            return Event(eid, 0, DC, loc=_SLOT if self.covers else _OTHER, opt="cvau",
                         instr=instr)
        if self.kind == "ic":
            return Event(eid, 0, IC, loc=_SLOT if self.covers else _OTHER, opt="ivau",
                         instr=instr)
        if self.kind == "ic_ialluis":
            return Event(eid, 0, IC, loc=None, opt="ialluis", instr=instr)
        if self.kind == "ic_iallu":  # local to the patching CPU: no other CPU's line
            return Event(eid, 0, IC, loc=_OTHER, opt="iallu", instr=instr)
        # No DMB: it orders a later flag after the write without completing the write,
        # so this question would call the write published at a later DSB LD although
        # nobody who misses the flag need see it (docs/model.md: open question).
        kind = {"dsb": DSB, "isb": ISB}[self.kind]
        return Event(eid, 0, kind, opt=self.option, instr=instr)


def step_op(kind: str, covers: bool, option: str = "") -> Op | None:
    """A spec's primitive patcher step as the model sees it (both check engines use
    this). None: writes, ipi_sync, wait_tasks, and ``dmb``, which only adds order, so
    leaving it out can only make a publication later (docs/model.md): never a missed
    violation."""
    if kind in ("dc_cvau", "ic_ivau"):
        return Op("dc" if kind == "dc_cvau" else "ic", covers=covers)
    if kind in ("ic_iallu", "ic_ialluis"):
        return Op(kind)
    if kind == "dsb":
        return Op("dsb", option=option)
    if kind == "isb":
        return Op("isb")
    return None


def _handshake(cache: CacheType, ops: tuple[Op, ...], size: int,
               observer: tuple[Event, ...], dep: str) -> bool:
    """The message-passing question both ``published`` and ``completed`` ask: the patcher
    writes the location (``size`` bytes), runs ``ops``, then sets a flag; ``observer``
    (read of the flag first, the rest depending on it by ``dep``) reads the old value.
    True when no consistent execution allows that."""
    p0 = Run(0)
    p0.events.append(Event(1, 0, WRITE, loc=_SLOT, value=_NEW, size=size, instr=0))
    for i, op in enumerate(ops, 1):
        p0.events.append(op.event(1 + i, i))
    n = len(ops) + 1
    p0.events.append(Event(1 + n, 0, WRITE, loc=_FLAG, value=1, size=4, instr=n))
    deps = {(observer[0].eid, e.eid) for e in observer[1:]}
    p1 = Run(1, events=list(observer), ctrl=deps if dep == "ctrl" else set(),
             addr=deps if dep == "addr" else set())
    iw = [Event(1 << 30, -1, IW, loc=_SLOT, value=_OLD, size=8),
          Event((1 << 30) + 1, -1, IW, loc=_FLAG, value=0, size=8)]
    sk = Skeleton(p0.events + p1.events + iw, [p0, p1], cache)
    return next(candidates(sk, static_relations(sk)), None) is None


_FLAG_READ = Event(1 << 20, 1, READ, loc=_FLAG, value=1, size=4, instr=0)


@lru_cache(maxsize=4096)
def published(cache: CacheType, ops: tuple[Op, ...]) -> bool:
    """Whether the steps ``ops`` after a write publish it (the question above): the
    observer reads the flag, ISB and fetch control-dependent on it."""
    isb = Event((1 << 20) + 1, 1, ISB, instr=1)
    f = Event((1 << 20) + 2, 1, FETCH, loc=_SLOT, value=_OLD, size=4, instr=2)
    return _handshake(cache, ops, 4, (_FLAG_READ, isb, f), "ctrl")


MAX_OPS = 150  # steps in one question (the model's event bound, less the handshake's)


def publication_point(cache: CacheType, after: list[tuple[int, Op | None]]) -> int | None:
    """The first point at which a write is published: ``after`` lists the steps that
    follow the write, as (point, Op), with None for steps the model does not see
    (other writes, ipi_sync, wait_tasks, dmb).

    Publication is monotone in the prefix (more steps only add order), so the first
    publishing DSB is found by bisection. Past ``MAX_OPS`` steps the answer is "not
    published": fewer events mean less order, so this can only report more."""
    return _first_point(published, cache, after)


def _first_point(question: Callable[[CacheType, tuple[Op, ...]], bool], cache: CacheType,
                 after: list[tuple[int, Op | None]]) -> int | None:
    """The first DSB point after which ``question`` holds of the steps so far, by
    bisection (the answer is monotone in the prefix: more steps only add order); repeats
    collapsed; past ``MAX_OPS`` steps None (fewer events, less order: conservative)."""
    ops: list[Op] = []
    dsbs: list[tuple[int, int]] = []  # (point, length of the prefix ending there)
    for point, op in after:
        if op is None or (ops and ops[-1] == op):
            continue  # a repeat of the step just before adds no order
        ops.append(op)
        if len(ops) > MAX_OPS:
            break
        if op.kind == "dsb":
            dsbs.append((point, len(ops)))
    lo, hi = 0, len(dsbs)  # the answer is dsbs[lo] once lo == hi < len
    while lo < hi:
        mid = (lo + hi) // 2
        if question(cache, tuple(ops[:dsbs[mid][1]])):
            hi = mid
        else:
            lo = mid + 1
    return dsbs[lo][0] if lo < len(dsbs) else None


_TEXT = {"dc": "dc cvau", "ic": "ic ivau", "dsb": "dsb ish"}


@lru_cache(maxsize=8)
def publishing_sequence(cache: CacheType) -> tuple[str, ...]:
    """The shortest sequence of maintenance steps after a write that publishes it, as
    instructions (for reports: what a patcher is missing). Found by asking
    ``published`` about every sequence over dc/dsb/ic, shortest first."""
    letters = (Op("dc", covers=True), Op("dsb", option="ish"), Op("ic", covers=True))
    for n in range(1, 5):
        for ops in itertools.product(letters, repeat=n):
            if ops[-1].kind == "dsb" and published(cache, ops):
                return tuple(_TEXT[o.kind] for o in ops)
    raise AssertionError(f"no sequence of four steps publishes a write under {cache}")


# ----------------------------------------------------------------- data words
#
# The same question with a data load instead of a fetch (MODEL.md 6.7): a write to
# a data word is *complete* by step k when an observer that saw the flag cannot load
# the old value through an address dependency on the flag (``MP+...+addr``):
#
#     patcher:  STR new -> word ; <the steps after the write, up to k> ; STR 1 -> flag
#     observer: LDR flag (= 1) ; LDR [word + (flag ^ flag)] (= the old value?)
#
# As for fetches, only a DSB can be a completion point of the timeline (it waits for
# the write itself; a DMB orders only the flag after it), and the first completing
# DSB is the point. A DSB ST/ISH/SY completes an earlier store; a DSB LD does not.


@lru_cache(maxsize=4096)
def completed(cache: CacheType, ops: tuple[Op, ...]) -> bool:
    """Whether the steps ``ops`` after a data write make it visible to every later load
    (the message-passing question above, asked of the axioms): the observer reads the
    flag, then the word through an address dependency."""
    ld = Event((1 << 20) + 1, 1, READ, loc=_SLOT, value=_OLD, size=8, instr=1)
    return _handshake(cache, ops, 8, (_FLAG_READ, ld), "addr")


def completion_point(cache: CacheType, after: list[tuple[int, Op | None]]) -> int | None:
    """The first point at which a data write is complete (None: never), from the steps
    ``after`` it as in ``publication_point`` (monotone, so bisection over the DSBs)."""
    return _first_point(completed, cache, after)
