"""A transition system in Z3 terms, shared by the bounded, inductive and PDR engines.

State copy ``k`` has one Z3 variable per field; ``act(k)`` says which action leads from copy ``k``
to copy ``k + 1``, so every model of an unrolling names its actions and decodes into a path the
explicit engine can replay.  Step properties are encoded directly on the transition (a failing
check of the action taken), which is equivalent to a monitor field and costs no state.
"""

from __future__ import annotations

import z3

from numacheck.checker.lowering.z3lower import Lowering, domain, env, state_vars
from numacheck.checker.outcome import Path
from numacheck.model.expr import Value
from numacheck.model.system import Obligation, TransitionSystem

State = dict[str, z3.ExprRef]


def literal(value: Value) -> z3.ExprRef:
    """A Z3 literal for a field value."""
    return z3.BoolVal(value) if isinstance(value, bool) else z3.IntVal(value)


class Encoding:
    """Unrollings of one transition system."""

    def __init__(self, ts: TransitionSystem, tag: str = "") -> None:
        self.ts = ts
        self.schema = ts.schema
        self.tag = tag
        self._states: list[State] = []
        self._acts: list[z3.ArithRef] = []
        self._lower: dict[tuple[int, int], Lowering] = {}

    # State copies --------------------------------------------------------------------------------
    def state(self, k: int) -> State:
        """State copy ``k``."""
        while len(self._states) <= k:
            self._states.append(state_vars(self.schema, f"{self.tag}{len(self._states)}"))
        return self._states[k]

    def act(self, k: int) -> z3.ArithRef:
        """The action index taken from copy ``k`` to copy ``k + 1``."""
        while len(self._acts) <= k:
            self._acts.append(z3.Int(f"act@{self.tag}{len(self._acts)}"))
        return self._acts[k]

    def lower(self, k: int, with_next: bool = False) -> Lowering:
        """Lowering over copy ``k`` (and ``k + 1`` as ``next``)."""
        key = (k, int(with_next))
        found = self._lower.get(key)
        if found is None:
            post = self.state(k + 1) if with_next else None
            found = self._lower[key] = Lowering(env(self.state(k), post))
        return found

    # Formulas --------------------------------------------------------------------------------------
    def domain(self, k: int) -> list[z3.BoolRef]:
        """Range constraints of copy ``k``."""
        return domain(self.schema, self.state(k))

    def init(self, k: int = 0) -> z3.BoolRef:
        """Copy ``k`` is an initial state."""
        x = self.state(k)
        options = []
        for values in self.ts.init:
            options.append(z3.And(*[x[f.name] == literal(values.get(f.name, f.default))
                                    for f in self.schema.fields]))
        return z3.Or(*options)

    def action(self, index: int, k: int) -> z3.BoolRef:
        """Action ``index`` is enabled in copy ``k`` and produces copy ``k + 1``."""
        a = self.ts.actions[index]
        low = self.lower(k)
        updates = dict(a.updates)
        x, y = self.state(k), self.state(k + 1)
        eqs = [y[f.name] == (low(updates[f.name]) if f.name in updates else x[f.name])
               for f in self.schema.fields]
        return z3.And(low(a.guard), *eqs)

    def trans(self, k: int) -> z3.BoolRef:
        """Some action leads from copy ``k`` to copy ``k + 1`` (``act(k)`` names it)."""
        act = self.act(k)
        n = len(self.ts.actions)
        cases = [z3.Implies(act == i, self.action(i, k)) for i in range(n)]
        return z3.And(act >= 0, act < n, *cases)

    def holds_at(self, ob: Obligation, k: int) -> z3.BoolRef:
        """The invariant of ``ob`` holds in copy ``k`` (true for step properties)."""
        if ob.invariant is None:
            return z3.BoolVal(True)
        return self.lower(k)(ob.invariant)

    def step_ok(self, ob: Obligation, k: int) -> z3.BoolRef:
        """The step from copy ``k`` to ``k + 1`` satisfies ``ob``'s step checks."""
        if not ob.steps:
            return z3.BoolVal(True)
        low = self.lower(k, with_next=True)
        act = self.act(k)
        return z3.And(*[z3.Implies(act == i, low(check)) for i, check in ob.steps])

    def state_situation(self, ob: Obligation, k: int) -> z3.BoolRef:
        """Copy ``k`` is a state the property is about."""
        if ob.sometimes is None:
            return z3.BoolVal(False)
        return self.lower(k)(ob.sometimes)

    def step_situation(self, ob: Obligation, k: int) -> z3.BoolRef:
        """The step from copy ``k`` is one the property is about."""
        if not ob.situation_steps:
            return z3.BoolVal(False)
        low = self.lower(k, with_next=True)
        act = self.act(k)
        return z3.Or(*[z3.And(act == i, low(sit)) for i, sit in ob.situation_steps])

    def distinct(self, i: int, j: int) -> z3.BoolRef:
        """Copies ``i`` and ``j`` differ in some field (simple-path constraint)."""
        x, y = self.state(i), self.state(j)
        return z3.Or(*[x[f.name] != y[f.name] for f in self.schema.fields])

    # Decoding ----------------------------------------------------------------------------------
    def values(self, model: z3.ModelRef, k: int) -> dict[str, Value]:
        """The field values of copy ``k`` in ``model``."""
        out: dict[str, Value] = {}
        for f in self.schema.fields:
            v = model.eval(self.state(k)[f.name], model_completion=True)
            out[f.name] = z3.is_true(v) if f.kind == "bool" else v.as_long()
        return out

    def decode(self, model: z3.ModelRef, length: int, start: int = 0) -> Path:
        """The path of ``length`` transitions from copy ``start`` in ``model``."""
        path: Path = [(-1, self.schema.pack(self.values(model, start)))]
        for k in range(start, start + length):
            action = model.eval(self.act(k), model_completion=True).as_long()
            path.append((action, self.schema.pack(self.values(model, k + 1))))
        return path
