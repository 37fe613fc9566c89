"""`fpatch extract` of many sites writes one batch spec (docs/spec-format.md, 'Batches')
whose sites are those of the per-site specs, with the same verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from fpatch.extract.batch import combine
from fpatch.spec import parse_file, parse_text
from tests.extract.conftest import Cross
from tests.extract.test_extract_elf import extract, specs_in, verdicts


@pytest.mark.parametrize("flags", [("-fpatchable-function-entry=2",),
                                   ("-fpatchable-function-entry=2",
                                    "-mbranch-protection=standard")])
def test_many_sites_become_one_batch(cross: Cross, tmp_path: Path,
                                     flags: tuple[str, ...]) -> None:
    obj = cross.compile("funcs.c", "funcs.o", *flags)
    code, _, err = extract(str(obj), "-o", str(tmp_path / "one"), "--batch-min", "0")
    assert code == 0, err
    singles = {s.sites[0].name: s.sites[0] for s in specs_in(tmp_path / "one").values()}
    code, out, err = extract(str(obj), "-o", str(tmp_path / "batch"), "--batch-min", "2")
    assert code == 0, err
    [path] = sorted((tmp_path / "batch").glob("*.yaml"))
    assert f"batch of {len(singles)} sites" in out
    spec = parse_file(path)
    assert {s.name: (s.base, s.state("OFF").words, s.state("ON").words) for s in spec.sites} \
        == {n: (s.base, s.state("OFF").words, s.state("ON").words) for n, s in singles.items()}
    single_verdicts = set(verdicts(*sorted((tmp_path / "one").glob("*.yaml"))).values())
    assert set(verdicts(path).values()) == single_verdicts == {"safe"}


def test_specs_that_differ_beyond_their_sites_are_not_combined() -> None:
    a = ("fpatch: 1\nname: a\ncache: {idc: false, dic: false}\nsites:\n  f:\n    base: 0x1000\n"
         "    slots: 1\n    states: {A: [nop], B: [isb]}\nsteps:\n  - write: {as: B}\n")
    b = a.replace("name: a", "name: b").replace("  f:", "  g:").replace("0x1000", "0x2000")
    text = combine([a, b], "ab")
    assert text is not None
    spec = parse_text(text)
    assert [s.name for s in spec.sites] == ["f", "g"] and len(spec.steps) == 2
    assert combine([a, b.replace("dic: false", "dic: true")], "ab") is None
