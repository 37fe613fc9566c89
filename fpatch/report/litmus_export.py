"""Stale counterexamples as herd litmus tests (`fpatch check --litmus-out DIR`).

A *stale* counterexample says: a CPU that took a context synchronization event
after the patcher finished can still fetch a word of the slot that is not the
final one. Written for herd (`herd7 -variant ifetch`) so that a user can confirm
it independently:

* P0 is the patcher: its steps that touch the slot's publication, as
  instructions (its writes of this slot, `DC CVAU`/`IC IVAU` on the slot's line or
  on another line, `IC IALLUIS`, `DSB`/`DMB`/`ISB` with their options), then it
  writes a flag: "the patch is done".
* P1 is a CPU that reads the flag, takes a CSE (`CBNZ; ISB`) and calls the slot.
* Each distinct word the slot holds is replaced by a *probe* `B` that lands on
  `MOV W11,#j; RET`, so the word fetched shows in `1:X11` (every probe is a `B`,
  in the CMODX set: herd's verdict is about visibility alone, which is what stale
  is about).
* The condition holds exactly in the counterexample's outcome: the flag was seen
  and the counterexample's stale word was fetched.

What herd cannot state is not exported (a one-line reason instead): `ic iallu`
(herd reads it as broadcast; fpatch, as the Arm ARM, as local), IDC=0 with DIC=1
(herd: DIC implies IDC), non-atomic copies of the slot (torn words).
"""

from __future__ import annotations

import re

from fpatch.model.timeline import Timeline
from fpatch.spec.types import Site

_PROBE_BLOCK = 8  # bytes per probe target: MOV W11,#j; RET


class NotExportable(Exception):
    """The counterexample uses something herd's model does not state the same way."""


def stale_litmus(tl: Timeline, site: Site, slot: int, stale_word: int, name: str) -> str:
    """The litmus test (see the module docstring) for ``slot`` of ``site``."""
    spec = tl.spec
    if spec.dic and not spec.idc:
        raise NotExportable("IDC=0 with DIC=1 has no herd cache type (herd: DIC implies IDC)")
    if spec.errata:
        raise NotExportable(f"env.errata ({', '.join(spec.errata)}) weakens the architecture; "
                            f"herd's model has no errata")
    hist = tl.history(site)[slot]
    words: list[int] = []
    for w in hist.values:
        if w not in words:
            words.append(w)
    if stale_word not in words:
        raise NotExportable(f"word 0x{stale_word:08x} is never in slot {slot}")
    addr = site.slot_addr(slot)
    line = addr - addr % spec.line_size
    regs: dict[int, int] = {}  # probe index -> P0 register holding it
    p0: list[str] = []
    for step in tl.steps:
        if step.kind == "write":
            if site.base <= step.addr < site.end or step.addr < addr + 4 <= step.addr + len(
                    step.data):
                before, after = hist.values[step.index - 1], hist.values[step.index]
                covers = step.addr <= addr and addr + 4 <= step.addr + len(step.data)
                if not covers and (step.addr < addr + 4 and addr < step.addr + len(step.data)):
                    raise NotExportable("the slot is written by a non-atomic copy (torn words)")
                if covers and after != before:
                    j = words.index(after)
                    reg = regs.setdefault(j, 2 + len(regs))
                    if reg > 7:
                        raise NotExportable("more than six distinct words in the slot")
                    p0.append(f"STR W{reg},[X1]")
        elif step.kind in ("dc_cvau", "ic_ivau"):
            target = "X1" if line in step.lines else "X12"
            p0.append(f"{'DC CVAU' if step.kind == 'dc_cvau' else 'IC IVAU'},{target}")
        elif step.kind == "ic_iallu":
            raise NotExportable("ic iallu: herd reads it as broadcast, fpatch (Arm ARM) as "
                                "local to the patching CPU")
        elif step.kind == "ic_ialluis":
            p0.append("IC IALLUIS")
        elif step.kind in ("dsb", "dmb"):
            p0.append(f"{step.kind.upper()} {step.option.upper()}")
        elif step.kind == "isb":
            p0.append("ISB")
    p0.append("STR W8,[X9]")
    n = len(words)
    probes = [f'0:X{reg}=instr:"B .+{4 + _PROBE_BLOCK * j}"' for j, reg in sorted(regs.items())]
    p1 = ["LDR W10,[X9]", "CBNZ W10,LC", "LC: ISB", "BL LS", "B LEND",
          f"LS: B .+{4 + _PROBE_BLOCK * 0}"]
    for j in range(n):
        p1 += [f"MOV W11,#{j}", "RET"]
    p1.append("LEND:")
    rows = max(len(p0), len(p1))
    p0 += [""] * (rows - len(p0))
    p1 += [""] * (rows - len(p1))
    table = "\n".join(f" {a:22}| {b:16};" for a, b in zip(p0, p1, strict=True))
    cache = ""
    if spec.idc or spec.dic:
        cache = "CacheType=" + " ".join(k for k, on in (("IDC", spec.idc), ("DIC", spec.dic))
                                        if on) + "\n"
    init = "; ".join(["0:X1=P1:LS", "0:X12=other", "0:X8=1", "0:X9=flag", "1:X9=flag",
                      "1:X11=99", *probes])
    safe_name = re.sub(r"[^A-Za-z0-9_.+-]", "_", name)[:120] or "fpatch"
    comment = (f"(* fpatch: spec {_c(spec.name)}, site {_c(site.name)}, slot {slot}; "
               f"probe j stands for the slot's j-th word: "
               + ", ".join(f"{j}=0x{w:08x}" for j, w in enumerate(words)) + " *)")
    return (f"AArch64 {safe_name}\n{comment}\n{cache}{{ {init}; }}\n"
            f" {'P0':22}| {'P1':16};\n{table}\n"
            f"exists (1:X10=1 /\\ 1:X11={words.index(stale_word)})\n")


def _c(text: str) -> str:
    """Text inside a litmus comment: no comment delimiters, one line, printable."""
    return re.sub(r"[^\x20-\x7e]|\(\*|\*\)", "_", text)[:80]
