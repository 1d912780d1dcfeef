"""Turn an engine's path (action indices and packed states) into a displayable Trace."""

from __future__ import annotations

from collections.abc import Callable

from numacheck.checker.lowering.codegen import compile_exprs
from numacheck.checker.outcome import Path
from numacheck.checker.result import FieldInfo, Trace, TraceStep
from numacheck.model.system import TransitionSystem


def field_infos(ts: TransitionSystem) -> tuple[FieldInfo, ...]:
    """Display metadata of every state field, then of every derived value."""
    infos = [FieldInfo(f.name, f.group, f.label, f.ghost, f.kind, f.names) for f in ts.schema.fields]
    infos += [FieldInfo(d.name, d.group, d.label, names=d.names, derived=True) for d in ts.derived]
    return tuple(infos)


def render_state(ts: TransitionSystem, state: int,
                 derived: Callable[..., list[int | bool]] | None = None) -> dict[str, str]:
    """Every field and derived value of a packed state, rendered as people read them
    (``derived``: the derived values compiled, when rendering many states)."""
    values = ts.schema.unpack(state)
    out = {f.name: f.render(values[f.name]) for f in ts.schema.fields}
    if ts.derived:
        evaluate = derived or compile_exprs(ts.schema, [d.expr for d in ts.derived])
        for d, v in zip(ts.derived, evaluate(state), strict=True):
            out[d.name] = d.render(v)
    return out


def build_trace(ts: TransitionSystem, path: Path, violation: str) -> Trace:
    """The trace of ``path``; ``violation`` explains what the last step breaks."""
    steps: list[TraceStep] = []
    before: dict[str, str] | None = None
    prev_state = 0
    derived = compile_exprs(ts.schema, [d.expr for d in ts.derived]) if ts.derived else None
    for action_index, state in path:
        now = render_state(ts, state, derived)
        if action_index < 0:
            steps.append(TraceStep("init", "init", {}, "", {}, now, ()))
        else:
            action = ts.actions[action_index]
            outputs: dict[str, str | int | bool] = {}
            if action.outputs:
                evaluate = compile_exprs(ts.schema, [e for _, e in action.outputs])
                for (name, _), v in zip(action.outputs, evaluate(prev_state), strict=True):
                    outputs[name] = v
            changed = tuple(k for k, v in now.items() if before is not None and before[k] != v)
            cite = action.citation.short() if action.citation else ""
            steps.append(TraceStep(action.op, action.label, dict(action.params), cite, outputs,
                                   now, changed))
        before = now
        prev_state = state
    return Trace(tuple(steps), field_infos(ts), violation)
