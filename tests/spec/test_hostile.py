"""Hostile specs: whatever the input, the parser returns a Spec or raises SpecError
whose diagnostics are located (line and column >= 1) and say something; it never
raises anything else and never takes long."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fpatch.errors import SpecError
from fpatch.spec.parse import parse_file, parse_text
from fpatch.spec.types import Spec

from .helpers import BASE, BUNDLED, SPECS_DIR, edit

EXAMPLES = 300
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# every bundled spec, the Linux corpus too (spec language v2: marks, complete, errata,
# bti/pac/enter, data words and reads, code graphs, batches)
SOURCES = [BASE] + [p.read_text() for p in sorted({*BUNDLED, *SPECS_DIR.rglob("*.yaml")})]

TOKENS = [
    "&a ", "*a", "&a [1, 2]", "!!python/object/apply:os.system [ls]", "!!python/name:os.system",
    "<<: *x", "<<: {a: 1}", "!!binary aGk=", "!!set {a}", "!!omap [a: 1]", "!custom ", "? ",
    "[" * 200, "{" * 200, "- " * 100, "[[[[", "]]", "}", "{", ": ", "- ", "#", " #", "|", ">",
    "'", '"', "\\", "\t", "\x00", "\r", "\ufeff", "\u2028", "\x85", "%YAML 1.1\n", "---\n",
    "...\n", "\n", "  ", "9" * 5000, "0x" + "f" * 40, "0x" + "f" * 5000, "-1", "1e999", ".nan",
    ".inf", "~", "null",
    "yes", "ON", "1f", "1b", ".+4", ". - 8", "#-16", "b 1" + "1" * 5000, "x31", "sp", "lr",
    "stop_machine:", "write: {}", "slot: 9", "width: 8", "as: ", "insn: ", "value: ",
    "ipi_sync", "wait_tasks", "dsb: ", "isb: sy", "data: {d: {offset: -8}}", "entry: 9",
    "valid: []", "states: {}", "sites: {}", "1:", "start:", "2020-01-01", "12:30:00",
    "0o17", "0b101", "017", "+0x10", "1_000", "ldr x0, 0", "adrp x0, .", "hint #5",
    "- mark: m", "mark: end", "complete: [end]", "complete: [nope]", "errata: [x]",
    "bti: true", "pac: 1", "enter: none", "enter: sideways", "reachable_after: nope",
    "valid_data: {A: {d: [x]}}", "reads: [{base: x30, align: 3}]", "instances: [0x4]",
    "count: 100000000", "stride: 2", "sites: all", ":lo12:", "add x0, x0, :lo12:nope",
]


def check(run) -> Spec | None:  # type: ignore[no-untyped-def]
    """Run the parser; accept a Spec or a well-formed SpecError, nothing else."""
    try:
        spec = run()
    except SpecError as exc:
        assert exc.diagnostics, "SpecError without diagnostics"
        for d in exc.diagnostics:
            assert d.loc.line >= 1 and d.loc.col >= 1, d
            assert isinstance(d.message, str) and d.message.strip(), d
        str(exc)  # rendering never fails either
        return None
    assert isinstance(spec, Spec)
    return spec


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A bundled spec with a few line- and character-level edits."""
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        op = draw(st.sampled_from(["del", "dup", "swap", "insert", "replace", "cut", "indent"]))
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if op == "del" and lines:
            del lines[i]
        elif op == "dup" and lines:
            lines.insert(i, lines[i])
        elif op == "indent" and lines:
            lines[i] = draw(st.sampled_from(["", " ", "  ", "\t", "      "])) + lines[i].lstrip()
        text = "\n".join(lines)
        if op == "swap" and len(text) > 2:
            j = draw(st.integers(0, len(text) - 2))
            text = text[:j] + text[j + 1] + text[j] + text[j + 2:]
        elif op == "insert":
            j = draw(st.integers(0, len(text)))
            text = text[:j] + draw(st.sampled_from(TOKENS)) + text[j:]
        elif op == "replace" and text:
            j = draw(st.integers(0, len(text) - 1))
            text = text[:j] + draw(st.characters(exclude_categories=["Cs"])) + text[j + 1:]
        elif op == "cut" and text:
            j = draw(st.integers(0, len(text) - 1))
            text = text[:j] + text[j + draw(st.integers(1, 40)):]
    return text


_TMP = Path(tempfile.mkdtemp(prefix="fpatch-hostile-"))


def parse_bytes(data: bytes) -> Spec | None:
    p = _TMP / "spec.yaml"
    p.write_bytes(data)
    return check(lambda: parse_file(p))


# ------------------------------------------------------------------ properties


@SETTINGS
@given(st.binary(max_size=3000))
@example(b"\xff\xfe\x00")
@example(b"fpatch: 1\n\xc3\x28\n")
@example(b"\xef\xbb\xbffpatch: 1\n")
def test_random_bytes(data: bytes) -> None:
    parse_bytes(data)


