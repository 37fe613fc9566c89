"""The spec keys of data words read by code (docs/spec-format.md, data; MODEL.md 6.7):
symbols as values, ``valid_data``, helper ``reads``; every bad input located."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fpatch.spec.parse import parse_text

from ..spec.helpers import ROOT, edit, only, where

SPEC = """\
fpatch: 1
name: t
symbols:
  ops_a: 0xffff800082a01000
  ops_b: 0xffff00000c3f1200
helpers:
  ftrace_caller:
    address: 0xffff800008010000
    inputs: [x9, x30, sp]
    restores: {x30: x9}
    clobbers: [x9]
    reads: [{base: x30, align: 8, offset: -16, size: 8}]
sites:
  func:
    base: 0xffff800008200000
    slots: 2
    data:
      ops: {offset: -8, size: 8, value: ops_a}
    states:
      ON:
        - mov x9, x30
        - bl ftrace_caller
    valid_data:
      ON: {ops: [ops_a, ops_b, 0x10]}
steps:
  - write: {data: ops, value: ops_b}
"""


def test_symbols_valid_data_and_reads_parse() -> None:
    spec = parse_text(SPEC, "t.yaml")
    site = spec.site("func")
    assert site.data[0].value == 0xFFFF800082A01000
    assert site.valid_values("ON", "ops") == (0xFFFF800082A01000, 0xFFFF00000C3F1200, 0x10)
    assert site.valid_values("OFF", "ops") is None
    (h,) = spec.helpers
    assert [(r.base, r.align, r.offset, r.size) for r in h.reads] == [("x30", 8, -16, 8)]
    assert spec.steps[0].data == (0xFFFF00000C3F1200).to_bytes(8, "little")  # type: ignore[union-attr]


def test_ldr_by_data_word_name_assembles_as_a_literal() -> None:
    text = edit("        - mov x9, x30\n", '        - "ldr x16, ops"\n', SPEC)
    site = parse_text(text, "t.yaml").site("func")
    assert site.states[0].words[0] == 0x58FFFFD0  # ldr x16, .-8


@pytest.mark.parametrize(("old", "new", "needle", "message"), [
    ("value: ops_a}", "value: nosuch}", "nosuch",
     "sites.func.data.ops.value: unknown symbol 'nosuch'"),
    ("      ON: {ops:", "      OFF: {ops:", "OFF",
     "sites.func.valid_data: unknown state 'OFF' (states: ON)"),
    ("      ON: {ops:", "      ON: {opz:", "opz",
     "sites.func.valid_data.ON: no data word 'opz' (data words: ops)"),
    ("{ops: [ops_a, ops_b, 0x10]}", "{ops: []}", "[]}",
     "sites.func.valid_data.ON.ops: expected at least one value"),
    ("{ops: [ops_a, ops_b, 0x10]}", "{ops: [-1]}", "-1]",
     "sites.func.valid_data.ON.ops: -1 is out of range 0..18446744073709551615"),
    ("value: ops_b}", "value: ops_c}", "ops_c", "write.value: unknown symbol 'ops_c'"),
    ("base: x30, align: 8", "base: x99, align: 8", "x99", None),
    ("align: 8,", "align: 6,", "align", "helpers.ftrace_caller.reads.align: expected a power of "
                                       "two, got 6"),
    ("size: 8}]", "size: 2}]", "size: 2", "helpers.ftrace_caller.reads.size: expected 4 or 8, "
                                          "got 2"),
    ("offset: -16,", "offset: -16, width: 8,", "width", None),
])
def test_bad_data_keys_are_located(old: str, new: str, needle: str, message: str | None) -> None:
    text = edit(old, new, SPEC)
    line, col, msg = only(text)
    assert (line, col) == where(text, needle), msg
    if message is not None:
        assert msg == message


def test_bad_valid_data_exits_2_on_the_command_line(tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.yaml"
    bad.write_text(edit("      ON: {ops:", "      ON: {opz:", SPEC))
    p = subprocess.run([sys.executable, "-m", "fpatch.cli", "check", str(bad)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    line, col = where(bad.read_text(), "opz")
    assert f"{bad}:{line}:{col}: error: sites.func.valid_data.ON: no data word 'opz'" in p.stderr
