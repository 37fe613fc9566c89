"""Differential test: the SMT engine and the explicit enumerator must agree.

``fpatch.encoding.check_spec`` (path-wise symbolic execution + incremental Z3)
and ``fpatch.enumerate.check`` (concrete execution, no solver) are independent
readings of docs/model.md. For many small random specs they must report the
same ``Result.violations()`` set and the same set of (site, observer) pairs
whose status is ``unknown``. Any disagreement is a bug in one engine (or an
ambiguity of docs/model.md); the regression tests below keep every case found.

What the generator leaves out, on purpose: the enumerator decides
inequivalence by executing every run on a *fixed family* of initial machine
states (``fpatch.enumerate.FAMILY``), an under-approximation of "there is an
initial state". A witness that needs a special initial value (a conditional
branch ``cbz``/``cbnz`` taken only for one register value, or a load from an
arbitrary register that must alias a store) can be missed by the enumerator by
design, while Z3 finds it. So the instruction pool has no conditional branches
and no loads/stores through registers other than ``sp``; everything it holds
(branches forward inside or just past the site, ``bl`` to a declared helper,
frame push/pop, ``sp`` adjustments, ``mov`` from ``x30``, ``isb``, traps,
``ret``, an undefined word) behaves the same for every initial state, up to
renaming of the initial values, so the family decides it exactly.

A third of the specs are code graphs: a second site ``g`` (``enter: none`` or
``direct``, sometimes ``reachable_after`` a ``- mark``) that ``f`` branches into
with ``b``/``bl`` and that rarely branches back (docs/model.md, Sites as one code
graph).

BTI and PAC (issue 9.4): the pool also holds landing pads (``bti c``/``j``/``jc``),
``paciasp``/``autiasp`` and the B-key forms, and ``adr x16/x17/x9, .+N`` with
``br``/``blr`` through those registers (a target the site computes itself, or a free
one: then both engines answer unknown); specs draw ``env.bti``, ``env.pac`` and the
site's ``enter``.

``FPATCH_FUZZ_EXAMPLES`` sets the number of random specs (default 300; ``make
fuzz`` uses 3000). The run is derandomized, so CI is deterministic; a failing
example's YAML is printed through hypothesis' ``note``.
"""

from __future__ import annotations

import os
import random
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from fpatch.encoding import check_spec
from fpatch.enumerate import check as enum_check
from fpatch.spec import parse_text
from fpatch.spec.parse import parse_file
from fpatch.spec.types import Spec
from fpatch.verdict import Result

T = TypeVar("T")
EXAMPLES = int(os.environ.get("FPATCH_FUZZ_EXAMPLES", "300"))
SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.yaml"))
BASE = 0x1000
BASE2 = 0x2000  # the second site of a code graph (docs/model.md, Sites as one code graph)
HELPER = 0x9000


# ------------------------------------------------------------------ comparing


def unknowns(r: Result) -> frozenset[tuple[str, str]]:
    return frozenset((o.site, o.observer) for o in r.observers if o.status == "unknown")


def compare(spec: Spec) -> tuple[Result, Result]:
    smt = check_spec(spec, timeout=30)
    enum = enum_check(spec)
    return smt, enum


def describe(r: Result) -> str:
    lines = [f"{r.engine}: verdict {r.verdict}"]
    for o in r.observers:
        lines.append(f"  {o.site}/{o.observer}: {o.status} "
                     f"{[c.violation for c in o.counterexamples]} {list(o.reasons)}")
        for c in o.counterexamples:
            lines.append(f"    {c.violation}: {c.summary}")
    return "\n".join(lines)


def assert_agree(spec: Spec) -> None:
    smt, enum = compare(spec)
    detail = describe(smt) + "\n" + describe(enum)
    assert smt.violations() == enum.violations(), detail
    assert unknowns(smt) == unknowns(enum), detail
    # Every counterexample the SMT engine prints replays without a solver.
    assert all(c.replayed for c in smt.counterexamples), detail


def check_text(text: str) -> None:
    assert_agree(parse_text(textwrap.dedent(text), "<differential>"))


