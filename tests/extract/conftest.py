"""Fixtures for the extract tests: the aarch64 cross compiler and objdump as oracles."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

CC = "aarch64-linux-gnu-gcc"
OBJDUMP = "aarch64-linux-gnu-objdump"
DATA = Path(__file__).parent / "data"

_LINE = re.compile(r"^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s")
_SYM = re.compile(r"^([0-9a-f]+) <([^>]+)>:$")


@dataclass
class Dump:
    """``objdump -d`` of a file: every instruction word by address, symbols by name."""

    words: dict[int, int]
    symbols: dict[str, int]


@dataclass
class Cross:
    root: Path

    def compile(self, source: str, out: str, *flags: str, link: bool = False,
                extra: tuple[str, ...] = ()) -> Path:
        """Compile ``tests/extract/data/<source>`` (and ``extra`` sources when linking)."""
        dst = self.root / out
        srcs = [str(DATA / source), *(str(DATA / e) for e in extra)]
        cmd = [CC, "-O2", "-fno-pie", *flags]
        cmd += ["-no-pie", "-o", str(dst), *srcs] if link else ["-c", "-o", str(dst), *srcs]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return dst

    def objdump(self, path: Path) -> Dump:
        p = subprocess.run([OBJDUMP, "-d", str(path)], capture_output=True, text=True,
                           timeout=60, check=True)
        words: dict[int, int] = {}
        symbols: dict[str, int] = {}
        for line in p.stdout.splitlines():
            m = _LINE.match(line)
            if m:
                words[int(m.group(1), 16)] = int(m.group(2), 16)
            m = _SYM.match(line)
            if m:
                symbols[m.group(2)] = int(m.group(1), 16)
        assert words, p.stdout
        return Dump(words, symbols)


@pytest.fixture(scope="session")
def cross(tmp_path_factory: pytest.TempPathFactory) -> Cross:
    missing = [t for t in (CC, OBJDUMP) if shutil.which(t) is None]
    if missing:
        if os.environ.get("FPATCH_ALLOW_NO_BINUTILS") == "1":
            pytest.skip(f"cross tools missing ({', '.join(missing)}); FPATCH_ALLOW_NO_BINUTILS=1")
        pytest.fail(f"the aarch64 cross compiler is the oracle of the extract tests; missing: "
                    f"{', '.join(missing)} (`make tools` installs gcc-aarch64-linux-gnu; set "
                    f"FPATCH_ALLOW_NO_BINUTILS=1 to skip)")
    return Cross(tmp_path_factory.mktemp("cross"))
