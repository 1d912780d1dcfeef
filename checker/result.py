"""What a check produces: verdicts, traces and statistics, the only types reports see.

A :class:`Result` is one (variant, property, engine) verdict compared with the variant's
expectation.  A :class:`Trace` is a counterexample in display form: every step names the kernel
function it models, its parameters and outputs, and the whole state after it, with the fields
that changed listed, so renderers need no model knowledge.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Literal

Verdict = Literal["holds", "violated", "vacuous", "unknown"]
Expected = Literal["holds", "violated"]

#: Exit codes of ``numacheck verify`` (see README).
EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3


@dataclass(frozen=True)
class FieldInfo:
    """How to show one state field: its group (``p0.pte[0]``), label (``_PAGE_RW``), ghost-ness;
    ``name`` is ``group.label`` (``p0.pte[0]._PAGE_RW``).

    ``kind`` (bool or int) and ``names`` (an enum's value names) say how its rendered values
    read back; a ``derived`` value (vm_page_prot, page_mapcount) is computed, not state.
    """

    name: str
    group: str
    label: str
    ghost: bool = False
    kind: str = "int"
    names: tuple[str, ...] = ()
    derived: bool = False


@dataclass(frozen=True)
class TraceStep:
    """One step of a trace; step 0 is the initial state (action ``init``)."""

    action: str
    label: str
    args: dict[str, str | int]
    citation: str
    outputs: dict[str, str | int | bool]
    state: dict[str, str]
    changed: tuple[str, ...]


@dataclass(frozen=True)
class Trace:
    """A counterexample: the steps from an initial state to the violation."""

    steps: tuple[TraceStep, ...]
    fields: tuple[FieldInfo, ...]
    violation: str

    @property
    def length(self) -> int:
        """Number of transitions (the initial state is not a step)."""
        return len(self.steps) - 1


@dataclass
class Stats:
    """What an engine measured.

    With symmetry reduction (``symmetry`` names the interchangeable objects), ``states`` counts
    orbits; ``concrete_states`` is the number of concrete states they stand for, where the
    engine could count it.  For a violation the counts are those when it was found.
    """

    states: int = 0
    transitions: int = 0
    depth: int = 0
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    solver_calls: int = 0
    op_counts: dict[str, int] = field(default_factory=dict)
    symmetry: str = ""
    concrete_states: int | None = None

    @property
    def states_per_second(self) -> float:
        """Distinct states per wall-clock second."""
        return self.states / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Result:
    """One verdict of one engine on one (variant, property)."""

    variant: str
    property: str
    engine: str
    verdict: Verdict
    expected: Expected
    expectation_reason: str = ""
    property_summary: str = ""
    situation: str = ""
    trace: Trace | None = None
    stats: Stats = field(default_factory=Stats)
    bounded: bool = False
    depth: int = 0
    certificate: str | None = None
    certificate_checked: bool = False
    #: The clauses of the certificate the proof needs: inductive on their own, re-checked.
    certificate_core: str | None = None
    message: str = ""
    notes: tuple[str, ...] = ()
    variant_source: str = ""
    property_source: str = ""
    instance: dict[str, int] = field(default_factory=dict)
    #: The recorded shape of the expected counterexample: ``{"length": n, "functions": [...]}``.
    expected_trace: dict[str, object] | None = None
    #: Why the counterexample found is not the recorded one (empty when it is, or none is recorded).
    trace_mismatch: str = ""
    #: The kernel areas of the instance the check ran on (model.instance.AREAS).
    areas: tuple[str, ...] = ("numa",)

    @builtins.property
    def as_expected(self) -> bool:
        """Whether the verdict is the expected one (vacuous and unknown never are) and an expected
        violation's counterexample has its recorded shape."""
        return self.verdict == self.expected and not self.trace_mismatch

    @builtins.property
    def conclusive(self) -> bool:
        """Whether the engine reached a verdict (``unknown`` is not one)."""
        return self.verdict != "unknown"


def exit_code(results: list[Result]) -> int:
    """The exit code for a run: 1 beats 3 beats 0."""
    if any(r.conclusive and not r.as_expected for r in results):
        return EXIT_UNEXPECTED
    if any(not r.conclusive for r in results):
        return EXIT_INCONCLUSIVE
    return EXIT_OK
