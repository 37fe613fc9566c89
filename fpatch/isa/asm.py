"""One-instruction assembler for the supported subset (GNU syntax).

Errors carry the 0-based column of the offending token and say what was
expected, because patch texts are written by people and the model checker
reports them in spec files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fpatch.isa.insn import BARRIER_BY_NAME, CACHE_OPS, CONDITION_BY_NAME, HINTS, AsmError

MASK64 = (1 << 64) - 1

# ------------------------------------------------------------------- lexing


@dataclass(frozen=True)
class _Tok:
    kind: str  # "word" | "num" | "dot" | punctuation character itself
    text: str
    col: int
    value: int = 0


_TOKEN_RE = re.compile(r"\s*(?:([A-Za-z_.$][A-Za-z0-9_.$]*)|([0-9][0-9A-Za-z_]*)|(\S))")


def _parse_number(text: str) -> int | None:
    if len(text) > 80:  # no immediate needs more; also keeps int() away from huge inputs
        return None
    t = text.lower()
    if re.fullmatch(r"0x[0-9a-f]+", t):
        return int(t, 16)
    if re.fullmatch(r"0b[01]+", t):
        return int(t, 2)
    if re.fullmatch(r"0[0-7]+", t):
        return int(t, 8)  # GNU as: a leading zero means octal
    if re.fullmatch(r"[0-9]+", t):
        return int(t, 10)
    return None


def _lex(text: str, end: int) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < end:
        m = _TOKEN_RE.match(text, pos, end)
        if m is None:  # only trailing whitespace is left
            break
        if m.group(1) is not None:
            word = m.group(1)
            kind = "dot" if word == "." else "word"
            toks.append(_Tok(kind, word, m.start(1)))
        elif m.group(2) is not None:
            num = _parse_number(m.group(2))
            if num is None:  # e.g. a local-label reference "1f"
                toks.append(_Tok("word", m.group(2), m.start(2)))
            else:
                toks.append(_Tok("num", m.group(2), m.start(2), num))
        else:
            ch = m.group(3)
            if ch not in "[],!#+-:":
                raise AsmError(f"unexpected character {ch!r}", m.start(3))
            toks.append(_Tok(ch, ch, m.start(3)))
        pos = m.end()
    return toks


# ------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class _R:
    """A parsed register: 5-bit number, width, and whether it was sp/wsp or xzr/wzr."""

    num: int
    wide: bool
    sp: bool
    zr: bool
    name: str
    col: int


_REG_RE = re.compile(r"([xw])([0-9]+)")


def _reg_of(name: str) -> tuple[int, bool, bool, bool] | None:
    n = name.lower()
    special = {
        "lr": (30, True, False, False),  # GNU as: the link register, x30
        "sp": (31, True, True, False),
        "wsp": (31, False, True, False),
        "xzr": (31, True, False, True),
        "wzr": (31, False, False, True),
    }
    if n in special:
        return special[n]
    m = _REG_RE.fullmatch(n)
    if m and (m.group(2) == "0" or not m.group(2).startswith("0")):
        num = int(m.group(2))
        if num <= 30:
            return (num, m.group(1) == "x", False, False)
    return None


def _looks_like_reg(name: str) -> bool:
    return _reg_of(name) is not None or bool(_REG_RE.fullmatch(name.lower()))


class _Parser:
    def __init__(self, text: str, toks: list[_Tok], end: int, pc: int,
                 symbols: Mapping[str, int]) -> None:
        self.text = text
        self.toks = toks
        self.i = 0
        self.end = end
        self.pc = pc
        self.symbols = symbols
        self.lo12_used = False  # a :lo12: operand was parsed (only add, ldr, str take one)

    # -- primitives
    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def col(self) -> int:
        t = self.peek()
        return t.col if t else self.end

    def desc(self) -> str:
        t = self.peek()
        return f"{t.text!r}" if t else "end of line"

    def fail(self, msg: str, col: int | None = None) -> AsmError:
        return AsmError(msg, self.col() if col is None else col)

    def take(self, kind: str) -> bool:
        t = self.peek()
        if t is not None and t.kind == kind:
            self.i += 1
            return True
        return False

    def expect(self, kind: str, what: str) -> _Tok:
        t = self.peek()
        if t is None or t.kind != kind:
            raise self.fail(f"expected {what}, got {self.desc()}")
        self.i += 1
        return t

    def comma(self) -> None:
        self.expect(",", "','")

    def done(self) -> None:
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.desc()} after the last operand")

    def at_imm(self) -> bool:
        t = self.peek()
        return t is not None and t.kind in ("#", "num", "-", "+")

    # -- operands
    def reg(self, what: str, *, x: bool = True, w: bool = False, sp: bool = False,
            zr: bool = False) -> _R:
        """A register of the allowed classes; ``what`` names them in errors."""
        t = self.peek()
        if t is None or t.kind != "word":
            raise self.fail(f"expected {what}, got {self.desc()}")
        info = _reg_of(t.text)
        if info is None:
            if _looks_like_reg(t.text):
                raise self.fail(f"invalid register {t.text!r}: expected {what}")
            raise self.fail(f"expected {what}, got {t.text!r}")
        num, wide, is_sp, is_zr = info
        ok = (x if wide else w) and (sp or not is_sp) and (zr or not is_zr)
        if not ok:
            raise self.fail(f"register {t.text!r} not allowed here: expected {what}")
        self.i += 1
        return _R(num, wide, is_sp, is_zr, t.text.lower(), t.col)

    def same_width(self, first: _R, r: _R) -> None:
        if r.wide != first.wide:
            kind = "an X" if first.wide else "a W"
            raise AsmError(
                f"register {r.name!r} has the wrong width: expected {kind} register "
                f"to match {first.name!r}", r.col)

    def imm(self, what: str, hash_required: bool = False) -> tuple[int, int]:
        """``#[-]number``; returns (value, column)."""
        col = self.col()
        had_hash = self.take("#")
        if hash_required and not had_hash:
            raise self.fail(f"expected {what} ('#' immediate), got {self.desc()}")
        neg = False
        if self.take("-"):
            neg = True
        else:
            self.take("+")
        t = self.peek()
        if t is None or t.kind != "num":
            raise self.fail(f"expected {what}, got {self.desc()}")
        self.i += 1
        return (-t.value if neg else t.value), col

    def target(self) -> tuple[int, int]:
        """An address: absolute number, ``.``+/-n, or a symbol (+/-n); returns (addr, col)."""
        col = self.col()
        t = self.peek()
        if t is None:
            raise self.fail("expected a target address, '.'-relative offset or symbol")
        if t.kind == "#":
            self.i += 1
            t = self.peek()
            if t is None:
                raise self.fail("expected a target address")
        if t.kind == "num":
            self.i += 1
            base = t.value
        elif t.kind == "dot":
            self.i += 1
            base = self.pc
        elif t.kind == "word":
            if _looks_like_reg(t.text):
                raise self.fail(f"expected a target address or symbol, got register {t.text!r}")
            if t.text not in self.symbols:
                raise self.fail(f"unknown symbol {t.text!r}")
            self.i += 1
            base = self.symbols[t.text]
        else:
            raise self.fail(
                f"expected a target address, '.'-relative offset or symbol, got {self.desc()}")
        while (op := self.peek()) is not None and op.kind in ("+", "-"):
            self.i += 1
            n = self.expect("num", "a number after '+'/'-'")
            base += n.value if op.kind == "+" else -n.value
        return base & MASK64, col

    def rel(self, addr: int) -> int:
        """Signed byte offset from pc to addr (modulo 2**64)."""
        off = (addr - self.pc) & MASK64
        return off - (1 << 64) if off >> 63 else off

    def keyword(self) -> _Tok | None:
        t = self.peek()
        if t is not None and t.kind == "word":
            self.i += 1
            return t
        return None

    def at_lo12(self) -> bool:
        """The next operand is ``:lo12:SYM`` or ``#:lo12:SYM``."""
        k = self.i + (1 if self.peek() is not None and self.peek().kind == "#" else 0)  # type: ignore[union-attr]
        return k < len(self.toks) and self.toks[k].kind == ":"

    def lo12(self) -> tuple[int, int]:
        """``[#]:lo12:TARGET``: the low 12 bits of an address (GNU as, resolved here since
        every symbol has its address); returns (value, column)."""
        col = self.col()
        self.take("#")
        self.expect(":", "':lo12:'")
        t = self.peek()
        if t is None or t.kind != "word" or t.text.lower() != "lo12":
            raise self.fail(f"expected 'lo12' (the only relocation operator supported), got "
                            f"{self.desc()}")
        self.i += 1
        self.expect(":", "':' after 'lo12'")
        addr, _ = self.target()
        self.lo12_used = True
        return addr & 0xFFF, col

    def mem(self) -> tuple[_R, int, str, int]:
        """``[Xn|sp{, #imm}]``, ``[Xn|sp, #imm]!``, ``[Xn|sp], #imm`` or
        ``[Xn|sp, :lo12:SYM]``: returns (base, offset, mode, offset column)."""
        self.expect("[", "'[' (memory operand)")
        base = self.reg("a base register (x0-x30 or sp)", sp=True)
        off, ocol, mode = 0, self.col(), "offset"
        if self.take(","):
            if self.at_lo12():
                off, ocol = self.lo12()
            else:
                off, ocol = self.imm("an offset immediate")
            self.expect("]", "']'")
            if self.take("!"):
                mode = "pre"
        else:
            self.expect("]", "']'")
            if self.take(","):
                off, ocol = self.imm("a post-index immediate")
                mode = "post"
        return base, off, mode, ocol


