"""One boot of a kernel under qemu (TCG) that runs every scenario run and returns the counts.

The scenarios become the probe's program (one ``run`` block per scenario and repeat, repeats
interleaved so that drift over the boot shows), the guest has two NUMA nodes with one CPU each,
and the probe's lines come back over the serial console.  A run that the guest did not finish
(a timeout, a probe error) has no counts, which the comparison reports as inconclusive.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from numacheck.conform.guest import ToolError, Tuning, guest_image, qemu
from numacheck.conform.scenario import Scenario, Step

#: The counters the probe reports for each step, in its output order.
COUNTERS = ("minflt", "hint", "local", "migrated", "pte", "seq", "segv")
_STEP = re.compile(r"@step (\S+) (\d+) (\d+) " + " ".join(rf"{c}=(-?\d+)" for c in COUNTERS)
                   + r" nodes=(-?\d+(?:,-?\d+)*)")
_RUN = re.compile(r"@run (\S+) (\S+) (ok|error.*)")
_PROT_BITS = {"none": 0, "read": 1, "readwrite": 3}
_MEMORY_MB = 512


class GuestError(ToolError):
    """The guest kernel lacks something the probe needs (a config option); nothing was run."""


@dataclass(frozen=True)
class Counts:
    """One step's counter deltas as the probe measured them (names as in COUNTERS), and the
    node of each page of the region after it (-1: no page)."""

    minflt: int
    hint: int
    local: int
    migrated: int
    pte: int
    seq: int
    segv: int
    nodes: tuple[int, ...]


@dataclass
class RunResult:
    """One run of one scenario: its steps' counts, and an error when it did not finish."""

    scenario: str
    repeat: int
    steps: list[Counts] = field(default_factory=list)
    error: str = ""
    done: bool = False


@dataclass
class Boot:
    """What one boot gave: every run, the guest's kernel release, the wall time, what went
    wrong with the boot as a whole (with the console's last lines)."""

    runs: dict[tuple[str, int], RunResult]
    release: str
    seconds: float
    problem: str = ""


def probe_step(step: Step) -> str:
    """One step as the probe's program spells it."""
    if step.op == "mmap":
        return f"mmap {step.flags} {_PROT_BITS[step.prot]} {step.arg}"
    if step.op == "mprotect":
        return f"mprotect {_PROT_BITS[step.prot]}"
    if step.op in ("read", "write"):
        return f"{step.op} {step.arg}"
    if step.op == "move_to_node":
        return f"node {step.arg}"
    return step.op


def program(scenarios: Sequence[Scenario], repeats: int) -> str:
    """The probe's input: every scenario ``repeats`` times, repeats interleaved."""
    lines = []
    for r in range(repeats):
        for s in scenarios:
            lines.append(f"run {s.name} {r}")
            lines += [probe_step(step) for step in s.steps]
            lines.append("end")
    return "\n".join(lines) + "\n"


def qemu_command(kernel: Path, initrd: Path) -> list[str]:
    """qemu-system-x86_64 under TCG: 2 CPUs, two NUMA nodes of one CPU and half the memory."""
    half = _MEMORY_MB // 2
    return [
        qemu(), "-accel", "tcg,thread=multi", "-smp", "2", "-m", str(_MEMORY_MB),
        "-object", f"memory-backend-ram,id=m0,size={half}M",
        "-object", f"memory-backend-ram,id=m1,size={half}M",
        "-numa", "node,nodeid=0,cpus=0,memdev=m0", "-numa", "node,nodeid=1,cpus=1,memdev=m1",
        "-kernel", str(kernel), "-initrd", str(initrd),
        "-append", "console=ttyS0 quiet panic=-1 numa_balancing=enable",
        "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
    ]


Progress = Callable[[str], None]
DEFAULT_TUNING = Tuning()


def _stderr(line: str) -> None:
    print(f"conform: {line}", file=sys.stderr, flush=True)


class Console:
    """The guest's serial output as it arrives: the probe's lines go into the runs, kernel
    messages in between are skipped (a printk may even split a line), the last lines are kept."""

    def __init__(self, runs: dict[tuple[str, int], RunResult], progress: Progress) -> None:
        self.runs = runs
        self.progress = progress
        self.start = time.monotonic()
        self.release = ""
        self.fatal = ""
        self.problem = ""
        self.finished = 0
        self.tail: list[str] = []

    def feed(self, line: str) -> None:
        """Take one line of the console."""
        self.tail = [*self.tail[-19:], line.rstrip()]
        if "@fatal " in line:
            self.fatal = line.split("@fatal ", 1)[1].strip()
        elif "@guest " in line:
            self.release = line.split("@guest ", 1)[1].strip()
            self.progress(f"guest up after {time.monotonic() - self.start:.0f} s: kernel {self.release}")
        elif m := _STEP.search(line):
            run = self.runs.get((m.group(1), int(m.group(2))))
            if run is not None and int(m.group(3)) == len(run.steps):
                minflt, hint, local, migrated, pte, seq, segv = (int(v) for v in m.groups()[3:-1])
                nodes = tuple(int(v) for v in m.groups()[-1].split(","))
                run.steps.append(Counts(minflt, hint, local, migrated, pte, seq, segv, nodes))
        elif m := _RUN.search(line):
            run = self.runs.get((m.group(1), int(m.group(2)))) if m.group(2).isdigit() else None
            if run is None:
                self.problem = f"the probe failed: {line.strip()}"
            elif not (run.done or run.error):  # the first report of a run wins
                run.done = m.group(3) == "ok"
                run.error = "" if run.done else m.group(3)[len("error"):].strip() or "failed"
                self.finished += 1
                self.progress(f"run {self.finished}/{len(self.runs)}: {run.scenario} "
                              f"#{run.repeat + 1} {'done' if run.done else 'failed: ' + run.error} "
                              f"({time.monotonic() - self.start:.0f} s)")

    def last_lines(self, n: int = 3) -> str:
        """The last non-empty lines, for a message."""
        return " | ".join([t for t in self.tail if t.strip()][-n:])


def boot(kernel: Path, scenarios: Sequence[Scenario], repeats: int, timeout: float,
         tuning: Tuning = DEFAULT_TUNING, progress: Progress = _stderr) -> Boot:
    """Boot ``kernel`` once, run every scenario ``repeats`` times, return what came back.

    qemu never outlives the call: it is killed at the timeout and on any exception."""
    runs = {(s.name, r): RunResult(s.name, r) for r in range(repeats) for s in scenarios}
    console = Console(runs, progress)
    with tempfile.TemporaryDirectory(prefix="numacheck-conform-") as tmp:
        initrd = guest_image(Path(tmp), program(scenarios, repeats), tuning)
        progress(f"booting {kernel} under qemu (TCG): {len(runs)} runs of {len(scenarios)} "
                 f"scenarios, timeout {timeout:.0f} s")
        proc = subprocess.Popen(qemu_command(kernel, initrd), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace")
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                console.feed(line)
            proc.wait()
        finally:
            timed_out = not timer.is_alive() and proc.returncode != 0
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if console.fatal:
        raise GuestError(f"{kernel}: {console.fatal}")
    problem = console.problem
    if timed_out:
        problem = f"the guest did not finish within {timeout:.0f} s (--timeout)"
    elif proc.returncode != 0:
        problem = f"qemu exited with status {proc.returncode}"
    elif console.finished < len(runs) and not problem:
        problem = "the guest stopped before every run finished"
    if problem and console.last_lines():
        problem += f"; the console ended with: {console.last_lines()}"
    return Boot(runs, console.release, time.monotonic() - console.start, problem)
