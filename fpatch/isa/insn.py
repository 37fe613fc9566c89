"""Decoded-instruction records shared by the assembler, decoder and semantics.

An ``Insn`` carries both the *preferred disassembly* (``mnemonic``/``text``,
matching what GNU objdump prints, aliases included: ``mov`` for ``orr``/``add``/
``movz``) and the *architectural operation* (``op``), so that a reader sees the
familiar text while the semantics builder dispatches on the real encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

# ------------------------------------------------------------------ operands


@dataclass(frozen=True)
class GReg:
    """A general-purpose register operand.

    ``num`` is the 5-bit encoding; register 31 means ``sp`` when ``is_sp`` and
    the zero register otherwise (the encoding alone decides, not the text).
    """

    num: int
    wide: bool  # X (64-bit) vs W (32-bit) view
    is_sp: bool = False

    @property
    def is_zr(self) -> bool:
        return self.num == 31 and not self.is_sp

    @property
    def name(self) -> str:
        """GNU spelling: x3, w3, sp, wsp, xzr, wzr."""
        if self.num == 31:
            if self.is_sp:
                return "sp" if self.wide else "wsp"
            return "xzr" if self.wide else "wzr"
        return f"{'x' if self.wide else 'w'}{self.num}"

    @property
    def xname(self) -> str | None:
        """The 64-bit IR register behind this operand; None for the zero register."""
        if self.num == 31:
            return "sp" if self.is_sp else None
        return f"x{self.num}"


@dataclass(frozen=True)
class Imm:
    """An immediate; ``shift`` is the left shift applied by the encoding (lsl #n)."""

    value: int
    shift: int = 0


@dataclass(frozen=True)
class Mem:
    """``[base, #offset]`` (``offset``), ``[base, #offset]!`` (``pre``), ``[base], #offset``
    (``post``). ``offset`` is the byte offset after scaling."""

    base: GReg
    offset: int
    mode: str  # "offset" | "pre" | "post"


@dataclass(frozen=True)
class Target:
    """An absolute code/data address computed from a PC-relative field."""

    addr: int


@dataclass(frozen=True)
class Name:
    """A keyword operand: a barrier option (``ish``) or a BTI target (``c``)."""

    value: str


Operand = GReg | Imm | Mem | Target | Name


# -------------------------------------------------------------- instructions


@dataclass(frozen=True)
class Insn:
    """One supported instruction.

    ``mnemonic`` and ``text`` are the preferred disassembly (GNU syntax, the
    same alias GNU objdump chooses); ``op`` names the underlying encoding
    (e.g. ``orr`` for ``mov x1, x2``, ``add`` for ``mov x29, sp``, ``movz`` for
    ``mov x0, #1``, ``ldr_lit`` for a literal load) and is what semantics use.
    """

    mnemonic: str
    operands: tuple[Operand, ...]
    word: int
    text: str
    op: str = ""


@dataclass(frozen=True)
class Unsupported:
    """A word outside the modelled subset (or reserved/unpredictable): never guessed."""

    word: int
    reason: str

    @property
    def text(self) -> str:
        return f".inst 0x{self.word:08x} (unsupported)"


class AsmError(Exception):
    """Assembly failure with a 0-based ``column`` into the instruction text."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return self.message


# ---------------------------------------------------------------- formatting


def _fmt_mem(m: Mem) -> str:
    b = m.base.name
    if m.mode == "offset":
        return f"[{b}]" if m.offset == 0 else f"[{b}, #{m.offset}]"
    if m.mode == "pre":
        return f"[{b}, #{m.offset}]!"
    return f"[{b}], #{m.offset}"


def format_insn(mnemonic: str, operands: tuple[Operand, ...]) -> str:
    """Render operands the way GNU objdump does (hex for arithmetic immediates,
    decimal for memory offsets); branch targets as absolute ``0x`` addresses."""
    parts: list[str] = []
    for o in operands:
        if isinstance(o, GReg):
            parts.append(o.name)
        elif isinstance(o, Imm):
            if mnemonic == "udf":
                parts.append(f"#{o.value}")
            else:
                s = f"#0x{o.value:x}" if o.value >= 0 else f"#{o.value}"
                if o.shift:
                    s += f", lsl #{o.shift}"
                parts.append(s)
        elif isinstance(o, Mem):
            parts.append(_fmt_mem(o))
        elif isinstance(o, Target):
            parts.append(f"0x{o.addr:x}")
        else:
            parts.append(o.value)
    if not parts:
        return mnemonic
    return f"{mnemonic} {', '.join(parts)}"


# Barrier options by CRm value (the named ones only; others are Unsupported).
BARRIER_OPTIONS: dict[int, str] = {
    1: "oshld",
    2: "oshst",
    3: "osh",
    5: "nshld",
    6: "nshst",
    7: "nsh",
    9: "ishld",
    10: "ishst",
    11: "ish",
    13: "ld",
    14: "st",
    15: "sy",
}
BARRIER_BY_NAME: dict[str, int] = {v: k for k, v in BARRIER_OPTIONS.items()}

# Supported HINT-space instructions: imm7 (CRm:op2) -> (mnemonic, operand).
HINTS: dict[int, tuple[str, str | None]] = {
    0x00: ("nop", None),
    0x19: ("paciasp", None),
    0x1B: ("pacibsp", None),
    0x1D: ("autiasp", None),
    0x1F: ("autibsp", None),
    0x20: ("bti", None),
    0x22: ("bti", "c"),
    0x24: ("bti", "j"),
    0x26: ("bti", "jc"),
}

# Condition codes by their 4-bit encoding, spelled as GNU objdump prints them.
CONDITIONS: tuple[str, ...] = ("eq", "ne", "cs", "cc", "mi", "pl", "vs", "vc",
                               "hi", "ls", "ge", "lt", "gt", "le", "al", "nv")
CONDITION_BY_NAME: dict[str, int] = {n: i for i, n in enumerate(CONDITIONS)} | {"hs": 2, "lo": 3}

# Cache maintenance (SYS aliases): name -> (op1, CRn, CRm, op2, takes a register).
CACHE_OPS: dict[tuple[str, str], tuple[int, int, int, int, bool]] = {
    ("dc", "cvau"): (3, 7, 11, 1, True),
    ("ic", "ivau"): (3, 7, 5, 1, True),
    ("ic", "iallu"): (0, 7, 5, 0, False),
    ("ic", "ialluis"): (0, 7, 1, 0, False),
}
