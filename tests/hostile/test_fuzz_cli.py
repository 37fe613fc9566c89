"""The hostile suite (issue 12): specs, litmus files, list files, kinds files and
command lines drawn by hypothesis, run through the real CLI (in process).

For every input it asserts: no exception escapes (no traceback), the exit status is
one a verdict or a usage error gives (0-3; 4, an internal error, is a bug found),
no raw control character or escape sequence reaches the output, every XML/SVG file
written is well-formed, no run outlives its budget, and an explicit YAML tag never
changes what a spec means.

``FPATCH_HOSTILE_EXAMPLES`` sets the examples per test (default 60, 5 tests: a few
hundred inputs in ``make test``); ``make fuzz`` runs 2,500 per test (12,500 inputs).
The runs are derandomized, so CI is deterministic.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
import time
import xml.dom.minidom
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from fpatch.cli import EXIT_INTERNAL, EXIT_STATUSES, main
from fpatch.errors import Loc, SpecError
from fpatch.spec import parse_text
from tests.spec.test_hostile import SOURCES, mutated

EXAMPLES = int(os.environ.get("FPATCH_HOSTILE_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
VERDICT_STATUSES = set(EXIT_STATUSES) - {EXIT_INTERNAL}  # 4 would be a bug found
BUDGET = 2.0  # --max-time of every check run here
SLACK = 20.0  # parsing, building reports, a loaded CI machine
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

LITMUS = """AArch64 T
{ 0:X0=NOP; 0:X1=P0:L0; 0:X9=0; }
P0              | P1          ;
    STR W0,[X1] | MOV X3,#1   ;
    DC CVAU,X1  |             ;
    DSB ISH     |             ;
L0: B L1        |             ;
    MOV W9,#1   |             ;
