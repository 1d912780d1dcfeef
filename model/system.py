"""Transition systems and proof obligations: the contract between the model and the engines.

A :class:`TransitionSystem` is a schema, its initial states and a list of guarded commands
(:class:`Action`), each a guard and simultaneous assignments over the state before the step.  An
:class:`Obligation` is a property instantiated on one system: a state invariant, or a check on
the steps of some actions, plus the *situation* the property is about, which the engines must
show reachable before they may call the property proved.  Engines see only these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from numacheck.model.expr import Expr, ModelError, Value, fields_of, show
from numacheck.model.schema import Schema

Param = tuple[str, "str | int"]


@dataclass(frozen=True)
class Citation:
    """Where the kernel does what an operation models.

    ``confidence`` follows the kernel reference: ``V`` checked against source at the commit,
    ``P`` from a posted patch, ``I`` inferred from code shape, ``U`` unconfirmed.
    """

    function: str
    file: str
    era: str
    commits: tuple[str, ...] = ()
    confidence: Literal["V", "P", "I", "U"] = "V"
    note: str = ""

    def short(self) -> str:
        """``function (file, era, commits)`` on one line."""
        commits = ", ".join(self.commits)
        where = ", ".join(x for x in (self.file, self.era, commits) if x)
        return f"{self.function} ({where}) [{self.confidence}]"


@dataclass(frozen=True)
class Action:
    """One guarded command: an operation applied to concrete parameters."""

    op: str
    params: tuple[Param, ...]
    guard: Expr
    updates: tuple[tuple[str, Expr], ...]
    outputs: tuple[tuple[str, Expr], ...] = ()
    citation: Citation | None = None

    @property
    def label(self) -> str:
        """``op(k=v, ...)``, the name a trace shows for this step."""
        args = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.op}({args})"

    @property
    def steps_as(self) -> tuple[object, ...]:
        """What the action's steps are made of: its operation, guard and updates, the
        expressions by identity (they are interned, so equal actions give equal keys).  Two
        actions with the same key make the same steps, whatever their parameters say."""
        return (self.op, id(self.guard), tuple((name, id(e)) for name, e in self.updates))

    def param(self, name: str) -> str | int:
        """The value of one parameter."""
        for k, v in self.params:
            if k == name:
                return v
        raise KeyError(name)

    def output(self, name: str) -> Expr | None:
        """The expression of one output, or None when the action has no such output."""
        for k, e in self.outputs:
            if k == name:
                return e
        return None


@dataclass(frozen=True)
class Derived:
    """A value computed from the state for people to read in traces (e.g. a page's mapcount)."""

    name: str
    expr: Expr
    group: str = ""
    label: str = ""
    names: tuple[str, ...] = ()

    def render(self, value: Value) -> str:
        """The value as people read it."""
        if isinstance(value, bool):
            return "1" if value else "0"
        return self.names[value] if self.names else str(value)


@dataclass(frozen=True)
class Interchangeable:
    """Objects of one kind that the model treats alike, so permuting them maps behaviour to
    behaviour (the basis of symmetry reduction).

    ``slots[k]`` are object k's own fields, corresponding position by position across objects.
    ``references`` are fields whose value names an object (``values[k]`` names object k).
    A group with references and no slots permutes values only (NUMA nodes).  ``live[r]``, where
    given, says when reference ``r`` means something; where it is false the model has reset
    the field to its lowest value (a freed frame's node), and a permutation leaves it there.
    ``values_by_reference[r]``, where given, replaces ``values`` for reference ``r`` (a page is
    named by its offset in a task's pending fault and by its shmem frame in a PTE).  Objects
    whose slots lie inside another group's objects (a page offset, in every process) are
    permuted within them, all objects at once.
    Without ``vouched`` the engine proves the symmetry itself, by renaming the system's
    expressions; with it the model asserts a symmetry the expressions cannot show (the
    lowest-free-frame allocation), and ``precondition`` is the state invariant its argument
    needs, which the engine checks on every state it explores.
    """

    name: str
    slots: tuple[tuple[str, ...], ...]
    references: tuple[str, ...] = ()
    values: tuple[int, ...] = ()
    vouched: bool = False
    precondition: Expr | None = None
    reason: str = ""
    live: tuple[Expr | None, ...] = ()
    values_by_reference: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True)
