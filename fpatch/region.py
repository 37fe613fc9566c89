"""Sites as one code graph (docs/model.md, "Sites as one code graph").

A branch from one declared site into a slot of another continues there, and a run
ends when it leaves every site. Both engines stay per-site: for every site an
observer enters (``enter`` is not ``none``) this module builds a *region*, one
virtual ``Site`` whose slots are those of the entry site and of every site reachable
from it through branches (in spec order), whose states are the combinations of the
sites' states, and whose valid states are the combinations of their valid states.
Slot addresses are not contiguous: ``slot_addr``/``slot_at`` look them up. Each
slot keeps its own site's history (writes, publication), and ``reach`` says from
which point on a slot may execute (``reachable_after``).

The graph's edges come from every word a site's slots can hold (each state's words
and every word a step writes): direct branches (``b``, ``bl`` to a non-helper,
``cbz``/``cbnz``, ``b.cond``) into another site's slot, and indirect branches whose
target the site computes itself (found by running each state from its entry on two
different initial machines: a target equal in both is the code's, not the caller's).
A target missed here would make a run leave into a declared site the region does not
hold; both engines answer ``unknown`` then (``foreign``), never ``safe``.

Shared by both engines, like the spec: it reads only the spec and the ISA layer.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fpatch.isa import Insn, decode, semantics
from fpatch.isa.insn import Target
from fpatch.isa.interp import Machine, execute
from fpatch.isa.ir import MASK64, REGISTERS, Const, Jump
from fpatch.spec.types import DataWord, Site, Spec, State, Write
from fpatch.verdict import Counterexample, Exec

MAX_REGION_STATES = 4096  # combined states of one region; beyond, branches are not followed
_DIRECT = ("b", "bl", "cbz", "cbnz")


@dataclass(frozen=True)
class Region(Site):
    """The sites an observer entering ``name`` can execute, as one virtual site."""

    parts: tuple[Site, ...] = ()
    addrs: tuple[int, ...] = ()  # address of each slot
    owners: tuple[tuple[str, int], ...] = ()  # (site, slot in that site) of each slot
    reach: tuple[int, ...] = ()  # the first point at which each slot may execute
    foreign: frozenset[int] = frozenset()  # slots of declared sites outside the region
    unmodelled: tuple[str, ...] = ()  # reasons every answer of this region is unknown
    _index: dict[int, int] = field(default_factory=dict, compare=False, hash=False,
                                   repr=False)

    def slot_addr(self, i: int) -> int:
        return self.addrs[i]

    def slot_at(self, pc: int) -> int | None:
        return self._index.get(pc)

    def slot_name(self, i: int) -> str:
        if len(self.parts) == 1:
            return f"slot {i}"
        site, local = self.owners[i]
        return f"{site} slot {local}"

    def states_holding(self, i: int, word: int) -> tuple[str, ...]:
        if not self.multi:
            return super().states_holding(i, word)
        name, local = self.owners[i]
        part = next(p for p in self.parts if p.name == name)
        return part.states_holding(local, word)

    def index_of(self, site: str, local: int) -> int:
        """The region slot of slot ``local`` of ``site``."""
        return self.owners.index((site, local))

    @property
    def end(self) -> int:
        return max(p.end for p in self.parts)

    @property
    def multi(self) -> bool:
        return len(self.parts) > 1


def _written_words(spec: Spec, site: Site) -> set[tuple[int, int]]:
    """(slot, word) pairs the steps store whole into ``site``."""
    out: set[tuple[int, int]] = set()

    def walk(steps: tuple[object, ...]) -> None:
        for st in steps:
            body = getattr(st, "body", None)
            if body is not None:
                walk(body)
            elif isinstance(st, Write):
                for k in range(0, len(st.data) - 3):
                    i = site.slot_at(st.addr + k)
                    if i is not None:
                        out.add((i, int.from_bytes(st.data[k:k + 4], "little")))

    walk(spec.steps)
    return out


def _helper_addrs(spec: Spec) -> frozenset[int]:
    return frozenset(h.address for h in spec.helpers)


def _byte(salt: int, addr: int) -> int:
    return (addr * 131 + salt) & 0xFF


def is_branch_exit(pc: int, nxt: int) -> bool:
    """Does an instruction at ``pc`` that goes on at ``nxt`` branch there? Falling through
    (``pc + 4``) or a helper's return is no branch: a run leaving its site that way into an
    adjacent declared site ends there, as in v1 (docs/model.md, Sites as one code graph)."""
    return nxt & MASK64 != (pc + 4) & MASK64


def _computed_exits(spec: Spec, site: Site, words: tuple[int, ...]) -> set[int]:
    """Exit addresses of the state ``words`` run from the site's entry that the code
    computes itself: the same from two unrelated initial machines."""
    helpers = {h.address: h for h in spec.helpers}
    results: list[list[int]] = []
    for salt in (0, 0x5A5A_5A5A_5A5A_5A50):
        regs = {r: (0x1000_0000_0000 + 0x100 * n) ^ salt for n, r in enumerate(REGISTERS)}
        m = Machine(regs, functools.partial(_byte, salt))
        pc, exits, branched = site.slot_addr(site.entry), [], False
        for _ in range(spec.max_insns):
            i = site.slot_at(pc)
            if i is None:
                if branched:  # falling through or returning from a helper is no branch
                    exits.append(pc)
                break
            insn = decode(words[i], pc)
            if not isinstance(insn, Insn):
                break
            stmts = semantics(insn, pc)
            out = execute(stmts, m, pc)
            if out.trap is not None:
                break
            nxt = out.next_pc
            link = any(isinstance(s, Jump) and s.link and isinstance(s.target, Const)
                       for s in stmts)
            h = helpers.get(nxt) if link else None
            branched = h is None and is_branch_exit(pc, nxt)
            if h is not None:  # the helper returns to its returns_to register's entry value
                nxt = m.regs[h.returns_to]
            pc = nxt & MASK64
        results.append(exits)
    return set(results[0]) & set(results[1])


def edges(spec: Spec) -> list[tuple[str, str]]:
    """Branches from one declared site into a slot of another: (from, to) site names."""
    helpers = _helper_addrs(spec)
    out: list[tuple[str, str]] = []

    def owner(addr: int) -> str | None:
        return next((t.name for t in spec.sites if t.slot_at(addr) is not None), None)

    for s in spec.sites:
        pairs = {(i, st.words[i]) for st in s.states for i in range(s.nslots)}
        pairs |= _written_words(spec, s)
        targets: set[int] = set()
        for i, word in pairs:
            insn = decode(word, s.slot_addr(i))
            if isinstance(insn, Insn) and (insn.op in _DIRECT or insn.op.startswith("b.")):
                addr = next(o.addr for o in insn.operands if isinstance(o, Target))
                if not (insn.op == "bl" and addr in helpers) and is_branch_exit(
                        s.slot_addr(i), addr):
                    targets.add(addr)
        for st in s.states:
            targets |= _computed_exits(spec, s, st.words)
        for addr in targets:
            t = owner(addr)
            if t is not None and t != s.name and (s.name, t) not in out:
                out.append((s.name, t))
    return out


def _combine(parts: tuple[Site, ...], names: tuple[str, ...]) -> str:
    if len(parts) == 1:
        return names[0]
    return "+".join(f"{p.name}.{n}" for p, n in zip(parts, names, strict=True))


def _states(parts: tuple[Site, ...]) -> tuple[State, ...]:
    out = []
    for combo in itertools.product(*(p.states for p in parts)):
        out.append(State(
            _combine(parts, tuple(s.name for s in combo)),
            tuple(w for s in combo for w in s.words),
            tuple(t for s in combo for t in s.texts),
            tuple(lab for s in combo for lab in s.labels),
            tuple(loc for s in combo for loc in s.locs),
            combo[0].loc))
    return tuple(out)


def _valid_data(parts: tuple[Site, ...]
                ) -> tuple[tuple[str, tuple[tuple[str, tuple[int, ...]], ...]], ...]:
    """Each combined state lists its sites' states' acceptable data values, under the
    region's data word names (``site.word``)."""
    out = []
    for combo in itertools.product(*(p.states for p in parts)):
        words = []
        for p, st in zip(parts, combo, strict=True):
            for name, vals in dict(p.valid_data).get(st.name, ()):
                words.append((f"{p.name}.{name}", vals))
        if words:
            out.append((_combine(parts, tuple(st.name for st in combo)), tuple(words)))
    return tuple(out)


