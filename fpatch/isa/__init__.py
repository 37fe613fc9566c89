"""AArch64 instruction subset: assemble, encode, decode, semantics.

Public API (the only names other layers use):

- ``assemble(text, pc, symbols) -> int``: one instruction in GNU syntax to its
  32-bit encoding; raises ``AsmError`` (message + column) on bad input.
- ``decode(word, pc) -> Insn | Unsupported``: never a wrong instruction; any
  encoding outside the supported subset is ``Unsupported``.
- ``semantics(insn, pc) -> tuple[Stmt, ...]``: the instruction's effect in the
  IR of ``fpatch.isa.ir``.
- ``is_cmodx(word, linux_hints=False) -> bool``: is the encoding in the Arm
  ARM's CMODX set (or Linux's older reading of it).
"""

from fpatch.isa.asm import assemble
from fpatch.isa.cmodx import is_cmodx
from fpatch.isa.decode import decode, disassemble
from fpatch.isa.insn import AsmError, Insn, Unsupported
from fpatch.isa.semantics import semantics

__all__ = [
    "AsmError",
    "Insn",
    "Unsupported",
    "assemble",
    "decode",
    "disassemble",
    "semantics",
    "is_cmodx",
]
