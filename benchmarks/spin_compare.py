"""Benchmark numacheck's explicit engine against SPIN on the same state space.

For every chosen (variant, property) the variant is expected to satisfy, both tools explore the
whole reachable space: numacheck's breadth-first explicit engine, and SPIN on the model
:func:`numacheck.checker.lowering.promela.to_promela` exports (``spin -a``, then ``pan`` compiled with
``-DSAFETY -DNOREDUCE`` and ``-DBFS`` unless ``--dfs``).  The table shows both state counts,
search times, their ratio and peak memory.  One violated case then compares counterexample
lengths: both searches are breadth-first, so both should find a shortest one.

Each numacheck check runs in a fresh process so its peak memory is its own; compile time is
kept out of SPIN's search time and reported beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from bisect import bisect_right
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

from numacheck.checker.engines.explicit import explore
from numacheck.checker.lowering.arrays import Layout
from numacheck.checker.lowering.promela import to_promela
from numacheck.checker.outcome import Limits
from numacheck.checker.resources import peak_mb
from numacheck.model.instance import Instance
from numacheck.model.variant import build
from numacheck.model.variants import BUILTIN as VARIANTS
from numacheck.model.variants import resolve as resolve_variant
from numacheck.properties import covered_by
from numacheck.properties import resolve as resolve_property

#: pan is compiled for a plain safety search of every state: no partial-order reduction (it
#: would store fewer states than exist), no never claim, memory limit well above any instance
#: here (MiB).  gcc's ``-w`` only silences warnings about the generated conditions.
PAN_FLAGS = ("-O2", "-w", "-DSAFETY", "-DNOREDUCE", "-DMEMLIM=16384")

DEFAULT_VIOLATION = ("linux-4.0-rc1", "numa-restore-keeps-write")


@dataclass
class NumacheckRun:
    """What one explicit-engine check measured (search seconds exclude building the system)."""

    verdict: str
    states: int
    transitions: int
    depth: int
    search_s: float
    total_s: float
    memory_mb: float
    trace: list[str]
    visited_bytes: int  # per state: the states' words (the buffer has up to a quarter spare)


@dataclass
class SpinRun:
    """What one pan run measured; ``search_s`` is pan's own elapsed time, ``compile_s`` spin -a + gcc."""

    states: int
    transitions: int
    depth: int
    errors: int
    complete: bool
    pan_args: list[str]
    vector_bytes: int
    search_s: float
    pan_s: float
    compile_s: float
    memory_mb: float
    trace: list[str]


@dataclass
class Row:
    """Both tools on one (variant, property).

    ``spin_trace_length`` leaves out SPIN's bookkeeping steps: the monitor process asserting a
    violated invariant, and the choice of an initial state when there are several.
    """

    variant: str
    property: str
    numacheck: NumacheckRun
    spin: SpinRun
    spin_trace_length: int


def numacheck_check(variant: str, prop: str, sizes: tuple[int, int, int]) -> NumacheckRun:
    """Build the system and run the explicit engine on one property (meant for a fresh process)."""
    start = time.monotonic()
    inst = Instance(*sizes)
    ts = build(resolve_variant(variant), inst)
    obligation = resolve_property(prop).instantiate(ts, inst)
    [outcome] = explore(ts, [obligation], Limits(symmetry=False))
    total = time.monotonic() - start
    trace = [ts.actions[a].label for a, _ in (outcome.path or [])[1:]]
    s = outcome.stats
    return NumacheckRun(outcome.verdict, s.states, s.transitions, s.depth, s.seconds, total, peak_mb(),
                        trace, 8 * Layout(ts.schema).words)


def run_measured(cmd: list[str], cwd: Path) -> tuple[str, float, float]:
    """Run ``cmd``; its output, wall-clock seconds and peak resident memory in MiB."""
    with tempfile.TemporaryFile(mode="w+") as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode not in (0, 1):  # pan exits 1 when it found an error
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{text}")
    return text, wall, usage.ru_maxrss / 1024


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"pan output lacks /{pattern}/:\n{text}")
    return float(found.group(1))


