"""Every built-in era against its expectations on small instances, with pinned state counts.

The default instance (2 processes) is ``make verify``'s job and tests/test_variants.py's (marker
``verify``, not in the default run); here one process with two nodes already shows every
expected verdict in a fraction of a second per era, and pinned state counts catch a change to
the model or the search that leaves the verdicts alone.  Two processes on one node give the
fork-shaped grouping regressions.
"""

from __future__ import annotations

from functools import cache

import pytest

from numacheck.checker.outcome import Limits
from numacheck.checker.result import Result
from numacheck.checker.run import Check, run_check
from numacheck.model.instance import Instance, pte_name
from numacheck.model.variants import BUILTIN
from numacheck.properties import covered_by

ONE_PROCESS = Instance(processes=1, pages=1, nodes=2)
TWO_PROCESSES = Instance(processes=2, pages=1, nodes=1)

#: Orbits (reachable states up to exchanging the two nodes) of each era on ONE_PROCESS; every
#: property that holds explores them all.
STATES = {
    "linux-3.19": 468,
    "linux-4.0-rc1": 420,
    "linux-4.0-rc4": 420,
    "linux-4.0": 468,
    "linux-4.8": 468,
    "linux-4.9": 468,
    "linux-4.16": 468,
    "linux-5.8": 468,
    "linux-5.9": 468,
    "linux-5.13": 972,
    "linux-5.16": 972,
    "linux-5.19": 972,
    "linux-6.0": 924,
    "linux-6.1": 444,
    "linux-6.2": 524,
    "linux-6.3": 524,
    "linux-6.4": 504,
    "linux-6.11": 504,
}


@cache
def results(era: str, inst: Instance = ONE_PROCESS) -> dict[str, Result]:
    check = Check(BUILTIN[era], covered_by(inst), "explicit", inst, Limits())
    return {r.property: r for r in run_check(check)}


@pytest.mark.parametrize("era", list(BUILTIN))
def test_every_result_matches_its_expectation(era: str) -> None:
    wrong = [f"{p}: {r.verdict} (expected {r.expected})" for p, r in results(era).items()
             if not r.as_expected]
    assert not wrong


@pytest.mark.parametrize(("era", "states"), STATES.items())
def test_state_counts_are_pinned(era: str, states: int) -> None:
    proved = [r for r in results(era).values() if r.verdict == "holds"]
    assert proved and all(r.stats.states == states for r in proved)
    # a violation stops the search early, with fewer states than the whole space
    assert all(r.stats.states < states for r in results(era).values() if r.verdict == "violated")


def test_the_historic_bug_is_found_with_a_short_trace() -> None:
    r = results("linux-4.0-rc1")["numa-restore-keeps-write"]
    assert r.verdict == "violated" and r.trace is not None and r.trace.length == 6
    actions = [s.action for s in r.trace.steps]
    scan, fault = actions.index("change_prot_numa"), actions.index("do_numa_page")
    assert scan < fault == len(actions) - 1
    rw, present = pte_name(0, 0, "write"), pte_name(0, 0, "present")
    # before the scan a step made the PTE writable...
    assert any(s.state[rw] == "1" for s in r.trace.steps[:scan])
    # ...and the hinting fault restored it present but read-only
    last = r.trace.steps[-1].state
    assert last[present] == "1" and last[rw] == "0"


def test_grouping_regressions_need_fork_or_migration() -> None:
    # 4.0-rc4's dirty-bit and 4.0's VM_WRITE proxies are wrong once fork write-protects a dirty
    # page; 6.2's re-determined writability only after a migration left a page read-only.
    for era, inst, op in (("linux-4.0-rc4", TWO_PROCESSES, "fork"), ("linux-4.0", TWO_PROCESSES, "fork"),
                          ("linux-6.2", ONE_PROCESS, "migrate_task_to")):
        r = results(era, inst)["numa-grouping-matches-write"]
        assert r.trace is not None and op in [s.action for s in r.trace.steps], era