# ------------------------------------------------------------------ generator


class Chooser:
    """The random choices the generator makes, from hypothesis or from random.Random."""

    def __init__(self, draw: Callable[[st.SearchStrategy[object]], object] | None = None,
                 rng: random.Random | None = None) -> None:
        self._draw, self._rng = draw, rng

    def pick(self, options: Sequence[T]) -> T:
        if self._draw is not None:
            return self._draw(st.sampled_from(options))  # type: ignore[return-value]
        assert self._rng is not None
        return self._rng.choice(options)

    def int(self, lo: int, hi: int) -> int:
        if self._draw is not None:
            return self._draw(st.integers(lo, hi))  # type: ignore[return-value]
        assert self._rng is not None
        return self._rng.randint(lo, hi)

    def bool(self) -> bool:
        return self.pick((False, True))


RET = "ret"
PLAIN = [
    "nop", '"mov x9, x30"', '"mov x10, x30"', '"mov x29, sp"',
    '"stp x29, x30, [sp, #-16]!"', '"ldp x29, x30, [sp], #16"',
    '"add sp, sp, #16"', '"sub sp, sp, #16"', "isb", '"brk #0"', "ret",
    '"str x0, [sp, #8]"', "00000000",
]
# BTI and PAC (issue 9.4): landing pads, signing, and indirect branches inside the site.
PADS = ['"bti c"', '"bti j"', '"bti jc"', "paciasp", "autiasp", "pacibsp", "autibsp"]
INDIRECT = ["br x16", "br x9", "blr x17", "br x17"]
HELPER_CONTRACTS = [
    "{address: 0x9000}",
    "{address: 0x9000, inputs: [x9, x30, sp], restores: {x30: x9}, clobbers: [x9]}",
    "{address: 0x9000, inputs: [x30], clobbers: [x0, x16]}",
    "{address: 0x9000, inputs: [x0, sp], restores: {x30: x9}}",
    "{address: 0x9000, inputs: [], clobbers: [x9]}",
    "{address: 0x9000, inputs: [x9, sp], returns_to: x9, clobbers: [x30]}",
]


# Loads of the data word `d` at BASE-8 (MODEL.md 6.7): by name, by address (`.-8` hits it
# only from slot 0, else it overlaps it or the slots: unknown) and through a register
# (the entry x30 is free: unknown; x30 set by a `bl` is exact).
DATA_INSNS = ['"ldr x0, d"', '"ldr x1, .-8"', '"ldur x2, [x30, #-8]"']
DATA_VALUES = ["0x9000", "0x100009100", "0xffff000000009000"]
READS_CONTRACTS = [
    "{address: 0x9000, inputs: [x30], reads: [{base: x30, align: 8, offset: -16}], "
    "clobbers: [x0]}",
    "{address: 0x9000, inputs: [x9, x30, sp], restores: {x30: x9}, clobbers: [x9], "
    "reads: [{base: x30, align: 8, offset: -16, size: 8}]}",
]


def insn(ch: Chooser, slot: int, nslots: int, data: bool = False,
         other: tuple[int, int] | None = None) -> str:
    """One instruction; ``other`` (base, slots) is another site it may branch into."""
    kind = ch.int(0, 11 if data or other else 9)
    if kind >= 10 and other is not None and (not data or ch.bool()):
        op = ch.pick(["b", "b", "bl"])  # into the other site: the code graph
        return f"{op} {other[0] + 4 * ch.int(0, other[1] - 1):#x}"
    if kind >= 10:
        return ch.pick(DATA_INSNS)
    if kind == 0:
        return f"b .+{4 * ch.int(1, nslots - slot)}"  # forward, at most just past the site
    if kind == 1:
        return "bl h"
    if kind == 2:
        return ch.pick(PADS)
    if kind == 3 and ch.bool():
        return ch.pick(INDIRECT)
    if kind == 3:  # a target the site computes itself, forward inside or just past it
        return f'"adr {ch.pick(["x16", "x17", "x9"])}, .+{4 * ch.int(1, nslots - slot)}"'
    return ch.pick(PLAIN)


