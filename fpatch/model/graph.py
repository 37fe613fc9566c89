"""The state-transition graph of a patch sequence (networkx).

Nodes are the site's contents at each point, named after the spec's states
when they match one (otherwise a "mix" listing which state each slot comes
from); edges are the patcher steps that change the contents. It is what a
reviewer draws on a whiteboard before asking which intermediate states an
observer can see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fpatch.model.timeline import Timeline
from fpatch.spec.types import Site

if TYPE_CHECKING:  # networkx costs ~0.1 s to import: only where a graph is built
    import networkx as nx


def contents_name(site: Site, words: tuple[int, ...]) -> str:
    for st in site.states:
        if st.words == words:
            return st.name
    parts = []
    for i, w in enumerate(words):
        owners = [st.name for st in site.states if st.words[i] == w]
        parts.append(owners[0] if owners else f"0x{w:08x}")
    return "mix(" + ",".join(parts) + ")"


def transition_graph(tl: Timeline, site: Site) -> nx.MultiDiGraph:
    import networkx as nx

    hist = tl.history(site)
    g: nx.MultiDiGraph = nx.MultiDiGraph()
    prev = None
    for t in range(tl.n + 1):
        words = tuple(h.values[t] for h in hist)
        name = contents_name(site, words)
        if name not in g:
            g.add_node(name, first_point=t, valid=name in site.valid,
                       named=any(s.name == name for s in site.states))
        if prev is not None and prev != name:
            step = tl.step_at(t)
            g.add_edge(prev, name, point=t, label=step.label if step else "")
        prev = name
    return g


def graph_lines(g: nx.MultiDiGraph) -> list[str]:
    """The graph as text, edges in time order."""
    lines = []
    for u, v, data in sorted(g.edges(data=True), key=lambda e: e[2]["point"]):
        lines.append(f"{u} --[{data['point']}: {data['label']}]--> {v}")
    if not lines:
        lines = [f"{n} (no transitions)" for n in g.nodes]
    return lines
