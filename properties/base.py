"""Property types: state invariants and step properties, each about a named situation.

A property is written against the model's vocabulary (an :class:`~numacheck.model.mm.MM` view
of the state before, and for step properties after, a step) and instantiated on a built
transition system as an engine-level :class:`~numacheck.model.system.Obligation`.  Every
property names the situation it is about; the engines show that situation reachable before
they may report the property as holding, so a broken model cannot make it hold vacuously.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from numacheck.model.builder import PostStep, Step
from numacheck.model.expr import Expr, ModelError
from numacheck.model.instance import Instance
from numacheck.model.memo import ByIdentity
from numacheck.model.mm import MM
from numacheck.model.system import Action, Obligation, TransitionSystem

StateFn = Callable[[MM], Expr]
StepFn = Callable[[MM, MM, Action], Expr]


@dataclass(frozen=True)
class Property:
    """A named requirement on every reachable state or on every step of some operations."""

    name: str
    summary: str
    rationale: str
    situation: str
    invariant: StateFn | None = None
    sometimes: StateFn | None = None
    operations: frozenset[str] = frozenset()
    applies: Callable[[Action], bool] | None = None
    check: StepFn | None = None
    when: StepFn | None = None
    #: The kernel area whose fields the property reads (model.instance.AREAS): it is checked
    #: only on instances, and eras, that cover it.
    area: str = "numa"

    @property
    def kind(self) -> str:
        """``invariant`` or ``step``."""
        return "invariant" if self.invariant is not None else "step"

    def instantiate(self, ts: TransitionSystem, inst: Instance) -> Obligation:
        """This property as an obligation on ``ts`` (built from ``inst``)."""
        pre = MM(inst, Step(ts.schema))
        if self.invariant is not None:
            return Obligation(
                name=self.name,
                summary=self.summary,
                invariant=self.invariant(pre),
                sometimes=self.sometimes(pre) if self.sometimes is not None else None,
                situation_text=self.situation,
            )
        assert self.check is not None and self.when is not None
        post = MM(inst, PostStep(ts.schema))
        steps, situations = [], []
        for index, action in enumerate(ts.actions):
            in_scope = not self.operations or action.op in self.operations  # empty: every step
            if in_scope and (self.applies is None or self.applies(action)):
                check, when = self._step(pre, post, action)
                steps.append((index, check))
                situations.append((index, when))
        return Obligation(
            name=self.name,
            summary=self.summary,
            steps=tuple(steps),
            situation_steps=tuple(situations),
            situation_text=self.situation,
        )

    def _step(self, pre: MM, post: MM, action: Action) -> tuple[Expr, Expr]:
        """The check and the situation of one step of ``action``: built once per property,
        instance, schema and action, since the eras share most actions (``model/variant.py``)."""
        check, when = self.check, self.when
        assert check is not None and when is not None
        return _STEPS.get((self, pre.inst, pre.step.schema, action),
                          lambda: (check(pre, post, action), when(pre, post, action)))


#: The step checks built, by property, instance, schema and action.
_STEPS: ByIdentity[tuple[Expr, Expr]] = ByIdentity(1 << 16)


def invariant(name: str, summary: str, rationale: str, situation: str, sometimes: StateFn,
              area: str = "numa") -> Callable[[StateFn], Property]:
    """Decorator: a state invariant; the function returns the predicate."""

    def wrap(fn: StateFn) -> Property:
        return Property(name, summary, rationale, situation, invariant=fn, sometimes=sometimes,
                        area=area)

    return wrap


def step_property(name: str, summary: str, rationale: str, situation: str, operations: set[str],
                  when: StepFn, applies: Callable[[Action], bool] | None = None,
                  area: str = "numa") -> Callable[[StepFn], Property]:
    """Decorator: a step property of some operations (every operation when ``operations`` is
    empty; those ``applies`` accepts, if given); the function returns the check."""

    def wrap(fn: StepFn) -> Property:
        return Property(name, summary, rationale, situation, operations=frozenset(operations),
                        applies=applies, check=fn, when=when, area=area)

    return wrap


def output(action: Action, name: str) -> Expr:
    """An output of ``action`` that a property relies on (a ModelError if the model lacks it)."""
    e = action.output(name)
    if e is None:
        raise ModelError(f"{action.label} has no output {name!r}, which a property needs")
    return e
