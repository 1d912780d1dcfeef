"""Unbounded proofs with Z3's Spacer (PDR/IC3 on constrained Horn clauses).

The system becomes Horn clauses over one relation ``Inv`` of the state: ``init => Inv``, one
clause per action ``Inv(x) & guard => Inv(update(x))``, and a query clause for the violation
(``Inv(x) & !P(x)``, or for a step property ``Inv(x) & guard & !check(x, update(x))``).  When
Spacer proves the query unreachable, the inductive invariant it found is re-checked by a plain
Z3 solver (initiation, consecution for every action, and that it implies the property) before
``holds`` is reported; the property's situation is then shown reachable by a second query.  A
counterexample comes back as the sequence of clauses used, is replayed on the model, and is
shortened with BMC when a shorter one exists.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import z3

from numacheck.checker.engines.bmc import SolverStoppedError, Unrolling
from numacheck.checker.engines.core import CoreStoppedError, clauses_of, needed_clauses
from numacheck.checker.engines.explicit import Progress
from numacheck.checker.engines.houdini import HoudiniTimeoutError, houdini
from numacheck.checker.lowering.codegen import compile_system
from numacheck.checker.lowering.encoding import literal
from numacheck.checker.lowering.z3lower import Lowering, domain, env, state_vars
from numacheck.checker.outcome import Deadline, Limits, Outcome, Path
from numacheck.checker.result import Stats
from numacheck.checker.traces.replay import violates
from numacheck.model.schema import Field, Schema
from numacheck.model.system import Obligation, TransitionSystem

#: Spacer's run time on this model is heavy-tailed: the same query takes 2s or over 100s
#: depending on the random seed and on the order of clauses (seen across seeds on the built-in
#: variants).  So each question is asked with restarts: a fresh Spacer per attempt, a new seed,
#: alternating rule inlining (off suits most proofs, on most counterexamples), and a budget that
#: doubles every two attempts, starting here.
RESTART_BUDGET = 4.0
#: The BMC lane's time after each unanswered Spacer attempt, as a share of that attempt's budget.
LANE_SHARE = 0.5
_INLINING: tuple[dict[str, bool], ...] = ({"xform.inline_linear": False, "xform.inline_eager": False}, {})


class Horn:
    """The Horn-clause encoding of one system, with one query relation per question."""

    def __init__(self, ts: TransitionSystem, deadline: Deadline, background: list[z3.BoolRef],
                 attempt: int = 0, seed: int = 0) -> None:
        self.ts = ts
        self.schema = ts.schema
        self.x = state_vars(ts.schema, "x")
        self.args = [self.x[f.name] for f in ts.schema.fields]
        self.inv = z3.Function("Inv", *[v.sort() for v in self.args], z3.BoolSort())
        self.fp = z3.Fixedpoint()
        self.fp.set(engine="spacer", timeout=deadline.z3_ms())
        self.fp.set("spacer.random_seed", seed + attempt)
        for key, value in _INLINING[attempt % 2].items():
            self.fp.set(key, value)
        self.fp.register_relation(self.inv)
        for v in self.args:
            self.fp.declare_var(v)
        self.low = Lowering(env(self.x))
        # Range constraints in every clause body: Spacer then never generalises over values a
        # field cannot hold (5-10x faster on write-requires-exclusive, measured on linux-4.0).
        self.dom = domain(ts.schema, self.x)
        # Inductive lemmas from the Houdini pass hold in every reachable state; assuming them in
        # each clause body only removes unreachable states.
        self.background = z3.And(*background)
        self.dom.append(self.background)
        self.post = [self._next(i) for i in range(len(ts.actions))]
        for n, values in enumerate(ts.init):
            eqs = [self.x[f.name] == literal(values.get(f.name, f.default)) for f in self.schema.fields]
            self.fp.rule(self.inv(*self.args), eqs, name=f"init{n}")
        for i, action in enumerate(ts.actions):
            self.fp.rule(self.inv(*[self.post[i][f.name] for f in self.schema.fields]),
                         [self.inv(*self.args), *self.dom, self.low(action.guard)], name=f"a{i}")
        self.calls = 0
        self._queries = 0

    def _next(self, i: int) -> dict[str, z3.ExprRef]:
        updates = dict(self.ts.actions[i].updates)
        return {f.name: self.low(updates[f.name]) if f.name in updates else self.x[f.name]
                for f in self.schema.fields}

    def _step_lowering(self, i: int) -> Lowering:
        return Lowering(env(self.x, self.post[i]))

    def query(self, state: z3.BoolRef | None, steps: Sequence[tuple[int, z3.BoolRef | None]],
              prefix: str) -> z3.CheckSatResult:
        """Can a reachable state satisfy ``state``, or a step of action i satisfy its formula?"""
        self._queries += 1
        goal = z3.Bool(f"{prefix}{self._queries}")
        self.fp.register_relation(goal.decl())
        if state is not None:
            self.fp.rule(goal, [self.inv(*self.args), *self.dom, state], name=f"{prefix}_state")
        for i, formula in steps:
            body = [self.inv(*self.args), *self.dom, self.low(self.ts.actions[i].guard)]
            if formula is not None:
                body.append(formula)
            self.fp.rule(goal, body, name=f"{prefix}_a{i}")
        self.calls += 1
        try:
            return self.fp.query(goal)
        except z3.Z3Exception as exc:  # Spacer reports its timeout as a cancellation
            if "cancel" in str(exc):
                return z3.unknown
            raise

    def violation(self, ob: Obligation) -> z3.CheckSatResult:
        """Query: can ``ob`` be violated?"""
        state = z3.Not(self.low(ob.invariant)) if ob.invariant is not None else None
        steps = [(i, z3.Not(self._step_lowering(i)(check))) for i, check in ob.steps]
        return self.query(state, steps, "bad")

    def situation(self, ob: Obligation) -> z3.CheckSatResult:
        """Query: is the situation of ``ob`` reachable?"""
        state = self.low(ob.sometimes) if ob.sometimes is not None else None
        steps = [(i, self._step_lowering(i)(sit)) for i, sit in ob.situation_steps]
        return self.query(state, steps, "sit")

    def actions_along_trace(self) -> list[int]:
        """The action indices of the last counterexample, first to last (the query step last)."""
        names = [str(n) for n in self.fp.get_rule_names_along_trace()]
        out = []
        for name in reversed(names):
            tail = name.rsplit("_", 1)[-1] if name.startswith(("bad", "sit")) else name
            if tail.startswith("a") and tail[1:].isdigit():
                out.append(int(tail[1:]))
        return out

    def invariant(self) -> z3.BoolRef:
        """The inductive invariant of the last proof, over the state variables."""
        cover = self.fp.get_cover_delta(-1, self.inv)
        return z3.substitute_vars(cover, *self.args)


def check_certificate(horn: Horn, ob: Obligation, inv: z3.BoolRef, deadline: Deadline) -> str:
    """Re-check an invariant with a plain solver; returns '' when it proves ``ob``, else why not.

    Checked: every initial state satisfies it; from a state satisfying it and the field ranges,
    every action leads to a state satisfying it and the field ranges again (so the ranges the
    clauses assume are themselves invariant); and it implies the property.
    """
    ts, x = horn.ts, horn.x
    y = state_vars(ts.schema, "y")
    dom_x = z3.And(*domain(ts.schema, x))
    dom_y = z3.And(*domain(ts.schema, y))
    rename = [(x[k], y[k]) for k in x]
    inv_next = z3.substitute(inv, *rename)
    low_x = Lowering(env(x))
    low_xy = Lowering(env(x, y))

    def valid(claim: z3.BoolRef, what: str) -> str:
        s = z3.Solver()
        s.set("timeout", deadline.z3_ms())
        s.add(z3.Not(claim))
        r = s.check()
        return "" if r == z3.unsat else f"{what}: {r}"

    for values in ts.init:
        init = z3.And(*[x[f.name] == literal(values.get(f.name, f.default)) for f in ts.schema.fields])
        problem = valid(z3.Implies(init, inv), "initiation")
        if problem:
            return problem
    for i, action in enumerate(ts.actions):
        updates = dict(action.updates)
        moves = [y[f.name] == (low_x(updates[f.name]) if f.name in updates else x[f.name])
                 for f in ts.schema.fields]
        step = z3.And(inv, dom_x, low_x(action.guard), *moves)
        problem = valid(z3.Implies(step, z3.And(inv_next, dom_y)), f"consecution of {action.label}")
        if problem:
            return problem
        checks = [c for a, c in ob.steps if a == i]
        if checks:
            problem = valid(z3.Implies(step, z3.And(*[low_xy(c) for c in checks])),
                            f"step check on {action.label}")
            if problem:
                return problem
    if ob.invariant is not None:
        return valid(z3.Implies(z3.And(inv, dom_x), low_x(ob.invariant)), "implies the property")
    return ""


def render_invariant(inv: z3.BoolRef, schema: Schema) -> str:
    """The invariant as one clause per line, fields named the kernel's way (``p1.pte[0]._PAGE_RW``,
    ``anon0.PageAnonExclusive``); Spacer's own lemmas come first, then the Houdini background."""
    clauses = clauses_of(inv)
    names = {f"{f.name}@x": f for f in schema.fields}

    def shown(f: Field) -> str:
        return f.name

    def atom(e: z3.ExprRef) -> str:
        if z3.is_const(e) and str(e) in names:
            return shown(names[str(e)])
        if z3.is_eq(e) or z3.is_le(e) or z3.is_ge(e) or z3.is_lt(e) or z3.is_gt(e):
            a, b = e.children()
            op = {z3.Z3_OP_EQ: "=", z3.Z3_OP_LE: "<=", z3.Z3_OP_GE: ">=", z3.Z3_OP_LT: "<",
                  z3.Z3_OP_GT: ">"}[e.decl().kind()]
            field = names.get(str(a))
            if field is not None and z3.is_int_value(b):
                return f"{shown(field)} {op} {field.render(b.as_long())}"
            return f"{atom(a)} {op} {atom(b)}"
        if z3.is_not(e):
            return "!" + atom(e.children()[0])
        return str(e)

    def clause(c: z3.ExprRef) -> str:
        lits = c.children() if z3.is_or(c) else [c]
        neg = [atom(lit.children()[0]) for lit in lits if z3.is_not(lit)]
        pos = [atom(lit) for lit in lits if not z3.is_not(lit)]
        if neg and pos:
            return f"{' & '.join(neg)} => {' | '.join(pos)}"
        if neg:
            return "!(" + " & ".join(neg) + ")"
        return " | ".join(pos)

    return "\n".join(clause(c) for c in clauses)


