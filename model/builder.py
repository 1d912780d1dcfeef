"""Symbolic execution of one operation, so operations read like the kernel code they model.

An operation body reads and writes fields in program order on a :class:`Step`; a write is seen
by later reads, and :meth:`Step.branch` runs both arms of a symbolic ``if`` and merges what they
wrote with ``ite``.  When the body returns, the written fields become the simultaneous
assignments of one guarded command: the explicit and symbolic engines never see the sequence.
"""

from __future__ import annotations

from collections.abc import Callable

from numacheck.model.expr import TRUE, Expr, ModelError, Value, and_, ite, lift, show
from numacheck.model.schema import Schema


def _condition(cond: object, what: str) -> Expr:
    """``cond`` as a boolean expression, or an error saying what was given instead."""
    if isinstance(cond, bool):
        raise ModelError(f"a {what} is the Python value {cond}, not an expression: it does not depend "
                         "on the state (is it an `is`, `in` or a comparison of Python values?); "
                         "build it from the state with .eq(), &, |, ~, or restrict parameters "
                         "with operation(where=...)")
    c = lift(cond)  # type: ignore[arg-type]
    if c.kind != "bool":
        raise ModelError(f"a {what} must be a boolean expression, not the {c.kind} expression "
                         f"{show(c)}: compare it, e.g. x.ne(0)")
    return c


class Step:
    """The state of one operation being executed symbolically."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._written: dict[str, Expr] = {}
        self._guard: list[Expr] = []
        self._outputs: dict[str, Expr] = {}

    def read(self, name: str) -> Expr:
        """The current value of a field (its last write, else its value before the step)."""
        found = self._written.get(name)
        return found if found is not None else self.schema.var(name)

    def write(self, name: str, value: Expr | Value) -> None:
        """Assign a field; later reads in this step see the new value."""
        e = lift(value)
        if e.kind != self.schema[name].kind:
            raise ModelError(f"write {name} := {show(e)}: expected a {self.schema[name].kind}")
        self._written[name] = e

    def require(self, cond: Expr) -> None:
        """Add a conjunct to the guard: the operation is enabled only where it holds."""
        self._guard.append(_condition(cond, "guard"))

    def output(self, name: str, value: Expr | Value) -> None:
        """Expose a value the step computes (e.g. TNF_NO_GROUP) to traces and properties."""
        self._outputs[name] = lift(value)

    def written(self) -> set[str]:
        """Names of the fields this step has assigned so far."""
        return set(self._written)

    def branch(
        self,
        cond: Expr | bool,
        then: Callable[[Step], None],
        otherwise: Callable[[Step], None] | None = None,
    ) -> None:
        """Symbolic ``if cond: then() else: otherwise()``; writes and outputs merge with ite.

        A guard added inside an arm applies only on that arm (``cond -> g``).  An output set on
        one arm only is False/0 on the other.
        """
        c = _condition(cond, "branch condition") if not isinstance(cond, bool) else lift(cond)
        arms = []
        for body in (then, otherwise):
            arm = Step(self.schema)
            arm._written = dict(self._written)
            arm._outputs = dict(self._outputs)
            if body is not None:
                body(arm)
            arms.append(arm)
        yes, no = arms
        for name in set(yes._written) | set(no._written):
            self._written[name] = ite(c, yes.read(name), no.read(name))
        for name in set(yes._outputs) | set(no._outputs):
            a, b = yes._outputs.get(name), no._outputs.get(name)
            kind = (a if a is not None else b).kind  # type: ignore[union-attr]
            zero = lift(False if kind == "bool" else 0)
            self._outputs[name] = ite(c, a if a is not None else zero, b if b is not None else zero)
        for g in yes._guard:
            self._guard.append(c.implies(g))
        for g in no._guard:
            self._guard.append(c | g)

    def guard(self) -> Expr:
        """The conjunction of every ``require``."""
        return and_(TRUE, *self._guard)

    def updates(self) -> tuple[tuple[str, Expr], ...]:
        """The net assignments, in schema order, without fields left at their old value."""
        out = []
        for f in self.schema.fields:
            e = self._written.get(f.name)
            if e is not None and e is not self.schema.var(f.name):
                out.append((f.name, e))
        return tuple(out)

    def outputs(self) -> tuple[tuple[str, Expr], ...]:
        """The outputs in the order they were first set."""
        return tuple(self._outputs.items())


class PostStep(Step):
    """A read-only view of the state *after* a step (``next`` variables), for step properties."""

    def read(self, name: str) -> Expr:
        """The value of a field after the step."""
        return self.schema.next(name)

    def write(self, name: str, value: Expr | Value) -> None:
        """Properties observe; they never write."""
        raise ModelError(f"a property tried to write {name}")
