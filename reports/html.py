"""One self-contained HTML page for reviewers: the results matrix, then each result in detail.

Every counterexample gets a step table (kernel function, citation, outputs, the change as the
text report words it, and the fields that change anywhere in the trace, highlighted where they
change) and a state-transition diagram.  Styles are inline and nothing is fetched, so the page
can be attached to a CI run or mailed as it is.
"""

from __future__ import annotations

from html import escape

from numacheck.checker.result import Result, Trace, exit_code
from numacheck.reports.diagram import diagram_svg
from numacheck.reports.steps import outputs_text
from numacheck.reports.text import VERDICT_WORD, describe_change

#: Cell classes, worst first: a cell holding several results takes the worst one's colour.
STATUSES = {
    "unexpected": "not as expected",
    "unknown": "unknown or vacuous",
    "violated": "violated, as expected",
    "holds": "holds, as expected",
}

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; }
code, .mono, td.field { font-family: monospace; }
.holds { background: #d4efd4; } .violated { background: #d6e4ff; }
.unexpected { background: #f7c1c1; } .unknown { background: #fbeaa5; }
td.changed { background: #ffd27f; font-weight: bold; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 6px; border: 1px solid #bbb; }
"""

_OVERALL = {0: "OK", 1: "FAILED", 3: "INCONCLUSIVE"}


def _key_values(cls: str, rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="{cls}">{cells}</table>'


def status(r: Result) -> str:
    """The colour class of ``r``: one of :data:`STATUSES`."""
    if r.verdict in ("unknown", "vacuous"):
        return "unknown"
    return r.verdict if r.as_expected else "unexpected"


def totals(results: list[Result]) -> str:
    """Run totals, counted as the text report's summary counts them."""
    rows = [
        ("result", _OVERALL[exit_code(results)]),
        ("checks", str(len(results))),
        ("violations", str(sum(1 for r in results if r.verdict == "violated"))),
        ("not as expected", str(sum(1 for r in results if r.conclusive and not r.as_expected))),
        ("inconclusive", str(sum(1 for r in results if not r.conclusive))),
    ]
    return _key_values("totals", rows)


def matrix(results: list[Result]) -> str:
    """Variants down, properties across; each entry links to its result's details."""
    variants = list(dict.fromkeys(r.variant for r in results))
    properties = list(dict.fromkeys(r.property for r in results))
    cells: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(results):
        cells.setdefault((r.variant, r.property), []).append(i)
    rank = list(STATUSES)
    out = ["<table class=\"matrix\"><tr><th>variant</th>"]
    out += [f"<th>{escape(p)}</th>" for p in properties]
    out.append("</tr>")
    for v in variants:
        out.append(f"<tr><th>{escape(v)}</th>")
        for p in properties:
            members = cells.get((v, p), [])
            if not members:
                out.append("<td></td>")
                continue
            worst = min((status(results[i]) for i in members), key=rank.index)
            links = "<br>".join(f'<a href="#r{i}">{escape(VERDICT_WORD[results[i].verdict])} '
                                f"({escape(results[i].engine)})</a>" for i in members)
            out.append(f'<td class="{worst}">{links}</td>')
        out.append("</tr>")
    out.append("</table>")
    legend = "".join(f'<span class="{cls}">{text}</span>' for cls, text in STATUSES.items())
    return "".join(out) + f'<p class="legend">{legend}</p>'


def stats_table(r: Result) -> str:
    """What the engine measured and what its verdict covers."""
    rows = [("engine", r.engine), ("verdict", VERDICT_WORD[r.verdict]), ("expected", r.expected)]
    if r.engine == "explicit":
        rows += [("states", str(r.stats.states)), ("transitions", str(r.stats.transitions)),
                 ("peak memory", f"{r.stats.peak_memory_mb:.1f} MiB")]
    else:
        rows += [("scope", f"bounded, depth {r.depth}" if r.bounded else "unbounded"),
                 ("solver calls", str(r.stats.solver_calls))]
    rows += [("depth reached", str(r.stats.depth)), ("seconds", f"{r.stats.seconds:.2f}")]
    checked = "re-checked" if r.certificate_checked else "not re-checked"
    rows += [("certificate", "none" if r.certificate is None else f"present, {checked}"),
             ("variant source", r.variant_source or "-"), ("property source", r.property_source or "-")]
    return _key_values("stats", rows)


def step_table(trace: Trace) -> str:
    """One row per step; the fields that ever change are columns, highlighted where they change."""
    moving = {name for step in trace.steps for name in step.changed}
    fields = [f for f in trace.fields if f.name in moving]
    groups: dict[str, int] = {}
    for f in fields:
        groups[f.group] = groups.get(f.group, 0) + 1
    head = ['<table class="steps"><tr><th rowspan="2">#</th><th rowspan="2">kernel function</th>'
            '<th rowspan="2">citation</th><th rowspan="2">outputs</th><th rowspan="2">changes</th>']
    head += [f'<th colspan="{span}">{escape(group)}</th>' for group, span in groups.items()]
    head.append("</tr><tr>")
    head += [f"<th>{escape(('ghost ' if f.ghost else '') + f.label)}</th>" for f in fields]
    rows = ["".join(head) + "</tr>"]
    for n, step in enumerate(trace.steps):
        changes = [] if n == 0 else describe_change(trace, step, trace.steps[n - 1])
        cells = [str(n), step.label, step.citation, outputs_text(step)]
        row = "".join(f"<td class=\"mono\">{escape(c)}</td>" for c in cells)
        row += "<td class=\"mono\">" + "<br>".join(escape(c) for c in changes) + "</td>"
        for f in fields:
            cls = "field changed" if f.name in step.changed else "field"
            row += f'<td class="{cls}" data-field="{escape(f.name)}">{escape(step.state[f.name])}</td>'
        rows.append(f"<tr>{row}</tr>")
    return "".join(rows) + "</table>"


def details(i: int, r: Result) -> str:
    """A result's section: status, expectation, engine figures, and any counterexample."""
    title = f"{r.variant} / {r.property}"
    out = [f'<section id="r{i}"><h3 class="{status(r)}">{escape(title)}: {STATUSES[status(r)]}</h3>']
    if r.property_summary:
        out.append(f"<p>{escape(r.property_summary)}</p>")
    if r.expectation_reason:
        out.append(f"<p>Expected {escape(r.expected)}: {escape(r.expectation_reason)}</p>")
    out += [f"<p>{escape(text)}</p>" for text in (r.trace_mismatch, r.message, *r.notes) if text]
    out.append(stats_table(r))
    if r.trace is not None:
        out.append(f"<h4>Counterexample, {r.trace.length} steps</h4>")
        out.append(step_table(r.trace))
        out.append(f"<p><strong>violation:</strong> {escape(r.trace.violation)}</p>")
        out.append(diagram_svg(r.trace))
    out.append("</section>")
    return "\n".join(out)


def render(results: list[Result], instance: str) -> str:
    """The run as one HTML document."""
    body = [f"<h1>numacheck: {escape(instance)}</h1>", totals(results), "<h2>Results</h2>",
            matrix(results), "<h2>Details</h2>", *(details(i, r) for i, r in enumerate(results))]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>numacheck: {escape(instance)}</title><style>{_STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>")
