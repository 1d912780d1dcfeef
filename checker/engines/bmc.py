"""Bounded model checking with Z3: shortest violations up to a depth.

One solver holds the unrolling from the initial states; each depth adds one transition, and every
query (a violation of length d, a situation at depth d) is asked under its own assumption
literal, so nothing is retracted and the solver keeps what it learnt.  Depths are tried in
increasing order, so the first violation found is a shortest one.  ``holds`` from this engine
means "no violation up to the depth", and only once the property's situation was reached.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import z3

from numacheck.checker.engines.explicit import Progress
from numacheck.checker.lowering.codegen import compile_system
from numacheck.checker.lowering.encoding import Encoding
from numacheck.checker.outcome import Deadline, Limits, Outcome, Path
from numacheck.checker.result import Stats
from numacheck.checker.traces.replay import ReplayError, replay, violates
from numacheck.model.expr import ModelError
from numacheck.model.system import Obligation, TransitionSystem


class Unrolling:
    """An incremental unrolling of ``ts`` from its initial states."""

    def __init__(self, ts: TransitionSystem, deadline: Deadline, tag: str = "b") -> None:
        self.enc = Encoding(ts, tag)
        self.solver = z3.Solver()
        self.solver.add(self.enc.init(0), *self.enc.domain(0))
        self.depth = 0
        self.calls = 0
        self.deadline = deadline
        self._lits = 0

    def extend(self) -> None:
        """Add one transition.  A reachable step that assigns a field a value outside its range
        is a model error, as in the explicit engine: the range constraints of the new state
        must not silently disable it."""
        k = self.depth
        self.solver.add(self.enc.trans(k))
        if self.query(z3.Not(z3.And(*self.enc.domain(k + 1)))) == z3.sat:
            raise ModelError(self._overflow(k))
        self.solver.add(*self.enc.domain(k + 1))
        self.depth += 1

    def _overflow(self, k: int) -> str:
        model = self.solver.model()
        action = self.enc.ts.actions[model.eval(self.enc.act(k)).as_long()]
        after = self.enc.state(k + 1)
        for f in self.enc.schema.fields:
            value = model.eval(after[f.name], model_completion=True)
            number = int(z3.is_true(value)) if f.kind == "bool" else value.as_long()
            if not f.lo <= number <= f.hi:
                return (f"{action.label} assigns {number} to {f.name}, outside its range "
                        f"({f.describe()}), {k + 1} steps from an initial state")
        return f"{action.label} leaves the field ranges {k + 1} steps from an initial state"

    def query(self, formula: z3.BoolRef) -> z3.CheckSatResult:
        """Is ``formula`` satisfiable together with the unrolling?"""
        self._lits += 1
        lit = z3.Bool(f"__q{self._lits}")
        self.solver.add(z3.Implies(lit, formula))
        self.solver.set("timeout", self.deadline.z3_ms())
        self.calls += 1
        return self.solver.check(lit)

    def bad(self, ob: Obligation, d: int) -> z3.BoolRef:
        """A violation of ``ob`` by a path of exactly ``d`` transitions."""
        parts = [z3.Not(self.enc.holds_at(ob, d))] if ob.invariant is not None else []
        if d >= 1 and ob.steps:
            parts.append(z3.Not(self.enc.step_ok(ob, d - 1)))
        return z3.Or(*parts) if parts else z3.BoolVal(False)

    def situation(self, ob: Obligation, d: int) -> z3.BoolRef:
        """The situation of ``ob`` occurs at depth ``d``."""
        parts = [self.enc.state_situation(ob, d)]
        if d >= 1:
            parts.append(self.enc.step_situation(ob, d - 1))
        return z3.Or(*parts)

    def path(self, d: int) -> Path:
        """The path of length ``d`` in the last model."""
        return self.enc.decode(self.solver.model(), d)

    def violation_at(self, obligations: Sequence[Obligation], j: int, d: int) -> Path | None:
        """A replayed violation of obligation ``j`` by a path of ``d`` steps, or None if there is
        none; SolverStoppedError when Z3 gives no answer (the time limit, or its own unknown)."""
        r = self.query(self.bad(obligations[j], d))
        if r == z3.unknown:
            raise SolverStoppedError("time limit reached" if self.deadline.expired()
                                     else f"Z3 answered unknown ({self.solver.reason_unknown()})")
        if r == z3.sat:
            return checked_path(self.enc.ts, obligations, j, self.path(d))
        return None


class SolverStoppedError(Exception):
    """Z3 answered ``unknown``: the verdict must be ``unknown`` too."""


def checked_path(ts: TransitionSystem, obligations: Sequence[Obligation], j: int, path: Path) -> Path:
    """``path`` if it replays on the model and violates obligation ``j``; else an EngineError."""
    compiled = compile_system(ts, obligations)
    try:
        replay(ts, compiled, path)
    except ReplayError as exc:
        raise EngineError(f"a symbolic counterexample does not replay on the model: {exc}") from None
    if not violates(compiled, j, path):
        raise EngineError("a symbolic counterexample does not violate its property on the model")
    return path


class EngineError(RuntimeError):
    """An engine disagrees with the model it checks: a bug in numacheck, not in the input."""


def bmc(ts: TransitionSystem, obligations: Sequence[Obligation], limits: Limits,
        progress: Progress | None = None) -> list[Outcome]:
    """Check every obligation up to ``limits.depth`` transitions."""
    deadline = Deadline(limits.timeout)
    unroll = Unrolling(ts, deadline)
    n = len(obligations)
    done: list[Outcome | None] = [None] * n
    situated = [False] * n
    stopped = ""
    checked = -1  # the last depth checked for every property
    start = time.monotonic()

    def stats(depth: int) -> Stats:
        return Stats(depth=depth, seconds=time.monotonic() - start, solver_calls=unroll.calls)

    for d in range(limits.depth + 1):
        if d:
            unroll.extend()
        for j, ob in enumerate(obligations):
            if done[j] is not None:
                continue
            try:
                path = unroll.violation_at(obligations, j, d)
            except SolverStoppedError as exc:
                stopped = f"{exc} at depth {d}"
                break
            if path is not None:
                done[j] = Outcome("violated", path=path, stats=stats(d), bounded=True, depth=d)
            if not situated[j] and done[j] is None:
                r = unroll.query(unroll.situation(ob, d))
                situated[j] = r == z3.sat
        if stopped:
            break
        checked = d
        if progress is not None:
            progress(0, 0, d, 0, deadline.elapsed())
        if all(o is not None for o in done):
            break
        if deadline.expired():
            stopped = f"time limit {limits.timeout:g}s reached after depth {d}"
            break
    reached = checked
    out = []
    for j, ob in enumerate(obligations):
        found = done[j]
        if found is not None:
            out.append(found)
        elif stopped:
            out.append(Outcome("unknown", stats=stats(max(reached, 0)), bounded=True, depth=max(reached, 0),
                               message=f"{stopped}; no violation up to depth {reached}" if reached >= 0
                               else stopped))
        elif not situated[j]:
            out.append(Outcome("unknown", stats=stats(reached), bounded=True, depth=reached,
                               message=f"no violation up to depth {reached}, but the situation was "
                                       f"not reached either: {ob.situation_text}"))
        else:
            out.append(Outcome("holds", stats=stats(reached), bounded=True, depth=reached,
                               message=f"no violation up to depth {reached}"))
    return out
