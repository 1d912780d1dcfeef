"""Expected violations pinned down by the recorded shape of their shortest counterexample.

linux-6.2 violates numa-grouping-matches-write on purpose; a patch that adds another bug under
that property must still fail the gate, because its counterexample is not the recorded one.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from numacheck.checker.outcome import Limits
from numacheck.checker.result import Result
from numacheck.checker.run import Check, run_check
from numacheck.model import VARIANTS, Instance, Variant, trace_shape
from numacheck.model.variants import load_variant_file
from numacheck.properties import BUILTIN as PROPERTIES
from numacheck.reports import junit, sarif
from tests.test_cli import invoke

ALWAYS_GROUP = '''from numacheck.model import FALSE, VARIANTS, operation

base = VARIANTS["linux-6.2"].operation("do_numa_page")


@operation("do_numa_page", base.citation, **base.params)
def do_numa_page(mm, p, page, outcome):
    """6.2's hinting fault, except that it never passes TNF_NO_GROUP."""
    base.body(mm, p, page, outcome)
    mm.step.output("tnf_no_group", FALSE)


VARIANT = VARIANTS["linux-6.2"].derive("linux-6.2-always-group", replace_ops=(do_numa_page,))
'''


def check(variant: Variant, prop: str, inst: Instance | None = None) -> Result:
    (r,) = run_check(Check(variant, (PROPERTIES[prop],), "explicit", inst or Instance(), Limits()))
    return r


def test_a_new_bug_under_a_deliberately_violated_property_fails_the_gate(tmp_path: Path) -> None:
    file = tmp_path / "always_group.py"
    file.write_text(ALWAYS_GROUP)
    code, out, _ = invoke("verify", "-v", str(file), "-p", "numa-grouping-matches-write")
    assert code == 1
    assert "UNEXPECTED (another trace)" in out
    # both traces: the recorded shape in the message, the one found in full below it
    assert "expected a shortest counterexample of 10 steps: mmap, access" in out
    assert "found 7 steps: " in out and "Counterexample, 7 steps:" in out


def test_every_expected_violation_of_a_built_in_era_is_pinned() -> None:
    unpinned = [(v.name, p) for v in VARIANTS.values() for p in v.expect_violated if p not in v.expect_trace]
    assert not unpinned


def test_the_recorded_shapes_are_the_engines() -> None:
    """The recorded history is checked against the engine at run time, here for 6.2."""
    r = check(VARIANTS["linux-6.2"], "numa-grouping-matches-write")
    assert r.as_expected and r.trace is not None and not r.trace_mismatch
    assert r.expected_trace is not None and r.expected_trace["length"] == r.trace.length == 10


def test_another_equally_short_trace_through_the_recorded_functions_is_accepted() -> None:
    """Of equally short counterexamples an engine may report any: the recorded one is looked
    for among the traces through its functions only (a different engine order, e.g. the lead's
    level-synchronous search, must not fail the gate)."""
    era = VARIANTS["linux-4.0-rc1"]
    # the recorded 6-step trace with one more function the engine's own trace does not use
    wider = trace_shape("mmap access do_anonymous_page change_prot_numa access do_numa_page")
    wider = replace(wider, functions=wider.functions | {"fork"})
    r = check(replace(era, expect_trace={"numa-restore-keeps-write": wider}), "numa-restore-keeps-write")
    assert r.as_expected and not r.trace_mismatch


def test_a_recorded_shape_no_shortest_trace_has_is_not_as_expected() -> None:
    era = VARIANTS["linux-4.0-rc1"]
    # six steps without do_anonymous_page: no page to protect, so no such counterexample
    impossible = trace_shape("mmap access do_fault change_prot_numa access do_numa_page")
    r = check(replace(era, expect_trace={"numa-restore-keeps-write": impossible}), "numa-restore-keeps-write")
    assert not r.as_expected and "no counterexample of that length" in r.trace_mismatch


def test_a_shape_recorded_on_another_instance_is_not_compared() -> None:
    r = check(VARIANTS["linux-4.0-rc1"], "numa-restore-keeps-write", Instance(processes=1))
    assert r.as_expected and any("not compared" in n for n in r.notes)


def test_ci_reports_say_which_counterexample_was_expected(tmp_path: Path) -> None:
    file = tmp_path / "always_group.py"
    file.write_text(ALWAYS_GROUP)
    r = check(load_variant_file(str(file)), "numa-grouping-matches-write")
    assert not r.as_expected and r.trace_mismatch
    xml = junit.render([r], Instance().describe())
    assert 'type="another-counterexample"' in xml and "expected a shortest counterexample of 10" in xml
    doc = json.loads(sarif.render([r], Instance().describe()))
    (found,) = doc["runs"][0]["results"]
    assert "violated as expected, but not the recorded counterexample" in found["message"]["text"]
