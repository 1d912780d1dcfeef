"""Systems searched together (``explore_together``: a pass's eras in one search, each state
stored once with the systems that reach it) give every system exactly what its own search
gives: verdicts, depths, counts, traces state for state, notes."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings

from numacheck.checker.engines import explicit
from numacheck.checker.engines.explicit import explore, explore_together
from numacheck.checker.outcome import Limits, Outcome
from numacheck.checker.run import Check, units
from numacheck.model.expr import TRUE, Expr, ModelError, const, ite
from numacheck.model.instance import AREA_INSTANCE, PIN_INSTANCE, Instance
from numacheck.model.schema import Schema, int_field
from numacheck.model.system import Action, Obligation, TransitionSystem
from numacheck.model.variant import build
from numacheck.model.variants import BUILTIN
from numacheck.properties import BUILTIN as PROPERTIES
from numacheck.properties import covered_by
from tests.gen import families

System = tuple[TransitionSystem, list[Obligation]]


def summary(o: Outcome) -> tuple[object, ...]:
    """Everything of an outcome but the seconds and memory it took."""
    s = o.stats
    return (o.verdict, o.depth, o.bounded, o.path, o.message, o.notes, s.states, s.transitions,
            s.depth, s.op_counts, s.symmetry, s.concrete_states)


def assert_as_alone(systems: list[System], limits: Limits | None = None) -> list[list[Outcome]]:
    together = explore_together(systems, limits)
    alone = [explore(ts, obligations, limits) for ts, obligations in systems]
    assert [[summary(o) for o in outs] for outs in together] == [[summary(o) for o in outs] for outs in alone]
    return together


@settings(max_examples=40, deadline=None)
@given(families())
def test_generated_systems_searched_together_get_their_own_results(systems: list[System]) -> None:
    assert_as_alone(systems)


@settings(max_examples=15, deadline=None)
@given(families(max_systems=3))
def test_cut_into_chunks_and_threads_too(systems: list[System]) -> None:
    """Many chunks, three threads, evaluated action by action: still each system's own."""
    saved = explicit.CHUNK, explicit.WHOLE, explicit.SHARED
    try:
        explicit.CHUNK, explicit.WHOLE, explicit.SHARED = 3, 2, 2
        assert_as_alone(systems, Limits(threads=3))
    finally:
        explicit.CHUNK, explicit.WHOLE, explicit.SHARED = saved


@settings(max_examples=15, deadline=None)
@given(families(max_systems=3))
def test_traces_searched_again_and_expanded_again_too(systems: list[System]) -> None:
    """Nothing kept for traces (no levels, no expansions): each system's levels are searched
    again on their own, its trace the same."""
    saved = explicit.KEEP_LEVELS, explicit.REMEMBER
    try:
        explicit.KEEP_LEVELS, explicit.REMEMBER = 0, 0
        assert_as_alone(systems)
    finally:
        explicit.KEEP_LEVELS, explicit.REMEMBER = saved


def eras(inst: Instance, names: list[str] | None = None, area: str | None = None) -> list[System]:
    """The eras' systems on ``inst``, each with the properties of its areas (or of ``area``
    alone, as a pass of ``make verify`` has them)."""
    out = []
    for name in names or list(BUILTIN):
        ts = build(BUILTIN[name], inst)
        props = [p for p in covered_by(inst, BUILTIN[name].areas) if area in (None, p.area)]
        out.append((ts, [p.instantiate(ts, inst) for p in props]))
    return out


def test_every_era_of_the_all_areas_pass_gets_its_own_results() -> None:
    """Frames and nodes reduced (vouched): traces mapped back to concrete states per era."""
    together = assert_as_alone(eras(AREA_INSTANCE))
    verdicts = {o.verdict for outs in together for o in outs}
    assert {"violated", "holds"} <= verdicts


def test_eras_of_the_pin_pass_get_their_own_results_with_and_without_symmetry() -> None:
    """Processes reduced (proved, so concrete states counted), and no reduction at all."""
    systems = eras(PIN_INSTANCE, ["linux-4.0-rc1", "linux-4.9", "linux-5.8"], "pin")
    for limits in (Limits(), Limits(symmetry=False)):
        together = assert_as_alone(systems, limits)
        assert "violated" in {o.verdict for outs in together for o in outs}  # traces mapped back


def test_a_state_limit_searches_each_alone() -> None:
    """A joint search that reaches the state limit gives way to one search per system, each
    under the limit, as it would be alone."""
    systems = eras(PIN_INSTANCE, ["linux-5.13", "linux-6.2"], "pin")
    together = assert_as_alone(systems, Limits(max_states=2000))
    assert {o.verdict for outs in together for o in outs} >= {"unknown"}


