"""Measured counts against the model's prediction, step by step, run by run.

An access agrees when what it measured is one of the observations the model allows on some path
consistent with the earlier measured steps (the walk keeps only the states that explain them).
A ``numa_scan`` step only has to have happened; the other steps are not compared (their counts
include the probe's own faults, e.g. fork's write-protect of its stack), but no NUMA scan may
run during them.  Anything that leaves a step unmeasured makes it inconclusive, never agreeing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from numacheck.conform.predict import Observation, PredictionError, StepPrediction, Walk, predict
from numacheck.conform.runner import Counts, RunResult
from numacheck.conform.scenario import Scenario, Step
from numacheck.model.variant import Variant

AGREE, DISAGREE, INCONCLUSIVE = "agree", "disagree", "inconclusive"
#: A step whose counts are not compared, and a scenario the variant cannot predict.
NOT_COMPARED, NOT_APPLICABLE = "-", "n/a"
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


def _check_step(walk: Walk, step: Step, counts: Counts | None) -> StepCheck:
    outcomes = walk.outcomes(step)
    if counts is None:
        walk.advance(step, outcomes)
        return StepCheck(step, None, INCONCLUSIVE, "not measured: the run did not get here")
    if step.op == "numa_scan":
        walk.advance(step, outcomes)
        if counts.seq < 1:
            return StepCheck(step, counts, INCONCLUSIVE, "the NUMA scan never happened")
        return StepCheck(step, counts, AGREE, f"{counts.seq} scan pass(es)")
    if counts.seq:
        walk.advance(step, outcomes)
        return StepCheck(step, counts, INCONCLUSIVE, "a NUMA scan ran during the step")
    if not step.is_access:
        walk.advance(step, outcomes)
        return StepCheck(step, counts, NOT_COMPARED)
    seen = observed(counts)
    matching = [(o, s) for o, s in outcomes if o == seen]
    if matching:
        walk.advance(step, matching)
        return StepCheck(step, counts, AGREE)
    walk.advance(step, outcomes)
    allowed = sorted({o for o, _ in outcomes if o is not None})
    return StepCheck(step, counts, DISAGREE,
                     f"measured {seen.text()}; the model allows {' | '.join(o.text() for o in allowed)}")


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
