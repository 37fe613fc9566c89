"""The code-graph keys (docs/spec-format.md): site `enter`, `reachable_after: MARK`, and
the `- mark: NAME` step they refer to; bad input is FILE:LINE:COL, never a traceback."""

from __future__ import annotations

from click.testing import CliRunner

from fpatch.cli import main
from fpatch.spec.parse import parse_text

from .helpers import BASE, edit, only, where

MARKED = edit("  - sync_icache: {slots: [1]}\n",
              "  - sync_icache: {slots: [1]}\n  - mark: done\n")


def test_mark_adds_no_step_and_enter_defaults_to_direct() -> None:
    spec = parse_text(MARKED)
    assert len(spec.steps) == len(parse_text(BASE).steps) + 1  # the Mark record
    site = spec.site("func")
    assert site.enter == "direct" and site.reachable_after is None


def test_enter_and_reachable_after_parse() -> None:
    text = edit("    slots: 2\n", "    slots: 2\n    enter: both\n    reachable_after: done\n",
                MARKED)
    site = parse_text(text).site("func")
    assert (site.enter, site.reachable_after) == ("both", "done")


def test_bad_enter() -> None:
    text = edit("    slots: 2\n", "    slots: 2\n    enter: sideways\n")
    line, col = where(text, "sideways")
    assert only(text) == (line, col, "sites.func.enter: expected one of direct, indirect, "
                                     "both, none; got 'sideways'")


def test_every_site_enter_none() -> None:
    text = edit("    slots: 2\n", "    slots: 2\n    enter: none\n")
    line, col, msg = only(text)
    assert "every site has 'enter: none'" in msg


def test_unknown_mark() -> None:
    text = edit("    slots: 2\n", "    slots: 2\n    reachable_after: later\n", MARKED)
    line, col = where(text, "later")
    assert only(text) == (line, col, "sites.func.reachable_after: unknown mark 'later' "
                                     "(marks: done)")


def test_reachable_after_without_marks() -> None:
    text = edit("    slots: 2\n", "    slots: 2\n    reachable_after: later\n")
    assert "add a step - mark: NAME" in only(text)[2]


def test_reachable_after_a_mark_inside_stop_machine() -> None:
    """Marks are the step marks of the spec layer (tests/test_complete.py checks their own
    errors); one inside a stop_machine block is as good a reference as any."""
    text = edit("  - sync_icache: {slots: [1]}\n",
                "  - stop_machine: [{sync_icache: {slots: [1]}}, {mark: inside}]\n")
    text = edit("    slots: 2\n", "    slots: 2\n    reachable_after: inside\n", text)
    assert parse_text(text).site("func").reachable_after == "inside"


def test_cli_exit_2_no_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.yaml"
    path.write_text(edit("    slots: 2\n", "    slots: 2\n    enter: 3\n"))
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output and f"{path}:13:12: error: sites.func.enter" in res.output
