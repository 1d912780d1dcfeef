"""Helpers for operation tests: build a variant's system and step hand-made states."""

from __future__ import annotations

from functools import cache

from numacheck.checker.lowering.codegen import CompiledSystem, compile_exprs, compile_system
from numacheck.model.expr import Value
from numacheck.model.instance import AREA_PTE_BITS, PTE_BITS, Instance, pte_name
from numacheck.model.system import TransitionSystem
from numacheck.model.variant import build
from numacheck.model.variants import BUILTIN

State = dict[str, Value]


@cache
def system(variant: str, processes: int = 2, pages: int = 1, nodes: int = 2) -> TransitionSystem:
    """The transition system of a built-in variant (cached)."""
    return build(BUILTIN[variant], Instance(processes, pages, nodes))


_COMPILED: dict[int, CompiledSystem] = {}


def step(ts: TransitionSystem, before: State, label: str) -> State | None:
    """The state after action ``label`` from ``before`` (None when its guard is false)."""
    index = ts.action_index(label)
    compiled = _COMPILED.get(id(ts))
    if compiled is None:
        compiled = _COMPILED[id(ts)] = compile_system(ts, [])
    packed = ts.schema.pack(before)
    for action, succ, _, _ in compiled.expand(packed):
        if action == index:
            return ts.schema.unpack(succ)
    return None


def outputs(ts: TransitionSystem, before: State, label: str) -> dict[str, Value]:
    """The outputs action ``label`` computes on ``before``."""
    action = ts.actions[ts.action_index(label)]
    evaluate = compile_exprs(ts.schema, [e for _, e in action.outputs])
    values = evaluate(ts.schema.pack(before))
    return {name: v for (name, _), v in zip(action.outputs, values, strict=True)}


def run(ts: TransitionSystem, labels: list[str], start: State | None = None) -> State:
    """Apply actions in order from ``start`` (default: the initial state); each must be enabled."""
    state: State = dict(start) if start is not None else ts.schema.unpack(ts.initial_states()[0])
    for label in labels:
        nxt = step(ts, state, label)
        assert nxt is not None, f"{label} is not enabled"
        state = nxt
    return state


def pte(state: State, p: int = 0, i: int = 0) -> dict[str, Value]:
    """The PTE fields of (p, i) in a state, keyed by Pte attribute (``write``, ``pfn``, ...)."""
    bits = (*PTE_BITS, *(b for area in AREA_PTE_BITS.values() for b in area), "pfn", "shadow_write")
    return {bit: state[pte_name(p, i, bit)] for bit in bits if pte_name(p, i, bit) in state}