def test_a_state_limit_is_decided_by_each_system_s_own_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Alone, a level's count adds each chunk's new successors, so one reached from two chunks
    counts twice, and the chunks are cut from that system's level: ``a`` alone reaches 10 on
    the level {1, 3, 4, 6} cut in two (4 stored + 3 + 3), the joint level {1, 2, 3, 4, 6} cut
    in three would count 9.  The joint search gives way wherever a system's stored states and
    steps of the level reach the limit (found by review)."""
    schema = Schema((int_field("x", 0, 15),))
    x = schema.var("x")

    def table(m: dict[int, int]) -> Expr:
        e = x
        for k, v in m.items():
            e = ite(x.eq(const(k)), const(v), e)
        return e

    f = Action("f", (), TRUE, (("x", table({1: 10, 3: 11, 4: 11, 6: 13})),))
    g = Action("g", (), TRUE, (("x", table({3: 12, 4: 12})),))
    ob = Obligation("inv", "x is not 15", invariant=~x.eq(const(15)))
    a = TransitionSystem("a", schema, tuple({"x": v} for v in (1, 3, 4, 6)), (f, g))
    b = TransitionSystem("b", schema, ({"x": 2},), (f,))
    monkeypatch.setattr(explicit, "CHUNK", 2)
    together = assert_as_alone([(a, [ob]), (b, [ob])], Limits(max_states=10))
    assert [outs[0].verdict for outs in together] == ["unknown", "holds"]


def test_a_system_without_obligations_is_not_expanded_and_a_model_error_is_its_own() -> None:
    """``b`` has nothing to check, so alone it is never expanded, and its step out of range is
    never taken; beside ``a`` it is not either.  A model error met in a joint search is raised
    by the systems' own searches, in order (found by review)."""
    schema = Schema((int_field("x", 0, 3),))
    x = schema.var("x")
    inc = Action("inc", (), TRUE, (("x", x + 1),))
    ob = Obligation("inv", "x is not 2", invariant=~x.eq(2))
    a = TransitionSystem("a", schema, ({"x": 0},), (Action("stay", (), TRUE, ()),))
    b = TransitionSystem("b", schema, ({"x": 3},), (inc,))
    assert [[o.verdict for o in outs] for outs in assert_as_alone([(a, [ob]), (b, [])])] == [["holds"], []]
    c = TransitionSystem("c", schema, ({"x": 1},), (inc,))  # violates at x=2, then leaves the range
    with pytest.raises(ModelError, match=r"inc\(\) assigns 4 to x") as alone:
        explore(b, [ob])
    with pytest.raises(ModelError) as together:
        explore_together([(b, [ob]), (c, [ob])])
    assert str(together.value) == str(alone.value)


def test_a_failed_precondition_searches_each_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """When a vouched reduction's precondition fails in a joint search, every system is
    searched alone (and there, each finds for itself whether it fails)."""
    fails = explicit._Machine.precondition_fails
    monkeypatch.setattr(explicit._Machine, "precondition_fails",
                        lambda self, level: self.joint or fails(self, level))
    assert_as_alone(eras(AREA_INSTANCE, ["linux-3.19", "linux-6.2"]))


def test_systems_over_other_schemas_or_reductions_are_searched_apart() -> None:
    """A system that singles out a process (no process symmetry), and one over the gup area's
    schema, beside an era of the pin pass: three searches, each its own."""
    one = eras(PIN_INSTANCE, ["linux-4.9"], "pin")[0]
    ts = one[0]
    lopsided = dataclasses.replace(ts, actions=tuple(a for a in ts.actions if a.label != "munmap(p=1)"))
    obligations = [p.instantiate(lopsided, PIN_INSTANCE) for p in covered_by(PIN_INSTANCE) if p.area == "pin"]
    other = eras(Instance(processes=2, pages=1, nodes=1, areas=frozenset({"numa", "pin", "gup"})),
                 ["linux-4.9"], "pin")[0]
    assert_as_alone([one, (lopsided, obligations), other])


def test_a_pass_of_explicit_checks_is_one_unit() -> None:
    def check(variant: str, engine: str = "explicit", inst: Instance = PIN_INSTANCE,
              limits: Limits | None = None) -> Check:
        return Check(BUILTIN[variant], (PROPERTIES["pin-isolation"],), engine, inst, limits or Limits())

    plan = [check("linux-4.9"), check("linux-6.2"), check("linux-6.2", "bmc"), check("linux-4.9"),
            check("linux-5.8", inst=AREA_INSTANCE), check("linux-6.2", inst=AREA_INSTANCE),
            check("linux-6.2", inst=AREA_INSTANCE, limits=Limits(max_states=10))]
    assert units(plan) == [range(0, 2), range(2, 3), range(3, 4), range(4, 6), range(6, 7)]
