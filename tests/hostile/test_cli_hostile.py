"""Hostile command lines and inputs (issue 12): a crash is never a verdict, bad
arguments are exit 2 before any work, and user text cannot forge or break output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.dom.minidom
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fpatch import cli
from fpatch.report.writer import MAX_NAME

ROOT = Path(__file__).parents[2]
SPECS = ROOT / "specs"
UNSAFE = SPECS / "ftrace-forgot-ic-ivau.yaml"  # unsafe (stale), expect: unsafe, fast
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def fpatch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fpatch.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, errors="surrogateescape")


def with_name(tmp_path: Path, name_yaml: str, file: str = "s.yaml", extra: str = "") -> Path:
    src = UNSAFE.read_text()
    text, n = re.subn(r"\nname: [^\n]*", lambda _: f"\nname: {name_yaml}{extra}", src)
    assert n == 1
    path = tmp_path / file
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any check that starts is a failure of 'before any work'."""
    def boom(*_: Any, **__: Any) -> Any:
        raise AssertionError("a spec was checked")
    monkeypatch.setattr(cli, "_run", boom)


# ------------------------------------------------------------- internal errors


def test_internal_error_is_exit_4_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom\nsecond line")
    monkeypatch.setattr(cli, "_run", broken)
    monkeypatch.delenv("FPATCH_DEBUG", raising=False)
    for cmd in (["check", str(UNSAFE)], ["explain", str(UNSAFE)]):
        r = CliRunner().invoke(cli.main, cmd)
        assert r.exit_code == cli.EXIT_INTERNAL == 4, r.output
        lines = [ln for ln in r.output.splitlines() if "internal error" in ln]
        assert len(lines) == 1 and "RuntimeError: boom\\nsecond line" in lines[0]
        assert "report" in lines[0] and "FPATCH_DEBUG=1" in lines[0]
        assert "Traceback" not in r.output


def test_fpatch_debug_shows_the_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")
    monkeypatch.setattr(cli, "_run", broken)
    monkeypatch.setenv("FPATCH_DEBUG", "1")
    r = CliRunner().invoke(cli.main, ["check", str(UNSAFE)])
    assert isinstance(r.exception, RuntimeError)


# ------------------------------------------------------- arguments, before work


@pytest.mark.parametrize("opt", ["--timeout", "--max-time"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "1e400", "abc", "1e9"])
def test_bad_seconds_are_usage_errors(opt: str, value: str, no_run: None) -> None:
    r = CliRunner().invoke(cli.main, ["check", opt, value, str(UNSAFE)])
    assert r.exit_code == 2, r.output
    assert "Invalid value" in r.output


@pytest.mark.parametrize("opt", ["--junit-xml", "--sarif", "--report-dir"])
def test_unwritable_outputs_fail_before_the_run(tmp_path: Path, opt: str, no_run: None) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = CliRunner().invoke(cli.main, ["check", opt, str(blocker / "sub" / "out"), str(UNSAFE)])
    assert r.exit_code == 2, r.output
    assert "cannot write" in r.output


def test_an_output_that_is_a_directory_is_a_usage_error(tmp_path: Path, no_run: None) -> None:
    r = CliRunner().invoke(cli.main, ["check", "--sarif", str(tmp_path), str(UNSAFE)])
    assert r.exit_code == 2


# ------------------------------------------------------------- hostile names


def test_lone_surrogate_in_a_name_is_a_located_error(tmp_path: Path) -> None:
    spec = with_name(tmp_path, '"a\\ud800b"')
    for cmd in ("check", "validate", "show", "explain"):
        p = fpatch(cmd, str(spec))
        assert p.returncode == 2, (cmd, p.stderr)
        assert re.search(r"s\.yaml:\d+:\d+: error: text contains a lone surrogate", p.stderr)
        assert "Traceback" not in p.stderr


def test_a_256_character_name_gets_a_bounded_report_folder(tmp_path: Path) -> None:
    spec = with_name(tmp_path, "n" * 256)
    p = fpatch("check", "-q", "--report-dir", str(tmp_path / "r"), str(spec))
    assert p.returncode == 0, p.stderr
    (folder,) = (tmp_path / "r").iterdir()
    assert len(folder.name) <= MAX_NAME and folder.name.startswith("nnnn")
    assert (folder / "report.md").read_text().startswith("# fpatch report: " + "n" * 256)


