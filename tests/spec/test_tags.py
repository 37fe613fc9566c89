"""Explicit YAML tags: a value is checked the same way whatever tag it carries.

Fix (issue 12): `nmi: !!bool 1` was read as false while `nmi: 1` is rejected, so a
spec unsafe only through NMIs passed as safe.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fpatch.spec.parse import parse_file, parse_text

from .helpers import SPECS_DIR, edit, only, where

NMI_SPEC = SPECS_DIR / "seed-q2-disable-stop-machine-nonpreemptible-nmi.yaml"
ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("value", ["!!bool 1", "!!bool 0", "!!bool yes please", "!!bool ''",
                                   "!<tag:yaml.org,2002:bool> 1", "!!bool 0x1"])
def test_bool_tag_on_a_non_boolean_is_rejected(value: str) -> None:
    text = edit("name: t\n", f"name: t\nenv: {{preemptible: true, nmi: {value}}}\n")
    line, col = where(text, value)
    got = only(text)
    assert got[:2] == (line, col)
    assert "!!bool" in got[2]


@pytest.mark.parametrize("value", ["!!int x", "!!int 1.5", "!!int true", "!!float 1",
                                   "!!null 3"])
def test_typed_tag_that_disagrees_with_the_value_is_rejected(value: str) -> None:
    text = edit("slots: 2\n", f"slots: {value}\n")
    line, col = where(text, value)
    found = only(text)
    assert found[:2] == (line, col), found
    assert "is not a valid !!" in found[2]


def test_tags_that_agree_with_the_value_mean_the_same_as_no_tag() -> None:
    plain = parse_text(edit("name: t\n", "name: t\nenv: {preemptible: true, nmi: true}\n"))
    tagged = parse_text(edit("slots: 2\n", "slots: !!int 0x2\n",
                             edit("name: t\n", "name: t\nenv: {preemptible: !!bool true, "
                                               "nmi: !!bool yes}\n")))
    assert (tagged.nmi, tagged.preemptible) == (plain.nmi, plain.preemptible) == (True, True)
    assert tagged.sites[0].nslots == plain.sites[0].nslots == 2


def test_str_tag_is_a_string_like_quotes() -> None:
    # `!!str true` is the string "true", rejected where a boolean is expected, as
    # the quoted '"true"' is.
    tagged = only(edit("name: t\n", "name: t\nenv: {nmi: !!str true}\n"))
    quoted = only(edit("name: t\n", "name: t\nenv: {nmi: \"true\"}\n"))
    assert "expected true or false" in tagged[2] and "expected true or false" in quoted[2]


def test_nmi_spec_with_bool_tag_is_not_checked_as_nmi_free(tmp_path: Path) -> None:
    """The issue's false safe: the bundled NMI spec with `nmi: !!bool 1` is an error."""
    src = NMI_SPEC.read_text()
    assert "nmi: true}" in src
    bad = tmp_path / "nmi.yaml"
    bad.write_text(src.replace("nmi: true}", "nmi: !!bool 1}"))
    line, col = where(bad.read_text(), "!!bool 1")
    p = subprocess.run([sys.executable, "-m", "fpatch.cli", "check", str(bad)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stdout + p.stderr
    assert f"{bad}:{line}:{col}: error:" in p.stderr
    assert "SAFE" not in p.stdout.upper().replace("UNSAFE", "")


def test_oversized_file_is_rejected_without_reading_it_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:  # sparse: 64 MiB of NULs on disk costs nothing
        fh.truncate(64 << 20)
    with pytest.raises(Exception) as info:
        parse_file(big)
    assert "larger than" in str(info.value)
