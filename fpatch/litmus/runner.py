"""`fpatch litmus`: run litmus files, folders or herd `@all` lists; compare with kinds.txt.

Kept out of fpatch/cli.py so the command there is a thin wrapper.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from fpatch.litmus.engine import Answer, check
from fpatch.litmus.parse import MAX_BYTES, LitmusSyntaxError, LitmusUnsupported, parse_file
from fpatch.textsafe import display_path, one_line

MAX_FILES = 100_000  # tests named by one command line, lists included


class LitmusInputError(Exception):
    """A list or kinds file that cannot be used (missing, not UTF-8, including itself)."""


@dataclass(frozen=True)
class Row:
    name: str
    path: Path
    answer: Answer
    expected: str | None  # from kinds.txt; None: no expectation
    seconds: float

    @property
    def status(self) -> str:
        if self.answer.verdict == "error":
            return "error"
        if self.answer.verdict == "unsupported":
            return "unsupported"
        if self.expected is None:
            return "no expectation"
        return "agree" if self.expected == self.answer.verdict else "DISAGREE"


def litmus_files(paths: Iterable[str], _open: tuple[Path, ...] = ()) -> list[Path]:
    """Files as given; folders recursively (*.litmus); `@file` lists one path a line,
    relative to the list (herd's @all convention). A list that is missing, not UTF-8
    or includes itself raises ``LitmusInputError``."""
    out: list[Path] = []
    for p in paths:
        if p.startswith("@"):
            lst = Path(p[1:])
            key = lst.resolve()
            if key in _open:
                raise LitmusInputError(f"list {display_path(lst)} includes itself")
            for ln in _read_text(lst, "list").splitlines():
                s = ln.split("#", 1)[0].strip()
                if s:
                    out += litmus_files([str(lst.parent / s) if not s.startswith("@")
                                         else "@" + str(lst.parent / s[1:])], _open + (key,))
                if len(out) > MAX_FILES:
                    raise LitmusInputError(f"more than {MAX_FILES} tests")
            continue
        path = Path(p)
        if path.is_dir():
            out += sorted(path.rglob("*.litmus"))
        else:
            out.append(path)
        if len(out) > MAX_FILES:
            raise LitmusInputError(f"more than {MAX_FILES} tests")
    return out


def _read_text(path: Path, what: str) -> str:
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as e:
        raise LitmusInputError(f"cannot read {what} {display_path(path)}: "
                               f"{e.strerror or e}") from None
    if len(raw) > MAX_BYTES:
        raise LitmusInputError(f"{what} {display_path(path)} is larger than {MAX_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LitmusInputError(f"{what} {display_path(path)} is not valid UTF-8") from None


def read_kinds(path: Path) -> dict[str, str]:
    kinds = {}
    for ln in _read_text(path, "kinds file").splitlines():
        parts = ln.split()
        if len(parts) >= 2:
            kinds[parts[0]] = parts[1]
    return kinds


def run_one(path: Path, engine: str = "explicit") -> tuple[str, Answer]:
    try:
        t = parse_file(path)
    except LitmusUnsupported as e:
        return path.stem, Answer("unsupported", str(e))
    except (LitmusSyntaxError, OSError, UnicodeDecodeError) as e:
        return path.stem, Answer("error", f"cannot read {display_path(path)}: "
                                          f"{one_line(str(e), 300)}")
    return t.name, check(t, engine)


def run(paths: Iterable[str], kinds: dict[str, str] | None,
        echo: Callable[[str], None], engine: str = "explicit") -> tuple[list[Row], int]:
    """Run every test, print one line each (a table with --compare) and a summary;
    returns the rows and the exit status: 2 if a file is unreadable or not a litmus
    test, else 1 on any disagreement, else 0."""
    rows = []
    t0 = time.monotonic()
    files = litmus_files(paths)
    width = max([len(f.stem) for f in files] + [20])
    if kinds is not None:
        echo(f"{'test':{width}}  {'expected':10}  {'fpatch':10}  agree?")
    for f in files:
        t1 = time.monotonic()
        name, ans = run_one(f, engine)
        row = Row(name, f, ans, None if kinds is None else kinds.get(name),
                  time.monotonic() - t1)
        rows.append(row)
        if kinds is None:
            echo(f"{name:{width}}  {ans.text()}")
        else:
            shown = ans.verdict if ans.verdict not in ("unsupported", "error") else ans.verdict
            echo(f"{name:{width}}  {row.expected or '-':10}  {shown:10}  {row.status}"
                 + (f" ({ans.reason})" if ans.reason else ""))
    total = time.monotonic() - t0
    errors = sum(r.status == "error" for r in rows)
    if kinds is not None:
        agree = sum(r.status == "agree" for r in rows)
        dis = sum(r.status == "DISAGREE" for r in rows)
        uns = sum(r.status == "unsupported" for r in rows)
        noexp = sum(r.status == "no expectation" for r in rows)
        echo(f"{agree} agree, {dis} disagree, {uns} unsupported"
             + (f", {noexp} no expectation" if noexp else "")
             + (f", {errors} unreadable" if errors else "") + f" ({total:.1f}s)")
        return rows, 2 if errors else 1 if dis else 0
    return rows, 2 if errors else 0
