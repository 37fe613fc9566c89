"""Finders: patch sites in an ``Image``, with their compiled words and roles.

A finder knows where a patching mechanism's sites are in an object file and
which slot plays which role; what the mechanism writes there (the states and
the steps) is the template's business (``fpatch/extract/templates``).

- ``patchable-function-entries``: one site per record of
  ``__patchable_function_entries`` (GCC/Clang ``-fpatchable-function-entry=N,M``:
  each record is the address of the first of the N NOPs, M of which are before
  the function's symbol). Roles: ``init`` and ``call``, the first two NOPs at or
  after the entry (after a ``bti c`` that ``-mbranch-protection`` puts at the
  entry). With two 8-byte aligned NOPs right before the entry (``=4,2``, the
  layout of arm64 ``DYNAMIC_FTRACE_WITH_CALL_OPS``) they can be the site's
  literal, if the template declares one.
- ``jump-table``: one site per ``struct jump_entry`` in ``__jump_table``
  (arm64 uses relative entries: ``s32 code; s32 target; long key``, each
  relative to its own field; bit 0 of ``key`` is the branch polarity). Role:
  ``code``, the one patched slot.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from fpatch.extract.elf import ExtractError, Image, Section
from fpatch.isa import AsmError, assemble

NOP = 0xD503201F
BTI = {0xD503241F: "bti", 0xD503245F: "bti c", 0xD503249F: "bti j", 0xD50324DF: "bti jc"}
MAX_NOPS = 64

FINDERS = ("patchable-function-entries", "jump-table")


@dataclass
class FoundSite:
    """One patch site as compiled."""

    function: str
    base: int
    words: list[int]
    roles: dict[str, int]
    entry: int = 0
    literal: int | None = None  # address of the 8-byte literal before the entry
    literal_value: int = 0
    variables: dict[str, int | str | bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # this site cannot be used (reported if it is selected)


def _records(image: Image) -> list[int]:
    secs = image.sections_named("__patchable_function_entries")
    if not secs:
        raise ExtractError("no __patchable_function_entries section (compile with "
                           "-fpatchable-function-entry=N[,M])")
    out: set[int] = set()
    for sec in secs:
        if len(sec.data) % 8:
            raise ExtractError(f"__patchable_function_entries is {len(sec.data)} bytes, not a "
                               f"multiple of 8 (64-bit addresses)")
        out.update(v for (v,) in struct.iter_unpack("<Q", sec.data))
    return sorted(out)


def _nops_from(image: Image, address: int, limit: int = MAX_NOPS) -> int:
    n = 0
    while n < limit and image.has_word(address + 4 * n) and image.word(address + 4 * n) == NOP:
        n += 1
    return n


def ftrace_sites(image: Image, literal: bool, entry_nops: int = 2) -> list[FoundSite]:
    """Sites from ``__patchable_function_entries``; ``literal``: make the two NOPs
    before the entry a data word when the layout has them (CALL_OPS).

    The site ends ``entry_nops`` NOPs after the entry (and its BTI): the object
    does not say how many of the NOPs that follow are the compiler's (N - M) and
    how many are the function's own code (a jump label's `nop` can come next)."""
    records = _records(image)
    if not image.functions():
        raise ExtractError("no function symbols (stripped?): the ftrace finder needs them to "
                           "find each function's entry")
    sites: list[FoundSite] = []
    for rec in records:
        try:
            sites.append(_ftrace_site(image, rec, literal, entry_nops))
        except ExtractError as exc:
            fn = image.function_at(rec) or image.function_starting_in(rec, rec + 4 * MAX_NOPS)
            sites.append(FoundSite(fn.name if fn else f"{rec:#x}", rec, [], {}, error=str(exc)))
    return sites


def _ftrace_site(image: Image, rec: int, literal: bool, entry_nops: int) -> FoundSite:
    if not image.has_word(rec):
        raise ExtractError(f"__patchable_function_entries record {rec:#x} is not an "
                           f"instruction address")
    fn = image.function_starting_in(rec, rec + 1)
    if fn is None and image.has_word(rec - 4) and image.word(rec - 4) in BTI:
        fn = image.function_starting_in(rec - 4, rec - 3)   # =N,0 with a BTI at the entry
    if fn is None:
        pre = _nops_from(image, rec)
        fn = image.function_starting_in(rec + 4, rec + 4 * pre + 4)
    if fn is None:
        raise ExtractError(f"no function symbol at or just after the patchable entry "
                           f"{rec:#x}")
    entry = fn.address
    first = min(rec, entry)
    pre_nops = (entry - rec) // 4 if rec < entry else 0
    if pre_nops and _nops_from(image, rec, pre_nops) != pre_nops:
        raise ExtractError(f"{fn.name}: the {pre_nops} words before the entry are not all NOPs")
    p = entry
    bti = image.has_word(entry) and image.word(entry) in BTI
    if bti:
        p += 4
    post = _nops_from(image, p)
    if fn.size:
        post = min(post, max(0, (fn.address + fn.size - p) // 4))
    if post < entry_nops:
        raise ExtractError(f"{fn.name}: expected at least {entry_nops} NOPs at the entry "
                           f"(-fpatchable-function-entry={entry_nops} or more), found {post}")
    end = p + 4 * entry_nops
    lit = None
    notes = []
    base = first
    if literal and pre_nops >= 2 and (entry - 8) % 8 == 0:
        lit = entry - 8
        base = entry
        if pre_nops > 2:
            notes.append(f"{pre_nops - 2} more NOP(s) from {first:#x} before the literal are "
                         f"never executed and not part of the site")
    elif literal and pre_nops >= 2:
        notes.append(f"the NOPs before {fn.name} at {entry - 8:#x} are not 8-byte aligned, so "
                     f"they are no CALL_OPS literal (the kernel aligns functions to 8 bytes "
                     f"for CALL_OPS; ftrace_call_adjust() warns 'Misaligned patch-site')")
    words = [image.word(a) for a in range(base, end, 4)]
    init = (p - base) // 4
    roles = {"init": init, "call": init + 1}
    roles.update({f"nop{k}": init + k for k in range(2, entry_nops)})
    site = FoundSite(fn.name, base, words, roles, entry=(entry - base) // 4, notes=notes)
    if lit is not None:
        site.literal = lit
        site.literal_value = image.word(lit) | image.word(lit + 4) << 32
    site.variables.update({
        "entry_address": entry, "record": rec, "pre_nops": pre_nops, "entry_nops": entry_nops,
        "nops_after_entry": post,
        "bti": bti, "literal": lit is not None,
    })
    return site


def jump_label_sites(image: Image) -> list[FoundSite]:
    """Sites from ``__jump_table`` (arm64's relative ``struct jump_entry``)."""
    secs = image.sections_named("__jump_table")
    if not secs:
        raise ExtractError("no __jump_table section (no static keys / asm goto jump labels)")
    sites: list[FoundSite] = []
    for sec in secs:
        if len(sec.data) % 16:
            raise ExtractError(f"__jump_table is {len(sec.data)} bytes, not a multiple of 16 "
                               f"(struct jump_entry {{s32 code; s32 target; long key;}})")
        for i in range(len(sec.data) // 16):
            try:
                sites.append(_jump_site(image, sec, i))
            except ExtractError as exc:
                at = sec.address + 16 * i
                code = (at + struct.unpack_from("<i", sec.data, 16 * i)[0]) & (2**64 - 1)
                fn = image.function_at(code)
                sites.append(FoundSite(fn.name if fn else f"{code:#x}", code, [], {},
                                       error=str(exc)))
    return sites


def _jump_site(image: Image, sec: Section, i: int) -> FoundSite:
    at = sec.address + 16 * i
    code_off, target_off, key_off = struct.unpack_from("<iiq", sec.data, 16 * i)
    code = (at + code_off) & (2**64 - 1)
    target = (at + 4 + target_off) & (2**64 - 1)
    keyv = (at + 8 + key_off) & (2**64 - 1)
    key_addr, branch = keyv & ~3, keyv & 1
    key = image.reloc_names.get((sec.index, 16 * i + 8))
    if key is None:
        sym = image.symbol_at(key_addr)
        key = sym.name if sym else f"{key_addr:#x}"
    if not image.has_word(code):
        raise ExtractError(f"__jump_table entry {i}: code address {code:#x} is not an "
                           f"instruction address")
    word = image.word(code)
    try:
        b_word = assemble(f"b {target:#x}", code)
    except AsmError as exc:
        raise ExtractError(f"__jump_table entry {i}: cannot branch from {code:#x} to "
                           f"{target:#x}: {exc}") from None
    if word not in (NOP, b_word):
        raise ExtractError(f"__jump_table entry {i}: the word at {code:#x} is "
                           f"{word:08x}, neither a NOP nor `b {target:#x}`")
    fn = image.function_at(code)
    name = fn.name if fn else f"{code:#x}"
    site = FoundSite(name, code, [word], {"code": 0})
    site.variables.update({"code": code, "target": target, "key": key,
                           "key_address": key_addr, "branch": branch,
                           "compiled": "nop" if word == NOP else "b"})
    return site


def find(finder: str, image: Image, literal: bool, entry_nops: int = 2) -> list[FoundSite]:
    if finder == "patchable-function-entries":
        return ftrace_sites(image, literal, entry_nops)
    if finder == "jump-table":
        return jump_label_sites(image)
    raise ExtractError(f"unknown finder {finder!r} (expected one of {', '.join(FINDERS)})")
