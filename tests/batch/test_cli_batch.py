"""The command line over batches and folders: -j N keeps input order and the exit
status; safe shapes are reused across specs; a batch's counterexample shows its own
site's rows; no progress bar off a terminal."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from fpatch import batch
from fpatch.encoding import check_spec
from fpatch.report import progress
from fpatch.spec import parse_file, parse_text

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"


def fpatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fpatch.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=600, check=False)


def folder(tmp_path: Path) -> list[Path]:
    names = ["ftrace-mov-x9-nop-bl.yaml", "ftrace-forgot-ic-ivau.yaml", "jump-label-nop-b.yaml"]
    out = []
    for i, n in enumerate(names * 2):
        dst = tmp_path / f"{i:02}-{n}"
        shutil.copy(SPECS / n, dst)
        out.append(dst)
    return out


def test_jobs_keep_input_order_and_exit_status(tmp_path: Path) -> None:
    files = folder(tmp_path)
    (tmp_path / "99-bad.yaml").write_text("fpatch: 1\nsites: 3\nsteps: []\n", encoding="utf-8")
    one = fpatch("check", "-q", str(tmp_path))
    two = fpatch("check", "-q", "-j", "2", str(tmp_path))
    assert one.returncode == two.returncode == 2  # the invalid spec ranks first
    def timeless(out: str) -> str:
        return re.sub(r", [0-9.]+s$", "", out, flags=re.M)

    assert timeless(one.stdout) == timeless(two.stdout)
    lines = [ln.split()[1].rstrip(":") for ln in two.stdout.splitlines()[:-1]]
    assert lines == [str(p) for p in files] + [str(tmp_path / "99-bad.yaml")]
    assert re.search(r"99-bad\.yaml:\d+:\d+: error:", two.stderr)
    assert "\x1b[" not in two.stderr  # no progress bar off a terminal


def test_progress_bar_only_on_a_terminal(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("FPATCH_NO_PROGRESS", raising=False)
    assert progress.wanted()
    monkeypatch.setenv("CI", "true")
    assert not progress.wanted()
    monkeypatch.delenv("CI")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert not progress.wanted()


def test_safe_shape_is_reused_and_unsafe_is_not(tmp_path: Path) -> None:
    batch._SAFE.clear()
    calls: list[str] = []

    def run(spec, left):  # type: ignore[no-untyped-def]
        calls.append(spec.path)
        return check_spec(spec, None, left)

    safe = (SPECS / "ftrace-mov-x9-nop-bl.yaml").read_text(encoding="utf-8")
    moved = safe.replace("0xffff800008200000", "0xffff800008300040")
    (tmp_path / "a.yaml").write_text(safe, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(moved, encoding="utf-8")
    ra = batch.check_one(parse_file(tmp_path / "a.yaml"), run, "smt")
    rb = batch.check_one(parse_file(tmp_path / "b.yaml"), run, "smt")
    assert ra.verdict == rb.verdict == "safe" and len(calls) == 1
    assert rb.path.endswith("b.yaml")
    unsafe = (SPECS / "ftrace-forgot-ic-ivau.yaml").read_text(encoding="utf-8")
    for n in ("c", "d"):
        (tmp_path / f"{n}.yaml").write_text(unsafe, encoding="utf-8")
        r = batch.check_one(parse_file(tmp_path / f"{n}.yaml"), run, "smt")
        assert r.verdict == "unsafe"
        assert all(c.loc is None or c.loc.file.endswith(f"{n}.yaml") for c in r.counterexamples)
    assert len(calls) == 3


BATCH = """\
fpatch: 1
cache: {idc: false, dic: false}
env: {preemptible: false, nmi: false}
helpers:
  ftrace_caller:
    address: 0xffff800008010000
    inputs: [x9, x30, sp]
    restores: {x30: x9}
    clobbers: [x9]
sites:
  f:
    base: 0xffff800008200000
    count: 6
    stride: 0x40
    slots: 2
    states:
      OFF: ['mov x9, x30', nop]
      ON: ['mov x9, x30', bl ftrace_caller]
steps:
  - write: {sites: all, slot: 1, as: ON}
  - dsb
expect: safe
"""


def test_batch_counterexamples_name_their_own_site(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(BATCH, encoding="utf-8")
    p = fpatch("check", "--json", str(path))
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    [res] = doc["results"]
    spec = parse_text(BATCH, str(path))
    assert {o["site"] for o in res["observers"]} == {s.name for s in spec.sites}
    by_site = {c["site"]: c for c in res["counterexamples"]}
    assert set(by_site) == {s.name for s in spec.sites}
    for s in spec.sites:
        execs = by_site[s.name]["execs"]
        assert execs and all(x["addr"] in (s.base, s.base + 4) for x in execs)
    text = fpatch("check", str(path)).stdout
    # f[3]'s counterexample shows f[3]'s rows only: its own write, the others as one step
    block = text[text.index("site f[3], observer thread\n  caused"):]
    block = block[:block.index("cx1", 10)] if "cx1" in block[10:] else block
    assert "write f[3] slot 1 as in ON" in block
    assert "write f[2]" not in block and "write f[4]" not in block
