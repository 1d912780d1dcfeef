"""A run's orchestration: a check another check of the same run has decided is not searched
again, and only a check with the same system and obligations counts as decided."""

from __future__ import annotations

from numacheck.checker.outcome import Limits
from numacheck.checker.parallel import run_checks
from numacheck.checker.run import Check, run_check, what_decides
from numacheck.model.instance import Instance
from numacheck.model.variant import build
from numacheck.model.variants import BUILTIN
from numacheck.properties import BUILTIN as PROPERTIES

PIN = Instance(processes=2, pages=1, nodes=1, areas=frozenset({"numa", "pin"}))
PROPS = (PROPERTIES["pin-isolation"], PROPERTIES["pin-coherence"])


def check(variant: str, props: tuple[object, ...] = PROPS) -> Check:
    return Check(BUILTIN[variant], props, "explicit", PIN, Limits())  # type: ignore[arg-type]


def key(c: Check) -> tuple[object, ...]:
    ts = build(c.variant, c.instance)
    return what_decides(c, ts, [p.instantiate(ts, c.instance) for p in c.properties])


def summary(results: list[object]) -> list[tuple[object, ...]]:
    return [(r.variant, r.property, r.verdict, r.stats.states, r.stats.transitions,  # type: ignore[attr-defined]
             r.trace) for r in results]


def test_an_era_the_instance_does_not_tell_apart_gets_the_same_results_without_a_search() -> None:
    # linux-4.0-rc1 and -rc4 differ only in a NUMA rule this instance's pin properties cannot see
    plan = [check("linux-4.0-rc1"), check("linux-4.0-rc4"), check("linux-4.0")]
    together = run_checks(plan)
    alone = [r for c in plan for r in run_check(c)]
    assert summary(together) == summary(alone)
    assert [r.stats for r in together[2:4]] == [r.stats for r in together[:2]]  # rc1's, seconds too
    assert [r.stats for r in alone[2:4]] != [r.stats for r in alone[:2]]  # searched again
    assert key(plan[0]) == key(plan[1]) != key(plan[2])


def test_other_obligations_or_eras_are_searched() -> None:
    assert key(check("linux-6.2")) == key(check("linux-6.3"))
    assert key(check("linux-6.2")) != key(check("linux-6.2", PROPS[:1]))
    assert key(check("linux-5.13")) != key(check("linux-6.2"))
