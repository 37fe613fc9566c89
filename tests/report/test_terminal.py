"""What `fpatch check` and `fpatch explain` print for counterexamples."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from fpatch.report import text
from fpatch.report.document import build_report
from fpatch.report.explain import render_counterexample
from fpatch.report.markdown import render_markdown
from tests.report.conftest import PREEMPT, ROOT, SPECS, run_spec

BOTH_SLOTS = SPECS / "ftrace-8-byte-store-both-slots.yaml"
FORGOT_IC = SPECS / "ftrace-forgot-ic-ivau.yaml"
BYTEWISE = SPECS / "ftrace-bytewise-copy.yaml"


def _doc(path: Path) -> tuple[Any, dict[str, Any]]:
    spec, tl, result = run_spec(path)
    return result, build_report(spec, tl, result)


def _render(width: int, path: Path) -> str:
    result, doc = _doc(path)
    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, highlight=False, markup=False)
    text.render_result(console, result, doc)
    return buf.getvalue()


def test_one_run_shared_by_three_observer_kinds_is_printed_once() -> None:
    result, doc = _doc(BYTEWISE)
    assert len(result.counterexamples) == 9  # the checker finds each per observer kind
    assert [c["observers"] for c in doc["counterexamples"]] == [
        ["thread", "nmi-local", "nmi-remote"]] * 3
    out = _render(160, BYTEWISE)
    assert out.count("CMODX — site func") == 1
    assert "observers thread, nmi-local, nmi-remote (the same run)" in out
    # runs that differ stay apart, the same run is shared (which timing the solver picks
    # for each observer kind, among equally simple ones, is not fixed)
    for path in (BOTH_SLOTS, SPECS / "seed-q2-disable-stop-machine-nonpreemptible-nmi.yaml"):
        result, doc = _doc(path)
        runs: dict[Any, list[str]] = {}
        for c in result.counterexamples:
            runs.setdefault((c.violation, c.execs, c.exit, c.diffs), []).append(c.observer)
        assert [c["observers"] for c in doc["counterexamples"]] == list(runs.values())


def test_events_are_in_time_order_and_enter_comes_first() -> None:
    for path in (PREEMPT, BOTH_SLOTS, FORGOT_IC):
        _, doc = _doc(path)
        for cx in doc["counterexamples"]:
            points = [e["point"] for e in cx["events"]]
            assert points == sorted(points), cx["id"]
            kinds = [e["kind"] for e in cx["events"]]
            assert kinds.index("enter") < kinds.index("exec")
            assert "fetch" not in kinds  # an older value is said on the row where it runs


@pytest.mark.parametrize("path", [PREEMPT, BOTH_SLOTS, FORGOT_IC])
def test_80_columns_never_wrap(path: Path) -> None:
    out = _render(80, path)
    assert "patcher step; > observer" in out  # the stacked layout
    too_long = [ln for ln in out.splitlines() if len(ln.rstrip()) > 80]
    assert not too_long


def test_wide_terminal_keeps_the_table() -> None:
    assert "visibility" in _render(160, PREEMPT)


def test_the_stop_machine_end_row_is_marked() -> None:
    out = _render(160, PREEMPT)
    # the preempted thread resumes on the last row of the second block: after it, not inside
    row = next(ln for ln in out.splitlines() if "returns from the interruption" in ln)
    assert "[sm end]" in row or "[sm end]" in out.splitlines()[out.splitlines().index(row) - 1]


def test_check_and_explain_draw_the_same_timeline(tmp_path: Path) -> None:
    def run(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "fpatch.cli", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=300).stdout

    rel = str(PREEMPT.relative_to(ROOT))
    checked = run("check", "--no-color", rel)
    explained = run("explain", "--no-color", rel)
    start = "cx1: INEQUIVALENT"
    cut = checked[checked.index(start):checked.index("1 spec(s):")]
    assert "timeline" in cut and cut.strip() in explained
    # one result line per spec
    assert sum(1 for ln in checked.splitlines() if ln.startswith(("ok ", "FAIL"))) == 1
    # symbols by name, not address
    assert "bl ftrace_caller" in checked and "bl 0xffff" not in checked


def test_report_says_what_is_missing() -> None:
    _, doc = _doc(FORGOT_IC)
    md = render_markdown(doc)
    section = md[md.index("### What is missing"):]
    assert "is never published: `dc cvau; dsb ish; ic ivau; dsb ish` is missing" in section
    _, doc = _doc(PREEMPT)
    assert any("wait_tasks" in n for c in doc["counterexamples"] for n in c["needs"])


def test_needs_name_the_late_cse_of_a_published_write() -> None:
    _, doc = _doc(BOTH_SLOTS)
    cx = doc["counterexamples"][0]
    assert any("published at point 5, but the observer's last CSE was at point 1" in n
               for n in cx["needs"])
    buf = io.StringIO()
    render_counterexample(Console(file=buf, width=200, no_color=True), doc, cx)
    assert "what is missing:" in buf.getvalue()


def test_the_simplest_story_is_chosen() -> None:
    """Fewest interruptions, then the earliest last instruction (docs/reports.md)."""
    _, doc = _doc(BOTH_SLOTS)
    cmodx = doc["counterexamples"][0]
    assert cmodx["violation"] == "cmodx"
    # the conflicting word is written at point 1: no run can show the race earlier
    assert cmodx["execs"][-1]["point"] == 1
    assert not any(x["interrupted_before"] for x in cmodx["execs"])
    _, doc = _doc(PREEMPT)
    (cx,) = doc["counterexamples"]
    assert sum(x["interrupted_before"] for x in cx["execs"]) == 1


def test_explain_at_80_columns_truncates_nothing() -> None:
    from fpatch.report.explain import render_explain

    _, doc = _doc(PREEMPT)
    buf = io.StringIO()
    render_explain(Console(file=buf, width=80, no_color=True, highlight=False, markup=False), doc)
    out = buf.getvalue()
    assert max(len(ln.rstrip()) for ln in out.splitlines()) <= 80
    assert "…" not in out  # no cell cut short
    assert "s0 0xffff800008200000  stp x29, x30, [sp, #-16]!  (a9bf7bfd)" in out


def test_short_form_names_the_other_kinds_once() -> None:
    result, doc = _doc(BYTEWISE)
    buf = io.StringIO()
    text.render_result(Console(file=buf, width=200, no_color=True), result, doc, verbose=False)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.startswith("    torn:")]
    assert len(lines) == 1 and lines[0].endswith("[the same run for nmi-local, nmi-remote]")