class TransitionSystem:
    """A finite transition system over ``schema``; ``symmetry`` names its interchangeable
    objects (see :class:`Interchangeable`)."""

    name: str
    schema: Schema
    init: tuple[Mapping[str, Value], ...]
    actions: tuple[Action, ...]
    derived: tuple[Derived, ...] = ()
    meta: Mapping[str, str] = field(default_factory=dict)
    symmetry: tuple[Interchangeable, ...] = ()

    def __post_init__(self) -> None:
        if not self.init:
            raise ModelError(f"{self.name}: no initial state")
        for values in self.init:
            self.schema.pack(values)
        roots = [e for a in self.actions for e in (a.guard, *(e for _, e in (*a.updates, *a.outputs)))]
        leaves = fields_of(*roots)  # shared subexpressions once; each root alone only on error
        slow = any(op == "next" or name not in self.schema for op, name in leaves)
        for action in self.actions:
            seen: set[str] = set()
            for name, _ in action.updates:
                if name in seen:
                    raise ModelError(f"{action.label} assigns {name} twice")
                seen.add(name)
                if name not in self.schema:
                    raise ModelError(f"{action.label} := {name}: unknown field {name}")
            checks = [(action.guard, "bool", f"{action.label} guard"),
                      *((e, self.schema[name].kind, f"{action.label} := {name}")
                        for name, e in action.updates),
                      *((e, e.kind, f"{action.label} output {name}") for name, e in action.outputs)]
            for e, kind, where in checks:
                self._check_expr(e, kind, where, allow_next=False, fields_checked=not slow)

    def _check_expr(self, e: Expr, kind: str, where: str, allow_next: bool,
                    fields_checked: bool = False) -> None:
        """``e`` has ``kind`` and reads only known fields, not the next state unless allowed
        (``fields_checked``: the fields are known to be fine already)."""
        if e.kind != kind:
            raise ModelError(f"{where}: expected {kind}, got {e.kind}: {show(e)}")
        if fields_checked:
            return
        for op, name in fields_of(e):
            if name not in self.schema:
                raise ModelError(f"{where}: unknown field {name}")
            if op == "next" and not allow_next:
                raise ModelError(f"{where}: refers to the next state ({name}')")

    def initial_states(self) -> list[int]:
        """The packed initial states, without duplicates, in declaration order."""
        return list(dict.fromkeys(self.schema.pack(v) for v in self.init))

    def action_index(self, label: str) -> int:
        """The index of the action with this label."""
        for i, a in enumerate(self.actions):
            if a.label == label:
                return i
        raise ModelError(f"{self.name}: no action {label}")

    def check_obligation(self, ob: Obligation) -> None:
        """Raise ModelError when ``ob`` does not fit this system."""
        if ob.invariant is not None:
            self._check_expr(ob.invariant, "bool", f"{ob.name} invariant", allow_next=False)
        if ob.sometimes is not None:
            self._check_expr(ob.sometimes, "bool", f"{ob.name} situation", allow_next=False)
        for table, what in ((ob.steps, "step check"), (ob.situation_steps, "step situation")):
            for index, e in table:
                if not 0 <= index < len(self.actions):
                    raise ModelError(f"{ob.name}: {what} names action {index} of {len(self.actions)}")
                self._check_expr(e, "bool", f"{ob.name} {what}", allow_next=True)


@dataclass(frozen=True)
class Obligation:
    """A property instantiated on one transition system.

    ``invariant`` must hold in every reachable state; each ``(action, check)`` in ``steps`` must
    hold on every step by that action (``var`` = before, ``next`` = after).  The situation is
    reached when a state satisfies ``sometimes`` or a step by an action in ``situation_steps``
    satisfies its expression; a property whose situation is unreachable is vacuous.
    """

    name: str
    summary: str
    invariant: Expr | None = None
    steps: tuple[tuple[int, Expr], ...] = ()
    sometimes: Expr | None = None
    situation_steps: tuple[tuple[int, Expr], ...] = ()
    situation_text: str = ""

    @property
    def has_situation(self) -> bool:
        """Whether a situation was named (every built-in property names one)."""
        return self.sometimes is not None or bool(self.situation_steps)
