"""Start-up: the short commands import none of the heavy libraries (timings: bench/startup.py).

`fpatch --version` and `fpatch validate` must not pay for networkx, z3, rich or the
report writers; they are imported where they are used.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("networkx", "z3", "rich", "fpatch.encoding", "fpatch.report.svg", "fpatch.isa.semantics")

PROBE = """
import json, sys
from fpatch.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _modules(*args: str) -> set[str]:
    p = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    return set(json.loads(p.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [("--version",),
                                  ("validate", "specs/ftrace-mov-x9-nop-bl.yaml")])
def test_short_commands_skip_heavy_imports(args: tuple[str, ...]) -> None:
    mods = _modules(*args)
    loaded = sorted(m for m in HEAVY if m in mods)
    assert not loaded, f"fpatch {' '.join(args)} imported {loaded}"


def test_check_still_imports_what_it_uses() -> None:
    """The probe sees real imports: a check loads the solver (the test can fail)."""
    mods = _modules("check", "-q", "specs/ftrace-mov-x9-nop-bl.yaml")
    assert {"z3", "rich"} <= mods


def test_isa_semantics_is_the_function_however_imported() -> None:
    """fpatch.isa loads `semantics` lazily; the name is the function, not the submodule."""
    code = ("import fpatch.isa.ir, fpatch.isa.interp\nfrom fpatch.isa import semantics\n"
            "import fpatch.isa\nassert callable(semantics) and fpatch.isa.semantics is semantics\n"
            "from fpatch.isa import semantics as again\nassert again is semantics\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
