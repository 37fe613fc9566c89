"""Verdicts and counterexamples: fpatch's own records, outliving any solver.

Both checkers (the Z3 encoding and the explicit enumerator) answer with these,
so the CLI, the reports and the differential tests never see solver objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fpatch.errors import Loc

# Violation kinds of MODEL.md s.6, in the order reports list them.
TORN = "torn"
CMODX = "cmodx"
UNDEFINED = "undefined"
BTI = "bti"  # an indirect branch lands on a slot that is not its landing pad (MODEL 6.6)
INEQUIVALENT = "inequivalent"
STALE = "stale"
INCOMPLETE = "incomplete"  # MODEL.md 6.5: a CPU may run pre-mark words after a `complete:` mark
DATA = "data"  # MODEL.md 6.7: a load returns a data word value not valid with the state
VIOLATION_KINDS = (TORN, CMODX, UNDEFINED, BTI, INEQUIVALENT, STALE, INCOMPLETE, DATA)

SAFE, UNSAFE, UNKNOWN = "safe", "unsafe", "unknown"
# The reason of every answer left unknown because the whole run's budget ran out.
BUDGET_SPENT = "the run's time budget (--max-time) is spent"


@dataclass(frozen=True)
class Exec:
    """One instruction the observer executed (or, for the last, fetched)."""

    index: int
    slot: int
    addr: int
    point: int  # e: the patcher point at which it executed
    cse: int  # c: the observer's last context synchronization event before the fetch
    fetched_at: int  # f: the point whose slot value was fetched
    window: tuple[int, int]  # [L, e]: points whose value this fetch could return
    word: int
    text: str
    states: tuple[str, ...]  # named states holding this word in this slot
    torn: bool = False
    interrupted_before: bool = False  # an exception return (CSE) since the previous one
    site: str = ""  # the declared site of this slot when the run spans several (code graph)


@dataclass(frozen=True)
class DataRead:
    """One load of a data word by the run (site code or a helper at its call)."""

    index: int  # the Exec that loaded it (a helper's read: the bl)
    word: str  # data word name
    addr: int
    point: int  # e: when the load executed
    value: int
    source: int  # the point whose value was read (in [window[0], point])
    window: tuple[int, int]  # [Ld(e), e]: Ld(e) = newest write complete by e
    write: str  # which write (step) the value comes from, or "initial value"
    torn: bool = False  # read mid-way through a multi-chunk write
    valid: bool = True  # acceptable with the state the run is compared with


@dataclass(frozen=True)
class EffectDiff:
    what: str  # "sp", "x30", "exit", "mem[0x...]", "call 1", "calls"
    run: str
    valid: str


@dataclass(frozen=True)
class Witness:
    """The concrete initial machine state an inequivalence was found with.

    Enough to re-run the counterexample without a solver: registers, the
    initial memory (listed bytes, else ``memory_default``) and the value each
    helper's clobbered register takes for given inputs (else the default).
    """

    regs: tuple[tuple[str, int], ...]
    memory: tuple[tuple[int, int], ...]
    memory_default: int
    clobbers: tuple[tuple[str, str, tuple[int, ...], int], ...]  # helper, reg, inputs, value
    clobber_defaults: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class Counterexample:
    site: str
    observer: str
    violation: str
    summary: str  # one line, for CI
    detail: str  # why this is a violation, in words
    execs: tuple[Exec, ...]
    exit: str
    nearest_valid: str | None = None
    diffs: tuple[EffectDiff, ...] = ()
    initial: tuple[tuple[str, int], ...] = ()  # registers worth showing
    loc: Loc | None = None  # the spec line that causes it (a step or a state)
    replayed: bool | None = None  # confirmed by the concrete replay (fpatch/model/replay.py)
    witness: Witness | None = field(default=None, compare=False)
    reads: tuple[DataRead, ...] = ()  # data words the run loaded (MODEL.md 6.7)


@dataclass(frozen=True)
class ObserverResult:
    site: str
    observer: str
    status: str  # safe | unsafe | unknown
    counterexamples: tuple[Counterexample, ...] = ()
    reasons: tuple[str, ...] = ()  # why unknown, when it is
    queries: int = 0
    solver_seconds: float = 0.0


@dataclass(frozen=True)
class Result:
    path: str
    name: str
    expect: str | None
    observers: tuple[ObserverResult, ...]
    seconds: float = 0.0
    engine: str = "smt"
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def verdict(self) -> str:
        statuses = {o.status for o in self.observers}
        if UNSAFE in statuses:
            return UNSAFE
        if UNKNOWN in statuses or not self.observers:
            return UNKNOWN
        return SAFE

    @property
    def counterexamples(self) -> tuple[Counterexample, ...]:
        return tuple(c for o in self.observers for c in o.counterexamples)

    def violations(self) -> frozenset[tuple[str, str, str]]:
        """(site, observer, violation kind) triples found; the differential tests compare these."""
        return frozenset((c.site, c.observer, c.violation) for c in self.counterexamples)

    @property
    def meets_expectation(self) -> bool:
        if self.verdict == UNKNOWN:
            return False
        return self.verdict == (self.expect or SAFE)


def data_detail(r: DataRead, state: str, ok: tuple[int, ...]) -> str:
    """Why a data load is a violation, in words (both engines say it the same way)."""
    torn = " (a torn value: mid-way through a multi-chunk write)" if r.torn else ""
    return (f"instruction #{r.index + 1} loads data word {r.word} (0x{r.addr:x}) at point "
            f"{r.point} and reads 0x{r.value:x}{torn}, the value at point {r.source} "
            f"({r.write}; window [{r.window[0]}, {r.window[1]}]); the run's effect equals "
            f"state {state}'s with that value, but {state} accepts only "
            f"{', '.join(f'0x{v:x}' for v in ok)}")
