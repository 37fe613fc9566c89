"""The command line: thin glue over spec -> model -> encoding -> verdict -> report.

Exit status of ``fpatch check`` (a CI gate): 0 every spec met its expectation;
1 some spec is unsafe without ``expect: unsafe`` (or safe where unsafe was
expected); 2 bad usage or an invalid spec; 3 some answer is unknown and
nothing is worse; 4 an internal error in fpatch (never a verdict: one line on
stderr and a request to report it; ``FPATCH_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from fpatch import __version__
from fpatch.errors import SpecError
from fpatch.textsafe import display_path, one_line, terminal

# Start-up time (bench/startup.py): `--version` and `validate` import neither rich, networkx,
# z3 nor the report writers; each command imports what it uses when it runs.
if TYPE_CHECKING:
    from rich.console import Console

    from fpatch.spec.types import Spec
    from fpatch.verdict import Result

EXIT_OK, EXIT_UNSAFE, EXIT_USAGE, EXIT_UNKNOWN, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_STATUSES = (EXIT_OK, EXIT_UNSAFE, EXIT_USAGE, EXIT_UNKNOWN, EXIT_INTERNAL)
ISSUES_HINT = "please report it with the input that caused it"
MAX_SECONDS = 7 * 24 * 3600.0
CI_MAX_TIME = 1800.0  # --max-time when the CI environment variable is set


@functools.cache
def _safe_console() -> type[Console]:
    """The console class, built on first use so that start-up does not import rich."""
    from rich.console import Console
    from rich.segment import Segment

    class SafeConsole(Console):
        """A console that shows control characters in what it prints as ``\\e``,
        ``\\x07``...

        Every piece of text (plain strings, ``Text``, table cells) reaches the output as a
        segment; user text inside them is escaped there, whatever path it came by, while
        the console's own styling (added around the segments) still works.
        """

        def _render_buffer(self, buffer: Iterable[Segment]) -> str:
            return super()._render_buffer(
                seg if seg.control else Segment(terminal(seg.text), seg.style, seg.control)
                for seg in buffer)

        def on_broken_pipe(self) -> None:
            """The reader went away: exit 2, never rich's 1 (which reads as "unsafe")."""
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(EXIT_USAGE)

    return SafeConsole


def _console(no_color: bool) -> Console:
    return _safe_console()(no_color=no_color, highlight=False, soft_wrap=False, markup=False,
                       emoji=False, width=None if sys.stdout.isatty() else 160)


def _err_console(no_color: bool = False) -> Console:
    return _safe_console()(stderr=True, no_color=no_color, highlight=False, markup=False,
                       emoji=False)


def _echo(text: str, err: bool = False) -> None:
    """One line of plain output with user text in it (paths, messages); control
    characters and escape sequences in it are shown escaped, never sent raw."""
    click.echo(terminal(text), err=err)


class _Seconds(click.ParamType):
    """A positive, finite number of seconds (``nan`` and ``inf`` are usage errors)."""

    name = "seconds"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        try:
            v = float(str(value))
        except ValueError:
            self.fail(f"{one_line(str(value), 40)!r} is not a number of seconds", param, ctx)
        if not math.isfinite(v) or not 0.1 <= v <= MAX_SECONDS:
            self.fail(f"{one_line(str(value), 40)} is not between 0.1 and {MAX_SECONDS:.0f} "
                      f"seconds", param, ctx)
        return v


SECONDS = _Seconds()


