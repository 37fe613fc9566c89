"""The report of an unsafe bundled spec: content, schema, pictures."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema

from fpatch.errors import Diagnostic, Loc
from fpatch.report.document import diff_category, error_report, source_write
from fpatch.report.markdown import render_markdown
from fpatch.report.svg import states_dot, states_svg, timeline_svg
from fpatch.report.writer import safe_name, write_report
from tests.report.conftest import Checked3

SVG = "{http://www.w3.org/2000/svg}"


def _preempted(doc: dict[str, Any]) -> dict[str, Any]:
    """The counterexample of MODEL.md s.8: a thread preempted after `stp` whose sp is off."""
    for cx in doc["counterexamples"]:
        texts = [x["text"] for x in cx["execs"]]
        resumed = [k for k, x in enumerate(cx["execs"]) if x["interrupted_before"]]
        if (cx["observer"] == "thread" and cx["violation"] == "inequivalent" and resumed
                and any(t.startswith("stp x29, x30, [sp, #-16]!") for t in texts[:resumed[0]])
                and any(d["what"] == "sp" for d in cx["diffs"])):
            return cx
    raise AssertionError("no preempted-task counterexample")


def test_markdown_names_the_stp_before_the_preemption_and_the_sp_difference(
        preempt_doc: dict[str, Any]) -> None:
    cx = _preempted(preempt_doc)
    md = render_markdown(preempt_doc)
    assert md.startswith("# fpatch report: seed-q2-disable-stop-machine-preemptible\n")
    assert "Verdict: **UNSAFE** (expected unsafe; as expected" in md
    section = md[md.index(f"## Counterexample {cx['id']}: INEQUIVALENT"):]
    # the timeline: the stp is executed before the interruption, which returns later
    stp = section.index("executes slot 0: `stp x29, x30, [sp, #-16]!` [B]")
    interrupted = section.index("interrupted after #")
    returns = section.index("returns from the interruption: CSE")
    assert stp < interrupted < returns
    # the instructions ran, each with its state, and the interrupted one marked
    ran = section[section.index("### Instructions the observer ran"):]
    first = ran.index("| 1 | 0 | `stp x29, x30, [sp, #-16]!` | a9bf7bfd | B | 0 |")
    assert first < ran.index("| yes |")
    # the effect: sp differs from the nearest valid state's
    effect = section[section.index("### Effect against the nearest valid state"):]
    sp = next(d for d in cx["diffs"] if d["what"] == "sp")
    assert f"| sp | register | {sp['run']} | {sp['valid']} |" in effect
    assert "sp at entry - 16" in sp["run"]
    # the environment and the states side by side, differing slots marked
    assert "- kernel: preemptible=true, nmi=false, CMODX set: manual" in md
    assert "| slot | addr | A (valid) | A' | B' | B (initial, valid) | differs |" in md
    assert "| 0 | 0xffff800008200000 | `nop` (d503201f) | `b func+0x10` (14000004)" in md
    assert md.count("| **\\*** |") == 4
    # the patcher's steps with publication points and forced CSEs
    assert "| 5 | sync_icache func slots 0 [4/5: dsb ish] | block 0 |  | func slot 0 " \
           "(write at 1) | 45 |" in md


def test_report_json_validates_against_its_schema(preempt_doc: dict[str, Any],
                                                  report_schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(report_schema)
    jsonschema.validate(preempt_doc, report_schema, cls=jsonschema.Draft202012Validator)
    err = error_report("bad.yaml", "bad", [Diagnostic(Loc("bad.yaml", 3, 5), "no")])
    jsonschema.validate(err, report_schema, cls=jsonschema.Draft202012Validator)
    broken = json.loads(json.dumps(preempt_doc))
    broken["counterexamples"][0]["execs"][0]["word"] = 12
    assert list(jsonschema.Draft202012Validator(report_schema).iter_errors(broken))


def test_fetches_point_at_the_write_that_produced_their_value(preempt: Checked3,
                                                              preempt_doc: dict[str, Any]) -> None:
    spec, tl, _ = preempt
    hist = tl.history(spec.sites[0])
    for cx in preempt_doc["counterexamples"]:
        for x in cx["execs"]:
            h = hist[x["slot"]]
            w = x["source_write"]
            assert h.values[x["fetched_at"]] == h.values[w or 0]
            assert not any(w_ is not None and (w or 0) < w_ <= x["fetched_at"]
                           for w_, _ in h.writes)
    # the resumed fetch saw the third chunk of the A' write (point 9)
    cx = _preempted(preempt_doc)
    resumed = next(x for x in cx["execs"] if x["interrupted_before"])
    assert resumed["source_write"] == source_write(hist[resumed["slot"]], resumed["fetched_at"])
    assert resumed["source_write"] is not None and 7 <= resumed["source_write"] <= 9


def test_unsafe_edges_are_those_inside_a_counterexample_span(
        preempt_doc: dict[str, Any]) -> None:
    site = preempt_doc["sites"][0]
    cx = _preempted(preempt_doc)
    lo, hi = cx["span"]
    for t in site["transitions"]:
        assert t["unsafe"] == (lo < t["point"] <= hi)
    # the B -> B' write happens while the task is preempted; A' -> A after it returned
    assert site["transitions"][0]["unsafe"] and not site["transitions"][-1]["unsafe"]


def test_timeline_svg_is_xml_with_lanes_arrows_and_legend(preempt_doc: dict[str, Any]) -> None:
    text = timeline_svg(preempt_doc)
    root = ET.fromstring(text.encode())
    assert root.tag == f"{SVG}svg"
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert texts[0] == "fpatch timeline: seed-q2-disable-stop-machine-preemptible"
    assert "patcher (one CPU)" in texts and "Legend" in texts
    cxs = preempt_doc["counterexamples"]
    for cx in cxs:
        assert f"{cx['id']}: {cx['observer']} in {cx['site']}" in texts
    # one arrow per fetch, from its write; CSEs of all CPUs and publications marked
    arrows = [e for e in root.iter(f"{SVG}line") if e.get("marker-end") == "url(#arrow)"]
    assert len(arrows) == sum(len(cx["execs"]) for cx in cxs)
    assert texts.count("CSE all CPUs") == len(preempt_doc["forced_cse_points"])
    assert any(t.startswith("P s1,s2,s3") for t in texts)
    assert any(t.startswith("#1 s0 stp x29, x30, [sp, #-16]!") for t in texts)
    assert any("interrupted / preempted" in t for t in texts)


def test_states_svg_and_dot(preempt_doc: dict[str, Any]) -> None:
    root = ET.fromstring(states_svg(preempt_doc).encode())
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    site = preempt_doc["sites"][0]
    for nd in site["nodes"]:
        assert nd["name"] in texts
    red = [e for e in list(root.iter(f"{SVG}line")) + list(root.iter(f"{SVG}path"))
           if e.get("marker-end") == "url(#arrow-red)"]
    assert len(red) == sum(t["unsafe"] for t in site["transitions"]) + 1  # + the legend's
    dot = states_dot(preempt_doc)
    assert dot.startswith('digraph "seed-q2-disable-stop-machine-preemptible" {')
    assert dot.count("->") == len(site["transitions"])
    assert dot.count('color="#cd2626"') == sum(t["unsafe"] for t in site["transitions"])


def test_write_report_files_and_folder_names(tmp_path: Path,
                                             preempt_doc: dict[str, Any]) -> None:
    taken: set[str] = set()
    a = write_report(tmp_path, preempt_doc, taken)
    b = write_report(tmp_path, preempt_doc, taken)
    assert a.name == "seed-q2-disable-stop-machine-preemptible" and b.name == a.name + "-2"
    assert sorted(p.name for p in a.iterdir()) == ["report.html", "report.json", "report.md",
                                                   "states.dot", "states.svg", "timeline.svg"]
    err = error_report("x/bad.yaml", "bad", [Diagnostic(Loc("x/bad.yaml", 2, 1), "oops")])
    c = write_report(tmp_path, err)
    assert sorted(p.name for p in c.iterdir()) == ["report.html", "report.json", "report.md"]
    assert "`x/bad.yaml:2:1`: oops" in (c / "report.md").read_text()
    assert safe_name("a/b c") == "a_b_c" and safe_name("..") == "spec"


def test_diff_categories() -> None:
    assert [diff_category(w) for w in ("sp", "x30", "exit", "mem[0x10]", "calls",
                                       "call 1 (f) input x9")] == \
        ["register", "register", "exit", "memory", "call", "call"]