def _count(parts: tuple[Site, ...]) -> int:
    n = 1
    for p in parts:
        n *= len(p.states)
    return n


def build_region(spec: Spec, entry: Site, marks: dict[str, int],
                 graph: list[tuple[str, str]]) -> Region:
    """The region an observer entering ``entry`` runs in (``marks``: mark -> point)."""
    members = {entry.name}
    if graph:  # networkx costs ~0.1 s to import: only for a spec whose sites branch
        import networkx as nx

        g: nx.DiGraph = nx.DiGraph()
        g.add_nodes_from(s.name for s in spec.sites)
        g.add_edges_from(graph)
        members |= nx.descendants(g, entry.name)
    parts = tuple(s for s in spec.sites if s.name in members)
    unmodelled: tuple[str, ...] = ()
    if _count(parts) > MAX_REGION_STATES:
        others = ", ".join(p.name for p in parts if p.name != entry.name)
        unmodelled = (f"site {entry.name} branches into {others}: more than "
                      f"{MAX_REGION_STATES} combined states, so those branches are not "
                      f"followed (not modelled)",)
        parts = (entry,)
    # enter (direct | indirect | both) is the entry site's: the engines check an indirect
    # entry's landing pad (env.bti) on the region's entry slot.
    addrs = tuple(p.slot_addr(i) for p in parts for i in range(p.nslots))
    owners = tuple((p.name, i) for p in parts for i in range(p.nslots))
    reach = tuple(marks.get(p.reachable_after, 0) if p.reachable_after else 0
                  for p in parts for _ in range(p.nslots))
    base = min(p.base for p in parts)
    offset = {p.name: sum(q.nslots for q in parts[:k]) for k, p in enumerate(parts)}
    data = tuple(DataWord(f"{p.name}.{d.name}" if len(parts) > 1 else d.name,
                          d.offset + p.base - base, d.size, d.value, d.loc)
                 for p in parts for d in p.data)
    foreign = frozenset(t.slot_addr(i) for t in spec.sites if t.name not in members
                        or (unmodelled and t.name != entry.name) for i in range(t.nslots))
    valid = tuple(_combine(parts, combo)
                  for combo in itertools.product(*(p.valid for p in parts)))
    valid_data = parts[0].valid_data if len(parts) == 1 else _valid_data(parts)
    return Region(
        name=entry.name, base=base, nslots=len(addrs),
        entry=offset[entry.name] + entry.entry, states=_states(parts),
        initial=_combine(parts, tuple(p.initial for p in parts)), valid=valid,
        live=entry.live, data=data, loc=entry.loc, enter=entry.enter,
        reachable_after=entry.reachable_after, parts=parts, addrs=addrs, owners=owners,
        reach=reach, foreign=foreign, unmodelled=unmodelled, valid_data=valid_data,
        _index={a: i for i, a in enumerate(addrs)})


