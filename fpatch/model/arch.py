"""The architectural rules the model uses, as data (herd keeps them in .cat files).

A new cache type or a corrected rule is an edit here, not in the encoder or the
enumerator: both read publication requirements and CSE sources from this file.
"""

from __future__ import annotations

from dataclasses import dataclass

# One requirement in the chain that publishes a write to instruction fetch.
#   "dc"       a DC CVAU whose line covers the slot
#   "ic"       an IC IVAU whose line covers the slot, or IC IALLU
#   "dsb"      a DSB of any kind (ISH, SY, ISHST, ST)
#   "dsb_full" a DSB that also completes cache maintenance (ISH, SY)


@dataclass(frozen=True)
class CacheType:
    idc: bool
    dic: bool

    @property
    def publication(self) -> tuple[str, ...]:
        """What must follow a write, in order, before fetch is guaranteed to see it."""
        if self.dic and self.idc:
            return ("dsb",)
        if self.dic:
            return ("dc", "dsb_full")
        if self.idc:
            return ("dsb", "ic", "dsb_full")
        return ("dc", "dsb_full", "ic", "dsb_full")

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


FULL_DSB = ("ish", "sy")

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