@SETTINGS
@given(st.text(max_size=2000))
def test_random_text(text: str) -> None:
    check(lambda: parse_text(text, "t.yaml"))


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS + ["a", "b", "fpatch", "sites", "steps", "1", "\n"]),
                max_size=60).map("".join))
def test_random_yaml_token_soup(text: str) -> None:
    check(lambda: parse_text(text, "t.yaml"))


@SETTINGS
@given(mutated())
@example(edit("        - nop\n", "        - b " + "1" * 5000 + "\n"))  # ValueError in int()
@example(edit("{slot: 1, as: ON}", '{slot: 1, insn: "mov x0, #' + "1" * 5000 + '"}'))
@example(edit("        - nop\n", "        - &n nop\n").replace("- bl ftrace_caller", "- *n"))
@example(edit("    slots: 2\n", "    slots: 2\n    data: {d: {offset: -8, size: 0}}\n"))
def test_mutated_specs(text: str) -> None:
    check(lambda: parse_text(text, "t.yaml"))


@SETTINGS
@given(mutated(), st.integers(0, 10_000), st.binary(min_size=1, max_size=4))
def test_mutated_specs_as_bytes(text: str, pos: int, junk: bytes) -> None:
    """Invalid UTF-8 and NUL bytes spliced into a file."""
    data = text.encode("utf-8")
    pos %= len(data) + 1
    parse_bytes(data[:pos] + junk + data[pos:])


# ------------------------------------------------------------- fixed hostiles


def _bomb(levels: int = 9) -> str:
    text = 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels + 1):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n"
    return text


@pytest.mark.parametrize("text", [
    _bomb(),
    BASE.replace("expect: safe\n", _bomb().replace("\n", "\n  ").replace("l0:", "x:\n  l0:", 1)),
    'a: &a "lol"\nb: [' + ", ".join(["*a"] * 5000) + "]\n",
], ids=["top-level", "nested", "scalar-fanout"])
def test_billion_laughs_is_prompt(text: str) -> None:
    start = time.monotonic()
    with pytest.raises(SpecError) as info:
        parse_text(text, "t.yaml")
    assert time.monotonic() - start < 5
    assert any("YAML aliases" in d.message for d in info.value.diagnostics)


@pytest.mark.parametrize("text", [
    "[" * 100_000,
    "{a: " * 50_000,
    "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 1000)),
    "- " * 5000 + "x",
], ids=["flow-seq", "flow-map", "block-map", "block-seq"])
def test_deep_nesting_is_an_error(text: str) -> None:
    start = time.monotonic()
    with pytest.raises(SpecError) as info:
        parse_text(text, "t.yaml")
    assert time.monotonic() - start < 10
    [d] = info.value.diagnostics
    assert (d.loc.line, d.loc.col) >= (1, 1)
    assert "nested too deeply" in d.message or "larger than" in d.message


@pytest.mark.parametrize("value", [
    "9" * 5000, "0x" + "f" * 5000, "-" + "9" * 100, "1e999", ".inf", ".nan", "0o17", "017",
    "12:30", "2020-01-01", "1_000", "+0x10",
], ids=lambda v: v if len(v) < 20 else f"{v[:6]}...{len(v)}chars")
@pytest.mark.parametrize("key", ["    base: ", "    slots: ", "timeout: ", "max_insns: "],
                         ids=str.strip)
def test_odd_numbers_never_crash(key: str, value: str) -> None:
    old = {"    base: ": "    base: 0xffff800008200000", "    slots: ": "    slots: 2",
           "timeout: ": "expect: safe", "max_insns: ": "expect: safe"}[key]
    new = key + value if key.startswith(" ") else key + value + "\nexpect: safe"
    check(lambda: parse_text(edit(old, new), "t.yaml"))


HUGE = "0x" + "f" * 5000


@pytest.mark.parametrize("old,new", [
    ("fpatch: 1", f"fpatch: {HUGE}"),
    ("{slot: 1, as: ON}", f"{{slot: 1, as: ON, width: {HUGE}}}"),
    ("{slot: 1, as: ON}", f"{{slot: {HUGE}, as: ON}}"),
    ("{slot: 1, as: ON}", f"{{slot: 1, value: {HUGE}}}"),
    ("{slots: [1]}", f"{{slots: [{HUGE}]}}"),
    ("    slots: 2\n", f"    slots: 2\n    data: {{d: {{offset: -8, size: {HUGE}}}}}\n"),
    ("    slots: 2\n", f"    slots: 2\n    data: {{d: {{offset: {HUGE}}}}}\n"),
    ("    slots: 2\n", f"    slots: 2\n    entry: {HUGE}\n"),
    ("    address: 0xffff800008010000", f"    address: {HUGE}"),
], ids=["version", "width", "slot", "value", "slots", "data-size", "data-offset", "entry",
        "helper-address"])
def test_huge_integers_are_errors(old: str, new: str) -> None:
    # Regression: str() of such an int raised ValueError while building a message.
    with pytest.raises(SpecError) as info:
        parse_text(edit(old, new), "t.yaml")
    assert any("20000-bit number is too large" in d.message for d in info.value.diagnostics)
