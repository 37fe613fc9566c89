"""Assembler diagnostics (message + column) and the CMODX classification."""

from __future__ import annotations

import pytest

from fpatch.isa import AsmError, assemble, decode, is_cmodx

ERRORS = [
    # (text, column, words the message must contain)
    ("frob x1, x2", 0, ["unknown", "frob"]),
    ("  FROB x1", 2, ["unknown"]),
    ("mov x31, x2", 4, ["x31", "expected"]),
    ("mov w1, w32", 8, ["w32", "expected"]),
    ("br sp", 3, ["sp", "x0-x30"]),
    ("ret xzr", 4, ["xzr", "x0-x30"]),
    ("add x1, xzr, #1", 8, ["xzr", "sp"]),
    ("mov sp, xzr", 8, ["xzr"]),
    ("cbz sp, 0x1000", 4, ["sp"]),
    ("mov x1, w2", 8, ["width", "X register"]),
    ("add x1, x2, #0x1001", 12, ["out of range", "0..4095"]),
    ("movz x1, #0x10000", 9, ["0..65535"]),
    ("movk w1, #1, lsl #32", 17, ["#0, #16"]),
    ("svc #0x10000", 4, ["0..65535"]),
    ("stp x1, x2, [sp, #-520]!", 17, ["multiple of 8", "-512..504"]),
    ("stp x1, x2, [sp, #4]", 17, ["multiple of 8"]),
    ("stp w1, w2, [sp]", 4, ["X register pairs"]),
    ("ldr x1, [x2, #32768]", 13, ["0..32760", "-256..255"]),
    ("ldr x1, [x2, #-257]!", 13, ["-256..255"]),
    ("mov x1, #0x12345", 8, ["movz"]),
    ("b 0x1002", 2, ["misaligned", "multiple of 4"]),
    ("bl 0x10001000", 3, ["out of range", "128MiB"]),
    ("cbz x1, 0x101002", 8, ["misaligned"]),
    ("cbnz x1, 0x201000", 9, ["out of range", "1MiB"]),
    ("ldr x1, 0x1002", 8, ["misaligned"]),
    ("adr x1, 0x200000", 8, ["out of range"]),
    ("b missing", 2, ["unknown symbol", "missing"]),
    ("cbz x1, 3f", 8, ["unknown symbol", "3f"]),
    ("dsb foo", 4, ["ish", "sy"]),
    ("isb ish", 4, ["sy"]),
    ("bti x", 4, ["c, j or jc"]),
    ("hint #7", 5, ["outside the supported subset"]),
    ("ldr x1, [x2", 11, ["']'"]),
    ("ret x1, x2", 6, ["unexpected"]),
    ("add x1, x2, sp", 12, ["immediate or a register"]),
    ("add x1, sp, x3", 8, ["extended-register"]),
    ("cmp xzr, #1", 4, ["sp there"]),
    ("cset w1, al", 9, ["invertible"]),
    ("b.xx 0x1000", 0, ["unknown or unsupported mnemonic"]),
    ("dc civac, x1", 3, ["cvau"]),
    ("ic ivau", 7, ["','"]),
    ("eor x1, x2, #1", 12, ["immediate forms"]),
    ("udf #65536", 4, ["out of range"]),
    ("mov x1,", 7, ["end of line"]),
    ("ldp x1, x1, [x2]", 8, ["unpredictable"]),
    ("ldr x1, [x1], #8", 9, ["unpredictable"]),
    ("", 0, ["empty"]),
]


@pytest.mark.parametrize(("text", "column", "words"), ERRORS)
def test_asm_errors(text: str, column: int, words: list[str]) -> None:
    with pytest.raises(AsmError) as info:
        assemble(text, 0x1000)
    err = info.value
    assert err.column == column, err.message
    assert str(err) == err.message
    for w in words:
        assert w in err.message, err.message


def test_symbols_and_relative_targets() -> None:
    syms = {"1f": 0x1010, "2b": 0xFF0, "func": 0x2000}
    assert assemble("cbz x1, 1f", 0x1000, syms) == assemble("cbz x1, 0x1010", 0x1000)
    assert assemble("b 2b", 0x1000, syms) == assemble("b .-16", 0x1000)
    assert assemble("bl func", 0x1000, syms) == assemble("bl 4096+4096", 0x1000)
    assert assemble("bl func+8", 0x1000, syms) == assemble("bl 0x2008", 0x1000)
    assert assemble("B 4104", 0x1000) == 0x14000002
    assert assemble("ret  // return to caller") == 0xD65F03C0


# ------------------------------------------------------------------- CMODX

ARM_SET = ["b 0x1000", "bl 0x2000", "brk #0x0", "brk #0x800", "hvc #0x1", "smc #0x0",
           "svc #0x0", "nop", "isb"]
NOT_CMODX = ["mov x1, x2", "ldr x1, [x2]", "stp x29, x30, [sp, #-16]!", "cbz x1, 0x1000",
             "ret", "br x1", "blr x1", "adrp x1, 0x1000", "dsb ish", "dmb ish", "movz x1, #0x0"]


@pytest.mark.parametrize("text", ARM_SET)
def test_arm_cmodx_set(text: str) -> None:
    w = assemble(text, 0x1000)
    assert is_cmodx(w)
    assert is_cmodx(w, linux_hints=True) == (text != "isb")


@pytest.mark.parametrize("text", NOT_CMODX)
def test_not_cmodx(text: str) -> None:
    w = assemble(text, 0x1000)
    assert not is_cmodx(w)
    assert not is_cmodx(w, linux_hints=True)


@pytest.mark.parametrize("text", ["bti", "bti c", "bti j", "bti jc", "paciasp", "autiasp",
                                  "pacibsp", "autibsp"])
def test_hint_space_is_cmodx_only_for_linux(text: str) -> None:
    w = assemble(text)
    assert not is_cmodx(w)
    assert is_cmodx(w, linux_hints=True)


def test_hint_space_linux_reading() -> None:
    hints = {imm: 0xD503201F | (imm << 5) for imm in range(128)}
    for imm, w in hints.items():
        assert is_cmodx(w, linux_hints=True) == (imm not in (1, 2, 3, 4, 5)), imm
        assert is_cmodx(w) == (imm == 0), imm


def test_isb_exact_encoding() -> None:
    assert assemble("isb") == 0xD5033FDF == assemble("isb sy")
    assert is_cmodx(0xD5033FDF)
    assert not is_cmodx(0xD50333DF)  # isb #3
    assert not is_cmodx(0xD5033FDF, linux_hints=True)


def test_exception_masks_are_exact() -> None:
    assert is_cmodx(0xD4000001 | (0xFFFF << 5))  # svc #0xffff
    assert not is_cmodx(0xD4400000)  # hlt
    assert not is_cmodx(0xD4A00001)  # dcps1
    assert not is_cmodx(0xD4000000)  # svc-like with LL=0: unallocated
    assert decode(0xD4400000).text.startswith(".inst")


def test_huge_number_is_an_asm_error_not_a_crash() -> None:
    from fpatch.isa import AsmError, assemble

    with pytest.raises(AsmError):
        assemble("movz x0, #" + "9" * 5000, 0)
