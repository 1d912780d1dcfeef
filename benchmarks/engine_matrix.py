"""The built-in matrix (every variant x every property) with each engine: times and agreement.

Run on demand (minutes, not part of the test suite):

    .venv/bin/python benchmarks/engine_matrix.py [--engine E ...] [--processes N --pages N
        --nodes N] [--depth D] [--timeout S] [--json PATH]

For each engine it prints the wall time of the whole matrix and the slowest (variant,
property); then it checks that the engines agree on the default instance: the same verdict
wherever two engines concluded (a bounded ``holds`` only up to its depth) and counterexamples of
the same length.  Exit status 1 on any disagreement.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict

from numacheck.checker.outcome import Limits
from numacheck.checker.result import Result
from numacheck.checker.run import BASE_ENGINES, ENGINES, Check, run_check
from numacheck.model.instance import Instance
from numacheck.model.variants import BUILTIN as VARIANTS
from numacheck.properties import covered_by


def run_engine(engine: str, inst: Instance, limits: Limits) -> tuple[float, list[Result]]:
    """The whole matrix with one engine: wall seconds and results."""
    start = time.monotonic()
    results: list[Result] = []
    for variant in VARIANTS.values():
        results += run_check(Check(variant, covered_by(inst, variant.areas), engine, inst, limits))
        print(f"  {engine}: {variant.name} done at {time.monotonic() - start:.1f}s", file=sys.stderr)
    return time.monotonic() - start, results


def disagreements(by_engine: dict[str, list[Result]]) -> list[str]:
    """Where two engines' conclusive answers differ, in words."""
    cells: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for results in by_engine.values():
        for r in results:
            cells[(r.variant, r.property)].append(r)
    problems = []
    for (variant, prop), rs in cells.items():
        violated = [r for r in rs if r.verdict == "violated"]
        lengths = {r.trace.length for r in violated if r.trace is not None}
        proved = [r for r in rs if r.verdict == "holds" and not r.bounded]
        # a bounded holds contradicts a violation no longer than its depth
        bounded = [r for r in rs if r.verdict == "holds" and r.bounded
                   and any(v.trace is not None and v.trace.length <= r.depth for v in violated)]
        if len(lengths) > 1 or (violated and (proved or bounded)):
            got = ", ".join(f"{r.engine}={r.verdict}"
                            + (f"/{r.trace.length}" if r.trace else f"/depth {r.depth}" if r.bounded else "")
                            for r in rs)
            problems.append(f"{variant} / {prop}: {got}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", action="append", choices=list(ENGINES))
    parser.add_argument("--processes", type=int, default=Instance.processes)
    parser.add_argument("--pages", type=int, default=Instance.pages)
    parser.add_argument("--nodes", type=int, default=Instance.nodes)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=None)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    inst = Instance(args.processes, args.pages, args.nodes)
    limits = Limits(depth=args.depth, timeout=args.timeout)
    engines = args.engine or [*BASE_ENGINES, "all"]
    by_engine: dict[str, list[Result]] = {}
    rows = []
    print(f"instance: {inst.describe()}, depth {args.depth}\n")
    print("| engine | matrix wall s | verdicts (holds/violated/other) | slowest (variant, property) | s |")
    print("|---|---|---|---|---|")
    for engine in engines:
        wall, results = run_engine(engine, inst, limits)
        by_engine[engine] = results
        slowest = max(results, key=lambda r: r.stats.seconds)
        counts = [sum(r.verdict == v for r in results) for v in ("holds", "violated")]
        other = len(results) - sum(counts)
        print(f"| {engine} | {wall:.1f} | {counts[0]}/{counts[1]}/{other} | "
              f"{slowest.variant}, {slowest.property} | {slowest.stats.seconds:.1f} |", flush=True)
        rows.append({"engine": engine, "wall_seconds": wall,
                     "results": [{"variant": r.variant, "property": r.property,
                                  "verdict": r.verdict, "bounded": r.bounded, "depth": r.depth,
                                  "trace_length": r.trace.length if r.trace else None,
                                  "seconds": r.stats.seconds, "as_expected": r.as_expected}
                                 for r in results]})
    problems = disagreements(by_engine)
    unexpected = [f"{r.engine}: {r.variant} / {r.property} {r.verdict}"
                  for rs in by_engine.values() for r in rs if r.conclusive and not r.as_expected]
    print("\nagreement: " + ("all engines agree" if not problems else "; ".join(problems)))
    print("not as expected: " + (", ".join(unexpected) or "none"))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"instance": inst.sizes(), "depth": args.depth, "engines": rows,
                       "disagreements": problems}, out, indent=1)
    return 1 if problems or unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
