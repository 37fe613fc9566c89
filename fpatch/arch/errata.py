"""CPU errata that weaken the architecture model, each a documented switch on its axioms.

An erratum is selected in a spec with ``env.errata: [ID, ...]``. Each entry says which
guarantee of the axioms (fpatch/arch/model.py) the affected CPUs do not give, and where
that comes from; the axioms read the switch in one place (``CacheType.fetches_ordered``),
and so does the check engines' time reading of it (the fetch floor, docs/model.md).
Nothing here names a verdict: a spec's answer changes only through the axioms.
"""

from __future__ import annotations

from dataclasses import dataclass

N1_1542419 = "neoverse-n1-1542419"


@dataclass(frozen=True)
class Erratum:
    id: str
    title: str
    weakening: str  # what the axioms no longer grant, in words
    unorders_fetches: bool  # with DIC=1, IC-Ordered-Before's DIC term does not hold
    sources: tuple[str, ...]


ERRATA: dict[str, Erratum] = {
    N1_1542419: Erratum(
        id=N1_1542419,
        title="Arm Neoverse-N1 #1542419: mis-ordering of instruction fetches",
        weakening=(
            "with CTR_EL0.DIC=1 an affected core's instruction fetches are not ordered "
            "among themselves: having fetched a new branch it may still fetch a stale "
            "target written (and completed by a DSB) before the branch was. The DIC term "
            "of IC-Ordered-Before (a fetch po-before another fetch that reads an older "
            "write is ordered before that write) goes; IC-Coherence-After stays, so a "
            "context synchronization event after the DSB still publishes (Linux's fix "
            "dd8a1f134884 relies on exactly that: kick_all_cpus_sync())"),
        unorders_fetches=True,
        sources=(
            "Linux 05460849c3b5 'arm64: errata: Hide CTR_EL0.DIC on systems affected by "
            "Neoverse-N1 #1542419' (arch/arm64/Kconfig ARM64_ERRATUM_1542419: 'Affected "
            "Neoverse-N1 cores could execute a stale instruction when modified by another "
            "CPU. The workaround depends on a firmware counterpart.'; "
            "arch/arm64/kernel/cpu_errata.c has_neoverse_n1_erratum_1542419: an N1 with "
            "CTR_EL0.DIC set; arch/arm64/kernel/traps.c ctr_read_handler clears DIC in the "
            "EL0 view so user space performs IC IVAU, which the firmware traps)",
            "Linux dd8a1f134884 'arm64: ftrace: Ensure synchronisation in PLT setup for "
            "Neoverse-N1 #1542419' (v5.4; arch/arm64/kernel/ftrace.c: 'CPUs affected by "
            "Neoverse-N1 #1542419 may execute a stale instruction if it was recently "
            "modified. The affected sequence requires freshly written instructions to be "
            "executable before a branch to them is updated'; the module PLT is flushed "
            "with flush_icache_range(), whose kick_all_cpus_sync() is the fix)",
            "Linux 'arm64: Fake the IminLine size on systems affected by Neoverse-N1 "
            "#1542419' (traps.c: IminLine reported as a page, fewer traps; id not "
            "confirmed)",
            "Trusted Firmware-A lib/cpus/aarch64/neoverse_n1.S "
            "neoverse_n1_errata_ic_trap_handler (the firmware counterpart: IC IVAU from "
            "lower ELs traps to EL3, which performs the workaround)",
            "Arm Neoverse N1 Software Developer Errata Notice, erratum 1542419",
        ),
    ),
}


def known() -> str:
    """The known ids, for error messages."""
    return ", ".join(sorted(ERRATA))


def fetches_ordered(dic: bool, errata: tuple[str, ...]) -> bool:
    """Do an observer's instruction fetches keep the order IC-Ordered-Before gives them
    (with DIC=1, its DIC term)? The check engines' fetch floor is the time reading of it."""
    return not (dic and any(ERRATA[e].unorders_fetches for e in errata))