class _Guarded(click.Group):
    """Turns an internal error into exit status 4 and one line, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit,
                KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # The reader went away (`fpatch check ... | head`): no verdict was delivered,
            # so never exit 1 ("unsafe"); 2, as for output that cannot be written.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(EXIT_USAGE)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if os.environ.get("FPATCH_DEBUG"):
                raise
            what = one_line(f"{type(exc).__name__}: {exc}", 300)
            click.echo(f"fpatch: internal error: {what} (this is a bug in fpatch, not a "
                       f"verdict; {ISSUES_HINT}; FPATCH_DEBUG=1 shows the traceback)",
                       err=True)
            ctx.exit(EXIT_INTERNAL)


def _probe_file(option: str, name: str | None) -> None:
    """Fail before any work if an output file cannot be written (exit 2)."""
    if name is None:
        return
    path = Path(name)
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        with path.open("a", encoding="utf-8"):
            pass
        if not existed:
            path.unlink()
    except OSError as exc:
        raise click.BadParameter(f"cannot write {display_path(name)!r}: "
                                 f"{exc.strerror or exc}", param_hint=option) from None


def _probe_dir(option: str, name: str | None) -> None:
    if name is None:
        return
    try:
        Path(name).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=name):
            pass
    except OSError as exc:
        raise click.BadParameter(f"cannot write into {display_path(name)!r}: "
                                 f"{exc.strerror or exc}", param_hint=option) from None


def _spec_files(paths: Iterable[str]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out += sorted(q for q in path.rglob("*")
                          if q.suffix in (".yaml", ".yml") and q.is_file())
        else:
            out.append(path)
    return out


def _print_errors(exc: SpecError) -> None:
    """Every problem, one compiler-style line each, on stderr (never wrapped)."""
    for d in sorted(exc.diagnostics):
        _echo(one_line(str(d), 600), err=True)


def _load(path: Path) -> Spec | SpecError:
    from fpatch.spec import parse_file

    try:
        return parse_file(path)
    except SpecError as exc:
        return exc


@click.group(cls=_Guarded, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fpatch")
def main() -> None:
    """Model checker for live code patching on AArch64.

    Describe a patch sequence in a YAML spec (docs/spec-format.md); fpatch
    searches every interleaving with other CPUs, preempted tasks and NMIs for
    a torn or CMODX-unpredictable fetch, an undefined instruction, a run whose
    effect matches no valid state, or code that stays stale after the sequence.
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (docs/json.md); "
              "the same as --format json.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text",
              show_default=True,
              help="What to print on stdout: text, JSON (docs/json.md) or SARIF 2.1.0 "
                   "(docs/ci.md).")
@click.option("--sarif", "sarif_file", type=click.Path(dir_okay=False, writable=True),
              default=None, help="Also write SARIF 2.1.0 to this file (docs/ci.md).")
@click.option("--junit-xml", "junit_file", type=click.Path(dir_okay=False, writable=True),
              default=None, help="Also write JUnit XML to this file (docs/ci.md).")
@click.option("--report-dir", type=click.Path(file_okay=False, writable=True), default=None,
              help="Write report.html, report.md, report.json, timeline.svg, states.svg and "
                   "states.dot of each spec into DIR/<spec-name>/ (docs/reports.md).")
@click.option("--timeout", type=SECONDS, default=None,
              help="Seconds per solver query before the answer is 'unknown' (default 60, or "
                   "the spec's timeout).")
@click.option("--max-time", type=SECONDS, default=None,
              help="Seconds for the whole run; what is not checked by then is 'unknown' "
                   f"(default: none, or {CI_MAX_TIME:.0f} when the CI environment variable "
                   "is set).")
@click.option("--engine", type=click.Choice(["smt", "enum"]), default="smt", show_default=True,
              help="smt: the Z3 encoding; enum: the explicit enumerator (cross-check, "
                   "small specs).")
@click.option("-q", "--quiet", is_flag=True, help="Only the one-line summaries.")
@click.option("--no-color", is_flag=True, help="No colour, even on a terminal.")
@click.option("--litmus-out", "litmus_out", type=click.Path(file_okay=False, writable=True),
              default=None, help="Write each stale counterexample as a herd litmus test into "
                                 "DIR (docs/matrix.md, 'Counterexamples as litmus tests').")
@click.option("--matrix", "matrix_fmt", type=click.Choice(["text", "markdown", "json"]),
              default=None, help="Instead of gating: check every spec under every cache type "
                                 "and preemptible/NMI setting and print one table "
                                 "(docs/matrix.md).")
