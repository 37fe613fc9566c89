"""Spec language v1: YAML text to a validated ``Spec``, or every problem at once.

The checker is only as trustworthy as its reading of the spec, so anything
ambiguous is an error with a location rather than a guess: unknown keys,
wrong types, unknown states, writes outside a site, misaligned atomic stores.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from fpatch.errors import Diagnostic, Loc, SpecError
from fpatch.isa import AsmError, assemble
from fpatch.spec.types import (
    DEFAULT_LIVE,
    END,
    CacheOp,
    DataWord,
    Dmb,
    Dsb,
    Helper,
    HelperRead,
    IpiSync,
    Isb,
    Mark,
    Site,
    Spec,
    State,
    Step,
    StopMachine,
    SyncIcache,
    WaitTasks,
    Write,
)
from fpatch.spec.yamlnode import MAX_SPEC_BYTES, Map, Node, Scalar, Seq, load
from fpatch.textsafe import display_path, one_line

FORMAT_VERSION = 1
MAX_SLOTS = 256
# Sized for kernel batches (issue 10: 10^5 sites, a write or two each); parsing is
# linear in the input, and a batch is checked site by site on the steps that can
# affect each site (fpatch/batch.py), which bounds its own work per site.
MAX_STEPS = 400_000
MAX_SITES = 200_000
# Fix: the assembler turns digit runs into ints, and Python refuses decimal
# strings over 4300 digits with a ValueError (a crash on hostile input); no
# real instruction comes near this length.
MAX_INSN_CHARS = 256
MAX_INT_BITS = 32 * MAX_SLOTS
MAX_MESSAGE = 400  # characters of one diagnostic
MAX_PROBLEMS = 200  # diagnostics of one spec
MAX_POINTS = 500_000  # patcher points after expansion (chunks, sync_icache sequences)
MAX_SLOT_POINTS = 250_000  # slots of a site times points: the size of its histories
SYNC_ICACHE_MAX_STEPS = 5  # dc cvau, dsb, ic ivau, dsb, isb: the longest expansion

_REG_ALIASES = {"lr": "x30", "fp": "x29"}
_REGS = {f"x{i}" for i in range(31)} | {"sp"}
_HEX_WORD = re.compile(r"^(?:\.inst\s+)?(?:0x)?([0-9a-fA-F]{8})$")
_LABEL = re.compile(r"^(?:[0-9]+|[A-Za-z_.][A-Za-z0-9_.$]*)$")
_LOCAL_REF = re.compile(r"\b([0-9]+)([fb])\b")

class _Ctx:
    """Collects diagnostics while the walk goes on, so all are reported at once."""

    def __init__(self, path: str, text: str = "") -> None:
        self.path = path
        self.lines = text.splitlines()
        self.problems: list[Diagnostic] = []
        self.symbols: dict[str, int] = {}  # symbols and helpers, for write.insn
        self.broken_states: set[tuple[str, str]] = set()  # (site, state) that failed to parse
        self.muted: set[Loc] = set()  # places the YAML layer already reported
        self.reach_refs: list[tuple[str, str, Loc]] = []  # (site, mark, loc) to resolve
        self.site_index: dict[str, Site] = {}  # every site by name, once parsed
        self.groups: dict[str, list[Site]] = {}  # a site template's instances (batches)

    def comment_hint(self, loc: Loc, value: str) -> str:
        """YAML drops ``#...`` after a space: say so when an operand went missing."""
        line = self.lines[loc.line - 1] if 0 < loc.line <= len(self.lines) else ""
        rest = line[loc.col - 1 + len(value):] if value else line
        if "#" in rest and not value.endswith(("'", '"')):
            return (" (YAML treats ' #' as the start of a comment: quote the instruction, "
                    "e.g. \"stp x29, x30, [sp, #-16]!\")")
        return ""

    def err(self, loc: Loc, msg: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            if len(self.problems) == MAX_PROBLEMS:
                self.problems.append(Diagnostic(Loc(self.path, 1, 1), f"more than "
                                                f"{MAX_PROBLEMS} problems; the rest are not "
                                                f"shown"))
            return
        if loc not in self.muted:
            # One line, bounded: user text inside a message is shortened too.
            self.problems.append(Diagnostic(loc, one_line(msg, MAX_MESSAGE)))

    # -- typed accessors: report and return None on a wrong type ---------------

    def mapping(self, node: Node | None, what: str) -> Map | None:
        if node is None:
            return None
        if not isinstance(node, Map):
            self.err(node.loc, f"{what}: expected a mapping, got {_kind(node)}")
            return None
        return node

    def seq(self, node: Node | None, what: str) -> Seq | None:
        if node is None:
            return None
        if not isinstance(node, Seq):
            self.err(node.loc, f"{what}: expected a list, got {_kind(node)}")
            return None
        return node

    def string(self, node: Node | None, what: str) -> str | None:
        if node is None:
            return None
        if not isinstance(node, Scalar) or node.tag == "null":
            self.err(node.loc, f"{what}: expected a string, got {_kind(node)}")
            return None
        return node.value

    def integer(
        self, node: Node | None, what: str, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        if node is None:
            return None
        value = _parse_int(node)
        if value is None:
            self.err(node.loc, f"{what}: expected an integer, got {_kind(node)}")
            return None
        if value.bit_length() > MAX_INT_BITS:
            # Fix: messages format ints with str(), which raises ValueError past
            # 4300 decimal digits (e.g. `width: 0xfff...f`); nothing needs more
            # than a 256-slot write value (8192 bits, 2467 digits).
            self.err(node.loc, f"{what}: a {value.bit_length()}-bit number is too large")
            return None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            rng = f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
            bits = value.bit_length()
            shown = str(value) if bits <= 128 else f"a {bits}-bit number"
            self.err(node.loc, f"{what}: {shown} is out of range {rng}")
            return None
        return value

    def boolean(self, node: Node | None, what: str) -> bool | None:
        if node is None:
            return None
        if isinstance(node, Scalar) and node.tag == "bool":
            return node.value.lower() in ("true", "yes", "on", "y")
        self.err(node.loc, f"{what}: expected true or false, got {_kind(node)}")
        return None

    def choice(self, node: Node | None, what: str, options: tuple[str, ...]) -> str | None:
        value = self.string(node, what)
        if value is None or node is None:
            return None
        if value not in options:
            self.err(node.loc, f"{what}: expected one of {_names(options)}; got '{value}'")
            return None
        return value

    def register(self, node: Node | None, what: str) -> str | None:
        name = self.string(node, what)
        if name is None or node is None:
            return None
        reg = _REG_ALIASES.get(name.lower(), name.lower())
        if reg not in _REGS:
            self.err(node.loc, f"{what}: '{name}' is not a register (expected x0-x30, sp, lr, fp)")
            return None
        return reg

    def registers(self, node: Node | None, what: str) -> tuple[str, ...] | None:
        seq = self.seq(node, what)
        if seq is None:
            return None
        regs = [self.register(item, what) for item in seq.items]
        return tuple(r for r in regs if r is not None)

    def keys(self, m: Map, allowed: tuple[str, ...], what: str) -> None:
        for key, _ in m.items:
            if key.value not in allowed:
                self.err(
                    key.loc,
                    f"{what}: unknown key '{key.value}' (expected one of {_names(allowed)})",
                )

    def required(self, m: Map, key: str, what: str) -> Node | None:
        node = m.get(key)
        if node is None:
            self.err(m.loc, f"{what}: missing required key '{key}'")
        return node


def _names(names: Iterable[str], limit: int = 12) -> str:
    """A list of names for a message, bounded (a spec may declare thousands)."""
    if isinstance(names, (list, tuple)):
        total = len(names)
        shown = [one_line(n, 40) for n in names[:limit]]
    else:
        shown, total = [], 0
        for n in names:
            total += 1
            if len(shown) < limit:
                shown.append(one_line(n, 40))
    more = f", ... ({total} in all)" if total > limit else ""
    return ", ".join(shown) + more


def _kind(node: Node) -> str:
    if isinstance(node, Map):
        return "a mapping"
    if isinstance(node, Seq):
        return "a list"
    if node.tag == "null":
        return "nothing (null)"
    return f"{node.tag} '{one_line(node.value, 60)}'"


def _parse_int(node: Node) -> int | None:
    if not isinstance(node, Scalar) or node.tag not in ("int", "str"):
        return None
    text = node.value.strip().replace("_", "")
    try:
        if node.tag == "int":
            return int(text, 0)
        if re.fullmatch(r"[-+]?(0x[0-9a-fA-F]+|[0-9]+)", text):
            return int(text, 0)
    except ValueError:
        return None
    return None


# ------------------------------------------------------------------- top level

_TOP_KEYS = (
    "fpatch", "name", "description", "arch", "cache", "env", "symbols", "helpers",
    "sites", "steps", "observers", "max_insns", "expect", "timeout", "complete",
)


def parse_file(path: str | Path) -> Spec:
    """Read and validate a spec file; raise ``SpecError`` with every problem."""
    p = display_path(path)
    try:
        # Fix: the file was read whole before the size check (a 3 GB file took
        # 9.5 GB); read one byte past the limit and stop there.
        with Path(path).open("rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError([Diagnostic(Loc(p, 1, 1), f"cannot read spec: {exc.strerror}")]) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError([Diagnostic(Loc(p, 1, 1),
                                    f"spec is larger than {MAX_SPEC_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError([Diagnostic(Loc(p, line, 1), "spec is not valid UTF-8")]) from None
    return parse_text(text, p)


def parse_text(text: str, path: str = "<spec>") -> Spec:
    tree, problems = load(text, path)
    ctx = _Ctx(path, text)
    ctx.problems.extend(problems)
    ctx.muted = {d.loc for d in problems}  # one message per place (e.g. `nmi: !!bool 1`)
    spec = None
    if tree is not None:
        root = ctx.mapping(tree, "spec")
        if root is not None:
            spec = _spec(ctx, root)
    if ctx.problems or spec is None:
        if not ctx.problems:
            ctx.err(Loc(path, 1, 1), "spec could not be read")
        raise SpecError(sorted(set(ctx.problems)))
    return spec


def _spec(ctx: _Ctx, root: Map) -> Spec | None:
    ctx.keys(root, _TOP_KEYS, "spec")
    version = root.get("fpatch")
    if version is not None:
        v = ctx.integer(version, "fpatch (format version)")
        if v is not None and v != FORMAT_VERSION:
            ctx.err(version.loc, f"fpatch: format version {v} is not supported (expected 1)")
    name = ctx.string(root.get("name"), "name") or Path(ctx.path).stem
    name_node = root.get("name")
    if "\n" in name and name_node is not None:
        ctx.err(name_node.loc, "name: must be one line")
    description = ctx.string(root.get("description"), "description") or ""
    arch = root.get("arch")
    if arch is not None:
        ctx.choice(arch, "arch", ("aarch64",))

    idc = dic = False
    line_size = 64
    cache = ctx.mapping(root.get("cache"), "cache")
    if cache is not None:
        ctx.keys(cache, ("idc", "dic", "line"), "cache")
        idc = bool(ctx.boolean(cache.get("idc"), "cache.idc"))
        dic = bool(ctx.boolean(cache.get("dic"), "cache.dic"))
        ln = cache.get("line")
        if ln is not None:
            size = ctx.integer(ln, "cache.line", 4, 2048)
            if size is not None and size & (size - 1):
                ctx.err(ln.loc, f"cache.line: {size} is not a power of two")
            elif size is not None:
                line_size = size

    preemptible, nmi, cmodx_linux = True, True, False
    bti = pac = False
    errata: list[str] = []
    env = ctx.mapping(root.get("env"), "env")
    if env is not None:
        ctx.keys(env, ("preemptible", "nmi", "cmodx", "errata", "bti", "pac"), "env")
        errata = _errata(ctx, env.get("errata"))
        if (b := ctx.boolean(env.get("bti"), "env.bti")) is not None:
            bti = b
        if (b := ctx.boolean(env.get("pac"), "env.pac")) is not None:
            pac = b
        if (b := ctx.boolean(env.get("preemptible"), "env.preemptible")) is not None:
            preemptible = b
        if (b := ctx.boolean(env.get("nmi"), "env.nmi")) is not None:
            nmi = b
        if env.get("cmodx") is not None:
            cmodx_linux = ctx.choice(env.get("cmodx"), "env.cmodx", ("manual", "linux")) == "linux"

    symbols: dict[str, int] = {}
    sym_map = ctx.mapping(root.get("symbols"), "symbols")
    if sym_map is not None:
        for key, value in sym_map.items:
            addr = ctx.integer(value, f"symbols.{key.value}", 0, (1 << 64) - 1)
            if addr is not None:
                symbols[key.value] = addr

    helpers = _helpers(ctx, ctx.mapping(root.get("helpers"), "helpers"), symbols)
    for h in helpers:
        if h.name in symbols:
            ctx.err(h.loc, f"helper '{h.name}' is also declared under symbols")
        symbols[h.name] = h.address
    ctx.symbols = symbols

    sites_node = ctx.mapping(ctx.required(root, "sites", "spec"), "sites")
    sites: list[Site] = []
    if sites_node is not None:
        if not sites_node.items:
            ctx.err(sites_node.loc, "sites: expected at least one site")
        for key, value in sites_node.items:
            sites.extend(_site_or_instances(ctx, key, value, symbols))
        if len(sites) > MAX_SITES:
            ctx.err(sites_node.loc, f"sites: {len(sites)} sites; at most {MAX_SITES} are "
                                    f"supported")
            sites = sites[:MAX_SITES]
    _check_overlaps(ctx, sites)
    ctx.site_index = {s.name: s for s in sites}
    if sites and all(s.enter == "none" for s in sites):
        ctx.err(sites_node.loc if sites_node is not None else root.loc,
                "sites: every site has 'enter: none', so no observer enters any of them "
                "(at least one site must be entered: direct, indirect or both)")

    steps_node = ctx.seq(ctx.required(root, "steps", "spec"), "steps")
    steps: list[Step] = []
    if steps_node is not None:
        steps = _steps(ctx, steps_node, sites, in_block=False)
        if _count_steps(steps) > MAX_STEPS:
            ctx.err(steps_node.loc, f"steps: more than {MAX_STEPS} steps")
        elif (points := _count_points(steps)) > MAX_POINTS:
            # Fix: byte-wise writes of wide values expanded to millions of points
            # (5.7 GB for `validate`); the bound is checked before the expansion.
            ctx.err(steps_node.loc, f"steps: they expand to {points} patcher points (chunks "
                                    f"of non-atomic writes, cache maintenance); at most "
                                    f"{MAX_POINTS} are supported")
        elif len(sites) == 1:
            # Every slot has a value at every point: bound the product too. A spec
            # of several sites is checked site by site on the steps that affect each
            # (fpatch/batch.py), which bounds that site's product itself.
            for site in sites:
                if site.nslots * (points + 1) > MAX_SLOT_POINTS:
                    ctx.err(steps_node.loc, f"steps: {points} patcher points for the "
                                            f"{site.nslots} slots of site '{one_line(site.name, 40)}' "
                                            f"are {site.nslots * (points + 1)} slot values; at "
                                            f"most {MAX_SLOT_POINTS} are supported")

    complete = _complete(ctx, root.get("complete"), steps)
    mark_names = [m.name for m in _marks(steps)]
    for site_name, mark, mloc in ctx.reach_refs:
        if mark not in mark_names:
            ctx.err(mloc, f"sites.{site_name}.reachable_after: unknown mark '{mark}' "
                          f"(marks: {_names(mark_names) or 'none; add a step - mark: NAME'})")

    observers: tuple[str, ...] = ("thread", "nmi") if nmi else ("thread",)
    obs_node = ctx.seq(root.get("observers"), "observers")
    if obs_node is not None:
        chosen = [ctx.choice(o, "observers", ("thread", "nmi")) for o in obs_node.items]
        observers = tuple(dict.fromkeys(o for o in chosen if o is not None))
        if not observers:
            ctx.err(obs_node.loc, "observers: expected at least one of thread, nmi")
        if "nmi" in observers and not nmi:
            ctx.err(obs_node.loc, "observers: 'nmi' is listed but env.nmi is false")

    max_slots = max((s.nslots for s in sites), default=1)
    max_insns = 2 * max_slots + 4
    if root.get("max_insns") is not None:
        mi = ctx.integer(root.get("max_insns"), "max_insns", 1, 256)
        if mi is not None:
            max_insns = mi
    expect = None
    if root.get("expect") is not None:
        expect = ctx.choice(root.get("expect"), "expect", ("safe", "unsafe"))
    timeout = None
    if (t := root.get("timeout")) is not None:
        ti = ctx.integer(t, "timeout (seconds)", 1, 86400)
        timeout = float(ti) if ti is not None else None

    key_locs = {k.value: k.loc for k, _ in root.items}
    return Spec(
        path=ctx.path,
        name=name,
        description=description,
        idc=idc,
        dic=dic,
        line_size=line_size,
        preemptible=preemptible,
        nmi=nmi,
        cmodx_linux=cmodx_linux,
        helpers=tuple(helpers),
        symbols=tuple(sorted(symbols.items())),
        sites=tuple(sites),
        steps=tuple(steps),
        observers=observers,
        max_insns=max_insns,
        expect=expect,
        timeout=timeout,
        loc=root.loc,
        key_locs=key_locs,
        bti=bti,
        pac=pac,
        complete=complete,
        errata=tuple(errata),
    )


def _errata(ctx: _Ctx, node: Node | None) -> list[str]:
    """``env.errata``: ids of fpatch/arch/errata.py; an unknown id lists the known ones."""
    from fpatch.arch.errata import ERRATA, known

    seq = ctx.seq(node, "env.errata")
    out: list[str] = []
    if seq is None:
        return out
    for item in seq.items:
        name = ctx.string(item, "env.errata")
        if name is None:
            continue
        if name not in ERRATA:
            ctx.err(item.loc, f"env.errata: unknown erratum '{one_line(name, 60)}' "
                              f"(known: {known()})")
        elif name in out:
            ctx.err(item.loc, f"env.errata: '{name}' is listed twice")
        else:
            out.append(name)
    return out


def _marks(steps: list[Step] | tuple[Step, ...]) -> Iterator[Mark]:
    for s in steps:
        if isinstance(s, StopMachine):
            yield from _marks(s.body)
        elif isinstance(s, Mark):
            yield s


def _complete(ctx: _Ctx, node: Node | None, steps: list[Step]) -> tuple[tuple[str, Loc], ...]:
    """``complete: [MARK..., end]`` (MODEL.md 6.5): names of marks, or ``end``."""
    seq = ctx.seq(node, "complete")
    if seq is None:
        return ()
    if not seq.items:
        ctx.err(seq.loc, "complete: expected at least one mark name or 'end'")
    names = [m.name for m in _marks(steps)]
    out: list[tuple[str, Loc]] = []
    for item in seq.items:
        name = ctx.string(item, "complete")
        if name is None:
            continue
        if name != END and name not in names:
            have = _names(names + [END])
            ctx.err(item.loc, f"complete: unknown mark '{one_line(name, 60)}' (expected one "
                              f"of {have})")
        elif any(n == name for n, _ in out):
            ctx.err(item.loc, f"complete: '{name}' is listed twice")
        else:
            out.append((name, item.loc))
    return tuple(out)


def _helpers(ctx: _Ctx, node: Map | None, symbols: dict[str, int]) -> list[Helper]:
    out: list[Helper] = []
    if node is None:
        return out
    for key, value in node.items:
        what = f"helpers.{key.value}"
        m = ctx.mapping(value, what)
        if m is None:
            continue
        ctx.keys(m, ("address", "inputs", "returns_to", "restores", "clobbers", "reads"), what)
        anode = ctx.required(m, "address", what)
        if isinstance(anode, Scalar) and _parse_int(anode) is None and anode.value in symbols:
            addr: int | None = symbols[anode.value]  # a name from `symbols:`
        else:
            addr = ctx.integer(anode, f"{what}.address", 0, (1 << 64) - 1)
        if addr is not None and addr % 4:
            ctx.err(m.key_loc("address"), f"{what}.address: 0x{addr:x} is not 4-byte aligned")
        inputs: tuple[str, ...] = ("x30", "sp")
        if m.get("inputs") is not None:
            inputs = ctx.registers(m.get("inputs"), f"{what}.inputs") or ()
        returns_to = "x30"
        if m.get("returns_to") is not None:
            returns_to = ctx.register(m.get("returns_to"), f"{what}.returns_to") or "x30"
        restores: list[tuple[str, str]] = []
        rm = ctx.mapping(m.get("restores"), f"{what}.restores")
        if rm is not None:
            for dk, sv in rm.items:
                dst = ctx.register(dk, f"{what}.restores")
                src = ctx.register(sv, f"{what}.restores.{dk.value}")
                if dst and src:
                    restores.append((dst, src))
        clobbers: tuple[str, ...] = ()
        if m.get("clobbers") is not None:
            clobbers = ctx.registers(m.get("clobbers"), f"{what}.clobbers") or ()
        for dst, _ in restores:
            if dst in clobbers:
                ctx.err(m.key_loc("restores"), f"{what}: '{dst}' is both restored and clobbered")
        reads = _helper_reads(ctx, m.get("reads"), what)
        if addr is not None:
            out.append(
                Helper(key.value, addr, tuple(inputs), returns_to, tuple(restores),
                       tuple(clobbers), key.loc, reads)
            )
    return out


def _helper_reads(ctx: _Ctx, node: Node | None, what: str) -> tuple[HelperRead, ...]:
    """``reads: [{base, align, offset, size}]``: data words the helper loads at the call."""
    seq = ctx.seq(node, f"{what}.reads")
    out: list[HelperRead] = []
    if seq is None:
        return ()
    for item in seq.items:
        w = f"{what}.reads"
        rm = ctx.mapping(item, w)
        if rm is None:
            continue
        ctx.keys(rm, ("base", "align", "offset", "size"), w)
        base = ctx.register(ctx.required(rm, "base", w), f"{w}.base")
        align = 1
        if rm.get("align") is not None:
            align = ctx.integer(rm.get("align"), f"{w}.align", 1, 4096) or 0
            if align and align & (align - 1):
                ctx.err(rm.key_loc("align"), f"{w}.align: expected a power of two, got {align}")
                align = 0
        off = ctx.integer(ctx.required(rm, "offset", w), f"{w}.offset", -4096, 4096)
        size = 8
        if rm.get("size") is not None:
            size = ctx.integer(rm.get("size"), f"{w}.size") or 0
            if size and size not in (4, 8):
                ctx.err(rm.key_loc("size"), f"{w}.size: expected 4 or 8, got {size}")
                size = 0
        if base and align and off is not None and size:
            out.append(HelperRead(base, align, off, size, item.loc))
    return tuple(out)


def _value(ctx: _Ctx, node: Node | None, what: str, size: int) -> int | None:
    """An integer or a name from ``symbols:``/``helpers:`` (a pointer value)."""
    if isinstance(node, Scalar) and _parse_int(node) is None and node.tag != "null" \
            and re.fullmatch(r"[A-Za-z_.$][\w.$]*", node.value):
        if node.value in ctx.symbols:
            v = ctx.symbols[node.value]
            if v >= 1 << (8 * size):
                ctx.err(node.loc, f"{what}: symbol '{node.value}' = 0x{v:x} does not fit "
                                  f"in {size} bytes")
                return None
            return v
        ctx.err(node.loc, f"{what}: unknown symbol '{node.value}'")
        return None
    return ctx.integer(node, what, 0, (1 << (8 * size)) - 1)


# ----------------------------------------------------------------------- sites

_SITE_KEYS = ("base", "slots", "entry", "enter", "data", "states", "initial", "valid", "live",
              "valid_data", "reachable_after")
ENTER_KINDS = ("direct", "indirect", "both", "none")


def _site(ctx: _Ctx, key: Scalar, node: Node, symbols: dict[str, int]) -> Site | None:
    what = f"sites.{key.value}"
    m = ctx.mapping(node, what)
    if m is None:
        return None
    ctx.keys(m, _SITE_KEYS, what)
    base = ctx.integer(ctx.required(m, "base", what), f"{what}.base", 0, (1 << 64) - 1)
    nslots = ctx.integer(ctx.required(m, "slots", what), f"{what}.slots", 1, MAX_SLOTS)
    if base is not None and base % 4:
        ctx.err(m.key_loc("base"), f"{what}.base: 0x{base:x} is not 4-byte aligned")
        base = None
    if base is not None and nslots is not None and base + 4 * nslots > 1 << 64:
        ctx.err(m.key_loc("slots"), f"{what}: site runs past the end of the address space")
        base = None
    if base is None or nslots is None:
        return None

    data = _data_words(ctx, m.get("data"), what, base, nslots)
    states_node = ctx.mapping(ctx.required(m, "states", what), f"{what}.states")
    states: list[State] = []
    if states_node is not None:
        if not states_node.items:
            ctx.err(states_node.loc, f"{what}.states: expected at least one state")
        for skey, svalue in states_node.items:
            # `ldr Xt, NAME` loads the data word NAME (a literal by name)
            syms = symbols | {d.name: base + d.offset for d in data}
            st = _state(ctx, skey, svalue, f"{what}.states.{skey.value}", base, nslots, syms)
            if st is not None:
                states.append(st)
    names = [s.name for s in states]
    state_names = tuple(
        k.value for k, _ in (states_node.items if states_node is not None else ())
    )

    entry = 0
    if (en := m.get("entry")) is not None:
        if isinstance(en, Scalar) and _parse_int(en) is None and states:
            labels = {lab: i for s in states for i, lab in enumerate(s.labels) if lab}
            if en.value in labels:
                entry = labels[en.value]
            else:
                ctx.err(en.loc, f"{what}.entry: no slot is labelled '{en.value}'")
        else:
            entry = ctx.integer(en, f"{what}.entry", 0, nslots - 1) or 0

    initial = state_names[0] if state_names else ""
    if (ini := m.get("initial")) is not None:
        initial = ctx.string(ini, f"{what}.initial") or initial
        if state_names and initial not in state_names:
            ctx.err(ini.loc, f"{what}.initial: unknown state '{initial}' "
                             f"(states: {_names(state_names)})")
    valid = tuple(state_names)
    if (vn := ctx.seq(m.get("valid"), f"{what}.valid")) is not None:
        chosen = []
        for item in vn.items:
            name = ctx.string(item, f"{what}.valid")
            if name is None:
                continue
            if name not in state_names:
                ctx.err(item.loc, f"{what}.valid: unknown state '{name}' "
                                  f"(states: {_names(state_names)})")
            else:
                chosen.append(name)
        if not vn.items:  # fix: was `not chosen and vn.items`, so `valid: []` passed
            ctx.err(vn.loc, f"{what}.valid: expected at least one valid state")
        valid = tuple(dict.fromkeys(chosen))
    enter = "direct"
    if m.get("enter") is not None:
        enter = ctx.choice(m.get("enter"), f"{what}.enter", ENTER_KINDS) or "direct"
    live = DEFAULT_LIVE
    if m.get("live") is not None:
        live = ctx.registers(m.get("live"), f"{what}.live") or ()
    if len(names) != len(state_names):
        # Keep the site so that steps are still checked (all problems at once);
        # writes naming a broken state are not reported a second time.
        ctx.broken_states |= {(key.value, n) for n in state_names if n not in names}
    reachable_after = _reachable_after(ctx, m, key.value, what)
    valid_data = _valid_data(ctx, m.get("valid_data"), what, state_names, data)
    return Site(key.value, base, nslots, entry, tuple(states), initial, valid,
                tuple(dict.fromkeys(live)), tuple(data), key.loc, enter, valid_data=valid_data,
                reachable_after=reachable_after)


def _reachable_after(ctx: _Ctx, m: Map, name: str, what: str) -> str | None:
    """The code-graph key ``reachable_after`` of a site: a mark name, resolved once the
    steps are read."""
    reach = None
    if (rn := m.get("reachable_after")) is not None:
        reach = ctx.string(rn, f"{what}.reachable_after")
        if reach is not None:
            ctx.reach_refs.append((name, reach, rn.loc))
    return reach


def _valid_data(ctx: _Ctx, node: Node | None, what: str, state_names: tuple[str, ...],
                data: list[DataWord]
                ) -> tuple[tuple[str, tuple[tuple[str, tuple[int, ...]], ...]], ...]:
    """``valid_data: {STATE: {WORD: [values or symbols]}}`` (MODEL.md 6.7)."""
    m = ctx.mapping(node, f"{what}.valid_data")
    out: list[tuple[str, tuple[tuple[str, tuple[int, ...]], ...]]] = []
    if m is None:
        return ()
    words = {d.name: d for d in data}
    for skey, svalue in m.items:
        w = f"{what}.valid_data.{skey.value}"
        if skey.value not in state_names:
            ctx.err(skey.loc, f"{what}.valid_data: unknown state '{skey.value}' "
                              f"(states: {_names(state_names)})")
        sm = ctx.mapping(svalue, w)
        if sm is None:
            continue
        per: list[tuple[str, tuple[int, ...]]] = []
        for wkey, wvalue in sm.items:
            dw = words.get(wkey.value)
            if dw is None:
                ctx.err(wkey.loc, f"{w}: no data word '{wkey.value}' "
                                  f"(data words: {_names(tuple(words))})")
                continue
            seq = ctx.seq(wvalue, f"{w}.{wkey.value}")
            if seq is None:
                continue
            if not seq.items:
                ctx.err(seq.loc, f"{w}.{wkey.value}: expected at least one value")
            vals = [_value(ctx, it, f"{w}.{wkey.value}", dw.size) for it in seq.items]
            per.append((wkey.value, tuple(dict.fromkeys(v for v in vals if v is not None))))
        out.append((skey.value, tuple(per)))
    return tuple(out)


def _data_words(ctx: _Ctx, node: Node | None, what: str, base: int, nslots: int) -> list[DataWord]:
    out: list[DataWord] = []
    m = ctx.mapping(node, f"{what}.data")
    if m is None:
        return out
    for key, value in m.items:
        w = f"{what}.data.{key.value}"
        dm = ctx.mapping(value, w)
        if dm is None:
            continue
        ctx.keys(dm, ("offset", "size", "value"), w)
        off = ctx.integer(ctx.required(dm, "offset", w), f"{w}.offset", -4096, 4 * nslots)
        size = 8
        if dm.get("size") is not None:
            # Fix: was `... or 8`, which silently read `size: 0` as 8.
            sz = ctx.integer(dm.get("size"), f"{w}.size")
            if sz is None:
                continue
            size = sz
            if size not in (4, 8):
                ctx.err(dm.key_loc("size"), f"{w}.size: expected 4 or 8, got {size}")
                continue
        val = 0
        if dm.get("value") is not None:
            val = _value(ctx, dm.get("value"), f"{w}.value", size) or 0
        if off is None:
            continue
        if (base + off) % size:
            ctx.err(dm.key_loc("offset"), f"{w}: address 0x{base + off:x} is not {size}-byte aligned")
            continue
        if off + size > 0 and off < 4 * nslots:
            ctx.err(dm.key_loc("offset"), f"{w}: data word overlaps the instruction slots")
            continue
        out.append(DataWord(key.value, off, size, val, key.loc))
    for i, a in enumerate(out):
        for b in out[i + 1:]:
            if a.offset < b.offset + b.size and b.offset < a.offset + a.size:
                ctx.err(b.loc, f"{what}.data: '{b.name}' overlaps '{a.name}'")
    return out


def _state(
    ctx: _Ctx, key: Scalar, node: Node, what: str, base: int, nslots: int,
    symbols: dict[str, int],
) -> State | None:
    seq = ctx.seq(node, what)
    if seq is None:
        return None
    if len(seq.items) != nslots:
        ctx.err(seq.loc, f"{what}: expected {nslots} instructions (one per slot), got {len(seq.items)}")
        return None
    labels: list[str] = []
    texts: list[str] = []
    locs: list[Loc] = []
    quoted: list[bool] = []
    ok = True
    for item in seq.items:
        label, text, loc = "", None, item.loc
        q = isinstance(item, Scalar) and item.quoted
        if isinstance(item, Map) and len(item.items) == 1:
            (lk, lv), = item.items
            if not _LABEL.match(lk.value):
                ctx.err(lk.loc, f"{what}: '{lk.value}' is not a valid label")
                ok = False
            label = lk.value
            text = ctx.string(lv, what)
            loc = lv.loc
            q = isinstance(lv, Scalar) and lv.quoted
        elif isinstance(item, Scalar) and item.tag != "null":
            text = item.value
        else:
            ctx.err(item.loc, f"{what}: expected an instruction (text, hex word, or "
                              f"'label: instruction'), got {_kind(item)}")
        if text is None:
            ok = False
        labels.append(label)
        texts.append(text or "")
        locs.append(loc)
        quoted.append(q)
    seen: dict[str, int] = {}
    for i, lab in enumerate(labels):
        if lab and not lab.isdigit():
            if lab in seen:
                ctx.err(locs[i], f"{what}: label '{lab}' is defined twice")
                ok = False
            if lab in symbols:
                ctx.err(locs[i], f"{what}: label '{lab}' hides the symbol of the same name")
                ok = False
            seen[lab] = i
    if not ok:
        return None
    words: list[int] = []
    for i, text in enumerate(texts):
        pc = base + 4 * i
        hexm = _HEX_WORD.match(text.strip())
        if hexm:
            words.append(int(hexm.group(1), 16))
            continue
        if len(text) > MAX_INSN_CHARS:
            ctx.err(locs[i], f"{what}: instruction text is longer than {MAX_INSN_CHARS} characters")
            ok = False
            continue
        syms = dict(symbols)
        syms.update({lab: base + 4 * j for lab, j in seen.items()})
        bad_ref = False
        for m in _LOCAL_REF.finditer(text):
            num, direction = m.group(1), m.group(2)
            rng = range(i + 1, nslots) if direction == "f" else range(i, -1, -1)
            target = next((j for j in rng if labels[j] == num), None)
            if target is not None:
                syms[m.group(0)] = base + 4 * target
            elif num not in labels:
                # leave it unresolved: the assembler reports it with a column
                pass
            else:
                where = "after" if direction == "f" else "before"
                ctx.err(locs[i], f"{what}: label {num}{direction} has no definition {where} slot {i}")
                ok = False
                bad_ref = True
        if bad_ref:  # fix: the assembler would report the same label again
            continue
        try:
            words.append(assemble(text, pc, syms))
        except AsmError as exc:
            # Fix: a quoted instruction starts one column after its opening
            # quote, and a quoted one cannot have lost a ' #...' to a comment.
            col = locs[i].col + quoted[i] + _source_offset(text, exc.column)
            hint = "" if quoted[i] else ctx.comment_hint(locs[i], text)
            ctx.err(Loc(locs[i].file, locs[i].line, col), f"{what}: {exc.message}{hint}")
            ok = False
    if not ok:
        return None
    return State(key.value, tuple(words), tuple(texts), tuple(labels), tuple(locs), key.loc)


def _source_offset(text: str, column: int) -> int:
    return max(0, min(column, len(text)))


def _check_overlaps(ctx: _Ctx, sites: list[Site]) -> None:
    """Sites (with their data words) must not share bytes; sorted, so linear in practice."""
    spans = []
    for s in sites:
        lo = min([s.base] + [s.base + d.offset for d in s.data])
        hi = max([s.end] + [s.base + d.offset + d.size for d in s.data])
        spans.append((lo, hi, s))
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    reach: tuple[int, int] | None = None  # (end, index) of the span reaching furthest
    for i in order:
        lo, hi, t = spans[i]
        if reach is not None and lo < reach[0]:
            first, second = sorted((reach[1], i))
            ctx.err(spans[second][2].loc, f"sites: site '{spans[second][2].name}' overlaps "
                                          f"site '{spans[first][2].name}'")
        if reach is None or hi > reach[0]:
            reach = (hi, i)


# ----------------------------------------------------------------------- steps

_STEP_KINDS = (
    "write", "dc_cvau", "dsb", "dmb", "ic_ivau", "ic_iallu", "ic_ialluis", "isb",
    "sync_icache", "stop_machine", "ipi_sync", "wait_tasks", "mark",
)
_BARE = ("isb", "ipi_sync", "wait_tasks", "ic_iallu", "ic_ialluis", "dsb", "dmb")
_DSB_OPTIONS = ("ish", "sy", "ishst", "st", "ishld", "ld", "osh", "oshst", "oshld", "nsh",
                "nshst", "nshld")


def _count_points(steps: list[Step] | tuple[Step, ...]) -> int:
    """An upper bound on the primitive steps (timeline points) the model builds."""
    total = 0
    for s in steps:
        if isinstance(s, StopMachine):
            total += _count_points(s.body)
        elif isinstance(s, Mark):
            continue  # names a point, adds none
        elif isinstance(s, Write):
            total += -(-len(s.data) // max(s.width, 1))
        elif isinstance(s, SyncIcache):
            total += SYNC_ICACHE_MAX_STEPS
        elif isinstance(s, Mark):
            continue
        else:
            total += 1
    return total


def _count_steps(steps: list[Step] | tuple[Step, ...]) -> int:
    return sum(_count_steps(s.body) if isinstance(s, StopMachine) else 1 for s in steps)


def _steps(ctx: _Ctx, seq: Seq, sites: list[Site], in_block: bool) -> list[Step]:
    out: list[Step] = []
    for item in seq.items:
        if _names_sites(item):
            out.extend(_batch_step(ctx, item, sites))
            continue
        step = _step(ctx, item, sites, in_block)
        if step is not None:
            out.append(step)
    if not in_block:  # mark names are unique in the whole spec, blocks included
        seen: set[str] = set()
        for m in _marks(out):
            if m.name in seen:
                ctx.err(m.loc, f"mark: '{m.name}' is defined twice")
            seen.add(m.name)
    return out


def _step(ctx: _Ctx, item: Node, sites: list[Site], in_block: bool) -> Step | None:
    if isinstance(item, Scalar):
        kind, arg, loc = item.value, None, item.loc
        if kind not in _BARE:
            if kind in _STEP_KINDS:
                ctx.err(item.loc, f"step '{kind}' needs arguments")
            else:
                ctx.err(item.loc, f"unknown step '{kind}' (expected one of {', '.join(_STEP_KINDS)})")
            return None
    elif isinstance(item, Map) and len(item.items) == 1:
        (k, arg), = item.items
        kind, loc = k.value, k.loc
        if kind not in _STEP_KINDS:
            ctx.err(k.loc, f"unknown step '{kind}' (expected one of {', '.join(_STEP_KINDS)})")
            return None
    else:
        ctx.err(item.loc, "step: expected a step name or a mapping with exactly one step name")
        return None

    if (kind in ("isb", "ipi_sync", "wait_tasks", "ic_iallu", "ic_ialluis") and arg is not None
            and not (isinstance(arg, Scalar) and arg.tag == "null")):
        # Fix: `- isb: sy` or `- ipi_sync: {cpus: 1}` had their argument silently ignored.
        ctx.err(arg.loc, f"step '{kind}' takes no arguments")
        return None
    if kind == "mark":
        return _mark(ctx, arg, loc)
    if kind == "isb":
        return Isb(loc)
    if kind == "ipi_sync":
        if in_block:
            ctx.err(loc, "ipi_sync inside stop_machine would deadlock (other CPUs spin with "
                         "interrupts masked)")
        return IpiSync(loc)
    if kind == "wait_tasks":
        if in_block:
            ctx.err(loc, "wait_tasks inside stop_machine would deadlock")
        return WaitTasks(loc)
    if kind in ("ic_iallu", "ic_ialluis"):
        return CacheOp(kind, (), "all", loc)
    if kind in ("dsb", "dmb"):
        option = "ish" if arg is None else ctx.choice(arg, kind, _DSB_OPTIONS)
        if not option:
            return None
        return Dsb(option, loc) if kind == "dsb" else Dmb(option, loc)
    if kind == "stop_machine":
        if in_block:
            ctx.err(loc, "stop_machine blocks cannot be nested")
            return None
        body = ctx.seq(arg, "stop_machine")
        if body is None:
            return None
        if not body.items:
            ctx.err(body.loc, "stop_machine: expected at least one step")
        return StopMachine(tuple(_steps(ctx, body, sites, in_block=True)), loc)
    if kind in ("dc_cvau", "ic_ivau", "sync_icache"):
        target = _slot_target(ctx, arg, sites, kind)
        if target is None:
            return None
        addrs, what = target
        if kind == "sync_icache":
            return SyncIcache(addrs, what, loc)
        return CacheOp(kind, addrs, what, loc)
    assert kind == "write"
    return _write(ctx, arg, sites, loc)


_MARK_NAME = re.compile(r"^[A-Za-z_.$][A-Za-z0-9_.$-]*$")


def _mark(ctx: _Ctx, arg: Node | None, loc: Loc) -> Mark | None:
    """``- mark: NAME``: a name for the point after the previous step."""
    if not isinstance(arg, Scalar) or arg.tag == "null":
        ctx.err(arg.loc if arg is not None else loc, "mark: expected a name, e.g. "
                                                     "`- mark: enabled`")
        return None
    name = arg.value
    if not _MARK_NAME.match(name) or len(name) > 64:
        ctx.err(arg.loc, f"mark: '{one_line(name, 60)}' is not a name (letters, digits, "
                         f"'_', '.', '$', '-'; at most 64 characters; not starting with a digit)")
        return None
    if name == END:
        ctx.err(arg.loc, "mark: 'end' is reserved (in `complete:` it means after the last step)")
        return None
    return Mark(name, arg.loc)


def _pick_site(ctx: _Ctx, m: Map | None, sites: list[Site], what: str, loc: Loc) -> Site | None:
    node = m.get("site") if m is not None else None
    if node is None:
        if len(sites) == 1:
            return sites[0]
        if sites:
            ctx.err(loc, f"{what}: 'site' is required when the spec has several sites")
        return None
    name = ctx.string(node, f"{what}.site")
    if name is not None and name in ctx.site_index:
        return ctx.site_index[name]
    for s in sites:
        if s.name == name:
            return s
    if name is not None:
        ctx.err(node.loc, f"{what}.site: unknown site '{name}' "
                          f"(sites: {_names([s.name for s in sites])})")
    return None


def _slots(ctx: _Ctx, m: Map, site: Site, what: str) -> list[int] | None:
    """Slot indices from ``slot: N`` or ``slots: [N, ...]`` (labels allowed)."""
    one, many = m.get("slot"), m.get("slots")
    if one is not None and many is not None:
        ctx.err(m.key_loc("slots"), f"{what}: give 'slot' or 'slots', not both")
        return None
    nodes: list[Node]
    if one is not None:
        nodes = [one]
    elif many is not None:
        sq = ctx.seq(many, f"{what}.slots")
        if sq is None:
            return None
        if not sq.items:
            ctx.err(sq.loc, f"{what}.slots: expected at least one slot")
            return None
        nodes = list(sq.items)
    else:
        return list(range(site.nslots))
    labels: dict[str, int] | None = None  # built on first use: a site may have many states
    out: list[int] = []
    for n in nodes:
        if isinstance(n, Scalar) and _parse_int(n) is None and labels is None:
            labels = {lab: i for s in site.states for i, lab in enumerate(s.labels) if lab}
        if isinstance(n, Scalar) and labels is not None and _parse_int(n) is None \
                and n.value in labels:
            out.append(labels[n.value])
            continue
        v = ctx.integer(n, f"{what}.slot")
        if v is None:
            continue
        if not 0 <= v < site.nslots:
            ctx.err(n.loc, f"{what}: slot {v} does not exist in site '{site.name}' "
                           f"(slots 0..{site.nslots - 1})")
            continue
        out.append(v)
    if len(out) != len(nodes):
        return None
    if len(set(out)) != len(out):
        ctx.err(nodes[0].loc, f"{what}: a slot is named twice")
        return None
    return out


def _slot_target(
    ctx: _Ctx, arg: Node | None, sites: list[Site], what: str
) -> tuple[tuple[int, ...], str] | None:
    if arg is None:
        ctx.err(Loc(ctx.path, 1, 1), f"{what}: expected a site name or mapping")
        return None
    if isinstance(arg, Scalar):
        site = next((s for s in sites if s.name == arg.value), None)
        if site is None:
            ctx.err(arg.loc, f"{what}: unknown site '{arg.value}'")
            return None
        return tuple(site.slot_addr(i) for i in range(site.nslots)), f"{site.name} (all slots)"
    m = ctx.mapping(arg, what)
    if m is None:
        return None
    ctx.keys(m, ("site", "slot", "slots"), what)
    site = _pick_site(ctx, m, sites, what, m.loc)
    if site is None:
        return None
    slots = _slots(ctx, m, site, what)
    if slots is None:
        return None
    return tuple(site.slot_addr(i) for i in slots), f"{site.name} slots {_fmt_slots(slots)}"


def _fmt_slots(slots: list[int]) -> str:
    return ",".join(str(s) for s in slots)


def _write(ctx: _Ctx, arg: Node | None, sites: list[Site], loc: Loc) -> Write | None:
    what = "write"
    m = ctx.mapping(arg, what) if arg is not None else None
    if m is None:
        if arg is None:
            ctx.err(loc, "write: expected a mapping (site, slot(s), as/insn/value, width)")
        return None
    ctx.keys(m, ("site", "slot", "slots", "as", "insn", "data", "value", "width", "order"), what)
    site = _pick_site(ctx, m, sites, what, m.loc)
    if site is None:
        return None
    width = 4
    if m.get("width") is not None:
        w = ctx.integer(m.get("width"), "write.width")
        if w not in (1, 2, 4, 8):
            if w is not None:
                ctx.err(m.key_loc("width"), f"write.width: expected 1, 2, 4 or 8, got {w}")
            return None
        width = w
    descending = False
    if m.get("order") is not None:
        descending = ctx.choice(m.get("order"), "write.order", ("ascending", "descending")) == "descending"
    sources = [k for k in ("as", "insn", "value") if m.get(k) is not None]
    if m.get("data") is not None:
        # Fix: 'as'/'insn'/'slot'/'slots' next to 'data' were silently ignored.
        extra = [k for k in ("as", "insn", "slot", "slots") if m.get(k) is not None]
        if extra:
            ctx.err(m.key_loc(extra[0]), f"write: a data write takes 'data' and 'value', "
                                         f"not '{extra[0]}'")
            return None
        return _write_data(ctx, m, site, width, descending, loc)
    if len(sources) != 1:
        ctx.err(m.loc, "write: give exactly one of 'as: STATE', 'insn: TEXT' or 'value: WORD'")
        return None
    slots = _slots(ctx, m, site, what)
    if slots is None:
        return None
    if slots != list(range(slots[0], slots[0] + len(slots))):
        ctx.err(m.loc, "write: slots of one write must be consecutive and ascending")
        return None
    words: list[int] = []
    src = sources[0]
    if src == "as":
        name = ctx.string(m.get("as"), "write.as")
        try:
            st = site.state(name or "")
        except KeyError:
            if name is not None and (site.name, name) not in ctx.broken_states:
                node = m.get("as")
                assert node is not None
                ctx.err(node.loc, f"write.as: unknown state '{name}' of site '{site.name}' "
                                  f"(states: {_names(site.state_names)})")
            return None
        words = [st.words[i] for i in slots]
        desc = f"{site.name} slot{'s' if len(slots) > 1 else ''} {_fmt_slots(slots)} as in {st.name}"
    elif src == "insn":
        if len(slots) != 1:
            ctx.err(m.loc, "write: 'insn' writes exactly one slot")
            return None
        node = m.get("insn")
        text = ctx.string(node, "write.insn")
        if text is None or node is None:
            return None
        if len(text) > MAX_INSN_CHARS:
            ctx.err(node.loc, f"write.insn: instruction text is longer than {MAX_INSN_CHARS} "
                              "characters")
            return None
        # Fix: only the site's labels were visible, so `insn: bl ftrace_caller`
        # failed with "unknown symbol" although states may use helpers.
        syms = dict(ctx.symbols)
        syms.update(_site_symbols(site))
        try:
            hexm = _HEX_WORD.match(text.strip())
            word = int(hexm.group(1), 16) if hexm else assemble(text, site.slot_addr(slots[0]), syms)
        except AsmError as exc:
            quote = isinstance(node, Scalar) and node.quoted  # fix: see _state
            ctx.err(Loc(node.loc.file, node.loc.line,
                        node.loc.col + quote + _source_offset(text, exc.column)),
                    f"write.insn: {exc.message}")
            return None
        words = [word]
        desc = f"{site.name} slot {slots[0]} := {text}"
    else:
        node = m.get("value")
        v = ctx.integer(node, "write.value", 0, (1 << (32 * len(slots))) - 1)
        if v is None:
            return None
        words = [(v >> (32 * i)) & 0xFFFFFFFF for i in range(len(slots))]
        desc = f"{site.name} slots {_fmt_slots(slots)} := 0x{v:x}"
    data = b"".join(w.to_bytes(4, "little") for w in words)
    addr = site.slot_addr(slots[0])
    return _finish_write(ctx, site, addr, data, width, descending, desc, m, loc)


def _site_symbols(site: Site) -> Iterator[tuple[str, int]]:
    for s in site.states:
        for i, lab in enumerate(s.labels):
            if lab and not lab.isdigit():
                yield lab, site.slot_addr(i)


def _write_data(
    ctx: _Ctx, m: Map, site: Site, width: int, descending: bool, loc: Loc
) -> Write | None:
    name = ctx.string(m.get("data"), "write.data")
    dw = next((d for d in site.data if d.name == name), None)
    if dw is None:
        if name is not None:
            ctx.err(m.key_loc("data"), f"write.data: site '{site.name}' has no data word '{name}'")
        return None
    node = m.get("value")
    if node is None:
        ctx.err(m.loc, "write: a data write needs 'value'")
        return None
    v = _value(ctx, node, "write.value", dw.size)
    if v is None:
        return None
    data = v.to_bytes(dw.size, "little")
    return _finish_write(ctx, site, site.base + dw.offset, data, width, descending,
                         f"{site.name} data {dw.name} := 0x{v:x}", m, loc)


def _finish_write(
    ctx: _Ctx, site: Site, addr: int, data: bytes, width: int, descending: bool,
    desc: str, m: Map, loc: Loc,
) -> Write | None:
    if len(data) % width:
        ctx.err(m.key_loc("width") if m.get("width") else m.loc,
                f"write: {len(data)} bytes cannot be written in {width}-byte stores")
        return None
    if addr % width:
        ctx.err(m.key_loc("width") if m.get("width") else m.loc,
                f"write: a {width}-byte store at 0x{addr:x} is misaligned (single-copy atomic "
                f"stores must be aligned); use width 4 or split the write")
        return None
    return Write(site.name, addr, data, width, descending, desc, loc)


# ---------------------------------------------------------------------- batches
# Issue 10: a kernel batch has 10^4-10^5 sites of a few shapes. A site template
# (`instances:`, or `count:` with `stride:`) stamps one site at many addresses,
# and a step with `sites:` applies to many sites at once. Both expand here into
# ordinary sites and steps, so every later layer reads a plain spec.

_INSTANCE_KEYS = ("instances", "count", "stride")
_MANY_SITE_STEPS = ("write", "dc_cvau", "ic_ivau", "sync_icache")


def _site_or_instances(ctx: _Ctx, key: Scalar, node: Node, symbols: dict[str, int]
                       ) -> list[Site]:
    """One site, or every instance of a site template."""
    if not isinstance(node, Map) or not any(node.get(k) is not None for k in _INSTANCE_KEYS):
        site = _site(ctx, key, node, symbols)
        return [site] if site is not None else []
    what = f"sites.{key.value}"
    places = _instance_places(ctx, node, what)
    if not places:
        return []
    first_name, first_base, _ = places[0]
    # The template is parsed once, at the first instance's address.
    items = tuple((k, v) for k, v in node.items if k.value not in _INSTANCE_KEYS + ("base",))
    base_key = Scalar("base", "str", node.loc, False)
    base_val = Scalar(hex(first_base), "int", node.loc, False)
    template = _site(ctx, key, Map(((base_key, base_val),) + items, node.loc), symbols)
    if template is None:
        return []
    ctx.broken_states |= {(n, s) for n, _, _ in places for (k, s) in list(ctx.broken_states)
                          if k == key.value}
    out: list[Site] = []
    moving = _moving_words(template)
    for name, base, loc in places:
        site = _stamp(ctx, template, moving, name, base, loc, symbols)
        if site is not None:
            out.append(site)
    ctx.groups[key.value] = out
    return out


def _instance_places(ctx: _Ctx, m: Map, what: str) -> list[tuple[str, int, Loc]]:
    """(name, base, loc) of each instance: `instances: [BASE, ...]`, `instances:
    {NAME: BASE, ...}`, or `base:` with `count:` and `stride:`."""
    name = what.split(".", 1)[1]
    top = (1 << 64) - 1
    inst = m.get("instances")
    out: list[tuple[str, int, Loc]] = []
    if inst is not None:
        for k in ("base", "count", "stride"):
            if m.get(k) is not None:
                ctx.err(m.key_loc(k), f"{what}: give 'instances' or 'base' with 'count' and "
                                      f"'stride', not both ('{k}')")
                return []
        if isinstance(inst, Seq):
            for i, item in enumerate(inst.items):
                b = ctx.integer(item, f"{what}.instances", 0, top)
                if b is not None:
                    out.append((f"{name}[{i}]", b, item.loc))
        elif isinstance(inst, Map):
            for ikey, v in inst.items:
                b = ctx.integer(v, f"{what}.instances.{ikey.value}", 0, top)
                if b is not None:
                    out.append((ikey.value, b, ikey.loc))
        else:
            ctx.err(inst.loc, f"{what}.instances: expected a list of addresses or a mapping "
                              f"of names to addresses, got {_kind(inst)}")
            return []
        if not (inst.items if isinstance(inst, (Seq, Map)) else ()):
            ctx.err(inst.loc, f"{what}.instances: expected at least one instance")
            return []
        if len(out) != len(inst.items):
            return []
    else:
        base = ctx.integer(ctx.required(m, "base", what), f"{what}.base", 0, top)
        count = ctx.integer(ctx.required(m, "count", what), f"{what}.count", 1, MAX_SITES)
        stride = ctx.integer(ctx.required(m, "stride", what), f"{what}.stride", 4, 1 << 32)
        if base is None or count is None or stride is None:
            return []
        if stride % 4:
            ctx.err(m.key_loc("stride"), f"{what}.stride: {stride} is not a multiple of 4")
            return []
        if base + stride * (count - 1) > top:
            ctx.err(m.key_loc("count"), f"{what}: instances run past the end of the address "
                                        f"space")
            return []
        loc = m.key_loc("count")
        out = [(f"{name}[{i}]", base + i * stride, loc) for i in range(count)]
    if len(out) > MAX_SITES:
        ctx.err(m.loc, f"{what}: {len(out)} instances; at most {MAX_SITES} are supported")
        return []
    for n, b, loc in out:
        if b % 4:
            ctx.err(loc, f"{what}: instance '{n}' at 0x{b:x} is not 4-byte aligned")
            return []
    return out


def _moving_words(t: Site) -> list[tuple[int, int]]:
    """(state index, slot) of the template's words that must be assembled again at each
    instance: a PC-relative target outside the site (a helper, a symbol), or a page
    (adrp). Site-relative branches keep their encoding wherever the site is."""
    from fpatch.isa import decode
    from fpatch.isa.insn import Insn, Target

    lo = min([t.base] + [t.base + d.offset for d in t.data])
    out = []
    for k, st in enumerate(t.states):
        for i, word in enumerate(st.words):
            if _HEX_WORD.match(st.texts[i].strip()):
                continue
            insn = decode(word, t.base + 4 * i)
            if not isinstance(insn, Insn):
                continue
            targets = [o.addr for o in insn.operands if isinstance(o, Target)]
            if targets and (insn.op == "adrp" or not all(lo <= a < t.end for a in targets)):
                out.append((k, i))
    return out


def _stamp(ctx: _Ctx, t: Site, moving: list[tuple[int, int]], name: str, base: int,
           loc: Loc, symbols: dict[str, int]) -> Site | None:
    """The template ``t`` moved to ``base`` (``moving``: the words to assemble again)."""
    if base + 4 * t.nslots > 1 << 64:
        ctx.err(loc, f"sites: instance '{name}' runs past the end of the address space")
        return None
    states = list(t.states)
    words: dict[int, list[int]] = {}
    for k, i in moving:
        st = t.states[k]
        syms = dict(symbols)
        syms.update({lab: base + 4 * j for j, lab in enumerate(st.labels)
                     if lab and not lab.isdigit()})
        try:
            words.setdefault(k, list(st.words))[i] = assemble(st.texts[i], base + 4 * i, syms)
        except AsmError as exc:
            ctx.err(st.locs[i], f"sites: instance '{name}' at 0x{base:x}: {exc.message}")
            return None
    for k, ws in words.items():
        st = t.states[k]
        states[k] = State(st.name, tuple(ws), st.texts, st.labels, st.locs, st.loc)
    # every other field as the template's (a key added to sites is stamped too)
    return dataclasses.replace(t, name=name, base=base, states=tuple(states), loc=loc)


def _names_sites(item: Node) -> bool:
    """Is ``item`` a step over many sites (`STEP: {sites: ..., ...}`)?"""
    if not isinstance(item, Map) or len(item.items) != 1:
        return False
    (k, arg), = item.items
    return k.value in _MANY_SITE_STEPS and isinstance(arg, Map) and arg.get("sites") is not None


def _site_list(ctx: _Ctx, node: Node, sites: list[Site], what: str) -> list[Site] | None:
    """`sites: all`, or a list of site and site-template names (a template: all its
    instances), in the order given."""
    if isinstance(node, Scalar) and node.value == "all":
        return list(sites)
    seq = ctx.seq(node, f"{what}.sites")
    if seq is None:
        return None
    if not seq.items:
        ctx.err(seq.loc, f"{what}.sites: expected 'all' or at least one site")
        return None
    out: list[Site] = []
    for item in seq.items:
        name = ctx.string(item, f"{what}.sites")
        if name is None:
            return None
        if name in ctx.groups:
            out.extend(ctx.groups[name])
        elif name in ctx.site_index:
            out.append(ctx.site_index[name])
        else:
            names = list(ctx.groups) + [s.name for s in sites[:20]]
            ctx.err(item.loc, f"{what}.sites: unknown site or site template '{name}' "
                              f"(e.g. {_names(names)})")
            return None
    if len({s.name for s in out}) != len(out):
        ctx.err(seq.loc, f"{what}.sites: a site is named twice")
        return None
    return out


def _batch_step(ctx: _Ctx, item: Node, sites: list[Site]) -> list[Step]:
    """`write: {sites: ...}` is one write per site, in order; `dc_cvau`, `ic_ivau` and
    `sync_icache` with `sites:` are one step over every named site's slots."""
    assert isinstance(item, Map)
    (k, arg), = item.items
    kind, loc = k.value, k.loc
    assert isinstance(arg, Map)
    if arg.get("site") is not None:
        ctx.err(arg.key_loc("site"), f"{kind}: give 'site' or 'sites', not both")
        return []
    sites_node = arg.get("sites")
    assert sites_node is not None
    chosen = _site_list(ctx, sites_node, sites, kind)
    if not chosen:
        return []
    rest = tuple((kk, v) for kk, v in arg.items if kk.value != "sites")
    site_key = Scalar("site", "str", arg.key_loc("sites"), False)
    out: list[Step] = []
    if kind == "write":
        for s in chosen:
            m = Map(((site_key, Scalar(s.name, "str", sites_node.loc, False)),) + rest, arg.loc)
            w = _write(ctx, m, sites, loc)
            if w is None:
                return []  # one message (or none, for a state already reported), not one per site
            out.append(w)
        return out
    ctx.keys(arg, ("sites", "slot", "slots"), kind)
    addrs: list[int] = []
    for s in chosen:
        m = Map(rest, arg.loc)
        slots = _slots(ctx, m, s, kind)
        if slots is None:
            return []
        addrs.extend(s.slot_addr(i) for i in slots)
    what = (f"{len(chosen)} sites ({_names([s.name for s in chosen], 3)})"
            if len(chosen) > 1 else chosen[0].name)
    if kind == "sync_icache":
        return [SyncIcache(tuple(addrs), what, loc)]
    return [CacheOp(kind, tuple(addrs), what, loc)]
