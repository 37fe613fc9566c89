"""Both visible herd data sets against herd's verdicts (kinds.txt).

The data lives in ../shared/data next to the clone: the catalogue folder
DIC0-IDC0 (107 tests) and 240 generated tests. Its absence is a failure, not a
skip (set FPATCH_ALLOW_NO_SHARED=1 to skip), so CI cannot go green without
running it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fpatch.litmus.runner import Row, read_kinds, run

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
SETS = {  # name -> (tests folder, kinds file, number of tests)
    "catalogue": (DATA / "herd-ifetch" / "DIC0-IDC0", DATA / "herd-ifetch" / "kinds.txt", 107),
    "generated": (DATA / "herd-ifetch-gen" / "tests", DATA / "herd-ifetch-gen" / "kinds.txt", 240),
}
GAPS = REPO / "fpatch" / "litmus" / "known-gaps.txt"


def _shared(name: str) -> tuple[Path, Path, int]:
    folder, kinds, n = SETS[name]
    if not folder.is_dir() or not kinds.is_file():
        if os.environ.get("FPATCH_ALLOW_NO_SHARED") == "1":
            pytest.skip(f"{folder} missing; FPATCH_ALLOW_NO_SHARED=1")
        pytest.fail(f"herd's ifetch tests are required at {folder} "
                    "(set FPATCH_ALLOW_NO_SHARED=1 to skip)")
    return folder, kinds, n


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


_ROWS: dict[str, list[Row]] = {}


def rows_of(name: str) -> list[Row]:
    if name not in _ROWS:
        folder, kinds, n = _shared(name)
        lines: list[str] = []
        rows, _ = run([str(folder)], read_kinds(kinds), lines.append)
        assert len(rows) == n
        _ROWS[name] = rows
    return _ROWS[name]


@pytest.mark.parametrize("name", sorted(SETS))
def test_every_test_agrees_or_is_a_listed_gap(name: str) -> None:
    gaps = known_gaps()
    bad = []
    for r in rows_of(name):
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


def test_issue_bar_on_both_sets_together() -> None:
    """>= 98% of the supported tests agree, none unsound, <= 3% unsupported."""
    rows = rows_of("catalogue") + rows_of("generated")
    unsound = [r.name for r in rows if r.expected in ("Allowed",)
               and r.answer.verdict in ("Forbidden", "Required")]
    assert not unsound
    judged = [r for r in rows if r.status in ("agree", "DISAGREE")]
    agree = sum(r.status == "agree" for r in judged)
    assert agree >= 0.98 * len(judged)
    assert sum(r.status == "unsupported" for r in rows) <= 0.03 * len(rows)


def test_no_expectation_rows_are_not_disagreements() -> None:
    folder, kinds, _ = _shared("catalogue")
    names = {p.stem for p in folder.glob("*.litmus")}
    assert len(names - set(read_kinds(kinds))) == 4
