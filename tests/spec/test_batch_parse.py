"""The batch notation (docs/spec-format.md, 'Batches'): site templates and steps over
many sites expand to ordinary sites and steps; bad input is FILE:LINE:COL, exit 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from fpatch.errors import SpecError
from fpatch.isa import decode
from fpatch.spec import parse_text
from fpatch.spec.types import SyncIcache, Write

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "spec-format.md"


def doc_batch_example() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    [text] = [b for b in blocks if "name: ftrace-batch" in b]
    return text


def test_documented_example_expands() -> None:
    spec = parse_text(doc_batch_example(), "batch.yaml")
    assert [s.name for s in spec.sites] == ["entry[0]", "entry[1]", "entry[2]", "vfs_read",
                                             "vfs_write"]
    assert [s.base for s in spec.sites[:3]] == [0xFFFF800008200000 + 0x40 * i for i in range(3)]
    writes = [s for s in spec.steps if isinstance(s, Write)]
    assert [w.site for w in writes] == [s.name for s in spec.sites]
    [sync] = [s for s in spec.steps if isinstance(s, SyncIcache)]
    assert sync.addrs == tuple(s.base + 4 for s in spec.sites)
    # bl ftrace_caller is assembled at each instance: it reaches the helper from everywhere
    for s in spec.sites:
        on = s.state("ON").words[1]
        assert decode(on, s.base + 4).text == "bl 0xffff800008010000"
    assert len({s.state("ON").words[1] for s in spec.sites}) == 5


def test_site_relative_branches_keep_their_encoding() -> None:
    text = doc_batch_example().replace("OFF: [\"mov x9, x30\", nop]\n      ON: [\"mov x9, x30\", "
                                       "bl ftrace_caller]\n  named",
                                       "OFF: [\"b .+4\", nop]\n      ON: [\"b .+4\", "
                                       "bl ftrace_caller]\n  named", 1)
    spec = parse_text(text, "batch.yaml")
    assert len({s.state("OFF").words[0] for s in spec.sites[:3]}) == 1


def errors(text: str) -> list[tuple[int, int, str]]:
    with pytest.raises(SpecError) as info:
        parse_text(text, "b.yaml")
    return [(d.loc.line, d.loc.col, d.message) for d in info.value.diagnostics]


@pytest.mark.parametrize("old,new,expect", [
    ("    count: 3\n", "    count: 0\n", "sites.entry.count: 0 is out of range 1..200000"),
    ("    stride: 0x40\n", "    stride: 6\n", "sites.entry.stride: 6 is not a multiple of 4"),
    ("    stride: 0x40\n", "    stride: 4\n", "overlaps site"),
    ("    instances: {vfs_read: 0xffff800008300000,",
     "    base: 0x10\n    instances: {vfs_read: 0xffff800008300000,",
     "give 'instances' or 'base' with 'count' and 'stride', not both"),
    ("    instances: {vfs_read: 0xffff800008300000, vfs_write: 0xffff800008300040}",
     "    instances: 12", "sites.named.instances: expected a list of addresses or a mapping"),
    ("    instances: {vfs_read: 0xffff800008300000, vfs_write: 0xffff800008300040}",
     "    instances: [0xffff800008300002]", "instance 'named[0]' at 0xffff800008300002 is "
                                           "not 4-byte aligned"),
    ("sites: [entry, named]", "sites: [entry, nope]",
     "sync_icache.sites: unknown site or site template 'nope'"),
    ("sites: [entry, named]", "sites: [entry, entry]", "a site is named twice"),
    ("{sites: all, slot: 1, as: ON}", "{sites: all, slot: 1, as: NOPE}",
     "write.as: unknown state 'NOPE' of site 'entry[0]'"),
    ("{sites: all, slot: 1, as: ON}", "{sites: all, site: entry, slot: 1, as: ON}",
     "write: give 'site' or 'sites', not both"),
    ("{sites: all, slot: 1, as: ON}", "{sites: some, slot: 1, as: ON}",
     "write.sites: expected a list"),
])
def test_bad_batches_are_located_errors(old: str, new: str, expect: str) -> None:
    text = doc_batch_example()
    assert old in text
    found = errors(text.replace(old, new, 1))
    assert any(expect in msg for _, _, msg in found), found
    assert all(line >= 1 and col >= 1 for line, col, _ in found)


def test_cli_reports_a_bad_batch_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(doc_batch_example().replace("count: 3", "count: -1"), encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "fpatch.cli", "validate", str(bad)],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 2, p.stderr
    assert re.search(r"bad\.yaml:\d+:\d+: error: sites\.entry\.count", p.stderr)
    assert "Traceback" not in p.stderr


def test_many_sites_parse_within_the_limits() -> None:
    # 20,000 instances (beyond the old 100,000-node and 4,096-step limits)
    n = 20_000
    text = doc_batch_example().replace("count: 3", f"count: {n}").replace(
        "0xffff800008300000", "0xffff800009300000").replace(
        "0xffff800008300040", "0xffff800009300040")
    spec = parse_text(text, "big.yaml")
    assert len(spec.sites) == n + 2
    assert len(spec.steps) == n + 3


@pytest.mark.parametrize("text", [
    "[" * 300_000,
    "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 800)) + "#" * 300_000 + "\n",
    'a: &a "lol"\nb: [' + ", ".join(["*a"] * 70_000) + "]\n",
], ids=["deep-flow", "deep-block", "aliases"])
def test_large_hostile_yaml_is_an_error_not_a_crash(text: str) -> None:
    # Texts are parsed by libyaml: nesting and aliases are still caught by the Python
    # composer (no crash in C, aliases reported where used).
    found = errors(text)
    assert found and all(line >= 1 and col >= 1 for line, col, _ in found)
    assert any(w in m for w in ("nested too deeply", "nesting depth", "YAML aliases")
               for _, _, m in found), found[:3]
