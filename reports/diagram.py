"""A counterexample's state-transition diagram as inline SVG, for the HTML report.

The trace becomes a graph (one node per state, edges labelled with the kernel function that
moved between them).  Graphviz ``dot`` draws it when it is installed; otherwise a vertical chain
of boxes is drawn here, so the report never needs anything fetched or installed to show it.
"""

from __future__ import annotations

import shutil
import subprocess
from html import escape
from typing import TYPE_CHECKING

from numacheck.checker.result import Trace

if TYPE_CHECKING:  # imported where a graph is made: only an HTML report needs it (0.2 s)
    import networkx as nx  # type: ignore[import-untyped]

#: Seconds ``dot`` may take before the drawn fallback is used instead.
DOT_TIMEOUT = 20.0

_CHAR_WIDTH = 8  # pixels per character of 12px monospace (7.2), rounded up so labels fit
_LINE_HEIGHT = 16
_GAP = 44  # vertical room between boxes for the arrow and its label
_MARGIN = 10


def trace_graph(trace: Trace) -> nx.DiGraph:
    """Nodes are the states after each step (0 is the initial one), with the objects changed."""
    import networkx as nx

    graph = nx.DiGraph()
    for n, step in enumerate(trace.steps):
        groups = dict.fromkeys(f.group for f in trace.fields if f.name in step.changed)
        lines = (f"state {n}", "initial" if n == 0 else f"changed: {', '.join(groups) or 'nothing'}")
        graph.add_node(n, lines=lines, final=n == trace.length)
        if n:
            graph.add_edge(n - 1, n, label=step.label)
    return graph


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def dot_source(graph: nx.DiGraph) -> str:
    """The graph in Graphviz's language, the violating state outlined in red."""
    out = ["digraph trace {", '  node [shape=box, fontname="monospace", fontsize=10];',
           '  edge [fontname="monospace", fontsize=9];']
    for n, data in graph.nodes(data=True):
        label = "\\n".join(_dot_escape(line) for line in data["lines"])
        colour = ", color=red, penwidth=2" if data["final"] else ""
        out.append(f'  {n} [label="{label}"{colour}];')
    for a, b, data in graph.edges(data=True):
        out.append(f"  {a} -> {b} [label=\"{_dot_escape(data['label'])}\"];")
    out.append("}")
    return "\n".join(out)


def dot_svg(graph: nx.DiGraph) -> str | None:
    """The ``<svg>`` element ``dot -Tsvg`` draws, or None when dot is absent or fails."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    try:
        done = subprocess.run([dot, "-Tsvg"], input=dot_source(graph), capture_output=True, text=True,
                              timeout=DOT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    start = done.stdout.find("<svg")  # drop the XML prolog and doctype before it
    if done.returncode != 0 or start < 0:
        return None
    return done.stdout[start:]


def chain_svg(graph: nx.DiGraph) -> str:
    """The states drawn top to bottom as boxes, each arrow labelled with its kernel function."""
    import networkx as nx

    order: list[int] = list(nx.topological_sort(graph))
    box_width = 20 + _CHAR_WIDTH * max(len(line) for n in order for line in graph.nodes[n]["lines"])
    box_height = _LINE_HEIGHT * 2 + 8
    label_width = _CHAR_WIDTH * max((len(d["label"]) for _, _, d in graph.edges(data=True)), default=0)
    mid = _MARGIN + box_width // 2
    width = 2 * _MARGIN + max(box_width, box_width // 2 + 10 + label_width)
    height = 2 * _MARGIN + len(order) * box_height + (len(order) - 1) * _GAP
    parts = [f'<svg class="diagram" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             'role="img" aria-label="state-transition diagram" font-family="monospace" font-size="12">']
    for i, n in enumerate(order):
        top = _MARGIN + i * (box_height + _GAP)
        stroke = "#c00" if graph.nodes[n]["final"] else "#333"
        parts.append(f'<rect x="{_MARGIN}" y="{top}" width="{box_width}" height="{box_height}" '
                     f'fill="#fff" stroke="{stroke}" stroke-width="1.5"/>')
        for k, line in enumerate(graph.nodes[n]["lines"]):
            parts.append(f'<text x="{_MARGIN + 10}" y="{top + _LINE_HEIGHT * (k + 1)}">'
                         f"{escape(line)}</text>")
        if i + 1 < len(order):
            start, end = top + box_height, top + box_height + _GAP
            label = graph.edges[n, order[i + 1]]["label"]
            parts.append(f'<line x1="{mid}" y1="{start}" x2="{mid}" y2="{end - 6}" stroke="#333"/>')
            head = f"{mid - 5},{end - 8} {mid + 5},{end - 8} {mid},{end}"
            parts.append(f'<polygon points="{head}" fill="#333"/>')
            parts.append(f'<text x="{mid + 10}" y="{start + _GAP // 2 + 4}">{escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def diagram_svg(trace: Trace) -> str:
    """Inline SVG of the trace's states: Graphviz's drawing if it can make one, else the chain."""
    graph = trace_graph(trace)
    return dot_svg(graph) or chain_svg(graph)
