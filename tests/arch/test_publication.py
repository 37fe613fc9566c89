"""Publication points derived from the axioms agree with MODEL.md section 3.

MODEL.md s.3 states the single-writer reading of the architecture as chains of
steps per cache type. fpatch no longer implements those chains: it asks the
axioms (fpatch/arch/publication.py). The chains are written here once more, only
as the contract's oracle, and the derivation must agree with them on every
sequence of up to three steps and on random longer ones, for every cache type.
The one intended difference is MODEL.md's own: ``IC IALLU`` is local to the
patching CPU, so it publishes to no other CPU.
"""

from __future__ import annotations

import itertools
import random

import pytest

from fpatch.arch.model import CacheType
from fpatch.arch.publication import Op, publication_point, published

ALPHABET = [
    Op("dc", covers=True), Op("dc", covers=False), Op("ic", covers=True),
    Op("ic", covers=False), Op("ic_ialluis"), Op("ic_iallu"), Op("dsb", option="ish"),
    Op("dsb", option="st"), Op("dsb", option="sy"), Op("dsb", option="ishst"), Op("isb"),
]


def _dc(o: Op) -> bool:
    return o.kind == "dc" and o.covers


def _ic(o: Op) -> bool:  # IC IALLU is local: it does not publish to another CPU
    return (o.kind == "ic" and o.covers) or o.kind == "ic_ialluis"


def _dsb_full(o: Op) -> bool:
    return o.kind == "dsb" and o.option in ("ish", "sy")


def _dsb_any(o: Op) -> bool:
    return o.kind == "dsb"


CHAINS = {  # MODEL.md s.3
    CacheType(False, False): (_dc, _dsb_full, _ic, _dsb_full),
    CacheType(True, False): (_dsb_any, _ic, _dsb_full),
    CacheType(False, True): (_dc, _dsb_full),
    CacheType(True, True): (_dsb_any,),
}


def contract(cache: CacheType, ops: tuple[Op, ...]) -> bool:
    chain = CHAINS[cache]
    k = 0
    for o in ops:
        if chain[k](o):
            k += 1
            if k == len(chain):
                return True
    return False


def _sequences() -> list[tuple[Op, ...]]:
    out: list[tuple[Op, ...]] = []
    for n in range(1, 4):
        out += list(itertools.product(ALPHABET, repeat=n))
    rnd = random.Random(7)
    out += [tuple(rnd.choice(ALPHABET) for _ in range(rnd.randrange(4, 8))) for _ in range(150)]
    return out


@pytest.mark.parametrize("cache", list(CHAINS), ids=str)
def test_derived_publication_is_the_contract(cache: CacheType) -> None:
    bad = [[f"{o.kind}{'*' if o.covers else ''}{o.option}" for o in ops]
           for ops in _sequences() if published(cache, ops) != contract(cache, ops)]
    assert not bad, f"{len(bad)} sequences differ, e.g. {bad[:5]}"


def test_publication_point_is_the_first_completing_dsb() -> None:
    c = CacheType(False, False)
    steps = [(1, Op("dc", covers=True)), (2, None), (3, Op("dsb", option="ish")),
             (4, Op("ic", covers=True)), (5, Op("dsb", option="ish")),
             (6, Op("dsb", option="ish"))]
    assert publication_point(c, steps) == 5
    assert publication_point(c, steps[:4]) is None
    assert publication_point(CacheType(True, True), steps) == 3
