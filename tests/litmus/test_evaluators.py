"""Two evaluators of the one architecture model, and a property of the model.

* The explicit enumerator (fpatch/arch/explicit.py) and the Z3 evaluator
  (fpatch/encoding/arch_smt.py) read the same axiom definitions; they must give
  the same verdict on every visible herd test.
* Monotonicity in the cache type: a stronger cache type (IDC 0 -> 1, DIC 0 -> 1)
  only adds ordering, so it never turns a Forbidden into an Allowed (nor a
  Required into anything else).
"""

from __future__ import annotations

import pytest

from fpatch.arch.model import CacheType
from fpatch.litmus.engine import check
from fpatch.litmus.parse import LitmusSyntaxError, LitmusUnsupported, parse_file

from .test_catalogue import SETS, _shared


def _parsed(name: str) -> list:  # type: ignore[type-arg]
    folder = _shared(name)[0]
    out = []
    for p in sorted(folder.glob("*.litmus")):
        try:
            out.append(parse_file(p))
        except (LitmusUnsupported, LitmusSyntaxError):
            continue
    return out


@pytest.mark.parametrize("name", sorted(SETS))
def test_explicit_and_z3_evaluators_agree(name: str) -> None:
    bad = []
    for t in _parsed(name):
        a, b = check(t, "explicit"), check(t, "smt")
        if a.verdict != b.verdict:
            bad.append(f"{t.name}: explicit {a.text()}, z3 {b.text()}")
    assert not bad, "\n".join(bad)


ORDER = [CacheType(False, False), CacheType(True, False), CacheType(False, True),
         CacheType(True, True)]
STRONGER = [(w, s) for w in ORDER for s in ORDER
            if w != s and w.idc <= s.idc and w.dic <= s.dic]


@pytest.mark.parametrize("name", sorted(SETS))
def test_a_stronger_cache_type_never_allows_more(name: str) -> None:
    bad = []
    for t in _parsed(name):
        v = {c: check(t, cache=c).verdict for c in ORDER}
        for weak, strong in STRONGER:
            if v[weak] == "Forbidden" and v[strong] != "Forbidden":
                bad.append(f"{t.name}: {weak} Forbidden, {strong} {v[strong]}")
            if v[weak] == "Required" and v[strong] != "Required":
                bad.append(f"{t.name}: {weak} Required, {strong} {v[strong]}")
    assert not bad, "\n".join(bad)


# --------------------------------------------------- random tests, both evaluators

import os  # noqa: E402

from hypothesis import HealthCheck, given, note, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402

from fpatch.litmus.parse import parse_litmus  # noqa: E402

LITMUS_EXAMPLES = int(os.environ.get("FPATCH_LITMUS_FUZZ_EXAMPLES", "120"))

# P0 patches P1's code word L0 (X1) and hands off through y (X3); P1 may read y,
# do maintenance and barriers, and then executes L0 (old: B L1, new: NOP).
WRITER = ["STR W0,[X1]", "STR W2,[X3]", "STLR W2,[X3]", "DC CVAU,X1", "IC IVAU,X1",
          "IC IALLU", "IC IALLUIS", "DSB ISH", "DSB ST", "DSB LD", "DMB ISH", "DMB ST",
          "DMB LD", "ISB", "LDR W5,[X3]"]
READER = ["LDR W4,[X3]", "LDAR W4,[X3]", "CBNZ W4,{next}", "DC CVAU,X6", "IC IVAU,X6",
          "IC IALLUIS", "DSB ISH", "DSB ST", "DMB ISH", "DMB LD", "ISB", "STR W2,[X3]",
          "EOR X7,X4,X4", "LDR W8,[X7,#0]"]


@hst.composite
def random_litmus(draw: hst.DrawFn) -> str:
    p0 = ["STR W0,[X1]"] + draw(hst.lists(hst.sampled_from(WRITER), max_size=5))
    body = draw(hst.lists(hst.sampled_from(READER), max_size=5))
    p1: list[str] = []
    for i, ins in enumerate(body):
        if "{next}" in ins:
            p1.append(ins.format(next=f"N{i}"))
            p1.append(f"N{i}:")
        else:
            p1.append(ins)
    p1 += ["L0: B L1", "MOV W9,#1", "L1:"]
    if draw(hst.booleans()):  # P0 runs the code too
        p0 += ["BL P0F"]
    rows = max(len(p0), len(p1))
    p0 += [""] * (rows - len(p0))
    p1 += [""] * (rows - len(p1))
    cache = draw(hst.sampled_from(["", "CacheType=IDC\n", "CacheType=DIC\n"]))
    cond = draw(hst.sampled_from(["exists (1:X4=1 /\\ 1:X9=0)", "exists 1:X9=0",
                                  "forall (1:X9=1 \\/ 1:X4=0)", "exists (y=1 /\\ 1:X4=0)"]))
    table = "\n".join(f" {a:14}| {b:16};" for a, b in zip(p0, p1, strict=True))
    text = (f"AArch64 R\n{cache}{{ 0:X0=NOP; 0:X1=P1:L0; 0:X2=1; 0:X3=y; 1:X3=y; 1:X6=P1:L0;"
            f" 1:X7=0; }}\n P0            | P1              ;\n{table}\n{cond}\n")
    return text.replace("BL P0F", "NOP")


@settings(max_examples=LITMUS_EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(random_litmus())
def test_evaluators_agree_on_random_tests(text: str) -> None:
    note(text)
    try:
        t = parse_litmus(text)
    except (LitmusUnsupported, LitmusSyntaxError):
        return
    a, b = check(t, "explicit"), check(t, "smt")
    assert a.verdict == b.verdict, f"explicit {a.text()}, z3 {b.text()}"
    assert a.verdict in ("Allowed", "Forbidden", "Required")
