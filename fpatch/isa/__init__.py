"""AArch64 instruction subset: assemble, encode, decode, semantics.

Public API (the only names other layers use):

- ``assemble(text, pc, symbols) -> int``: one instruction in GNU syntax to its
  32-bit encoding; raises ``AsmError`` (message + column) on bad input.
- ``decode(word, pc) -> Insn | Unsupported``: never a wrong instruction; any
  encoding outside the supported subset is ``Unsupported``.
- ``semantics(insn, pc, pac=False) -> tuple[Stmt, ...]``: the instruction's effect
  in the IR of ``fpatch.isa.ir`` (``pac``: pointer authentication on).
- ``branch_type(insn)``, ``landing_ok(word, btype)`` (``fpatch.isa.bti``): BTI's
  PSTATE.BTYPE of an indirect branch and the landing pads compatible with it.
- ``is_cmodx(word, linux_hints=False) -> bool``: is the encoding in the Arm
  ARM's CMODX set (or Linux's older reading of it).
"""

from typing import TYPE_CHECKING, Any

from fpatch.isa.asm import assemble
from fpatch.isa.cmodx import is_cmodx
from fpatch.isa.decode import decode, disassemble
from fpatch.isa.insn import AsmError, Insn, Unsupported

if TYPE_CHECKING:
    from fpatch.isa.semantics import semantics


def __getattr__(name: str) -> Any:
    """``semantics`` on first use: the IR's classes cost start-up time that parsing and
    validating a spec do not need (bench/startup.py)."""
    if name == "semantics":
        import importlib

        module = importlib.import_module("fpatch.isa.semantics")
        # Importing the submodule bound the package attribute to the module; bind the function.
        globals()["semantics"] = module.semantics
        return module.semantics
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
