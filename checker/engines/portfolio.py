"""Run the engines as a portfolio: the first conclusive answer per property wins.

Each engine is one task over all properties (so PDR's Houdini pass and the explicit search are
shared by them), started in the order explicit, bmc, pdr, kind.  Up to ``lanes`` tasks run at once
in forked processes; a task whose properties are all decided is skipped, and once every property
is decided the rest are stopped.
A conclusive answer is a violation, a proof (unbounded ``holds``) or a proved ``vacuous``; a
bounded ``holds`` is only noted.  Answers that disagree (a violation against a proof, or two
shortest counterexamples of different lengths) turn the result into ``unknown`` with both named.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from numacheck.checker.engines.explicit import Progress
from numacheck.checker.outcome import Limits, Outcome
from numacheck.model.system import Obligation, TransitionSystem

EngineFn = Callable[[TransitionSystem, Sequence[Obligation], Limits, "Progress | None"], list[Outcome]]

ORDER = ("explicit", "bmc", "pdr", "kind")
#: The engines whose counterexamples are shortest by construction.
SHORTEST = frozenset({"explicit", "bmc", "kind"})


def conclusive(o: Outcome) -> bool:
    """Whether an outcome settles the property (a bounded ``holds`` does not)."""
    return o.verdict == "violated" or o.verdict == "vacuous" or (o.verdict == "holds" and not o.bounded)


@dataclass(frozen=True)
class _Task:
    engine: str
    indices: tuple[int, ...]


def _run_task(engines: dict[str, EngineFn], task: _Task, ts: TransitionSystem,
              obligations: Sequence[Obligation], limits: Limits, out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        chosen = [obligations[j] for j in task.indices]
        outcomes = engines[task.engine](ts, chosen, limits, None)
        out.put((task, outcomes, ""))
    except Exception as exc:  # reported to the parent as this engine's failure
        out.put((task, [], f"{type(exc).__name__}: {exc}"))


def _disagreement(answers: list[tuple[str, Outcome]]) -> str:
    decided = [(e, o) for e, o in answers if conclusive(o)]
    verdicts = {o.verdict for _, o in decided}
    if len(verdicts) > 1:  # violated, holds (unbounded) and vacuous exclude each other
        return ", ".join(f"{e}={o.verdict}" for e, o in decided)
    # explicit, bmc and kind search depths in order, so their counterexamples are shortest ones;
    # pdr's is too only when its BMC shortening finished in time
    shortest_first = [(e, o) for e, o in answers if o.verdict == "violated" and e in SHORTEST]
    if len({o.depth for _, o in shortest_first}) > 1:
        return "counterexample lengths differ: " + ", ".join(f"{e}={o.depth}" for e, o in shortest_first)
    bounded_holds = [o.depth for _, o in answers if o.verdict == "holds" and o.bounded]
    shortest = [o.depth for _, o in decided if o.verdict == "violated"]
    if bounded_holds and shortest and min(shortest) <= max(bounded_holds):
        return "bmc/kind found no violation within a depth where another engine found one"
    return ""


def portfolio(engines: dict[str, EngineFn], ts: TransitionSystem, obligations: Sequence[Obligation],
              limits: Limits, progress: Progress | None = None, lanes: int | None = None) -> list[Outcome]:
    """Every obligation decided by the first conclusive engine; the others noted."""
    lanes = lanes or min(2, os.cpu_count() or 1)
    n = len(obligations)
    tasks = [_Task(e, tuple(range(n))) for e in ORDER]
    answers: list[list[tuple[str, Outcome]]] = [[] for _ in range(n)]
    first: list[tuple[str, Outcome] | None] = [None] * n
    failures: list[str] = []
    ctx = mp.get_context("fork")
    results: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    running: dict[_Task, mp.process.BaseProcess] = {}
    pending = list(tasks)
    start = time.monotonic()

    def undecided(task: _Task) -> bool:
        return any(first[j] is None for j in task.indices)

    while True:
        pending = [t for t in pending if undecided(t)]
        while pending and len(running) < lanes:
            task = pending.pop(0)
            proc = ctx.Process(target=_run_task, args=(engines, task, ts, obligations, limits, results),
                               daemon=True)
            proc.start()
            running[task] = proc
        if not running or all(f is not None for f in first):
            break
        try:
            task, outcomes, error = results.get(timeout=0.5)
        except queue.Empty:
            for t, dead in list(running.items()):
                if not dead.is_alive() and dead.exitcode not in (0, None):
                    failures.append(f"{t.engine} died (exit code {dead.exitcode})")
                    del running[t]
            continue
        running.pop(task).join()
        if error:
            failures.append(f"{task.engine}: {error}")
        for j, outcome in zip(task.indices, outcomes, strict=False):
            answers[j].append((task.engine, outcome))
            if first[j] is None and conclusive(outcome):
                first[j] = (task.engine, outcome)
        if progress is not None:
            progress(0, 0, 0, len(pending), time.monotonic() - start)
    for left in running.values():
        left.terminate()
        left.join()
    stopped = {t.engine for t in running} | {t.engine for t in pending}
    out = []
    for j in range(n):
        notes = [f"{e}: {o.verdict}" + (f" (bounded, depth {o.depth})" if o.verdict == "holds" and o.bounded
                                        else "") + f" in {o.stats.seconds:.1f}s" for e, o in answers[j]]
        notes += [f"{e}: stopped, already decided" for e in sorted(stopped)]
        notes += failures
        clash = _disagreement(answers[j])
        chosen = first[j]
        if clash:
            out.append(Outcome("unknown", message=f"engines disagree: {clash}", notes=tuple(notes)))
        elif chosen is None:
            best = answers[j][0][1] if answers[j] else Outcome("unknown", message="no engine answered")
            out.append(replace(best, verdict="unknown", notes=tuple(notes),
                               message=best.message or "no engine reached a conclusive answer"))
        else:
            engine, outcome = chosen
            out.append(replace(outcome, notes=(f"decided by {engine}", *notes)))
    return out
