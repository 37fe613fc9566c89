"""The patcher's timeline: points, publication, torn words, blocks (docs/model.md)."""

from __future__ import annotations

import pytest

from fpatch.model.arch import CacheType
from fpatch.model.graph import graph_lines, transition_graph
from fpatch.model.timeline import build, publication_point
from tests.helpers import ftrace_spec

WRITE_ON = "  - write: {slot: 1, as: ON}\n"


@pytest.mark.parametrize(
    ("cache", "n_sync_steps", "pub_offset"),
    [
        ("{idc: false, dic: false}", 5, 4),  # dc, dsb, ic, dsb(<- pub), isb
        ("{idc: true, dic: false}", 4, 3),  # dsb ishst, ic, dsb(<- pub), isb
        ("{idc: false, dic: true}", 3, 2),  # dc, dsb(<- pub), isb
        ("{idc: true, dic: true}", 2, 1),  # dsb ishst(<- pub), isb
    ],
)
def test_sync_icache_publishes_for_each_cache_type(cache: str, n_sync_steps: int,
                                                   pub_offset: int) -> None:
    spec = ftrace_spec(WRITE_ON + "  - sync_icache: {slots: [1]}\n", cache=cache)
    tl = build(spec)
    assert tl.n == 1 + n_sync_steps
    hist = tl.history(spec.sites[0])
    assert hist[1].writes == ((1, 1 + pub_offset),)
    assert hist[0].writes == ()  # slot 0 never changes


@pytest.mark.parametrize(
    ("steps", "cache", "published"),
    [
        # IDC=0 DIC=0 needs dc, dsb (full), ic, dsb (full), in that order.
        ("  - dc_cvau: {slots: [1]}\n  - dsb: ish\n  - ic_ivau: {slots: [1]}\n  - dsb: ish\n",
         "{idc: false, dic: false}", True),
        ("  - ic_ivau: {slots: [1]}\n  - dsb: ish\n  - dc_cvau: {slots: [1]}\n  - dsb: ish\n",
         "{idc: false, dic: false}", False),
        ("  - dc_cvau: {slots: [1]}\n  - dsb: ishst\n  - ic_ivau: {slots: [1]}\n  - dsb: ish\n",
         "{idc: false, dic: false}", False),  # dsb ishst does not complete the clean
        ("  - dc_cvau: {slots: [1]}\n  - dsb: ish\n  - ic_iallu\n  - dsb: sy\n",
         "{idc: false, dic: false}", False),  # ic iallu: the patching CPU only
        ("  - dc_cvau: {slots: [1]}\n  - dsb: ish\n", "{idc: false, dic: false}", False),
        ("  - dsb: ishst\n  - ic_ivau: {slots: [1]}\n  - dsb: ish\n",
         "{idc: true, dic: false}", True),
        ("  - dsb: ish\n", "{idc: true, dic: false}", False),
        ("  - dsb: ishst\n", "{idc: true, dic: true}", True),
        ("  - dsb: ish\n", "{idc: false, dic: true}", False),  # IDC=0 still needs the clean
    ],
)
def test_publication_chain(steps: str, cache: str, published: bool) -> None:
    spec = ftrace_spec(WRITE_ON + steps, cache=cache)
    tl = build(spec)
    pub = tl.history(spec.sites[0])[1].writes[0][1]
    assert (pub is not None) == published
    if published:
        assert pub == tl.n


def test_ic_on_another_cache_line_does_not_publish() -> None:
    spec = ftrace_spec(WRITE_ON + "  - dc_cvau: {slots: [1]}\n  - dsb: ish\n"
                       "  - ic_ivau: {slots: [0]}\n  - dsb: ish\n")
    # Slot 0 and slot 1 share a 64-byte line, so this publishes...
    assert build(spec).history(spec.sites[0])[1].writes[0][1] == 5
    small = spec.__class__(**{**spec.__dict__, "line_size": 4})
    # ...but with 4-byte lines the IC covers only slot 0.
    assert publication_point(build(small), 1, small.sites[0].slot_addr(1)) is None


def test_bytewise_write_has_torn_points_and_one_step_per_byte() -> None:
    spec = ftrace_spec("  - write: {slot: 1, as: ON, width: 1}\n")
    tl = build(spec)
    assert tl.n == 4
    h = tl.history(spec.sites[0])[1]
    assert h.values[0] == 0xD503201F and h.values[4] == spec.sites[0].state("ON").words[1]
    assert h.torn[0] is False and h.torn[4] is False
    assert all(h.torn[t] for t in (1, 2, 3))
    assert [w for w, _ in h.writes] == [1, 2, 3, 4]


def test_rewriting_the_same_word_is_not_a_write() -> None:
    spec = ftrace_spec("  - write: {slot: 0, as: ON}\n  - write: {slot: 1, as: OFF}\n")
    hist = build(spec).history(spec.sites[0])
    assert hist[0].writes == () and hist[1].writes == ()


def test_window_starts_at_newest_published_write() -> None:
    spec = ftrace_spec(WRITE_ON + "  - sync_icache: {slots: [1]}\n"
                       "  - write: {slot: 1, as: OFF}\n")
    tl = build(spec)
    h = tl.history(spec.sites[0])[1]
    assert h.writes == ((1, 5), (7, None))
    assert h.window(c=4, e=7) == range(0, 8)
    assert h.window(c=5, e=7) == range(1, 8)


def test_stop_machine_blocks_and_forced_cse_points() -> None:
    spec = ftrace_spec("  - stop_machine:\n      - write: {slot: 1, as: ON}\n"
                       "      - sync_icache: {slots: [1]}\n  - ipi_sync\n  - wait_tasks\n")
    tl = build(spec)
    assert [(b.first, b.last) for b in tl.blocks] == [(1, 6)]
    assert tl.forced_cse_points() == (6, 7)
    assert tl.wait_points() == (8,)
    assert [tl.thread_blocked(p) for p in range(0, 9)] == [False] + [True] * 5 + [False] * 3
    assert tl.forced_before(5) == 0 and tl.forced_before(6) == 6 and tl.forced_before(8) == 7


def test_sync_icache_is_linux_caches_clean_inval_pou() -> None:
    assert CacheType(False, False).sync_icache() == (
        ("dc_cvau", ""), ("dsb", "ish"), ("ic_ivau", ""), ("dsb", "ish"), ("isb", ""))
    assert CacheType(True, True).sync_icache() == (("dsb", "ishst"), ("isb", ""))


def test_transition_graph_names_states_and_mixes() -> None:
    spec = ftrace_spec(WRITE_ON + "  - write: {slot: 1, as: OFF, width: 2}\n")
    lines = graph_lines(transition_graph(build(spec), spec.sites[0]))
    assert lines[0].startswith("OFF --[1: write func slot 1 as in ON]--> ON")
    assert any("mix(" in line for line in lines)
    assert lines[-1].endswith("--> OFF")
