"""env.bti, env.pac and the site key ``enter`` (issue 9.4): values, defaults, and
located errors for bad input (file:line:col, exit 2 through the CLI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fpatch.spec.parse import parse_text

from .helpers import BASE, ROOT, edit, only, where


def test_defaults_keep_v1_meaning() -> None:
    spec = parse_text(BASE)
    assert (spec.bti, spec.pac) == (False, False)
    assert spec.site("func").enter == "direct"


@pytest.mark.parametrize("enter", ["direct", "indirect", "both"])
def test_values(enter: str) -> None:
    text = edit("fpatch: 1\n", "fpatch: 1\nenv: {bti: true, pac: true}\n")
    text = edit("    slots: 2\n", f"    slots: 2\n    enter: {enter}\n", text)
    spec = parse_text(text)
    assert (spec.bti, spec.pac, spec.site("func").enter) == (True, True, enter)


@pytest.mark.parametrize("key", ["bti", "pac"])
def test_env_flag_must_be_boolean(key: str) -> None:
    text = edit("fpatch: 1\n", f"fpatch: 1\nenv: {{{key}: guarded}}\n")
    line, col = where(text, "guarded")
    assert only(text) == (line, col, f"env.{key}: expected true or false, got str 'guarded'")


def test_enter_unknown_value() -> None:
    text = edit("    slots: 2\n", "    slots: 2\n    enter: sideways\n")
    line, col = where(text, "sideways")
    assert only(text) == (line, col, "sites.func.enter: expected one of direct, indirect, "
                                     "both, none; got 'sideways'")


def test_enter_none_everywhere_is_an_error() -> None:
    text = edit("    slots: 2\n", "    slots: 2\n    enter: none\n")
    line, col, msg = only(text)
    assert (line, col) == where(text, "func:") and "every site has 'enter: none'" in msg


def test_cli_exit_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(edit("    slots: 2\n", "    slots: 2\n    enter: 3\n"))
    p = subprocess.run([sys.executable, "-m", "fpatch.cli", "check", str(bad)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stdout + p.stderr
    line, col = where(bad.read_text(), "enter: 3")
    assert p.stderr.startswith(f"{bad}:{line}:{col + 7}: error: sites.func.enter:")
