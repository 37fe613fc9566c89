"""Shared fixtures for the ISA tests: GNU binutils as the oracle.

Helpers live here (exposed through fixtures) rather than in an importable
module so the tests work under any pytest import mode.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

AS = "aarch64-linux-gnu-as"
LD = "aarch64-linux-gnu-ld"
OBJDUMP = "aarch64-linux-gnu-objdump"

# Where the linked .text starts: every corpus line i sits at BASE + 4*i.
BASE = 0x400000
HIGH_BASE = 0xFFFF800010000000  # kernel-like addresses, to exercise wrap-around of targets


@dataclass(frozen=True)
class Dumped:
    """One line of ``objdump -d``: address, 32-bit word and normalised text."""

    addr: int
    word: int
    mnemonic: str
    text: str


_LINE_RE = re.compile(r"^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(.*)$")
_TARGET_MNEMONICS = {"b", "bl", "cbz", "cbnz", "adr", "adrp", "ldr"} | {
    f"b.{c}" for c in ("eq", "ne", "cs", "cc", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt",
                       "gt", "le", "al", "nv")}


def normalise_objdump(raw: str) -> tuple[str, str]:
    """objdump's instruction text -> (mnemonic, text in fpatch's canonical form).

    Normalisation: comments (``// #16``, ``; undefined``) and symbolic
    annotations (``<.text+0xc>``) are dropped, whitespace collapsed, and a bare
    hex branch/literal target (``1008``) is written ``0x1008``.
    """
    s = re.sub(r"\s*//.*$", "", raw)
    s = re.sub(r"\s*;.*$", "", s)
    s = re.sub(r"\s*<[^>]*>", "", s).strip()
    parts = s.split(None, 1)
    mnemonic = parts[0] if parts else ""
    if len(parts) == 1:
        return mnemonic, mnemonic
    operands = re.sub(r"\s+", " ", parts[1])
    head, _, last = operands.rpartition(", ")
    if mnemonic in _TARGET_MNEMONICS and re.fullmatch(r"[0-9a-f]+", last):
        last = f"0x{int(last, 16):x}"
        operands = f"{head}, {last}" if head else last
    return mnemonic, f"{mnemonic} {operands}"


class Binutils:
    """Runs as + ld + objdump once per batch of lines."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.counter = 0

    def dump(self, lines: Sequence[str], base: int = BASE) -> list[Dumped]:
        """Assemble ``lines`` (one instruction or ``.inst`` each) into .text at
        ``base`` and return objdump's view of every word, in order."""
        self.counter += 1
        stem = self.workdir / f"batch{self.counter}"
        src = stem.with_suffix(".s")
        src.write_text(".text\n" + "\n".join(lines) + "\n")
        obj, elf = stem.with_suffix(".o"), stem.with_suffix(".elf")
        subprocess.run([AS, "-march=armv8.4-a", "-o", str(obj), str(src)], check=True, capture_output=True)
        subprocess.run([LD, f"-Ttext=0x{base:x}", "-e", f"0x{base:x}", "-o", str(elf), str(obj)],
                       check=True, capture_output=True)
        out = subprocess.run([OBJDUMP, "-d", "-z", "-j", ".text", str(elf)], check=True,
                             capture_output=True, text=True).stdout
        result: list[Dumped] = []
        for line in out.splitlines():
            m = _LINE_RE.match(line)
            if not m:
                continue
            mnemonic, text = normalise_objdump(m.group(3))
            result.append(Dumped(int(m.group(1), 16), int(m.group(2), 16), mnemonic, text))
        if len(result) != len(lines):
            raise AssertionError(f"objdump returned {len(result)} words for {len(lines)} lines")
        return result


@pytest.fixture(scope="session")
def binutils(tmp_path_factory: pytest.TempPathFactory) -> Binutils:
    missing = [t for t in (AS, LD, OBJDUMP) if shutil.which(t) is None]
    if missing:
        if os.environ.get("FPATCH_ALLOW_NO_BINUTILS") == "1":
            pytest.skip(f"binutils missing ({', '.join(missing)}); FPATCH_ALLOW_NO_BINUTILS=1")
        pytest.fail(f"GNU binutils for aarch64 are required as the test oracle; missing: "
                    f"{', '.join(missing)} (set FPATCH_ALLOW_NO_BINUTILS=1 to skip)")
    return Binutils(tmp_path_factory.mktemp("binutils"))


@pytest.fixture(scope="session")
def normalise() -> Callable[[str], tuple[str, str]]:
    return normalise_objdump
