"""Step marks, `complete:` (MODEL.md 6.5, violation incomplete) and `env.errata`.

Both engines must give the verdicts the kernel's history gives: the arm64 jump-label
no-sync path without kick_all_cpus_sync() leaves CPUs running the old instruction
(incomplete), with the IPI it does not; the Neoverse-N1 #1542419 erratum makes the
DIC=1 dsb-only toggle stale and the IC IVAU sequence Linux makes user space run safe.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys

import pytest

from fpatch.arch.model import CacheType
from fpatch.arch.publication import Op, published
from fpatch.encoding import check_spec
from fpatch.enumerate import check as enum_check
from fpatch.enumerate import flatten
from fpatch.model.replay import replays
from fpatch.model.timeline import build
from fpatch.report.document import build_report
from fpatch.spec.parse import parse_text
from fpatch.verdict import INCOMPLETE, STALE, Result

from .spec.helpers import ROOT, edit, problems, where

JUMP_LABEL = """\
fpatch: 1
name: jl
cache: {idc: false, dic: false}
env: {preemptible: true, nmi: true}
symbols:
  l_yes: 0xffff800008200100
sites:
  key:
    base: 0xffff800008200000
    slots: 1
    states:
      FALSE: [nop]
      TRUE: [b l_yes]
    initial: FALSE
steps:
  - write: {slot: 0, as: TRUE}
  - sync_icache: {slots: [0]}
  - mark: enabled
complete: [enabled]
"""
WITH_IPI = edit("  - mark: enabled\n", "  - ipi_sync\n  - mark: enabled\n", JUMP_LABEL)

DIC1 = """\
fpatch: 1
name: dic1
cache: {idc: true, dic: true}
env: {preemptible: true, nmi: true}
helpers:
  ftrace_caller: {address: 0xffff800008010000, inputs: [x9, x30, sp], restores: {x30: x9},
                  clobbers: [x9]}
sites:
  func:
    base: 0xffff800008200000
    slots: 2
    states:
      OFF: ["mov x9, x30", nop]
      ON: ["mov x9, x30", bl ftrace_caller]
    initial: OFF
steps:
  - write: {slot: 1, as: ON}
  - dsb: ish
