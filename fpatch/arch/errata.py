"""CPU errata that weaken the architecture model, each a documented switch on its axioms.

An erratum is selected in a spec with ``env.errata: [ID, ...]``. Each entry says which
guarantee of the axioms (fpatch/arch/model.py) the affected CPUs do not give, and where
that comes from; the axioms read the switch in one place (``CacheType.dic_effective``).
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
    hides_dic: bool  # CTR_EL0.DIC=1 does not give instruction-side coherence
    sources: tuple[str, ...]


ERRATA: dict[str, Erratum] = {
    N1_1542419: Erratum(
        id=N1_1542419,
        title="Arm Neoverse-N1 #1542419: mis-ordering of instruction fetches",
        weakening=(
            "with CTR_EL0.DIC=1 an affected core can still execute a stale instruction "
            "modified by another CPU, so DIC=1 does not make instruction fetch coherent: "
            "the IC-Coherence-After rule of a DIC=0 machine applies (publication needs "
            "IC IVAU / IC IALLUIS and a DSB after the write)"),
        hides_dic=True,
        sources=(
            "Linux 05460849c3b5 'arm64: errata: Hide CTR_EL0.DIC on systems affected by "
            "Neoverse-N1 #1542419' (arch/arm64/Kconfig ARM64_ERRATUM_1542419: 'Affected "
            "Neoverse-N1 cores could execute a stale instruction when modified by another "
            "CPU. The workaround depends on a firmware counterpart.'; "
            "arch/arm64/kernel/cpu_errata.c has_neoverse_n1_erratum_1542419: an N1 with "
            "CTR_EL0.DIC set; arch/arm64/kernel/traps.c ctr_read_handler clears DIC in the "
            "EL0 view so user space performs IC IVAU, which the firmware traps)",
            "Linux dd8a1f134884 'arm64: Fake the IminLine size on systems affected by "
            "Neoverse-N1 #1542419' (traps.c: IminLine reported as a page, fewer traps)",
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
