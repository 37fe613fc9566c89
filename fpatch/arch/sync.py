"""A patcher and an observing thread as events: the kernel's synchronisation in the model.

MODEL.md s.5 describes ``ipi_sync``, ``stop_machine`` and ``wait_tasks`` in time.
Here each becomes the handshake Linux implements, as events of the axiomatic
model (fpatch/arch/model.py), so that the time reading of ``fpatch check`` can be
compared with the axioms (tests/arch/test_sync.py):

* ``ipi_sync`` after step k (``kick_all_cpus_sync``): the patcher writes an IPI
  flag, then waits for every CPU's acknowledgement (read, then a control
  dependency to its later steps). The observer, between two of its fetches (or
  before or after its run), takes the interrupt: reads the flag, then an
  exception entry (a CSE, as ``ISB``), then acknowledges.
* ``stop_machine`` over steps a..b: before step a the patcher waits until every
  CPU is in the stopper (the observer acknowledges after the fetches it made
  before); after step b it releases them, and each CPU executes an ``ISB``
  (``aarch64_insn_patch_text_cb``) before its later fetches. Without
  preemption the observer's run is entirely on one side of the block.
* ``wait_tasks`` after step k: the patcher waits until no task is inside the
  site: the observer's run is entirely before (it acknowledges after its last
  fetch) or entirely after (no order at all: no CSE is implied).

``outcomes`` lists, for a sequence of fetches of code words (each optionally
preceded by the observer's own ``ISB``), every tuple of fetched words that some
consistent execution gives, over every placement of the observer's run against
the synchronisation (placements ordered as time orders them).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from fpatch.arch.events import DC, DSB, FETCH, IC, ISB, IW, READ, WRITE, Event, Run
from fpatch.arch.explicit import candidates
from fpatch.arch.model import CacheType, Skeleton, static_relations

_FLAGS = 0x7F0000000000  # flags of the handshakes, far from any code
_LOCAL = 0x7E0000000000  # the line an IC IALLU "covers" for another CPU: none it fetches


@dataclass(frozen=True)
class PatcherStep:
    kind: str  # write | dc | ic | ic_iallu | ic_ialluis | dsb | isb | ipi_sync | wait_tasks
    #            | sm_enter | sm_exit
    writes: tuple[tuple[int, int], ...] = ()  # write: (word address, new word), one store
    lines: tuple[int, ...] = ()  # dc/ic: base addresses of the lines covered
    option: str = ""  # dsb option


_SYNC = ("ipi_sync", "wait_tasks", "sm_enter")


def outcomes(cache: CacheType, line: int, steps: list[PatcherStep], initial: dict[int, int],
             fetches: list[tuple[int, bool]], preemptible: bool) -> set[tuple[int, ...]]:
    """Fetched-word tuples of an observing thread (see the module docstring)."""
    values: dict[int, list[int]] = {a: [w] for a, w in initial.items()}
    for st in steps:
        for a, w in st.writes:
            if w not in values.setdefault(a, [initial.get(a, 0)]):
                values[a].append(w)
    syncs = [i for i, st in enumerate(steps) if st.kind in _SYNC]
    m = len(fetches)
    out: set[tuple[int, ...]] = set()
    for split in itertools.combinations_with_replacement(range(m + 1), len(syncs)):
        if not _allowed(steps, syncs, split, m, preemptible):
            continue
        placement = dict(zip(syncs, split, strict=True))
        sk = _skeleton(cache, line, steps, initial, fetches, placement,
                       tuple(values.get(a, [0])[0] for a, _ in fetches))
        rel = static_relations(sk)  # depends on kinds, locations and order, not on values
        fetch_ids = [e.eid for r in sk.runs if r.tid == 1 for e in r.events if e.kind == FETCH]
        for choice in itertools.product(*(values.get(a, [0]) for a, _ in fetches)):
            if choice in out:
                continue
            for eid, v in zip(fetch_ids, choice, strict=True):
                sk.by_id[eid] = replace(sk.by_id[eid], value=v)
            if next(candidates(sk, rel), None) is not None:
                out.add(choice)
    return out


def _allowed(steps: list[PatcherStep], syncs: list[int], split: tuple[int, ...], m: int,
             preemptible: bool) -> bool:
    for i, j in zip(syncs, split, strict=True):
        kind = steps[i].kind
        if kind == "wait_tasks" and j not in (0, m):
            return False
        if kind == "sm_enter" and not preemptible and j not in (0, m):
            return False
    return True


def _skeleton(cache: CacheType, line: int, steps: list[PatcherStep], initial: dict[int, int],
              fetches: list[tuple[int, bool]], split: dict[int, int],
              choice: tuple[int, ...]) -> Skeleton:
    p0, p1 = Run(0), Run(1)
    eid = [1, 1 << 20]
    pos = [0, 0]

    def emit(run: Run, kind: str, **kw: object) -> Event:
        t = run.tid
        e = Event(eid[t], t, kind, instr=pos[t], **kw)  # type: ignore[arg-type]
        eid[t] += 1
        pos[t] += 1
        run.events.append(e)
        return e

    waits: list[int] = []  # the patcher's reads of acknowledgements

    def wait_for(flag: int) -> None:
        waits.append(emit(p0, READ, loc=flag, value=1, size=4).eid)

    exit_flag: dict[int, int] = {}
    for i, st in enumerate(steps):
        flag = _FLAGS + 0x100 * i
        if st.kind == "write":
            for a, w in st.writes:  # one single-copy-atomic store: one instruction
                e = Event(eid[0], 0, WRITE, loc=a, value=w, size=4, instr=pos[0])
                eid[0] += 1
                p0.events.append(e)
            pos[0] += 1
        elif st.kind in ("dc", "ic"):
            for base in st.lines:
                emit(p0, DC if st.kind == "dc" else IC, loc=base,
                     opt="cvau" if st.kind == "dc" else "ivau")
        elif st.kind == "ic_ialluis":
            emit(p0, IC, loc=None, opt="ialluis")
        elif st.kind == "ic_iallu":
            emit(p0, IC, loc=_LOCAL, opt="iallu")
        elif st.kind == "dsb":
            emit(p0, DSB, opt=st.option)
        elif st.kind == "isb":
            emit(p0, ISB)
        elif st.kind == "ipi_sync":
            emit(p0, WRITE, loc=flag, value=1, size=4)
            wait_for(flag + 8)
        elif st.kind == "wait_tasks":
            wait_for(flag + 8)
        elif st.kind == "sm_enter":
            wait_for(flag + 8)
            exit_flag[i] = flag + 16
        elif st.kind == "sm_exit":
            enter = max(k for k in exit_flag if k < i)
            emit(p0, WRITE, loc=exit_flag[enter], value=1, size=4)
        else:
            raise ValueError(f"unknown patcher step {st.kind!r}")
    # a control dependency from each wait to every later patcher event
    for r_id in waits:
        p0.ctrl |= {(r_id, e.eid) for e in p0.events if e.eid > r_id}

    # the observer: its fetches, with the handshakes at their placements
    def observer_sync(i: int) -> None:
        st = steps[i]
        flag = _FLAGS + 0x100 * i
        if st.kind == "ipi_sync":
            r = emit(p1, READ, loc=flag, value=1, size=4)
            isb = emit(p1, ISB)
            ack = emit(p1, WRITE, loc=flag + 8, value=1, size=4)
            p1.ctrl |= {(r.eid, isb.eid), (r.eid, ack.eid)}
            pending_ctrl.append(r.eid)
        elif st.kind == "wait_tasks":
            emit(p1, WRITE, loc=flag + 8, value=1, size=4)
        else:  # stop_machine: in the stopper, then released with an ISB
            emit(p1, WRITE, loc=flag + 8, value=1, size=4)
            r = emit(p1, READ, loc=flag + 16, value=1, size=4)
            emit(p1, ISB)
            pending_ctrl.append(r.eid)

    pending_ctrl: list[int] = []
    by_pos: dict[int, list[int]] = {}
    for i, j in split.items():
        by_pos.setdefault(j, []).append(i)
    for k in range(len(fetches) + 1):
        for i in sorted(by_pos.get(k, [])):
            observer_sync(i)
        if k == len(fetches):
            break
        addr, isb = fetches[k]
        if isb:
            emit(p1, ISB)
        emit(p1, FETCH, loc=addr, value=choice[k], size=4)
    for r_id in pending_ctrl:
        p1.ctrl |= {(r_id, e.eid) for e in p1.events if e.eid > r_id}
    locs = sorted({e.loc for e in p0.events + p1.events
                   if e.kind in (WRITE, READ, FETCH) and e.loc is not None})
    iw = [Event((1 << 30) + n, -1, IW, loc=a, value=initial.get(a, 0), size=8)
          for n, a in enumerate(locs)]
    return Skeleton(p0.events + p1.events + iw, [p0, p1], cache, line)
