"""One self-contained HTML page for reviewers: the results matrix, then each result in detail.

Every counterexample gets a step table (kernel function, citation and outputs, then one column
per object that changes somewhere in the trace, showing its changing fields and highlighting
them where they change, so the table fits a laptop screen) and a state-transition diagram.
Styles are inline and nothing is fetched, so the page can be attached to a CI run or mailed as
it is.
"""

from __future__ import annotations

from html import escape

from numacheck.checker.result import FieldInfo, Result, Trace, TraceStep, exit_code
from numacheck.reports.diagram import diagram_svg
from numacheck.reports.steps import outputs_text
from numacheck.reports.text import VERDICT_WORD, is_flag

#: Cell classes, worst first: a cell holding several results takes the worst one's colour.
STATUSES = {
    "unexpected": "not as expected",
    "unknown": "unknown or vacuous",
    "violated": "violated, as expected",
    "holds": "holds, as expected",
}

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; }
code, .mono, td.field, .fn { font-family: monospace; }
table.steps { font-size: 12px; max-width: 100%; }
table.steps td { overflow-wrap: break-word; }
table.steps td.field { font-size: 11px; }
table.steps .cite { color: #555; font-size: 11px; }
table.steps .out { font-family: monospace; color: #124; }
p.unchanged code { overflow-wrap: anywhere; }
.holds { background: #d4efd4; } .violated { background: #d6e4ff; }
.unexpected { background: #f7c1c1; } .unknown { background: #fbeaa5; }
span.changed { background: #ffd27f; font-weight: bold; }
section svg { max-width: 100%; height: auto; }
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


def _cell(infos: list[FieldInfo], step: TraceStep) -> str:
    """A group's fields in one step, one per line: set flags by name, a flag cleared by this step
    struck through, other fields as ``label=value``; what the step changed is highlighted."""
    items = []
    for f in infos:
        value = step.state[f.name]
        changed = f.name in step.changed
        if is_flag(f, value):
            if value == "0" and not changed:
                continue
            text = f"<s>{escape(f.label)}</s>" if value == "0" else escape(f.label)
        else:
            text = f"{escape(f.label)}=<wbr>{escape(value)}"
        cls = ' class="changed"' if changed else ""
        ghost = ' title="ghost field (not kernel state)"' if f.ghost else ""
        items.append(f'<span data-field="{escape(f.name)}"{cls}{ghost}>{text}</span>')
    return "<br>".join(items) or "-"


def step_table(trace: Trace) -> str:
    """One row per step, one column per object (``p0.pte[0]``, ``anon0``, ...) that changes
    somewhere in the trace, holding only its fields that change; fields that never change are
    listed once below the table.  It fits a laptop screen however many fields the state has."""
    moving = {name for step in trace.steps for name in step.changed}
    groups: dict[str, list[FieldInfo]] = {}
    for f in trace.fields:
        if f.name in moving:
            groups.setdefault(f.group, []).append(f)
    head = ["<tr><th>#</th><th>kernel function</th>"]
    head += [f"<th>{escape(group)}</th>" for group in groups]
    rows = ['<table class="steps">' + "".join(head) + "</tr>"]
    for n, step in enumerate(trace.steps):
        what = [f'<span class="fn">{escape(step.label)}</span>']
        if step.citation:
            what.append(f'<span class="cite">{escape(step.citation)}</span>')
        if step.outputs:
            what.append(f'<span class="out">-&gt; {escape(outputs_text(step))}</span>')
        row = f"<td>{n}</td><td>{'<br>'.join(what)}</td>"
        for group, infos in groups.items():
            row += f'<td class="field" data-group="{escape(group)}">{_cell(infos, step)}</td>'
        rows.append(f"<tr>{row}</tr>")
    rows.append("</table>")
    still = [f for f in trace.fields if f.name not in moving and not f.derived]
    flags = [f.name for f in still if is_flag(f, trace.steps[0].state[f.name])
             and trace.steps[0].state[f.name] == "1"]
    others = [f"{f.name}={trace.steps[0].state[f.name]}" for f in still
              if not is_flag(f, trace.steps[0].state[f.name])]
    cleared = sum(1 for f in still if is_flag(f, trace.steps[0].state[f.name])) - len(flags)
    summary = ", ".join([*flags, *others] + ([f"{cleared} flags clear"] if cleared else []))
    rows.append(f'<p class="unchanged">Unchanged throughout: <code>{escape(summary)}</code></p>')
    return "".join(rows)


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
