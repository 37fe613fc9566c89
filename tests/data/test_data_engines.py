"""Data words read by code (MODEL.md 6.7) in both engines: completion of data writes
from the architecture model, what a load returns, the violation ``data``, the unknown
answers, replay and every report kind."""

from __future__ import annotations

import json
import textwrap

import pytest

from fpatch.arch.model import CacheType
from fpatch.arch.publication import Op, completed, completion_point
from fpatch.encoding import check_spec
from fpatch.enumerate import check as enum_check
from fpatch.enumerate import data_histories as enum_histories
from fpatch.enumerate import flatten
from fpatch.model.timeline import build, data_histories
from fpatch.spec.parse import parse_file, parse_text
from fpatch.verdict import DATA, Result

from ..spec.helpers import ROOT

LINUX = ROOT / "specs" / "linux"
CACHE = CacheType(False, False)


@pytest.mark.parametrize(("ops", "done"), [
    ((), False),
    ((Op("dsb", option="ish"),), True),
    ((Op("dsb", option="ishst"),), True),
    ((Op("dsb", option="sy"),), True),
    ((Op("dsb", option="ishld"),), False),  # orders loads only: the store may still be pending
    ((Op("isb"),), False),
    ((Op("dc", covers=True), Op("ic", covers=True)), False),
])
def test_a_data_write_completes_at_a_dsb_that_orders_stores(ops: tuple[Op, ...],
                                                           done: bool) -> None:
    assert completed(CACHE, ops) is done


def test_completion_point_is_the_first_completing_dsb() -> None:
    after = [(2, Op("isb")), (3, Op("dsb", option="ld")), (4, None), (5, Op("dsb", option="st")),
             (6, Op("dsb", option="ish"))]
    assert completion_point(CACHE, after) == 5
    assert completion_point(CACHE, after[:3]) is None


def both(tail: str) -> tuple[Result, Result]:
    """Both engines on HEAD's site completed with ``tail``."""
    spec = parse_text(textwrap.dedent(HEAD) + textwrap.dedent(tail), "<data>")
    return check_spec(spec, timeout=30), enum_check(spec)


HEAD = """
fpatch: 1
name: d
cache: {idc: true, dic: true}
env: {preemptible: false, nmi: false}
helpers: {h: {address: 0x9000, inputs: [x30], clobbers: [x0]}}
sites:
  f:
    base: 0x1000
    slots: 2
    data: {d: {offset: -8, size: 8, value: 0x1111111122222222}}
"""


def test_histories_of_both_engines_agree() -> None:
    spec = parse_text(textwrap.dedent(HEAD) + textwrap.dedent("""\
            states: {A: ["ldr x0, d", nop]}
        steps:
          - write: {data: d, value: 0x3333333344444444, width: 4}
          - dsb: ishst
          - write: {data: d, value: 0x5555555566666666, width: 8}
          - dsb: ld
        """), "<data>")
    site = spec.site("f")
    z = data_histories(build(spec), site)["d"]
    e = enum_histories(spec, site, flatten(spec))["d"]
    assert z.values == e.values == (0x1111111122222222, 0x1111111144444444, 0x3333333344444444,
                                    0x3333333344444444, 0x5555555566666666, 0x5555555566666666)
    assert z.torn == e.torn == (False, True, False, False, False, False)
    assert z.writes == e.writes == ((1, 3), (2, 3), (4, None))
    assert [z.newest_complete(p) for p in range(6)] == [e.Ld(p) for p in range(6)] == \
        [0, 0, 0, 2, 2, 2]
    assert z.clean() == e.clean() == (0x1111111122222222, 0x3333333344444444, 0x5555555566666666)


@pytest.mark.parametrize("complete_first", [True, False])
def test_a_load_after_completion_cannot_read_the_old_value(complete_first: bool) -> None:
    # The load can run only once slot 0 holds it (from the write at point 3, or 2); the
    # data write is complete at the DSB at point 2 in the first case (only the new value,
    # which is all A accepts), at point 3 in the second (the old value at point 2).
    dsb = "\n          - dsb: ish" if complete_first else ""
    smt, enum = both(f"""\
            states: {{B: [b .+8, nop], A: ["ldr x0, d", nop]}}
            valid_data: {{A: {{d: [0x3333333344444444]}}}}
        steps:
          - write: {{data: d, value: 0x3333333344444444, width: 8}}{dsb}
          - write: {{slot: 0, as: A}}
          - dsb: ish
        """)
    assert smt.violations() == enum.violations()
    assert (("f", "thread", DATA) in smt.violations()) is not complete_first
    for cx in smt.counterexamples + enum.counterexamples:
        if cx.violation == DATA:
            (read,) = cx.reads
            assert (read.value, read.valid, read.point, read.window) == \
                (0x1111111122222222, False, 2, (0, 2))
    assert all(cx.replayed for cx in smt.counterexamples)


def test_site_load_through_x30_set_by_a_bl_reads_the_word() -> None:
    smt, enum = both("""\
            states: {A: [bl h, "ldur x2, [x30, #-12]"]}
        steps:
          - write: {data: d, value: 0x3333333344444444, width: 4}
        """)
    assert smt.violations() == enum.violations() == {("f", "thread", DATA)}
    assert all(cx.reads[0].torn and cx.reads[0].value == 0x1111111144444444
               for r in (smt, enum) for cx in r.counterexamples)


