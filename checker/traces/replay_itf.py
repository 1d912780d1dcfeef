"""Re-execute an ITF trace on the model: ``numacheck replay``.

Every step must be an enabled action of the variant that produces exactly the recorded state,
and the last step must violate the property the trace is about.  A mismatch is reported at the
first step where it occurs, naming the fields the trace and the model disagree on.
"""

from __future__ import annotations

from dataclasses import dataclass

from numacheck.checker.lowering.codegen import CompiledSystem, compile_system
from numacheck.checker.traces.itf import ItfError, ItfTrace, decode, layout, leaves, lookup
from numacheck.checker.traces.replay import violates
from numacheck.model.expr import ModelError
from numacheck.model.instance import Instance
from numacheck.model.schema import Schema
from numacheck.model.system import TransitionSystem
from numacheck.model.variant import Variant, build
from numacheck.properties import resolve as resolve_property


@dataclass(frozen=True)
class ReplayReport:
    """The outcome of a replay: whether it replayed and, if not, where and why."""

    ok: bool
    steps: int
    message: str


def instance_of(trace: ItfTrace) -> Instance:
    """The instance the trace was found on, its areas included (``numa`` when the trace does not
    name them); an ItfError when its sizes or areas are not valid."""
    sizes = trace.meta["instance"]
    if not isinstance(sizes, dict) or not all(isinstance(v, int) for v in sizes.values()):
        raise ItfError("'#meta.numacheck.instance' must map processes, pages and nodes to integers")
    areas = trace.meta.get("areas", ["numa"])
    if not isinstance(areas, list) or not all(isinstance(a, str) for a in areas):
        raise ItfError("'#meta.numacheck.areas' must be a list of area names")
    try:
        return Instance(**sizes, areas=frozenset(areas))
    except (TypeError, ModelError) as exc:
        raise ItfError(f"'#meta.numacheck.instance': {exc}") from None


def _packed(schema: Schema, paths: dict[str, tuple[str | int, ...]], state: dict[str, object],
            n: int) -> int:
    extra = leaves(state) - {f.name for f in schema.fields}
    if extra:
        raise ItfError(f"state {n} has field {min(extra)}, which the model does not have")
    values = {}
    for f in schema.fields:
        text = decode(f.kind, f.names, lookup(state, paths[f.name]), f"state {n}, {f.name}")
        try:
            values[f.name] = f.parse(text)
        except ModelError as exc:
            raise ItfError(f"state {n}: {exc}") from None
    return schema.pack(values)


def _differences(schema: Schema, recorded: int, model: int) -> str:
    a, b = schema.unpack(recorded), schema.unpack(model)
    diffs = [f"{f.name} is {f.render(a[f.name])} in the trace, the model gives {f.render(b[f.name])}"
             for f in schema.fields if a[f.name] != b[f.name]]
    return "; ".join(diffs)


def replay_itf(trace: ItfTrace, variant: Variant) -> ReplayReport:
    """Replay ``trace`` on ``variant`` (ItfError when the file does not fit the model at all)."""
    inst = instance_of(trace)
    try:
        prop = resolve_property(str(trace.meta["property"]))
    except ModelError as exc:
        raise ItfError(str(exc)) from None
    ts = build(variant, inst)
    paths = layout(ts.schema.fields)
    states = [_packed(ts.schema, paths, s, n) for n, s in enumerate(trace.states)]
    compiled = compile_system(ts, [prop.instantiate(ts, inst)])
    steps = len(states) - 1
    first = ts.initial_states()
    if states[0] not in first:
        why = _differences(ts.schema, states[0], first[0])
        return ReplayReport(False, 0, f"step 0 (init): not an initial state of {variant.name}: {why}")
    path = [(-1, states[0])]
    for n, label in enumerate(trace.actions, 1):
        stop = _step(ts, compiled, states[n - 1], states[n], label)
        if stop:
            return ReplayReport(False, n, f"step {n} ({label}): {stop}")
        path.append((ts.action_index(label), states[n]))
    if not violates(compiled, 0, path):
        return ReplayReport(False, steps, f"the trace replays on {variant.name}, but its last step "
                                          f"does not violate {prop.name}")
    return ReplayReport(True, steps, f"replays on {variant.name}: {steps} steps, the last one "
                                     f"violates {prop.name}")


def _step(ts: TransitionSystem, compiled: CompiledSystem, before: int, after: int, label: str) -> str:
    """Why the step from ``before`` by action ``label`` does not reach ``after`` ('' if it does)."""
    try:
        index = ts.action_index(label)
    except ModelError:
        return f"the variant has no action {label}"
    succs = [t for a, t, _, _ in compiled.expand(before) if a == index]
    if not succs:
        return "not enabled in the state before it"
    if after in succs:
        return ""
    return _differences(ts.schema, after, succs[0])
