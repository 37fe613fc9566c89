"""`lr`, `adrp` with `:lo12:` (add, ldr, str): fpatch's words against GNU as + ld + objdump.

The symbol is a label in the same .text, so ld resolves the relocations the way it
does for kernel code; fpatch resolves them from the symbol's address at assembly.
"""

from __future__ import annotations

import pytest

from fpatch.isa import AsmError, Insn, assemble, decode

LINES = [
    "mov x0, lr", "ret lr", "blr lr", "br lr", "stp x29, lr, [sp, #-16]!",
    "ldp x29, lr, [sp], #16", "mov lr, x9", "mov x9, lr", "add lr, lr, #4", "LDR LR, [sp, #8]",
    "adrp x1, {sym}", "add x1, x1, :lo12:{sym}", "add x2, x3, #:lo12:{sym}",
    "add w4, w5, :lo12:{sym}", "ldr x2, [x1, :lo12:{sym}]", "ldr w6, [x1, #:lo12:{sym}]",
    "str x7, [sp, :lo12:{sym}]", "str w8, [x0, :lo12:{sym}]", "adrp lr, {sym}",
    "add x0, x0, :lo12:{sym}+8", "ldr x0, [x0, :lo12:{sym}-8]",
]


@pytest.mark.parametrize("base,pad", [(0x400000, 3), (0xFFFF800010000FF0, 40),
                                      (0x400FF8, 1023)])
def test_lr_and_lo12_match_gnu_as(binutils, base: int, pad: int) -> None:  # type: ignore[no-untyped-def]
    # the symbol: an 8-byte aligned word `pad` words after the lines (ldr x needs lo12 % 8 == 0)
    n = len(LINES) + pad
    if (base + 4 * n) % 8:
        n += 1
    lines = [t.format(sym="tgt") for t in LINES] + ["nop"] * (n - len(LINES)) + ["tgt: nop"]
    dumped = binutils.dump(lines, base)
    syms = {"tgt": base + 4 * n}
    for i, text in enumerate(lines[:len(LINES)]):
        pc = base + 4 * i
        word = assemble(text, pc, syms)
        assert word == dumped[i].word, (text, hex(word), hex(dumped[i].word))
        insn = decode(word, pc)
        assert isinstance(insn, Insn)
        assert insn.text == dumped[i].text, (text, insn.text, dumped[i].text)


@pytest.mark.parametrize("text,message", [
    ("sub x1, x1, :lo12:tgt", "':lo12:' is not supported with sub (only add, ldr and str)"),
    ("ldp x1, x2, [x1, :lo12:tgt]", "':lo12:' is not supported with ldp (only add, ldr and str)"),
    ("ldur x1, [x1, :lo12:tgt]", "':lo12:' is not supported with ldur (only add, ldr and str)"),
    ("ldr x2, [x1, :lo12:tgt]!", "':lo12:' takes only a plain [base, :lo12:SYM] address"),
    ("ldr x2, [x1, :lo12:odd]", "misaligned ':lo12:' offset 4: expected a multiple of 8"),
    ("ldr x2, [x1, :hi12:tgt]", "expected 'lo12' (the only relocation operator supported), "
                                "got 'hi12'"),
    ("add x1, x1, :lo12:nope", "unknown symbol 'nope'"),
    ("mov x0, fp", "expected a source register (x0-x30, w0-w30, sp, wsp, xzr, wzr), got 'fp'"),
])
def test_lo12_errors(text: str, message: str) -> None:
    with pytest.raises(AsmError) as info:
        assemble(text, 0x1000, {"tgt": 0x2008, "odd": 0x2004})
    assert str(info.value).startswith(message) or message in str(info.value)