def gen_spec(ch: Chooser) -> str:
    nslots = ch.int(1, 3)
    graph = ch.int(0, 2) == 0  # a second site g that f branches into (code graph)
    nslots2 = ch.int(1, 2) if graph else 0
    names = ["A", "B", "C"][: ch.int(2, 3)]
    g_to = (BASE2, nslots2) if graph else None
    data = ch.int(0, 2) == 0
    states = {n: [insn(ch, i, nslots, data, g_to) for i in range(nslots)] for n in names}
    valid = [n for n in names if ch.bool()] or [names[0]]
    initial = ch.pick(names)
    names2 = ["P", "Q"]
    # g branches back into f rarely (loops end at max_insns: unknown for both engines)
    back = (BASE, nslots) if ch.int(0, 3) == 0 else None
    states2 = {n: [insn(ch, i, nslots2, other=back) for i in range(nslots2)] for n in names2}
    valid2 = [n for n in names2 if ch.bool()] or [names2[-1]]
    sites = ["f", "g"] if graph else ["f"]

    def write() -> str:
        site = ch.pick(sites)
        ns, base, nm = (nslots, BASE, names) if site == "f" else (nslots2, BASE2, names2)
        first = ch.int(0, ns - 1)
        count = ch.int(1, ns - first)
        slots = list(range(first, first + count))
        widths = [4, 4, 4, 1, 2]
        if count == 2 and (base + 4 * first) % 8 == 0:
            widths += [8, 8]
        width = ch.pick(widths)
        order = ", order: descending" if width < 4 and ch.int(0, 2) == 0 else ""
        where = f"site: {site}, " if graph else ""
        return f"write: {{{where}slots: {slots}, as: {ch.pick(nm)}, width: {width}{order}}}"

    def maintenance() -> str:
        site = ch.pick(sites)
        return ch.pick([f"dc_cvau: {site}", "dsb: ish", "dsb: sy", "dsb: ishst", "dsb: st",
                        f"ic_ivau: {site}", "ic_iallu", "isb", f"sync_icache: {site}",
                        "ic_ialluis", "dmb: ish", "dsb: ld", "dsb: osh"])

    def data_write() -> str:
        where = "site: f, " if graph else ""
        return (f"write: {{{where}data: d, value: {ch.pick(DATA_VALUES)}, "
                f"width: {ch.pick([4, 8, 8])}}}")

    steps: list[str] = []
    for _ in range(ch.int(1, 5)):
        kind = ch.int(0, 9)
        if data and kind <= 1:
            steps.append(data_write())
        elif kind <= 3:
            steps.append(write())
        elif kind <= 6:
            steps.append(maintenance())
        elif kind == 7:
            body = [write() if ch.bool() else maintenance() for _ in range(ch.int(1, 3))]
            steps.append("stop_machine: [" + ", ".join("{" + b + "}" for b in body) + "]")
        else:
            steps.append(ch.pick(["ipi_sync", "wait_tasks"]))
    reach = ""
    if graph and ch.bool():  # g is fresh code: nothing executes it before the mark
        steps.insert(ch.int(0, len(steps)), "mark: ready")
        reach = "    reachable_after: ready"
    idc, dic, preempt, nmi = ch.bool(), ch.bool(), ch.bool(), ch.bool()
    cmodx = ch.pick(["", "", "", ", cmodx: linux"])
    cmodx += ch.pick(["", ", bti: true", ", bti: true"]) + ch.pick(["", ", pac: true"])
    enter = ch.pick(["", "", "indirect", "both", "direct"])
    observers = ch.pick(["", "observers: [thread]"] + (["observers: [nmi]"] if nmi else []))
    max_insns = ch.pick(["", "", "", "", "max_insns: 2"])  # small bounds: unknown answers
    lines = [
        "fpatch: 1",
        "name: fuzz",
        f"cache: {{idc: {str(idc).lower()}, dic: {str(dic).lower()}}}",
        f"env: {{preemptible: {str(preempt).lower()}, nmi: {str(nmi).lower()}{cmodx}}}",
        f"helpers: {{h: {ch.pick(HELPER_CONTRACTS + (READS_CONTRACTS if data else []))}}}",
        "sites:",
        "  f:",
        f"    base: {BASE:#x}",
        f"    slots: {nslots}",
    ]
    lines += [f"    enter: {enter}"] if enter else []
    lines += [
        "    states:",
    ]
    lines += [f"      {n}: [{', '.join(ws)}]" for n, ws in states.items()]
    lines += [f"    initial: {initial}", f"    valid: [{', '.join(valid)}]"]
    if data:
        lines.append(f"    data: {{d: {{offset: -8, size: 8, value: {ch.pick(DATA_VALUES)}}}}}")
        if ch.bool():
            listed = [v for v in DATA_VALUES if ch.bool()] or [DATA_VALUES[0]]
            lines.append(f"    valid_data: {{{ch.pick(valid)}: {{d: [{', '.join(listed)}]}}}}")
    if graph:
        lines += ["  g:", f"    base: {BASE2:#x}", f"    slots: {nslots2}",
                  f"    enter: {ch.pick(['none', 'none', 'direct'])}", "    states:"]
        lines += [f"      {n}: [{', '.join(ws)}]" for n, ws in states2.items()]
        lines += [f"    initial: {ch.pick(names2)}", f"    valid: [{', '.join(valid2)}]"]
        lines += [reach] if reach else []
    lines.append("steps:")
    # Drawn last, so the specs above stay what they were: step marks, `complete:` (MODEL.md
    # 6.5, violation incomplete) and the Neoverse-N1 erratum (a switch on the axioms).
    marked: list[str] = []
    for k in range(len(steps) + 1):
        if ch.int(0, 2) == 0:
            marked.append(f"mark: m{k}")
        if k < len(steps):
            marked.append(steps[k])
    names_m = [m.split()[1] for m in marked if m.startswith("mark:")]
    complete = [n for n in names_m if ch.bool()] + (["end"] if ch.bool() else [])
    if ch.int(0, 3) == 0:
        lines[3] = lines[3][:-1] + ", errata: [neoverse-n1-1542419]}"
    lines += [f"  - {s}" for s in marked]
    lines += [x for x in (observers, max_insns) if x]
    if complete:
        lines.append(f"complete: [{', '.join(complete)}]")
    return "\n".join(lines) + "\n"


