"""Mechanism templates: what a mechanism writes at a site, as data.

A template (YAML, ``fpatch/extract/templates/*.yaml`` or a user's file given to
``--template``) names a finder (where the sites are) and gives the spec around
each site: the spec keys (cache, env, helpers, symbols, expect...), the states as
the compiled words with some role slots replaced, and the steps. ``${name}``
placeholders are replaced per site; a step with ``when: NAME`` (or ``when: not
NAME``) is kept only when the site's variable NAME is true (false). The format
is in docs/extract.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from fpatch.extract.elf import ExtractError
from fpatch.extract.sites import FINDERS, FoundSite
from fpatch.isa import disassemble
from fpatch.textsafe import one_line

_KEYS = {"template", "mechanism", "finder", "entry_nops", "name", "description", "header", "literal_note",
         "variables", "spec", "site", "steps"}
_SPEC_KEYS = {"cache", "env", "symbols", "helpers", "observers", "max_insns", "expect", "timeout"}
_SITE_KEYS = {"states", "initial", "valid", "live", "literal"}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.'-]*$")
_YAML_SPECIAL = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


class _Loader(yaml.SafeLoader):
    """Only lower-case true/false are booleans: state names such as OFF/ON stay text, as in specs."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool",
                              re.compile(r"^(?:true|false)$"), list("tf"))


@dataclass
class Template:
    path: str
    mechanism: str
    finder: str
    raw: dict[str, Any]

    @property
    def entry_nops(self) -> int:
        return int(self.raw["entry_nops"])

    @property
    def uses_literal(self) -> bool:
        return "literal" in self.raw["site"]


def builtin_dir() -> Path:
    return Path(str(resources.files("fpatch.extract") / "templates"))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


