"""Shared helpers for the spec layer's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from fpatch.errors import SpecError
from fpatch.spec.parse import parse_text

ROOT = Path(__file__).resolve().parents[2]
SPECS_DIR = ROOT / "specs"
BUNDLED = sorted(SPECS_DIR.glob("*.yaml"))

# A small valid spec (the arm64 ftrace design). Line numbers matter: tests
# locate their edits with ``where`` rather than by counting by hand.
BASE = """\
fpatch: 1
name: t
helpers:
  ftrace_caller:
    address: 0xffff800008010000
    inputs: [x9, x30, sp]
    restores: {x30: x9}
    clobbers: [x9]
sites:
  func:
    base: 0xffff800008200000
    slots: 2
    states:
      OFF:
        - mov x9, x30
        - nop
      ON:
        - mov x9, x30
        - bl ftrace_caller
steps:
  - write: {slot: 1, as: ON}
  - sync_icache: {slots: [1]}
expect: safe
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    """``text`` with the one occurrence of ``old`` replaced by ``new``."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def where(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the ``nth`` occurrence of ``needle`` in ``text``."""
    pos = -1
    for _ in range(nth + 1):
        pos = text.index(needle, pos + 1)
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def problems(text: str, path: str = "t.yaml") -> list[tuple[int, int, str]]:
    """The diagnostics of an invalid spec as sorted (line, col, message)."""
    with pytest.raises(SpecError) as info:
        parse_text(text, path)
    diags = info.value.diagnostics
    assert diags, "SpecError without diagnostics"
    for d in diags:
        assert d.loc.file == path
    return sorted((d.loc.line, d.loc.col, d.message) for d in diags)


def only(text: str) -> tuple[int, int, str]:
    """The single diagnostic of an invalid spec."""
    found = problems(text)
    assert len(found) == 1, found
    return found[0]
