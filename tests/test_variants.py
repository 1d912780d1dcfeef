"""Every built-in era against its expectations on the default instance, from the engine.

Runs the default matrix once (the same work as ``numacheck verify``, minutes) and checks the
verdicts the kernel history predicts and the shape of the historic counterexamples.  Marked
``verify``: not in the default run (tests/test_small_matrix.py is), run by ``make test-verify``.
"""

from __future__ import annotations

import pytest

from numacheck.checker.outcome import Limits
from numacheck.checker.result import Result
from numacheck.checker.run import Check, run_check
from numacheck.model.instance import Instance
from numacheck.model.variants import BUILTIN
from numacheck.properties import covered_by

pytestmark = pytest.mark.verify


@pytest.fixture(scope="module")
def matrix() -> dict[tuple[str, str], Result]:
    out = {}
    for variant in BUILTIN.values():
        check = Check(variant, covered_by(Instance()), "explicit", Instance(), Limits())
        for r in run_check(check):
            out[(r.variant, r.property)] = r
    return out


def test_every_result_matches_its_expectation(matrix: dict[tuple[str, str], Result]) -> None:
    wrong = [f"{k}: {r.verdict} (expected {r.expected})" for k, r in matrix.items() if not r.as_expected]
    assert not wrong


def test_the_historic_bug_is_found_with_a_short_trace(matrix: dict[tuple[str, str], Result]) -> None:
    r = matrix[("linux-4.0-rc1", "numa-restore-keeps-write")]
    assert r.verdict == "violated" and r.trace is not None
    assert r.trace.length <= 6
    actions = [s.action for s in r.trace.steps]
    scan, fault = actions.index("change_prot_numa"), actions.index("do_numa_page")
    assert scan < fault == len(actions) - 1
    # before the scan a step made the PTE writable...
    assert any(s.state["p0.pte[0]._PAGE_RW"] == "1" for s in r.trace.steps[:scan])
    # ...and the hinting fault restored it present but read-only
    last = r.trace.steps[-1].state
    assert last["p0.pte[0]._PAGE_PRESENT"] == "1" and last["p0.pte[0]._PAGE_RW"] == "0"


@pytest.mark.parametrize("era", ["linux-3.19", "linux-4.0", "linux-4.9", "linux-4.16", "linux-5.13",
                                 "linux-6.0", "linux-6.2", "linux-6.4", "linux-6.11"])
def test_fixed_eras_keep_write_permission(matrix: dict[tuple[str, str], Result], era: str) -> None:
    r = matrix[(era, "numa-restore-keeps-write")]
    assert r.verdict == "holds" and r.stats.states > 100_000


def test_grouping_regressions_need_fork_or_migration(matrix: dict[tuple[str, str], Result]) -> None:
    # 4.0-rc4's dirty-bit and 4.0's VM_WRITE proxies are wrong only once fork write-protects a
    # dirty page; 6.2's re-determined writability only after a migration left a page read-only.
    for era, op in (("linux-4.0-rc4", "fork"), ("linux-4.0", "fork"), ("linux-6.2", "migrate_task_to"),
                    ("linux-6.4", "migrate_task_to"), ("linux-6.11", "migrate_task_to")):
        r = matrix[(era, "numa-grouping-matches-write")]
        assert r.trace is not None and op in [s.action for s in r.trace.steps]


def test_no_property_holds_vacuously(matrix: dict[tuple[str, str], Result]) -> None:
    assert all(r.verdict != "vacuous" for r in matrix.values())