@st.composite
def specs(draw: Callable[[st.SearchStrategy[object]], object]) -> str:
    return gen_spec(Chooser(draw=draw))


# ---------------------------------------------------------------- the tests


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(specs())
def test_engines_agree_on_random_specs(text: str) -> None:
    note(text)
    assert_agree(parse_text(text, "<fuzz>"))


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_engines_agree_on_shipped_specs(path: Path) -> None:
    spec = parse_file(path)
    smt, enum = compare(spec)
    assert smt.violations() == enum.violations(), describe(smt) + "\n" + describe(enum)


# ------------------------------------------------ regressions (one per disagreement)

HEAD = """
fpatch: 1
name: regression
cache: {idc: true, dic: true}
env: {preemptible: false, nmi: false}
"""


def both(text: str) -> tuple[Result, Result]:
    spec = parse_text(textwrap.dedent(HEAD) + textwrap.dedent(text), "<regression>")
    assert_agree(spec)
    return compare(spec)


def test_regression_no_valid_state_completes() -> None:
    """The only valid state executes an undefined word, so every completed run is
    inequivalent. Both engines crashed building the counterexample (extract.py asserted a
    nearest valid state exists; enumerate.py read ``diffs`` before binding it)."""
    for r in both("""
        sites:
          f:
            base: 0x1000
            slots: 1
            states: {A: [nop], U: ["00000000"]}
            initial: A
            valid: [U]
        steps: [{dsb: ish}]
    """):
        assert r.violations() == {("f", "thread", "inequivalent")}
        assert r.counterexamples[0].nearest_valid is None


