"""The JSON Schema for editors (fpatch/spec/spec.schema.json) against the parser.

Every bundled spec and every complete example in docs/spec-format.md must be
accepted by both; each invalid spec below must be rejected by both.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Any

import jsonschema
import pytest
import yaml

from fpatch.errors import SpecError
from fpatch.spec.parse import parse_text

from .helpers import BASE, BUNDLED, ROOT, edit

SCHEMA_PATH = ROOT / "fpatch" / "spec" / "spec.schema.json"
DOC = ROOT / "docs" / "spec-format.md"


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


VALIDATOR = jsonschema.Draft202012Validator(_schema())


def as_json(doc: Any) -> Any:
    """What an editor sees: JSON has only string keys (YAML 1.1 reads ON/OFF as booleans)."""
    if isinstance(doc, dict):
        return {
            (json.dumps(k) if isinstance(k, bool) else str(k)): as_json(v) for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [as_json(v) for v in doc]
    return doc


def schema_errors(text: str) -> list[str]:
    doc = as_json(yaml.safe_load(text))
    return [e.message for e in VALIDATOR.iter_errors(doc)]


def doc_examples() -> list[str]:
    """Every ```yaml block of the format reference that is a complete spec."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S) if DOC.exists() else []
    return [b for b in blocks if re.search(r"^fpatch: 1\b", b, re.M)]


EXAMPLES = doc_examples()


def test_schema_is_valid_draft_2020_12() -> None:
    schema = _schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_is_package_data() -> None:
    shipped = files("fpatch.spec").joinpath("spec.schema.json")
    assert json.loads(shipped.read_text()) == _schema()


def test_there_are_bundled_specs() -> None:
    assert len(BUNDLED) >= 9


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_spec_matches_schema(path) -> None:  # type: ignore[no-untyped-def]
    text = path.read_text()
    parse_text(text, str(path))
    assert schema_errors(text) == []


def test_base_matches_schema() -> None:
    assert schema_errors(BASE) == []


def test_docs_have_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("n", range(len(EXAMPLES)))
def test_doc_example_matches_schema_and_parser(n: int) -> None:
    text = EXAMPLES[n]
    parse_text(text, f"{DOC}#example{n}")
    assert schema_errors(text) == []


OK_VARIANTS = {
    "labels-hex-words-and-dot": edit(
        "      ON:\n        - mov x9, x30\n        - bl ftrace_caller\n",
        "      ON:\n        - aa1e03e9\n        - 1: bl ftrace_caller\n"
        "      JMP:\n        - start: b .+8\n        - .inst 0x17ffffff\n"
        "    entry: start\n",
    ),
    "bare-steps-and-data": edit(
        "steps:\n",
        "    data: {ops: {offset: -8, size: 8, value: 0x10}}\n"
        "steps:\n  - write: {data: ops, value: 0x20, width: 8}\n  - dsb\n  - dsb: sy\n"
        "  - ic_iallu\n  - isb\n  - ipi_sync\n  - wait_tasks\n"
        "  - dc_cvau: func\n  - ic_ivau: {site: func, slots: [1]}\n"
        "  - stop_machine:\n      - write: {slot: 1, insn: nop}\n"
        "      - write: {slots: [0, 1], value: 0xd503201fd503201f, width: 8}\n",
    ),
    "everything-optional": edit(
        "expect: safe\n",
        "description: all keys\narch: aarch64\ncache: {idc: yes, dic: false, line: 128}\n"
        "env: {preemptible: false, nmi: false, cmodx: linux}\nsymbols: {target: 0x1000}\n"
        "observers: [thread]\nmax_insns: 12\ntimeout: 30\nexpect: unsafe\n",
    ),
    "bti-pac-enter": edit(
        "    slots: 2\n", "    slots: 2\n    enter: both\n",
        edit("fpatch: 1\n", "fpatch: 1\nenv: {bti: true, pac: false}\n"),
    ),
}


@pytest.mark.parametrize("name", sorted(OK_VARIANTS))
def test_valid_variants_match_schema(name: str) -> None:
    text = OK_VARIANTS[name]
    parse_text(text)
    assert schema_errors(text) == []


BAD = {
    "unknown-top-level-key": BASE + "frobnicate: 1\n",
    "missing-steps": BASE[: BASE.index("steps:")],
    "version-2": edit("fpatch: 1", "fpatch: 2"),
    "bad-register": edit("inputs: [x9, x30, sp]", "inputs: [x9, x31, sp]"),
    "slots-zero": edit("    slots: 2", "    slots: 0"),
    "misaligned-base": edit("0xffff800008200000", "0xffff800008200002"),
    "write-two-sources": edit("{slot: 1, as: ON}", "{slot: 1, as: ON, insn: nop}"),
    "write-no-source": edit("{slot: 1, as: ON}", "{slot: 1}"),
    "write-slot-and-slots": edit("{slot: 1, as: ON}", "{slot: 1, slots: [1], as: ON}"),
    "write-width-3": edit("{slot: 1, as: ON}", "{slot: 1, as: ON, width: 3}"),
    "unknown-step": edit("  - sync_icache:", "  - sync_cache:"),
    "step-two-keys": edit("  - sync_icache: {slots: [1]}\n", "  - {isb: null, dsb: ish}\n"),
    "isb-with-argument": edit("  - sync_icache: {slots: [1]}\n", "  - isb: sy\n"),
    "ipi-sync-in-stop-machine": edit(
        "  - write: {slot: 1, as: ON}\n",
        "  - stop_machine:\n      - write: {slot: 1, as: ON}\n      - ipi_sync\n",
    ),
    "nested-stop-machine": edit(
        "  - write: {slot: 1, as: ON}\n", "  - stop_machine:\n      - stop_machine: [isb]\n"
    ),
    "empty-stop-machine": edit("  - write: {slot: 1, as: ON}\n", "  - stop_machine: []\n"),
    "cmodx-unknown": edit("fpatch: 1\n", "fpatch: 1\nenv: {cmodx: arm}\n"),
    "bti-not-bool": edit("fpatch: 1\n", "fpatch: 1\nenv: {bti: guarded}\n"),
    "pac-not-bool": edit("fpatch: 1\n", "fpatch: 1\nenv: {pac: 1}\n"),
    "enter-unknown": edit("    slots: 2\n", "    slots: 2\n    enter: sideways\n"),
    "expect-maybe": edit("expect: safe", "expect: maybe"),
    "timeout-float": edit("expect: safe", "timeout: 1.5\nexpect: safe"),
    "observers-empty": edit("expect: safe", "observers: []\nexpect: safe"),
    "valid-empty": edit("steps:", "    valid: []\nsteps:"),
    "no-sites": edit(BASE[BASE.index("sites:"): BASE.index("steps:")], "sites: {}\n"),
    "label-with-space": edit("        - nop\n", '        - "a b": nop\n'),
    "data-size-0": edit("    slots: 2\n", "    slots: 2\n    data: {d: {offset: -8, size: 0}}\n"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_schema_rejects_what_the_parser_rejects(name: str) -> None:
    text = BAD[name]
    with pytest.raises(SpecError):
        parse_text(text)
    assert schema_errors(text), f"schema accepted invalid spec {name}"
