"""A verification run: variants x properties on one instance, checked by one engine.

The run builds each variant's transition system once, instantiates the chosen properties on it,
hands both to the engine, and turns every engine outcome into a :class:`Result` carrying the
variant's expectation and, for a violation, the rendered counterexample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import z3

from numacheck.checker.engines.bmc import bmc
from numacheck.checker.engines.explicit import Progress, explore, explore_together
from numacheck.checker.engines.kind import kind
from numacheck.checker.engines.pdr import pdr
from numacheck.checker.engines.portfolio import portfolio
from numacheck.checker.outcome import Limits, Outcome
from numacheck.checker.result import Result
from numacheck.checker.shapes import shape_of, shape_problem, shortest_by_construction
from numacheck.checker.sources import property_location, variant_location
from numacheck.checker.traces.trace import build_trace
from numacheck.model.instance import Instance
from numacheck.model.system import Obligation, TransitionSystem
from numacheck.model.variant import Variant, build
from numacheck.properties.base import Property

Engine = Callable[[TransitionSystem, Sequence[Obligation], Limits, "Progress | None"], list[Outcome]]

#: The engines that check on their own.
BASE_ENGINES: dict[str, Engine] = {
    "explicit": explore,
    "bmc": bmc,
    "kind": kind,
    "pdr": pdr,
}


def _all(ts: TransitionSystem, obligations: Sequence[Obligation], limits: Limits,
         progress: Progress | None) -> list[Outcome]:
    return portfolio(BASE_ENGINES, ts, obligations, limits, progress)


#: Every engine name ``--engine`` accepts; ``all`` is the portfolio of the others.
ENGINES: dict[str, Engine] = {**BASE_ENGINES, "all": _all}


@dataclass(frozen=True)
class Check:
    """One unit of work: a variant and the properties to check on it with one engine."""

    variant: Variant
    properties: tuple[Property, ...]
    engine: str
    instance: Instance
    limits: Limits


def fresh_solver_context() -> None:
    """Start Z3 afresh: it numbers terms in one global context and its search order follows
    those numbers, so without this a check's counterexample or invariant would depend on the
    checks run before it in the same process (and so on ``--jobs``)."""
    z3.z3._main_ctx = None


#: The outcomes a run has found, by :func:`what_decides` them, with the system and obligations
#: that keep the identities in the key alive.
Decided = dict[tuple[object, ...], tuple[TransitionSystem, list[Obligation], list[Outcome]]]


def what_decides(check: Check, ts: TransitionSystem, obligations: Sequence[Obligation]) -> tuple[object, ...]:
    """Everything an engine's outcomes depend on.  Expressions are hash-consed, so two eras
    whose rules build the same expressions share their objects: the key holds their
    identities, and equal keys mean the same search (to the action order and the names that
    statistics count)."""
    def ident(e: object | None) -> int | None:
        return None if e is None else id(e)

    return (
        check.engine, check.limits, ts.schema, repr(ts.init),
        tuple(a.steps_as for a in ts.actions),
        tuple((g.name, g.slots, g.references, g.values, g.vouched, ident(g.precondition),
               tuple(map(ident, g.live)), g.values_by_reference) for g in ts.symmetry),
        tuple((ob.name, ident(ob.invariant), ident(ob.sometimes), ob.situation_text,
               tuple((i, id(e)) for i, e in ob.steps),
               tuple((i, id(e)) for i, e in ob.situation_steps)) for ob in obligations),
    )


def run_check(check: Check, progress: Progress | None = None,
              decided: Decided | None = None) -> list[Result]:
    """Check ``check.properties`` on ``check.variant``; one result per property, in order.

    With ``decided``, a check whose system and obligations an earlier check of the same run
    already had (two eras the instance does not tell apart) takes that check's outcomes
    instead of searching again.
    """
    return run_unit([check], progress, decided)[0]


def together(a: Check, b: Check) -> bool:
    """Whether two checks are one unit of work: explicit searches of the same instance under
    the same limits, which :func:`explore_together` searches at once."""
    return a.engine == b.engine == "explicit" and a.instance == b.instance and a.limits == b.limits


def units(plan: Sequence[Check]) -> list[range]:
    """The plan cut into units of work: each run of consecutive checks that go
    :func:`together` (a pass's eras), every other check alone."""
    out: list[range] = []
    for i, check in enumerate(plan):
        if out and together(plan[out[-1].start], check):
            out[-1] = range(out[-1].start, i + 1)
        else:
            out.append(range(i, i + 1))
    return out


def run_unit(checks: Sequence[Check], progress: Progress | None = None,
             decided: Decided | None = None) -> list[list[Result]]:
    """The results of each check of a unit (see :func:`units`), in order: explicit checks in
    one joint search, which gives each the outcomes its own search would; any other check by
    its engine.  A check whose system and obligations an earlier one had (in the unit, or in
    ``decided``) takes that check's outcomes."""
    decided = {} if decided is None else decided
    built: list[tuple[TransitionSystem, list[Obligation]]] = []
    keys: list[tuple[object, ...]] = []
    for check in checks:
        fresh_solver_context()
        ts = build(check.variant, check.instance)
        obligations = [p.instantiate(ts, check.instance) for p in check.properties]
        key = what_decides(check, ts, obligations)
        if key not in decided and check.engine != "explicit":
            decided[key] = (ts, obligations, ENGINES[check.engine](ts, obligations, check.limits, progress))
        built.append((ts, obligations))
        keys.append(key)
    todo: dict[tuple[object, ...], int] = {}  # the first check of each key not decided
    for i, key in enumerate(keys):
        if key not in decided:
            todo.setdefault(key, i)
    if todo:
        firsts = list(todo.values())
        searched = explore_together([built[i] for i in firsts], checks[firsts[0]].limits, progress)
        for i, outcomes in zip(firsts, searched, strict=True):
            decided[keys[i]] = (*built[i], outcomes)
    return [[to_result(check.variant, prop, check.engine, ts, outcome, check.instance, check.limits)
             for prop, outcome in zip(check.properties, decided[key][2], strict=True)]
            for check, (ts, _), key in zip(checks, built, keys, strict=True)]


def covered_areas(variant: Variant, instance: Instance) -> str:
    """The note every result carries: the kernel areas the run explored (a left-out area can
    hide a violation), and those the era has that the instance left out."""
    covered = [a for a in instance.area_names() if a in variant.areas]
    left = sorted(variant.areas - instance.areas)
    return f"areas covered: {', '.join(covered)}" + (f" (not covered: {', '.join(left)})" if left else "")


def to_result(variant: Variant, prop: Property, engine: str, ts: TransitionSystem,
              outcome: Outcome, instance: Instance, limits: Limits) -> Result:
    """An engine outcome as a Result, with expectation, recorded trace shape and rendered trace."""
    expected, reason = variant.expected(prop.name)
    trace = None
    mismatch = ""
    recorded = variant.expect_trace.get(prop.name)
    if outcome.path is not None:
        trace = build_trace(ts, outcome.path, f"{prop.name}: {prop.summary}")
        if expected == "violated":
            mismatch, note = shape_problem(variant, prop, shape_of(ts, outcome.path),
                                           shortest_by_construction(engine, outcome), instance, limits)
            if note:
                outcome = replace(outcome, notes=(*outcome.notes, note))
    return Result(
        variant=variant.name,
        property=prop.name,
        engine=engine,
        verdict=outcome.verdict,
        expected=expected,  # type: ignore[arg-type]
        expectation_reason=reason,
        property_summary=prop.summary,
        situation=prop.situation,
        trace=trace,
        stats=outcome.stats,
        bounded=outcome.bounded,
        depth=outcome.depth,
        certificate=outcome.certificate,
        certificate_checked=outcome.certificate_checked,
        certificate_core=outcome.certificate_core,
        message=outcome.message,
        notes=(*outcome.notes, covered_areas(variant, instance)),
        variant_source=variant_location(variant, prop.name),
        property_source=property_location(prop),
        instance=instance.sizes(),
        expected_trace=None if recorded is None else
        {"length": recorded.length, "functions": sorted(recorded.functions), "steps": list(recorded.steps)},
        trace_mismatch=mismatch,
        areas=instance.area_names(),
    )
