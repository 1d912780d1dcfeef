"""The explicit engine on small hand-made systems whose answers are known by construction."""

from __future__ import annotations

import pytest

from numacheck.checker.engines.explicit import explore
from numacheck.checker.outcome import Limits
from numacheck.model.expr import TRUE, ModelError, const, ite
from numacheck.model.schema import Schema, bool_field, int_field
from numacheck.model.system import Action, Obligation, TransitionSystem

COUNTER = Schema((int_field("n", 0, 9), bool_field("flag")))
n, flag = COUNTER.var("n"), COUNTER.var("flag")


def counter(actions: tuple[Action, ...]) -> TransitionSystem:
    return TransitionSystem("counter", COUNTER, ({"n": 0},), actions)


INC = Action("inc", (), n < 9, (("n", n + 1),))
TOGGLE = Action("toggle", (), TRUE, (("flag", ~flag),))


def test_invariant_violation_is_a_shortest_path() -> None:
    ts = counter((INC, TOGGLE))
    ob = Obligation("below5", "n < 5", invariant=n < 5, situation_text="")
    [out] = explore(ts, [ob])
    assert out.verdict == "violated"
    assert out.depth == 5 and out.path is not None
    assert [a for a, _ in out.path] == [-1, 0, 0, 0, 0, 0]


def test_step_property_is_checked_on_the_transition() -> None:
    ts = counter((INC, TOGGLE))
    # "toggle never sets the flag while n == 3": violated at depth 4 (3 x inc, toggle)
    check = (n.eq(3)).implies(~COUNTER.next("flag"))
    ob = Obligation("step", "", steps=((1, check),), situation_steps=((1, TRUE),), situation_text="")
    [out] = explore(ts, [ob])
    assert out.verdict == "violated" and out.depth == 4
    assert out.path is not None and out.path[-1][0] == 1


def test_holds_after_full_exploration_and_counts_states() -> None:
    ts = counter((INC, TOGGLE))
    ob = Obligation("bounded", "", invariant=n <= 9, sometimes=n.eq(9), situation_text="n reaches 9")
    [out] = explore(ts, [ob])
    assert out.verdict == "holds"
    assert out.stats.states == 20 and out.stats.depth == 10
    assert out.stats.op_counts == {"inc": 18, "toggle": 20}


def test_unreachable_situation_makes_a_property_vacuous() -> None:
    ts = counter((INC,))
    ob = Obligation("flagless", "", invariant=TRUE, sometimes=flag, situation_text="flag is set")
    [out] = explore(ts, [ob])
    assert out.verdict == "vacuous" and "flag is set" in out.message


def test_state_limit_gives_unknown_never_holds() -> None:
    ts = counter((INC, TOGGLE))
    ob = Obligation("ok", "", invariant=TRUE, sometimes=TRUE, situation_text="")
    [out] = explore(ts, [ob], Limits(max_states=3))
    assert out.verdict == "unknown" and "state limit" in out.message


def test_out_of_range_assignment_is_a_model_error() -> None:
    bad = Action("overflow", (), TRUE, (("n", ite(flag, n, n + 1)),))
    ts = counter((bad,))
    ob = Obligation("ok", "", invariant=TRUE, situation_text="")
    with pytest.raises(ModelError, match="outside its range"):
        explore(ts, [ob])


def test_each_obligation_gets_its_own_shortest_trace() -> None:
    ts = counter((INC, TOGGLE))
    obs = [
        Obligation("n<2", "", invariant=n < 2, situation_text=""),
        Obligation("n<4", "", invariant=n < 4, situation_text=""),
        Obligation("noflag", "", invariant=~flag, situation_text=""),
    ]
    outs = explore(ts, obs)
    assert [o.depth for o in outs] == [2, 4, 1]


def test_memory_limit_gives_unknown_never_holds() -> None:
    ts = counter((INC, TOGGLE))
    ob = Obligation("ok", "", invariant=TRUE, sometimes=TRUE, situation_text="")
    [out] = explore(ts, [ob], Limits(max_memory_mb=1))
    assert out.verdict == "unknown" and "memory limit" in out.message


def test_progress_is_reported_per_level() -> None:
    ts = counter((INC, TOGGLE))
    ob = Obligation("ok", "", invariant=TRUE, sometimes=TRUE, situation_text="")
    seen: list[tuple[int, int, int, int]] = []
    explore(ts, [ob], progress=lambda s, t, d, q, _: seen.append((s, t, d, q)))
    depths = [d for _, _, d, _ in seen]
    assert depths == sorted(depths) and depths[-1] == 10
    assert seen[-1][0] == 20 and seen[-1][1] == 38


@pytest.mark.parametrize(("variant", "verdicts"), [("linux-4.0-rc1", {"violated", "holds"}),
                                                   ("linux-6.2", {"holds"})])
