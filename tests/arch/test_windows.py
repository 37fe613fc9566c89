"""The timeline's fetch windows against the architecture model's axioms.

``fpatch check`` reads the architecture in time: a fetch at point ``e`` whose last
CSE is at ``c`` returns a slot's word from some point of ``[max(L(s, c), floor),
e]`` (fpatch/model/timeline.py; publication points come from the axioms). This
test states random patcher sequences and observer runs both ways and compares
the sets of fetched-word tuples:

* timeline: every choice of points ``e1 <= e2 <= ...``, CSE points (an observer
  ``isb`` at its own point; a *synchronisation after step k*, as an IPI or the
  end of ``stop_machine`` gives, at some point ``>= k``; the entry CSE anywhere
  before the first fetch) and fetched points inside the windows;
* axioms: the patcher as a thread, a synchronisation after step k as a flag
  the patcher writes right after step k and the observer reads (then
  ``CBNZ; ISB``), every fetch a choice of the slot's writes; the explicit
  evaluator keeps the consistent executions.

Soundness of the time reading needs every axiomatically possible tuple to be a
timeline tuple (the timeline may allow more: a possible false alarm, never a
missed bug).
"""

from __future__ import annotations

import itertools
import os

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as hst

from fpatch.arch.events import DC, DSB, FETCH, IC, ISB, IW, READ, WRITE, Event, Run
from fpatch.arch.explicit import candidates
from fpatch.arch.model import CacheType, Skeleton, static_relations
from fpatch.model.timeline import build, fetch_floor
from fpatch.spec import parse_text

EXAMPLES = int(os.environ.get("FPATCH_WINDOW_FUZZ_EXAMPLES", "150"))
BASE = 0xFFFF800008200000
WORDS = [0xD503201F, 0x14000001, 0x14000002, 0x14000003, 0x14000004]  # nop, b +4..+16
TEXT = {0xD503201F: "nop", 0x14000001: "b .+4", 0x14000002: "b .+8", 0x14000003: "b .+12",
        0x14000004: "b .+16"}
FLAG = 0x9000

PATCHER = ["w0", "w1", "dc0", "dc1", "ic0", "ic1", "ialluis", "dsb ish", "dsb ishst", "isb"]


@hst.composite
def scenario(draw: hst.DrawFn) -> tuple[CacheType, list[str], list[tuple[str, int]]]:
    cache = draw(hst.sampled_from([CacheType(False, False), CacheType(True, False),
                                   CacheType(False, True), CacheType(True, True)]))
    steps = draw(hst.lists(hst.sampled_from(PATCHER), min_size=1, max_size=6))
    n = len(steps)
    obs_ops = draw(hst.lists(hst.one_of(
        hst.tuples(hst.just("fetch"), hst.integers(0, 1)),
        hst.tuples(hst.just("isb"), hst.just(0)),
        hst.tuples(hst.just("sync"), hst.integers(1, n))), min_size=1, max_size=4))
    if not any(k == "fetch" for k, _ in obs_ops):
        obs_ops.append(("fetch", 0))
    return cache, steps, obs_ops