@pytest.mark.parametrize(("insn", "why"), [
    ('"ldr x1, .-4"', "partly overlap"),
    ('"ldur x2, [x30, #-8]"', "depends on the initial state"),
])
def test_loads_the_model_cannot_decide_are_unknown(insn: str, why: str) -> None:
    smt, enum = both(f"""\
            states: {{A: [{insn}, nop]}}
        steps:
          - write: {{data: d, value: 0x3333333344444444}}
        """)
    for r in (smt, enum):
        assert r.verdict == "unknown"
        assert any(why in w for o in r.observers for w in o.reasons), r.observers


def test_call_ops_literal_written_with_one_store_is_safe() -> None:
    spec = parse_file(LINUX / "ftrace-modify-call-ops-literal-u64.yaml")
    assert check_spec(spec, timeout=30).verdict == enum_check(spec).verdict == "safe"


def test_call_ops_literal_written_in_halves_is_a_torn_pointer() -> None:
    spec = parse_file(LINUX / "ftrace-modify-call-ops-literal-torn.yaml")
    smt, enum = check_spec(spec, timeout=30), enum_check(spec)
    kinds = {("func", k, DATA) for k in ("thread", "nmi-local", "nmi-remote")}
    assert smt.violations() == enum.violations() == kinds
    for cx in smt.counterexamples + enum.counterexamples:
        (read,) = cx.reads
        assert read.word == "ops" and read.torn and not read.valid
        assert read.value == 0xFFFF80000C3F1200  # low half of ops_b, high half of the old
        assert cx.execs[read.index].text.startswith("bl ")  # the read is at the call
        assert "torn value" in cx.detail
    assert all(cx.replayed for cx in smt.counterexamples)


def test_every_report_kind_shows_the_load(tmp_path: object) -> None:
    import subprocess
    import sys
    from pathlib import Path

    out = Path(str(tmp_path))
    path = str(LINUX / "ftrace-modify-call-ops-literal-torn.yaml")
    run = [sys.executable, "-m", "fpatch.cli", "check"]
    p = subprocess.run(run + ["--report-dir", str(out), "--sarif", str(out / "r.sarif"),
                              "--junit-xml", str(out / "r.xml"), path],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr  # unsafe, as the spec expects
    assert "unsafe [data]" in p.stdout
    rep = next(out.glob("*/report.json"))
    doc = json.loads(rep.read_text())
    reads = doc["counterexamples"][0]["reads"]
    assert reads[0]["value"] == "0xffff80000c3f1200" and reads[0]["torn"]
    assert any(e["kind"] == "load" for e in doc["counterexamples"][0]["events"])
    for name in ("report.md", "report.html"):
        assert "Data words the run loaded" in (rep.parent / name).read_text()
    sarif = json.loads((out / "r.sarif").read_text())
    assert any(r["ruleId"] == "data" for r in sarif["runs"][0]["results"])
    assert "data" in (out / "r.xml").read_text()


def test_show_lists_reads_completion_and_valid_values() -> None:
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "fpatch.cli", "show", "--no-color",
                        str(LINUX / "ftrace-modify-call-ops-literal-u64.yaml")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    assert "reads 8 bytes at (x30 & ~7) -16" in text
    assert "initially ops_a (0xffff800082a01000)" in text
    assert "written at point 1, complete (visible to every later load) at no point" in text
    assert "valid with ON: ops_a (0xffff800082a01000), ops_b" in text


def test_two_loads_of_a_word_do_not_go_back_in_coherence() -> None:
    # d: A at 0, B from point 1, A again from point 2 (never complete): a load at point 2
    # may return A (from 0) or B; after a load that read B, only B or the second A.
    spec = parse_text(textwrap.dedent(HEAD) + textwrap.dedent("""\
            states: {A: ["ldr x0, d", "ldr x1, d"]}
        steps:
          - write: {data: d, value: 0x3333333344444444, width: 8}
          - write: {data: d, value: 0x1111111122222222, width: 8}
        """), "<data>")
    h = enum_histories(spec, spec.site("f"), flatten(spec))["d"]
    a, b = 0x1111111122222222, 0x3333333344444444
    assert h.choices(2, 0) == {a: 0, b: 1}
    assert h.choices(2, 1) == {b: 1, a: 2}
    assert h.choices(2, 2) == {a: 2}
    smt, enum = check_spec(spec, timeout=30), enum_check(spec)
    assert smt.violations() == enum.violations() == set()


def test_timeline_picture_shows_the_data_writes_and_the_torn_load() -> None:
    """The SVG timeline tells a data counterexample's story: which chunk of which word
    was written when, and what the run loaded, from which point, and that it is invalid."""
    from fpatch.report.document import build_report
    from fpatch.report.svg import timeline_svg

    spec = parse_file(LINUX / "ftrace-modify-call-ops-literal-torn.yaml")
    doc = build_report(spec, build(spec), check_spec(spec))
    svg = timeline_svg(doc)
    assert "ops := " in svg and "(1/2)" in svg
    assert "loads ops at point" in svg and "torn: mid-way through a multi-chunk write" in svg
    assert "NOT valid with" in svg
