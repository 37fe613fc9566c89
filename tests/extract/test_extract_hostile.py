"""fpatch extract on inputs it cannot use: one `file: error: ...` line, exit 2, never a traceback."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from fpatch.cli import main
from fpatch.extract.elf import ExtractError
from fpatch.extract.run import extract_file
from fpatch.extract.template import builtin
from tests.extract.conftest import Cross


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["extract", *args])
    return r.exit_code, r.stdout, r.stderr


def one_error(err: str, path: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{path}: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def objs(cross: Cross) -> dict[str, Path]:
    return {
        "ftrace": cross.compile("funcs.c", "h-funcs.o", "-fpatchable-function-entry=2"),
        "plain": cross.compile("funcs.c", "h-plain.o"),
        "keys": cross.compile("static_keys.c", "h-keys.o"),
        "exe": cross.compile("main.c", "h-prog", "-fpatchable-function-entry=2", link=True,
                             extra=("funcs.c", "static_keys.c")),
    }


def _patched(src: Path, dst: Path, offset: int, value: int) -> Path:
    data = bytearray(src.read_bytes())
    data[offset] = value
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("case,expect", [
    ("text", "not an ELF file"),
    ("empty", "not an ELF file"),
    ("big-endian", "big-endian ELF is not supported"),
    ("x86-64", "not an AArch64 ELF file (x86-64)"),
    ("riscv", "not an AArch64 ELF file (RISC-V)"),
    ("32-bit", "32-bit ELF is not supported"),
    ("truncated", "malformed ELF"),
    ("directory", "is a directory"),
    ("missing", "cannot read: No such file or directory"),
])
def test_unusable_files(objs: dict[str, Path], tmp_path: Path, case: str, expect: str) -> None:
    good = objs["ftrace"]
    path = {
        "text": lambda: (tmp_path / "notes.txt", (tmp_path / "notes.txt").write_text("hello\n")),
        "empty": lambda: (tmp_path / "empty.o", (tmp_path / "empty.o").write_bytes(b"")),
        "big-endian": lambda: (_patched(good, tmp_path / "be.o", 5, 2), None),
        "x86-64": lambda: (_patched(good, tmp_path / "x86.o", 18, 62), None),
        "riscv": lambda: (_patched(good, tmp_path / "rv.o", 18, 243), None),
        "32-bit": lambda: (_patched(good, tmp_path / "c32.o", 4, 1), None),
        "truncated": lambda: ((tmp_path / "t.o"), (tmp_path / "t.o").write_bytes(
            good.read_bytes()[:400])),
        "directory": lambda: (tmp_path, None),
        "missing": lambda: (tmp_path / "nope.o", None),
    }[case]()[0]
    code, out, err = run(str(path), "-o", str(tmp_path / "out"))
    assert code == 2
    assert expect in one_error(err, str(path))
    assert not list((tmp_path / "out").glob("*.yaml"))


def test_real_x86_object_if_a_host_compiler_exists(tmp_path: Path) -> None:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no host C compiler")
    src = tmp_path / "x.c"
    src.write_text("int f(int x) { return x + 1; }\n")
    obj = tmp_path / "x.o"
    p = subprocess.run([cc, "-c", "-fpatchable-function-entry=2", "-o", str(obj), str(src)],
                       capture_output=True, text=True)
    if p.returncode:
        pytest.skip(f"host compiler failed: {p.stderr}")
    head = obj.read_bytes()[:20]
    if head[18] == 183:
        pytest.skip("the host is AArch64")
    code, _, err = run(str(obj), "-o", str(tmp_path / "out"))
    assert code == 2 and "not an AArch64 ELF file" in one_error(err, str(obj))


def test_missing_sections(objs: dict[str, Path], tmp_path: Path) -> None:
    code, _, err = run(str(objs["plain"]), "-o", str(tmp_path))
    assert code == 2
    assert "no __patchable_function_entries section" in one_error(err, str(objs["plain"]))
    code, _, err = run("--mechanism", "jump-label", str(objs["ftrace"]), "-o", str(tmp_path))
    assert code == 2 and "no __jump_table section" in one_error(err, str(objs["ftrace"]))


def test_stripped_files(cross: Cross, objs: dict[str, Path], tmp_path: Path) -> None:
    strip = shutil.which("aarch64-linux-gnu-strip")
    if strip is None:
        pytest.skip("aarch64-linux-gnu-strip missing")
    exe = tmp_path / "stripped"
    subprocess.run([strip, "-o", str(exe), str(objs["exe"])], check=True)
    # ftrace needs the function symbols to find each entry
    code, _, err = run(str(exe), "-o", str(tmp_path / "f"))
    assert code == 2 and "no function symbols (stripped?)" in one_error(err, str(exe))
    # --function needs them for any mechanism
    code, _, err = run("--mechanism", "jump-label", str(exe), "-o", str(tmp_path / "j"),
                       "--function", "likely_user")
    assert code == 2 and "no symbol table (stripped?)" in one_error(err, str(exe))
    # jump labels do not: the sites are named by address
    code, out, err = run("--mechanism", "jump-label", str(exe), "-o", str(tmp_path / "j"))
    assert code == 0, err
    assert len(list((tmp_path / "j").glob("*.yaml"))) == 2 and "0x" in out


def test_one_bad_file_does_not_stop_the_others(objs: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.o"
    bad.write_text("nope")
    code, out, err = run(str(bad), str(objs["ftrace"]), "-o", str(tmp_path / "out"))
    assert code == 2
    one_error(err, str(bad))
    assert len(list((tmp_path / "out").glob("*.yaml"))) >= 3


@pytest.mark.parametrize("body,expect", [
    ("{{{", "not valid YAML"),
    ("- a list\n", "expected a mapping at the top"),
    ("template: 2\n", "'template: 1' is required"),
    ("template: 1\nbogus: 1\n", "unknown key 'bogus'"),
    ("template: 1\nmechanism: m\nfinder: elsewhere\nname: n\nsite: {states: {A: {}}}\nsteps: []\n",
     "unknown finder 'elsewhere'"),
    ("template: 1\nmechanism: m\nfinder: jump-table\nname: n\nsite: {states: {A: {slot9: nop}}}\n"
     "steps: []\n", "unknown role 'slot9'"),
    ("template: 1\nmechanism: m\nfinder: jump-table\nname: n\nsite: {states: {A: {code: nop}}}\n"
     "steps: []\nspec: {sites: {}}\n", "spec: unexpected 'sites'"),
    ("template: 1\nmechanism: m\nfinder: jump-table\nname: ${nosuch}\n"
     "site: {states: {A: {code: nop}}}\nsteps: []\n", "unknown placeholder ${nosuch}"),
    ("template: 1\nmechanism: m\nfinder: jump-table\nname: n\n"
     "site: {states: {A: {code: brk 99999999}}}\nsteps: []\n", "gives an invalid spec"),
])
def test_bad_templates(objs: dict[str, Path], tmp_path: Path, body: str, expect: str) -> None:
    tpl = tmp_path / "t.yaml"
    tpl.write_text(body)
    code, _, err = run("--template", str(tpl), str(objs["keys"]), "-o", str(tmp_path / "o"))
    assert code == 2, err
    line = err.strip().splitlines()
    assert len(line) == 1 and expect in line[0] and "Traceback" not in err


def test_unknown_mechanism_and_bad_options(objs: dict[str, Path], tmp_path: Path) -> None:
    code, _, err = run("--mechanism", "kprobes", str(objs["ftrace"]), "-o", str(tmp_path))
    assert code == 2 and "unknown mechanism 'kprobes' (built in: ftrace, jump-label" in err
    code, _, err = run("--base", "0x123", str(objs["ftrace"]), "-o", str(tmp_path))
    assert code == 2 and "4 KiB aligned" in err
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(str(objs["ftrace"]), "-o", str(blocker / "sub"))
    assert code == 2 and "cannot create the output folder" in err


def test_mutated_objects_never_raise_anything_but_extract_errors(
        objs: dict[str, Path], tmp_path: Path) -> None:
    """Random byte changes (headers, section table, data) and truncations of real
    objects: extraction either works or raises ExtractError (one line), nothing else."""
    rng = random.Random(10)
    sources = [objs[k].read_bytes() for k in ("ftrace", "keys", "exe")]
    templates = [builtin("ftrace"), builtin("jump-label")]
    outcomes = {"ok": 0, "error": 0}
    out = tmp_path / "out"
    out.mkdir()
    for i in range(150):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 6)):
            # half the changes in the ELF header and the first section headers
            hi = len(data) if rng.random() < 0.5 else min(len(data), 64)
            data[rng.randrange(hi)] = rng.randrange(256)
        if rng.random() < 0.15:
            data = data[: rng.randrange(len(data))]
        path = tmp_path / f"m{i}.o"
        path.write_bytes(bytes(data))
        for t in templates:
            try:
                extract_file(str(path), t, out, (), {})
                outcomes["ok"] += 1
            except ExtractError as exc:
                assert "\n" not in str(exc)
                outcomes["error"] += 1
    assert outcomes["ok"] and outcomes["error"]


def test_as_a_process(objs: dict[str, Path], tmp_path: Path) -> None:
    """`python -m fpatch.cli extract` (the command is registered before main runs)."""
    import sys

    bad = tmp_path / "x.txt"
    bad.write_text("x")
    p = subprocess.run([sys.executable, "-m", "fpatch.cli", "extract", str(bad),
                        str(objs["ftrace"]), "-o", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr == f"{bad}: error: not an ELF file\n"
    assert p.stdout.endswith(f"3 spec(s) written to {tmp_path / 'o'}\n")


def test_control_characters_in_symbol_names(objs: dict[str, Path], tmp_path: Path) -> None:
    """A function called `uses<ESC>[\\nlper` (bytes patched into the string table): the spec
    holds the name with its control characters escaped (a spec may not hold them), and no
    escape reaches the terminal."""
    from fpatch.spec import parse_file

    data = objs["ftrace"].read_bytes()
    assert data.count(b"\0uses_helper\0") == 1
    evil = tmp_path / "evil.o"
    evil.write_bytes(data.replace(b"\0uses_helper\0", b"\0uses\x1b[\nlper\0"))
    code, out, err = run(str(evil), "-o", str(tmp_path / "o"))
    assert code == 0, err
    assert "\x1b" not in out + err and "uses\\e[\\nlper" in out
    names = {parse_file(p).sites[0].name for p in (tmp_path / "o").glob("*.yaml")}
    assert "uses\\e[\\nlper" in names
    code, out, err = run(str(evil), "-o", str(tmp_path / "p"), "--function", "uses\x1b*")
    assert code == 0, err
    assert len(list((tmp_path / "p").glob("*.yaml"))) == 1
