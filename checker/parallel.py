"""Run many checks, in parallel processes when asked (``--jobs N``), results in plan order.

The unit of work is a :class:`~numacheck.checker.run.Check` (one variant, its properties, one
engine: the explicit search, the BMC unrolling and PDR's Houdini pass each serve every property
of a variant at once), or the run of a pass's explicit checks, searched together.  Units never
depend on N, so results are the same for any N;
workers are forked, so variants loaded from a user's file need not be picklable.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

from numacheck.checker.engines.explicit import Progress
from numacheck.checker.result import Result
from numacheck.checker.run import Check, Decided, run_unit, units

#: Called as each unit of work finishes: (its checks' indices in the plan, their results).
Done = Callable[[range, list[list[Result]]], None]

_PLAN: Sequence[Check] = ()
_UNITS: Sequence[range] = ()


def _work(index: int) -> list[list[Result]]:
    return run_unit([_PLAN[i] for i in _UNITS[index]])


def run_checks(plan: Sequence[Check], jobs: int = 1, progress: Progress | None = None,
               done: Done | None = None) -> list[Result]:
    """All results of ``plan``, in plan order; ``progress`` only reaches a single job.  The
    plan is cut into units (a pass's explicit checks are one: ``run.units``), each run in one
    process.  In one job, a check the run has already decided (the same system and
    obligations) is not searched again; with several, each worker searches its own (the
    results are the same)."""
    cut = units(plan)
    if jobs <= 1 or len(cut) <= 1:
        out: list[Result] = []
        decided: Decided = {}
        for unit in cut:
            results = run_unit([plan[i] for i in unit], progress, decided)
            if done is not None:
                done(unit, results)
            out.extend(r for check in results for r in check)
        return out
    global _PLAN, _UNITS
    _PLAN, _UNITS = plan, cut
    by_index: dict[int, list[Result]] = {}
    try:
        with ProcessPoolExecutor(max_workers=min(jobs, len(cut)),
                                 mp_context=mp.get_context("fork")) as pool:
            futures = {pool.submit(_work, u): u for u in range(len(cut))}
            for future in as_completed(futures):
                unit, results = cut[futures[future]], future.result()
                by_index.update(zip(unit, results, strict=True))
                if done is not None:
                    done(unit, results)
    finally:
        _PLAN, _UNITS = (), ()
    return [r for i in range(len(plan)) for r in by_index[i]]
