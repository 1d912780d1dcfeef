"""k-induction with simple-path constraints.

Base case: the bounded unrolling from the initial states (as in bmc), which also finds
violations and the property's situation.  Step case, on a separate solver: a path of k + 1
states from *any* state, the property holding on the first k states (or steps), violated at
the last; the first k states are pairwise distinct (a step that violates a step check may
return to one of them; a state that violates the invariant differs from them).  Unsatisfiable
means the property is k-inductive; with the base case clean to depth k it holds at every
depth.  When no k up to the limit closes, the answer is ``unknown`` with the counterexample to
induction found at the largest k.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import z3

from numacheck.checker.engines.bmc import SolverStoppedError, Unrolling
from numacheck.checker.engines.explicit import Progress
from numacheck.checker.engines.houdini import HoudiniTimeoutError, houdini
from numacheck.checker.lowering.encoding import Encoding
from numacheck.checker.lowering.z3lower import state_vars
from numacheck.checker.outcome import Deadline, Limits, Outcome
from numacheck.checker.result import Stats
from numacheck.model.system import Obligation, TransitionSystem


class StepCase:
    """The inductive step for one obligation, deepened one state at a time."""

    def __init__(self, ts: TransitionSystem, ob: Obligation, deadline: Deadline, tag: str,
                 background: z3.BoolRef) -> None:
        self.ob = ob
        self.enc = Encoding(ts, tag)
        self.solver = z3.Solver()
        # The background lemmas are invariants over the ``@x`` variables; each state of the
        # step case satisfies them, which removes unreachable states from its paths.
        x = state_vars(ts.schema, "x")
        self.background = [lambda k: z3.substitute(background, *[(x[n], v) for n, v in
                                                                  self.enc.state(k).items()])]
        self.solver.add(*self.enc.domain(0), self.background[0](0))
        self.k = 0
        self.deadline = deadline
        self.calls = 0
        self.last = z3.unknown

    def deepen(self) -> z3.CheckSatResult:
        """Add state k + 1 and ask whether the property can fail there after k good ones."""
        enc, k = self.enc, self.k
        self.solver.add(enc.trans(k), *enc.domain(k + 1), self.background[0](k + 1))
        # A shortest violation is a simple path up to its last state: states 0..k are
        # pairwise distinct.  Not the last: a bad step may lead back to one of them (a
        # self-loop that fails a step check is one step long), and a bad state differs from
        # them anyway (the invariant holds on them).
        self.solver.add(*[enc.distinct(i, k) for i in range(k)])
        self.solver.add(enc.holds_at(self.ob, k))
        if k >= 1:
            self.solver.add(enc.step_ok(self.ob, k - 1))
        self.k = k + 1
        bad = []
        if self.ob.invariant is not None:
            bad.append(z3.Not(enc.holds_at(self.ob, self.k)))
        if self.ob.steps:
            bad.append(z3.Not(enc.step_ok(self.ob, self.k - 1)))
        lit = z3.Bool(f"__step{self.k}")
        self.solver.add(z3.Implies(lit, z3.Or(*bad)))
        self.solver.set("timeout", self.deadline.z3_ms())
        self.calls += 1
        self.last = self.solver.check(lit)
        return self.last

    def cti(self) -> str:
        """The counterexample to induction of the last query, as the fields of its first state."""
        if self.last != z3.sat:
            return "none (the step case was not reached)"
        model = self.solver.model()
        values = self.enc.values(model, 0)
        shown = [f"{k}={self.enc.schema[k].render(v)}" for k, v in values.items()
                 if v != self.enc.schema[k].default]
        return f"{self.k}-step path from an unreachable state ({', '.join(shown) or 'all defaults'})"


def kind(ts: TransitionSystem, obligations: Sequence[Obligation], limits: Limits,
         progress: Progress | None = None) -> list[Outcome]:
    """k-induction for every obligation, up to ``limits.depth``."""
    deadline = Deadline(limits.timeout)
    start = time.monotonic()
    base = Unrolling(ts, deadline)
    try:
        lemmas, prepass_calls = houdini(ts, deadline, limits.seed)
    except HoudiniTimeoutError:
        lemmas, prepass_calls = [], 0
    background = z3.And(*lemmas)
    steps = [StepCase(ts, ob, deadline, f"k{j}_", background) for j, ob in enumerate(obligations)]
    n = len(obligations)
    done: list[Outcome | None] = [None] * n
    inductive_at: list[int | None] = [None] * n
    situated = [False] * n
    stopped = ""

    def stats(depth: int) -> Stats:
        calls = prepass_calls + base.calls + sum(s.calls for s in steps)
        return Stats(depth=depth, seconds=time.monotonic() - start, solver_calls=calls)

    for d in range(limits.depth + 1):
        if d:
            base.extend()
        for j, ob in enumerate(obligations):
            if done[j] is not None:
                continue
            try:
                path = base.violation_at(obligations, j, d)
            except SolverStoppedError as exc:
                stopped = f"{exc} in the base case at depth {d}"
                break
            if path is not None:
                done[j] = Outcome("violated", path=path, stats=stats(d), bounded=True, depth=d)
                continue
            if not situated[j]:
                situated[j] = base.query(base.situation(ob, d)) == z3.sat
            if inductive_at[j] is None and d >= 1:
                r = steps[j].deepen()
                if r == z3.unsat:
                    inductive_at[j] = steps[j].k
                elif r == z3.unknown:
                    where = f"in the step case at k={steps[j].k}"
                    stopped = (f"time limit {limits.timeout:g}s reached {where}" if deadline.expired()
                               else f"Z3 answered unknown {where}")
                    break
            k = inductive_at[j]
            if k is not None and d >= k and situated[j]:
                done[j] = Outcome("holds", stats=stats(d), bounded=False, depth=k,
                                  message=f"{k}-inductive (simple paths); base case clean to depth {d}")
        if progress is not None:
            progress(0, 0, d, 0, deadline.elapsed())
        if stopped or all(o is not None for o in done):
            break
        if deadline.expired():
            stopped = f"time limit {limits.timeout:g}s reached at depth {d}"
            break
    out = []
    for j, ob in enumerate(obligations):
        found = done[j]
        if found is not None:
            out.append(found)
            continue
        reach = max(base.depth - 1, 0) if stopped else base.depth  # the last depth fully checked
        if stopped:
            why = stopped
        elif inductive_at[j] is not None:
            why = (f"{inductive_at[j]}-inductive, but the situation was not reached within depth "
                   f"{reach}: {ob.situation_text}")
        else:
            why = f"not k-inductive for k <= {steps[j].k}; counterexample to induction: {steps[j].cti()}"
        out.append(Outcome("unknown", stats=stats(reach), bounded=True, depth=reach, message=why))
    return out
