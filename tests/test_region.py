"""Sites as one code graph (fpatch/region.py, docs/model.md): a branch from one declared
site into another continues there, in both engines, with replayable counterexamples
that name the site of every executed instruction."""

from __future__ import annotations

import json
import textwrap

import pytest

from fpatch.encoding import check_spec
from fpatch.enumerate import check as enum_check
from fpatch.enumerate import flatten
from fpatch.region import edges, regions
from fpatch.spec import parse_text
from fpatch.spec.types import Spec
from fpatch.verdict import Result

# The module PLT case (arch/arm64/kernel/module-plts.c): the call site toggles
# `nop <-> bl plt`; the PLT is written before the call site is enabled.
PLT = """
fpatch: 1
name: module-plt
env: {preemptible: true, nmi: false}
helpers:
  ftrace_caller: {address: 0xffff800008010000, inputs: [x30, sp]}
sites:
  call:
    base: 0xffff800009000000
    slots: 1
    states:
      OFF: [nop]
      ON: ["bl 0xffff80000a000000"]
  plt:
    base: 0xffff80000a000000
    slots: 3
    enter: none
    states:
      EMPTY: ["00000000", "00000000", "00000000"]
      PLT:
        - adrp x16, 0xffff800008010000
        - add x16, x16, 0
        - br x16
    initial: EMPTY
    valid: [PLT]
steps:
  - write: {site: plt, as: PLT}
  - sync_icache: plt
  - mark: plt_ready
  - write: {site: call, slot: 0, as: ON}
  - sync_icache: call
"""


def spec_of(text: str) -> Spec:
    return parse_text(textwrap.dedent(text), "<region>")


def both(spec: Spec) -> tuple[Result, Result]:
    smt, enum = check_spec(spec, timeout=30), enum_check(spec)
    assert smt.violations() == enum.violations()
    assert {(o.site, o.observer, o.status) for o in smt.observers} == {
        (o.site, o.observer, o.status) for o in enum.observers}
    assert all(c.replayed for c in smt.counterexamples)
    return smt, enum


def test_plt_region_holds_both_sites() -> None:
    spec = spec_of(PLT)
    assert edges(spec) == [("call", "plt")]
    (reg,) = regions(spec, flatten(spec).marks)  # plt has enter: none: no entry of its own
    assert reg.name == "call" and [p.name for p in reg.parts] == ["call", "plt"]
    assert reg.slot_at(0xFFFF80000A000004) == 2 and reg.slot_at(0xFFFF800009000004) is None
    assert reg.valid == ("call.OFF+plt.PLT", "call.ON+plt.PLT")
    assert reg.slot_name(3) == "plt slot 2"


def test_plt_with_maintenance_before_the_call_is_safe() -> None:
    for r in both(spec_of(PLT)):
        assert r.verdict == "safe"
        assert [o.site for o in r.observers] == ["call"]


def test_plt_without_maintenance_is_unsafe_through_the_plt() -> None:
    """Before PLTs were made coherent with the I-side the PLT was written with no cache
    maintenance: a CPU that fetches the new `bl` may fetch the old PLT words."""
    spec = spec_of(PLT.replace("  - sync_icache: plt\n", "  - dsb: ish\n"))
    for r in both(spec):
        assert {v for _, _, v in r.violations()} >= {"undefined", "stale"}
        cx = next(c for c in r.counterexamples if c.violation == "undefined")
        assert [(x.site, x.slot) for x in cx.execs] == [("call", 0), ("plt", 0)]
        assert cx.execs[-1].states == ("EMPTY",)
        assert "plt slot 0" in cx.summary + cx.detail


def test_a_run_ends_when_it_leaves_every_site() -> None:
    """The PLT branches to the helper's address through x16: an ordinary jump out of the
    code graph, with the call site's return address in x30 (compared as an exit)."""
    spec = spec_of(PLT.replace("valid: [PLT]", "valid: [PLT, EMPTY]"))
    smt, _ = both(spec)
    assert smt.verdict == "safe"


def test_branch_to_a_plain_trampoline_site() -> None:
    """The simpler PLT form `b trampoline`, where the trampoline is itself a declared site."""
    text = PLT.replace("""      PLT:
        - adrp x16, 0xffff800008010000
        - add x16, x16, 0
        - br x16""", """      PLT: ["b 0xffff80000b000000", nop, nop]""") + textwrap.dedent("""\
        """)
    text = text.replace("steps:", """  tramp:
    base: 0xffff80000b000000
    slots: 1
    enter: none
    states: {T: ["b 0xffff800008010000"]}
steps:""")
    spec = spec_of(text)
    assert sorted(edges(spec)) == [("call", "plt"), ("plt", "tramp")]
    for r in both(spec):
        assert r.verdict == "safe"


FRESH = """
fpatch: 1
env: {preemptible: true, nmi: false}
sites:
  fresh:
    base: 0x2000
    slots: 2
    REACH
    states:
      EMPTY: ["00000000", "00000000"]
      CODE: [nop, "b 0x3000"]
    initial: EMPTY
    valid: [CODE]
steps:
  - write: {as: CODE}
  - sync_icache: fresh
  - ipi_sync
  - mark: published
"""


