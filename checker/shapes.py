"""Whether a counterexample has the shape its era recorded for an expected violation.

An era that violates a property on purpose records the shape of its shortest counterexample
(:class:`~numacheck.model.variant.TraceShape`, written down from a run of the engine).  A run's
counterexample of another length is another bug (exit 1); one of the same length through other
kernel functions may only be another choice among equally short traces, so the recorded shape is
then looked for with a search restricted to the recorded functions: found at that length, it is
still a shortest counterexample and the result is as expected.
"""

from __future__ import annotations

from dataclasses import replace

from numacheck.checker.engines.explicit import explore
from numacheck.checker.engines.portfolio import SHORTEST
from numacheck.checker.outcome import Limits, Outcome, Path
from numacheck.model.instance import Instance
from numacheck.model.system import TransitionSystem
from numacheck.model.variant import TraceShape, Variant, build
from numacheck.properties.base import Property


def shape_of(ts: TransitionSystem, path: Path) -> TraceShape:
    """The shape of ``path`` (its first entry is the initial state)."""
    steps = tuple(ts.actions[a].op for a, _ in path[1:])
    return TraceShape(len(steps), frozenset(steps), steps=steps)


def shortest_by_construction(engine: str, outcome: Outcome) -> bool:
    """Whether ``engine``'s counterexample is a shortest one (the portfolio's: by who decided)."""
    decided = next((n.removeprefix("decided by ") for n in outcome.notes if n.startswith("decided by ")), "")
    return engine in SHORTEST or (engine == "all" and decided in SHORTEST)


def shape_problem(variant: Variant, prop: Property, found: TraceShape, shortest: bool,
                  inst: Instance, limits: Limits) -> tuple[str, str]:
    """``(problem, note)``: why ``found`` is not the recorded shape (empty when it is), and a note."""
    recorded = variant.expect_trace.get(prop.name)
    if recorded is None:
        return "", ""
    if recorded.instance != inst:
        return "", f"counterexample shape recorded on {recorded.instance.describe()}, not compared"
    expected = f"expected a shortest counterexample of {recorded.describe()}"
    if found.length > recorded.length and not shortest:
        return "", f"{expected}; this engine's is not necessarily a shortest one, not compared"
    if found.length != recorded.length:
        return f"not the recorded counterexample: {expected}, found {found.describe()}", ""
    if found.functions == recorded.functions:
        return "", ""
    search = _through(variant, prop, recorded, inst, limits)
    if search.path is not None and len(search.path) - 1 == recorded.length:
        return "", ""
    why = (f"the search for one through the recorded functions stopped: {search.message}"
           if search.verdict == "unknown" else
           "no counterexample of that length goes through the recorded functions only")
    return f"not the recorded counterexample: {expected}, found {found.describe()}, and {why}", ""


def _through(variant: Variant, prop: Property, shape: TraceShape, inst: Instance, limits: Limits) -> Outcome:
    """The shortest counterexample that uses only ``shape.functions`` (explicit search)."""
    only = replace(variant, operations=tuple(op for op in variant.operations if op.name in shape.functions))
    ts = build(only, inst)
    (outcome,) = explore(ts, [prop.instantiate(ts, inst)], limits)
    return outcome
