"""Positive corpus: every supported form, checked against GNU as/objdump.

The corpus is assembled once per session. For each line we check that fpatch
assembles the same word as GNU as, that the word decodes to a supported
instruction whose text re-assembles to the same word, and that the decoded
text equals objdump's (after ``normalise_objdump``). Both fpatch and objdump
print the *preferred alias* (``mov`` for ``orr``/``add``/``movz``), so no alias
table is needed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from fpatch.isa import Insn, assemble, decode, semantics

MASK64 = (1 << 64) - 1
BASE = 0x400000
HIGH_BASE = 0xFFFF800010000000

BARRIERS = ["sy", "ish", "ishst", "ishld", "st", "ld", "nsh", "nshst", "nshld", "osh",
            "oshst", "oshld"]


@dataclass(frozen=True)
class Line:
    """A corpus line; ``{t}`` in ``template`` is a PC-relative target ``off`` bytes away."""

    template: str
    off: int | None = None

    def for_as(self) -> str:
        if self.off is None:
            return self.template
        rel = f".+{self.off}" if self.off >= 0 else f".-{-self.off}"
        return self.template.format(t=rel)

    def for_fpatch(self, pc: int) -> str:
        if self.off is None:
            return self.template
        return self.template.format(t=f"0x{(pc + self.off) & MASK64:x}")


def _xregs() -> list[str]:
    return [f"x{i}" for i in range(31)]


def _wregs() -> list[str]:
    return [f"w{i}" for i in range(31)]


def generate_corpus(seed: int = 1) -> list[Line]:
    """A few thousand instruction texts covering the supported subset."""
    rnd = random.Random(seed)
    out: list[Line] = []

    def add(t: str, off: int | None = None) -> None:
        out.append(Line(t, off))

    # hints, barriers, exceptions
    for t in ["nop", "isb", "isb sy", "bti", "bti c", "bti j", "bti jc", "paciasp", "autiasp",
              "pacibsp", "autibsp", "hint #0", "hint #0x22", "hint #25", "NOP", "Bti JC"]:
        add(t)
    for b in BARRIERS:
        add(f"dsb {b}")
        add(f"dmb {b}")
    add("dsb #15")
    add("dmb #0xb")
    for m in ("brk", "svc", "hvc", "smc"):
        for v in [0, 1, 0x7FF, 0x8000, 0xFFFF] + [rnd.randrange(0x10000) for _ in range(5)]:
            add(f"{m} #{v:#x}")
        add(f"{m} #{rnd.randrange(0x10000)}")

    # branches
    b_offs = [0, 4, -4, 8, 0x7FFFFFC, -0x8000000, -0x1000] + [
        rnd.randrange(-0x2000000, 0x2000000) * 4 for _ in range(40)]
    for m in ("b", "bl"):
        for off in b_offs:
            add(f"{m} {{t}}", off)
    for r in _xregs():
        add(f"br {r}")
        add(f"blr {r}")
        add(f"ret {r}")
    add("ret")
    cb_offs = [0, 4, -4, 0xFFFFC, -0x100000] + [rnd.randrange(-0x40000, 0x40000) * 4
                                                for _ in range(8)]
    for m in ("cbz", "cbnz"):
        for r in _xregs() + _wregs() + ["xzr", "wzr"]:
            add(f"{m} {r}, {{t}}", rnd.choice(cb_offs))
        for off in cb_offs:
            add(f"{m} x3, {{t}}", off)
            add(f"{m} w3, {{t}}", off)

    # moves
    xs, ws = _xregs() + ["xzr"], _wregs() + ["wzr"]
    for rd in xs:
        add(f"mov {rd}, {rnd.choice(xs)}")
        add(f"mov {rnd.choice(xs)}, {rd}")
    for rd in ws:
        add(f"mov {rd}, {rnd.choice(ws)}")
        add(f"mov {rnd.choice(ws)}, {rd}")
    for r in _xregs():
        add(f"mov sp, {r}")
        add(f"mov {r}, sp")
    for r in _wregs():
        add(f"mov wsp, {r}")
        add(f"mov {r}, wsp")
    add("mov sp, sp")
    add("mov wsp, wsp")
    x_vals = [0, 1, 0xFFFF, 0x10000, 0xFFFF0000, 0x1234_0000_0000, 0xFFFF_0000_0000_0000,
              0x8000_0000_0000_0000]
    for v in x_vals:
        add(f"mov x{rnd.randrange(31)}, #{v:#x}")
        add(f"mov xzr, #{v:#x}")
    for v in [0, 1, 0xFFFF, 0x10000, 0xFFFF0000, 0x80000000]:
        add(f"mov w{rnd.randrange(31)}, #{v:#x}")
        add(f"mov w{rnd.randrange(31)}, #{v}")
    for m in ("movz", "movk"):
        for sh in (0, 16, 32, 48):
            for v in (0, 1, 0xFFFF, rnd.randrange(0x10000)):
                add(f"{m} {rnd.choice(xs)}, #{v:#x}, lsl #{sh}")
                if sh <= 16:
                    add(f"{m} {rnd.choice(ws)}, #{v:#x}, lsl #{sh}")
        add(f"{m} x1, #0x1234")
        add(f"{m} w1, #0x1234")

    # add/sub immediate
    xsp, wsp = _xregs() + ["sp"], _wregs() + ["wsp"]
    for m in ("add", "sub"):
        for rd in xsp:
            for imm in (0, 1, 4095, rnd.randrange(4096)):
                add(f"{m} {rd}, {rnd.choice(xsp)}, #{imm:#x}")
            add(f"{m} {rd}, {rnd.choice(xsp)}, #{rnd.randrange(4096):#x}, lsl #12")
        for rd in wsp:
            add(f"{m} {rd}, {rnd.choice(wsp)}, #{rnd.randrange(4096)}")
            add(f"{m} {rd}, {rnd.choice(wsp)}, #{rnd.randrange(4096)}, lsl #12")
        add(f"{m} x1, x2, #0, lsl #12")
        add(f"{m} sp, sp, #0x10")
        add(f"{m} x1, x2, #0x1000")  # GNU as picks lsl #12 by itself

    # pairs
    for m in ("stp", "ldp"):
        for off in range(-512, 505, 8):
            for mode in ("offset", "pre", "post"):
                rt, rt2 = rnd.sample(range(31), 2)
                base = rnd.choice(["sp", f"x{rnd.randrange(31)}"])
                if mode != "offset" and base in (f"x{rt}", f"x{rt2}"):
                    base = "sp"
                mem = {"offset": f"[{base}, #{off}]", "pre": f"[{base}, #{off}]!",
                       "post": f"[{base}], #{off}"}[mode]
                add(f"{m} x{rt}, x{rt2}, {mem}")
        add(f"{m} x29, x30, [sp]")
        add(f"{m} xzr, x1, [sp, #16]")
    add("stp x29, x30, [sp, #-16]!")
    add("ldp x29, x30, [sp], #16")
    add("stp x1, x1, [x2]")

    # single loads/stores
    for m in ("str", "ldr"):
        for wide in (True, False):
            scale = 8 if wide else 4
            regs = xs if wide else ws
            offs = [0, scale, 4095 * scale, 16, rnd.randrange(4096) * scale]
            for off in offs:
                add(f"{m} {rnd.choice(regs)}, [{rnd.choice(xsp)}, #{off}]")
            for off in (-256, -1, 0, 1, 255, rnd.randrange(-256, 256)):
                rt_i = rnd.randrange(31)
                rt_name = f"{'x' if wide else 'w'}{rt_i}"
                base = rnd.choice(["sp"] + [f"x{i}" for i in range(31) if i != rt_i])
                add(f"{m} {rt_name}, [{base}, #{off}]!")
                add(f"{m} {rt_name}, [{base}], #{off}")
                add(f"{m} {rt_name}, [{base}, #{off}]")  # unaligned/negative: GNU picks ldur/stur
            add(f"{m} {rnd.choice(regs)}, [sp]")
    for m in ("stur", "ldur"):
        for r in ("x1", "w1", "xzr", "wzr"):
            for off in (-256, -8, 0, 1, 255):
                add(f"{m} {r}, [x2, #{off}]")
    for m in ("ldar", "stlr", "ldapr"):  # acquire/release: the litmus tests' hand-offs
        extra = rnd.sample(_xregs(), 2) + rnd.sample(_wregs(), 2)
        for r in ["x0", "w1", "x30", "w30", "xzr", "wzr"] + extra:
            for base in ("x3", "sp", "x30"):
                add(f"{m} {r}, [{base}]")
    lit_offs = [0, 4, -4, 0xFFFFC, -0x100000] + [rnd.randrange(-0x40000, 0x40000) * 4
                                                 for _ in range(10)]
    for off in lit_offs:
        add("ldr x5, {t}", off)
        add("ldr w6, {t}", off)
        add("ldr xzr, {t}", off)

    # adr / adrp
    for off in [0, 1, -1, 0xFFFFF, -0x100000] + [rnd.randrange(-0x100000, 0x100000)
                                                  for _ in range(20)]:
        add(f"adr x{rnd.randrange(31)}, {{t}}", off)
    add("adr xzr, {t}", 8)
    for off in [0, 0x1000, -0x1000, 0x123456, -0x3FFFF000] + [
            rnd.randrange(-0x100000, 0x100000) * 0x1000 for _ in range(20)]:
        add(f"adrp x{rnd.randrange(31)}, {{t}}", off)

    # litmus additions (issue #5): cache maintenance, compares, flags, register ALU
    for r in _xregs():
        add(f"dc cvau, {r}")
        add(f"ic ivau, {r}")
    add("ic iallu")
    add("ic ialluis")
    add("DC CVAU,X1")
    add("IC IVAU,X1")
    conds = ["eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt",
             "gt", "le", "al", "nv"]
    for c in conds:
        for off in (0, 8, -8, 0xFFFFC, -0x100000, rnd.randrange(-0x40000, 0x40000) * 4):
            add(f"b.{c} {{t}}", off)
        add(f"csel x{rnd.randrange(31)}, {rnd.choice(xs)}, {rnd.choice(xs)}, {c}")
        add(f"csel w{rnd.randrange(31)}, {rnd.choice(ws)}, {rnd.choice(ws)}, {c}")
        add(f"csinc x{rnd.randrange(31)}, x{rnd.randrange(31)}, x{rnd.randrange(31)}, {c}")
        if c not in ("al", "nv"):
            add(f"cset {rnd.choice(ws)}, {c}")
            add(f"cset {rnd.choice(xs)}, {c}")
            add(f"cinc x{rnd.randrange(31)}, x{rnd.randrange(31)}, {c}")
    add("csinc w1, wzr, wzr, al")
    add("csinc w1, w2, w2, nv")
    for m in ("and", "orr", "eor", "add", "sub"):
        for _ in range(12):
            add(f"{m} x{rnd.randrange(31)}, x{rnd.randrange(31)}, {rnd.choice(xs)}")
            add(f"{m} w{rnd.randrange(31)}, w{rnd.randrange(31)}, {rnd.choice(ws)}")
    for m in ("and", "orr", "eor"):
        add(f"{m} xzr, xzr, x1")
    for _ in range(20):
        add(f"cmp {rnd.choice(xs)}, {rnd.choice(xs)}")
        add(f"cmp {rnd.choice(ws)}, {rnd.choice(ws)}")
        add(f"cmp {rnd.choice(xsp)}, #{rnd.randrange(4096)}")
        add(f"cmp {rnd.choice(wsp)}, #{rnd.randrange(4096)}, lsl #12")
        add(f"subs x{rnd.randrange(31)}, {rnd.choice(xsp)}, #{rnd.randrange(4096)}")
        add(f"subs w{rnd.randrange(31)}, w{rnd.randrange(31)}, {rnd.choice(ws)}")
    add("CMP W2,W0")
    add("CSET W3,EQ")
    add("EOR W6,W2,W2")

    # comments and case
    add("STP X29, X30, [SP, #-16]!  // prologue")
    add("Mov X29, SP")
    return out


CORPUS = generate_corpus()


@dataclass(frozen=True)
class Case:
    line: Line
    pc: int
    word: int
    objdump_mnemonic: str
    objdump_text: str


def _cases(binutils: object, base: int, lines: list[Line]) -> list[Case]:
    dumped = binutils.dump([ln.for_as() for ln in lines], base)  # type: ignore[attr-defined]
    return [Case(ln, d.addr, d.word, d.mnemonic, d.text) for ln, d in zip(lines, dumped,
                                                                            strict=True)]


@pytest.fixture(scope="session")
def corpus_cases(binutils: object) -> list[Case]:
    """The whole corpus at BASE plus the PC-relative part again at HIGH_BASE."""
    cases = _cases(binutils, BASE, CORPUS)
    relative = [ln for ln in CORPUS if ln.off is not None]
    return cases + _cases(binutils, HIGH_BASE, relative)


def _failures(cases: list[Case], check: object) -> Iterator[str]:
    for c in cases:
        msg = check(c)  # type: ignore[operator]
        if msg:
            yield f"{c.line.for_fpatch(c.pc)!r} @0x{c.pc:x} (word {c.word:08x}): {msg}"


def _report(failures: Iterator[str]) -> None:
    bad = list(failures)
    assert not bad, f"{len(bad)} failures, first ones:\n" + "\n".join(bad[:20])


def test_corpus_is_large_and_covers_every_mnemonic(corpus_cases: list[Case]) -> None:
    assert len(corpus_cases) >= 2000
    seen = {c.objdump_mnemonic for c in corpus_cases}
    expected = {"nop", "b", "bl", "br", "blr", "ret", "cbz", "cbnz", "mov", "movz", "movk",
                "add", "sub", "stp", "ldp", "str", "ldr", "stur", "ldur", "adr", "adrp", "isb",
                "dsb", "dmb", "brk", "svc", "hvc", "smc", "bti", "paciasp", "autiasp",
                "pacibsp", "autibsp",
                "dc", "ic", "ldar", "stlr", "ldapr", "cmp", "subs", "csel", "csinc", "cset", "cinc",
                "and", "orr", "eor",
                "b.eq", "b.ne", "b.cs", "b.cc", "b.hi", "b.ls", "b.ge", "b.lt", "b.gt", "b.le",
                "b.al", "b.nv"}
    assert expected <= seen


def test_assemble_matches_gnu_as(corpus_cases: list[Case]) -> None:
    def check(c: Case) -> str | None:
        try:
            got = assemble(c.line.for_fpatch(c.pc), c.pc)
        except Exception as e:  # noqa: BLE001 - reported with context
            return f"assemble raised {e!r}"
        return None if got == c.word else f"assembled {got:08x}"

    _report(_failures(corpus_cases, check))


def test_decode_round_trips(corpus_cases: list[Case]) -> None:
    def check(c: Case) -> str | None:
        d = decode(c.word, c.pc)
        if not isinstance(d, Insn):
            return f"decoded as {d!r}"
        try:
            again = assemble(d.text, c.pc)
        except Exception as e:  # noqa: BLE001
            return f"re-assembling {d.text!r} raised {e!r}"
        return None if again == c.word else f"{d.text!r} re-assembles to {again:08x}"

    _report(_failures(corpus_cases, check))


def test_decode_agrees_with_objdump(corpus_cases: list[Case]) -> None:
    def check(c: Case) -> str | None:
        d = decode(c.word, c.pc)
        if not isinstance(d, Insn):
            return f"decoded as {d!r}"
        if d.mnemonic != c.objdump_mnemonic:
            return f"mnemonic {d.mnemonic!r} vs objdump {c.objdump_mnemonic!r}"
        if d.text != c.objdump_text:
            return f"text {d.text!r} vs objdump {c.objdump_text!r}"
        return None

    _report(_failures(corpus_cases, check))


def test_udf_assembles_like_gnu_as(binutils: object) -> None:
    """udf is assembled (litmus tests write it as an invalid instruction) but never decoded:
    executing it is an undefined instruction to both engines."""
    lines = ["udf #0", "udf #1", "udf #0xbeef", "udf #65535"]
    dumped = binutils.dump(lines, BASE)  # type: ignore[attr-defined]
    for line, d in zip(lines, dumped, strict=True):
        assert assemble(line, d.addr) == d.word
        assert not isinstance(decode(d.word, d.addr), Insn)


def test_every_corpus_word_has_semantics(corpus_cases: list[Case]) -> None:
    for c in corpus_cases:
        d = decode(c.word, c.pc)
        assert isinstance(d, Insn)
        semantics(d, c.pc)  # must not raise
