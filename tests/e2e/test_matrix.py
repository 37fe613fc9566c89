"""`fpatch check --matrix`: one spec under every configuration, in text, Markdown, JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fpatch.cli import main

ROOT = Path(__file__).resolve().parents[2]
FORGOT = str(ROOT / "specs" / "ftrace-forgot-ic-ivau.yaml")
SM = str(ROOT / "specs" / "seed-q2-enable-stop-machine-nonpreemptible.yaml")


def test_matrix_json_varies_the_configuration_and_keeps_the_own_verdict() -> None:
    r = CliRunner().invoke(main, ["check", "--matrix", "json", FORGOT, SM])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert len(doc["configurations"]) == 16
    forgot, sm = doc["specs"]
    # the forgotten IC matters exactly when the cache type needs an IC (DIC=0)
    for code, cell in forgot["verdicts"].items():
        assert cell["verdict"] == ("safe" if code[3] == "1" else "unsafe"), code
        if cell["verdict"] == "unsafe":
            assert cell["kinds"] == ["stale"]
    # stop_machine in a non-preemptible kernel without NMIs is the only safe setting
    for code, cell in sm["verdicts"].items():
        assert cell["verdict"] == ("safe" if code.endswith("--") else "unsafe"), code
    # the spec's own configuration answers as a plain check does
    plain = CliRunner().invoke(main, ["check", "--json", SM])
    own = json.loads(plain.output)["results"][0]["verdict"]
    assert sm["verdicts"][sm["own"]]["verdict"] == own == "safe"


def test_matrix_text_and_markdown_mark_the_own_configuration() -> None:
    r = CliRunner().invoke(main, ["check", "--matrix", "text", FORGOT])
    assert r.exit_code == 0
    row = next(ln for ln in r.output.splitlines() if ln.startswith("ftrace-forgot-ic-ivau"))
    assert row.split()[1:5] == ["UNSAFE", "UNSAFE", "UNSAFE", "UNSAFE*"]
    r = CliRunner().invoke(main, ["check", "--matrix", "markdown", FORGOT])
    assert "| `ftrace-forgot-ic-ivau` |" in r.output and "**UNSAFE (stale)**" in r.output


def test_matrix_on_an_invalid_spec_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("fpatch: 1\nname: x\n")
    r = CliRunner().invoke(main, ["check", "--matrix", "text", str(bad)])
    assert r.exit_code == 2