def _spec_text(cache: CacheType, steps: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """A spec whose k-th write gives its slot the next word; the writes made."""
    states = {"S0": [WORDS[0], WORDS[0]]}
    cur = [WORDS[0], WORDS[0]]
    writes = []
    lines = []
    nxt = 1
    for st in steps:
        if st in ("w0", "w1"):
            slot = int(st[1])
            cur = list(cur)
            cur[slot] = WORDS[nxt % len(WORDS)]
            nxt += 1
            name = f"S{len(states)}"
            states[name] = cur
            writes.append((slot, cur[slot]))
            lines.append(f"  - write: {{slot: {slot}, as: {name}}}")
        elif st.startswith(("dc", "ic")) and st[-1] in "01":
            op = "dc_cvau" if st.startswith("dc") else "ic_ivau"
            lines.append(f"  - {op}: {{slots: [{st[-1]}]}}")
        elif st == "ialluis":
            lines.append("  - ic_iallu")  # replaced below: the spec v1 has no ialluis step
        elif st.startswith("dsb"):
            lines.append(f"  - dsb: {st.split()[1]}")
        else:
            lines.append("  - isb")
    state_text = "".join(
        f"      {k}:\n" + "".join(f"        - \"{TEXT[w]}\"\n" for w in v) for k, v in states.items())
    text = (f"fpatch: 1\nname: win\ncache: {{idc: {str(cache.idc).lower()}, dic: "
            f"{str(cache.dic).lower()}, line: 4}}\nenv: {{preemptible: false, nmi: false}}\n"
            f"sites:\n  f:\n    base: {BASE:#x}\n    slots: 2\n    states:\n{state_text}"
            f"    initial: S0\nsteps:\n" + "\n".join(lines) + "\n")
    return text, writes


def timeline_tuples(text: str, obs: list[tuple[str, int]]) -> set[tuple[int, ...]]:
    spec = parse_text(text, "win.yaml")
    tl = build(spec)  # type: ignore[arg-type]
    hist = tl.history(spec.sites[0])  # type: ignore[union-attr]
    n = tl.n
    out: set[tuple[int, ...]] = set()
    k = len(obs)
    for points in itertools.combinations_with_replacement(range(n + 1), k):
        # CSE candidates: the entry CSE c0 <= first point, then each op's own effect
        for c0 in range(points[0] + 1):
            _walk(hist, obs, points, 0, c0, [], (), out)
    return out


def _walk(hist: tuple, obs: list[tuple[str, int]], points: tuple[int, ...], i: int,  # type: ignore[type-arg]
          c: int, earlier: list[tuple[int, int]], got: tuple[int, ...],
          out: set[tuple[int, ...]]) -> None:
    if i == len(obs):
        out.add(got)
        return
    kind, arg = obs[i]
    e = points[i]
    if kind == "isb":
        _walk(hist, obs, points, i + 1, e, earlier, got, out)
    elif kind == "sync":
        if e >= arg:  # the CSE the synchronisation forces happens at some point >= k
            _walk(hist, obs, points, i + 1, e, earlier, got, out)
    else:
        h = hist[arg]
        lo = max(h.newest_published(c), fetch_floor(hist, earlier, arg))
        for f in range(lo, e + 1):
            _walk(hist, obs, points, i + 1, c, earlier + [(arg, f)], got + (h.values[f],), out)


def axiom_tuples(cache: CacheType, steps: list[str], obs: list[tuple[str, int]],
                 writes: list[tuple[int, int]]) -> set[tuple[int, ...]]:
    slot_addr = [BASE, BASE + 4]
    syncs = sorted({a for k, a in obs if k == "sync"})
    values = [[WORDS[0]] + [v for s, v in writes if s == i] for i in range(2)]
    out: set[tuple[int, ...]] = set()
    fetches = [a for k, a in obs if k == "fetch"]
    for choice in itertools.product(*(values[s] for s in fetches)):
        p0, p1 = Run(0), Run(1)
        eid = 1
        wi = 0
        for k, st in enumerate(steps, 1):
            if st in ("w0", "w1"):
                s, v = writes[wi]
                wi += 1
                p0.events.append(Event(eid, 0, WRITE, loc=slot_addr[s], value=v, size=4, instr=k))
            elif st in ("dc0", "dc1"):
                p0.events.append(Event(eid, 0, DC, loc=slot_addr[int(st[-1])], opt="cvau", instr=k))
            elif st in ("ic0", "ic1"):
                p0.events.append(Event(eid, 0, IC, loc=slot_addr[int(st[-1])], opt="ivau", instr=k))
            elif st == "ialluis":
                p0.events.append(Event(eid, 0, IC, loc=None, opt="ialluis", instr=k))
            elif st.startswith("dsb"):
                p0.events.append(Event(eid, 0, DSB, opt=st.split()[1], instr=k))
            else:
                p0.events.append(Event(eid, 0, ISB, instr=k))
            eid += 1
            if k in syncs:
                p0.events.append(Event(eid, 0, WRITE, loc=FLAG + 8 * k, value=1, size=4,
                                       instr=k * 100 + 50))
                eid += 1
        # keep program order: renumber instr by position
        p0.events = [Event(e.eid, 0, e.kind, e.loc, e.value, e.size, e.opt, i)
                     for i, e in enumerate(p0.events)]
        eid = 1 << 20
        ctrl_from: list[int] = []
        fi = 0
        for i, (kind, arg) in enumerate(obs):
            if kind == "fetch":
                e = Event(eid, 1, FETCH, loc=slot_addr[arg], value=choice[fi], size=4, instr=i * 2)
                fi += 1
                p1.events.append(e)
            elif kind == "isb":
                p1.events.append(Event(eid, 1, ISB, instr=i * 2))
            else:
                r = Event(eid, 1, READ, loc=FLAG + 8 * arg, value=1, size=4, instr=i * 2)
                eid += 1
                p1.events += [r, Event(eid, 1, ISB, instr=i * 2 + 1)]
                ctrl_from.append(r.eid)
            eid += 1
        for r_id in ctrl_from:
            later = [e.eid for e in p1.events if e.eid > r_id]
            p1.ctrl |= {(r_id, x) for x in later}
        locs = sorted({e.loc for e in p0.events + p1.events
                       if e.kind in (WRITE, READ, FETCH) and e.loc is not None})
        iw = [Event((1 << 30) + j, -1, IW, loc=loc, value=WORDS[0] if loc in slot_addr else 0,
                    size=8) for j, loc in enumerate(locs)]
        sk = Skeleton(p0.events + p1.events + iw, [p0, p1], cache)
        if next(candidates(sk, static_relations(sk)), None) is not None:
            out.add(choice)
    return out


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_every_axiomatic_outcome_is_a_timeline_outcome(
        sc: tuple[CacheType, list[str], list[tuple[str, int]]]) -> None:
    cache, steps, obs = sc
    steps = [s if s != "ialluis" else "dsb ish" for s in steps]  # no v1 step for it
    text, writes = _spec_text(cache, steps)
    note(text)
    note(repr(obs))
    ax = axiom_tuples(cache, steps, obs, writes)
    tl = timeline_tuples(text, obs)
    assert ax, "the axioms allow no execution at all"
    missing = ax - tl
    assert not missing, f"axioms allow {sorted(missing)}, the timeline does not"