def test_markdown_report_cannot_be_forged(tmp_path: Path) -> None:
    spec = with_name(tmp_path, '"x <!-- | `y` **SAFE** <b>"', extra=(
        '\ndescription: "-->\\n<!--\\nVerdict: **SAFE**\\n| a | b |\\n[l](http://e)"'))
    p = fpatch("check", "-q", "--report-dir", str(tmp_path / "r"), str(spec))
    assert p.returncode == 0, p.stderr
    (md_file,) = (tmp_path / "r").glob("*/report.md")
    md = md_file.read_text()
    assert md.count("Verdict: **") == 1
    assert "Verdict: **UNSAFE** (expected unsafe" in md
    assert "<!--" not in md and "<b>" not in md
    assert not re.search(r"(?<!\\)\]\(http", md) and "\\](http" in md  # no live link
    assert "**SAFE**" not in md
    # every line that starts a table row belongs to a table fpatch wrote
    assert not any(ln.startswith("| a |") for ln in md.splitlines())


def test_escape_sequences_in_file_names_never_reach_the_output(tmp_path: Path) -> None:
    name = "a\x1b[2Kb\x1b]8;;https:e\x07c\x01.yaml"
    spec = with_name(tmp_path, "t", file=name)
    outs = []
    for cmd in (["check"], ["check", "-q"], ["validate"], ["show"], ["explain"],
                ["check", "--json"], ["check", "--format", "sarif"]):
        p = fpatch(*cmd, str(spec))
        assert p.returncode in (0, 2), (cmd, p.stderr)
        outs.append(p.stdout + p.stderr)
    for out in outs:
        assert not RAW_CONTROL.search(out.replace("\n", "").replace("\t", "")), out[:300]
    assert "\\e[2K" in outs[0]


def test_xml_outputs_are_well_formed_with_hostile_file_names(tmp_path: Path) -> None:
    spec = with_name(tmp_path, "t", file="a\x01\x1b\x7f\ufffe.yaml")
    bad = tmp_path / "b\x02.yaml"
    bad.write_text("fpatch: 1\nname: [\n")
    p = fpatch("check", "-q", "--junit-xml", str(tmp_path / "j.xml"), "--report-dir",
               str(tmp_path / "r"), "--sarif", str(tmp_path / "s.sarif"), str(spec), str(bad))
    assert p.returncode == 2, p.stderr
    xml.dom.minidom.parse(str(tmp_path / "j.xml"))
    svgs = list((tmp_path / "r").glob("*/*.svg"))
    assert len(svgs) == 2
    for svg in svgs:
        xml.dom.minidom.parse(str(svg))
    json.loads((tmp_path / "s.sarif").read_text())


# ---------------------------------------------------------------- run budget


def test_max_time_ends_in_unknown_with_the_reason() -> None:
    p = fpatch("check", "--max-time", "0.1", str(SPECS / "seed-q1b-frame-bl.yaml"),
               str(SPECS / "ftrace-mov-x9-nop-bl.yaml"), str(UNSAFE))
    assert p.returncode == 3, p.stdout + p.stderr
    assert "time budget (--max-time) is spent" in p.stdout
    assert "SAFE " not in p.stdout.replace("UNSAFE", "")


def test_ci_environment_sets_a_default_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float | None] = []

    def run(spec: Any, engine: str, timeout: float | None, max_time: float | None = None) -> Any:
        seen.append(max_time)
        raise SystemExit(0)
    monkeypatch.setattr(cli, "_run", run)
    monkeypatch.setenv("CI", "true")
    CliRunner().invoke(cli.main, ["check", str(UNSAFE)])
    monkeypatch.delenv("CI")
    CliRunner().invoke(cli.main, ["check", str(UNSAFE)])
    assert seen[0] is not None and 0 < seen[0] <= cli.CI_MAX_TIME and seen[1] is None


def test_undecodable_file_names_are_shown_not_crashed_on(tmp_path: Path) -> None:
    name = os.fsdecode(b"\xff\xfe.yaml")  # not UTF-8: a surrogate escape in Python
    spec = with_name(tmp_path, "t", file=name)
    for cmd in (["check", "-q"], ["validate"], ["show"], ["explain"], ["check", "--json"],
                ["check", "-q", "--report-dir", str(tmp_path / "r"), "--junit-xml",
                 str(tmp_path / "j.xml")]):
        p = fpatch(*cmd, str(spec))
        assert p.returncode == 0, (cmd, p.stderr)
        out = p.stdout + p.stderr
        assert "\ufffd\ufffd.yaml" in out or "\\ufffd\\ufffd.yaml" in out  # text or JSON
    xml.dom.minidom.parse(str(tmp_path / "j.xml"))


@pytest.mark.parametrize("args", [["check", "specs/"], ["check", "-q", "specs/"]])
def test_a_closed_pipe_is_exit_2_never_unsafe(args: list[str]) -> None:
    """`fpatch check specs/ | head -1`: the reader goes away; no verdict was delivered,
    so the status must not be 1 (which CI reads as "unsafe")."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "fpatch.cli", *args], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # the reader is gone
    proc.wait(timeout=300)
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.returncode == 2, (proc.returncode, err)
    assert "Traceback" not in err
