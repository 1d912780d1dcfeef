"""Run many checks, in parallel processes when asked (``--jobs N``), results in plan order.

The unit of work is a :class:`~numacheck.checker.run.Check`: one variant, its properties, one
engine, because the explicit search, the BMC unrolling and PDR's Houdini pass each serve every
property of a variant at once.  Units never depend on N, so results are the same for any N;
workers are forked, so variants loaded from a user's file need not be picklable.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

from numacheck.checker.engines.explicit import Progress
from numacheck.checker.result import Result
from numacheck.checker.run import Check, Decided, run_check

#: Called as each check finishes: (index in the plan, its results).
Done = Callable[[int, list[Result]], None]

_PLAN: Sequence[Check] = ()


def _work(index: int) -> list[Result]:
    return run_check(_PLAN[index])


def run_checks(plan: Sequence[Check], jobs: int = 1, progress: Progress | None = None,
               done: Done | None = None) -> list[Result]:
    """All results of ``plan``, in plan order; ``progress`` only reaches a single job.  In one
    job, a check the run has already decided (the same system and obligations) is not searched
    again; with several, each worker searches its own (the results are the same)."""
    if jobs <= 1 or len(plan) <= 1:
        out: list[Result] = []
        decided: Decided = {}
        for index, check in enumerate(plan):
            results = run_check(check, progress, decided)
            if done is not None:
                done(index, results)
            out.extend(results)
        return out
    global _PLAN
    _PLAN = plan
    by_index: dict[int, list[Result]] = {}
    try:
        with ProcessPoolExecutor(max_workers=min(jobs, len(plan)),
                                 mp_context=mp.get_context("fork")) as pool:
            futures = {pool.submit(_work, i): i for i in range(len(plan))}
            for future in as_completed(futures):
                index = futures[future]
                by_index[index] = future.result()
                if done is not None:
                    done(index, by_index[index])
    finally:
        _PLAN = ()
    return [r for i in range(len(plan)) for r in by_index[i]]