@functools.lru_cache(maxsize=64)
def _graph(spec: Spec) -> tuple[tuple[str, str], ...]:
    return tuple(edges(spec))


def regions(spec: Spec, marks: Iterable[tuple[Any, ...]]) -> tuple[Region, ...]:
    """One region per site observers enter, in spec order; ``marks`` are a timeline's
    (name, point, ...) records."""
    graph = list(_graph(spec)) if len(spec.sites) > 1 else []
    points = {m[0]: m[1] for m in marks}
    return tuple(build_region(spec, s, points, graph)
                 for s in spec.sites if s.enter != "none")


def region(spec: Spec, marks: Iterable[tuple[Any, ...]], name: str) -> Region:
    """The region of entry site ``name`` (for replay and reports)."""
    return next(r for r in regions(spec, marks) if r.name == name)


def localize(reg: Site, cx: Counterexample) -> Counterexample:
    """Name each executed instruction by its own site and slot (the engines count the
    region's slots); a one-site region's counterexample is unchanged."""
    if not isinstance(reg, Region) or not reg.multi:
        return cx
    parts = {p.name: p for p in reg.parts}
    execs = []
    for x in cx.execs:
        name, local = reg.owners[x.slot]
        part = parts[name]
        states = tuple(st.name for st in part.states if st.words[local] == x.word)
        execs.append(dataclasses.replace(x, slot=local, site=name, states=states))
    return dataclasses.replace(cx, execs=tuple(execs))


def globalize(reg: Region, x: Exec) -> int:
    """The region slot of an executed instruction named by ``localize``."""
    return reg.index_of(x.site, x.slot) if x.site else x.slot
