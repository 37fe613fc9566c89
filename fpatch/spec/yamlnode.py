"""Safe YAML loading that keeps a location for every value.

Specs are composed (never constructed) with PyYAML's SafeLoader, so no Python
object can be built from the input, and every scalar, list and mapping keeps
its line and column for error messages. Duplicate keys and aliases, which a
plain ``yaml.safe_load`` accepts silently, are reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from fpatch.errors import Diagnostic, Loc

# Sized for a kernel batch of 10^5 sites (issue 10: about 40 bytes and two nodes per
# instance in the batch notation, 200,000 sites fit); composing is linear in the input.
# Measured (bench: 100,000 ftrace sites): 236 MB at peak; a hostile spec of 600,000
# values stays under 500 MB (2,000,000 took 1.2 GB, hence this bound).
MAX_SPEC_BYTES = 16 << 20
MAX_NODES = 600_000
MAX_DEPTH = 64


@dataclass(frozen=True)
class Scalar:
    value: str
    tag: str  # "str" | "int" | "bool" | "null" | "float" (YAML 1.1 resolution) | "invalid"
    loc: Loc
    quoted: bool


@dataclass(frozen=True)
class Seq:
    items: tuple[Node, ...]
    loc: Loc


@dataclass(frozen=True)
class Map:
    items: tuple[tuple[Scalar, Node], ...]
    loc: Loc

    def keys(self) -> list[str]:
        return [k.value for k, _ in self.items]

    def get(self, key: str) -> Node | None:
        for k, v in self.items:
            if k.value == key:
                return v
        return None

    def key_loc(self, key: str) -> Loc:
        for k, _ in self.items:
            if k.value == key:
                return k.loc
        return self.loc


Node = Scalar | Seq | Map

_TAGS = {
    "tag:yaml.org,2002:str": "str",
    "tag:yaml.org,2002:int": "int",
    "tag:yaml.org,2002:bool": "bool",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:float": "float",
}


def _implicit(value: str) -> str:
    """The tag a plain (unquoted, untagged) scalar with this text resolves to."""
    return yaml.SafeLoader.resolve(_RESOLVER, yaml.ScalarNode, value, (True, False))  # type: ignore[no-any-return]


# Lone surrogates and control characters but tab and line feed (YAML escapes
# in double-quoted strings can produce any of them).
_BAD_CHAR = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _describe(ch: str) -> str:
    what = "a lone surrogate" if 0xD800 <= ord(ch) <= 0xDFFF else "a control character"
    return f"{what} (U+{ord(ch):04X})"


def _short(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") \
        else _shorten(tag)


def _shorten(text: str, limit: int = 40) -> str:
    """User text for a one-line message: bounded, no line breaks or control characters."""
    flat = "".join(ch if ch.isprintable() else "?" for ch in text[: limit + 1])
    return flat if len(text) <= limit else flat[: limit - 3] + "..."


def _loc(path: str, node: yaml.Node) -> Loc:
    return Loc(path, node.start_mark.line + 1, node.start_mark.column + 1)


class _AliasMarks:
    """Remembers where each alias (``*name``) is used.

    Fix: the composer hands back the anchored node itself for an alias, so its
    mark is the anchor's, and a scalar alias was not noticed at all. Recording
    the alias events reports every alias, at the ``*name`` the user wrote.
    """

    alias_marks: list[yaml.Mark]

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):  # type: ignore[attr-defined]
            self.alias_marks.append(self.peek_event().start_mark)  # type: ignore[attr-defined]
        return super().compose_node(parent, index)  # type: ignore[misc,no-any-return]


class _Loader(_AliasMarks, yaml.SafeLoader):
    """SafeLoader with the alias marks."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_marks = []


# A spec is scanned and parsed by libyaml when PyYAML has it: the same events with the
# same marks, an order of magnitude faster (issue 10: batches, and folders of 10^4
# specs). Nodes are still composed by PyYAML's Python composer (with the alias marks):
# its recursion is Python's, so a hostile depth stays a RecursionError, never a crash
# in C. Text libyaml rejects is read again by the Python loader, whose messages and
# locations the error tests know.
FAST_MIN_BYTES = 0


def _fast_loader(text: str) -> _AliasMarks | None:
    try:
        from yaml._yaml import CParser
    except ImportError:  # PyYAML without libyaml: the pure Python loader
        return None
    from yaml.composer import Composer
    from yaml.constructor import SafeConstructor
    from yaml.resolver import Resolver

    class _Fast(_AliasMarks, Composer, CParser, SafeConstructor, Resolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)
            self.alias_marks = []

    return _Fast(text)  # type: ignore[no-any-return]


def _compose(text: str) -> tuple[yaml.Node | None, list[yaml.Mark]]:
    fast = _fast_loader(text) if len(text) >= FAST_MIN_BYTES else None
    if fast is not None:
        try:
            return fast.get_single_node(), fast.alias_marks  # type: ignore[attr-defined]
        except yaml.YAMLError:
            pass  # the Python loader says what is wrong, and where
        finally:
            fast.dispose()  # type: ignore[attr-defined]
    loader = _Loader(text)
    try:
        return loader.get_single_node(), loader.alias_marks
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


