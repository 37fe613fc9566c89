"""The time reading of `fpatch check` against the axioms, synchronisation included.

For a spec's patcher (every bundled spec, and random ones) and a thread observer's
sequence of fetches, two sets of fetched-word tuples:

* timeline: the explicit enumerator's timing rules (``fpatch.enumerate.Timing``:
  points, CSEs, stop_machine blocks, forced CSEs, preemption) with the windows
  ``[L(s, max(c, floor)), e]`` it fetches from;
* axioms: the same patcher and observer as events (``fpatch.arch.sync``), with
  ``ipi_sync``, ``stop_machine`` and ``wait_tasks`` as the handshakes Linux
  implements, decided by the architecture model.

Soundness of the time reading needs every axiomatic tuple to be a timeline tuple.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as hst

from fpatch.arch.model import CacheType
from fpatch.arch.sync import PatcherStep, outcomes
from fpatch.enumerate import History, Timing, flatten
from fpatch.spec import parse_file, parse_text
from fpatch.spec.types import Spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("FPATCH_SYNC_FUZZ_EXAMPLES", "40"))


def patcher_steps(spec: Spec) -> list[PatcherStep] | None:
    """The enumerator's flattened patcher as PatcherSteps (None: byte-wise writes,
    which the word-granular model does not state)."""
    tl = flatten(spec)
    site = spec.sites[0]
    mem: dict[int, int] = {}
    for i, w in enumerate(site.state(site.initial).words):
        for k in range(4):
            mem[site.slot_addr(i) + k] = (w >> (8 * k)) & 0xFF
    ls = spec.line_size
    starts = {a: b for a, b in tl.blocks}
    ends = {b for _, b in tl.blocks}
    out: list[PatcherStep] = []
    for p in tl.steps:
        if p.index in starts:
            out.append(PatcherStep("sm_enter"))
        if p.kind == "write":
            if len(p.data) < 4 or p.addr % 4:
                return None
            for k, byte in enumerate(p.data):
                mem[p.addr + k] = byte
            words = tuple((a, sum(mem[a + k] << (8 * k) for k in range(4)))
                          for a in range(p.addr, p.addr + len(p.data), 4) if a in mem)
            out.append(PatcherStep("write", writes=words))
        elif p.kind in ("dc_cvau", "ic_ivau"):
            out.append(PatcherStep("dc" if p.kind == "dc_cvau" else "ic",
                                   lines=tuple(sorted(x * ls for x in p.lines))))
        elif p.kind in ("ic_iallu", "dsb", "isb", "ipi_sync", "wait_tasks"):
            out.append(PatcherStep(p.kind, option=p.option))
        else:
            raise AssertionError(p.kind)
        if p.index in ends:
            out.append(PatcherStep("sm_exit"))
    return out


def timeline_outcomes(spec: Spec, fetches: list[tuple[int, bool]]) -> set[tuple[int, ...]]:
    tl = flatten(spec)
    site = spec.sites[0]
    hist = History(spec, site, tl)
    timing = Timing("thread", spec, tl, hist)
    memo: dict[tuple[int, object], set[tuple[int, ...]]] = {}

    def rest(i: int, t: object) -> set[tuple[int, ...]]:
        if i == len(fetches):
            return {()}
        key = (i, t)
        if key in memo:
            return memo[key]
        s, isb = fetches[i]
        moves = timing.first() if t is None else timing.next(t, isb)  # type: ignore[arg-type]
        res: set[tuple[int, ...]] = set()
        for e, c, _disp, t2 in moves:
            floor = t2[-1]
            lo = hist.L(s, max(c, floor))
            seen: set[int] = set()
            for p in range(lo, e + 1):
                w = hist.words[s][p]
                if w in seen:
                    continue
                seen.add(w)
                first = p
                while first > 0 and hist.words[s][first - 1] == w:
                    first -= 1
                key2 = t2[:-1] + (hist.canon(max(floor, first)),)
                res |= {(w,) + r for r in rest(i + 1, key2)}
        memo[key] = res
        return res

    return rest(0, None)


def axiom_outcomes(spec: Spec, fetches: list[tuple[int, bool]]) -> set[tuple[int, ...]] | None:
    steps = patcher_steps(spec)
    if steps is None:
        return None
    site = spec.sites[0]
    initial = {site.slot_addr(i): w for i, w in enumerate(site.state(site.initial).words)}
    addr_fetches = [(site.slot_addr(s), isb) for s, isb in fetches]
    return outcomes(CacheType(spec.idc, spec.dic), spec.line_size, steps, initial,
                    addr_fetches, spec.preemptible)


def _fetch_sequences(nslots: int) -> list[list[tuple[int, bool]]]:
    """Each slot alone, each slot twice, each pair of neighbours, and a neighbour
    pair with an observer ISB between."""
    seqs: list[list[tuple[int, bool]]] = [[(s, False)] for s in range(nslots)]
    seqs += [[(s, False), (s, False)] for s in range(nslots)]
    seqs += [[(s, False), (s + 1, False)] for s in range(nslots - 1)]
    if nslots >= 2:
        seqs.append([(0, False), (1, True)])
    return seqs


BUNDLED = sorted((ROOT / "specs").glob("*.yaml"))


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_bundled_spec_axiom_outcomes_are_timeline_outcomes(path: Path) -> None:
    spec = parse_file(path)
    assert isinstance(spec, Spec)
    if patcher_steps(spec) is None:
        pytest.skip("byte-wise writes: mixed-size accesses are not in the word-granular model")
    bad = []
    for fetches in _fetch_sequences(min(spec.sites[0].nslots, 4)):
        ax = axiom_outcomes(spec, fetches)
        assert ax is not None and ax, fetches
        tl = timeline_outcomes(spec, fetches)
        if not ax <= tl:
            bad.append(f"{fetches}: axioms also allow {sorted(ax - tl)}")
    assert not bad, "\n".join(bad)


STEPS = ["write: {slot: 0, as: B}", "write: {slot: 1, as: B}", "write: {slot: 0, as: A}",
         "write: {slot: 1, as: A}", "dc_cvau: {slots: [0]}", "dc_cvau: {slots: [1]}",
         "ic_ivau: {slots: [0]}", "ic_ivau: {slots: [1]}", "ic_iallu", "dsb: ish",
         "dsb: ishst", "isb", "ipi_sync", "wait_tasks", "sync_icache: {slots: [0, 1]}"]


@hst.composite
def random_spec(draw: hst.DrawFn) -> str:
    steps = draw(hst.lists(hst.sampled_from(STEPS), min_size=1, max_size=5))
    if draw(hst.booleans()):  # one stop_machine block over a slice
        a = draw(hst.integers(0, len(steps) - 1))
        b = draw(hst.integers(a + 1, len(steps)))
        body = [s for s in steps[a:b] if s not in ("ipi_sync", "wait_tasks")] or ["dsb: ish"]
        lines = [f"  - {s}" for s in steps[:a]] + ["  - stop_machine:"] + \
            [f"      - {s}" for s in body] + [f"  - {s}" for s in steps[b:]]
    else:
        lines = [f"  - {s}" for s in steps]
    idc, dic = draw(hst.booleans()), draw(hst.booleans())
    line = draw(hst.sampled_from([4, 64]))
    pre = draw(hst.booleans())
    return (f"fpatch: 1\nname: r\ncache: {{idc: {str(idc).lower()}, dic: {str(dic).lower()}, "
            f"line: {line}}}\nenv: {{preemptible: {str(pre).lower()}, nmi: false}}\n"
            "sites:\n  f:\n    base: 0xffff800008200000\n    slots: 2\n    states:\n"
            "      A: [nop, nop]\n      B: [\"b .+8\", \"b .+4\"]\n    initial: A\n"
            "steps:\n" + "\n".join(lines) + "\n")


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(random_spec(), hst.sampled_from([[(0, False)], [(0, False), (1, False)],
                                        [(1, False), (0, True)], [(0, False), (0, False)]]))
def test_random_spec_axiom_outcomes_are_timeline_outcomes(
        text: str, fetches: list[tuple[int, bool]]) -> None:
    note(text)
    spec = parse_text(text, "r.yaml")
    assert isinstance(spec, Spec), spec
    ax = axiom_outcomes(spec, fetches)
    assert ax is not None and ax
    tl = timeline_outcomes(spec, fetches)
    assert ax <= tl, f"axioms also allow {sorted(ax - tl)}"
