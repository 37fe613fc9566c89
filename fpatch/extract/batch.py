"""``fpatch extract`` of many sites: one batch spec instead of one spec per site.

The per-site specs a template renders are grouped by shape: sites whose specs are
equal but for their name, description, site name and base become one site template
(`instances: {FUNCTION: BASE, ...}`), and each of the group's steps names the template
with `sites:` (docs/spec-format.md, 'Batches'). Groups follow one another in the order
of their first site, each with its own steps, as one batch.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

_PER_SITE = ("name", "description")


def _steps_for(steps: list[Any], group: str) -> list[Any]:
    """The group's steps: each site-level step names the template with `sites:`."""
    out: list[Any] = []
    for st in steps:
        if isinstance(st, dict) and len(st) == 1:
            (kind, arg), = st.items()
            if kind == "stop_machine" and isinstance(arg, list):
                out.append({kind: _steps_for(arg, group)})
                continue
            if kind in ("write", "dc_cvau", "ic_ivau", "sync_icache"):
                if isinstance(arg, dict):
                    arg = {k: v for k, v in arg.items() if k != "site"}
                    out.append({kind: {"sites": [group], **arg}})
                else:  # a site name: every slot of that site
                    out.append({kind: {"sites": [group]}})
                continue
        out.append(st)
    return out


def _flow(value: Any) -> str:
    """A value as one line of YAML flow syntax (JSON is YAML; strings stay quoted), with
    addresses in hex."""
    return _BIG.sub(lambda m: hex(int(m.group(0))), json.dumps(value))


_BIG = re.compile(r"(?<=[:\[,] )\d{7,}(?=[,}\]]|$)|^\d{7,}$")


def combine(texts: list[str], name: str) -> str | None:
    """One batch spec from per-site spec texts (None if they cannot be combined: a
    site's spec with several sites, or specs that differ in more than their sites)."""
    docs = [yaml.safe_load(t) for t in texts]
    groups: dict[str, tuple[dict[str, Any], list[Any], dict[str, int]]] = {}
    order: list[str] = []
    common: dict[str, Any] | None = None
    shape_of: dict[str, str] = {}
    for doc in docs:
        sites = doc.get("sites") or {}
        if len(sites) != 1:
            return None
        (site_name, site), = sites.items()
        rest = {k: v for k, v in doc.items() if k not in _PER_SITE + ("sites", "steps")}
        if common is None:
            common = rest
        elif rest != common:
            return None
        shape = dict(site)
        base = shape.pop("base")
        key = json.dumps([shape, doc.get("steps")], sort_keys=True)
        if key not in shape_of:
            group = f"shape{len(shape_of) + 1}"
            shape_of[key] = group
            groups[group] = (shape, doc.get("steps") or [], {})
            order.append(group)
        instances = groups[shape_of[key]][2]
        if site_name in instances or any(site_name in g[2] for g in groups.values()):
            return None  # a function with two sites: keep one spec per site
        instances[site_name] = base
    assert common is not None
    lines = [f"# Extracted batch: {len(docs)} sites of {len(order)} shape(s) (fpatch extract; "
             "docs/spec-format.md, 'Batches').", f"name: {_flow(name)}"]
    lines += [f"{k}: {_flow(v)}" for k, v in common.items()]
    lines.append("sites:")
    steps: list[Any] = []
    for group in order:
        shape, gsteps, instances = groups[group]
        lines.append(f"  {group}:")
        lines += [f"    {k}: {_flow(v)}" for k, v in shape.items()]
        lines.append("    instances:")
        lines += [f"      {_flow(n)}: {b:#x}" for n, b in instances.items()]
        steps += _steps_for(gsteps, group)
    lines.append("steps:")
    lines += [f"  - {_flow(st)}" for st in steps]
    return "\n".join(lines) + "\n"
