"""BTI landing pads and abstract PAC semantics (fpatch/isa/bti.py, semantics pac=True)."""

from __future__ import annotations

import pytest

from fpatch.isa import assemble, decode, semantics
from fpatch.isa.bti import BTYPE_CALL, BTYPE_JUMP, BTYPE_JUMP_X16, branch_type, landing_ok
from fpatch.isa.insn import Insn
from fpatch.isa.interp import Machine, execute
from fpatch.isa.ir import PAC_INITIAL, REGISTERS

# (instruction, compatible with 01, 10, 11): the Arm ARM's BTI/PACIxSP rules, SCTLR.BT=1.
PADS = [
    ("bti", (False, False, False)),
    ("bti c", (True, True, False)),
    ("bti j", (True, False, True)),
    ("bti jc", (True, True, True)),
    ("paciasp", (True, True, False)),
    ("pacibsp", (True, True, False)),
    ("brk #0x4", (True, True, True)),
    ("autiasp", (False, False, False)),
    ("nop", (False, False, False)),
    ("bl 0x1000", (False, False, False)),
    ("mov x9, x30", (False, False, False)),
]


@pytest.mark.parametrize("text,ok", PADS)
def test_landing_pads(text: str, ok: tuple[bool, bool, bool]) -> None:
    w = assemble(text, 0)
    assert tuple(landing_ok(w, b) for b in (BTYPE_JUMP_X16, BTYPE_CALL, BTYPE_JUMP)) == ok


def test_undefined_word_is_no_landing_pad() -> None:
    assert not landing_ok(0, BTYPE_CALL)


def _insn(text: str) -> Insn:
    d = decode(assemble(text, 0), 0)
    assert isinstance(d, Insn)
    return d


def test_branch_types() -> None:
    assert branch_type(_insn("blr x3")) == BTYPE_CALL
    assert branch_type(_insn("br x16")) == BTYPE_JUMP_X16
    assert branch_type(_insn("br x17")) == BTYPE_JUMP_X16
    assert branch_type(_insn("br x9")) == BTYPE_JUMP
    assert branch_type(_insn("ret")) is None
    assert branch_type(_insn("bl 0x40")) is None


def _machine(**regs: int) -> Machine:
    r = {x: 0 for x in REGISTERS} | PAC_INITIAL | regs
    return Machine(r, lambda a: 0)


def _run(text: str, m: Machine, pac: bool = True) -> object:
    return execute(semantics(_insn(text), 0, pac=pac), m, 0).trap


def test_pac_then_aut_with_same_sp_passes() -> None:
    m = _machine(x30=0x1234, sp=0x8000)
    assert _run("paciasp", m) is None
    assert _run("autiasp", m) is None
    assert m.regs["x30"] == 0x1234


@pytest.mark.parametrize("change", ["sp", "x30", "key", "none"])
def test_aut_faults_on_mismatch(change: str) -> None:
    m = _machine(x30=0x1234, sp=0x8000)
    if change != "none":
        _run("pacibsp" if change == "key" else "paciasp", m)
    if change == "sp":
        m.regs["sp"] -= 16
    if change == "x30":
        m.regs["x30"] = 0x99
    trap = _run("autiasp", m)
    assert trap is not None and trap.kind == "pac"  # type: ignore[attr-defined]


def test_aut_consumes_the_signature() -> None:
    m = _machine(x30=0x1234, sp=0x8000)
    _run("pacibsp", m)
    assert _run("autibsp", m) is None
    assert _run("autibsp", m) is not None


def test_pac_off_is_a_hint() -> None:
    for text in ("paciasp", "autiasp", "pacibsp", "autibsp"):
        assert semantics(_insn(text), 0) == ()


def test_nested_signing_faults_conservatively() -> None:
    """A doubly signed x30 is not represented: the second pac* faults (docs/model.md)."""
    m = _machine(x30=0x1234, sp=0x8000)
    assert _run("paciasp", m) is None
    trap = _run("paciasp", m)
    assert trap is not None and trap.kind == "pac"  # type: ignore[attr-defined]
