"""The ``fpatch extract`` command (registered in fpatch/cli.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fpatch.extract.elf import DEFAULT_REL_BASE, ExtractError
from fpatch.textsafe import display_path, one_line

EXIT_OK, EXIT_USAGE = 0, 2


def _say(text: str, err: bool = False) -> None:
    """One line with user text in it (paths, symbol names): control characters escaped."""
    click.echo(one_line(text), err=err)


def _where(path: object) -> str:
    return display_path(path)


def _int(text: str) -> int:
    return int(text.replace("_", ""), 0)


def _parse_sets(sets: tuple[str, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in sets:
        name, eq, value = item.partition("=")
        try:
            if not eq or not name.strip():
                raise ValueError
            out[name.strip()] = _int(value.strip())
        except ValueError:
            raise click.BadParameter(f"expected NAME=ADDRESS, got {item!r}",
                                     param_hint="'--set'") from None
    return out


@click.command()
@click.argument("objects", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(file_okay=False), help="Folder for the specs (created).")
@click.option("--mechanism", default="ftrace", show_default=True,
              help="A built-in template: ftrace (sites from __patchable_function_entries) "
                   "or jump-label (sites from __jump_table).")
@click.option("--template", "template_file", type=click.Path(dir_okay=False), default=None,
              help="A template file of your own (docs/extract.md); replaces --mechanism.")
@click.option("--function", "functions", multiple=True, metavar="NAME",
              help="Only sites in this function (repeatable; shell patterns such as 'ext4_*').")
@click.option("--set", "sets", multiple=True, metavar="NAME=ADDRESS",
              help="Give a template variable, e.g. --set ftrace_caller=0xffff800008010000.")
@click.option("--base", "base", default=hex(DEFAULT_REL_BASE), show_default=True,
              help="Address of the first section of a relocatable object (.o, .ko).")
@click.option("--batch-min", "batch_min", type=click.IntRange(0, None), default=100,
              show_default=True,
              help="An object with at least this many sites gets one batch spec "
                   "(docs/spec-format.md, 'Batches') instead of one spec per site; 0: never.")
def extract(objects: tuple[str, ...], out_dir: str, mechanism: str, template_file: str | None,
            functions: tuple[str, ...], sets: tuple[str, ...], base: str,
            batch_min: int) -> None:
    """Write one spec per patch site of AArch64 ELF files (docs/extract.md).

    Each OBJ is a relocatable object, a kernel module, an executable or a shared
    object (little-endian AArch64). Problems are reported as `OBJ: error: ...`;
    exit status 0, 2 if an input or the template could not be used, 4 on an
    internal error.
    """
    from fpatch.extract.run import extract_file
    from fpatch.extract.template import builtin, load_template

    try:
        base_addr = _int(base)
        if not 0 <= base_addr < 2**64 or base_addr % 4096:
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"expected a 4 KiB aligned address, got {base!r}",
                                 param_hint="'--base'") from None
    variables = _parse_sets(sets)
    try:
        template = load_template(template_file) if template_file else builtin(mechanism)
    except ExtractError as exc:
        _say(f"fpatch extract: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _say(f"{_where(out)}: error: cannot create the output folder: {exc.strerror}", err=True)
        sys.exit(EXIT_USAGE)
    failed = 0
    matched: set[str] = set()
    taken: set[str] = set()
    written = 0
    for obj in objects:
        try:
            done = extract_file(obj, template, out, functions, variables, base_addr, taken,
                                batch_min)
        except ExtractError as exc:
            # anything else is a bug in fpatch: the command group reports it (exit 4)
            _say(f"{_where(obj)}: error: {exc}", err=True)
            failed += 1
            continue
        except OSError as exc:  # writing a spec
            where = _where(exc.filename) if exc.filename else _where(out)
            _say(f"{where}: error: cannot write: {exc.strerror}", err=True)
            failed += 1
            continue
        if done.batch:
            _say(f"{_where(done.specs[0])}: {template.mechanism} batch of {len(done.sites)} "
                 f"sites")
        for site, spec in zip(done.sites, done.specs if not done.batch else (), strict=False):
            _say(f"{_where(spec)}: {template.mechanism} site {site.function} at {site.base:#x} "
                 f"({len(site.words)} slot(s))")
        written += len(done.specs)
        matched.update(s.function for s in done.sites)
    for pattern in functions:
        import fnmatch

        if failed == 0 and not any(fnmatch.fnmatchcase(f, pattern) for f in matched):
            _say(f"fpatch extract: error: no {template.mechanism} site in a function "
                 f"matching {pattern!r}", err=True)
            failed += 1
    _say(f"{written} spec(s) written to {_where(out)}")
    sys.exit(EXIT_USAGE if failed else EXIT_OK)
