"""docs/tutorial.md and the README's sample run: every `$ fpatch ...` block is real output.

Each ```console block that starts with `$ fpatch ...` holds that command's output
as fpatch prints it when piped (plain text, 160 columns), from the repository
root. The test runs every command again and compares, with only the timings
(`0.12s`) and query counts masked, so the pages cannot go stale. After a change in fpatch's
output, regenerate them:

    .venv/bin/python tests/e2e/test_tutorial.py --update     (or: make docs)
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "docs" / "tutorial.md", ROOT / "README.md"]
BLOCK = re.compile(r"```console\n(\$ fpatch [^\n]*)\n(.*?)```", re.S)
TIMING = re.compile(r"\b\d+\.\d\ds\b")
QUERIES = re.compile(r"\(\d+ queries")


def run(command: str) -> str:
    """The output of one documented command (`$ fpatch ...`), as a reader sees it."""
    argv = shlex.split(command[2:])
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR")}
    p = subprocess.run([sys.executable, "-m", "fpatch.cli", *argv[1:]], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    return "".join(ln.rstrip() + "\n" for ln in out.splitlines())


def _mask(text: str) -> str:
    """Timings, and the solver's query counts (a query cut short on a busy machine adds none)."""
    return QUERIES.sub("(N queries", TIMING.sub("N.NNs", text))


def blocks(page: Path) -> list[tuple[str, str]]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def update(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    text = BLOCK.sub(lambda m: f"```console\n{m.group(1)}\n{run(m.group(1))}```", text)
    page.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_documented_output_is_what_fpatch_prints(page: Path) -> None:
    found = blocks(page)
    assert found, f"{page.name} has no `$ fpatch` console block"
    for command, shown in found:
        assert _mask(run(command)) == _mask(shown), (
            f"{page.name}: the output of `{command[2:]}` changed; regenerate with "
            f"`python tests/e2e/test_tutorial.py --update` and read the diff")


def test_the_tutorial_replays_the_rfc_argument() -> None:
    commands = " ".join(c for c, _ in blocks(PAGES[0]))
    for spec in ("seed-q2-enable-no-stop-machine-nonpreemptible",
                 "seed-q2-enable-stop-machine-nonpreemptible",
                 "seed-q2-disable-stop-machine-preemptible",
                 "seed-q2-disable-stop-machine-preemptible-wait-tasks",
                 "seed-q1a-mov-x9-bl"):
        assert f"specs/{spec}.yaml" in commands


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(__doc__)
    for p in PAGES:
        update(p)
        print(f"updated {p.relative_to(ROOT)} ({len(blocks(p))} command(s))")