def test_regression_ret_to_free_x30_is_unknown() -> None:
    """``ret`` jumps to the entry x30, which docs/model.md leaves free: for some initial
    state it points back into the site, which neither engine follows. Z3 answered unknown;
    the enumerator, whose fixed initial states never point there, answered safe."""
    for r in both("""
        sites:
          f:
            base: 0x1000
            slots: 2
            states: {A: [nop, ret]}
        steps: [{dsb: ish}]
    """):
        assert r.verdict == "unknown"
        assert any("through a register" in why for o in r.observers for why in o.reasons)


def test_regression_helper_returning_through_a_free_register_is_unknown() -> None:
    """Same for a helper whose contract returns through x9 (here the entry x30)."""
    for r in both("""
        helpers: {h: {address: 0x9000, inputs: [x9, sp], returns_to: x9, clobbers: [x30]}}
        sites:
          f:
            base: 0x1000
            slots: 2
            states: {A: ["mov x9, x30", bl h]}
        steps: [{dsb: ish}]
    """):
        assert r.verdict == "unknown"


def test_regression_stack_wraps_at_zero() -> None:
    """Valid A pushes and pops a frame; the run (B) does neither. With sp = 0 at entry the
    push would wrap to 2^64-16 and be compared: Z3 found that artefact, the enumerator did
    not. docs/model.md now keeps the initial sp 2^32 away from both ends (a kernel stack
    never wraps), so both engines agree the dead frame is no difference."""
    for r in both("""
        sites:
          f:
            base: 0x1000
            slots: 2
            states:
              A: ["stp x29, x30, [sp, #-16]!", "ldp x29, x30, [sp], #16"]
              B: [isb, "mov x9, x30"]
            initial: B
            valid: [A]
        steps: [{dsb: ish}]
    """):
        assert r.violations() == set() and r.verdict == "safe"


def test_regression_stack_wraps_at_the_top() -> None:
    """Valid A stores at sp+8 then pops 16 bytes; the run (B) only pops. With sp = 2^64-16
    the final sp would wrap to 0 and the store at 2^64-8 be compared (an artefact); with
    the initial-sp range of docs/model.md the store is dead stack for both engines."""
    for r in both("""
        sites:
          f:
            base: 0x1000
            slots: 2
            states:
              A: ["str x0, [sp, #8]", "add sp, sp, #16"]
              B: [nop, "add sp, sp, #16"]
            initial: B
            valid: [A]
        steps: [{dsb: ish}]
    """):
        assert r.violations() == set() and r.verdict == "safe"


def both_bti(text: str) -> tuple[Result, Result]:
    """``both`` with env.bti on (HEAD's env has no bti)."""
    spec = parse_text(textwrap.dedent(HEAD).replace("nmi: false}", "nmi: false, bti: true}")
                      + textwrap.dedent(text), "<regression>")
    assert spec.bti
    assert_agree(spec)
    return compare(spec)


def test_regression_bti_cut_keeps_stale_of_the_landing_fetch() -> None:
    """A Branch Target exception ends the run, but the landing fetch itself may still be
    stale: the SMT engine checked BTI before the stale goal (and skipped it), the
    enumerator's stale walk knew nothing of BTI. Both now check stale first, then cut."""
    for r in both_bti("""
        helpers: {h: {address: 0x9000}}
        sites:
          f:
            base: 0x1000
            slots: 2
            enter: indirect
            states: {A: [b .+4, bl h], B: [bl h, bl h]}
            initial: A
            valid: [A]
        steps: [{write: {slots: [0], as: B, width: 4}}]
    """):
        assert {c.violation for c in r.counterexamples} == {"bti", "stale"}


def test_regression_undefined_word_at_a_landing_is_both() -> None:
    """A torn word at an indirect entry is no landing pad and no instruction: the
    enumerator reported only bti, the SMT engine bti and undefined. Both report both."""
    for r in both_bti("""
        helpers: {h: {address: 0x9000}}
        sites:
          f:
            base: 0x1000
            slots: 1
            enter: indirect
            states: {A: [bl h], B: ["bti c"]}
            initial: B
            valid: [A]
        steps: [{write: {slots: [0], as: A, width: 1}}]
    """):
        assert {"bti", "undefined"} <= {c.violation for c in r.counterexamples}
