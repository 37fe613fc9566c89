"""``fpatch extract``: ELF files -> one spec per patch site."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

from fpatch.errors import SpecError
from fpatch.extract.batch import combine
from fpatch.extract.elf import DEFAULT_REL_BASE, ExtractError, Image, load
from fpatch.extract.sites import FoundSite, find
from fpatch.extract.template import Template, Value, render, substitute
from fpatch.isa import AsmError, assemble
from fpatch.spec import parse_text
from fpatch.textsafe import one_line


@dataclass
class Extracted:
    """The specs written for one input file."""

    path: str
    specs: list[Path] = field(default_factory=list)
    sites: list[FoundSite] = field(default_factory=list)
    batch: bool = False  # one batch spec holds every site


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", text).strip(".") or "site"


def resolve_variables(t: Template, image: Image, sets: dict[str, int]) -> dict[str, int]:
    """Template variables: ``--set`` first, then an ELF symbol of that name, then the
    template's default (an address, or ``below_code`` bytes below the lowest code)."""
    out: dict[str, int] = {}
    lo, hi = image.code_range
    for name, d in t.raw["variables"].items():
        if name in sets:
            out[name] = sets[name]
            continue
        sym = image.symbol_named(name)
        if sym is not None:
            out[name] = sym.address
        elif "default" in d:
            out[name] = int(d["default"])
        else:
            below = int(d["below_code"])
            out[name] = lo - below if lo >= below else (hi + below + 3) // 4 * 4
    for name, v in sets.items():
        out.setdefault(name, v)
    return out


_HEX = re.compile(r"^(?:\.inst\s+)?(?:0x)?([0-9a-fA-F]{8})$")


def _compiled_state_fast(t: Template, site: FoundSite, env: dict[str, Value]) -> list[str] | None:
    """The states whose words are the compiled ones, by assembling only the role slots
    (no YAML round trip); None when a text needs more than helpers and symbols."""
    where = f"template {t.path}"
    spec = substitute(t.raw["spec"], env, where)
    symbols: dict[str, int] = {}
    for key in ("symbols", "helpers"):
        for name, v in (spec.get(key) or {}).items():
            addr = v.get("address") if isinstance(v, dict) else v
            if not isinstance(addr, int):
                return None
            symbols[str(name)] = addr
    out = []
    for state, repl in t.raw["site"]["states"].items():
        same = True
        for role, text in repl.items():
            i = site.roles.get(str(role))
            if i is None:
                return None
            text = str(substitute(str(text), env, where)).strip()
            m = _HEX.match(text)
            try:
                word = int(m.group(1), 16) if m else assemble(text, site.base + 4 * i, symbols)
            except AsmError:
                return None
            same = same and word == site.words[i]
        if same:
            out.append(str(state))
    return out


def _compiled_state(text: str, site: FoundSite) -> list[str]:
    spec = parse_text(text)
    if len(spec.sites) != 1:
        return []
    return [st.name for st in spec.sites[0].states if list(st.words) == site.words]


def extract_file(path: str, t: Template, out_dir: Path, functions: tuple[str, ...],
                 sets: dict[str, int], base: int = DEFAULT_REL_BASE,
                 taken: set[str] | None = None, batch_min: int = 0) -> Extracted:
    """Write one spec per site of ``path``, or one batch spec of them all when there are
    at least ``batch_min`` (> 0) sites; raise ``ExtractError`` on bad input."""
    image = load(path, base)
    if functions and not image.has_symtab:
        raise ExtractError("no symbol table (stripped?): --function needs function symbols")
    sites = find(t.finder, image, t.uses_literal, t.entry_nops)
    if functions:
        sites = [s for s in sites if any(fnmatch.fnmatchcase(s.function, f) for f in functions)]
    bad = next((s for s in sites if s.error), None)
    if bad is not None and bad.error:
        msg = bad.error if bad.error.startswith(bad.function) else f"{bad.function}: {bad.error}"
        raise ExtractError(msg)
    variables = resolve_variables(t, image, sets)
    taken = taken if taken is not None else set()
    done = Extracted(path)
    obj = _safe_name(Path(path).name.split(".")[0])
    counts: dict[str, int] = {}
    state_names = [str(k) for k in t.raw["site"]["states"]]
    raw_text = str(t.raw)
    needed = "compiled_state" in raw_text or "other_state" in raw_text
    texts: list[str] = []
    for site in sites:
        index = counts.get(site.function, 0)
        counts[site.function] = index + 1
        # a symbol name is data: control characters are escaped (a spec may not hold them)
        env: dict[str, Value] = {"object": obj, "path": one_line(path),
                                 "function": one_line(site.function),
                                 "mechanism": t.mechanism, "index": index, "base": site.base}
        env.update(variables)
        env.update({k: one_line(v) if isinstance(v, str) else v
                    for k, v in site.variables.items()})
        env.update({f"{k}_hex": f"{v:#x}" for k, v in list(env.items())
                    if isinstance(v, int) and not isinstance(v, bool)})
        env["compiled_state"] = state_names[0]
        env["other_state"] = state_names[-1]
        where = f"{site.function} at {site.base:#x}"
        matches = _compiled_state_fast(t, site, env) if needed else []
        if matches is None:
            try:
                matches = _compiled_state(render(t, site, env, state_names[0]), site)
            except SpecError as exc:
                raise ExtractError(_invalid(t, where, exc)) from None
        if matches:
            env["compiled_state"] = matches[0]
            env["other_state"] = next((n for n in state_names if n != matches[0]), matches[0])
        elif needed:
            words = " ".join(f"{w:08x}" for w in site.words)
            raise ExtractError(f"{where}: the compiled words ({words}) are none of the "
                               f"template's states ({', '.join(state_names)})")
        text = render(t, site, env, None)
        try:
            spec = parse_text(text)
        except SpecError as exc:
            raise ExtractError(_invalid(t, where, exc)) from None
        done.sites.append(site)
        if batch_min and len(sites) >= batch_min:
            texts.append(text)  # written below as one batch spec
            continue
        out = out_dir / f"{_take(_safe_name(spec.name), taken)}.yaml"
        out.write_text(text, encoding="utf-8")
        done.specs.append(out)
    if texts:
        name = f"{obj}.{t.mechanism}.batch"
        combined = combine(texts, name)
        if combined is None:
            raise ExtractError(f"the {len(texts)} sites cannot be written as one batch (their "
                               f"specs differ in more than their sites); use --batch-min 0")
        try:
            parse_text(combined)
        except SpecError as exc:
            raise ExtractError(_invalid(t, "the batch", exc)) from None
        out = out_dir / f"{_take(_safe_name(name), taken)}.yaml"
        out.write_text(combined, encoding="utf-8")
        done.specs.append(out)
        done.batch = True
    return done


def _take(name: str, taken: set[str]) -> str:
    stem, n = name, 2
    while name in taken:
        name = f"{stem}-{n}"
        n += 1
    taken.add(name)
    return name


def _invalid(t: Template, where: str, exc: SpecError) -> str:
    first = sorted(exc.diagnostics)[0] if exc.diagnostics else None
    msg = first.message if first is not None else str(exc)
    return f"template {t.path} gives an invalid spec for {where}: {msg}"