def test_reachable_after_keeps_observers_out_until_the_mark() -> None:
    with_mark = spec_of(FRESH.replace("REACH", "reachable_after: published"))
    for r in both(with_mark):
        assert r.verdict == "safe"
    without = spec_of(FRESH.replace("    REACH\n", ""))
    for r in both(without):
        assert ("fresh", "thread", "undefined") in r.violations()


def test_reachable_after_an_earlier_mark_is_still_unsafe() -> None:
    text = FRESH.replace("REACH", "reachable_after: start").replace(
        "  - write: {as: CODE}", "  - mark: start\n  - write: {as: CODE}")
    for r in both(spec_of(text)):
        assert r.verdict == "unsafe"


def test_branch_into_a_site_the_graph_missed_is_unknown() -> None:
    """Slot 0 from A and slot 1 from B compute a target in g that neither state computes:
    the graph has no edge f -> g, so both engines give the reason for unknown instead of
    ignoring the run."""
    spec = spec_of(textwrap.dedent("""
        fpatch: 1
        env: {preemptible: true, nmi: false}
        sites:
          f:
            base: 0x1000
            slots: 2
            states:
              A: ["mov x16, #0x2000", "b 0x5000"]
              B: ["mov x16, #0x3000", br x16]
            initial: B
            valid: [A, B]
          g:
            base: 0x2000
            slots: 1
            states: {G: [nop]}
        steps:
          - write: {site: f, slots: [0, 1], as: A}
        """))
    assert edges(spec) == []
    smt, enum = both(spec)
    for r in (smt, enum):
        f = [o for o in r.observers if o.site == "f"]
        # (unsafe besides: the mix is not CMODX-safe; unknown is never dropped for safe)
        assert all("did not find" in " ".join(o.reasons) for o in f)


def test_one_site_specs_keep_their_meaning() -> None:
    """A v1 spec: one region per site, one part, slot numbers and state names as before."""
    spec = spec_of(FRESH.replace("    REACH\n", ""))
    (reg,) = regions(spec, flatten(spec).marks)
    assert not reg.multi and reg.state_names == ("EMPTY", "CODE")
    r = enum_check(spec)
    assert all(x.site == "" for c in r.counterexamples for x in c.execs)


@pytest.mark.parametrize("fmt", ["json", "sarif", "text"])
def test_reports_name_the_site_of_each_instruction(fmt: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from fpatch.cli import main

    path = tmp_path / "plt.yaml"
    path.write_text(textwrap.dedent(PLT.replace("  - sync_icache: plt\n", "  - dsb: ish\n")))
    args = ["check", str(path), "--no-color", "--report-dir", str(tmp_path / "rep")]
    args += ["--junit-xml", str(tmp_path / "j.xml")]
    if fmt != "text":
        args += ["--format", fmt]
    out = CliRunner().invoke(main, args).output
    if fmt == "json":
        doc = json.loads(out)
        execs = [x for r in doc["results"]
                 for c in r["counterexamples"] for x in c["execs"]]
        assert {x.get("site") for x in execs} == {"call", "plt"}
    elif fmt == "sarif":
        assert "run: call slot 0" in out and "-> plt slot 0" in out
    else:
        assert "plt 0" in out
    md = next((tmp_path / "rep").glob("*/report.md")).read_text()
    assert "| plt 0 |" in md and "executes slot plt 0" in md
    html = next((tmp_path / "rep").glob("*/report.html")).read_text()
    assert "plt.s0" in html and "plt 0" in html
    # report.json (one document per spec) keeps to the report schema with the new key
    from importlib import resources

    import jsonschema

    schema = json.loads(resources.files("fpatch.report").joinpath("report.schema.json")
                        .read_text())
    doc = json.loads(next((tmp_path / "rep").glob("*/report.json")).read_text())
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    assert any(x.get("site") == "plt" for c in doc["counterexamples"] for x in c["execs"])


def test_doc_example_answers_as_documented() -> None:
    """docs/spec-format.md's code-graph example: safe; unsafe without the PLT's
    maintenance (the schema test parses it; this checks what the page says of it)."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "spec-format.md").read_text()
    text = next(b for b in doc.split("```yaml\n") if "name: module-plt" in b).split("```")[0]
    for r in both(parse_text(text, "<doc>")):
        assert r.verdict == "safe"
    bad = text.replace("  - sync_icache: plt\n", "  - dsb: ish\n")
    for r in both(parse_text(bad, "<doc>")):
        assert r.verdict == "unsafe"



def test_regression_valid_path_past_a_certain_pac_fault_is_no_bound() -> None:
    """Found by the differential generator: the valid state faults at `autiasp` (no
    `paciasp` before it); Z3's path past the fault runs on into g and reached max_insns,
    which made the answer unknown although that path cannot be taken. Only a path whose
    condition is satisfiable counts against the bound now."""
    spec = spec_of("""
        fpatch: 1
        env: {preemptible: false, nmi: true, pac: true}
        sites:
          f:
            base: 0x1000
            slots: 2
            states:
              B: ["b 0x2000", nop]
              C: [autiasp, "b 0x2000"]
            initial: C
            valid: [C]
          g:
            base: 0x2000
            slots: 1
            enter: none
            states: {P: ["bti j"], Q: ["mov x10, x30"]}
            initial: Q
            valid: [P]
        steps:
          - write: {site: g, as: P}
        observers: [nmi]
        max_insns: 2
        """)
    for r in both(spec):
        assert r.verdict == "safe"
