"""herd's AArch64 litmus syntax, as used by the instruction-fetch catalogue.

Only what the catalogue writes is accepted; anything else raises
``LitmusUnsupported`` (a construct the engine does not model) or
``LitmusSyntaxError`` (text that is not a litmus test), so that the CLI can
answer ``unsupported: <why>`` instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from fpatch.isa import AsmError, assemble
from fpatch.isa.cmodx import NOP

CODE_BASE = 0x400000
THREAD_STRIDE = 0x10000  # each thread's code in its own 64 KiB: no shared cache lines
DATA_BASE = 0x800000
DATA_STRIDE = 0x100  # each variable on its own cache line(s)
# Sizes checked before any work (hostile input; herd's catalogue stays far below):
MAX_BYTES = 1 << 20  # of a litmus file
MAX_THREADS = 8
MAX_INSTRUCTIONS = 32  # all threads together (states grow fast: dcc3, 24, is the largest)
MAX_CACHE_OPS = 8  # DC/IC instructions: each doubles the engine's work (catalogue: 4)
MAX_DIGITS = 40  # of one number (values are 64-bit)
MAX_NESTING = 50  # parentheses and negations in a condition


class LitmusSyntaxError(Exception):
    """The text is not a litmus test fpatch can read."""


class LitmusUnsupported(Exception):
    """The test uses a construct the engine does not model (the answer is `unsupported`)."""


@dataclass(frozen=True)
class Instr:
    """One instruction of a thread: its address, encoding and herd text."""

    addr: int
    word: int
    text: str


@dataclass(frozen=True)
class Thread:
    index: int
    base: int
    end: int  # the address after the last instruction: reaching it ends the thread
    code: tuple[Instr, ...]
    labels: dict[str, int]


# ------------------------------------------------------------------ conditions


@dataclass(frozen=True)
class RegLoc:
    thread: int
    reg: str  # x0..x30
    wide: bool  # False: the W view (low 32 bits)


@dataclass(frozen=True)
class MemLoc:
    name: str


Loc = RegLoc | MemLoc


@dataclass(frozen=True)
class Atom:
    loc: Loc
    value: int


@dataclass(frozen=True)
class Not:
    arg: Prop


@dataclass(frozen=True)
class AndP:
    args: tuple[Prop, ...]


@dataclass(frozen=True)
class OrP:
    args: tuple[Prop, ...]


@dataclass(frozen=True)
class TrueP:
    value: bool


Prop = Atom | Not | AndP | OrP | TrueP


@dataclass
class Litmus:
    name: str
    path: Path | None
    idc: bool
    dic: bool
    threads: list[Thread]
    regs: dict[tuple[int, str], int]  # initial register values (others are 0)
    mem: dict[str, int]  # initial 64-bit values of data variables (others are 0)
    variables: dict[str, int]  # data variable -> address
    quantifier: str  # "exists" | "~exists" | "forall"
    condition: Prop
    notes: list[str] = field(default_factory=list)

    def code_words(self) -> dict[int, int]:
        return {i.addr: i.word for t in self.threads for i in t.code}

    def thread_of(self, addr: int) -> Thread | None:
        for t in self.threads:
            if t.base <= addr <= t.end:
                return t
        return None


# ---------------------------------------------------------------------- lexing

_COMMENT = re.compile(r"\(\*.*?\*\)", re.S)
_REG = re.compile(r"^([XW])(\d+)$", re.I)


def _int(text: str, base: int = 10) -> int:
    """A number from the file; a huge one is a syntax error, not a crash."""
    if len(text) > MAX_DIGITS:
        raise LitmusSyntaxError(f"number {text[:20]}... is too long ({len(text)} digits)")
    return int(text, base)


def _strip_comments(text: str) -> str:
    return _COMMENT.sub(" ", text)


class _Ctx:
    """Resolves herd values (NOP, labels, variables, instr:"...") to integers."""

    def __init__(self) -> None:
        self.variables: dict[str, int] = {}
        self.labels: dict[tuple[int, str], int] = {}

    def var(self, name: str) -> int:
        if name not in self.variables:
            self.variables[name] = DATA_BASE + DATA_STRIDE * len(self.variables)
        return self.variables[name]

    def value(self, text: str) -> int:
        t = text.strip()
        m = re.fullmatch(r'(instr|label):"(.*)"', t)
        if m and m.group(1) == "instr":
            try:
                return assemble(m.group(2), 0)
            except AsmError as e:
                raise LitmusUnsupported(f"instruction value {m.group(2)!r}: {e}") from e
        if m:
            t = m.group(2)
        if t.upper() == "NOP":
            return NOP
        lm = re.fullmatch(r"P(\d+):(\w+)", t)
        if lm:
            key = (_int(lm.group(1)), lm.group(2))
            if key not in self.labels:
                raise LitmusSyntaxError(f"unknown label {t!r}")
            return self.labels[key]
        if re.fullmatch(r"-?(0x[0-9a-fA-F]+|\d+)", t):
            return _int(t, 0) & ((1 << 64) - 1)
        if re.fullmatch(r"[A-Za-z_]\w*", t):
            return self.var(t)
        if t.startswith("("):
            raise LitmusUnsupported(f"value {t!r}: page-table descriptors are not modelled")
        raise LitmusSyntaxError(f"cannot read value {t!r}")


# --------------------------------------------------------------------- threads


def _split_program(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header cells and the instruction cells of every row (columns split on '|')."""
    rows = []
    for ln in lines:
        s = ln.strip()
        if not s:
            continue
        if s.endswith(";"):
            s = s[:-1]
        rows.append([c.strip() for c in s.split("|")])
    if not rows:
        raise LitmusSyntaxError("no thread table")
    return rows[0], rows[1:]


