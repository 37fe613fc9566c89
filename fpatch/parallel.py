"""``fpatch check -j N``: specs of a folder checked by N worker processes.

Results come back in input order (``imap``), so output and exit status are those of a
sequential run. Each worker reads its spec itself; what crosses the process boundary
is the parsed spec (or its problems) and the result, plain frozen data.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from fpatch.errors import SpecError
from fpatch.spec.types import Spec
from fpatch.verdict import Result

Checker = Callable[[Spec, float | None], Result]  # (spec, seconds left) -> result
Outcome = tuple[Path, "Spec | SpecError", "Result | None"]

_CHECK: Checker | None = None


def _init(check: Checker, worker: bool = False) -> None:
    global _CHECK
    _CHECK = check
    if worker:  # one progress bar, the parent's, never one per worker
        import os

        os.environ["FPATCH_NO_PROGRESS"] = "1"


def _one(job: tuple[Path, float | None]) -> Outcome:
    from fpatch.spec import parse_file

    path, deadline = job
    try:
        spec = parse_file(path)
    except SpecError as exc:
        return path, exc, None
    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    assert _CHECK is not None
    return path, spec, _CHECK(spec, left)


def check_files(files: list[Path], check: Checker, jobs: int, deadline: float | None
                ) -> Iterator[Outcome]:
    """(path, spec or its problems, result) for each file, in the order of ``files``."""
    if jobs <= 1 or len(files) <= 1:
        _init(check)
        for path in files:
            yield _one((path, deadline))
        return
    # fork: the workers inherit the loaded modules (no re-import per process); spawn
    # elsewhere. `check` must be picklable for spawn (a module-level function).
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ctx.Pool(jobs, initializer=_init, initargs=(check, True)) as pool:
        chunk = max(1, min(32, len(files) // (8 * jobs)))
        yield from pool.imap(_one, [(p, deadline) for p in files], chunksize=chunk)