def _spacer_path(ts: TransitionSystem, obligations: Sequence[Obligation], j: int,
                 horn: Horn) -> Path | None:
    """Spacer's counterexample as a path, if it replays and violates obligation ``j``."""
    compiled = compile_system(ts, obligations)
    state = ts.initial_states()[0]
    path: Path = [(-1, state)]
    for a in horn.actions_along_trace():
        succ = [t for b, t, _, _ in compiled.expand(state) if b == a]
        if not succ:
            return None
        state = succ[0]
        path.append((a, state))
    return path if violates(compiled, j, path) else None


def _shorter(lane: BmcLane, below: int) -> Path | None:
    """A violation shorter than ``below`` steps, by BMC from where the lane's search stopped."""
    lane.limit = min(lane.limit, below - 1)
    return lane.run(lane.deadline.remaining())


def ask(ts: TransitionSystem, background: list[z3.BoolRef], deadline: Deadline,
        question: Callable[[Horn], z3.CheckSatResult], seed: int = 0,
        between: Callable[[float], Path | None] | None = None,
        ) -> tuple[z3.CheckSatResult, Horn, int, Path | None]:
    """Ask ``question`` of fresh Spacer instances with restarts until one answers or time is up.

    After each unanswered attempt ``between`` (the BMC lane) gets a share of its budget and may
    end the search with a path.  Returns Spacer's last answer, the Horn instance that gave it
    (for its trace or invariant), the number of attempts, and the path ``between`` found.
    """
    attempt = 0
    while True:
        budget = min(RESTART_BUDGET * 2 ** (attempt // 2), deadline.remaining())
        horn = Horn(ts, Deadline(max(budget, 0.001)), background, attempt, seed)
        answer = question(horn)
        attempt += 1
        if answer != z3.unknown or deadline.expired():
            return answer, horn, attempt, None
        path = between(budget * LANE_SHARE) if between is not None else None
        if path is not None or deadline.expired():
            return z3.unknown, horn, attempt, path


class BmcLane:
    """The BMC half of the engine: an unrolling of one obligation, deepened in time slices.

    Spacer proves in seconds but can take minutes to find a counterexample that BMC finds in
    under one, so the engine alternates: each Spacer attempt that gives no answer is followed by
    BMC for half its budget, resumed where the last slice stopped.  Depths go up
    one at a time, so a violation found here is a shortest one.
    """

    def __init__(self, ts: TransitionSystem, obligations: Sequence[Obligation], j: int,
                 deadline: Deadline, depth: int) -> None:
        self.ts, self.obligations, self.j = ts, obligations, j
        self.unroll = Unrolling(ts, deadline, tag="l")
        self.deadline = deadline
        self.limit = depth
        self.next_depth = 0

    def run(self, budget: float) -> Path | None:
        """Deepen for ``budget`` seconds; the violating path if one was found."""
        slice_ = Deadline(min(budget, self.deadline.remaining()))
        self.unroll.deadline = slice_
        while self.next_depth <= self.limit and not slice_.expired():
            d = self.next_depth
            while self.unroll.depth < d:
                self.unroll.extend()
            try:
                path = self.unroll.violation_at(self.obligations, self.j, d)
            except SolverStoppedError:
                return None  # the slice ran out; this depth is asked again next time
            if path is not None:
                return path
            self.next_depth += 1
        return None

    def witness(self) -> int | None:
        """The first depth at which the obligation's situation occurs (None if not within reach)."""
        self.unroll.deadline = self.deadline
        ob = self.obligations[self.j]
        for d in range(self.limit + 1):
            while self.unroll.depth < d:
                self.unroll.extend()
            r = self.unroll.query(self.unroll.situation(ob, d))
            if r == z3.sat:
                return d
            if r == z3.unknown:
                break
        return None


def pdr_one(ts: TransitionSystem, obligations: Sequence[Obligation], j: int, limits: Limits,
            background: list[z3.BoolRef]) -> Outcome:
    """Prove or refute obligation ``j`` with Spacer (and its BMC lane), given background lemmas."""
    ob = obligations[j]
    deadline = Deadline(limits.timeout)
    start = time.monotonic()
    lane = BmcLane(ts, obligations, j, deadline, limits.depth)

    def stats(depth: int) -> Stats:
        return Stats(depth=depth, seconds=time.monotonic() - start,
                     solver_calls=tries + lane.unroll.calls)

    r, horn, tries, found = ask(ts, background, deadline, lambda h: h.violation(ob), limits.seed,
                                between=lane.run)
    attempts = f"{tries} Spacer attempt(s)"
    if found is not None:
        return Outcome("violated", path=found, stats=stats(len(found) - 1), depth=len(found) - 1,
                       notes=(f"found by the BMC lane after {attempts} without an answer",))
    if r == z3.sat:
        path = _spacer_path(ts, obligations, j, horn)
        notes: tuple[str, ...] = (f"found by Spacer ({attempts})",)
        if path is None:
            # Spacer does not always name the clauses of a trivial trace; BMC rebuilds it.
            path = lane.run(deadline.remaining())
            notes = (f"Spacer found a violation ({attempts}) without a usable trace; BMC rebuilt it",)
            if path is None:
                return Outcome("unknown", stats=stats(0),
                               message="Spacer found a violation, but neither its trace nor BMC "
                                       f"up to depth {limits.depth} gives one that replays")
        else:
            shorter = _shorter(lane, len(path) - 1)
            if shorter is not None:
                notes += (f"Spacer's counterexample had {len(path) - 1} steps; BMC found one of "
                          f"{len(shorter) - 1}",)
                path = shorter
        return Outcome("violated", path=path, stats=stats(len(path) - 1), depth=len(path) - 1,
                       notes=notes)
    if r == z3.unknown:
        checked = lane.next_depth - 1
        bmc_part = (f"BMC found no violation up to depth {checked}" if checked >= 0
                    else "BMC checked no depth")
        return Outcome("unknown", stats=stats(max(checked, 0)), bounded=True, depth=max(checked, 0),
                       message=f"Spacer gave no answer after {attempts} and {bmc_part} "
                               f"({_reason(horn, deadline, limits)})")
    inv = z3.And(horn.invariant(), horn.background)
    problem = check_certificate(horn, ob, inv, deadline)
    certificate = render_invariant(inv, ts.schema)
    if problem:
        return Outcome("unknown", stats=stats(0), certificate=certificate,
                       message=f"Spacer's invariant failed the independent check ({problem})")
    core = _needed_part(horn, ob, inv, deadline)
    # Non-vacuity: a witness of the situation is a short run, which BMC finds in a moment where
    # Spacer's search for one is slow; only when none exists within the depth limit does Spacer
    # decide whether the situation is reachable at all.
    sit = z3.sat if lane.witness() is not None else None
    if sit is None:
        sit, horn, more, _ = ask(ts, background, deadline, lambda h: h.situation(ob), limits.seed)
        tries += more
    if sit == z3.unsat:
        return Outcome("vacuous", stats=stats(0), certificate=certificate, certificate_checked=True,
                       certificate_core=core,
                       message=f"the situation it is about is unreachable (PDR): {ob.situation_text}")
    if sit == z3.unknown:
        return Outcome("unknown", stats=stats(0), certificate=certificate, certificate_checked=True,
                       certificate_core=core,
                       message="proved, but the situation's reachability is unknown "
                               f"({_reason(horn, deadline, limits)})")
    return Outcome("holds", stats=stats(0), bounded=False, certificate=certificate,
                   certificate_checked=True, certificate_core=core, notes=(attempts,),
                   message=f"inductive invariant of {len(certificate.splitlines())} clauses, checked")


def _needed_part(horn: Horn, ob: Obligation, inv: z3.BoolRef, deadline: Deadline) -> str | None:
    """The clauses of the checked invariant ``inv`` the proof needs (see checker/engines/core.py), once
    they pass the same certificate check; None when they could not be found in time."""
    clauses = clauses_of(inv)
    try:
        needed = [clauses[k] for k in needed_clauses(horn.ts, horn.x, ob, clauses, deadline)]
    except CoreStoppedError:
        return None
    part = z3.And(*needed)
    if check_certificate(horn, ob, part, deadline):
        return None
    return render_invariant(part, horn.schema) or "true"


def _reason(horn: Horn, deadline: Deadline, limits: Limits) -> str:
    if deadline.expired():
        return f"time limit {limits.timeout:g}s reached"
    return horn.fp.reason_unknown() or "unknown"


def pdr(ts: TransitionSystem, obligations: Sequence[Obligation], limits: Limits,
        progress: Progress | None = None) -> list[Outcome]:
    """Every obligation with Spacer, after one Houdini pass shared by all of them.

    The time limit applies to the Houdini pass and to each obligation separately.
    """
    start = time.monotonic()
    try:
        background, calls = houdini(ts, Deadline(limits.timeout), limits.seed)
    except HoudiniTimeoutError:
        stats = Stats(seconds=time.monotonic() - start)
        why = f"time limit {limits.timeout:g}s reached in the Houdini pass"
        return [Outcome("unknown", stats=stats, message=why) for _ in obligations]
    prepass = time.monotonic() - start
    out = []
    for j in range(len(obligations)):
        outcome = pdr_one(ts, obligations, j, limits, background)
        outcome.stats.seconds += prepass if j == 0 else 0.0
        outcome.stats.solver_calls += calls if j == 0 else 0
        outcome.notes = (*outcome.notes, f"Houdini: {len(background)} inductive clauses in "
                                         f"{prepass:.1f}s, shared by every property of the run")
        out.append(outcome)
        if progress is not None:
            progress(0, 0, 0, len(obligations) - j - 1, time.monotonic() - start)
    return out