def _build_threads(header: list[str], rows: list[list[str]], ctx: _Ctx) -> list[Thread]:
    names = []
    for h in header:
        m = re.fullmatch(r"P(\d+)", h)
        if not m:
            if re.fullmatch(r"P\d+\.F", h):
                raise LitmusUnsupported(f"exception handler column {h}: faults and exception "
                                        "handlers are not modelled")
            raise LitmusSyntaxError(f"bad thread header {h!r}")
        names.append(_int(m.group(1)))
    if len(names) > MAX_THREADS:
        raise LitmusUnsupported(f"{len(names)} threads: at most {MAX_THREADS} are explored")
    if names != list(range(len(names))):
        raise LitmusSyntaxError(f"threads must be P0..P{len(names) - 1}, got {header}")
    cells: list[list[str]] = [[] for _ in names]
    for r in rows:
        if len(r) > len(names):
            raise LitmusSyntaxError(f"row with {len(r)} columns for {len(names)} threads: {r}")
        for i, c in enumerate(r):
            if c:
                cells[i].append(c)
    count = sum(1 for col in cells for c in col if c)
    if count > MAX_INSTRUCTIONS:
        raise LitmusUnsupported(f"{count} instruction cells: at most {MAX_INSTRUCTIONS} are "
                                "explored")
    cache_ops = sum(1 for col in cells for c in col if re.search(r"\b(DC|IC)\s", c, re.I))
    if cache_ops > MAX_CACHE_OPS:
        raise LitmusUnsupported(f"{cache_ops} cache maintenance instructions (DC/IC): at most "
                                f"{MAX_CACHE_OPS} are explored")
    # pass 1: addresses of instructions and labels
    parsed: list[list[tuple[list[str], str]]] = []
    for i, col in enumerate(cells):
        base = CODE_BASE + THREAD_STRIDE * i
        items: list[tuple[list[str], str]] = []
        addr = base
        for c in col:
            labels = []
            while True:
                m = re.match(r"\s*([A-Za-z_]\w*)\s*:(?!:)(.*)$", c)
                if not m or _REG.match(m.group(1)):
                    break
                labels.append(m.group(1))
                c = m.group(2)
            for lab in labels:
                ctx.labels[(i, lab)] = addr
            c = c.strip()
            items.append((labels, c))
            if c:
                addr += 4
        parsed.append(items)
    threads = []
    for i, items in enumerate(parsed):
        base = CODE_BASE + THREAD_STRIDE * i
        symbols = {lab: a for (t, lab), a in ctx.labels.items() if t == i}
        code = []
        addr = base
        for _, text in items:
            if not text:
                continue
            try:
                word = assemble(text, addr, symbols)
            except AsmError as e:
                raise LitmusUnsupported(f"P{i}: instruction {text!r} is not supported: "
                                        f"{e}") from e
            code.append(Instr(addr, word, text))
            addr += 4
        threads.append(Thread(i, base, addr, tuple(code), symbols))
    return threads