# ---------------------------------------------------------------- encoders


def _branch_offset(p: _Parser, bits: int, span: str) -> int:
    """The PC-relative offset of the last operand, a branch target: aligned and in range."""
    addr, col = p.target()
    p.done()
    off = p.rel(addr)
    if off % 4:
        raise AsmError(f"misaligned branch target 0x{addr:x}: offset {off} is not a multiple of 4",
                       col)
    if not -(1 << bits) <= off < (1 << bits):
        raise AsmError(f"branch target 0x{addr:x} out of range: offset {off} not within +/-{span}",
                       col)
    return off


def _enc_branch(p: _Parser, m: str) -> int:
    off = _branch_offset(p, 27, "128MiB")
    return (0x94000000 if m == "bl" else 0x14000000) | ((off >> 2) & 0x3FFFFFF)


def _enc_branch_reg(p: _Parser, m: str) -> int:
    base = {"br": 0xD61F0000, "blr": 0xD63F0000, "ret": 0xD65F0000}[m]
    if m == "ret" and p.peek() is None:
        return base | (30 << 5)
    r = p.reg("a 64-bit register x0-x30")
    p.done()
    return base | (r.num << 5)


def _enc_cb(p: _Parser, m: str) -> int:
    r = p.reg("a register (x0-x30, w0-w30, xzr, wzr)", w=True, zr=True)
    p.comma()
    off = _branch_offset(p, 20, "1MiB")
    return ((int(r.wide) << 31) | 0x34000000 | (int(m == "cbnz") << 24)
            | (((off >> 2) & 0x7FFFF) << 5) | r.num)


