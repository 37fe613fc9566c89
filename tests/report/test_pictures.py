"""timeline.svg and states.svg say what went wrong, and why a safe spec is safe."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from fpatch.report.document import build_report
from fpatch.report.svg import CHAR_W, states_svg, timeline_svg
from tests.report.conftest import PREEMPT, SPECS, run_spec

SVG = "{http://www.w3.org/2000/svg}"
CMODX_SPEC = SPECS / "seed-q2-enable-no-stop-machine-nonpreemptible.yaml"
SAFE_SM = SPECS / "seed-q2-enable-stop-machine-nonpreemptible.yaml"


def _doc(path: Path) -> dict[str, Any]:
    return build_report(*run_spec(path))


def _texts(svg: str) -> list[ET.Element]:
    return list(ET.fromstring(svg).iter(f"{SVG}text"))


def _strings(svg: str) -> list[str]:
    return [t.text or "" for t in _texts(svg)]  # without the hover <title>


def test_cmodx_lane_names_the_conflicting_words_and_which_is_outside() -> None:
    doc = _doc(CMODX_SPEC)
    cx = next(c for c in doc["counterexamples"] if c["violation"] == "cmodx")
    words = {w["text"]: w["cmodx"] for w in cx["cmodx_words"]}
    assert words == {"nop": True, "mov x29, sp": False}
    texts = " | ".join(_strings(timeline_svg(doc)))
    assert "mov x29, sp [B',B] (from point 8): NOT in the CMODX set" in texts
    assert "nop [A,A'] (from point 0): in the CMODX set" in texts


def test_lane_shows_the_effect_difference_and_what_is_missing() -> None:
    doc = _doc(PREEMPT)
    texts = _strings(timeline_svg(doc))
    assert any(t.startswith("effect vs nearest valid B") for t in texts)
    sp = next(d for d in doc["counterexamples"][0]["diffs"] if d["what"] == "sp")
    assert f"  sp: {sp['run']}, not {sp['valid']}" in texts
    assert any(t.startswith("missing: the run spans the write(s)") for t in texts)


def test_every_write_is_labelled_with_the_instruction_written() -> None:
    doc = _doc(PREEMPT)
    texts = _strings(timeline_svg(doc))
    for w in doc["sites"][0]["writes"]:
        assert f"s{w['slot']}: {w['text']}" in texts
    assert "s0: b func+0x10" in texts


def test_text_has_a_halo_so_it_stays_clear_of_lines() -> None:
    for el in _texts(timeline_svg(_doc(PREEMPT))):
        if el.get("fill") != "white":
            assert el.get("paint-order") == "stroke" and el.get("stroke") == "white"


def test_safe_picture_says_which_sync_closes_each_window() -> None:
    doc = _doc(SAFE_SM)
    assert doc["verdict"] == "safe"
    texts = _strings(timeline_svg(doc))
    assert "why it is safe" in texts
    rows = [t for t in texts if ":= " in t]
    assert len(rows) == sum(len(s["writes"]) for s in doc["sites"])
    assert all("(the end of stop_machine)" in r for r in rows)
    assert "s0 := b func+0x10 (W at 1): published at 5; every CPU from 6 (the end of stop_machine)" \
        in rows


def test_state_nodes_list_their_instructions_and_fit_them() -> None:
    doc = _doc(PREEMPT)
    svg = states_svg(doc)
    root = ET.fromstring(svg)
    texts = _strings(svg)
    assert "s0 stp x29, x30, [sp, #-16]!" in texts  # B's first slot
    assert "s1 nop" in texts and "s0 b func+0x10" in texts
    # each text line of a node lies inside the node's rectangle
    rects = [r for r in root.iter(f"{SVG}rect") if r.get("rx") == "6"]
    for t in _texts(svg):
        s = t.text or ""
        if not s.startswith("s") or not s[1:2].isdigit():
            continue
        x, y = float(t.get("x", 0)), float(t.get("y", 0))
        box = next(r for r in rects if float(r.get("x", 0)) <= x <= float(r.get("x", 0)) +
                   float(r.get("width", 0)) and float(r.get("y", 0)) <= y <= float(r.get("y", 0)) +
                   float(r.get("height", 0)))
        size = float(t.get("font-size", 11))
        assert x + len(s) * CHAR_W * size / 11 <= float(box.get("x", 0)) + float(box.get("width", 0))


def test_states_show_the_mix_the_observer_executed() -> None:
    doc = _doc(PREEMPT)
    texts = _strings(states_svg(doc))
    assert "cx1 executed (thread)" in texts
    assert "#1 s0 stp x29, x30, [sp, #-16]! [B] @0" in texts
    assert "#4 s3 nop [A,A'] @14" in texts


def test_edge_labels_sit_clear_of_the_nodes() -> None:
    for path in (SPECS / "ftrace-8-byte-store-both-slots.yaml", PREEMPT):
        root = ET.fromstring(states_svg(_doc(path)))
        rects = list(root.iter(f"{SVG}rect"))

        def box(r: ET.Element) -> tuple[float, float, float, float]:
            x, y = float(r.get("x", 0)), float(r.get("y", 0))
            return x, y, x + float(r.get("width", 0)), y + float(r.get("height", 0))

        nodes = [box(r) for r in rects if r.get("rx") == "6" and r.get("fill") != "#fdf0f0"]
        tags = [box(r) for r in rects if r.get("rx") == "3" and r.get("fill") == "white"]
        assert nodes and tags
        for t in tags:
            for n in nodes:
                apart = t[2] <= n[0] or n[2] <= t[0] or t[3] <= n[1] or n[3] <= t[1]
                assert apart, (path.name, t, n)
