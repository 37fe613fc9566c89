"""Start-up benchmark (not a test): CPU time of short fpatch commands.

Run with `make startup` (or `.venv/bin/python bench/startup.py`). For each
command it starts `fpatch` as a fresh process N times and prints the minimum
and median CPU time (user + system, from the kernel's accounting of the child),
against the target of 0.15 s for `--version` and `validate` of one spec. The
minimum is the figure to compare: a busy machine only adds to it. Exit status
1 if a minimum is over its target, so it can gate a release by hand.

    python bench/startup.py [-n RUNS] [--python PATH]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.15
# Bytecode is cached as an installed package has it (pip compiles on install; an editable
# install writes __pycache__ on first use), even where the shell sets PYTHONDONTWRITEBYTECODE.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
SPEC = "specs/ftrace-mov-x9-nop-bl.yaml"
COMMANDS: list[tuple[list[str], float | None]] = [
    (["--version"], TARGET),
    (["validate", SPEC], TARGET),
    (["show", SPEC], None),
    (["check", "-q", SPEC], None),
]


def cpu_of(cmd: list[str]) -> float:
    """CPU seconds (user + system) one run of ``cmd`` took."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=ENV)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=7)
    ap.add_argument("--python", default=sys.executable,
                    help="the interpreter whose fpatch to time (default: this one)")
    args = ap.parse_args()
    script = Path(args.python).parent / "fpatch"  # the console script users run
    base = [str(script)] if script.exists() else [args.python, "-m", "fpatch.cli"]
    cpu_of(base + ["--version"])  # warm the file cache and the bytecode
    print(f"{'command':50} {'min CPU s':>9} {'median':>7} {'target':>7}")
    over = False
    for extra, target in COMMANDS:
        times = [cpu_of(base + extra) for _ in range(args.runs)]
        best = min(times)
        mark = ""
        if target is not None:
            mark = f"{target:7.2f}" + ("  OVER" if best > target else "  ok")
            over |= best > target
        print(f"{'fpatch ' + ' '.join(extra):50} {best:9.3f} {statistics.median(times):7.3f} {mark}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
