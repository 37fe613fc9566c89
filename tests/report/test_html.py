"""report.html: self-contained, and it renders in headless Chromium without console errors.

Chromium comes from Debian (`chromium`), installed by `make test` (the `tools`
target) like the aarch64 binutils. Without it the browser tests skip and say so.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from fpatch.errors import Diagnostic, Loc
from fpatch.report.document import build_report, error_report
from fpatch.report.html import render_html
from fpatch.report.writer import write_report
from tests.report.conftest import SPECS, run_spec

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)), None)
needs_browser = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium on PATH: `make tools` (apt-get install chromium) "
                            "installs it; the HTML report is then rendered in a real browser")


def _docs() -> dict[str, dict[str, Any]]:
    unsafe = build_report(*run_spec(SPECS / "seed-q2-disable-stop-machine-preemptible.yaml"))
    safe = build_report(*run_spec(SPECS / "seed-q2-enable-stop-machine-nonpreemptible.yaml"))
    bad = error_report("specs/bad.yaml", "bad", [Diagnostic(Loc("specs/bad.yaml", 3, 5),
                                                            "sites: <b>expected</b> a mapping")])
    return {"unsafe": unsafe, "safe": safe, "error": bad}


def _render(page: Path, shot: Path) -> str:
    """Load ``page`` in headless Chromium, screenshot it; return the browser's log."""
    assert BROWSER is not None
    p = subprocess.run(
        [BROWSER, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--enable-logging=stderr", "--v=0", f"--user-data-dir={shot.parent / 'profile'}",
         "--window-size=1280,1600", f"--screenshot={shot}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=180)
    assert shot.exists(), p.stderr[-3000:]
    return p.stderr


def _console(log: str) -> list[str]:
    return [ln for ln in log.splitlines() if ":CONSOLE" in ln]


def _distinct_bytes(png: Path) -> int:
    """How many different byte values the PNG's (filtered) pixel data holds: a blank page
    gives a handful, a rendered report hundreds."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    return len(set(zlib.decompress(idat)))


def test_report_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    docs = _docs()
    for doc in docs.values():
        html = render_html(doc)
        assert html.startswith("<!DOCTYPE html>")
        assert not re.search(r"<(link|script|img|iframe)\b|@import|\bsrc=", html)
        assert not re.search(r"url\((?!#)", html)  # only in-page references (SVG markers)
    assert "&lt;b&gt;expected&lt;/b&gt;" in render_html(docs["error"])
    html = render_html(docs["unsafe"])
    assert html.count("<svg ") == 2  # both pictures inline
    assert 'id="t-arrow"' in html and 'id="s-arrow"' in html  # no duplicate marker ids
    assert "What is missing" in html and "wait_tasks" in html
    folder = write_report(tmp_path, docs["unsafe"])
    assert (folder / "report.html").read_text(encoding="utf-8") == html


@needs_browser
def test_the_browser_log_catches_console_errors(tmp_path: Path) -> None:
    """The check below can fail: a page with a script error shows up in the log."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>console.error('boom');"
                    "undefinedFunction();</script></body></html>", encoding="utf-8")
    log = _render(page, tmp_path / "broken.png")
    assert any("boom" in ln for ln in _console(log))
    assert any("undefinedFunction" in ln for ln in _console(log))


@needs_browser
def test_the_blank_check_sees_a_blank_page(tmp_path: Path) -> None:
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    _render(page, tmp_path / "blank.png")
    assert _distinct_bytes(tmp_path / "blank.png") < 16


@needs_browser
@pytest.mark.parametrize("which", ["unsafe", "safe", "error"])
def test_report_html_loads_without_console_errors_and_is_not_blank(tmp_path: Path,
                                                                   which: str) -> None:
    folder = write_report(tmp_path, _docs()[which])
    shot = tmp_path / "shot.png"
    log = _render(folder / "report.html", shot)
    assert _console(log) == []
    assert _distinct_bytes(shot) > 64
