"""Real results for the report tests, computed once per session, plus every kind of surprise.

One bounded check of 4.0-rc1 gives the historic violation (with its 6-step trace) and a property
that holds; the other cases are those two with the verdict or the expectation changed.
"""

from __future__ import annotations

import dataclasses
from functools import cache

from numacheck.checker.outcome import Limits
from numacheck.checker.result import Result
from numacheck.checker.run import Check, run_check
from numacheck.model.instance import Instance
from numacheck.model.variants import resolve as resolve_variant
from numacheck.properties import resolve as resolve_property

INSTANCE = "processes=2, pages=1, nodes=2"


@cache
def checked() -> tuple[Result, Result]:
    """(4.0-rc1 numa-restore-keeps-write: violated as expected, write-requires-vm-write: holds)."""
    check = Check(resolve_variant("linux-4.0-rc1"),
                  (resolve_property("numa-restore-keeps-write"), resolve_property("write-requires-vm-write")),
                  "bmc", Instance(), Limits(depth=8))
    violated, holds = run_check(check)
    assert violated.verdict == "violated" and violated.trace is not None and holds.verdict == "holds"
    return violated, holds


def sample_results() -> list[Result]:
    """Two as-expected results, then: unexpected violation, violation not found, unknown, vacuous."""
    violated, holds = checked()
    return [
        violated,
        holds,
        dataclasses.replace(violated, variant="linux-4.0-claimed", expected="holds", expectation_reason=""),
        dataclasses.replace(holds, variant="linux-4.0-claimed", expected="violated",
                            expectation_reason="claimed to write outside VM_WRITE <&>"),
        dataclasses.replace(holds, property="numa-migrate-keeps-write", verdict="unknown",
                            message="state limit <10> & time limit reached"),
        dataclasses.replace(holds, property="protnone-never-accessed", verdict="vacuous",
                            message="situation unreachable"),
    ]
