"""The engine-level answer for one obligation, before it is tied to a variant and rendered."""

from __future__ import annotations

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
    message: str = ""
    notes: tuple[str, ...] = ()


class Limits:
    """Resource limits shared by the engines: states, seconds, resident memory."""

    def __init__(self, max_states: int | None = None, timeout: float | None = None,
                 max_memory_mb: float | None = None) -> None:
        self.max_states = max_states
        self.timeout = timeout
        self.max_memory_mb = max_memory_mb

    def __repr__(self) -> str:
        return f"Limits(states={self.max_states}, timeout={self.timeout}, memory={self.max_memory_mb})"
