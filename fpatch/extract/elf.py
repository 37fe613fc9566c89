"""AArch64 ELF reading for ``fpatch extract`` (pyelftools underneath).

An ``Image`` is one ELF file as an address space: the words of its executable
sections, its function symbols, and the bytes of any section with the file's
relocations applied. Linked files (executables, shared objects, vmlinux) use
their section addresses. A relocatable object (``.o``, a kernel module
``.ko``) has every section at address 0, so its allocated sections are laid
out one after another from ``base`` (as a linker would place them, each at its
alignment) and the RELA relocations of a section are resolved against that
layout; that is how the entries of ``__patchable_function_entries`` (ABS64
relocations against ``.text``) and of ``__jump_table`` (PREL32/PREL64) get
their addresses.

Every problem with the input is an ``ExtractError`` with a one-line message.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

EM_AARCH64 = 183
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4

# AArch64 static relocations fpatch resolves (ELF for the Arm 64-bit Architecture, 5.7.6).
R_AARCH64_NONE = 0
R_AARCH64_ABS64 = 257
R_AARCH64_ABS32 = 258
R_AARCH64_PREL64 = 260
R_AARCH64_PREL32 = 261

DEFAULT_REL_BASE = 0xFFFF800008200000
"""Where the first allocated section of a relocatable object is placed."""

_MACHINES = {3: "x86 (i386)", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 22: "s390",
             40: "ARM (32-bit)", 62: "x86-64", 243: "RISC-V", 258: "LoongArch"}


class ExtractError(Exception):
    """A problem with an input file or a template: one line, no traceback."""


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int
    size: int
    kind: str  # STT_FUNC, STT_OBJECT, STT_NOTYPE, ...


@dataclass
class Section:
    name: str
    index: int
    address: int
    data: bytes
    flags: int
    align: int


@dataclass
class Image:
    """An ELF file as an address space."""

    path: str
    kind: str  # "relocatable object", "executable", "shared object"
    sections: dict[str, Section]
    by_index: dict[int, Section]
    symbols: list[Symbol]
    has_symtab: bool
    reloc_names: dict[tuple[int, int], str] = field(default_factory=dict)
    _elf: object = None
    _funcs: list[Symbol] = field(default_factory=list)
    _func_addrs: list[int] = field(default_factory=list)
    _code: list[Section] = field(default_factory=list)
    _code_starts: list[int] | None = None
    _by_address: dict[int, Symbol] | None = None
    _by_name: dict[str, Symbol] | None = None

    # -- words and symbols --------------------------------------------------
    def code_section_at(self, address: int) -> Section | None:
        if self._code_starts is None:
            code = sorted((s for s in self.by_index.values() if s.flags & SHF_EXECINSTR and s.data),
                          key=lambda s: s.address)
            self._code = code
            self._code_starts = [s.address for s in code]
        i = bisect_right(self._code_starts, address) - 1
        while i >= 0:  # sections may overlap only in hostile files: look back a little
            s = self._code[i]
            if s.address <= address < s.address + len(s.data):
                return s
            i -= 1
            if i >= 0 and self._code[i].address + len(self._code[i].data) <= address:
                break
        return None

    def word(self, address: int) -> int:
        """The little-endian 32-bit instruction word at ``address``."""
        s = self.code_section_at(address)
        if s is None or address + 4 > s.address + len(s.data) or address % 4:
            raise ExtractError(f"address {address:#x} is not an aligned word of an executable "
                               f"section")
        off = address - s.address
        return int(struct.unpack_from("<I", s.data, off)[0])

    def has_word(self, address: int) -> bool:
        s = self.code_section_at(address)
        return s is not None and address % 4 == 0 and address + 4 <= s.address + len(s.data)

    @property
    def code_range(self) -> tuple[int, int]:
        code = [s for s in self.by_index.values() if s.flags & SHF_EXECINSTR and s.data]
        if not code:
            raise ExtractError("no executable section")
        return min(s.address for s in code), max(s.address + len(s.data) for s in code)

    def functions(self) -> list[Symbol]:
        return self._funcs

    def function_at(self, address: int) -> Symbol | None:
        """The function symbol whose range holds ``address`` (or the nearest before it)."""
        i = bisect_right(self._func_addrs, address) - 1
        if i >= 0:
            f = self._funcs[i]
            if f.size == 0 or address < f.address + f.size:
                return f
        return None

    def function_starting_in(self, lo: int, hi: int) -> Symbol | None:
        """The first function symbol with ``lo <= address < hi``."""
        i = bisect_right(self._func_addrs, lo - 1)
        if i < len(self._funcs) and self._funcs[i].address < hi:
            return self._funcs[i]
        return None

    def symbol_at(self, address: int) -> Symbol | None:
        """A data or function symbol at exactly ``address`` (for naming a static key)."""
        if self._by_address is None:
            self._by_address = {}
            for s in self.symbols:
                self._by_address.setdefault(s.address, s)
        return self._by_address.get(address)

    def symbol_named(self, name: str) -> Symbol | None:
        if self._by_name is None:
            self._by_name = {}
            for s in self.symbols:
                self._by_name.setdefault(s.name, s)
        return self._by_name.get(name)

    def sections_named(self, name: str) -> list[Section]:
        """Every section called ``name`` (``-ffunction-sections`` gives one
        ``__patchable_function_entries`` per function), relocations applied."""
        return [s for s in self.by_index.values() if s.name == name]


def _check_header(head: bytes) -> None:
    if len(head) < 20 or head[:4] != b"\x7fELF":
        raise ExtractError("not an ELF file")
    if head[5] == 2:
        raise ExtractError("big-endian ELF is not supported (only little-endian AArch64)")
    if head[5] != 1:
        raise ExtractError(f"unknown ELF data encoding {head[5]}")
    machine = struct.unpack_from("<H", head, 18)[0]
    if machine != EM_AARCH64:
        what = _MACHINES.get(machine, f"machine {machine}")
        raise ExtractError(f"not an AArch64 ELF file ({what}); only AArch64 is supported")
    if head[4] != 2:
        raise ExtractError("32-bit ELF is not supported (AArch64 objects are ELFCLASS64)")


def load(path: str | Path, base: int = DEFAULT_REL_BASE) -> Image:
    """Read an AArch64 little-endian ELF file; raise ``ExtractError`` on anything else."""
    from elftools.common.exceptions import ELFError, ELFParseError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection
    from elftools.elf.sections import SymbolTableSection

    p = Path(path)
    if p.is_dir():
        raise ExtractError("is a directory")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ExtractError(f"cannot read: {exc.strerror}") from None
    _check_header(raw[:64])
    import io

    try:
        elf = ELFFile(io.BytesIO(raw))
        etype = elf.header["e_type"]
        kinds = {"ET_REL": "relocatable object", "ET_EXEC": "executable", "ET_DYN": "shared object"}
        if etype not in kinds:
            raise ExtractError(f"unsupported ELF type {etype} (expected a relocatable object, "
                               f"an executable or a shared object)")
        relocatable = etype == "ET_REL"
        sections: dict[str, Section] = {}
        by_index: dict[int, Section] = {}
        cursor = base
        for idx, sec in enumerate(elf.iter_sections()):
            flags = int(sec["sh_flags"])
            loaded = bool(flags & SHF_ALLOC) and sec["sh_type"] != "SHT_NOBITS"
            align = max(int(sec["sh_addralign"]), 1)
            if relocatable and flags & SHF_ALLOC:
                cursor = (cursor + align - 1) // align * align
                addr = cursor
                cursor += int(sec["sh_size"])
            else:
                addr = int(sec["sh_addr"])
            s = Section(sec.name, idx, addr, bytes(sec.data()) if loaded else b"", flags, align)
            by_index[idx] = s
            if sec.name and sec.name not in sections:
                sections[sec.name] = s

        symbols: list[Symbol] = []
        symtabs = [s for s in elf.iter_sections() if isinstance(s, SymbolTableSection)
                   and s["sh_type"] == "SHT_SYMTAB"]
        sym_addr: dict[int, list[tuple[str, int, bool]]] = {}
        for tab in symtabs:
            entries: list[tuple[str, int, bool]] = []  # (name, address, names a symbol)
            for sym in tab.iter_symbols():
                shndx = sym["st_shndx"]
                value = int(sym["st_value"])
                defined = True
                if shndx == "SHN_UNDEF":
                    defined = False
                    value = 0
                elif shndx == "SHN_ABS" or not isinstance(shndx, int):
                    pass
                elif relocatable:
                    sec_ = by_index.get(shndx)
                    value = (sec_.address if sec_ else 0) + value
                name = sym.name
                named = sym["st_info"]["type"] != "STT_SECTION" and bool(name)
                entries.append((name, value, named))
                if defined and name and sym["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT",
                                                                    "STT_NOTYPE"):
                    if not name.startswith("$"):  # mapping symbols $x, $d
                        symbols.append(Symbol(name, value, int(sym["st_size"]),
                                              sym["st_info"]["type"]))
            sym_addr[tab.header["sh_offset"]] = entries
        image = Image(str(p), kinds[etype], sections, by_index, symbols, bool(symtabs))
        funcs = sorted((s for s in symbols if s.kind == "STT_FUNC"), key=lambda s: s.address)
        image._funcs = funcs
        image._func_addrs = [f.address for f in funcs]

        if relocatable:
            for rsec in elf.iter_sections():
                if not isinstance(rsec, RelocationSection):
                    continue
                target = by_index.get(int(rsec["sh_info"]))
                if target is None or not target.flags & SHF_ALLOC or not target.data:
                    continue
                if not rsec.is_RELA():
                    raise ExtractError(f"{rsec.name}: REL relocations are not supported "
                                       f"(AArch64 uses RELA)")
                link = elf.get_section(int(rsec["sh_link"]))
                table = sym_addr.get(link.header["sh_offset"], [])
                _apply(image, target, rsec, table)
        return image
    except ExtractError:
        raise
    except (ELFError, ELFParseError) as exc:
        raise ExtractError(f"malformed ELF: {exc}") from None
    except Exception as exc:  # hostile input: pyelftools may fail in many ways
        raise ExtractError(f"malformed ELF ({type(exc).__name__}: {exc})") from None


def _apply(image: Image, target: Section, rsec: object,
           table: list[tuple[str, int, bool]]) -> None:
    """Resolve the data relocations of one allocated section in place. Code relocations
    (CALL26, ADR_PREL...) are left alone, so the words stay as the compiler emitted
    them (`bl 0 <g>`, as objdump -d shows): no finder reads a relocated instruction."""
    if target.flags & SHF_EXECINSTR:
        return
    data = bytearray(target.data)
    data_kinds = (R_AARCH64_ABS64, R_AARCH64_ABS32, R_AARCH64_PREL64, R_AARCH64_PREL32)
    for rel in rsec.iter_relocations():  # type: ignore[attr-defined]
        rtype = int(rel["r_info_type"])
        off = int(rel["r_offset"])
        if rtype == R_AARCH64_NONE or rtype not in data_kinds:
            continue
        si = int(rel["r_info_sym"])
        if si >= len(table):
            raise ExtractError(f"relocation at {target.name}+{off:#x} names symbol {si}, "
                               f"which does not exist")
        name, value, named = table[si]
        if named:  # a section symbol (.bss + 4) names nothing: look the address up instead
            image.reloc_names[(target.index, off)] = name
        a = int(rel["r_addend"])
        place = target.address + off
        size = 8 if rtype in (R_AARCH64_ABS64, R_AARCH64_PREL64) else 4
        if off < 0 or off + size > len(data):
            raise ExtractError(f"relocation at {target.name}+{off:#x} is outside the section")
        v = value + a - (place if rtype in (R_AARCH64_PREL64, R_AARCH64_PREL32) else 0)
        v &= (1 << (8 * size)) - 1
        struct.pack_into("<Q" if size == 8 else "<I", data, off, v)
    target.data = bytes(data)
