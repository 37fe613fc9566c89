"""The fetch rules the litmus engine applies, in one place.

The publication chain per cache type is the main engine's
(``fpatch.model.arch.CacheType.publication``), read here for several threads:
a ``dc``/``ic`` step may be done by any thread, and the DSB that follows it
must be executed by that same thread (a DSB only completes its own thread's
maintenance); a leading ``dsb`` (IDC=1) must be the writer's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpatch.model.arch import FULL_DSB, CacheType

# DSBs that complete cache maintenance: the main engine's set (ISH, SY), so both
# engines read `dsb_full` alike (herd's dsb.full may be wider: erring to Allowed).
FULL_DSB_OPTIONS: tuple[str, ...] = FULL_DSB


@dataclass(frozen=True)
class Rules:
    cache: CacheType
    line: int = 4  # bytes covered by one DC/IC by address (herd: the named location only)
    ic_at_issue: bool = True  # an IC directly followed by its DSB takes effect when issued
    dc_by_dmb: bool = True  # DC; DMB SY/ISH; memory access also completes the DC
    hoist: bool = True  # DC/IC may be performed before unordered earlier instructions
    fetch_floor: bool = True  # a fetch of write j bounds later fetches by j's publications

    @property
    def chain(self) -> tuple[str, ...]:
        return self.cache.publication

    def initial_stage(self) -> int:
        return 0

    def covers(self, op_addr: int, slot: int) -> bool:
        return op_addr // self.line == slot // self.line

    @staticmethod
    def same_line(a: int, b: int, line: int = 64) -> bool:
        """Same 64-byte cache line (herd's scl), for ordering accesses against DC."""
        return a // line == b // line

    @staticmethod
    def dsb_matches(step: str, option: str) -> bool:
        """``dsb_full`` completes cache maintenance (ISH/SY...); ``dsb`` is any DSB that
        orders the writer's stores (not DSB LD)."""
        if step == "dsb_full":
            return option in FULL_DSB_OPTIONS
        return not option.endswith("ld")


def rules_for(idc: bool, dic: bool, line: int = 4) -> Rules:
    return Rules(CacheType(idc=idc, dic=dic), line)
