"""Plain-text rendering for terminals and logs: a results table, then each counterexample.

A trace lists each step with the kernel function it models and only what it changed, grouped
by object (``p0.pte[0]``, ``anon0``, ...).  Bits are named the kernel's way: a PTE change reads
``+_PAGE_RW -_PAGE_PROTNONE`` followed by the whole entry after the step.
"""

from __future__ import annotations

from collections.abc import Iterable

from numacheck.checker.result import FieldInfo, Result, Trace, TraceStep

#: Labels of fields shown as flags: by name when set, in a change as ``+FLAG``/``-FLAG``.
FLAG_PREFIXES = ("_PAGE_", "VM_")

VERDICT_WORD = {"holds": "holds", "violated": "VIOLATED", "vacuous": "VACUOUS", "unknown": "unknown"}


def is_flag(info: FieldInfo, value: str) -> bool:
    """Whether a field shows as a flag (``_PAGE_RW``, ``VM_WRITE``) rather than a value."""
    return info.label.startswith(FLAG_PREFIXES) and value in ("0", "1")


def _groups(trace: Trace) -> dict[str, list[FieldInfo]]:
    groups: dict[str, list[FieldInfo]] = {}
    for info in trace.fields:
        groups.setdefault(info.group, []).append(info)
    return groups


def describe_change(trace: Trace, step: TraceStep, before: TraceStep) -> list[str]:
    """One line per object the step changed: the delta, then the whole flag word after."""
    lines = []
    changed = set(step.changed)
    for group, infos in _groups(trace).items():
        moved = [i for i in infos if i.name in changed]
        if not moved:
            continue
        parts = []
        for info in moved:
            old, new = before.state[info.name], step.state[info.name]
            label = f"ghost {info.label}" if info.ghost else info.label
            if is_flag(info, new) and is_flag(info, old):
                parts.append(("+" if new == "1" else "-") + label)
            else:
                parts.append(f"{label} {old}->{new}")
        flags = [i.label for i in infos if is_flag(i, step.state[i.name]) and step.state[i.name] == "1"]
        tail = ""
        if any(is_flag(i, step.state[i.name]) for i in moved):
            tail = "   = " + ("|".join(flags) if flags else "0")
        lines.append(f"{group}: {' '.join(parts)}{tail}")
    return lines


def render_trace(trace: Trace, indent: str = "    ") -> str:
    """A numbered trace showing, per step, the action, its citation, outputs and changes."""
    out = [f"{indent}Counterexample, {trace.length} steps:"]
    width = max(len(s.label) for s in trace.steps)
    for n, step in enumerate(trace.steps):
        if n == 0:
            out.append(f"{indent}{n:>3}  init (all processes unmapped, all PTEs none)")
            continue
        cite = f"  [{step.citation}]" if step.citation else ""
        out.append(f"{indent}{n:>3}  {step.label.ljust(width)}{cite}")
        for line in describe_change(trace, step, trace.steps[n - 1]):
            out.append(f"{indent}       {line}")
        if step.outputs:
            shown = " ".join(f"{k}={int(v) if isinstance(v, bool) else v}" for k, v in step.outputs.items())
            out.append(f"{indent}       -> {shown}")
    out.append(f"{indent}  x {trace.violation}")
    return "\n".join(out)


def result_line(r: Result) -> str:
    """``variant  property  VERDICT  (as expected | UNEXPECTED: expected X)  figures``."""
    verdict = VERDICT_WORD[r.verdict]
    if r.as_expected:
        status = "as expected"
    elif r.verdict == "unknown":
        status = "inconclusive"
    elif r.trace_mismatch:
        status = "UNEXPECTED (another trace)"
    else:
        status = f"UNEXPECTED (expected {r.expected})"
    if r.stats.states:  # decided by explicit search (alone or in the portfolio)
        figures = f"{r.stats.states} states, {r.stats.seconds:.2f}s"
    else:
        scope = f"depth {r.depth}" if r.bounded else "unbounded"
        figures = f"{scope}, {r.stats.solver_calls} solver calls, {r.stats.seconds:.2f}s"
    if r.trace is not None:
        figures = f"{r.trace.length}-step trace, " + figures
    return f"{r.variant:<15} {r.property:<28} {verdict:<9} {status:<30} {r.engine}: {figures}"


def invariant_lines(r: Result) -> list[str]:
    """The invariant of a proof: the clauses it needs when they were found (the whole
    certificate is in the JSON report), else the whole certificate."""
    assert r.certificate is not None
    total = len(r.certificate.splitlines())
    checked = "checked" if r.certificate_checked else "NOT checked"
    if r.certificate_core is None:
        head = f"{r.variant} / {r.property}: inductive invariant of {total} clauses ({checked}):"
        return [head, *(f"    {clause}" for clause in r.certificate.splitlines())]
    core = r.certificate_core.splitlines()
    head = (f"{r.variant} / {r.property}: the {len(core)} of {total} certificate clauses the proof "
            f"needs, inductive on their own ({checked}; all {total} in --format json):")
    return [head, *(f"    {clause}" for clause in core)]


def render(results: Iterable[Result], traces: bool = True, invariants: bool = False) -> str:
    """The whole report: a line per result, then details for each trace, proof and oddity."""
    results = list(results)
    lines = [result_line(r) for r in results]
    for r in results:
        if invariants and r.certificate and r.verdict == "holds":
            lines.extend(["", *invariant_lines(r)])
        if r.message and r.verdict in ("vacuous", "unknown"):
            lines.append(f"\n{r.variant} / {r.property}: {r.verdict}: {r.message}")
        if r.trace_mismatch:
            lines.append(f"\n{r.variant} / {r.property}: {r.trace_mismatch} (below)")
        if traces and r.trace is not None:
            why = f" (expected: {r.expectation_reason})" if r.expectation_reason else ""
            lines.append(f"\n{r.variant} / {r.property}{why}")
            lines.append(render_trace(r.trace))
    return "\n".join(lines)


def summary(results: list[Result], seconds: float) -> str:
    """The closing line: totals and whether everything matched its expectation."""
    unexpected = sum(1 for r in results if r.conclusive and not r.as_expected)
    unknown = sum(1 for r in results if not r.conclusive)
    violated = sum(1 for r in results if r.verdict == "violated")
    word = "OK" if not unexpected and not unknown else ("FAILED" if unexpected else "INCONCLUSIVE")
    # one search serves every property of a variant, so its states count once
    states: dict[tuple[str, str], int] = {}
    for r in results:
        key = (r.variant, r.engine)
        states[key] = max(states.get(key, 0), r.stats.states)
    reduced = sorted({r.stats.symmetry for r in results if r.stats.symmetry})
    unit = f"orbits (symmetry: {'; '.join(reduced)})" if reduced else "distinct states"
    explored = f", {sum(states.values()):,} {unit} explored" if any(states.values()) else ""
    return (f"{word}: {len(results)} checks, {violated} violations, {unexpected} not as expected, "
            f"{unknown} inconclusive{explored}, {seconds:.1f}s")
