"""End-to-end: the CLI as a user and a CI job run it (subprocess, real files)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
SPECS = ROOT / "specs"


def fpatch(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fpatch.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_check_bundled_specs_is_green() -> None:
    p = fpatch("check", "-q", "specs")  # the folder, recursively: specs/linux/ too
    assert p.returncode == 0, p.stdout + p.stderr
    n = len(list(SPECS.rglob("*.yaml")))  # specs/linux too
    assert f"{n} spec(s): {n} as expected, 0 not as expected, 0 unknown, 0 invalid" in p.stdout
    assert "Traceback" not in p.stdout + p.stderr


def test_removing_expect_unsafe_fails_the_gate(tmp_path: Path) -> None:
    src = (SPECS / "seed-q2-disable-stop-machine-preemptible.yaml").read_text()
    assert "expect: unsafe\n" in src
    bad = tmp_path / "q2.yaml"
    bad.write_text(src.replace("expect: unsafe\n", ""))
    p = fpatch("check", str(bad))
    assert p.returncode == 1
    assert "FAIL" in p.stdout and "INEQUIVALENT" in p.stdout
    assert "stp x29, x30, [sp, #-16]!" in p.stdout  # the counterexample is printed


def test_expecting_unsafe_of_a_safe_spec_fails(tmp_path: Path) -> None:
    src = (SPECS / "ftrace-mov-x9-nop-bl.yaml").read_text().replace("expect: safe", "expect: unsafe")
    (tmp_path / "s.yaml").write_text(src)
    assert fpatch("check", str(tmp_path / "s.yaml")).returncode == 1


def test_invalid_spec_exits_2_with_located_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("fpatch: 1\nsites:\n  f:\n    base: 0x1000\n    slots: 1\n"
                   "    states:\n      A: [frobnicate x0]\nsteps:\n  - write: {slot: 3, as: A}\n")
    for cmd in ("check", "validate"):
        p = fpatch(cmd, str(bad))
        assert p.returncode == 2
        assert f"{bad}:7:" in p.stderr and "frobnicate" in p.stderr
        assert f"{bad}:9:" in p.stderr and "slot 3 does not exist" in p.stderr
        assert "Traceback" not in p.stdout + p.stderr


def test_unknown_exits_3() -> None:
    p = fpatch("check", "-q", "tests/data/loop-in-state.yaml")
    # A looping run cannot be explored to the end: unknown, never safe.
    assert p.returncode == 3, p.stdout
    assert ": unknown (" in p.stdout and "max_insns" in p.stdout


def test_json_output_is_data() -> None:
    p = fpatch("check", "--json", "specs/seed-q2-disable-stop-machine-preemptible.yaml",
               "specs/ftrace-mov-x9-nop-bl.yaml")
    assert p.returncode == 0
    doc = json.loads(p.stdout)
    assert doc["schema"] == 1 and doc["summary"]["total"] == 2
    unsafe, safe = doc["results"]
    assert unsafe["verdict"] == "unsafe" and safe["verdict"] == "safe"
    cx = unsafe["counterexamples"][0]
    assert cx["violation"] == "inequivalent" and cx["observer"] == "thread"
    assert cx["execs"][0]["word"] == "a9bf7bfd"
    assert any(d["what"] == "sp" for d in cx["diffs"])


def test_show_prints_states_and_transitions() -> None:
    p = fpatch("show", "--no-color", "specs/seed-q2-disable-stop-machine-preemptible.yaml")
    assert p.returncode == 0
    out = p.stdout
    assert "stp x29, x30, [sp, #-16]!" in out and "(a9bf7bfd)" in out
    assert "B --[1: write func slot 0 as in B']--> B'" in out
    j = json.loads(fpatch("show", "--json", "specs/ftrace-mov-x9-nop-bl.yaml").stdout)
    assert j["sites"][0]["differing_slots"] == [1]
    assert [t["to"] for t in j["sites"][0]["transitions"]] == ["ON", "OFF"]


def test_version_and_usage_errors(tmp_path: Path) -> None:
    p = fpatch("--version")
    assert p.returncode == 0 and "fpatch" in p.stdout
    assert fpatch("check", str(tmp_path / "missing.yaml")).returncode == 2
    assert fpatch("check", str(tmp_path)).returncode == 2  # a folder with no specs


def test_enumerator_engine_from_the_cli() -> None:
    p = fpatch("check", "-q", "--engine", "enum", "specs")
    assert p.returncode == 0, p.stdout
