"""Re-execute a path on the compiled model: every step enabled, every state exact.

Symbolic engines decode their models into paths; a path is reported only after it replays here
and its last step really violates the obligation, so a lowering or decoding bug cannot produce
a false counterexample.
"""

from __future__ import annotations

from numacheck.checker.lowering.codegen import CompiledSystem
from numacheck.checker.outcome import Path
from numacheck.model.system import TransitionSystem


class ReplayError(Exception):
    """A path that is not a run of the model; ``step`` is where it breaks."""

    def __init__(self, step: int, message: str) -> None:
        super().__init__(f"step {step}: {message}")
        self.step = step


def replay(ts: TransitionSystem, compiled: CompiledSystem, path: Path) -> None:
    """Raise ReplayError unless ``path`` starts in an initial state and follows enabled actions."""
    if not path or path[0][0] != -1:
        raise ReplayError(0, "a path starts with the initial state")
    if path[0][1] not in ts.initial_states():
        raise ReplayError(0, "not an initial state")
    for n in range(1, len(path)):
        action, state = path[n]
        prev = path[n - 1][1]
        if not 0 <= action < len(ts.actions):
            raise ReplayError(n, f"no action with index {action}")
        succs = [t for a, t, _, _ in compiled.expand(prev) if a == action]
        if not succs:
            raise ReplayError(n, f"{ts.actions[action].label} is not enabled")
        if state not in succs:
            raise ReplayError(n, f"{ts.actions[action].label} does not lead to the recorded state")


def violates(compiled: CompiledSystem, index: int, path: Path) -> bool:
    """Whether the last step (or state) of ``path`` violates obligation ``index``."""
    bit = 1 << index
    last_action, last = path[-1]
    if compiled.check_state(last)[0] & bit:
        return True
    if last_action < 0 or len(path) < 2:
        return False
    prev = path[-2][1]
    return any(a == last_action and t == last and vm & bit for a, t, vm, _ in compiled.expand(prev))
