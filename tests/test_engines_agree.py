"""The engines agree: same verdicts, counterexamples of the same length, on generated systems
and on the real model.

Explicit search is the reference: it explores every reachable state of a finite system.  BMC run
deeper than the explicit search's depth must find exactly its violations, at the same length;
PDR must find them too (shortened to the same length) and prove everything else; k-induction,
when it concludes, must concur.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from numacheck.checker.engines.bmc import bmc
from numacheck.checker.engines.explicit import explore
from numacheck.checker.engines.kind import kind
from numacheck.checker.engines.pdr import pdr
from numacheck.checker.engines.portfolio import _disagreement
from numacheck.checker.outcome import Limits, Outcome
from numacheck.model.instance import Instance
from numacheck.model.system import Obligation, TransitionSystem
from numacheck.model.variant import build
from numacheck.model.variants import BUILTIN
from numacheck.properties import covered_by
from tests.gen import systems


def agree(ts: TransitionSystem, obligations: list[Obligation], timeout: float = 120) -> None:
    reference = explore(ts, obligations)
    depth = max(o.stats.depth for o in reference) + 1
    limits = Limits(depth=depth, timeout=timeout)
    by_engine = {
        "bmc": bmc(ts, obligations, limits),
        "kind": kind(ts, obligations, limits),
        "pdr": pdr(ts, obligations, limits),
    }
    for j, ref in enumerate(reference):
        for engine, outs in by_engine.items():
            check_pair(ref, outs[j], engine, obligations[j].name)


def check_pair(ref: Outcome, got: Outcome, engine: str, name: str) -> None:
    where = f"{name}: explicit={ref.verdict}/{ref.depth}, {engine}={got.verdict}/{got.depth} {got.message}"
    if ref.verdict == "violated":
        if engine == "kind" and got.verdict == "unknown":
            raise AssertionError(where)  # the base case reaches every depth the explicit search did
        assert got.verdict == "violated", where
        assert got.path is not None and len(got.path) - 1 == ref.depth == got.depth, where
    elif ref.verdict == "holds":
        expected = {"bmc": {"holds"}, "kind": {"holds", "unknown"}, "pdr": {"holds"}}[engine]
        assert got.verdict in expected, where
        if engine == "pdr":
            assert got.certificate_checked and not got.bounded, where
    elif ref.verdict == "vacuous":
        expected = {"bmc": {"unknown"}, "kind": {"unknown"}, "pdr": {"vacuous"}}[engine]
        assert got.verdict in expected, where


@settings(max_examples=30)
@given(systems())
def test_engines_agree_on_generated_systems(system: tuple[TransitionSystem, list[Obligation]]) -> None:
    ts, obligations = system
    agree(ts, obligations)


def test_k_induction_does_not_rule_out_a_self_loop_that_fails_a_step_check() -> None:
    """``stay`` changes nothing and its step check wants b0 false: flip, then stay, violates
    it in two steps.  The step case once required every state of its path to be distinct, the
    state after the bad step too, so a self-loop could never be bad and k-induction answered
    1-inductive, holds (found by hypothesis on a generated system)."""
    from numacheck.model.expr import TRUE, not_
    from numacheck.model.schema import Schema, bool_field
    from numacheck.model.system import Action

    schema = Schema((bool_field("b0"),))
    b0 = schema.var("b0")
    ts = TransitionSystem("self-loop", schema, ({"b0": False},),
                          (Action("stay", (), TRUE, ()), Action("flip", (), TRUE, (("b0", not_(b0)),))))
    ob = Obligation("stay-while-clear", "", steps=((0, not_(b0)),), situation_steps=((0, TRUE),),
                    situation_text="stay")
    [out] = kind(ts, [ob], Limits(depth=4))
    assert out.verdict == "violated" and out.depth == 2
    agree(ts, [ob])


#: Eras the default test run checks here (6.2: proofs and violations to agree on; the first
#: bug's six-step trace is test_cli_engines' per-engine test); the others run with the verify
#: marker (make test-verify), and benchmarks/engine_matrix.py covers them all.
DEFAULT_TIER = ("linux-6.2",)


@pytest.mark.slow
@pytest.mark.parametrize("variant", [v if v in DEFAULT_TIER else pytest.param(v, marks=pytest.mark.verify)
                                     for v in BUILTIN])
def test_engines_agree_on_every_era(variant: str) -> None:
    """Every property of a built-in era on a one-process, one-node instance (about 10 s each);
    benchmarks/engine_matrix.py repeats this on the default instance."""
    inst = Instance(processes=1, pages=1, nodes=1)
    ts = build(BUILTIN[variant], inst)
    obligations = [p.instantiate(ts, inst) for p in covered_by(inst)]
    agree(ts, obligations)


def test_portfolio_flags_contradicting_answers() -> None:
    proof = Outcome("holds", bounded=False)
    assert _disagreement([("pdr", proof), ("explicit", Outcome("vacuous"))])
    assert _disagreement([("pdr", proof), ("bmc", Outcome("violated", depth=6))])
    six, seven, nine = (Outcome("violated", depth=d) for d in (6, 7, 9))
    assert _disagreement([("explicit", six), ("bmc", seven)])
    # pdr's counterexample is shortest only when its BMC shortening finished in time
    assert not _disagreement([("explicit", six), ("pdr", nine)])
    assert not _disagreement([("explicit", proof), ("bmc", Outcome("holds", bounded=True, depth=20))])


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["linux-6.0", pytest.param("linux-6.3", marks=pytest.mark.verify)])
def test_engines_agree_on_the_uffd_and_softdirty_properties(variant: str) -> None:
    """The two tracking properties (a step property over every operation and an invariant),
    violated on 6.0 and holding on 6.3, on one process, one page, one node with every area."""
    inst = Instance(processes=1, pages=1, nodes=1, areas=frozenset({"numa", "softdirty", "uffd"}))
    ts = build(BUILTIN[variant], inst)
    obligations = [p.instantiate(ts, inst) for p in covered_by(inst) if p.area != "numa"]
    agree(ts, obligations)
