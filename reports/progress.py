"""Progress of a running ``verify`` on stderr: a live line on a terminal, TLC-style lines elsewhere.

Engines report ``(states, transitions, depth, queue, seconds)`` through the Progress callback
(the explicit engine once per breadth-first level).  On a terminal the last figures are redrawn
in place about once a second, with the run's estimated time left once a variant has finished;
without one (CI logs, ``2> err.txt``) a line in the style of TLC's ``Progress(...)`` is printed
every :data:`LOG_INTERVAL` seconds, from a timer, so a level that takes minutes still shows the
run is alive.  Each variant's line gives its own wall time, never the sum of its properties'
times (one search serves every property of a variant); variants searched together (a pass's
eras in one explicit search) share one line and one time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

#: Seconds between progress lines when stderr is not a terminal.
LOG_INTERVAL = 30.0
#: Seconds between redraws of the live line on a terminal.
LIVE_INTERVAL = 1.0


@dataclass
class Figures:
    """The last figures an engine reported, and when (seconds since the variant started)."""

    states: int = 0
    transitions: int = 0
    depth: int = 0
    queue: int = 0
    seconds: float = 0.0


def _count(n: int) -> str:
    return f"{n:,}"


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressDisplay:
    """The progress of one run of ``total`` variants (checked in ``jobs`` processes) on ``stream``.

    ``engine`` is the engines' Progress callback, ``finished`` the one called as each unit's
    results arrive (a unit: the variants searched at once, ``units``, one each by default);
    ``close`` stops the timer and clears the live line.
    """

    def __init__(self, stream: TextIO, live: bool, names: list[str], jobs: int = 1,
                 clock: Callable[[], float] = time.monotonic, interval: float | None = None,
                 units: Sequence[range] | None = None) -> None:
        self.stream = stream
        self.live = live
        self.names = names
        self.units = list(units) if units is not None else [range(i, i + 1) for i in range(len(names))]
        self.jobs = jobs
        self.clock = clock
        self.interval = interval if interval is not None else (LIVE_INTERVAL if live else LOG_INTERVAL)
        self.start = clock()
        self.variant_start = self.start
        self.done = 0
        self.figures: Figures | None = None
        self._lock = threading.Lock()
        self._shown = False  # a live line is on the screen
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    # Callbacks -------------------------------------------------------------------------------
    def engine(self, states: int, transitions: int, depth: int, queue: int, seconds: float) -> None:
        """The engines' Progress callback: remember the figures (drawn by the timer)."""
        with self._lock:
            self.figures = Figures(states, transitions, depth, queue, seconds)

    def label(self, unit: range) -> str:
        """The variants of a unit, by name."""
        names = [self.names[i] if i < len(self.names) else str(i) for i in unit]
        if len(names) == 1:
            return names[0]
        return f"{names[0]} to {names[-1]} ({len(names)} searched together)"

    def finished(self, unit: range, results: Sequence[Sequence[object]]) -> None:
        """A unit's results arrived (per variant): one line with its wall time (with one job)
        or the time into the run it finished (with several, whose units overlap)."""
        now = self.clock()
        with self._lock:
            first = self.done + 1
            self.done += len(unit)
            count = f"{first}-{self.done}" if len(unit) > 1 else f"{self.done}"
            if self.jobs == 1:
                when = f"in {now - self.variant_start:.1f}s"
            else:
                when = f"finished {now - self.start:.1f}s into the run"
            checks = sum(len(r) for r in results)
            self._clear()
            self.stream.write(f"  [{count}/{len(self.names)}] {self.label(unit)}: {checks} checks {when}\n")
            self.stream.flush()
            self.variant_start = now
            self.figures = None

    # Timer -----------------------------------------------------------------------------------
    def begin(self) -> None:
        """Start the timer that draws the live line or prints the periodic lines."""
        self._timer = threading.Thread(target=self._tick, name="numacheck-progress", daemon=True)
        self._timer.start()

    def close(self) -> None:
        """Stop the timer and leave the terminal clean."""
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
        with self._lock:
            self._clear()
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self.show()

    def show(self) -> None:
        """Draw the current figures once (the timer calls this every ``interval`` seconds)."""
        with self._lock:
            line = self.line()
            if self.live:
                self.stream.write("\r\x1b[K" + line)
                self._shown = True
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self._shown = False

    # Wording ---------------------------------------------------------------------------------
    def eta(self) -> float | None:
        """Seconds the run still needs, from the mean wall time of the variants done so far
        (None before the first one finishes: a search's size is not known in advance).  It is
        an estimate: eras differ, and a violation found early ends a search early."""
        if not self.done or self.done >= len(self.names):
            return None
        now = self.clock()
        per_variant = (self.variant_start - self.start) / self.done
        current = max(per_variant - (now - self.variant_start), 0.0) if self.jobs == 1 else 0.0
        later = len(self.names) - self.done - (1 if self.jobs == 1 else 0)
        return current + per_variant * later / self.jobs

    def line(self) -> str:
        """The progress line: TLC's wording off a terminal, a compact one on it."""
        elapsed = self.clock() - self.start
        running = ""
        if self.jobs == 1 and self.done < len(self.names):
            running = next((self.label(u) for u in self.units if u.start == self.done),
                           self.names[self.done])
        f = self.figures
        eta = self.eta()
        run = (f"{self.done}/{len(self.names)} variants done, {_duration(elapsed)} elapsed"
               + (f", about {_duration(eta)} left" if eta is not None else ""))
        if not self.live:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            head = f"Progress({f.depth if f is not None else 0}) at {stamp}: "
            if running:
                head += f"{running}: "
            if f is not None and f.states:
                rate = f.states / f.seconds * 60 if f.seconds > 0 else 0.0
                head += (f"{_count(f.transitions)} states generated, {_count(f.states)} distinct "
                         f"states found ({rate:,.0f} ds/min), {_count(f.queue)} states left on "
                         f"queue; ")
            return head + run + "."
        parts = [running] if running else []
        if f is not None and f.states:
            rate = f.states / f.seconds if f.seconds > 0 else 0.0
            parts.append(f"{_count(f.states)} states, {rate:,.0f} states/s, depth {f.depth}, "
                         f"queue {_count(f.queue)}")
        elif f is not None and f.depth:
            parts.append(f"depth {f.depth}")
        parts.append(run)
        return "  " + " | ".join(parts)
