"""SARIF, JUnit, --report-dir, explain: the CLI as CI runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import xmlschema
from click.testing import CliRunner

from fpatch.cli import main
from fpatch.errors import Diagnostic, Loc
from fpatch.report.ci import Checked, junit_xml, sarif_log
from fpatch.spec import parse_text
from fpatch.verdict import ObserverResult, Result
from tests.report.conftest import HERE, PREEMPT, ROOT, SPECS, Checked3

SAFE_SPEC = SPECS / "ftrace-mov-x9-nop-bl.yaml"


def _unknown(preempt: Checked3) -> Checked:
    """A result the checker could not decide (as a timeout gives)."""
    spec = preempt[0]
    res = Result(str(PREEMPT), spec.name, None,
                 (ObserverResult("func", "thread", "unknown", reasons=("timeout",)),))
    return Checked("specs/u.yaml", spec, res)


def _items(preempt: Checked3) -> list[Checked]:
    spec, _, res = preempt
    unexpected = Result(res.path, res.name, None, res.observers)  # `expect: unsafe` removed
    bad = Diagnostic(Loc("specs/bad.yaml", 7, 9), "unknown instruction 'frobnicate'")
    return [Checked(str(PREEMPT.relative_to(ROOT)), spec, res),
            Checked("specs/unexpected.yaml", spec, unexpected),
            _unknown(preempt),
            Checked("specs/bad.yaml", errors=(bad,))]


def test_sarif_validates_and_locates_each_violation(preempt: Checked3,
                                                    sarif_schema: dict[str, Any]) -> None:
    log = sarif_log(_items(preempt))
    cls = jsonschema.validators.validator_for(sarif_schema)
    errors = [e.message for e in cls(sarif_schema).iter_errors(log)]
    assert not errors, errors[:3]
    run = log["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    results = run["results"]
    for r in results:
        assert rules[r["ruleIndex"]] == r["ruleId"]
    cx = preempt[2].counterexamples[0]
    assert cx.loc is not None
    expected, unexpected = [r for r in results if r["ruleId"] == "inequivalent"]
    for r in (expected, unexpected):
        region = r["locations"][0]["physicalLocation"]["region"]
        assert (region["startLine"], region["startColumn"]) == (cx.loc.line, cx.loc.col)
    # `expect: unsafe` makes the violation a suppressed note; without it, an error
    assert expected["level"] == "note" and expected["suppressions"][0]["kind"] == "inSource"
    assert unexpected["level"] == "error" and "suppressions" not in unexpected
    assert expected["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "specs/seed-q2-disable-stop-machine-preemptible.yaml"
    unknown = next(r for r in results if r["ruleId"] == "unknown")
    assert unknown["level"] == "warning" and "timeout" in unknown["message"]["text"]
    invalid = next(r for r in results if r["ruleId"] == "invalid-spec")
    assert invalid["locations"][0]["physicalLocation"]["region"] == {"startLine": 7,
                                                                     "startColumn": 9}


def test_sarif_unmet_expect_unsafe_points_at_the_expect_key(preempt: Checked3) -> None:
    src = SAFE_SPEC.read_text().replace("expect: safe", "expect: unsafe")
    spec = parse_text(src, "specs/s.yaml")
    res = Result("specs/s.yaml", spec.name, "unsafe",
                 (ObserverResult("func", "thread", "safe"),))
    (r,) = sarif_log([Checked("specs/s.yaml", spec, res)])["runs"][0]["results"]
    assert r["ruleId"] == "expectation" and r["level"] == "error"
    line = src.splitlines().index("expect: unsafe") + 1
    assert r["locations"][0]["physicalLocation"]["region"]["startLine"] == line


def test_junit_validates_and_maps_outcomes(preempt: Checked3) -> None:
    text = junit_xml(_items(preempt))
    xmlschema.XMLSchema(str(HERE / "junit.xsd")).validate(text)
    root = ET.fromstring(text)
    suites = root.findall("testsuite")
    assert [s.get("file") for s in suites] == [str(PREEMPT.relative_to(ROOT)),
                                               "specs/unexpected.yaml", "specs/u.yaml",
                                               "specs/bad.yaml"]
    ok, unexpected, unknown, bad = suites
    # expected unsafe: both cases pass (site/observer and `expect: unsafe`)
    assert [c.get("name") for c in ok] == ["func/thread", "expect: unsafe"]
    assert all(len(c.findall("failure")) + len(c.findall("error")) == 0 for c in ok)
    # unsafe without expect: a failure carrying the one-line reason
    (fail,) = unexpected.find("testcase").findall("failure")  # type: ignore[union-attr]
    assert fail.get("message") == preempt[2].counterexamples[0].summary
    assert unexpected.get("failures") == "1"
    # unknown never looks like a pass: an error
    (err,) = unknown.find("testcase").findall("error")  # type: ignore[union-attr]
    assert err.get("type") == "unknown" and "timeout" in (err.get("message") or "")
    # invalid spec: one error with its located problems
    (case,) = bad
    assert case.get("name") == "validate"
    assert case.find("error").get("type") == "invalid-spec"  # type: ignore[union-attr]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "2")


def _fpatch(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fpatch.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_report_dir_sarif_junit_are_byte_identical_across_runs(tmp_path: Path) -> None:
    outs = []
    for k in (1, 2):
        d = tmp_path / f"run{k}"
        p = _fpatch("check", "-q", "--report-dir", str(d / "reports"), "--sarif",
                    str(d / "out.sarif"), "--junit-xml", str(d / "out.xml"),
                    "specs/seed-q2-disable-stop-machine-preemptible.yaml",
                    "specs/ftrace-mov-x9-nop-bl.yaml")
        assert p.returncode == 0, p.stdout + p.stderr
        outs.append({str(f.relative_to(d)): f.read_bytes()
                     for f in sorted(d.rglob("*")) if f.is_file()})
    assert outs[0] == outs[1]
    names = set(outs[0])
    for spec in ("seed-q2-disable-stop-machine-preemptible", "ftrace-mov-x9-nop-bl"):
        for f in ("report.html", "report.md", "report.json", "timeline.svg", "states.svg",
                  "states.dot"):
            assert f"reports/{spec}/{f}" in names
    assert b"seconds" not in outs[0]["reports/ftrace-mov-x9-nop-bl/report.json"]


def test_format_sarif_on_stdout_and_exit_codes(tmp_path: Path,
                                               sarif_schema: dict[str, Any]) -> None:
    src = PREEMPT.read_text().replace("expect: unsafe\n", "")
    (tmp_path / "q2.yaml").write_text(src)
    p = _fpatch("check", "--format", "sarif", "q2.yaml", cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    log = json.loads(p.stdout)
    jsonschema.validators.validator_for(sarif_schema)(sarif_schema).validate(log)
    assert {r["level"] for r in log["runs"][0]["results"]} == {"error"}
    assert log["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"]["uri"] == "q2.yaml"
    r = CliRunner().invoke(main, ["check", "--json", "--format", "sarif", str(SAFE_SPEC)])
    assert r.exit_code == 2


def test_invalid_spec_in_report_dir_and_junit(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("fpatch: 1\nsites:\n  f:\n    base: 0x1000\n    slots: 1\n"
                   "    states:\n      A: [frobnicate x0]\nsteps: []\n")
    r = CliRunner().invoke(main, ["check", "-q", "--report-dir", str(tmp_path / "r"),
                                  "--junit-xml", str(tmp_path / "j.xml"), str(bad)])
    assert r.exit_code == 2
    assert "frobnicate" in (tmp_path / "r" / "bad" / "report.md").read_text()
    assert json.loads((tmp_path / "r" / "bad" / "report.json").read_text())["verdict"] == "error"
    xmlschema.XMLSchema(str(HERE / "junit.xsd")).validate(str(tmp_path / "j.xml"))


def test_explain_prints_the_report_plain_when_piped(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["explain", str(PREEMPT)])
    assert r.exit_code == 0, r.output
    out = r.output
    assert "\x1b[" not in out  # not a terminal: no colour
    assert "UNSAFE  (expected unsafe; as expected)" in out
    assert "stp x29, x30, [sp, #-16]!" in out and "interrupted after #" in out
    assert "sp (register): run" in out and "sp at entry - 16" in out
    assert "Patcher steps" in out and "state transitions:" in out
    bad = tmp_path / "q2.yaml"
    bad.write_text(PREEMPT.read_text().replace("expect: unsafe\n", ""))
    assert CliRunner().invoke(main, ["explain", "--no-color", str(bad)]).exit_code == 1
    safe = CliRunner().invoke(main, ["explain", str(SAFE_SPEC)])
    assert safe.exit_code == 0 and "No counterexample: every observer is safe" in safe.output


def test_pre_commit_hooks_file() -> None:
    import re

    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    h = hooks["fpatch-check"]
    assert h["entry"] == "fpatch check" and h["language"] == "python"
    pattern = re.compile(h["files"])
    assert pattern.search("specs/seed.yaml") and pattern.search("kernel/specs/x.yml")
    assert not pattern.search(".github/workflows/ci.yaml")
