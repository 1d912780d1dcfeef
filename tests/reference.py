"""A plain breadth-first search, one Python state at a time: the array engine's reference.

It uses the single-state lowering (codegen's ``expand``) and a parent dictionary, the simplest
search that is obviously right, so the array engine's state counts, verdicts and shortest
lengths can be compared with it on generated systems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from numacheck.checker.lowering.codegen import compile_system
from numacheck.model.system import Obligation, TransitionSystem


@dataclass
class ReferenceResult:
    states: int
    verdicts: list[str]
    depths: list[int | None]  # shortest violation length per obligation


def reference_search(ts: TransitionSystem, obligations: Sequence[Obligation]) -> ReferenceResult:
    """Explore every reachable state; per obligation its shortest violation (None if none)."""
    compiled = compile_system(ts, obligations)
    n = len(obligations)
    depth_of: dict[int, int] = {}
    frontier = ts.initial_states()
    shortest: list[int | None] = [None] * n
    reached = 0
    for s in frontier:
        depth_of[s] = 0
    d = 0
    while frontier:
        nxt = []
        for s in frontier:
            vm, sm = compiled.check_state(s)
            reached |= sm
            for j in range(n):
                if vm >> j & 1 and shortest[j] is None:
                    shortest[j] = d
            for _, t, svm, ssm in compiled.expand(s):
                reached |= ssm
                for j in range(n):
                    if svm >> j & 1 and (shortest[j] is None or shortest[j] > d + 1):  # type: ignore[operator]
                        shortest[j] = d + 1
                if t not in depth_of:
                    depth_of[t] = d + 1
                    nxt.append(t)
        frontier = nxt
        d += 1
    verdicts = []
    for j, ob in enumerate(obligations):
        if shortest[j] is not None:
            verdicts.append("violated")
        elif ob.has_situation and not reached >> j & 1:
            verdicts.append("vacuous")
        else:
            verdicts.append("holds")
    return ReferenceResult(len(depth_of), verdicts, shortest)
