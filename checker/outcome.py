"""The engine-level answer for one obligation, before it is tied to a variant and rendered."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from numacheck.checker.result import Stats, Verdict

#: A path through a transition system: ``(action index, state)`` pairs, the first with action -1.
Path = list[tuple[int, int]]


@dataclass
class Outcome:
    """What an engine concluded about one obligation."""

    verdict: Verdict
    path: Path | None = None
    stats: Stats = field(default_factory=Stats)
    bounded: bool = False
    depth: int = 0
    certificate: str | None = None
    certificate_checked: bool = False
    #: The clauses of the certificate the proof needs: inductive on their own, re-checked.
    certificate_core: str | None = None
    message: str = ""
    notes: tuple[str, ...] = ()


_Z3_NO_TIMEOUT = 4294967295  # UINT_MAX, Z3's default

#: Unrolling depth of the bounded engines unless the user says otherwise.
DEFAULT_DEPTH = 20


@dataclass(frozen=True)
class Limits:
    """Resource limits shared by the engines: states, seconds, memory, unrolling depth; the
    seed of the randomised parts (Spacer's restarts, Houdini's simulation runs); and whether
    the explicit search may reduce by symmetry, and how many threads it may use."""

    max_states: int | None = None
    timeout: float | None = None
    max_memory_mb: float | None = None
    depth: int = DEFAULT_DEPTH
    seed: int = 0
    symmetry: bool = True
    threads: int = 1


class Deadline:
    """The time left of a timeout that started when this object was made."""

    def __init__(self, timeout: float | None) -> None:
        self.start = time.monotonic()
        self.timeout = None if timeout == float("inf") else timeout

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.start

    def remaining(self) -> float:
        """Seconds left (infinite when unlimited)."""
        return float("inf") if self.timeout is None else max(self.timeout - self.elapsed(), 0.0)

    def expired(self) -> bool:
        """Whether the time is up."""
        return self.timeout is not None and self.elapsed() >= self.timeout

    def z3_ms(self) -> int:
        """Milliseconds left, for a Z3 ``timeout`` parameter (Z3's "no limit" when unlimited)."""
        if self.timeout is None:
            return _Z3_NO_TIMEOUT
        return max(1, int((self.timeout - self.elapsed()) * 1000))