# ------------------------------------------------------------------ init block


def _parse_init(body: str, ctx: _Ctx) -> tuple[dict[tuple[int, str], int], dict[str, int]]:
    regs: dict[tuple[int, str], int] = {}
    mem: dict[str, int] = {}
    for raw in re.split(r"[;\n]", body):
        e = raw.strip()
        if not e:
            continue
        if "=" not in e:
            continue  # a declaration such as `void *1:X1;` or `ins_t *z;`
        lhs, rhs = (s.strip() for s in e.split("=", 1))
        lhs = re.sub(r"^[A-Za-z_]\w*\s+\*?\s*", "", lhs) if " " in lhs else lhs
        if lhs.startswith("pte_") or lhs.startswith("PTE("):
            raise LitmusUnsupported(f"init {e!r}: page tables are not modelled")
        m = re.fullmatch(r"(\d+):([XW]\d+)", lhs, re.I)
        if m:
            rm = _REG.match(m.group(2))
            assert rm is not None
            regs[(_int(m.group(1)), _reg(rm.group(2), e))] = ctx.value(rhs)
            continue
        m = re.fullmatch(r"\[?([A-Za-z_]\w*)\]?", lhs)
        if m:
            ctx.var(m.group(1))
            mem[m.group(1)] = ctx.value(rhs)
            continue
        raise LitmusSyntaxError(f"cannot read init entry {e!r}")
    return regs, mem


def _reg(number: str, where: str) -> str:
    n = _int(number)
    if n > 30:
        raise LitmusSyntaxError(f"{where!r}: there is no register {n} (X0..X30)")
    return f"x{n}"


# ------------------------------------------------------------------ condition


_TOKEN = re.compile(r'\s*(/\\|\\/|~|\(|\)|=|[A-Za-z0-9_:.\[\]"+]+(?:"[^"]*")?)')


