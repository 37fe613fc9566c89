"""``fpatch check --report-dir DIR``: the report files of each spec in DIR/<spec-name>/."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from fpatch.report.html import render_html
from fpatch.report.markdown import render_markdown
from fpatch.report.svg import states_dot, states_svg, timeline_svg

SCHEMA_FILE = Path(__file__).with_name("report.schema.json")


def report_json_text(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


MAX_NAME = 64  # characters of a report folder's name (file systems allow 255 bytes)


def safe_name(name: str) -> str:
    """A folder name for a spec: its name with anything but [A-Za-z0-9._-] replaced,
    at most MAX_NAME characters (a long name keeps a hash of the whole, so two long
    names that share a prefix stay apart)."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._").lstrip("-")
    if len(out) > MAX_NAME:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        out = f"{out[:MAX_NAME - 11].rstrip('._')}-{digest}"
    return out or "spec"


def report_files(doc: dict[str, Any]) -> dict[str, str]:
    """File name -> content of one spec's report (an invalid spec gets md and json only)."""
    files = {"report.md": render_markdown(doc), "report.json": report_json_text(doc),
             "report.html": render_html(doc)}
    if doc["verdict"] != "error":
        files["timeline.svg"] = timeline_svg(doc)
        files["states.svg"] = states_svg(doc)
        files["states.dot"] = states_dot(doc)
    return files


def write_report(root: Path, doc: dict[str, Any], taken: set[str] | None = None) -> Path:
    """Write one spec's report under ``root``; ``taken`` avoids folder clashes in one run."""
    base = safe_name(doc["spec"]["name"])
    name, k = base, 2
    while taken is not None and name in taken:
        name, k = f"{base}-{k}", k + 1
    if taken is not None:
        taken.add(name)
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for fname, text in report_files(doc).items():
        (folder / fname).write_text(text, encoding="utf-8", newline="\n")
    return folder
