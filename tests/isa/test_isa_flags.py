"""Flags (the ``nzcv`` pseudo-register), conditional branches/selects, register ALU ops
and cache maintenance: semantics against a reference, and both engines accept them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from fpatch.cli import main
from fpatch.isa import Insn, assemble, decode, semantics
from fpatch.isa.interp import Machine, execute
from fpatch.isa.ir import REGISTERS, Maintenance, Reg

CONDS = ["eq", "ne", "cs", "cc", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le"]


def _run(lines: list[str], regs: dict[str, int], pc: int = 0x1000) -> tuple[Machine, list[int]]:
    m = Machine({r: 0 for r in REGISTERS} | regs, lambda a: 0)
    nexts = []
    for t in lines:
        insn = decode(assemble(t, pc), pc)
        assert isinstance(insn, Insn), t
        nexts.append(execute(semantics(insn, pc), m, pc).next_pc)
    return m, nexts


def _ref(c: str, a: int, b: int, bits: int) -> bool:
    mask = (1 << bits) - 1
    a, b = a & mask, b & mask
    sa = a - (1 << bits) if a >> (bits - 1) else a
    sb = b - (1 << bits) if b >> (bits - 1) else b
    res = (a - b) & mask
    neg = bool(res >> (bits - 1))
    overflow = sa - sb != (res - (1 << bits) if neg else res)
    return {"eq": a == b, "ne": a != b, "cs": a >= b, "cc": a < b, "hi": a > b, "ls": a <= b,
            "ge": sa >= sb, "lt": sa < sb, "gt": sa > sb, "le": sa <= sb, "mi": neg,
            "pl": not neg, "vs": overflow, "vc": not overflow}[c]


def test_cmp_sets_flags_like_the_architecture() -> None:
    rnd = random.Random(5)
    edges = [0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x7FFFFFFFFFFFFFFF,
             0x8000000000000000, 0xFFFFFFFFFFFFFFFF]
    vals = edges + [rnd.getrandbits(64) for _ in range(4)]
    for a in vals:
        for b in vals:
            for wide in (True, False):
                r = "x" if wide else "w"
                for c in CONDS:
                    m, _ = _run([f"cmp {r}1, {r}2", f"cset {r}3, {c}"], {"x1": a, "x2": b})
                    assert m.regs["x3"] == int(_ref(c, a, b, 64 if wide else 32)), (a, b, c)


def test_branches_selects_and_alu() -> None:
    m, nexts = _run(["cmp w1, #5", "b.eq 0x2000", "csel x4, x1, x2, ne", "cinc x5, x2, eq",
                     "csinc x6, x1, x2, ne", "and x7, x1, x2", "orr x8, x1, x2",
                     "eor w9, w1, w2", "add x10, x1, x2", "sub w11, w1, w2",
                     "subs x12, x1, #0x6", "b.mi 0x3000"],
                    {"x1": 5, "x2": 0xFFFFFFFF_0000000C})
    assert nexts[1] == 0x2000 and nexts[-1] == 0x3000
    assert m.regs["x4"] == 0xFFFFFFFF_0000000C  # ne is false after 5 == 5
    assert m.regs["x5"] == 0xFFFFFFFF_0000000D and m.regs["x6"] == 0xFFFFFFFF_0000000D
    assert m.regs["x7"] == 4 and m.regs["x8"] == 0xFFFFFFFF_0000000D
    assert m.regs["x9"] == 9 and m.regs["x10"] == 0xFFFFFFFF_00000011
    assert m.regs["x11"] == (5 - 12) & 0xFFFFFFFF and m.regs["x12"] == (5 - 6) % (1 << 64)


def test_cache_maintenance_semantics() -> None:
    for text, op in [("dc cvau, x3", "dc_cvau"), ("ic ivau, x4", "ic_ivau"),
                     ("ic iallu", "ic_iallu"), ("ic ialluis", "ic_ialluis")]:
        insn = decode(assemble(text))
        assert isinstance(insn, Insn)
        (st,) = semantics(insn, 0)
        assert isinstance(st, Maintenance) and st.op == op
        assert st.addr == (Reg(text[-2:]) if "," in text else None)


SPEC = """fpatch: 1
name: flags-cmodx
cache: {idc: false, dic: false}
env: {preemptible: false, nmi: false}
sites:
  f:
    base: 0xffff800008200000
    slots: 4
    states:
      A:
        - cmp x0, x1
        - cset x2, lt
        - csel x3, x0, x1, hi
        - eor x4, x0, x1
      B:
        - cmp x0, x1
        - cset x2, lt
        - b.ge 0xffff800008200010
        - eor x4, x0, x1
    initial: A
steps:
  - write: {slots: [2], as: B}
  - sync_icache: {slots: [2]}
expect: unsafe
"""


@pytest.mark.parametrize("engine", ["smt", "enum"])
def test_both_engines_run_flag_instructions(tmp_path: Path, engine: str) -> None:
    """csel -> b.ge is not a CMODX pair: both engines execute the flag code and say so."""
    p = tmp_path / "flags.yaml"
    p.write_text(SPEC)
    r = CliRunner().invoke(main, ["check", str(p), "--engine", engine, "-q"])
    assert r.exit_code == 0, r.output
    assert "unsafe [cmodx] (expected unsafe)" in r.output
