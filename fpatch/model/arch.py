"""Cache types, Linux's cache-maintenance macro and the observer kinds of a spec.

The architecture's rules themselves (when a write is visible to instruction
fetch, what orders what) are stated once in fpatch/arch; publication points
come from there (fpatch/arch/publication.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from fpatch.arch.errata import fetches_ordered


@dataclass(frozen=True)
class CacheType:
    idc: bool
    dic: bool
    errata: tuple[str, ...] = ()  # env.errata: switches on the axioms (fpatch/arch/errata.py)

    @property
    def fetches_ordered(self) -> bool:
        """Do an observer's fetches keep IC-Ordered-Before's order (the fetch floor)? An
        erratum may take it away; the rule is fpatch/arch/errata.py's."""
        return fetches_ordered(self.dic, self.errata)

    def sync_icache(self) -> tuple[tuple[str, str], ...]:
        """Linux's ``caches_clean_inval_pou`` for this cache type (arch/arm64/mm/cache.S)."""
        seq: list[tuple[str, str]] = []
        if self.idc:
            seq.append(("dsb", "ishst"))
        else:
            seq += [("dc_cvau", ""), ("dsb", "ish")]
        if self.dic:
            seq.append(("isb", ""))
        else:
            seq += [("ic_ivau", ""), ("dsb", "ish"), ("isb", "")]
        return tuple(seq)

    def __str__(self) -> str:
        return f"IDC={int(self.idc)} DIC={int(self.dic)}"


# Observer kinds. "nmi" in a spec means both NMI forms.
THREAD = "thread"
NMI_LOCAL = "nmi-local"  # NMI on the patching CPU: the whole site at one point
NMI_REMOTE = "nmi-remote"  # NMI on another CPU: cannot be preempted, may run in stop_machine

OBSERVER_DOC = {
    THREAD: "a task on another CPU (interruptible; preemptible if the kernel is)",
    NMI_LOCAL: "an NMI on the patching CPU, running the site between two patcher steps",
    NMI_REMOTE: "an NMI on another CPU, running while the patcher keeps going",
}


def observer_kinds(spec_observers: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for o in spec_observers:
        if o == "thread":
            out.append(THREAD)
        elif o == "nmi":
            out += [NMI_LOCAL, NMI_REMOTE]
    return tuple(out)
