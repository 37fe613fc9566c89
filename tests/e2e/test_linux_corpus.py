"""The Linux corpus (specs/linux/, docs/linux-corpus.md): every spec cites the kernel
source and the commit its expectation comes from, and `fpatch check` gives the verdict
it cites, with the violation kind its header names.

Some corpus specs use spec language v2 (marks, completion, BTI, data words read by code,
the code graph, errata, `lr`, `:lo12:`), which is merged separately. While this tree
rejects such a spec, and only for the v2 keys listed in NEEDS, its check is skipped with
the missing feature named; any other validation error fails.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "specs" / "linux"
SPECS = sorted(CORPUS.glob("*.yaml"))
DOC = ROOT / "docs" / "linux-corpus.md"

REQUIRED = ("file", "function", "commit", "verdict", "why")
FIELDS = (*REQUIRED, "violation", "notes")
KINDS = ("torn", "cmodx", "undefined", "inequivalent", "stale", "incomplete", "bti", "data")

# Spec language v2 features each corpus spec needs (the integrator drops an entry once
# the feature is merged; the check then runs instead of being skipped).
BTI = "BTI (env.bti, site key enter)"
DATA = "data words read by code (helper reads, valid_data, symbol values)"
LR = "the `lr` alias in instructions"
MARKS = "step marks and completion at return (- mark, complete)"
GRAPH = "sites as one code graph (enter: none, reachable_after) and adrp + :lo12:"
ERRATA = "errata (env.errata: [neoverse-n1-1542419])"
NEEDS: dict[str, tuple[str, ...]] = {
    "module-plt-ftrace-flush-icache.yaml": (GRAPH,),
    "module-plt-ftrace-smp-wmb.yaml": (GRAPH,),
    "module-plt-init-at-load.yaml": (GRAPH,),
    "module-plt-neoverse-n1-1542419.yaml": (GRAPH,),
    "module-plt-neoverse-n1-1542419-workaround.yaml": (GRAPH,),
}
# How this tree's validator rejects those features (nothing else is excused).
V2_ERRORS = (
    re.compile(r"unknown key '(bti|pac|errata|enter|reads|valid_data|reachable_after|complete)'"),
    re.compile(r"unknown step 'mark'"),
    re.compile(r"got 'lr'"),
    re.compile(r"unexpected character ':'"),  # :lo12:
    re.compile(r"data\.\w+\.value: expected an integer, got str"),  # a symbol as the value
)


def header(path: Path) -> dict[str, str]:
    """The leading comment block as field -> text; a field line is `# name: text`, and
    more-indented comment lines continue the field above."""
    fields: dict[str, str] = {}
    key = None
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        m = re.match(r"# ([a-z]+):\s+(.*)", line)
        if m and m.group(1) in FIELDS:
            key = m.group(1)
            fields[key] = m.group(2).strip()
        elif key is not None and line.startswith("#  "):
            fields[key] += " " + line[1:].strip()
    return fields


def expect_of(path: Path) -> str:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict)
    return str(doc.get("expect"))


def fpatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fpatch.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def skip_reason(path: Path) -> str | None:
    """None if this tree accepts the spec; the missing v2 features if it rejects it only
    for them; fails for any other validation error."""
    p = fpatch("validate", str(path))
    if p.returncode == 0:
        return None
    errors = [e for e in p.stderr.splitlines() if ": error: " in e]
    unexcused = [e for e in errors if not any(r.search(e) for r in V2_ERRORS)]
    assert path.name in NEEDS and errors and not unexcused, p.stderr
    return "needs spec language v2: " + "; ".join(NEEDS[path.name])


def test_the_corpus_has_the_required_specs() -> None:
    assert len(SPECS) >= 13
    kinds = [header(p).get("violation") for p in SPECS]
    for kind in ("data", "incomplete", "bti"):
        assert kind in kinds, f"no corpus spec demonstrates a {kind} violation"
    assert {expect_of(p) for p in SPECS} == {"safe", "unsafe"}
    assert set(NEEDS) <= {p.name for p in SPECS}


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_header_cites_source_commit_and_reason(path: Path) -> None:
    h = header(path)
    missing = [f for f in REQUIRED if not h.get(f)]
    assert not missing, f"{path.name}: header lacks {missing}"
    assert re.search(r"\.(c|S|h)\b|Kconfig", h["file"]), h["file"]
    assert re.search(r"\w+\(\)", h["function"]), h["function"]
    commit = h["commit"]
    # a 12-hex id, or a subject with the explicit admission that the id is unconfirmed
    assert re.search(r"\b[0-9a-f]{12}\b", commit) or "id not confirmed" in commit, commit
    assert re.search(r'"[^"]+"', commit), "the commit's subject, quoted"
    assert re.search(r"\bv\d+\.\d+\b", commit), "the kernel version"
    assert h["verdict"].split()[0] == expect_of(path), (h["verdict"], expect_of(path))
    if "violation" in h:
        assert h["violation"] in KINDS and expect_of(path) == "unsafe"


@pytest.mark.parametrize("engine", ["smt", "enum"])
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_check_gives_the_cited_verdict(path: Path, engine: str) -> None:
    reason = skip_reason(path)
    if reason is not None:
        pytest.skip(reason)
    p = fpatch("check", "--format", "json", "--engine", engine, str(path.relative_to(ROOT)))
    (res,) = json.loads(p.stdout)["results"]
    assert res["verdict"] == expect_of(path), (res["verdict"], p.stderr)
    assert p.returncode == 0
    kind = header(path).get("violation")
    if kind is not None:
        found = {c["violation"] for c in res["counterexamples"]}
        assert kind in found, found


def test_a_typo_in_a_v2_spec_fails_instead_of_skipping(tmp_path: Path) -> None:
    src = CORPUS / "jump-label-nosync-no-ipi.yaml"
    bad = tmp_path / src.name
    bad.write_text(src.read_text().replace("        - nop\n", "        - nopp\n", 1))
    assert bad.read_text() != src.read_text()
    with pytest.raises(AssertionError, match="nopp"):
        skip_reason(bad)


def test_the_doc_lists_every_corpus_spec() -> None:
    doc = DOC.read_text()
    for path in SPECS:
        row = next((ln for ln in doc.splitlines() if f"`{path.name}`" in ln), None)
        assert row is not None, f"{path.name} missing from {DOC.name}"
        assert f"**{expect_of(path)}**" in row, row
