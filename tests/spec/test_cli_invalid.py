"""Invalid specs through the command line: exit status 2, one
``file:line:col: error: message`` line per problem on stderr, never a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import BASE, ROOT, edit

DIAG = re.compile(r"^(?P<file>.+?):(?P<line>[0-9]+):(?P<col>[0-9]+): error: (?P<msg>.+)$")


def fpatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fpatch.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def three_errors() -> str:
    text = BASE + "frobnicate: 1\n"
    text = edit("        - nop\n", "        - nopp\n", text)
    return edit("  - sync_icache:", "  - sync_cache:", text)


def diagnostics(stderr: str) -> list[tuple[str, int, int, str]]:
    out = []
    for line in stderr.splitlines():
        m = DIAG.match(line)
        assert m, f"stderr line is not file:line:col: error: ...: {line!r}"
        out.append((m["file"], int(m["line"]), int(m["col"]), m["msg"]))
    return out


@pytest.mark.parametrize("command", ["validate", "check", "show"])
def test_invalid_spec_exit_2_with_located_errors(tmp_path: Path, command: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(three_errors())
    p = fpatch(command, str(bad))
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    found = diagnostics(p.stderr)
    assert [(f, line, col) for f, line, col, _ in found] == [
        (str(bad), 16, 11), (str(bad), 22, 5), (str(bad), 24, 1)]
    assert "unknown or unsupported mnemonic 'nopp'" in found[0][3]


@pytest.mark.parametrize("content", [
    b"",
    b"\x00\x01\x02",
    b"fpatch: 1\nname: \xff\n",
    b"[[[[[[[[",
    b"a: &a [1]\nb: *a\n",
    b"- just a list\n",
    b"!!python/object/apply:os.system [\"echo pwned\"]\n",
], ids=["empty", "binary", "bad-utf8", "unclosed", "alias", "list", "python-tag"])
def test_hostile_files_exit_2_without_traceback(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    p = fpatch("validate", str(bad))
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    assert "pwned" not in p.stdout + p.stderr
    found = diagnostics(p.stderr)
    assert found and all(f == str(bad) and line >= 1 and col >= 1 for f, line, col, _ in found)


def test_validate_reports_every_invalid_file_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(three_errors())
    (tmp_path / "b.yaml").write_text(edit("expect: safe", "expect: maybe"))
    (tmp_path / "ok.yaml").write_text(BASE)
    p = fpatch("validate", str(tmp_path))
    assert p.returncode == 2
    assert "Traceback" not in p.stdout + p.stderr
    files = [f for f, *_ in diagnostics(p.stderr)]
    assert files.count(str(tmp_path / "a.yaml")) == 3
    assert files.count(str(tmp_path / "b.yaml")) == 1
    assert f"{tmp_path / 'ok.yaml'}: ok" in p.stdout


def test_valid_spec_exit_0(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(BASE)
    p = fpatch("validate", str(good))
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
