"""fpatch.textsafe: each escaper keeps its promise for any text at all."""

from __future__ import annotations

import re
import xml.dom.minidom

from hypothesis import given, settings
from hypothesis import strategies as st

from fpatch.textsafe import (
    display_path,
    markdown,
    markdown_code,
    one_line,
    terminal,
    xml_escape,
    xml_quoteattr,
)

ANY = st.text(st.characters(codec=None, exclude_categories=()), max_size=60) | st.sampled_from([
    "\x1b[2K", "\x1b]8;;http://e\x07x\x1b]8;;\x07", "\ud800", "\udfff", "\ufffe", "\x00",
    "a\nVerdict: **SAFE**", "<!--", "|", "`", "``", "\\", "\r\n", "\u202e", "\x85", "\x9b"])
RUNS = settings(max_examples=300, deadline=None, derandomize=True)


@RUNS
@given(ANY)
def test_xml_escape_is_always_well_formed(text: str) -> None:
    doc = f"<a b={xml_quoteattr(text)}>{xml_escape(text)}</a>"
    xml.dom.minidom.parseString(doc.encode("utf-8", "strict"))


@RUNS
@given(ANY)
def test_terminal_keeps_no_control_character_but_line_breaks(text: str) -> None:
    out = terminal(text)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e]", out)
    out.encode("utf-8")  # printable anywhere


@RUNS
@given(ANY, st.integers(min_value=4, max_value=80))
def test_one_line_is_one_bounded_line(text: str, limit: int) -> None:
    out = one_line(text, limit)
    assert "\n" not in out and "\r" not in out and len(out) <= 10 * limit
    assert not re.search("[\x00-\x1f\x7f-\x9f]", out)


@RUNS
@given(ANY)
def test_markdown_text_opens_nothing(text: str) -> None:
    out = markdown(text)
    assert "\n" not in out and "<" not in out and ">" not in out
    # every |, backtick and * is escaped (preceded by an odd number of backslashes)
    for m in re.finditer(r"[|`*]", out):
        run = len(out[:m.start()]) - len(out[:m.start()].rstrip("\\"))
        assert run % 2 == 1, (out, m.start())


@RUNS
@given(ANY)
def test_markdown_code_is_one_span(text: str) -> None:
    out = markdown_code(text)
    fence = re.match("`+", out)
    assert fence and out.endswith(fence.group(0)) and "\n" not in out
    inner = out[len(fence.group(0)):-len(fence.group(0))]
    assert fence.group(0) not in inner
    assert "|" not in inner.replace("\\|", "")


def test_display_path_of_undecodable_bytes() -> None:
    assert display_path("a\udcffb.yaml") == "a\ufffdb.yaml"
    assert display_path("plain.yaml") == "plain.yaml"
    display_path("\ud800").encode("utf-8")