def _tokens(text: str) -> list[str]:
    out = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            raise LitmusSyntaxError(f"cannot read condition at {text[pos:pos + 20]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


class _CondParser:
    def __init__(self, toks: list[str], ctx: _Ctx) -> None:
        self.toks = toks
        self.i = 0
        self.ctx = ctx
        self.depth = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> str:
        t = self.peek()
        if t is None:
            raise LitmusSyntaxError("condition ends early")
        self.i += 1
        return t

    def disj(self) -> Prop:
        args = [self.conj()]
        while self.peek() == "\\/":
            self.i += 1
            args.append(self.conj())
        return args[0] if len(args) == 1 else OrP(tuple(args))

    def conj(self) -> Prop:
        args = [self.unary()]
        while self.peek() == "/\\":
            self.i += 1
            args.append(self.unary())
        return args[0] if len(args) == 1 else AndP(tuple(args))

    def unary(self) -> Prop:
        t = self.next()
        if t in ("~", "("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise LitmusSyntaxError(f"condition nested more than {MAX_NESTING} deep")
        if t == "~":
            p: Prop = Not(self.unary())
            self.depth -= 1
            return p
        if t == "(":
            p = self.disj()
            if self.next() != ")":
                raise LitmusSyntaxError("expected ')' in condition")
            self.depth -= 1
            return p
        if t.lower() in ("true", "false"):
            return TrueP(t.lower() == "true")
        if self.next() != "=":
            raise LitmusSyntaxError(f"expected '=' after {t!r} in condition")
        return Atom(self.loc(t), self.ctx.value(self.next()))

    def loc(self, t: str) -> Loc:
        m = re.fullmatch(r"(\d+):([XW])(\d+)", t, re.I)
        if m:
            return RegLoc(_int(m.group(1)), _reg(m.group(3), t), m.group(2).upper() == "X")
        m = re.fullmatch(r"\[?([A-Za-z_]\w*)\]?", t)
        if m:
            self.ctx.var(m.group(1))
            return MemLoc(m.group(1))
        raise LitmusSyntaxError(f"cannot read location {t!r} in condition")


# ------------------------------------------------------------------------ file


def parse_litmus(text: str, path: Path | None = None) -> Litmus:
    """Parse one test (raises LitmusSyntaxError / LitmusUnsupported)."""
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise LitmusSyntaxError("empty file")
    head = lines[0].split()
    if len(head) < 2 or head[0] != "AArch64":
        raise LitmusSyntaxError("not an AArch64 litmus test (first line must be 'AArch64 NAME')")
    name = head[1]
    rest = _strip_comments("\n".join(lines[1:]))
    ob, cb = rest.find("{"), rest.find("}")
    if ob < 0 or cb < ob:
        raise LitmusSyntaxError("no init block { ... }")
    idc = dic = False
    notes = []
    for ln in rest[:ob].splitlines():
        s = ln.strip()
        if s.startswith("CacheType"):
            kinds = s.split("=", 1)[1].split() if "=" in s else []
            idc, dic = "IDC" in kinds, "DIC" in kinds
        elif s and "=" in s:
            notes.append(s)
    ctx = _Ctx()
    body = rest[ob + 1:cb]
    tail = rest[cb + 1:]
    m = re.search(r"^\s*(~\s*exists|exists|forall)", tail, re.M)
    if not m:
        raise LitmusSyntaxError("no final condition (exists / ~exists / forall)")
    prog_lines = tail[:m.start()].splitlines()
    cond_text = tail[m.end():]
    cond_text = re.split(r"^\s*(?:locations|filter)\b", cond_text, flags=re.M)[0]
    header, rows = _split_program(prog_lines)
    threads = _build_threads(header, rows, ctx)
    regs, mem = _parse_init(body, ctx)
    toks = _tokens(cond_text)
    cp = _CondParser(toks, ctx)
    cond = cp.disj() if toks else TrueP(True)
    if cp.peek() is not None:
        raise LitmusSyntaxError(f"unexpected {cp.peek()!r} after the condition")
    quant = re.sub(r"\s+", "", m.group(1))
    _check_threads(cond, regs, len(threads))
    return Litmus(name, path, idc, dic, threads, regs, mem, dict(ctx.variables), quant, cond,
                  notes)


def _check_threads(cond: Prop, regs: dict[tuple[int, str], int], n: int) -> None:
    """Every register named in the init block and the condition belongs to a thread."""
    for t, reg in regs:
        if t >= n:
            raise LitmusSyntaxError(f"init sets {t}:{reg.upper()} but there is no thread P{t}")
    todo = [cond]
    while todo:
        p = todo.pop()
        if isinstance(p, Atom) and isinstance(p.loc, RegLoc) and p.loc.thread >= n:
            raise LitmusSyntaxError(f"the condition reads {p.loc.thread}:{p.loc.reg.upper()} "
                                    f"but there is no thread P{p.loc.thread}")
        if isinstance(p, Not):
            todo.append(p.arg)
        elif isinstance(p, (AndP, OrP)):
            todo.extend(p.args)


def parse_file(path: Path) -> Litmus:
    """Read a test: at most MAX_BYTES, UTF-8 (anything else is a LitmusSyntaxError)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as e:
        raise LitmusSyntaxError(f"cannot read the file: {e.strerror or e}") from None
    if len(raw) > MAX_BYTES:
        raise LitmusSyntaxError(f"file is larger than {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LitmusSyntaxError("file is not valid UTF-8") from None
    return parse_litmus(text, path)
