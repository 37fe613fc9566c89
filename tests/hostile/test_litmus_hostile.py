"""Hostile litmus files, lists and kinds files (issue 12): each is a clean error with
exit status 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fpatch.cli import main
from fpatch.litmus import LitmusSyntaxError, LitmusUnsupported
from fpatch.litmus.parse import MAX_CACHE_OPS, MAX_INSTRUCTIONS, parse_litmus

GOOD = """AArch64 T
{ 0:X0=NOP; 0:X1=P0:L0; 0:X9=0; }
P0              | P1          ;
    STR W0,[X1] | MOV X3,#1   ;
L0: B L1        |             ;
    MOV W9,#1   |             ;
L1:             |             ;
exists (0:X9=0 /\\ 1:X3=1)
"""


def edit(old: str, new: str) -> str:
    assert GOOD.count(old) == 1
    return GOOD.replace(old, new)


BAD = {
    "missing thread in condition": (edit("1:X3=1)", "5:X3=1)"), "no thread P5"),
    "missing register": (edit("1:X3=1)", "1:X99=1)"), "no register 99"),
    "init register out of range": (edit("0:X9=0;", "0:X31=0;"), "no register 31"),
    "init thread missing": (edit("0:X9=0;", "7:X1=0;"), "no thread P7"),
    "5000-digit value": (edit("1:X3=1)", "1:X3=" + "9" * 5000 + ")"), "too long"),
    "5000-digit thread": (edit("0:X1=P0:L0", "0:X1=P" + "9" * 5000 + ":L0"), "too long"),
    "deep parentheses": (edit("exists (0:X9=0 /\\ 1:X3=1)",
                              "exists " + "(" * 5000 + "0:X9=0" + ")" * 5000), "nested"),
    "deep negation": (edit("exists (0:X9=0 /\\ 1:X3=1)", "exists " + "~" * 5000 + "0:X9=0"),
                      "nested"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_litmus_is_a_syntax_error(case: str) -> None:
    text, why = BAD[case]
    with pytest.raises(LitmusSyntaxError, match=why):
        parse_litmus(text)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_litmus_exits_2_with_one_line(tmp_path: Path, case: str) -> None:
    f = tmp_path / "t.litmus"
    f.write_text(BAD[case][0])
    r = CliRunner().invoke(main, ["litmus", str(f)])
    assert r.exit_code == 2, r.output
    assert len(r.output.splitlines()) == 1 and "error: cannot read" in r.output


def test_good_litmus_still_answers() -> None:
    parse_litmus(GOOD)  # the edits above are what make the cases bad


def test_too_many_instructions_is_unsupported_before_the_work() -> None:
    rows = "    NOP         |             ;\n" * MAX_INSTRUCTIONS
    with pytest.raises(LitmusUnsupported, match="instruction cells"):
        parse_litmus(edit("L1:             |             ;\n",
                          "L1:             |             ;\n" + rows))


def test_too_many_cache_operations_is_unsupported_before_the_work() -> None:
    """Each DC/IC doubled the engine's work: 15 took minutes (the issue's 8 GB test)."""
    rows = "    DC CVAU,X1  |             ;\n" * (MAX_CACHE_OPS + 1)
    with pytest.raises(LitmusUnsupported, match="cache maintenance"):
        parse_litmus(edit("L0: B L1        |             ;\n",
                          rows + "L0: B L1        |             ;\n"))
    parse_litmus(edit("L0: B L1        |             ;\n",
                      rows[:-len(rows) // (MAX_CACHE_OPS + 1)] + "L0: B L1        |             ;\n"))


@pytest.mark.parametrize("content", [b"AArch64 x\xff\n", b"\xfe\xff\x00"])
def test_non_utf8_litmus_file(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "t.litmus"
    f.write_bytes(content)
    r = CliRunner().invoke(main, ["litmus", str(f)])
    assert r.exit_code == 2 and "not valid UTF-8" in r.output


def test_lists_that_include_themselves_are_missing_or_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "t.litmus").write_text(GOOD)
    (tmp_path / "self").write_text("t.litmus\n@self\n")
    (tmp_path / "a").write_text("@b\n")
    (tmp_path / "b").write_text("@a\n")
    (tmp_path / "gone").write_text("@nothere\n")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\n")
    for lst, why in (("self", "includes itself"), ("a", "includes itself"),
                     ("gone", "cannot read list"), ("bin", "not valid UTF-8"),
                     ("missing", "cannot read list")):
        r = CliRunner().invoke(main, ["litmus", f"@{tmp_path / lst}"])
        assert r.exit_code == 2, (lst, r.output)
        assert why in r.output and "Traceback" not in r.output
    # a list may name the same test twice (not a cycle)
    (tmp_path / "twice").write_text("t.litmus\nt.litmus\n")
    r = CliRunner().invoke(main, ["litmus", f"@{tmp_path / 'twice'}"])
    assert r.exit_code == 0 and r.output.count("T ") == 2


def test_kinds_file_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "t.litmus").write_text(GOOD)
    (tmp_path / "kinds").write_bytes(b"T \xff\n")
    r = CliRunner().invoke(main, ["litmus", str(tmp_path / "t.litmus"), "--compare",
                                  str(tmp_path / "kinds")])
    assert r.exit_code == 2 and "not valid UTF-8" in r.output


def test_escape_sequences_in_test_names_are_shown_escaped(tmp_path: Path) -> None:
    f = tmp_path / "t.litmus"
    f.write_text(GOOD.replace("AArch64 T", "AArch64 \x1b[2KT\x1b]8;;x\x07"))
    r = CliRunner().invoke(main, ["litmus", str(f)])
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.output and "\x07" not in r.output and "\\e[2KT" in r.output
