"""Checking by shape (fpatch/batch.py) answers exactly what the unshared check answers:
the same verdict for every (site, observer) and the same violation kinds, on small
random batches, with both engines."""

from __future__ import annotations

import random
import re

import pytest

from fpatch import batch
from fpatch.encoding import check_spec
from fpatch.enumerate import check as enum_check
from fpatch.spec import parse_text
from fpatch.verdict import Result

HELPER = """helpers:
  ftrace_caller:
    address: 0x10000
    inputs: [x9, x30, sp]
    returns_to: x30
    restores: {x30: x9}
    clobbers: [x9]
"""


def random_batch(rnd: random.Random) -> str:
    """2-5 ftrace-like sites (some sharing a cache line) and a random batch of steps."""
    n = rnd.randint(2, 5)
    stride = rnd.choice([8, 16, 32, 64])
    base = 0x200000 + rnd.choice([0, 8, 48])
    maint = ["dsb", "isb", "ipi_sync", "dmb",
             "sync_icache: {sites: all, slots: [1]}",
             "dc_cvau: {sites: all, slots: [1]}", "ic_ivau: {sites: all, slots: [1]}",
             "ic_iallu"]
    steps = []
    for _ in range(rnd.randint(1, 4)):
        k = rnd.random()
        if k < 0.4:
            steps.append(f"write: {{sites: all, slot: 1, as: {rnd.choice(['ON', 'OFF'])}}}")
        elif k < 0.6:
            i = rnd.randrange(n)
            steps.append(f"write: {{site: 'f[{i}]', slot: 1, as: ON}}")
        elif k < 0.7:
            i = rnd.randrange(n)
            steps.append(f"sync_icache: {{site: 'f[{i}]', slots: [1]}}")
        else:
            steps.append(rnd.choice(maint))
    complete = ""
    if rnd.random() < 0.4:  # a mark (v2) somewhere, and completion at it or at the end
        steps.insert(rnd.randint(0, len(steps)), "mark: m1")
        complete = f"complete: [{rnd.choice(['m1', 'end'])}]\n"
    if rnd.random() < 0.3:
        inner = "\n".join(f"      - {s}" for s in steps if not s.startswith("ipi"))
        body = f"  - stop_machine:\n{inner}\n" if inner else ""
        step_text = body or "  - dsb\n"
    else:
        step_text = "".join(f"  - {s}\n" for s in steps)
    pre = rnd.choice([True, False])
    return (f"fpatch: 1\ncache: {{idc: {rnd.choice(['false', 'true'])}, dic: false}}\n"
            f"env: {{preemptible: {str(pre).lower()}, nmi: {rnd.choice(['false', 'true'])}}}\n"
            f"{HELPER}sites:\n  f:\n    base: {base:#x}\n    count: {n}\n"
            f"    stride: {stride}\n    slots: 2\n    states:\n"
            f"      OFF: ['mov x9, x30', nop]\n      ON: ['mov x9, x30', bl ftrace_caller]\n"
            f"steps:\n{step_text}{complete if 'm1' in step_text or 'end' in complete else ''}")


def outcome(r: Result) -> set[tuple[str, str, str, tuple[str, ...]]]:
    return {(o.site, o.observer, o.status,
             tuple(sorted({c.violation for c in o.counterexamples}))) for o in r.observers}


@pytest.mark.parametrize("engine", ["smt", "enum"])
@pytest.mark.parametrize("seed", range(16))
def test_shapes_agree_with_the_unshared_check(engine: str, seed: int) -> None:
    batch._SAFE.clear()  # sharing within the batch only, not with earlier tests
    rnd = random.Random(seed * 7919 + (engine == "enum"))
    text = random_batch(rnd)
    spec = parse_text(text, "batch.yaml")
    full = check_spec(spec) if engine == "smt" else enum_check(spec)

    def run(view, left):  # type: ignore[no-untyped-def]
        return check_spec(view, None, left) if engine == "smt" else enum_check(view)

    shared = batch.check(spec, run, engine)
    assert outcome(shared) == outcome(full), text
    assert shared.extra["batch"]["sites"] == len(spec.sites)


def test_equal_sites_share_one_check() -> None:
    text = random_batch(random.Random(1)).split("steps:")[0] + (
        "steps:\n  - write: {sites: all, slot: 1, as: ON}\n"
        "  - sync_icache: {sites: all, slots: [1]}\n")
    text = re.sub(r"count: \d+", "count: 5", re.sub(r"stride: \d+", "stride: 64", text))
    spec = parse_text(text, "b.yaml")
    calls = []

    def run(view, left):  # type: ignore[no-untyped-def]
        calls.append(view.sites[0].name)
        return check_spec(view)

    r = batch.check(spec, run, "smt")
    # first, middle and last sites differ only in where the other sites' writes are
    assert len(calls) == 3 and r.extra["batch"]["shapes"] == 3
    assert {o.site for o in r.observers} == {s.name for s in spec.sites}


def test_a_view_keeps_a_neighbours_maintenance_of_a_shared_line() -> None:
    text = random_batch(random.Random(2)).split("sites:")[0] + (
        "sites:\n  f:\n    instances: [0x200000, 0x200008]\n    slots: 2\n    states:\n"
        "      OFF: ['mov x9, x30', nop]\n      ON: ['mov x9, x30', bl ftrace_caller]\n"
        "steps:\n  - write: {site: 'f[0]', slot: 1, as: ON}\n"
        "  - sync_icache: {site: 'f[1]', slots: [1]}\n")
    spec = parse_text(text, "b.yaml")
    v0 = batch.site_views(spec, ["f[0]"])["f[0]"]
    # f[1]'s sync_icache covers f[0]'s line: kept, restricted to that line
    assert any(getattr(s, "addrs", ()) == (0x200000,) for s in v0.steps)
    assert check_spec(v0).verdict == check_spec(spec).verdict


def test_sites_that_branch_into_each_other_are_checked_whole() -> None:
    text = random_batch(random.Random(3)).split("sites:")[0] + (
        "sites:\n  f:\n    base: 0x200000\n    slots: 2\n    states:\n"
        "      OFF: ['mov x9, x30', nop]\n      ON: ['mov x9, x30', b 0x200100]\n"
        "  g:\n    base: 0x200100\n    slots: 1\n    states: {A: [ret]}\n"
        "steps:\n  - write: {site: f, slot: 1, as: ON}\n  - sync_icache: {site: f, slots: [1]}\n")
    spec = parse_text(text, "b.yaml")
    assert batch.crosses(spec)
    seen = []

    def run(view, left):  # type: ignore[no-untyped-def]
        seen.append(len(view.sites))
        return check_spec(view)

    r = batch.check(spec, run, "smt")
    assert seen == [2] and "batch" not in r.extra
    assert not batch.crosses(parse_text(random_batch(random.Random(4)), "c.yaml"))
