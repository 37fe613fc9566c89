"""`make install` puts a working `fpatch` on PATH, as the README's first screen says.

A real install (its own venv and a link under PREFIX) from this checkout, not
editable: it also proves that the package ships everything it needs at run time
(schemas, the report writers).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="no `make` on PATH")
def test_make_install_puts_a_working_fpatch_under_prefix(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")}
    assert str(prefix) not in env.get("PATH", "")  # so the target must say how to add it
    p = subprocess.run(["make", "-s", "install", f"PREFIX={prefix}"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=900)
    if p.returncode and "No matching distribution" in p.stderr:
        pytest.skip(f"no package index reachable for the run-time deps: {p.stderr[-300:]}")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    exe = prefix / "bin" / "fpatch"
    assert exe.is_symlink() and exe.exists()
    assert f'export PATH="{prefix}/bin:$PATH"' in p.stdout
    assert subprocess.run([str(exe), "--version"], capture_output=True, text=True,
                          timeout=60).stdout.strip() == "fpatch, version 0.1.0"
    # the installed copy checks a spec and writes every report file
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "specs" / "ftrace-mov-x9-nop-bl.yaml", work / "s.yaml")
    r = subprocess.run([str(exe), "check", "-q", "--report-dir", "out", "s.yaml"], cwd=work,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    files = sorted(f.name for f in (work / "out" / "ftrace-mov-x9-nop-bl").iterdir())
    assert files == ["report.html", "report.json", "report.md", "states.dot", "states.svg",
                     "timeline.svg"]
    # run-time deps only: no test or lint tools in the installed environment
    venv = prefix / "lib" / "fpatch" / "bin"
    assert (venv / "python").exists() and not (venv / "pytest").exists()
    assert not (venv / "ruff").exists()