@click.option("-j", "--jobs", "jobs", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Check the specs with N worker processes (results in input order).")
def check(paths: tuple[str, ...], as_json: bool, fmt: str, sarif_file: str | None,
          junit_file: str | None, report_dir: str | None, timeout: float | None,
          max_time: float | None, engine: str, quiet: bool, no_color: bool,
          litmus_out: str | None, matrix_fmt: str | None, jobs: int) -> None:
    """Check spec files and folders (recursively *.yaml) and gate on their expectations."""
    if matrix_fmt is not None:
        _matrix(paths, matrix_fmt, engine, timeout, max_time)

    from fpatch.model.timeline import build
    from fpatch.report import jsonout, text
    from fpatch.report.ci import Checked, junit_xml, sarif_log
    from fpatch.report.document import build_batch_report, build_report, error_report
    from fpatch.report.writer import write_report
    from fpatch.verdict import UNKNOWN

    if as_json:
        if fmt not in ("text", "json"):
            raise click.UsageError("--json and --format sarif exclude each other")
        fmt = "json"
    as_json = fmt == "json"
    text_out = fmt == "text"
    # Fix: an unwritable output was found only after the whole run (a traceback).
    _probe_file("--sarif", sarif_file)
    _probe_file("--junit-xml", junit_file)
    _probe_dir("--report-dir", report_dir)
    _probe_dir("--litmus-out", litmus_out)
    if max_time is None and os.environ.get("CI"):
        max_time = CI_MAX_TIME
    deadline = time.monotonic() + max_time if max_time is not None else None
    out = _console(no_color)
    err = _err_console(no_color)
    files = _spec_files(paths)
    if not files:
        err.print("fpatch: no spec files (*.yaml, *.yml) found")
        sys.exit(EXIT_USAGE)
    invalid = mismatched = unknown = 0
    docs = []
    checked: list[Checked] = []
    taken: set[str] = set()
    from fpatch.parallel import check_files
    from fpatch.report.progress import Bar

    bar = Bar("specs") if len(files) > 1 else None
    runner = functools.partial(_run_checker, engine, timeout, len(files) == 1)
    for done, (path, spec, maybe) in enumerate(check_files(files, runner, jobs, deadline)):
        if bar is not None:
            bar.update(done, len(files))
        shown = display_path(path)
        if isinstance(spec, SpecError):
            invalid += 1
            _print_errors(spec)
            checked.append(Checked(shown, errors=tuple(spec.diagnostics)))
            if report_dir:
                _write(write_report, Path(report_dir), error_report(
                    shown, display_path(path.stem), spec.diagnostics), taken)
            if as_json:
                docs.append(jsonout.error_json(shown, spec.diagnostics))
            elif text_out:
                out.print(f"ERR  {shown}: invalid spec ({len(spec.diagnostics)} problem(s))",
                          markup=False)
            continue
        assert maybe is not None
        result = maybe
        checked.append(Checked(str(path), spec, result))
        if result.verdict == UNKNOWN:
            unknown += 1
        elif not result.meets_expectation:
            mismatched += 1
        wanted = bool(report_dir or litmus_out or (text_out and not quiet))
        if "batch" in result.extra:  # checked by shape: each site's own view (fpatch/batch.py)
            tl, report = None, build_batch_report(spec, result) if wanted else None
            if litmus_out:
                _echo(f"fpatch: {shown}: --litmus-out does not export batches (specs of "
                      f"several sites) yet", err=True)
            if report_dir and report is not None:
                every = {k: v for k, v in report.items() if k != "views"}
                _write(write_report, Path(report_dir), every, taken)  # every site's verdict
                for view in report["views"].values():
                    _write(write_report, Path(report_dir), view, taken)
        else:
            tl = build(spec) if wanted else None
            if litmus_out and tl is not None:
                _export_litmus(Path(litmus_out), spec, tl, result)
            report = build_report(spec, tl, result) if tl is not None else None
            if report_dir and report is not None:
                _write(write_report, Path(report_dir), report, taken)
        if as_json:
            docs.append(jsonout.result_json(result))
        elif not text_out:
            pass
        elif quiet:
            out.print(text.one_line(result), markup=False)
        else:
            assert report is not None
            # Counterexamples in full where they matter: a failed expectation, or the one
            # spec asked about; a folder of expected-unsafe specs stays readable.
            text.render_result(out, result, report,
                               verbose=not result.meets_expectation or len(files) == 1)
            out.print()
    if bar is not None:
        bar.close()
    total = len(files)
    ok = total - invalid - mismatched - unknown
    summary = (f"{total} spec(s): {ok} as expected, {mismatched} not as expected, "
               f"{unknown} unknown, {invalid} invalid")
    if sarif_file:
        _write(Path(sarif_file).write_text, json.dumps(sarif_log(checked), indent=2) + "\n",
               encoding="utf-8")
    if junit_file:
        _write(Path(junit_file).write_text, junit_xml(checked), encoding="utf-8")
    summary += _exit_note(invalid, mismatched, unknown)
    if as_json:
        click.echo(json.dumps({"schema": jsonout.SCHEMA_VERSION, "results": docs,
                               "summary": {"total": total, "as_expected": ok,
                                           "not_as_expected": mismatched, "unknown": unknown,
                                           "invalid": invalid}}, indent=2))
    elif fmt == "sarif":
        click.echo(json.dumps(sarif_log(checked), indent=2))
    else:
        out.print(summary, markup=False)
    sys.exit(_exit_status(invalid, mismatched, unknown))


def _write(write: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    """Write an output file; a failure (disk full, removed folder) is exit 2, one line."""
    try:
        write(*args, **kwargs)
    except OSError as exc:
        where = display_path(exc.filename) if exc.filename else "an output file"
        _echo(f"fpatch: cannot write {where}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_USAGE)


def _exit_note(invalid: int, mismatched: int, unknown: int) -> str:
    """The summary line's ending: the exit status, and the outcomes it ranks below."""
    status = _exit_status(invalid, mismatched, unknown)
    if status == EXIT_OK:
        return ""
    found = [(EXIT_USAGE, invalid, "invalid"), (EXIT_UNSAFE, mismatched, "not as expected"),
             (EXIT_UNKNOWN, unknown, "unknown")]
    also = [f"{what} ({code})" for code, n, what in found if n and code != status]
    return f"; exit {status}" + (f" (also {', '.join(also)})" if also else "")


def _exit_status(invalid: int, mismatched: int, unknown: int) -> int:
    """Worst first: invalid (2) over not as expected (1) over unknown (3)."""
    if invalid:
        return EXIT_USAGE
    if mismatched:
        return EXIT_UNSAFE
    if unknown:
        return EXIT_UNKNOWN
    return EXIT_OK


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--timeout", type=SECONDS, default=None,
              help="Seconds per solver query before the answer is 'unknown'.")
@click.option("--max-time", type=SECONDS, default=None,
              help="Seconds for the whole check; what is not checked by then is 'unknown'.")
@click.option("--engine", type=click.Choice(["smt", "enum"]), default="smt", show_default=True,
              help="smt: the Z3 encoding; enum: the explicit enumerator.")
@click.option("--no-color", is_flag=True, help="No colour, even on a terminal.")
def explain(path: str, timeout: float | None, max_time: float | None, engine: str,
            no_color: bool) -> None:
    """Check one spec and print its full report (what --report-dir writes to report.md).

    Exit status as for check: 0 as expected, 1 not as expected, 2 invalid, 3 unknown,
    4 internal error.
    """
    from fpatch.model.timeline import build
    from fpatch.report.document import build_batch_report, build_report
    from fpatch.report.explain import render_explain
    from fpatch.verdict import UNKNOWN

    spec = _load(Path(path))
    if isinstance(spec, SpecError):
        _print_errors(spec)
        sys.exit(EXIT_USAGE)
    result = _run(spec, engine, timeout, max_time)
    if "batch" in result.extra:  # checked by shape: each failing site with its own view
        doc = build_batch_report(spec, result)
        for view in doc.pop("views").values() or [doc]:
            render_explain(_console(no_color), view)
    else:
        render_explain(_console(no_color), build_report(spec, build(spec), result))
    unknown = result.verdict == UNKNOWN
    sys.exit(_exit_status(0, int(not unknown and not result.meets_expectation), int(unknown)))


def _export_litmus(out: Path, spec: Spec, tl: Any, result: Result) -> None:
    """One herd litmus test per stale (site, slot, word) of the result; a counterexample
    herd cannot state is said on stderr, never silently skipped."""
    from fpatch.report.litmus_export import NotExportable, stale_litmus

    done: set[tuple[str, int, int]] = set()
    for c in result.counterexamples:
        if c.violation != "stale" or not c.execs:
            continue
        x = c.execs[-1]
        site = x.site or c.site  # the stale slot's own site (a run through a code graph)
        key = (site, x.slot, x.word)
        if key in done:
            continue
        done.add(key)
        name = f"{spec.name}-{site}-s{x.slot}-stale"
        try:
            text = stale_litmus(tl, spec.site(site), x.slot, x.word, name)
        except NotExportable as exc:
            _echo(f"fpatch: {display_path(spec.path)}: no litmus test for the stale fetch of "
                  f"slot {x.slot}: {exc}", err=True)
            continue
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:100]
        _write((out / f"{safe}.litmus").write_text, text, encoding="utf-8")


def _matrix(paths: tuple[str, ...], matrix_fmt: str, engine: str, timeout: float | None,
            max_time: float | None) -> None:
    """`check --matrix`: a table, not a gate: exit 0, or 2 for invalid specs (none run)."""
    from fpatch.report.matrix import render_json, render_markdown, render_text, run_matrix

    files = _spec_files(paths)
    if not files:
        _echo("fpatch: no spec files (*.yaml, *.yml) found", err=True)
        sys.exit(EXIT_USAGE)
    specs = []
    for path in files:
        spec = _load(path)
        if isinstance(spec, SpecError):
            _print_errors(spec)
            sys.exit(EXIT_USAGE)
        specs.append((display_path(path), spec))

    def one(variant: Spec) -> tuple[str, tuple[str, ...]]:
        result = _run(variant, engine, timeout, max_time)
        return result.verdict, tuple(sorted({c.violation for c in result.counterexamples}))

    rows = [run_matrix(spec, shown, one) for shown, spec in specs]
    render = {"text": render_text, "markdown": render_markdown, "json": render_json}[matrix_fmt]
    click.echo(render(rows), nl=False)
    sys.exit(EXIT_OK)


def _run_checker(engine: str, timeout: float | None, progress: bool, spec: Spec,
                 max_time: float | None) -> Result:
    """`_run` as fpatch/parallel.py calls it (module level: picklable)."""
    if progress:
        return _run(spec, engine, timeout, max_time)
    return _run(spec, engine, timeout, max_time, progress=False)


def _run(spec: Spec, engine: str, timeout: float | None, max_time: float | None = None,
         progress: bool = True) -> Result:
    if len(spec.sites) > 1:  # a batch: site by site, one check per shape (fpatch/batch.py)
        from fpatch import batch

        return batch.check(spec, functools.partial(_run_one, engine=engine, timeout=timeout),
                           engine, max_time, _progress_for(spec) if progress else None)
    from fpatch.batch import check_one  # a shape already found safe is not checked again

    return check_one(spec, functools.partial(_run_one, engine=engine, timeout=timeout),
                     engine, max_time)


def _progress_for(spec: Spec) -> Callable[[int, int], None] | None:
    """A terminal progress bar over a batch's sites (fpatch/report/progress.py)."""
    from fpatch.report.progress import Bar, wanted

    if not wanted():
        return None
    return Bar(f"{one_line(spec.name, 30)}: sites").update


def _run_one(spec: Spec, max_time: float | None, *, engine: str, timeout: float | None
             ) -> Result:
    if engine == "enum":
        from fpatch.enumerate import check as enum_check

        return enum_check(spec, max_time=max_time)
    from fpatch.encoding import check_spec

    return check_spec(spec, timeout, max_time)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def validate(paths: tuple[str, ...]) -> None:
    """Validate specs: every problem with file:line:col; exit 2 if any is invalid."""
    from fpatch.model.timeline import build

    files = _spec_files(paths)
    if not files:
        click.echo("fpatch: no spec files (*.yaml, *.yml) found", err=True)
        sys.exit(EXIT_USAGE)
    bad = 0
    for path in files:
        spec = _load(path)
        if isinstance(spec, SpecError):
            bad += 1
            _print_errors(spec)
        else:
            _echo(f"{display_path(path)}: ok ({len(spec.sites)} site(s), "
                  f"{len(build(spec).steps)} steps)")
    sys.exit(EXIT_USAGE if bad else EXIT_OK)


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--no-color", is_flag=True)
def show(path: str, as_json: bool, no_color: bool) -> None:
    """Show a spec: states side by side, differing slots, steps, state transitions."""
    from fpatch.model.timeline import build
    from fpatch.report import jsonout, text

    spec = _load(Path(path))
    if isinstance(spec, SpecError):
        _print_errors(spec)
        sys.exit(EXIT_USAGE)
    tl = build(spec)
    if as_json:
        click.echo(json.dumps(jsonout.show_json(spec, tl), indent=2))
    else:
        text.render_show(_console(no_color), spec, tl)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--compare", "kinds_file", type=click.Path(exists=True, dir_okay=False),
              default=None, help="herd's kinds.txt: print an agreement table; exit 1 on any "
                                 "disagreement.")
