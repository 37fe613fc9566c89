"""`fpatch check --litmus-out`: stale counterexamples as herd litmus tests.

Each exported test must parse and come out Allowed in `fpatch litmus` (the
architecture model, which agrees with herd on every visible test); the same
export for a fixed variant of the spec (the missing maintenance added) must come
out Forbidden, and so must an export of a non-final word for every safe bundled
spec.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from fpatch.cli import main
from fpatch.litmus.engine import check as litmus_check
from fpatch.litmus.parse import parse_file, parse_litmus
from fpatch.model.timeline import build
from fpatch.report.litmus_export import stale_litmus
from fpatch.spec import parse_file as parse_spec
from fpatch.spec import parse_text

ROOT = Path(__file__).resolve().parents[2]
FORGOT = ROOT / "specs" / "ftrace-forgot-ic-ivau.yaml"


def test_exported_stale_counterexamples_are_allowed(tmp_path: Path) -> None:
    # the top-level bundled specs (specs/linux/ has its own gate, test_linux_corpus.py)
    tops = [str(p) for p in sorted((ROOT / "specs").glob("*.yaml"))]
    r = CliRunner().invoke(main, ["check", "-q", "--litmus-out", str(tmp_path), *tops])
    assert r.exit_code == 0, r.output
    files = sorted(tmp_path.glob("*.litmus"))
    # exactly the bundled specs whose counterexamples include a stale fetch
    assert [f.stem for f in files] == ["ftrace-forgot-ic-ivau-func-s1-stale",
                                       "ftrace-idc1-dic0-dsb-only-func-s1-stale",
                                       # the stale slot is the PLT's (a code graph's site)
                                       "module-plt-ftrace-smp-wmb-plt-s0-stale"]
    for f in files:
        t = parse_file(f)
        assert litmus_check(t).verdict == "Allowed", f.name
        assert litmus_check(t, "smt").verdict == "Allowed", f.name
        assert "exists (1:X10=1 /\\ 1:X11=0)" in f.read_text()


def test_the_fixed_variant_exports_a_forbidden_test() -> None:
    text = FORGOT.read_text()
    fixed = text.replace("  - dsb: ish\n", "  - dsb: ish\n  - ic_ivau: {slots: [1]}\n"
                                            "  - dsb: ish\n")
    assert fixed != text
    for src, verdict in ((text, "Allowed"), (fixed, "Forbidden")):
        spec = parse_text(src, "f.yaml")
        tl = build(spec)
        site = spec.sites[0]
        old = tl.history(site)[1].values[0]
        lit = stale_litmus(tl, site, 1, old, "variant")
        assert litmus_check(parse_litmus(lit)).verdict == verdict


def test_safe_specs_export_forbidden_stale_questions() -> None:
    for name in ("ftrace-mov-x9-nop-bl", "ftrace-sync-icache-idc1-dic0", "jump-label-nop-b"):
        spec = parse_spec(ROOT / "specs" / f"{name}.yaml")
        tl = build(spec)
        site = spec.sites[0]
        for slot in range(site.nslots):
            values = tl.history(site)[slot].values
            for w in dict.fromkeys(values):
                if w != values[-1]:
                    lit = stale_litmus(tl, site, slot, w, name)
                    assert litmus_check(parse_litmus(lit)).verdict == "Forbidden", (name, slot)
