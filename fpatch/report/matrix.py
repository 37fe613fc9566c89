"""`fpatch check --matrix`: every spec under every cache type and kernel setting.

A spec states one configuration (its `cache:` and `env:`); the matrix asks the same
patch sequence on every cache type (IDC, DIC) and every preemptible/NMI setting, so
a reader sees at once where a sequence stops being safe. `sync_icache` expands, as
always, to Linux's macro for the configuration's cache type. The spec's own
configuration is marked; `expect:` applies to it only.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fpatch.spec.types import Spec
from fpatch.textsafe import markdown_code, terminal

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Config:
    idc: bool
    dic: bool
    preemptible: bool
    nmi: bool

    @property
    def code(self) -> str:
        """Short column name: cache type, then P (preemptible) or -, N (NMI) or -."""
        return (f"I{int(self.idc)}D{int(self.dic)}{'P' if self.preemptible else '-'}"
                f"{'N' if self.nmi else '-'}")

    def describe(self) -> str:
        return (f"IDC={int(self.idc)} DIC={int(self.dic)}, "
                f"{'preemptible' if self.preemptible else 'not preemptible'}, "
                f"{'NMIs' if self.nmi else 'no NMIs'}")


CONFIGS: tuple[Config, ...] = tuple(
    Config(idc, dic, pre, nmi)
    for idc in (False, True) for dic in (False, True)
    for pre in (False, True) for nmi in (False, True))


def own_config(spec: Spec) -> Config:
    return Config(spec.idc, spec.dic, spec.preemptible, spec.nmi)


def variant(spec: Spec, c: Config) -> Spec:
    """The spec under configuration ``c`` (observers follow env.nmi as a spec's do)."""
    observers = tuple(o for o in spec.observers if o != "nmi") + (("nmi",) if c.nmi else ())
    return dataclasses.replace(spec, idc=c.idc, dic=c.dic, preemptible=c.preemptible,
                               nmi=c.nmi, observers=observers)


@dataclass(frozen=True)
class Cell:
    verdict: str  # safe | unsafe | unknown
    kinds: tuple[str, ...]  # violation kinds when unsafe


@dataclass(frozen=True)
class Row:
    name: str
    path: str
    own: Config
    cells: tuple[Cell, ...]  # one per CONFIGS entry


def run_matrix(spec: Spec, path: str, check: Callable[[Spec], tuple[str, tuple[str, ...]]]
               ) -> Row:
    cells = tuple(Cell(*check(variant(spec, c))) for c in CONFIGS)
    return Row(spec.name, path, own_config(spec), cells)


def _mark(cell: Cell) -> str:
    return {"safe": "safe", "unsafe": "UNSAFE", "unknown": "unknown"}.get(cell.verdict, "?")


def render_text(rows: list[Row]) -> str:
    """A column per configuration; `*` marks each spec's own configuration."""
    width = max([len(terminal(r.name)) for r in rows] + [4])
    head = f"{'spec':{width}}  " + " ".join(f"{c.code:7}" for c in CONFIGS)
    out = [head]
    for r in rows:
        cells = []
        for c, cell in zip(CONFIGS, r.cells, strict=True):
            text = _mark(cell) + ("*" if c == r.own else "")
            cells.append(f"{text:7}")
        out.append(f"{terminal(r.name):{width}}  " + " ".join(cells))
    out += ["", "columns: I<IDC>D<DIC>, then P preemptible or -, then N NMIs or -; "
                "* the spec's own configuration"]
    return "\n".join(out) + "\n"


def render_markdown(rows: list[Row]) -> str:
    out = ["| spec | " + " | ".join(c.code for c in CONFIGS) + " |",
           "|---|" + "---|" * len(CONFIGS)]
    for r in rows:
        cells = []
        for c, cell in zip(CONFIGS, r.cells, strict=True):
            text = _mark(cell)
            if cell.kinds:
                text += " (" + ", ".join(cell.kinds) + ")"
            cells.append(f"**{text}**" if c == r.own else text)
        out.append(f"| {markdown_code(r.name)} | " + " | ".join(cells) + " |")
    out += ["", "Columns: `I<IDC>D<DIC>`, then `P` preemptible or `-`, then `N` NMIs or `-`. "
                "**Bold**: the spec's own configuration."]
    return "\n".join(out).rstrip() + "\n"


def to_json(rows: list[Row]) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "configurations": [{"code": c.code, "idc": c.idc, "dic": c.dic,
                            "preemptible": c.preemptible, "nmi": c.nmi} for c in CONFIGS],
        "specs": [{"name": r.name, "path": r.path, "own": r.own.code,
                   "verdicts": {c.code: {"verdict": cell.verdict, "kinds": list(cell.kinds)}
                                for c, cell in zip(CONFIGS, r.cells, strict=True)}}
                  for r in rows],
    }


def render_json(rows: list[Row]) -> str:
    return json.dumps(to_json(rows), indent=2) + "\n"
