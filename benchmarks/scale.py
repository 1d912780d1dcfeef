"""How far the explicit engine scales: every built-in era on larger instances, with symmetry.

Each (variant, instance) is one ``numacheck verify --format json`` in its own process, so its
wall time, CPU time (user + system: what it costs one core, whatever else the machine runs)
and peak memory are its own.  The table gives the orbits stored, whether every result
was as expected, the shortest counterexample of the seed bug (linux-4.0-rc1 /
numa-restore-keeps-write) where the variant is linux-4.0-rc1, wall seconds and peak MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from numacheck.model.variants import BUILTIN as VARIANTS

SEED = ("linux-4.0-rc1", "numa-restore-keeps-write")
DEFAULT_INSTANCES = ("2x2x1", "3x1x2")


def measure(variant: str, sizes: tuple[int, int, int], timeout: float, symmetry: bool,
            threads: int | None = None) -> dict[str, object]:
    """One verify run: its results summarised, wall seconds and peak resident MiB."""
    p, g, n = sizes
    cmd = [str(Path(sys.executable).parent / "numacheck"), "verify", "-v", variant, "--processes", str(p),
           "--pages", str(g), "--nodes", str(n), "--format", "json", "--max-states", str(2**40),
           "--timeout", str(timeout), *([] if symmetry else ["--no-symmetry"]),
           *([] if threads is None else ["--threads", str(threads)])]
    with tempfile.TemporaryFile(mode="w+") as out, tempfile.TemporaryFile(mode="w+") as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        text, problem = out.read(), err.read()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        last = (problem.strip() or text.strip() or "no output").splitlines()[-1]
        return {"variant": variant, "instance": "x".join(map(str, sizes)), "error": last[-200:],
                "exit": os.waitstatus_to_exitcode(status), "seconds": round(wall, 1)}
    results = doc["results"]
    seed = [len(r["trace"]["steps"]) - 1 for r in results
            if (r["variant"], r["property"]) == SEED and r.get("trace")]
    return {
        "variant": variant,
        "instance": "x".join(map(str, sizes)),
        "exit": os.waitstatus_to_exitcode(status),
        "states": max(r["stats"]["states"] for r in results),
        "verdicts": sorted({r["verdict"] for r in results}),
        "as_expected": all(r["as_expected"] for r in results),
        "seed_trace": seed[0] if seed else None,
        "seconds": round(wall, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_mib": round(usage.ru_maxrss / 1024),
    }


def line(row: dict[str, object]) -> str:
    """One table row."""
    head = f"| {row['variant']} | {row['instance']} "
    if "error" in row:
        return head + f"| - | {row['exit']} | {row['error']} | | | {row['seconds']} | | |"
    verdicts = ", ".join(row["verdicts"])  # type: ignore[arg-type]
    return head + (f"| {row['states']:,} | {row['exit']} | {verdicts} "
                   f"| {'yes' if row['as_expected'] else 'NO'} | {row['seed_trace'] or '-'} "
                   f"| {row['seconds']} | {row['cpu_seconds']} | {row['peak_mib']} |")


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run every measurement, print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", "-v", action="append", help="a variant (default: every built-in)")
    parser.add_argument("--instance", "-i", action="append",
                        help="PROCESSESxPAGESxNODES (repeatable; default 2x2x1 and 3x1x2)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per run (default 600)")
    parser.add_argument("--no-symmetry", action="store_true")
    parser.add_argument("--threads", type=int, help="threads of each search (default: numacheck's)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    rows = []
    print("| variant | instance | orbits | exit | verdicts | as expected | seed trace | wall s | cpu s "
          "| peak MiB |")
    print("|---|---|--:|--:|---|---|--:|--:|--:|--:|")
    for instance in args.instance or DEFAULT_INSTANCES:
        sizes = tuple(int(x) for x in instance.split("x"))
        for variant in args.variant or list(VARIANTS):
            row = measure(variant, sizes, args.timeout, not args.no_symmetry,  # type: ignore[arg-type]
                          args.threads)
            rows.append(row)
            print(line(row), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
