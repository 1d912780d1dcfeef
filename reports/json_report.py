"""One JSON document for a whole run, for scripts and CI dashboards (fields: docs/json.md)."""

from __future__ import annotations

import json
from typing import Any

from numacheck.checker.result import FieldInfo, Result, Stats, Trace, exit_code


def value_json(info: FieldInfo, text: str) -> bool | int | str:
    """A rendered field value typed for JSON: a boolean, an enum's value name, or a number."""
    if info.kind == "bool":
        return text == "1"
    if info.names:
        return text
    return int(text)


def trace_json(trace: Trace) -> dict[str, Any]:
    """A trace as JSON: each step's kernel function, arguments, outputs and full state."""
    infos = {f.name: f for f in trace.fields}
    return {
        "length": trace.length,
        "violation": trace.violation,
        "steps": [
            {
                "action": step.action,
                "label": step.label,
                "args": step.args,
                "citation": step.citation,
                "outputs": step.outputs,
                "changed": list(step.changed),
                "state": {k: value_json(infos[k], v) for k, v in step.state.items()},
            }
            for step in trace.steps
        ],
    }


def stats_json(stats: Stats) -> dict[str, Any]:
    """Engine statistics as JSON."""
    return {
        "states": stats.states,
        "transitions": stats.transitions,
        "depth": stats.depth,
        "seconds": round(stats.seconds, 3),
        "states_per_second": round(stats.states_per_second, 1),
        "peak_memory_mb": round(stats.peak_memory_mb, 1),
        "solver_calls": stats.solver_calls,
        "operations": stats.op_counts,
        "symmetry": stats.symmetry,
        "concrete_states": stats.concrete_states,
    }


def result_json(r: Result) -> dict[str, Any]:
    """One result as JSON."""
    return {
        "variant": r.variant,
        "property": r.property,
        "engine": r.engine,
        "verdict": r.verdict,
        "expected": r.expected,
        "as_expected": r.as_expected,
        "expectation_reason": r.expectation_reason,
        "bounded": r.bounded,
        "depth": r.depth,
        "certificate": r.certificate,
        "certificate_checked": r.certificate_checked,
        "certificate_core": r.certificate_core,
        "message": r.message,
        "notes": list(r.notes),
        "areas": list(r.areas),
        "trace": trace_json(r.trace) if r.trace is not None else None,
        "expected_trace": r.expected_trace,
        "trace_mismatch": r.trace_mismatch,
        "stats": stats_json(r.stats),
    }


def render(results: list[Result], instance: str) -> str:
    """The run as one JSON document."""
    doc = {
        "ok": exit_code(results) == 0,
        "exit_code": exit_code(results),
        "instance": instance,
        "results": [result_json(r) for r in results],
    }
    return json.dumps(doc, indent=2, sort_keys=False)
