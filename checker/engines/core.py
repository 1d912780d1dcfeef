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

import re
from collections.abc import Sequence

import z3

from numacheck.checker.engines.houdini import fast_nary
from numacheck.checker.lowering.z3lower import Lowering, domain, env, state_vars
from numacheck.checker.outcome import Deadline
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


#: A symbol in an S-expression (``|p0.pte[0]._PAGE_RW@x|`` is quoted, ``p0.vma.mapped@x`` not).
_SYMBOL = re.compile(r"\|([^|]*)\||([^\s()|]+)")


def _symbols(e: z3.ExprRef) -> set[str]:
    """The symbols ``e`` mentions (its variables among them), read off its S-expression: far
    quicker than walking the term through Z3's Python API."""
    return {m.group(1) if m.group(1) is not None else m.group(2) for m in _SYMBOL.finditer(e.sexpr())}


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
        self.clauses = clauses
        self._next: dict[int, z3.BoolRef] = {}
        self.low_x = Lowering(env(x))
        self.low_xy = Lowering(env(x, y))
        self.ts, self.x, self.y = ts, x, y
        # fields each action may change, and fields each clause reads: a clause over fields an
        # action leaves alone is re-established by itself (no solver call needed)
        self.writes = [{name for name, e in action.updates if not (e.op == "var" and e.payload == name)}
                       for action in ts.actions]
        names = {str(v): k for k, v in x.items()}
        self.reads = [{names[t] for t in _symbols(c) if t in names} for c in clauses]
        # one assertion holding every "tag => clause", so each solver gets it in one call
        implications = [z3.Implies(t, c) for t, c in zip(self.tags, clauses, strict=True)]
        self.tagged = fast_nary(z3.Z3_mk_and, implications) if implications else z3.BoolVal(True)
        self.state = self._solver(domain(ts.schema, x))
        self._steps: dict[int, z3.Solver] = {}

    def _solver(self, facts: list[z3.BoolRef]) -> z3.Solver:
        s = z3.Solver()
        s.set("core.minimize", True)
        s.add(*facts, self.tagged)
        return s

    def step(self, i: int) -> z3.Solver:
        """A solver over one step by action ``i`` (built on first use)."""
        if i not in self._steps:
            updates = dict(self.ts.actions[i].updates)
            moves = [self.y[f.name] == (self.low_x(updates[f.name]) if f.name in updates else self.x[f.name])
                     for f in self.ts.schema.fields]
            guard = self.low_x(self.ts.actions[i].guard)
            self._steps[i] = self._solver([*domain(self.ts.schema, self.x), guard, *moves])
        return self._steps[i]

    def ranges_after(self, i: int) -> z3.BoolRef:
        """The field ranges, after action ``i``, of the integer fields it writes."""
        written = [f for f in self.ts.schema.fields if f.kind == "int" and f.name in self.writes[i]]
        return z3.And(*[z3.And(self.y[f.name] >= f.lo, self.y[f.name] <= f.hi) for f in written])

    def next_clause(self, k: int) -> z3.BoolRef:
        """Clause ``k`` over the state after the step."""
        if k not in self._next:
            self._next[k] = z3.substitute(self.clauses[k], *self.rename)
        return self._next[k]

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
        chosen |= sup.needed(sup.step(i), sup.low_xy(check), chosen)
    for i in range(len(ts.actions)):
        if any(ts.schema[name].kind == "int" for name in sup.writes[i]):
            chosen |= sup.needed(sup.step(i), sup.ranges_after(i), chosen)
    pending = sorted(chosen)
    done: set[int] = set()
    while pending:
        k = pending.pop()
        if k in done:
            continue
        done.add(k)
        for i in range(len(ts.actions)):
            if not sup.reads[k] & sup.writes[i]:
                continue  # the step leaves the clause's fields alone: it supports itself
            new = sup.needed(sup.step(i), sup.next_clause(k), chosen) - chosen
            chosen |= new
            pending.extend(new)
    return sorted(chosen)
