"""Measured counts against the model's prediction, step by step, run by run.

An access agrees when what it measured is one of the observations the model allows on some path
consistent with the earlier measured steps (the walk keeps only the states that explain them).
After every step the node of each page of the region (move_pages(2)) must be one the model
allows on that path too.  The counts of the other steps are not compared (they include the
probe's own faults, e.g. fork's write-protect of its stack); a ``numa_scan`` step has to have
happened, and no other step may see a scan.  Anything that leaves a step unmeasured makes it
inconclusive, never agreeing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from numacheck.conform.predict import (
    HINTED,
    NO_PAGE,
    Observation,
    PredictionError,
    StepPrediction,
    Walk,
    nodes_agree,
    predict,
)
from numacheck.conform.runner import Counts, RunResult
from numacheck.conform.scenario import Scenario, Step
from numacheck.model.variant import Variant

AGREE, DISAGREE, INCONCLUSIVE = "agree", "disagree", "inconclusive"
#: A scenario the variant cannot predict.
NOT_APPLICABLE = "n/a"
#: Worst first: one disagreeing step makes its run disagree, and so on up.
SEVERITY = (DISAGREE, INCONCLUSIVE, AGREE)


def worst(verdicts: Iterable[str]) -> str:
    """The most severe of the verdicts that count (agree when none does)."""
    found = set(verdicts)
    return next((v for v in SEVERITY if v in found), AGREE)


def observed(c: Counts) -> Observation:
    """What an access's counts say in the model's terms."""
    return Observation(c.minflt, c.hint, c.local, c.migrated, bool(c.segv))


@dataclass(frozen=True)
class StepCheck:
    """One step of one run: its counts (None if it never ran), verdict and why."""

    step: Step
    counts: Counts | None
    verdict: str
    note: str = ""


@dataclass(frozen=True)
class RunCheck:
    """One run of a scenario, step by step."""

    repeat: int
    steps: tuple[StepCheck, ...]
    error: str = ""

    @property
    def verdict(self) -> str:
        """The run's verdict: its worst step."""
        return worst(s.verdict for s in self.steps)


@dataclass(frozen=True)
class ScenarioCheck:
    """A scenario: the model's prediction and every run's comparison with it."""

    scenario: Scenario
    prediction: tuple[StepPrediction, ...]
    runs: tuple[RunCheck, ...]
    #: The measurements themselves, kept even when the variant cannot predict the scenario.
    measured: tuple[RunResult, ...]
    note: str = ""

    @property
    def verdict(self) -> str:
        """``n/a`` when the variant cannot predict it, else the worst run."""
        if self.note and not self.prediction:
            return NOT_APPLICABLE
        return worst(r.verdict for r in self.runs)


def pages_text(nodes: tuple[int, ...]) -> str:
    """The node of each page, ``-`` for none, ``?`` behind a hint: ``[0 ? -]``."""
    return "[" + " ".join({NO_PAGE: "-", HINTED: "?"}.get(n, str(n)) for n in nodes) + "]"


def _check_step(walk: Walk, step: Step, counts: Counts | None) -> StepCheck:
    outcomes = walk.outcomes(step)
    if counts is None:
        walk.advance(step, outcomes)
        return StepCheck(step, None, INCONCLUSIVE, "not measured: the run did not get here")
    if step.op == "numa_scan" and counts.seq < 1:
        walk.advance(step, outcomes)
        return StepCheck(step, counts, INCONCLUSIVE, "the NUMA scan never happened")
    if step.op != "numa_scan" and counts.seq:
        walk.advance(step, outcomes)
        return StepCheck(step, counts, INCONCLUSIVE, "a NUMA scan ran during the step")
    seen = observed(counts) if step.is_access else None
    matching = [(o, s) for o, s in outcomes if o == seen and nodes_agree(walk.ex.page_nodes(s), counts.nodes)]
    if matching:
        walk.advance(step, matching)
        return StepCheck(step, counts, AGREE)
    walk.advance(step, outcomes)
    allowed = sorted({(o.text() if o else "") + f" pages {pages_text(walk.ex.page_nodes(s))}"
                      for o, s in outcomes})
    measured = ((seen.text() if seen else "") + f" pages {pages_text(counts.nodes)}").strip()
    return StepCheck(step, counts, DISAGREE,
                     f"measured {measured}; the model allows {' | '.join(a.strip() for a in allowed)}")


def check_run(variant: Variant, scenario: Scenario, run: RunResult) -> RunCheck:
    """Compare one run's counts with the model, keeping the states that explain them."""
    walk = Walk(variant, scenario)
    steps = []
    for i, step in enumerate(scenario.steps):
        steps.append(_check_step(walk, step, run.steps[i] if i < len(run.steps) else None))
    return RunCheck(run.repeat, tuple(steps), run.error)


def check_scenario(variant: Variant, scenario: Scenario, runs: Iterable[RunResult]) -> ScenarioCheck:
    """A scenario's prediction and all its runs; ``n/a`` when the variant cannot express it."""
    measured = tuple(runs)
    try:
        prediction = tuple(predict(variant, scenario))
        checks = tuple(check_run(variant, scenario, r) for r in measured)
    except PredictionError as exc:
        return ScenarioCheck(scenario, (), (), measured, str(exc))
    return ScenarioCheck(scenario, prediction, checks, measured)
