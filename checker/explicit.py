"""Explicit-state breadth-first exploration: shortest counterexamples, exact state counts.

All obligations of a system are checked in one search.  States are packed integers; each
discovered state remembers its parent and the action that reached it, packed in one integer, so
a trace is rebuilt by walking back.  Because the search goes level by level, the first violation
of an obligation is a shortest one, for invariants and step checks alike.  The search stops when
every obligation is violated, when the state space is exhausted, or at a limit; an obligation
not settled by then is ``unknown``, never ``holds``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from numacheck.checker.codegen import compile_system
from numacheck.checker.outcome import Limits, Outcome, Path
from numacheck.checker.resources import peak_mb, rss_mb
from numacheck.checker.result import Stats
from numacheck.model.system import Obligation, TransitionSystem

#: Called now and then with (states, transitions, depth, queue length, seconds).
Progress = Callable[[int, int, int, int, float], None]

_CHECK_EVERY = 4096


def _path(parent: dict[int, int], n_actions: int, state: int) -> Path:
    steps: Path = []
    while True:
        link = parent[state]
        if link < 0:
            steps.append((-1, state))
            break
        prev, action = divmod(link, n_actions)
        steps.append((action, state))
        state = prev
    steps.reverse()
    return steps


def explore(
    ts: TransitionSystem,
    obligations: Sequence[Obligation],
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> list[Outcome]:
    """Check every obligation on ``ts``; one outcome per obligation, in order."""
    limits = limits or Limits()
    compiled = compile_system(ts, obligations)
    visit, check_state = compiled.visit, compiled.check_state
    n_actions = max(1, len(ts.actions))
    n = len(obligations)
    outcomes: list[Outcome | None] = [None] * n
    open_mask = (1 << n) - 1
    reached = 0  # situations seen
    fired = [0] * len(ts.actions)
    start = time.monotonic()
    depth = 0

    def stats(at_depth: int) -> Stats:
        counts: dict[str, int] = {}
        for a, c in zip(ts.actions, fired, strict=True):
            counts[a.op] = counts.get(a.op, 0) + c
        return Stats(states=len(parent), transitions=sum(fired), depth=at_depth,
                     seconds=time.monotonic() - start, peak_memory_mb=peak_mb(), op_counts=counts)

    def settle(mask: int, path: Path) -> None:
        nonlocal open_mask
        for j in range(n):
            if mask >> j & 1 and open_mask >> j & 1:
                outcomes[j] = Outcome("violated", path=path, stats=stats(len(path) - 1),
                                      bounded=True, depth=len(path) - 1)
                open_mask &= ~(1 << j)

    parent: dict[int, int] = {}
    frontier: list[int] = []
    for s in ts.initial_states():
        parent[s] = -1
        frontier.append(s)
        vm, sm = check_state(s)
        reached |= sm
        if vm & open_mask:
            settle(vm, [(-1, s)])

    stop_reason = ""

    def on_step(action: int, t: int, vm: int, sm: int) -> None:
        nonlocal reached
        reached |= sm
        if vm & open_mask:
            settle(vm, [*_path(parent, n_actions, current), (action, t)])

    current = 0
    while frontier and open_mask:
        next_frontier: list[int] = []
        push = next_frontier.append
        for index, s in enumerate(frontier):
            current = s
            known = len(parent)
            visit(s, parent, push, s * n_actions, fired, on_step)
            if len(parent) != known:
                for t in next_frontier[len(next_frontier) - (len(parent) - known):]:
                    tvm, tsm = check_state(t)
                    reached |= tsm
                    if tvm & open_mask:
                        settle(tvm, _path(parent, n_actions, t))
            if not open_mask:
                break
            if index % _CHECK_EVERY == 0:
                elapsed = time.monotonic() - start
                if progress is not None:
                    progress(len(parent), sum(fired), depth, len(next_frontier), elapsed)
                stop_reason = _limit_hit(limits, len(parent), elapsed)
                if stop_reason:
                    break
        if stop_reason:
            break
        frontier = next_frontier
        if frontier:
            depth += 1

    final = stats(depth)
    if progress is not None:
        progress(final.states, final.transitions, final.depth, 0, final.seconds)
    out: list[Outcome] = []
    for j, ob in enumerate(obligations):
        done = outcomes[j]
        if done is not None:
            out.append(done)
        elif stop_reason:
            out.append(Outcome("unknown", stats=final, bounded=True, depth=depth,
                               message=f"{stop_reason}; explored {final.states} states to depth {depth}"))
        elif not (reached >> j & 1) and ob.has_situation:
            out.append(Outcome("vacuous", stats=final, depth=depth,
                               message=f"the situation it is about is unreachable: {ob.situation_text}"))
        else:
            out.append(Outcome("holds", stats=final, depth=depth,
                               message=f"all {final.states} reachable states explored"))
    return out


def _limit_hit(limits: Limits, states: int, elapsed: float) -> str:
    if limits.max_states is not None and states >= limits.max_states:
        return f"state limit {limits.max_states} reached"
    if limits.timeout is not None and elapsed >= limits.timeout:
        return f"time limit {limits.timeout:g}s reached"
    if limits.max_memory_mb is not None and rss_mb() >= limits.max_memory_mb:
        return f"memory limit {limits.max_memory_mb:g} MiB reached"
    return ""
