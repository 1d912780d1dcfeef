"""Houdini: the largest inductive subset of simple candidate clauses, as background lemmas.

Candidates are all two-literal clauses over the state's atoms (a boolean field, or an integer
field equal to one of its values).  Those false in a state met on random runs of the model (the
initial states included) are dropped at once; then, for every
action, a solver looks for a step from a state satisfying all surviving candidates to one that
falsifies some, and every candidate the step falsifies is dropped, until no action can falsify
any.  What survives is inductive by construction (and re-checked as part of every certificate),
so it only removes unreachable states.  Spacer then starts from these lemmas instead of
rediscovering dozens of pairwise facts ("a none PTE maps no frame", "an exclusive page is mapped
once") one counterexample at a time, which is what made two-process instances slow.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import z3

from numacheck.checker.lowering.codegen import compile_system
from numacheck.checker.lowering.z3lower import Lowering, domain, env, state_vars
from numacheck.checker.outcome import Deadline
from numacheck.model.expr import Value
from numacheck.model.system import TransitionSystem

#: Above this many candidates only pairs within one group (a process, a frame) or with a
#: frame field are tried, to keep larger instances affordable.
_MAX_CANDIDATES = 20_000


class HoudiniTimeoutError(Exception):
    """The time limit ran out before the candidate set became inductive."""


#: Random runs used to discard candidates before any solving, and their length.
_RUNS, _RUN_LENGTH = 400, 60


@dataclass(frozen=True)
class _Literal:
    """``field == value`` (for a boolean field value is True/False) or its negation."""

    field: str
    value: Value
    positive: bool

    def holds(self, state: dict[str, Value]) -> bool:
        return (state[self.field] == self.value) is self.positive

    def formula(self, v: dict[str, z3.ExprRef]) -> z3.BoolRef:
        atom = v[self.field] if isinstance(self.value, bool) else v[self.field] == self.value
        return atom if self.positive else z3.Not(atom)


def _literals(ts: TransitionSystem) -> list[_Literal]:
    out = []
    for f in ts.schema.fields:
        values: list[Value] = [True] if f.kind == "bool" else list(range(f.lo, f.hi + 1))
        for v in values:
            out += [_Literal(f.name, v, True), _Literal(f.name, v, False)]
    return out


def candidates(ts: TransitionSystem) -> list[tuple[_Literal, _Literal]]:
    """Two-literal clauses over the atoms (without the tautologies ``x | !x``)."""
    lits = _literals(ts)
    pairs = [(a, b) for a, b in itertools.combinations(lits, 2)
             if a.field != b.field or a.value != b.value]
    if len(pairs) > _MAX_CANDIDATES:
        def group(lit: _Literal) -> str:
            return lit.field.split(".", 1)[0]

        frames = ("anon", "shmem")
        pairs = [(a, b) for a, b in pairs if group(a) == group(b)
                 or group(a).startswith(frames) or group(b).startswith(frames)]
    return pairs


def _simulate(ts: TransitionSystem, seed: int = 0) -> list[dict[str, Value]]:
    """States met on random runs from the initial states."""
    compiled = compile_system(ts, [])
    rng = random.Random(seed)
    seen: set[int] = set()
    for _ in range(_RUNS):
        state = rng.choice(ts.initial_states())
        seen.add(state)
        for _ in range(_RUN_LENGTH):
            succs = compiled.expand(state)
            if not succs:
                break
            state = rng.choice(succs)[1]
            seen.add(state)
    return [ts.schema.unpack(s) for s in seen]


def houdini(ts: TransitionSystem, deadline: Deadline, seed: int = 0) -> tuple[list[z3.BoolRef], int]:
    """The inductive candidate clauses over the ``@x`` state variables, and the solver calls."""
    x, y = state_vars(ts.schema, "x"), state_vars(ts.schema, "y")
    alive = candidates(ts)
    lits = sorted({lit for pair in alive for lit in pair}, key=repr)
    index = {lit: k for k, lit in enumerate(lits)}
    pairs = [(index[a], index[b]) for a, b in alive]
    for state in _simulate(ts, seed):
        truth = [lit.holds(state) for lit in lits]
        pairs = [(a, b) for a, b in pairs if truth[a] or truth[b]]
    alive = [(lits[a], lits[b]) for a, b in pairs]
    low = Lowering(env(x))
    steps = []
    for action in ts.actions:
        updates = dict(action.updates)
        moves = [y[f.name] == (low(updates[f.name]) if f.name in updates else x[f.name])
                 for f in ts.schema.fields]
        steps.append(z3.And(low(action.guard), *moves))
    pre = {pair: z3.Or(pair[0].formula(x), pair[1].formula(x)) for pair in alive}
    post = {pair: z3.And(z3.Not(pair[0].formula(y)), z3.Not(pair[1].formula(y))) for pair in alive}
    solvers = []
    for step in steps:
        s = z3.Solver()
        s.add(*domain(ts.schema, x), step)
        solvers.append(s)
    calls = 0
    changed = True
    while changed:
        changed = False
        for s in solvers:
            while alive:
                if deadline.expired():
                    raise HoudiniTimeoutError
                s.push()
                s.set("timeout", deadline.z3_ms())
                s.add(fast_nary(z3.Z3_mk_and, [pre[pair] for pair in alive]))
                s.add(fast_nary(z3.Z3_mk_or, [post[pair] for pair in alive]))
                r = s.check()
                calls += 1
                after = ({f.name: _value(s.model(), y[f.name], f.kind) for f in ts.schema.fields}
                         if r == z3.sat else None)
                s.pop()
                if r == z3.unknown:
                    raise HoudiniTimeoutError
                if after is None:
                    break
                alive = [(a, b) for a, b in alive if a.holds(after) or b.holds(after)]
                changed = True
    return [pre[pair] for pair in alive], calls


def fast_nary(make: object, terms: list[z3.BoolRef]) -> z3.BoolRef:
    """An n-ary and/or straight through the C API: z3.And/Or type-check every argument in
    Python, which dominated the run time with hundreds of clauses per query."""
    ctx = terms[0].ctx
    array = (z3.Ast * len(terms))(*[t.as_ast() for t in terms])
    return z3.BoolRef(make(ctx.ref(), len(terms), array), ctx)  # type: ignore[operator]


def _value(model: z3.ModelRef, v: z3.ExprRef, kind: str) -> Value:
    got = model.eval(v, model_completion=True)
    return z3.is_true(got) if kind == "bool" else int(got.as_long())