def load_template(path: str | Path) -> Template:
    """Read and check a template file; ``ExtractError`` names the file and the key."""
    p = Path(path)
    where = f"template {p}"
    try:
        raw = yaml.load(p.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    except OSError as exc:
        raise ExtractError(f"{where}: cannot read: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExtractError(f"{where}: not valid YAML: {first}") from None
    if not isinstance(raw, dict):
        raise ExtractError(f"{where}: expected a mapping at the top")
    unknown = sorted(set(map(str, raw)) - _KEYS)
    if unknown:
        raise ExtractError(f"{where}: unknown key {unknown[0]!r} (expected one of "
                           f"{', '.join(sorted(_KEYS))})")
    if raw.get("template") != 1:
        raise ExtractError(f"{where}: 'template: 1' is required (the template format version)")
    for key in ("mechanism", "finder", "name"):
        if not isinstance(raw.get(key), str):
            raise ExtractError(f"{where}: '{key}' must be text")
    if raw["finder"] not in FINDERS:
        raise ExtractError(f"{where}: unknown finder {raw['finder']!r} (expected one of "
                           f"{', '.join(FINDERS)})")
    en = raw.setdefault("entry_nops", 2)
    if isinstance(en, bool) or not isinstance(en, int) or not 2 <= en <= 64:
        raise ExtractError(f"{where}: entry_nops must be an integer 2..64")
    spec = raw.setdefault("spec", {})
    if not isinstance(spec, dict) or set(spec) - _SPEC_KEYS:
        bad = sorted(set(spec) - _SPEC_KEYS) if isinstance(spec, dict) else ["(not a mapping)"]
        raise ExtractError(f"{where}: spec: unexpected {bad[0]!r} (allowed: "
                           f"{', '.join(sorted(_SPEC_KEYS))}; sites and steps come from 'site' "
                           f"and 'steps')")
    site = raw.get("site")
    if not isinstance(site, dict) or not isinstance(site.get("states"), dict) or not site["states"]:
        raise ExtractError(f"{where}: site.states must map state names to {{role: instruction}}")
    if set(site) - _SITE_KEYS:
        raise ExtractError(f"{where}: site: unknown key {sorted(set(site) - _SITE_KEYS)[0]!r}")
    for name, repl in site["states"].items():
        if repl is None:
            site["states"][name] = {}
        elif not isinstance(repl, dict):
            raise ExtractError(f"{where}: site.states.{name}: expected a mapping role -> "
                               f"instruction")
    lit = site.get("literal")
    if lit is not None and (not isinstance(lit, dict) or not isinstance(lit.get("name"), str)):
        raise ExtractError(f"{where}: site.literal needs a 'name' (and optionally 'value')")
    if not isinstance(raw.get("steps"), list):
        raise ExtractError(f"{where}: 'steps' must be a list")
    var = raw.setdefault("variables", {}) or {}
    raw["variables"] = var
    if not isinstance(var, dict):
        raise ExtractError(f"{where}: 'variables' must be a mapping")
    for name, d in var.items():
        if not isinstance(d, dict) or not set(d) <= {"default", "below_code"} or len(d) != 1 \
                or not isinstance(next(iter(d.values())), int):
            raise ExtractError(f"{where}: variables.{name}: expected {{default: ADDRESS}} or "
                               f"{{below_code: BYTES}}")
    return Template(str(p), raw["mechanism"], raw["finder"], raw)


def builtin(mechanism: str) -> Template:
    path = builtin_dir() / f"{mechanism}.yaml"
    if not path.is_file():
        raise ExtractError(f"unknown mechanism {mechanism!r} (built in: "
                           f"{', '.join(builtin_names())}; or give --template FILE)")
    return load_template(path)


# -- rendering --------------------------------------------------------------------

Value = int | str | bool


def substitute(node: Any, env: dict[str, Value], where: str) -> Any:
    """Replace ``${name}`` in every string; a string that is exactly one
    placeholder takes the variable's value (an integer stays an integer)."""
    if isinstance(node, dict):
        return {substitute(k, env, where): substitute(v, env, where) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, env, where) for v in node]
    if not isinstance(node, str):
        return node

    def get(m: re.Match[str]) -> Value:
        name = m.group(1)
        if name not in env:
            raise ExtractError(f"{where}: unknown placeholder ${{{name}}} (known: "
                               f"{', '.join(sorted(env))})")
        return env[name]

    whole = _PLACEHOLDER.fullmatch(node)
    if whole:
        return get(whole)
    return _PLACEHOLDER.sub(lambda m: str(get(m)), node)


def _keep(step: Any, env: dict[str, Value], where: str) -> bool:
    if not isinstance(step, dict) or "when" not in step:
        return True
    cond = str(step["when"]).strip()
    neg = cond.startswith("not ")
    name = cond[4:].strip() if neg else cond
    if name not in env:
        raise ExtractError(f"{where}: steps: 'when: {cond}' names no site variable")
    return bool(env[name]) != neg


def flow(v: Any) -> str:
    """One YAML flow value (always valid YAML; strings quoted unless plainly safe)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return hex(v) if v >= 0x10000 else str(v)
    if isinstance(v, str):
        if _PLAIN.match(v) and v.lower() not in _YAML_SPECIAL:
            return v
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(flow(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{flow(k)}: {flow(x)}" for k, x in v.items()) + "}"
    if v is None:
        return "null"
    raise ExtractError(f"cannot write {type(v).__name__} into a spec")


def _comment(text: str) -> list[str]:
    """YAML comment lines; control characters (from symbol names) escaped."""
    return [("# " + one_line(line)).rstrip() for line in text.rstrip("\n").split("\n")]


def render(t: Template, site: FoundSite, env: dict[str, Value], initial: str | None) -> str:
    """The spec text for one site. ``initial`` overrides the template's initial state
    (used for the first pass, before the compiled state is known)."""
    where = f"template {t.path}"
    raw = t.raw
    states: dict[str, dict[str, str]] = {
        str(k): {str(r): str(i) for r, i in v.items()} for k, v in raw["site"]["states"].items()}
    for name, repl in states.items():
        for role in repl:
            if role not in site.roles:
                raise ExtractError(f"{where}: site.states.{name}: unknown role {role!r} (the "
                                   f"{t.finder} finder provides {', '.join(site.roles)})")
    labels = {i: r for r, i in site.roles.items()}
    lines: list[str] = []
    header = substitute(raw.get("header", ""), env, where)
    if header:
        lines += _comment(str(header))
    if site.literal is not None and raw.get("literal_note"):
        lines += _comment(str(raw["literal_note"]))
    for note in site.notes:
        lines += _comment("Note: " + note)
    lines.append("fpatch: 1")
    lines.append(f"name: {flow(substitute(raw['name'], env, where))}")
    if raw.get("description"):
        lines.append(f"description: {flow(str(substitute(raw['description'], env, where)))}")
    for key, val in substitute(raw["spec"], env, where).items():
        if key == "helpers" and isinstance(val, dict):
            lines.append("helpers:")
            lines += [f"  {flow(h)}: {flow(d)}" for h, d in val.items()]
        else:
            lines.append(f"{key}: {flow(val)}")
    lines.append("sites:")
    lines.append(f"  {flow(one_line(site.function))}:")
    lines.append(f"    base: {site.base:#x}")
    lines.append(f"    slots: {len(site.words)}")
    lines.append(f"    entry: {site.entry}")
    if site.literal is not None:
        lit = substitute(raw["site"]["literal"], env, where)
        value = lit.get("value", site.literal_value)
        lines.append("    data:")
        lines.append(f"      {flow(lit['name'])}: {{offset: {site.literal - site.base}, size: 8, "
                     f"value: {flow(value)}}}  # compiled as {site.literal_value:#018x}")
    lines.append("    states:")
    for state, repl in states.items():
        lines.append(f"      {flow(state)}:")
        for i, w in enumerate(site.words):
            addr = site.base + 4 * i
            label = labels.get(i)
            text = repl.get(label, "") if label else ""
            text = str(substitute(text, env, where)) if text else ""
            item = flow(text) if text else flow(f"{w:08x}")
            item = f"{flow(label)}: {item}" if label else item
            note = f"{addr:#x}: compiled {w:08x} {disassemble(w, addr)}"
            if i == site.entry:
                note += f" <- {one_line(site.function)}"
            lines.append(f"        - {item}  # {one_line(note)}")
    init = initial if initial is not None else substitute(raw["site"].get("initial"), env, where)
    if init is not None:
        lines.append(f"    initial: {flow(str(init))}")
    for key in ("valid", "live"):
        if key in raw["site"]:
            lines.append(f"    {key}: {flow(substitute(raw['site'][key], env, where))}")
    lines.append("steps:")
    steps = [s for s in raw["steps"] if _keep(s, env, where)]
    for s in steps:
        s = substitute(s, env, where)
        if isinstance(s, dict):
            s = {k: v for k, v in s.items() if k != "when"}
            if len(s) == 1:
                (k, v), = s.items()
                lines.append(f"  - {flow(k)}: {flow(v)}" if v is not None else f"  - {flow(k)}")
                continue
        lines.append(f"  - {flow(s)}")
    if not steps:
        lines[-1] = "steps: []"
    return "\n".join(lines) + "\n"