def _step_labels(model: str) -> list[tuple[int, str]]:
    """The line of every ``d_step`` with what it does: the comment on its line or the line before
    (an action label or an invariant's name)."""
    lines = ["", *model.splitlines()]
    out: list[tuple[int, str]] = []
    for n, line in enumerate(lines):
        if "d_step" in line:
            commented = line if "/*" in line else lines[n - 1]
            found = re.search(r"/\* (.*?) \*/", commented)
            out.append((n, found.group(1) if found else "choose an initial state"))
    return out


def replay(model: str, work: Path) -> list[str]:
    """The steps of the trail pan wrote, as action labels.

    ``pan -r`` gives the length; SPIN's guided simulation (``spin -t -p``) gives the source line of
    every statement, and a step's first line lies in the ``d_step`` it executes.  pan -r cannot
    name the last step, the one whose assertion fails.
    """
    pan = subprocess.run(["./pan", "-r"], cwd=work, check=True, capture_output=True, text=True).stdout
    length = int(_number(r"trail ends after (\d+) steps", pan))
    guided = subprocess.run(["spin", "-t", "-p", "model.pml"], cwd=work, check=True,
                            capture_output=True, text=True).stdout
    first_lines: dict[int, int] = {}
    for step, line in re.findall(r"^\s*(\d+):\s+proc\s+\d+ \(\w+:\d+\) model\.pml:(\d+)", guided, re.M):
        first_lines.setdefault(int(step), int(line))
    labels = _step_labels(model)
    starts = [n for n, _ in labels]
    steps = [labels[bisect_right(starts, first_lines[k]) - 1][1] for k in sorted(first_lines)]
    if len(steps) != length:
        raise RuntimeError(f"pan -r replays {length} steps, spin -t -p {len(steps)}:\n{guided}")
    return steps


def spin_check(model: str, work: Path, dfs: bool, states: int) -> SpinRun:
    """Generate, compile and run pan on ``model`` in ``work``; replay the trail if there is one.

    pan's hash table gets at least twice as many slots as the ``states`` numacheck found (2^16 or more),
    as SPIN's manual advises, rather than its fixed default of 2^24 slots (128 MiB).  A
    depth-first pan's stack holds ``states + 1`` steps: no path without a repeated state is
    longer, so the limit cannot cut the search short (pan would say so, and ``complete`` is
    then false).
    """
    (work / "model.pml").write_text(model)
    start = time.monotonic()
    subprocess.run(["spin", "-a", "model.pml"], cwd=work, check=True, capture_output=True)
    flags = [*PAN_FLAGS] if dfs else [*PAN_FLAGS, "-DBFS"]
    subprocess.run(["gcc", *flags, "-o", "pan", "pan.c"], cwd=work, check=True, capture_output=True)
    compile_s = time.monotonic() - start
    pan_args = [f"-w{max(16, states.bit_length() + 1)}", *([f"-m{states + 1}"] if dfs else [])]
    text, pan_s, memory = run_measured(["./pan", *pan_args], work)
    trace = replay(model, work) if (work / "model.pml.trail").exists() else []
    return SpinRun(
        states=int(_number(r"(\d+) states, stored", text)),
        transitions=int(_number(r"(\d+) transitions", text)),
        depth=int(_number(r"depth reached (\d+)", text)),
        errors=int(_number(r"errors: (\d+)", text)),
        complete="max search depth too small" not in text,
        pan_args=pan_args,
        vector_bytes=int(_number(r"State-vector (\d+) byte", text)),
        search_s=_number(r"elapsed time ([\d.e+-]+) seconds", text),
        pan_s=pan_s,
        compile_s=compile_s,
        memory_mb=memory,
        trace=trace,
    )


