"""The part of a checked inductive invariant a proof needs, for people to read.

PDR's certificate is Spacer's lemmas and the Houdini background: thousands of clauses, most of
them true but irrelevant to the property ("no fault is pending on page 0" a thousand ways).  The
needed part is found with unsat cores over the checked certificate: start from the clauses that
imply the property (and the step checks), then add, for each chosen clause and each action, the
clauses consecution needs to re-establish it, until nothing new is needed.  The result is a
subset that is inductive relative to itself and implies the property; it is re-checked by the
same certificate check as the whole invariant before it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence

import z3

from numacheck.checker.outcome import Deadline
from numacheck.checker.z3lower import Lowering, domain, env, state_vars
from numacheck.model.system import Obligation, TransitionSystem


def clauses_of(inv: z3.BoolRef) -> list[z3.BoolRef]:
    """The conjuncts of ``inv``, nested conjunctions flattened, ``true`` left out."""
    out: list[z3.BoolRef] = []
    pending: list[z3.BoolRef] = [inv]
    while pending:
        e = pending.pop(0)
        if z3.is_and(e):
            pending[:0] = e.children()
        elif not z3.is_true(e):
            out.append(e)
    return out


class CoreStoppedError(Exception):
    """A solver gave no answer (time limit): the whole certificate is shown instead."""


class _Supports:
    """For each action a solver over one step, every clause behind an assumption literal."""

    def __init__(self, ts: TransitionSystem, x: dict[str, z3.ExprRef], clauses: Sequence[z3.BoolRef],
                 deadline: Deadline) -> None:
        self.deadline = deadline
        y = state_vars(ts.schema, "y")
        self.rename = [(x[k], y[k]) for k in x]
        self.tags = [z3.Bool(f"core!{k}") for k in range(len(clauses))]
        self.next_clauses = [z3.substitute(c, *self.rename) for c in clauses]
        low_x = Lowering(env(x))
        self.low_xy = Lowering(env(x, y))
        self.dom_y = domain(ts.schema, y)
        self.state = z3.Solver()
        self.state.add(*domain(ts.schema, x))
        self.steps = []
        for action in ts.actions:
            updates = dict(action.updates)
            s = z3.Solver()
            s.add(*domain(ts.schema, x), low_x(action.guard))
            s.add(*[y[f.name] == (low_x(updates[f.name]) if f.name in updates else x[f.name])
                    for f in ts.schema.fields])
            self.steps.append(s)
        for s in (self.state, *self.steps):
            s.set("core.minimize", True)
            for tag, c in zip(self.tags, clauses, strict=True):
                s.add(z3.Implies(tag, c))

    def needed(self, solver: z3.Solver, goal: z3.BoolRef, chosen: set[int]) -> set[int]:
        """Clauses that together make ``goal`` hold: from ``chosen`` when they suffice."""
        for pool in (sorted(chosen), range(len(self.tags))):
            solver.push()
            solver.set("timeout", self.deadline.z3_ms())
            solver.add(z3.Not(goal))
            answer = solver.check(*[self.tags[k] for k in pool])
            core = solver.unsat_core() if answer == z3.unsat else []
            solver.pop()
            if answer == z3.unsat:
                return {int(str(t).split("!")[1]) for t in core}
            if answer == z3.unknown:
                raise CoreStoppedError
        raise CoreStoppedError  # the whole certificate does not prove the goal: it was not checked


def needed_clauses(ts: TransitionSystem, x: dict[str, z3.ExprRef], ob: Obligation,
                   clauses: Sequence[z3.BoolRef], deadline: Deadline) -> list[int]:
    """Indices of a subset of ``clauses`` (a checked certificate for ``ob``) that is inductive
    relative to itself, keeps the field ranges and implies ``ob``; in certificate order.

    Raises CoreStoppedError when a solver runs out of time.
    """
    sup = _Supports(ts, x, clauses, deadline)
    chosen: set[int] = set()
    if ob.invariant is not None:
        chosen |= sup.needed(sup.state, Lowering(env(x))(ob.invariant), chosen)
    for i, check in ob.steps:
        chosen |= sup.needed(sup.steps[i], sup.low_xy(check), chosen)
    for s in sup.steps:
        chosen |= sup.needed(s, z3.And(*sup.dom_y), chosen)
    pending = sorted(chosen)
    done: set[int] = set()
    while pending:
        k = pending.pop()
        if k in done:
            continue
        done.add(k)
        for s in sup.steps:
            new = sup.needed(s, sup.next_clauses[k], chosen) - chosen
            chosen |= new
            pending.extend(new)
    return sorted(chosen)
