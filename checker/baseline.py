"""Comparing a run with an earlier JSON report (``verify --baseline RESULTS.json``).

Like LKMM's comparison of a run with its recorded results: any change between the two runs is
named, so a patch that changes what the checker sees (a verdict, a counterexample's length or
kernel functions, the number of states) cannot pass unnoticed, even where each result is still
as its variant expects.  Checks are matched by (variant, property); a check present in only one
of the two runs is a change too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from numacheck.checker.result import Result


class BaselineError(Exception):
    """A baseline file that is not a numacheck JSON report."""


@dataclass(frozen=True)
class Seen:
    """What a baseline compares of one check."""

    engine: str
    verdict: str
    trace_length: int | None
    trace_functions: tuple[str, ...]
    states: int


def _seen_json(r: dict[str, Any]) -> Seen:
    trace = r.get("trace")
    functions: tuple[str, ...] = ()
    length = None
    if trace is not None:
        length = int(trace["length"])
        functions = tuple(sorted({str(s["action"]) for s in trace["steps"][1:]}))
    return Seen(str(r["engine"]), str(r["verdict"]), length, functions, int(r["stats"]["states"]))


def _seen(r: Result) -> Seen:
    if r.trace is None:
        return Seen(r.engine, r.verdict, None, (), r.stats.states)
    functions = tuple(sorted({s.action for s in r.trace.steps[1:]}))
    return Seen(r.engine, r.verdict, r.trace.length, functions, r.stats.states)


@dataclass(frozen=True)
class Baseline:
    """An earlier run: its instance and what it saw per (variant, property)."""

    path: str
    instance: str
    checks: dict[tuple[str, str], Seen]


def load(path: str) -> Baseline:
    """Read a report written by ``verify --format json``."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        checks = {(str(r["variant"]), str(r["property"])): _seen_json(r) for r in doc["results"]}
        return Baseline(path, str(doc["instance"]), checks)
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BaselineError(f"baseline {path} is not JSON: {exc}; give a report of "
                            "'numacheck verify --format json -o FILE'") from None
    except (KeyError, TypeError, IndexError) as exc:
        raise BaselineError(f"baseline {path} is not a numacheck JSON report (missing {exc}); give a "
                            "report of 'numacheck verify --format json -o FILE'") from None


def _trace(s: Seen) -> str:
    if s.trace_length is None:
        return "no counterexample"
    return f"a {s.trace_length}-step counterexample through {', '.join(s.trace_functions)}"


def changes(baseline: Baseline, results: list[Result], instance: str) -> list[str]:
    """Every difference between ``baseline`` and this run, one line each (empty: none)."""
    out = []
    if baseline.instance != instance:
        out.append(f"instance: {baseline.instance} -> {instance}")
    now = {(r.variant, r.property): _seen(r) for r in results}
    for key in sorted(baseline.checks.keys() - now.keys()):
        out.append(f"{key[0]} / {key[1]}: in the baseline, not checked in this run")
    for key, seen in now.items():
        name = f"{key[0]} / {key[1]}"
        before = baseline.checks.get(key)
        if before is None:
            out.append(f"{name}: checked in this run, not in the baseline")
            continue
        if before.engine != seen.engine:
            out.append(f"{name}: engine {before.engine} -> {seen.engine}")
        if before.verdict != seen.verdict:
            out.append(f"{name}: verdict {before.verdict} -> {seen.verdict}")
        if (before.trace_length, before.trace_functions) != (seen.trace_length, seen.trace_functions):
            out.append(f"{name}: {_trace(before)} -> {_trace(seen)}")
        if before.states != seen.states:
            out.append(f"{name}: states {before.states} -> {seen.states}")
    return out
