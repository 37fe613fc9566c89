"""User text made safe for each place it is shown: terminal, Markdown, XML, one-line messages.

Everything a spec, a litmus file or a file name says is data. It must never
move the cursor or change the terminal (escape sequences), end a Markdown
table cell or open an HTML comment that hides the verdict, or make an XML file
ill-formed. Each function here escapes for one target; the renderers apply the
one for theirs, and the verdict itself is always rendered from data, outside
any user text.
"""

from __future__ import annotations

import functools
import re

# C0 controls but tab and newline, DEL, C1 controls, lone surrogates, and the
# bidirectional overrides that make text read differently from what it is.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_UNSAFE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
_NOT_XML_RE = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e"}


def _visible(m: re.Match[str]) -> str:
    ch = m.group(0)
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: str) -> str:
    """For a terminal or a pipe: control characters and escape sequences shown as
    ``\\e``, ``\\x07``...; line breaks and tabs kept."""
    return _UNSAFE.sub(_visible, text)


def one_line(text: str, limit: int | None = None) -> str:
    """For a one-line message: every control character (line breaks too) escaped,
    and at most ``limit`` characters of the original kept (then ``...``)."""
    if limit is not None and len(text) > limit:
        return _UNSAFE_LINE.sub(_visible, text[: max(limit - 3, 1)]) + "..."
    return _UNSAFE_LINE.sub(_visible, text)


@functools.cache
def _not_xml() -> re.Pattern[str]:
    """Compiled on first use: its character ranges cost start-up time (bench/startup.py)."""
    return re.compile(_NOT_XML_RE)


def xml_chars(text: str) -> str:
    """Characters XML 1.0 cannot hold (most controls, lone surrogates, U+FFFE/F) escaped."""
    return _not_xml().sub(_visible, text)


def xml_escape(data: str, entities: dict[str, str] | None = None) -> str:
    """``xml.sax.saxutils.escape`` for text that may hold any character."""
    from xml.sax.saxutils import escape as _xml_escape  # on use: it imports urllib (start-up)

    return _xml_escape(xml_chars(data), entities or {})


def xml_quoteattr(data: str) -> str:
    """``xml.sax.saxutils.quoteattr`` for text that may hold any character; line breaks
    are kept as character references so attribute normalisation cannot eat them."""
    from xml.sax.saxutils import quoteattr as _xml_quoteattr

    return _xml_quoteattr(xml_chars(data), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


# `]` only where a link would start, `_` only where emphasis could (not inside a word).
_MD_SPECIAL = re.compile(r"([\\`*|~]|\](?=[(\[:])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_MD_LINE_START = re.compile(r"^([#+=>-])")
_MD_ORDERED = re.compile(r"^(\d+)([.)])")


def markdown(text: str) -> str:
    """Inline Markdown text: one line, no HTML, no emphasis, links, code or table cells
    started by the text; renders as the characters it is made of."""
    flat = one_line(text)
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    flat = _MD_SPECIAL.sub(r"\\\1", flat)
    return _MD_ORDERED.sub(r"\1\\\2", _MD_LINE_START.sub(r"\\\1", flat))


def markdown_lines(text: str) -> list[str]:
    """A paragraph of user text: each line escaped as ``markdown``, hard line breaks."""
    return [markdown(line) + "  " for line in text.splitlines()] or [""]


def markdown_code(text: str) -> str:
    """An inline code span holding ``text`` literally (one line, safe in a table cell)."""
    flat = one_line(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or longest else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def display_path(path: object) -> str:
    """A file name as text that can be encoded: undecodable bytes (surrogate escapes)
    become U+FFFD."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace") \
            if _decodable(text) else text.encode("utf-8", "replace").decode("utf-8")
    return text


def _decodable(text: str) -> bool:
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True
