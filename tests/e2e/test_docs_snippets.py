"""The CI snippets of docs/ci.md and the pre-commit examples work as written.

Every `pip install` line installs from the repository itself (fpatch is not on
PyPI), resolves to the fpatch project, and every `fpatch` command of a snippet
runs verbatim and passes on the bundled specs; every `rev:` names something
fpatch's git history has.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CI_MD = ROOT / "docs" / "ci.md"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
FPATCH = Path(sys.executable).parent / "fpatch"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", CI_MD.read_text(encoding="utf-8"), re.S)


def _commands(doc: Any) -> list[str]:
    """The shell commands of a GitHub workflow (`run:`) or a GitLab job (`script:`)."""
    out: list[str] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "run" and isinstance(v, str):
                out.append(v)
            elif k == "script" and isinstance(v, list):
                out += [str(x) for x in v]
            else:
                out += _commands(v)
    elif isinstance(doc, list):
        for v in doc:
            out += _commands(v)
    return out


def _ci_commands() -> list[str]:
    cmds = []
    for block in _blocks("yaml"):
        doc = yaml.safe_load(block)
        cmds += [" ".join(c.split()) for c in _commands(doc)]
    return cmds


def test_the_snippets_are_found() -> None:
    cmds = _ci_commands()
    assert sum("pip install" in c for c in cmds) == 2  # GitHub and GitLab
    assert sum(c.startswith("fpatch check") for c in cmds) == 2


def test_no_page_installs_fpatch_from_pypi() -> None:
    for page in [ROOT / "README.md", HOOKS, *sorted((ROOT / "docs").glob("*.md"))]:
        bad = re.findall(r"pip install (?:-U )?fpatch(?![\w@ ]*@)", page.read_text(encoding="utf-8"))
        assert not bad, f"{page.name}: {bad} (fpatch is not published; install from the repo)"


def test_install_lines_install_fpatch_from_the_repository(tmp_path: Path) -> None:
    targets = {shlex.split(c)[-1] for c in _ci_commands() if c.startswith("pip install")}
    assert targets == {"."}
    report = tmp_path / "pip.json"
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps",
                        "--ignore-installed", "-q", "--report", str(report), "."],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    if p.returncode and ("connection" in p.stderr.lower() or "network" in p.stderr.lower()):
        pytest.skip(f"pip cannot reach a package index for the build backend: {p.stderr[-300:]}")
    assert p.returncode == 0, p.stderr
    names = [i["metadata"]["name"] for i in json.loads(report.read_text())["install"]]
    assert names == ["fpatch"]


def test_snippet_fpatch_commands_run_verbatim(tmp_path: Path) -> None:
    assert FPATCH.exists(), "the test runs in fpatch's venv (make setup)"
    for k, cmd in enumerate(c for c in _ci_commands() if c.startswith("fpatch check")):
        work = tmp_path / str(k)
        work.mkdir()
        # specs/linux/ is gated by tests/e2e/test_linux_corpus.py (some of its specs use
        # spec language v2 features that are merged separately)
        shutil.copytree(ROOT / "specs", work / "specs", ignore=shutil.ignore_patterns("linux"))
        argv = shlex.split(cmd)
        p = subprocess.run([str(FPATCH), *argv[1:]], cwd=work, capture_output=True, text=True,
                           timeout=600)
        assert p.returncode == 0, f"{cmd}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
        outputs = [a for flag, a in zip(argv, argv[1:], strict=False)
                   if flag in ("--sarif", "--junit-xml", "--report-dir")]
        assert outputs
        for out in outputs:
            assert (work / out).exists(), f"{cmd}: no {out}"
        assert any((work / o).is_dir() and any((work / o).iterdir()) for o in outputs)


def _revs() -> list[tuple[str, str]]:
    revs = [("docs/ci.md", r) for r in re.findall(r"^\s*rev:\s*(\S+)", CI_MD.read_text(), re.M)]
    revs += [(".pre-commit-hooks.yaml", r)
             for r in re.findall(r"^#\s*rev:\s*(\S+)", HOOKS.read_text(), re.M)]
    revs += [("docs/ci.md", r) for r in re.findall(r"git\+[^\"]*@([\w./-]+)\"", CI_MD.read_text())]
    return revs


def test_every_rev_exists_in_the_repository() -> None:
    revs = _revs()
    assert len(revs) >= 3
    git = shutil.which("git")
    if git is None or subprocess.run([git, "rev-parse", "--git-dir"], cwd=ROOT,
                                     capture_output=True).returncode:
        pytest.skip("not a git checkout: cannot resolve the pre-commit revs")
    for where, rev in revs:
        found = any(subprocess.run([git, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                                   cwd=ROOT, capture_output=True).returncode == 0
                    for ref in (rev, f"origin/{rev}", f"refs/remotes/origin/{rev}"))
        assert found, f"{where}: rev {rev!r} is not in fpatch's git history"


def test_hooks_run_real_fpatch_commands() -> None:
    from fpatch.cli import main

    hooks = yaml.safe_load(HOOKS.read_text())
    assert {h["id"] for h in hooks} == {"fpatch-check", "fpatch-validate"}
    for h in hooks:
        prog, cmd = h["entry"].split()
        assert prog == "fpatch" and cmd in main.commands  # type: ignore[attr-defined]
        assert h["language"] == "python"  # pre-commit pip-installs the repository itself


def test_spec_format_lists_exactly_the_supported_mnemonics() -> None:
    """docs/spec-format.md's mnemonic list is the assembler's, not a copy that drifts."""
    from fpatch.isa.asm import SUPPORTED_MNEMONICS

    text = (Path(__file__).parents[2] / "docs" / "spec-format.md").read_text()
    m = re.search(r"subset is `([^`]*)`", text)
    assert m is not None
    listed = set(m.group(1).split())
    actual = {"b.COND" if x.startswith("b.") else x for x in SUPPORTED_MNEMONICS}
    assert listed == actual