def _movz_fields(value: int, wide: bool) -> tuple[int, int] | None:
    for hw in range(4 if wide else 2):
        if value & ~(0xFFFF << (16 * hw)) == 0:
            return value >> (16 * hw), hw
    return None


def _enc_addsub(rd: _R, rn: _R, imm: int, sh: int, sub: bool) -> int:
    return ((int(rd.wide) << 31) | (int(sub) << 30) | 0x11000000 | (sh << 22)
            | (imm << 10) | (rn.num << 5) | rd.num)


def _enc_mov(p: _Parser, m: str) -> int:
    rd = p.reg("a destination register (x0-x30, w0-w30, sp, wsp, xzr, wzr)",
               w=True, sp=True, zr=True)
    p.comma()
    if p.at_imm():
        if rd.sp:
            raise AsmError("mov to sp needs a register source, not an immediate", rd.col)
        value, col = p.imm("an immediate")
        p.done()
        bits = 64 if rd.wide else 32
        if not -(1 << (bits - 1)) <= value < (1 << bits):
            raise AsmError(f"immediate {value} out of range for a {bits}-bit register", col)
        value &= (1 << bits) - 1
        fields = _movz_fields(value, rd.wide)
        if fields is None:
            raise AsmError(
                f"immediate 0x{value:x} is not encodable by movz (a 16-bit value shifted by "
                f"{'0/16/32/48' if rd.wide else '0/16'}); movn/orr forms are outside the subset",
                col)
        imm16, hw = fields
        return (int(rd.wide) << 31) | 0x52800000 | (hw << 21) | (imm16 << 5) | rd.num
    rm = p.reg("a source register (x0-x30, w0-w30, sp, wsp, xzr, wzr)",
               w=True, sp=True, zr=True)
    p.same_width(rd, rm)
    p.done()
    if rd.sp or rm.sp:
        if rd.zr or rm.zr:
            bad = rd if rd.zr else rm
            raise AsmError(f"register {bad.name!r} not allowed in a move to/from sp", bad.col)
        return _enc_addsub(rd, rm, 0, 0, False)
    return (int(rd.wide) << 31) | 0x2A0003E0 | (rm.num << 16) | rd.num


