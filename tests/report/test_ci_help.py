"""SARIF rules point to documentation that ships; JUnit messages say each thing once."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from fpatch.report.ci import RULE_DOCS, RULES, Checked, junit_xml, sarif_log
from fpatch.verdict import Result
from tests.report.conftest import PREEMPT, ROOT, Checked3


def test_every_rule_names_a_page_and_section_that_exist(preempt: Checked3) -> None:
    rules = sarif_log([])["runs"][0]["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} == set(RULE_DOCS) == {r[0] for r in RULES}
    for r in rules:
        page, section = RULE_DOCS[r["id"]]
        text = (ROOT / page).read_text(encoding="utf-8")
        assert re.search(rf"^#+ {re.escape(section)}( \(|$)", text, re.M), (page, section)
        assert page in r["help"]["text"] and f'"{section}"' in r["help"]["text"]
        assert "fpatch explain" in r["help"]["text"] or "fpatch validate" in r["help"]["text"]
        # MODEL.md is the project's contract, not a file users get
        for field in ("shortDescription", "fullDescription", "help"):
            assert "MODEL.md s." not in r[field]["text"]


def test_junit_failure_text_has_no_repeated_prefix(preempt: Checked3) -> None:
    spec, _, res = preempt
    unexpected = Result(res.path, res.name, None, res.observers)
    xml = junit_xml([Checked(str(PREEMPT.relative_to(ROOT)), spec, unexpected)])
    failures = list(ET.fromstring(xml).iter("failure"))
    assert failures
    for f in failures:
        for text in [f.get("message", ""), *(f.text or "").splitlines()]:
            assert not re.search(r"\b([\w-]+): \1:", text), text
        assert (f.text or "").startswith(res.counterexamples[0].summary)
