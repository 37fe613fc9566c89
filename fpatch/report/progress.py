"""A progress bar (rich) for long runs, on a terminal only.

Shown once a run has taken more than a second, on stderr, and only when stderr is a
terminal and the ``CI`` environment variable is unset: logs and pipes never get one.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

DELAY = 1.0  # seconds before a bar appears


def wanted() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI") \
        and not os.environ.get("FPATCH_NO_PROGRESS")


class Bar:
    """``update(done, total)`` as work goes on; ``close()`` at the end (idempotent)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.t0 = time.monotonic()
        self.enabled = wanted()
        self._bar: Any = None
        self._task: Any = None

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            if time.monotonic() - self.t0 < DELAY or done >= total:
                return
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 TimeRemainingColumn(),
                                 console=Console(stderr=True, markup=False, emoji=False,
                                                 highlight=False),
                                 transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=total)
        self._bar.update(self._task, completed=done, total=total)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