"""
N1 = edit("env: {preemptible: true, nmi: true}",
          "env: {preemptible: true, nmi: true, errata: [neoverse-n1-1542419]}", DIC1)


def both(text: str) -> tuple[Result, Result]:
    spec = parse_text(text, "t.yaml")
    return check_spec(spec), enum_check(spec)


def kinds(r: Result) -> set[str]:
    return {c.violation for c in r.counterexamples}


# ------------------------------------------------------------------ the spec layer


def test_marks_name_points_and_add_none() -> None:
    text = edit("steps:\n", "steps:\n  - mark: start\n", JUMP_LABEL)
    text = edit("  - mark: enabled\n", "  - stop_machine:\n      - isb\n      - mark: in\n"
                "      - isb\n  - mark: enabled\n", text)
    spec = parse_text(text, "t.yaml")
    tl = build(spec)
    assert tl.n == 1 + 5 + 2  # the marks add no point
    assert [(n, p) for n, p, _ in tl.marks] == [("start", 0), ("in", 7), ("enabled", 8)]
    assert tl.complete_points() == (("enabled", 8),)
    assert dict(flatten(spec).marks) == {"start": 0, "in": 7, "enabled": 8}  # the other engine


def test_complete_end_is_the_last_point() -> None:
    spec = parse_text(edit("complete: [enabled]", "complete: [end, enabled]", JUMP_LABEL))
    assert build(spec).complete_points() == (("end", 6), ("enabled", 6))


@pytest.mark.parametrize("old,new,needle,message", [
    ("  - mark: enabled", "  - mark: 1st", "1st",
     "mark: '1st' is not a name (letters, digits, '_', '.', '$', '-'; at most 64 characters; "
     "not starting with a digit)"),
    ("  - mark: enabled", "  - mark: end", "end\n",
     "mark: 'end' is reserved (in `complete:` it means after the last step)"),
    ("  - mark: enabled", "  - mark: {a: 1}", "{a: 1}", "mark: expected a name, e.g. "
     "`- mark: enabled`"),
    ("complete: [enabled]", "complete: [enabled, later]", "later",
     "complete: unknown mark 'later' (expected one of enabled, end)"),
    ("complete: [enabled]", "complete: [enabled, enabled]", "enabled]",
     "complete: 'enabled' is listed twice"),
    ("complete: [enabled]", "complete: []", "[]",
     "complete: expected at least one mark name or 'end'"),
    ("env: {preemptible: true, nmi: true}", "env: {errata: [cortex-a53-843419]}",
     "cortex", "env.errata: unknown erratum 'cortex-a53-843419' (known: neoverse-n1-1542419)"),
])
def test_bad_marks_complete_and_errata(old: str, new: str, needle: str, message: str) -> None:
    text = edit(old, new, JUMP_LABEL)
    if old.startswith("  - mark"):  # else `complete:` names a mark that is not there too
        text = edit("complete: [enabled]", "complete: [end]", text)
    line, col = where(text, needle)
    assert problems(text) == [(line, col, message)]


def test_a_mark_defined_twice() -> None:
    text = edit("  - mark: enabled\n", "  - mark: enabled\n  - isb\n  - mark: enabled\n",
                JUMP_LABEL)
    line, col = where(text, "enabled", 1)
    assert problems(text) == [(line, col, "mark: 'enabled' is defined twice")]


def test_bad_complete_through_the_cli_exits_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text(edit("complete: [enabled]", "complete: [nope]", JUMP_LABEL))
    p = subprocess.run([sys.executable, "-m", "fpatch.cli", "check", str(bad)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert f"{bad}:19:12: error: complete: unknown mark 'nope'" in p.stderr


def test_show_lists_marks_and_completion(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "jl.yaml"
    f.write_text(JUMP_LABEL)
    p = subprocess.run([sys.executable, "-m", "fpatch.cli", "show", "--json", str(f)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    doc = json.loads(p.stdout)
    assert doc["marks"] == [{"name": "enabled", "point": 6, "line": 18}]
    assert doc["complete"] == [{"name": "enabled", "point": 6}]
    p = subprocess.run([sys.executable, "-m", "fpatch.cli", "show", "--no-color", str(f)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "mark enabled = point 6  [complete:" in p.stdout


# ------------------------------------------------------------------ incomplete


def test_jump_label_without_ipi_is_incomplete_in_both_engines() -> None:
    for r in both(JUMP_LABEL):
        assert r.verdict == "unsafe"
        assert kinds(r) == {INCOMPLETE}
        cx = next(c for c in r.counterexamples if c.observer == "thread")
        x = cx.execs[-1]
        assert x.word == 0xD503201F  # the old nop, after the mark
        assert x.fetched_at < 6 <= x.point
        assert f"last CSE at point {x.cse}" in cx.summary
        assert "last context synchronization event is at point" in cx.detail


def test_jump_label_incomplete_counterexample_replays() -> None:
    spec = parse_text(JUMP_LABEL)
    r = check_spec(spec)
    assert r.counterexamples and all(c.replayed for c in r.counterexamples)
    tl = build(spec)
    cx = r.counterexamples[0]
    last = cx.execs[-1]
    # The same fetch, but of the word the mark holds: not incomplete.
    moved = dataclasses.replace(last, fetched_at=6, word=0x14000040, window=(last.window[0], 6),
                                point=6)
    assert not replays(spec, tl, dataclasses.replace(cx, execs=cx.execs[:-1] + (moved,)))


def test_jump_label_with_ipi_before_the_mark_is_safe() -> None:
    for r in both(WITH_IPI):
        assert r.verdict == "safe", r.counterexamples


def test_a_mark_before_the_ipi_is_still_incomplete() -> None:
    text = edit("  - mark: enabled\n", "  - mark: enabled\n  - ipi_sync\n", JUMP_LABEL)
    for r in both(text):
        assert kinds(r) == {INCOMPLETE}


def test_without_complete_the_jump_label_path_is_safe() -> None:
    """v1 meaning: no `complete:`, no completion requirement."""
    for r in both(JUMP_LABEL.replace("complete: [enabled]\n", "")):
        assert r.verdict == "safe"


def test_unpublished_write_is_stale_and_incomplete_at_end() -> None:
    """docs/model.md, Relation to stale: a stale run is also incomplete at `end`."""
    text = edit("  - sync_icache: {slots: [0]}\n", "", JUMP_LABEL)
    text = edit("complete: [enabled]", "complete: [end]", text)
    for r in both(text):
        assert {STALE, INCOMPLETE} <= kinds(r)
        # the local NMI takes its CSE at its own point: only the unpublished write hits it
        assert any(c.observer == "nmi-local" and c.violation == INCOMPLETE
                   for c in r.counterexamples)


def test_incomplete_in_report_json() -> None:
    spec = parse_text(JUMP_LABEL)
    doc = build_report(spec, build(spec), check_spec(spec))
    assert doc["environment"]["complete"] == [{"name": "enabled", "point": 6}]
    assert doc["marks"] == [{"name": "enabled", "point": 6, "line": 18}]
    assert {c["violation"] for c in doc["counterexamples"]} == {INCOMPLETE}
    import jsonschema
    schema = json.loads((ROOT / "fpatch" / "report" / "report.schema.json").read_text())
    jsonschema.validate(doc, schema)


# ------------------------------------------------------------------ errata


def test_dic1_dsb_only_is_safe_without_the_erratum() -> None:
    for r in both(DIC1):
        assert r.verdict == "safe"


def test_one_site_dic1_dsb_only_stays_safe_with_the_erratum() -> None:
    """The erratum unorders fetches of *different* writes; one slot published by its DSB
    and reached after a CSE is still new code (IC-Coherence-After is kept)."""
    for r in both(N1):
        assert r.verdict == "safe", r.counterexamples


# The erratum's own sequence (dd8a1f134884): fresh code (a module PLT) written and
# completed, then a branch to it. Without the erratum the fetch of the new branch orders
# the later fetch of the PLT; with it, only a CSE after the PLT's publication does.
PLT = (ROOT / "specs" / "linux" / "module-plt-neoverse-n1-1542419.yaml").read_text()
PLT_NO_ERRATUM = edit(", errata: [neoverse-n1-1542419]", "", PLT)
PLT_FIX = edit("  - sync_icache: plt ", "  - sync_icache: plt\n  - ipi_sync\n  #", PLT)
PLT_FIX = PLT_FIX.replace("expect: unsafe", "expect: safe")


def test_branch_to_fresh_code_is_safe_without_the_erratum() -> None:
    for r in both(PLT_NO_ERRATUM):
        assert r.verdict == "safe", r.counterexamples


def test_branch_to_fresh_code_is_unsafe_with_the_erratum() -> None:
    for r in both(PLT):
        assert r.verdict == "unsafe"
        assert all(c.replayed is not False for c in r.counterexamples)
        # the PLT's initial (EMPTY) word is fetched after the PLT write was published
        # (dsb at point 4), because the fetch of the new `bl` no longer orders it
        assert any(x.site == "plt" and x.fetched_at == 0 and x.point >= 4 and x.cse < 4
                   for c in r.counterexamples for x in c.execs)


def test_linux_fix_ipi_is_safe_with_the_erratum() -> None:
    for r in both(PLT_FIX):
        assert r.verdict == "safe", r.counterexamples


def test_the_erratum_is_a_switch_on_the_axioms() -> None:
    """One switch read by the axioms (IC-Ordered-Before's DIC term) and by the engines'
    time reading of it (the fetch floor); publication itself is unchanged, and litmus'
    CacheType has no errata."""
    dsb = (Op("dsb", option="ish"),)
    assert published(CacheType(True, True), dsb)
    assert published(CacheType(True, True, ("neoverse-n1-1542419",)), dsb)
    assert CacheType(True, True).fetches_ordered
    assert not CacheType(True, True, ("neoverse-n1-1542419",)).fetches_ordered
    assert CacheType(True, False, ("neoverse-n1-1542419",)).fetches_ordered  # DIC=0: no effect
    assert CacheType(True, True).errata == ()


def test_report_names_the_erratum() -> None:
    spec = parse_text(PLT)
    doc = build_report(spec, build(spec), check_spec(spec))
    assert doc["environment"]["errata"] == ["neoverse-n1-1542419"]


# ------------------------------------------------------------------ the docs


def _doc_examples() -> list[str]:
    text = (ROOT / "docs" / "spec-format.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return [b for b in blocks if re.search(r"^(complete:|env: \{errata)", b, re.M)
            or ":lo12:" in b]


@pytest.mark.parametrize("n", range(3))
def test_doc_examples_give_their_expectation(n: int) -> None:
    examples = _doc_examples()
    assert len(examples) == 3
    for r in both(examples[n]):
        assert r.meets_expectation, (r.verdict, r.expect)


# ------------------------------------------------------------------ the assembler in specs


def test_lr_and_lo12_in_states() -> None:
    text = next(b for b in _doc_examples() if ":lo12:" in b)
    spec = parse_text(text)
    new = spec.site("plt").state("NEW")
    # the words GNU as + ld give at these addresses (tests/isa/test_isa_lo12.py checks the rule)
    assert new.words == (0xAA1E03E9, 0xD0FFF090, 0x910D2210)
    assert new.texts[2] == "add x16, x16, :lo12:tramp"


def test_bad_lo12_is_located(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = next(b for b in _doc_examples() if ":lo12:" in b)
    text = text.replace("add x16, x16, :lo12:tramp", "add x16, x16, :lo12:tramq")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    p = subprocess.run([sys.executable, "-m", "fpatch.cli", "validate", str(bad)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    line, col = where(text, "tramq")
    assert f"{bad}:{line}:{col}: error: " in p.stderr
    assert "unknown symbol 'tramq'" in p.stderr


def test_branch_targets_are_named_in_both_engines() -> None:
    for r in both(JUMP_LABEL.replace("  - sync_icache: {slots: [0]}\n", "")):
        texts = {x.text for c in r.counterexamples for x in c.execs}
        assert texts & {"b l_yes", "nop"}
        assert not any("0xffff800008200100" in t for t in texts)


def test_incomplete_in_every_report_kind(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "jl.yaml"
    f.write_text(JUMP_LABEL + "expect: unsafe\n")
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "fpatch.cli", "check", str(f), "--report-dir",
                        str(out), "--sarif", str(tmp_path / "r.sarif"), "--junit-xml",
                        str(tmp_path / "r.xml"), "--no-color"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "unsafe [incomplete]" in p.stdout  # text
    md = (out / "jl" / "report.md").read_text()
    assert "Counterexample cx1: INCOMPLETE" in md
    assert "complete at return: every CPU runs the site's words from mark `enabled`" in md
    assert "[mark enabled]" in md  # the steps table names the point
    assert "INCOMPLETE" in (out / "jl" / "report.html").read_text()
    assert "complete: enabled" in (out / "jl" / "timeline.svg").read_text()
    assert json.loads((out / "jl" / "report.json").read_text())["counterexamples"][0][
        "violation"] == INCOMPLETE
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    run = sarif["runs"][0]
    assert "incomplete" in {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in run["results"]} == {"incomplete"}
    assert "incomplete" in (tmp_path / "r.xml").read_text()
    j = subprocess.run([sys.executable, "-m", "fpatch.cli", "check", "--json", str(f)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    res = json.loads(j.stdout)["results"][0]
    assert {c["violation"] for c in res["counterexamples"]} == {INCOMPLETE}


def test_no_litmus_export_with_errata(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """herd's model has no errata: a stale run found with one is not exported as Allowed."""
    f = tmp_path / "n1.yaml"
    f.write_text(edit("  - dsb: ish\n", "", N1) + "expect: unsafe\n")  # never published
    p = subprocess.run([sys.executable, "-m", "fpatch.cli", "check", str(f), "--litmus-out",
                        str(tmp_path / "lit")], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    assert "herd's model has no errata" in p.stderr
    assert not list((tmp_path / "lit").glob("*.litmus"))
