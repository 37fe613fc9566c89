"""The solver-free replay confirms real counterexamples and rejects doctored ones."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fpatch.encoding import check_spec
from fpatch.model.replay import replays
from fpatch.model.timeline import build
from fpatch.spec import parse_file

SPECS = Path(__file__).parents[2] / "specs"


def _first(name: str, violation: str):  # type: ignore[no-untyped-def]
    spec = parse_file(SPECS / name)
    cx = next(c for c in check_spec(spec).counterexamples if c.violation == violation)
    return spec, build(spec), cx


def test_inequivalence_replays_and_a_doctored_witness_does_not() -> None:
    spec, tl, cx = _first("seed-q2-disable-stop-machine-preemptible.yaml", "inequivalent")
    assert cx.replayed is True and replays(spec, tl, cx)
    # The same fetches with a witness whose final state matches the valid state: the
    # run must still differ (sp is 16 low whatever the registers), so keep replaying...
    assert cx.witness is not None
    regs = dict(cx.witness.regs)
    regs["x0"] ^= 1
    other = dataclasses.replace(cx, witness=dataclasses.replace(cx.witness,
                                                                regs=tuple(regs.items())))
    assert replays(spec, tl, other)
    # ...but a run that claims to have fetched the valid state's words throughout is no
    # inequivalence.
    b = spec.sites[0].state("B").words
    honest = tuple(dataclasses.replace(x, word=b[x.slot], fetched_at=0, window=(0, x.point),
                                       cse=0, point=x.point) for x in cx.execs)
    assert not replays(spec, tl, dataclasses.replace(cx, execs=honest))


def test_a_fetch_outside_its_window_does_not_replay() -> None:
    spec, tl, cx = _first("ftrace-8-byte-store-both-slots.yaml", "cmodx")
    assert replays(spec, tl, cx)
    x = cx.execs[-1]
    bad = dataclasses.replace(x, fetched_at=x.point + 1)
    assert not replays(spec, tl, dataclasses.replace(cx, execs=cx.execs[:-1] + (bad,)))


def test_stale_and_torn_replay() -> None:
    for name, kind in (("ftrace-forgot-ic-ivau.yaml", "stale"),
                       ("ftrace-bytewise-copy.yaml", "torn"),
                       ("ftrace-bytewise-copy.yaml", "undefined")):
        spec, tl, cx = _first(name, kind)
        assert replays(spec, tl, cx), (name, kind)
        # The same fetches claimed as another violation kind do not replay as it.
        wrong = "cmodx" if kind == "stale" else "stale"
        assert not replays(spec, tl, dataclasses.replace(cx, violation=wrong))