_RESOLVER = yaml.SafeLoader("")

_COLLECTION_TAGS = ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map")


def load(text: str, path: str) -> tuple[Node | None, list[Diagnostic]]:
    """Compose ``text``; return the located tree or the problems found."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        return None, [Diagnostic(Loc(path, 1, 1), f"spec is larger than {MAX_SPEC_BYTES} bytes")]
    if "\x00" in text:
        return None, [Diagnostic(Loc(path, 1, 1), "spec contains a NUL character")]
    try:
        root, alias_marks = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(path, mark.line + 1, mark.column + 1) if mark else Loc(path, 1, 1)
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        return None, [Diagnostic(loc, f"not valid YAML: {what}")]
    except yaml.YAMLError as exc:
        return None, [Diagnostic(Loc(path, 1, 1), f"not valid YAML: {exc}")]
    except RecursionError:
        return None, [Diagnostic(Loc(path, 1, 1), "spec is nested too deeply")]
    if root is None:
        return None, [Diagnostic(Loc(path, 1, 1), "spec is empty; expected a mapping")]
    problems: list[Diagnostic] = [
        Diagnostic(Loc(path, m.line + 1, m.column + 1),
                   "YAML aliases (*name) are not supported in specs")
        for m in alias_marks
    ]
    seen: set[int] = set()
    count = [0]

    def convert(node: yaml.Node, depth: int) -> Node:
        count[0] += 1
        if count[0] > MAX_NODES:
            raise _TooBig(f"spec has more than {MAX_NODES} YAML values (scalars, lists and "
                          f"mappings); use the batch notation for many sites "
                          f"(docs/spec-format.md, 'Batches')")
        if depth > MAX_DEPTH:
            raise _TooBig(f"spec is nested too deeply (more than {MAX_DEPTH} levels)")
        loc = _loc(path, node)
        if id(node) in seen and not isinstance(node, yaml.ScalarNode):
            # An alias (already reported where it is used): do not walk the
            # shared collection again, so an alias bomb stays linear; an empty
            # one of the same kind avoids "expected a mapping" follow-ups.
            return Map((), loc) if isinstance(node, yaml.MappingNode) else Seq((), loc)
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            tag = _TAGS.get(node.tag, "other")
            if tag == "other":
                problems.append(Diagnostic(loc, f"unsupported YAML tag {_shorten(node.tag, 80)}"))
                tag = "str"
            elif tag != "str" and _implicit(node.value) != node.tag:
                # Fix: an explicit tag (`!!bool 1`, `!!int x`) was trusted while
                # the value was not: `nmi: !!bool 1` read as false. A typed tag
                # must agree with what the value means untagged; `!!str` makes
                # any value a string, as quotes do.
                problems.append(Diagnostic(
                    loc, f"'{_shorten(node.value)}' is not a valid {_short(node.tag)} value"))
                tag = "invalid"  # reported here; no accessor accepts it
            bad = _BAD_CHAR.search(node.value)
            if bad:
                # Fix: a lone surrogate (`"\ud800"`) crashed every output, and control
                # characters (ESC, CR...) could rewrite terminals and reports.
                problems.append(Diagnostic(loc, f"text contains {_describe(bad.group(0))}, "
                                                "which a spec may not hold"))
            return Scalar(node.value, tag, loc, node.style in ("'", '"'))
        if node.tag not in _COLLECTION_TAGS:
            # Fix: a tag on a list or mapping (!!set, !!omap, !!python/...) was
            # silently dropped; it is as unsupported as one on a scalar.
            problems.append(Diagnostic(loc, f"unsupported YAML tag {node.tag}"))
        if isinstance(node, yaml.SequenceNode):
            return Seq(tuple(convert(item, depth + 1) for item in node.value), loc)
        assert isinstance(node, yaml.MappingNode)
        items: list[tuple[Scalar, Node]] = []
        keys: dict[str, Loc] = {}
        for knode, vnode in node.value:
            key = convert(knode, depth + 1)
            if not isinstance(key, Scalar):
                problems.append(Diagnostic(key.loc, "mapping keys must be plain scalars"))
                continue
            if "\n" in key.value:
                problems.append(Diagnostic(key.loc, "a name (mapping key) must be one line"))
                continue
            if key.value in keys:
                first = keys[key.value]
                problems.append(
                    Diagnostic(
                        key.loc,
                        f"duplicate key '{_shorten(key.value)}' (first at line {first.line}, "
                        f"column {first.col})",
                    )
                )
                continue
            keys[key.value] = key.loc
            items.append((key, convert(vnode, depth + 1)))
        return Map(tuple(items), loc)

    try:
        tree = convert(root, 0)
    except _TooBig as exc:
        return None, [Diagnostic(Loc(path, 1, 1), str(exc))]
    return tree, problems


class _TooBig(Exception):
    pass
