"""The whole DIC0-IDC0 catalogue against herd's verdicts (kinds.txt).

The data lives in ../shared/data/herd-ifetch next to the clone. Its absence is
a failure, not a skip (set FPATCH_ALLOW_NO_SHARED=1 to skip), so CI cannot go
green without running it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fpatch.litmus.runner import read_kinds, run

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "herd-ifetch"
GAPS = REPO / "fpatch" / "litmus" / "known-gaps.txt"


def _shared() -> Path:
    if not (SHARED / "DIC0-IDC0").is_dir() or not (SHARED / "kinds.txt").is_file():
        if os.environ.get("FPATCH_ALLOW_NO_SHARED") == "1":
            pytest.skip(f"{SHARED} missing; FPATCH_ALLOW_NO_SHARED=1")
        pytest.fail(f"herd's ifetch catalogue is required at {SHARED} "
                    "(set FPATCH_ALLOW_NO_SHARED=1 to skip)")
    return SHARED


def known_gaps() -> dict[str, tuple[str, str]]:
    """NAME -> (status, reason); every entry must give a reason."""
    out = {}
    for ln in GAPS.read_text().splitlines():
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        name, rest = ln.split(None, 1)
        status, _, reason = rest.partition(":")
        assert status in ("unsupported", "disagree"), ln
        assert reason.strip(), f"known gap without a reason: {ln}"
        out[name] = (status, reason.strip())
    return out


def test_catalogue_agrees_with_herd() -> None:
    shared = _shared()
    kinds = read_kinds(shared / "kinds.txt")
    lines: list[str] = []
    t0 = time.monotonic()
    rows, _ = run([str(shared / "DIC0-IDC0")], kinds, lines.append)
    elapsed = time.monotonic() - t0
    gaps = known_gaps()
    assert len(rows) == 107
    bad = []
    for r in rows:
        st = r.status
        if st in ("agree", "no expectation") and r.name not in gaps:
            continue
        if st == "DISAGREE" and gaps.get(r.name, ("",))[0] == "disagree":
            continue
        if st == "unsupported" and gaps.get(r.name, ("",))[0] == "unsupported":
            continue
        bad.append(f"{r.name}: expected {r.expected}, fpatch {r.answer.text()} ({st}); "
                   f"known gap: {gaps.get(r.name)}")
    assert not bad, "\n".join(bad)
    # The bar: no Forbidden where herd allows; >= 95% agree; <= 10% unsupported.
    unsound = [r.name for r in rows if r.expected == "Allowed" and r.answer.verdict == "Forbidden"]
    assert not unsound
    with_kind = [r for r in rows if r.expected is not None]
    agree = sum(r.status == "agree" for r in with_kind)
    answered = [r for r in with_kind if r.status in ("agree", "DISAGREE")]
    assert agree >= 0.95 * len(answered)
    assert sum(r.status == "unsupported" for r in rows) <= 0.10 * len(rows)
    assert lines[-1].startswith(f"{agree} agree, 0 disagree")
    assert elapsed < 60


def test_no_expectation_rows_are_not_disagreements() -> None:
    shared = _shared()
    kinds = read_kinds(shared / "kinds.txt")
    names = {p.stem for p in (shared / "DIC0-IDC0").glob("*.litmus")}
    assert len(names - set(kinds)) == 4