def _shift_opt(p: _Parser, allowed: tuple[int, ...]) -> int | None:
    """An optional ``, lsl #n`` with n in ``allowed``."""
    if not p.take(","):
        return None
    t = p.keyword()
    if t is None or t.text.lower() != "lsl":
        got = repr(t.text) if t else p.desc()
        raise AsmError(f"expected 'lsl', got {got}", t.col if t else p.col())
    amount, col = p.imm("a shift amount")
    if amount not in allowed:
        raise AsmError(f"invalid shift lsl #{amount}: expected one of "
                       + ", ".join(f"#{a}" for a in allowed), col)
    return amount


def _enc_movwide(p: _Parser, m: str) -> int:
    rd = p.reg("a register (x0-x30, w0-w30, xzr, wzr)", w=True, zr=True)
    p.comma()
    value, col = p.imm("a 16-bit immediate")
    if not 0 <= value <= 0xFFFF:
        raise AsmError(f"immediate {value} out of range: expected 0..65535", col)
    shift = _shift_opt(p, (0, 16, 32, 48) if rd.wide else (0, 16)) or 0
    p.done()
    opc = 0x72800000 if m == "movk" else 0x52800000
    return (int(rd.wide) << 31) | opc | ((shift // 16) << 21) | (value << 5) | rd.num


def _enc_add_sub(p: _Parser, m: str) -> int:
    rd = p.reg("a destination register (x0-x30, w0-w30, sp, wsp)", w=True, sp=True)
    p.comma()
    rn = p.reg("a source register (x0-x30, w0-w30, sp, wsp)", w=True, sp=True)
    p.same_width(rd, rn)
    p.comma()
    if p.at_lo12():
        value, col = p.lo12()
        p.done()
        if m != "add":
            raise AsmError(f"':lo12:' is not supported with {m} (only add, ldr and str)", col)
        return _enc_addsub(rd, rn, value, 0, False)
    if not p.at_imm():
        if rd.sp or rn.sp:
            bad = rd if rd.sp else rn
            raise AsmError(f"register {bad.name!r} not allowed in register-form {m} "
                           "(the extended-register form is outside the supported subset)",
                           bad.col)
        rm = p.reg("an immediate or a register (x0-x30, w0-w30, xzr, wzr)", w=True, zr=True)
        p.same_width(rd, rm)
        p.done()
        return _enc_shifted(0x0B000000 | (int(m == "sub") << 30), rd, rn, rm)
    value, col = p.imm("an immediate")
    shift = _shift_opt(p, (0, 12))
    p.done()
    sub = m == "sub"
    if value < 0:  # GNU as turns add #-n into sub #n and vice versa
        value, sub = -value, not sub
    sh = 0
    if shift == 12:
        sh = 1
    elif shift is None and value > 0xFFF and value & 0xFFF == 0:
        value, sh = value >> 12, 1
    if value > 0xFFF:
        raise AsmError(f"immediate {value} out of range: expected 0..4095 (optionally lsl #12)",
                       col)
    return _enc_addsub(rd, rn, value, sh, sub)


def _enc_shifted(opc: int, rd: _R, rn: _R, rm: _R) -> int:
    """Shifted-register data processing with LSL #0 (the only shift in the subset)."""
    return (int(rd.wide) << 31) | opc | (rm.num << 16) | (rn.num << 5) | rd.num


def _enc_logic(p: _Parser, m: str) -> int:
    what = "a register (x0-x30, w0-w30, xzr, wzr)"
    rd = p.reg(what, w=True, zr=True)
    p.comma()
    rn = p.reg(what, w=True, zr=True)
    p.same_width(rd, rn)
    p.comma()
    rm = p.reg(what + "; immediate forms are outside the supported subset", w=True, zr=True)
    p.same_width(rd, rm)
    p.done()
    return _enc_shifted({"and": 0x0A000000, "orr": 0x2A000000, "eor": 0x4A000000}[m], rd, rn, rm)


def _enc_subs(rd_num: int, rn: _R, p: _Parser, first: _R) -> int:
    """``subs``/``cmp`` after the first source: an immediate or a register."""
    if p.at_imm():
        if rn.zr:
            raise AsmError(f"register {rn.name!r} not allowed with an immediate (register 31 "
                           "is sp there)", rn.col)
        value, col = p.imm("an immediate")
        shift = _shift_opt(p, (0, 12))
        p.done()
        if not 0 <= value <= 0xFFF:
            raise AsmError(f"immediate {value} out of range: expected 0..4095 (optionally "
                           "lsl #12); negative compares (cmn) are outside the subset", col)
        sh = int(shift == 12)
        return ((int(rn.wide) << 31) | 0x71000000 | (sh << 22) | (value << 10) | (rn.num << 5)
                | rd_num)
    if rn.sp:
        raise AsmError(f"register {rn.name!r} not allowed in register-form compare "
                       "(the extended-register form is outside the supported subset)", rn.col)
    rm = p.reg("an immediate or a register (x0-x30, w0-w30, xzr, wzr)", w=True, zr=True)
    p.same_width(first, rm)
    p.done()
    return (int(rn.wide) << 31) | 0x6B000000 | (rm.num << 16) | (rn.num << 5) | rd_num


def _enc_cmp(p: _Parser, m: str) -> int:
    rn = p.reg("a register (x0-x30, w0-w30, sp, wsp, xzr, wzr)", w=True, sp=True, zr=True)
    p.comma()
    return _enc_subs(31, rn, p, rn)


def _enc_subs_full(p: _Parser, m: str) -> int:
    rd = p.reg("a destination register (x0-x30, w0-w30, xzr, wzr)", w=True, zr=True)
    p.comma()
    rn = p.reg("a source register (x0-x30, w0-w30, sp, wsp, xzr, wzr)", w=True, sp=True, zr=True)
    p.same_width(rd, rn)
    p.comma()
    return _enc_subs(rd.num, rn, p, rd)


def _cond(p: _Parser, allow_al: bool = True) -> int:
    t = p.keyword()
    if t is None or t.text.lower() not in CONDITION_BY_NAME:
        got = repr(t.text) if t else p.desc()
        raise AsmError(f"expected a condition (eq, ne, cs/hs, cc/lo, mi, pl, vs, vc, hi, ls, ge, "
                       f"lt, gt, le{', al, nv' if allow_al else ''}), got {got}",
                       t.col if t else p.col())
    c = CONDITION_BY_NAME[t.text.lower()]
    if not allow_al and c >= 14:
        raise AsmError(f"condition {t.text!r} not allowed here (the alias needs an "
                       "invertible condition)", t.col)
    return c


def _enc_csel(p: _Parser, m: str) -> int:
    what = "a register (x0-x30, w0-w30, xzr, wzr)"
    rd = p.reg(what, w=True, zr=True)
    p.comma()
    if m == "cset":
        c = _cond(p, allow_al=False)
        p.done()
        rn = rm = _R(31, rd.wide, False, True, "zr", rd.col)
        c ^= 1
    else:
        rn = p.reg(what, w=True, zr=True)
        p.same_width(rd, rn)
        p.comma()
        if m == "cinc":
            c = _cond(p, allow_al=False) ^ 1
            rm = rn
        else:
            rm = p.reg(what, w=True, zr=True)
            p.same_width(rd, rm)
            p.comma()
            c = _cond(p)
        p.done()
    op2 = 0 if m == "csel" else 1
    return ((int(rd.wide) << 31) | 0x1A800000 | (rm.num << 16) | (c << 12) | (op2 << 10)
            | (rn.num << 5) | rd.num)


def _enc_bcond(p: _Parser, m: str) -> int:
    name = m[2:]
    if name not in CONDITION_BY_NAME:
        raise AsmError(f"unknown condition {name!r} in {m!r}", 0)
    off = _branch_offset(p, 20, "1MiB")
    return 0x54000000 | (((off >> 2) & 0x7FFFF) << 5) | CONDITION_BY_NAME[name]


def _enc_cache(p: _Parser, m: str) -> int:
    t = p.keyword()
    names = sorted(op for kind, op in CACHE_OPS if kind == m)
    if t is None or (m, t.text.lower()) not in CACHE_OPS:
        got = repr(t.text) if t else p.desc()
        raise AsmError(f"expected a {m} operation ({', '.join(names)}), got {got}",
                       t.col if t else p.col())
    op1, crn, crm, op2, takes_reg = CACHE_OPS[(m, t.text.lower())]
    rt = 31
    if takes_reg:
        p.comma()
        rt = p.reg("a 64-bit address register x0-x30").num
    p.done()
    return 0xD5080000 | (op1 << 16) | (crn << 12) | (crm << 8) | (op2 << 5) | rt


def _enc_udf(p: _Parser, m: str) -> int:
    value, col = p.imm("a 16-bit immediate")
    p.done()
    if not 0 <= value <= 0xFFFF:
        raise AsmError(f"immediate {value} out of range: expected 0..65535", col)
    return value


def _no_lo12(p: _Parser, m: str, col: int) -> None:
    if p.lo12_used:
        raise AsmError(f"':lo12:' is not supported with {m} (only add, ldr and str)", col)


def _check_writeback(rt: _R, base: _R, mode: str) -> None:
    if mode != "offset" and not base.sp and base.num == rt.num:
        raise AsmError(f"unpredictable: writeback to base {base.name!r} that is also a "
                       "transfer register", base.col)


def _enc_pair(p: _Parser, m: str) -> int:
    what = "a 64-bit register (x0-x30, xzr); only X register pairs are supported"
    rt = p.reg(what, zr=True)
    p.comma()
    rt2 = p.reg(what, zr=True)
    p.comma()
    base, off, mode, ocol = p.mem()
    p.done()
    _no_lo12(p, m, ocol)
    load = m == "ldp"
    if off % 8 or not -512 <= off <= 504:
        raise AsmError(f"offset {off} out of range: expected a multiple of 8 in -512..504", ocol)
    if load and rt.num == rt2.num:
        raise AsmError("unpredictable: ldp with the same register twice", rt2.col)
    _check_writeback(rt, base, mode)
    _check_writeback(rt2, base, mode)
    mbits = {"post": 1, "offset": 2, "pre": 3}[mode]
    return (0xA8000000 | (mbits << 23) | (int(load) << 22) | (((off // 8) & 0x7F) << 15)
            | (rt2.num << 10) | (base.num << 5) | rt.num)


def _enc_ldst(p: _Parser, m: str) -> int:
    rt = p.reg("a register (x0-x30, w0-w30, xzr, wzr)", w=True, zr=True)
    p.comma()
    load = m in ("ldr", "ldur")
    size = 3 if rt.wide else 2
    nxt = p.peek()
    if m == "ldr" and nxt is not None and nxt.kind != "[":
        addr, col = p.target()
        p.done()
        off = p.rel(addr)
        if off % 4:
            raise AsmError(f"misaligned literal address 0x{addr:x}: offset {off} is not a "
                           "multiple of 4", col)
        if not -(1 << 20) <= off < (1 << 20):
            raise AsmError(f"literal address 0x{addr:x} out of range: offset {off} not within "
                           "+/-1MiB", col)
        return (int(rt.wide) << 30) | 0x18000000 | (((off >> 2) & 0x7FFFF) << 5) | rt.num
    base, off, mode, ocol = p.mem()
    p.done()
    _check_writeback(rt, base, mode)
    scale = 8 if rt.wide else 4
    if p.lo12_used:
        if m not in ("ldr", "str"):
            _no_lo12(p, m, ocol)
        if mode != "offset":
            raise AsmError("':lo12:' takes only a plain [base, :lo12:SYM] address", ocol)
        if off % scale:
            raise AsmError(f"misaligned ':lo12:' offset {off}: expected a multiple of {scale}",
                           ocol)
    head = (size << 30) | (int(load) << 22) | (base.num << 5) | rt.num
    if m in ("ldur", "stur"):
        if mode != "offset":
            raise AsmError(f"{m} takes only a plain [base, #offset] address", ocol)
    elif mode == "offset" and off % scale == 0 and 0 <= off <= 4095 * scale:
        return head | 0x39000000 | ((off // scale) << 10)
    if not -256 <= off <= 255:
        if mode == "offset" and m in ("ldr", "str"):
            msg = (f"offset {off} out of range: expected a multiple of {scale} in "
                   f"0..{4095 * scale} or -256..255")
        else:
            msg = f"offset {off} out of range: expected -256..255"
        raise AsmError(msg, ocol)
    idx = {"offset": 0, "post": 1, "pre": 3}[mode]
    return head | 0x38000000 | ((off & 0x1FF) << 12) | (idx << 10)


_ORDERED = {"ldar": 0x88DFFC00, "stlr": 0x889FFC00, "ldapr": 0xB8BFC000}


def _enc_ordered(p: _Parser, m: str) -> int:
    """Load-acquire / store-release: ``ldar``, ``ldapr``, ``stlr`` with a plain [base]."""
    rt = p.reg("a register (x0-x30, w0-w30, xzr, wzr)", w=True, zr=True)
    p.comma()
    base, off, mode, ocol = p.mem()
    p.done()
    _no_lo12(p, m, ocol)
    if mode != "offset" or off != 0:
        raise AsmError(f"{m} takes only a plain [base] address", ocol)
    size = (1 << 30) if rt.wide else 0
    return _ORDERED[m] | size | (base.num << 5) | rt.num


def _enc_adr(p: _Parser, m: str) -> int:
    rd = p.reg("a 64-bit register (x0-x30, xzr)", zr=True)
    p.comma()
    addr, col = p.target()
    p.done()
    if m == "adrp":
        off = p.rel(addr & ~0xFFF & MASK64) + (p.pc & 0xFFF)
        imm = off >> 12
        if not -(1 << 20) <= imm < (1 << 20):
            raise AsmError(f"adrp target 0x{addr:x} out of range: not within +/-4GiB", col)
        top = 0x90000000
    else:
        imm = p.rel(addr)
        if not -(1 << 20) <= imm < (1 << 20):
            raise AsmError(f"adr target 0x{addr:x} out of range: offset {imm} not within +/-1MiB",
                           col)
        top = 0x10000000
    imm &= 0x1FFFFF
    return top | ((imm & 3) << 29) | ((imm >> 2) << 5) | rd.num


def _enc_barrier(p: _Parser, m: str) -> int:
    base = {"isb": 0xD50330DF, "dsb": 0xD503309F, "dmb": 0xD50330BF}[m]
    if m == "isb" and p.peek() is None:
        return base | (15 << 8)
    names = "sy" if m == "isb" else ", ".join(sorted(BARRIER_BY_NAME))
    col = p.col()
    if p.at_imm():
        crm, col = p.imm("a barrier option")
    else:
        t = p.keyword()
        if t is None:
            raise p.fail(f"expected a barrier option ({names}), got {p.desc()}")
        crm = BARRIER_BY_NAME.get(t.text.lower(), -1)
    p.done()
    if (m == "isb" and crm != 15) or crm not in BARRIER_BY_NAME.values():
        raise AsmError(f"invalid or unsupported {m} option: expected one of {names}", col)
    return base | (crm << 8)


def _enc_exception(p: _Parser, m: str) -> int:
    base = {"svc": 0xD4000001, "hvc": 0xD4000002, "smc": 0xD4000003, "brk": 0xD4200000}[m]
    value, col = p.imm("a 16-bit immediate")
    p.done()
    if not 0 <= value <= 0xFFFF:
        raise AsmError(f"immediate {value} out of range: expected 0..65535", col)
    return base | (value << 5)


def _hint_word(imm: int) -> int:
    return 0xD503201F | (imm << 5)


def _enc_simple_hint(p: _Parser, m: str) -> int:
    p.done()
    imm = {"nop": 0x00, "paciasp": 0x19, "pacibsp": 0x1B, "autiasp": 0x1D, "autibsp": 0x1F}[m]
    return _hint_word(imm)


def _enc_bti(p: _Parser, m: str) -> int:
    if p.peek() is None:
        return _hint_word(0x20)
    targets = {"c": 0x22, "j": 0x24, "jc": 0x26}
    t = p.peek()
    if t is None or t.kind != "word" or t.text.lower() not in targets:
        raise p.fail(f"expected a BTI target (c, j or jc), got {p.desc()}")
    p.i += 1
    p.done()
    return _hint_word(targets[t.text.lower()])


def _enc_hint(p: _Parser, m: str) -> int:
    value, col = p.imm("a hint number")
    p.done()
    if value not in HINTS:
        known = ", ".join(f"#0x{k:x}" for k in sorted(HINTS))
        raise AsmError(f"hint #{value} is outside the supported subset (supported: {known})", col)
    return _hint_word(value)


_HANDLERS: dict[str, Callable[[_Parser, str], int]] = {
    "b": _enc_branch,
    "bl": _enc_branch,
    "br": _enc_branch_reg,
    "blr": _enc_branch_reg,
    "ret": _enc_branch_reg,
    "cbz": _enc_cb,
    "cbnz": _enc_cb,
    "mov": _enc_mov,
    "movz": _enc_movwide,
    "movk": _enc_movwide,
    "add": _enc_add_sub,
    "sub": _enc_add_sub,
    "stp": _enc_pair,
    "ldp": _enc_pair,
    "str": _enc_ldst,
    "ldr": _enc_ldst,
    "stur": _enc_ldst,
    "ldur": _enc_ldst,
    "ldar": _enc_ordered,
    "ldapr": _enc_ordered,
    "stlr": _enc_ordered,
    "adr": _enc_adr,
    "adrp": _enc_adr,
    "isb": _enc_barrier,
    "dsb": _enc_barrier,
    "dmb": _enc_barrier,
    "brk": _enc_exception,
    "svc": _enc_exception,
    "hvc": _enc_exception,
    "smc": _enc_exception,
    "nop": _enc_simple_hint,
    "paciasp": _enc_simple_hint,
    "autiasp": _enc_simple_hint,
    "pacibsp": _enc_simple_hint,
    "autibsp": _enc_simple_hint,
    "bti": _enc_bti,
    "hint": _enc_hint,
    "and": _enc_logic,
    "orr": _enc_logic,
    "eor": _enc_logic,
    "cmp": _enc_cmp,
    "subs": _enc_subs_full,
    "csel": _enc_csel,
    "csinc": _enc_csel,
    "cset": _enc_csel,
    "cinc": _enc_csel,
    "dc": _enc_cache,
    "ic": _enc_cache,
    "udf": _enc_udf,
}
_HANDLERS.update({f"b.{c}": _enc_bcond for c in CONDITION_BY_NAME})

SUPPORTED_MNEMONICS: tuple[str, ...] = tuple(sorted(_HANDLERS))


def assemble(text: str, pc: int = 0, symbols: Mapping[str, int] | None = None) -> int:
    """Assemble one instruction at ``pc``; ``symbols`` resolves branch/adr/literal
    targets given by name (including pre-resolved local labels such as ``1f``)."""
    end = text.find("//")
    if end < 0:
        end = len(text)
    toks = _lex(text, end)
    if not toks:
        raise AsmError("expected an instruction, got an empty line", 0)
    head = toks[0]
    if head.kind != "word":
        raise AsmError(f"expected a mnemonic, got {head.text!r}", head.col)
    mnemonic = head.text.lower()
    handler = _HANDLERS.get(mnemonic)
    if handler is None:
        raise AsmError(f"unknown or unsupported mnemonic {head.text!r} (expected one of: "
                       + ", ".join(SUPPORTED_MNEMONICS) + ")", head.col)
    p = _Parser(text, toks[1:], len(text[:end].rstrip()), pc & MASK64, symbols or {})
    return handler(p, mnemonic)
