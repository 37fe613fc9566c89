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