L1:             |             ;
exists (0:X9=0 /\\ 1:X3=1)
"""
LITMUS_TOKENS = [
    "P0", "P1", "P7", "P99999", "|", ";", "\n", "(", ")", "(" * 80, ")" * 80, "~" * 80,
    "/\\", "\\/", "exists", "~exists", "forall", "0:X9", "1:X99", "5:X1", "0:W31", "x",
    "[x]", "=", "NOP", "label:\"P0:L0\"", "instr:\"B .+8\"", "instr:\"bogus\"", "P0:L9",
    "9" * 5000, "0x" + "f" * 50, "-1", "{", "}", "(*", "*)", "CacheType=IDC DIC", "L0:",
    "B L0", "ISB", "IC IVAU,X1", "STR W0,[X9]", "LDR W0,[X1]", "\x1b[2K", "\x1b]8;;u\x07",
    "\x00", "\ud800", "\ufeff", "AArch64", "MOV W9,#1", "BL L1", "RET", "CBZ X9,L1",
]
ARG_TOKENS = [
    "check", "validate", "show", "explain", "litmus", "--json", "-q", "--no-color",
    "--format", "text", "json", "sarif", "xml", "--timeout", "--max-time", "nan", "inf",
    "-inf", "-1", "0", "0.05", "1e400", "1", "2", "abc", "--engine", "smt", "enum", "z3",
    "--report-dir", "--sarif", "--junit-xml", "--compare", "{spec}", "{spec}", "{bad}",
    "{dir}", "{missing}", "{file_in_file}", "{litmus}", "@{list}", "{kinds}", "--help",
    "--version", "-", "--", "\x1b[2K", "\ud800", "x" * 300, "",
]


@contextmanager
def workdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="fpatch-fuzz-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run(args: list[str], seconds: float = BUDGET + SLACK) -> Result:
    t0 = time.monotonic()
    r = CliRunner().invoke(main, args, catch_exceptions=True)
    took = time.monotonic() - t0
    out = r.output
    note(f"args={args!r} exit={r.exit_code} output={out[:2000]!r}")
    # no traceback: nothing but SystemExit left the command
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code in VERDICT_STATUSES, (r.exit_code, out[-500:])
    assert "Traceback" not in out
    assert not RAW.search(out), RAW.search(out)
    assert took < seconds, f"took {took:.1f}s"
    return r


def assert_outputs_well_formed(folder: Path) -> None:
    for f in folder.rglob("*"):
        if f.suffix in (".xml", ".svg"):
            xml.dom.minidom.parse(str(f))  # raises on ill-formed XML
        if f.suffix == ".md":
            text = f.read_text(encoding="utf-8")
            assert not RAW.search(text.replace("\n", ""))
            assert text.count("\nVerdict: **") == 1


def hostile_name() -> st.SearchStrategy[str]:
    return st.sampled_from(["s.yaml", "a b.yaml", "a\x1bb.yaml", "x\x01.yaml", "-q.yaml",
                            "n" * 200 + ".yaml", "é.yaml", "a\ufffe.yaml", "s.yml"])


# ------------------------------------------------------------------ specs


@SETTINGS
@given(mutated() | st.sampled_from(SOURCES), hostile_name(),
       st.sampled_from([["validate"], ["show"], ["check", "-q"], ["check", "--json"],
                        ["check", "--format", "sarif"], ["explain"], ["check", "--reports"]]))
def test_hostile_specs_through_the_cli(text: str, name: str, cmd: list[str]) -> None:
    with workdir() as d:
        spec = d / name
        spec.write_text(text, encoding="utf-8", errors="surrogatepass")
        args = list(cmd)
        if args[-1] == "--reports":
            args = ["check", "-q", "--report-dir", str(d / "r"), "--junit-xml",
                    str(d / "j.xml"), "--sarif", str(d / "s.sarif")]
        if args[0] in ("check", "explain"):
            args += ["--max-time", str(BUDGET), "--timeout", "1"]
        run(args + [str(spec)])
        assert_outputs_well_formed(d)


@SETTINGS
@given(st.sampled_from(SOURCES), st.data())
def test_explicit_tags_never_change_a_spec(text: str, data: st.DataObject) -> None:
    """`nmi: !!bool 1` read as false was a false safe: a tagged value is either read
    exactly as the same value untagged, or rejected."""
    plain = parse_text(text, "t.yaml")
    scalars = [m for m in re.finditer(r"(?<=: )(true|false|yes|no|on|off|\d+|0x[0-9a-f]+)\b",
                                      text)]
    if not scalars:
        return
    m = data.draw(st.sampled_from(scalars))
    tag = data.draw(st.sampled_from(["!!bool ", "!!int ", "!!str ", "!!float ", "!!null "]))
    value = data.draw(st.sampled_from([m.group(0), "1", "0", "true", "y", "0x1", "''"]))
    tagged = text[:m.start()] + tag + value + text[m.end():]
    untagged = text[:m.start()] + value + text[m.end():]
    note(f"{m.group(0)!r} -> {tag}{value}")
    try:
        got = parse_text(tagged, "t.yaml")
    except SpecError:
        return
    if tag == "!!str ":
        return  # a string, as if quoted; type errors were reported above if any
    assert _meaning(got) in (_meaning(parse_text(untagged, "t.yaml")), _meaning(plain))


def _meaning(obj: object) -> object:
    """A spec as nested tuples without source locations (a tag shifts columns)."""
    if isinstance(obj, Loc):
        return None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return (type(obj).__name__,) + tuple(_meaning(getattr(obj, f.name))
                                             for f in dataclasses.fields(obj))
    if isinstance(obj, (tuple, list)):
        return tuple(_meaning(x) for x in obj)
    if isinstance(obj, dict):
        return tuple(sorted((repr(k), _meaning(v)) for k, v in obj.items()))
    return obj


# ---------------------------------------------------------------- litmus


@st.composite
def hostile_litmus(draw: st.DrawFn) -> str:
    text = LITMUS
    for _ in range(draw(st.integers(1, 5))):
        j = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "cut", "dup"]))
        if op == "insert":
            text = text[:j] + draw(st.sampled_from(LITMUS_TOKENS)) + text[j:]
        elif op == "cut":
            text = text[:j] + text[j + draw(st.integers(1, 30)):]
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines[i:i] = [lines[i]] * draw(st.integers(1, 20))
            text = "\n".join(lines)
    return text


@SETTINGS
@given(hostile_litmus(), st.booleans())
def test_hostile_litmus_files(text: str, compare: bool) -> None:
    with workdir() as d:
        f = d / "t.litmus"
        f.write_text(text, encoding="utf-8", errors="surrogatepass")
        args = ["litmus", str(f)]
        if compare:
            (d / "kinds.txt").write_text("T Forbidden\nU Allowed\n")
            args += ["--compare", str(d / "kinds.txt")]
        run(args, seconds=60)


@SETTINGS
@given(st.lists(st.sampled_from(["t.litmus", "@self", "@other", "@missing", "missing.litmus",
                                 "# comment", "", "@", "t.litmus # note", "\x1b[2K",
                                 "../t.litmus", "@bin"]), max_size=8),
       st.lists(st.sampled_from(["@self", "t.litmus", "@other"]), max_size=3),
       st.binary(max_size=40), st.sampled_from(["@self", "@other", "@bin"]))
def test_hostile_list_and_kinds_files(lines: list[str], other: list[str], junk: bytes,
                                      start: str) -> None:
    with workdir() as d:
        (d / "t.litmus").write_text(LITMUS)
        (d / "self").write_text("\n".join(lines) + "\n")
        (d / "other").write_text("\n".join(other) + "\n")
        (d / "bin").write_bytes(junk)
        (d / "kinds").write_bytes(b"T Forbidden\n" + junk)
        run(["litmus", "@" + str(d / start[1:])], seconds=60)
        run(["litmus", str(d / "t.litmus"), "--compare", str(d / "kinds")], seconds=60)


# ------------------------------------------------------------- command lines


@SETTINGS
@given(st.lists(st.sampled_from(ARG_TOKENS), min_size=1, max_size=8))
def test_hostile_command_lines(tokens: list[str]) -> None:
    with workdir() as d:
        spec = d / "s.yaml"
        spec.write_text(SOURCES[1], encoding="utf-8")
        (d / "bad.yaml").write_text("fpatch: 1\nname: [\n")
        (d / "dir").mkdir()
        (d / "file").write_text("x")
        (d / "t.litmus").write_text(LITMUS)
        (d / "list").write_text("t.litmus\n")
        (d / "kinds").write_text("T Forbidden\n")
        subs = {"{spec}": str(spec), "{bad}": str(d / "bad.yaml"), "{dir}": str(d / "dir"),
                "{missing}": str(d / "missing.yaml"), "{file_in_file}": str(d / "file" / "x"),
                "{litmus}": str(d / "t.litmus"), "{list}": str(d / "list"),
                "{kinds}": str(d / "kinds")}
        args = []
        for t in tokens:
            for k, v in subs.items():
                t = t.replace(k, v)
            args.append(t)
        if args[0] in ("check", "explain"):
            args[1:1] = ["--max-time", str(BUDGET), "--timeout", "1"]
        run(args, seconds=BUDGET * 3 + SLACK)
        assert_outputs_well_formed(d)