@click.option("--engine", type=click.Choice(["explicit", "smt"]), default="explicit",
              show_default=True, help="evaluator of the architecture model: explicit "
                                      "enumeration or Z3 (the same axioms).")
def litmus(paths: tuple[str, ...], kinds_file: str | None, engine: str) -> None:
    """Run herd AArch64 instruction-fetch litmus tests (files, folders, @lists).

    Answers Allowed / Forbidden / Required for each test's final condition, or
    `unsupported: <why>` (docs/litmus.md). Exit status: 0 fine, 1 a disagreement with
    --compare, 2 an unreadable or invalid file or list, 4 an internal error.
    """
    from fpatch.litmus.runner import LitmusInputError, read_kinds
    from fpatch.litmus.runner import run as run_litmus

    try:
        kinds = read_kinds(Path(kinds_file)) if kinds_file else None
        _, status = run_litmus(paths, kinds, _echo, engine)
    except LitmusInputError as exc:
        _echo(f"fpatch: {one_line(str(exc), 400)}", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(status)


# -- fpatch extract (issue 10): ELF objects -> specs; the command is fpatch/extract/command.py
def _register_extract() -> None:
    from fpatch.extract.command import extract

    main.add_command(extract)


_register_extract()


if __name__ == "__main__":  # pragma: no cover
    main()
