"""The code-graph keys (docs/spec-format.md): site `enter`, `reachable_after: MARK`, and
the `- mark: NAME` step they refer to; bad input is FILE:LINE:COL, never a traceback."""

from __future__ import annotations

from click.testing import CliRunner

from fpatch.cli import main
from fpatch.spec.parse import parse_text

from .helpers import BASE, edit, only, problems, where

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
    assert "every site has enter: none" in msg


def test_unknown_mark() -> None:
    text = edit("    slots: 2\n", "    slots: 2\n    reachable_after: later\n", MARKED)
    line, col = where(text, "later")
    assert only(text) == (line, col, "sites.func.reachable_after: unknown mark 'later' "
                                     "(marks: done)")


def test_reachable_after_without_marks() -> None:
    text = edit("    slots: 2\n", "    slots: 2\n    reachable_after: later\n")
    assert "add a step - mark: NAME" in only(text)[2]


def test_duplicate_and_bad_marks() -> None:
    text = edit("  - mark: done\n", "  - mark: done\n  - mark: done\n  - mark: 'a b'\n"
                "  - mark\n  - mark: end\n", MARKED)
    found = problems(text)
    assert [m for _, _, m in found] == [
        "mark: 'done' is already a mark (line 23, column 11)",
        "mark: 'a b' is not a mark name (a name such as after_plt; 'end' is reserved)",
        "step 'mark' needs arguments",
        "mark: 'end' is not a mark name (a name such as after_plt; 'end' is reserved)",
    ]
    assert found[0][:2] == where(text, "done", 1)


def test_cli_exit_2_no_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.yaml"
    path.write_text(edit("    slots: 2\n", "    slots: 2\n    enter: 3\n"))
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output and f"{path}:13:12: error: sites.func.enter" in res.output