def test_chunks_and_threads_change_no_result(variant: str, verdicts: set[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Cutting every level into many chunks, expanded three at a time, gives the same verdicts,
    state counts and traces (state for state) as one chunk per level; so does evaluating
    every batch action by action (over the states each is enabled in) rather than whole."""
    from numacheck.checker.engines import explicit
    from numacheck.model.instance import Instance
    from numacheck.model.variant import build
    from numacheck.model.variants import BUILTIN
    from numacheck.properties import BUILTIN as PROPERTIES

    inst = Instance(processes=2, pages=1, nodes=1)
    ts = build(BUILTIN[variant], inst)
    obligations = [PROPERTIES[p].instantiate(ts, inst) for p in
                   ("numa-restore-keeps-write", "numa-grouping-matches-write", "write-requires-exclusive")]
    def results(threads: int = 1, **constants: int) -> list[tuple[object, ...]]:
        for name, value in constants.items():
            monkeypatch.setattr(explicit, name, value)
        outcomes = explore(ts, obligations, Limits(threads=threads))
        return [(o.verdict, o.stats.states, o.stats.transitions, o.path) for o in outcomes]

    whole = results(WHOLE=1 << 30)
    assert results(WHOLE=0) == whole
    assert results(3, WHOLE=5, CHUNK=7, SHARED=2) == whole
    assert {o[0] for o in whole} == verdicts  # both kinds of result are compared


@pytest.mark.parametrize("symmetry", [True, False])
def test_traces_read_from_the_search_equal_traces_expanded_again(
        symmetry: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A trace's steps out of a small level are read from what the search made expanding it
    (``explicit._Expansion``); they are the steps that expanding the level again finds, state
    for state, with and without symmetry (the pin properties: a step check and an invariant)."""
    from numacheck.checker.engines import explicit
    from numacheck.model.instance import PIN_INSTANCE
    from numacheck.model.variant import build
    from numacheck.model.variants import BUILTIN
    from numacheck.properties import BUILTIN as PROPERTIES

    ts = build(BUILTIN["linux-4.0-rc1"], PIN_INSTANCE)
    obligations = [PROPERTIES[p].instantiate(ts, PIN_INSTANCE) for p in ("pin-isolation", "pin-coherence")]
    used: list[int] = []
    forms_of = explicit._Expansion.forms_of
    monkeypatch.setattr(explicit._Expansion, "forms_of",
                        lambda self, rows: used.append(len(rows)) or forms_of(self, rows))

    def traces() -> list[tuple[str, object]]:
        return [(o.verdict, o.path) for o in explore(ts, obligations, Limits(threads=1, symmetry=symmetry))]

    kept = traces()
    assert {v for v, _ in kept} == {"violated"} and used
    monkeypatch.setattr(explicit, "REMEMBER", 0)  # nothing is kept: every level is expanded again
    used.clear()
    assert traces() == kept and not used


def test_a_level_cut_into_chunks_gives_the_first_step_over_the_whole_level(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """n = 5 is reached from level {1, 2} by ``to5-from2`` (the first action) and by
    ``to5-from1`` (from the first state): the trace takes the first action whether or not the
    level is cut into chunks (what the search keeps of one chunk is not taken for the level)."""
    from numacheck.checker.engines import explicit

    ts = counter((Action("to5-from2", (), n.eq(2), (("n", const(5)),)),
                  Action("to5-from1", (), n.eq(1), (("n", const(5)),)),
                  Action("up1", (), n.eq(0), (("n", n + 1),)),
                  Action("up2", (), n.eq(0), (("n", n + 2),))))
    ob = Obligation("never-5", "", invariant=~n.eq(5))

    def trace() -> list[tuple[int, int]]:
        path = explore(ts, [ob], Limits(threads=1))[0].path
        assert path is not None
        return [(a, int(ts.schema.unpack(s)["n"])) for a, s in path]

    assert trace() == [(-1, 0), (3, 2), (0, 5)]
    monkeypatch.setattr(explicit, "CHUNK", 1)
    assert trace() == [(-1, 0), (3, 2), (0, 5)]


@pytest.mark.parametrize(("action", "message"), [
    (Action("peek", (), COUNTER.next("n") < 9, ()), r"peek\(\) guard: refers to the next state"),
    (Action("grow", (), TRUE, (("m", n),)), r"grow\(\) := m: unknown field m"),
    (Action("flip", (), TRUE, (("flag", n),)), r"flip\(\) := flag: expected bool, got int"),
    (Action("twice", (), TRUE, (("n", n), ("n", n))), r"twice\(\) assigns n twice"),
    (Action("show", (), TRUE, (), (("seen", COUNTER.next("flag")),)), r"show\(\) output seen: refers"),
])
def test_a_malformed_action_is_a_model_error(action: Action, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        counter((INC, action))