def compare(variant: str, prop: str, sizes: tuple[int, int, int], dfs: bool) -> Row:
    """Both tools on one (variant, property)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        ours = pool.submit(numacheck_check, variant, prop, sizes).result()
    inst = Instance(*sizes)
    ts = build(resolve_variant(variant), inst)
    obligation = resolve_property(prop).instantiate(ts, inst)
    with tempfile.TemporaryDirectory(prefix="spin_compare.") as work:
        spin = spin_check(to_promela(ts, [obligation]), Path(work), dfs, ours.states)
    bookkeeping = 0
    if spin.trace:
        bookkeeping = (obligation.invariant is not None) + (len(ts.initial_states()) > 1)
    return Row(variant, prop, ours, spin, len(spin.trace) - bookkeeping)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}" if b > 0 else "n/a"


def table(rows: list[Row]) -> str:
    """The full-exploration rows as a markdown table."""
    out = [
        "| variant | property | verdict | numacheck states | SPIN states | equal | numacheck s "
        "| SPIN search s | SPIN total s | SPIN/numacheck | numacheck MiB | visited B/state | SPIN MiB |",
        "|---|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        ours, spin = r.numacheck, r.spin
        out.append(
            f"| {r.variant} | {r.property} | {ours.verdict} | {ours.states} | {spin.states} "
            f"| {'yes' if ours.states == spin.states else 'NO'} | {ours.search_s:.2f} "
            f"| {spin.search_s:.2f} | {spin.compile_s + spin.pan_s:.2f} "
            f"| {_ratio(spin.search_s, ours.search_s)} | {ours.memory_mb:.0f} | {ours.visited_bytes} "
            f"| {spin.memory_mb:.0f} |"
        )
    ratios = sorted(r.spin.search_s / r.numacheck.search_s for r in rows if r.numacheck.search_s > 0)
    if ratios:
        mid = len(ratios) // 2
        median = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
        out.append(f"\nMedian SPIN search / numacheck search: {median:.1f}x "
                   f"(range {ratios[0]:.1f}-{ratios[-1]:.1f}x over {len(ratios)} rows).")
    return "\n".join(out)


def counterexample(r: Row) -> str:
    """The violated case in words: both lengths and both traces side by side."""
    ours, spin = r.numacheck, r.spin
    return "\n".join([
        f"Counterexample for {r.variant} / {r.property}: numacheck {ours.verdict} in "
        f"{len(ours.trace)} steps ({ours.search_s:.2f} s, {ours.states} states); "
        f"SPIN {spin.errors} error(s), trail of {r.spin_trace_length} steps "
        f"({spin.search_s:.2f} s, {spin.states} states stored).",
        "",
        "| step | numacheck | SPIN |",
        "|--:|---|---|",
        *(f"| {k + 1} | {a} | {b} |" for k, (a, b) in enumerate(zip(ours.trace, spin.trace, strict=False))),
    ])


def machine() -> dict[str, str]:
    """The machine and tool versions, for the record."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    spin = subprocess.run(["spin", "-V"], capture_output=True, text=True).stdout.strip()
    gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return {"cpu": cpu, "cores": str(os.cpu_count()), "python": platform.python_version(),
            "spin": spin, "gcc": gcc, "os": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run every comparison, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", "-v", action="append", help="a variant (default: every built-in)")
    parser.add_argument("--property", "-p", action="append",
                        help="a property (default: every one the variant is expected to satisfy)")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--pages", type=int, default=2)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--default-instance", action="store_true",
                        help="numacheck verify's instance (2 processes x 1 page, 2 nodes), ~1.5M states")
    parser.add_argument("--dfs", action="store_true", help="depth-first pan instead of -DBFS")
    parser.add_argument("--no-violation", action="store_true", help="skip the counterexample run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    sizes = (2, 1, 2) if args.default_instance else (args.processes, args.pages, args.nodes)
    Instance(*sizes)  # reject bad sizes before any work

    rows = []
    for name in args.variant or list(VARIANTS):
        variant = resolve_variant(name)
        for prop in args.property or [p.name for p in covered_by(Instance(*sizes))]:
            if variant.expected(prop)[0] != "holds":
                continue
            rows.append(compare(name, prop, sizes, args.dfs))
            print(f"{name} {prop}: done", file=sys.stderr)
    violation = None if args.no_violation else compare(*DEFAULT_VIOLATION, sizes, dfs=False)

    search = "depth-first" if args.dfs else "breadth-first (-DBFS)"
    print(f"Instance {Instance(*sizes).describe()}; pan {' '.join(PAN_FLAGS)}, {search}.\n")
    print(table(rows))
    if violation is not None:
        print()
        print(counterexample(violation))
    if args.json is not None:
        doc = {"instance": sizes, "pan_flags": [*PAN_FLAGS, *([] if args.dfs else ["-DBFS"])],
               "machine": machine(), "rows": [asdict(r) for r in rows],
               "violation": asdict(violation) if violation is not None else None}
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    # A vacuous property was checked on every reachable state too; only its situation never occurs.
    ok = all(r.numacheck.verdict in ("holds", "vacuous") and r.numacheck.states == r.spin.states
             and r.spin.errors == 0 and r.spin.complete for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
