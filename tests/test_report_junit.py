"""The JUnit report: one test case per result, failures and skips where CI should see them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from numacheck.checker.result import Result
from numacheck.reports import junit
from numacheck.reports.text import render_trace
from tests.report_samples import INSTANCE, sample_results


@pytest.fixture(scope="module")
def results() -> list[Result]:
    return sample_results()


@pytest.fixture(scope="module")
def root(results: list[Result]) -> ET.Element:
    return ET.fromstring(junit.render(results, INSTANCE))


def case_of(root: ET.Element, r: Result) -> ET.Element:
    """The test case of ``r`` (in the samples, variant and property name it uniquely)."""
    found = root.find(f"testsuite/testcase[@classname='{r.variant}'][@name='{r.property}[{r.engine}]']")
    assert found is not None
    return found


def by_variant(results: list[Result]) -> list[Result]:
    """The results in the report's order: grouped by variant, variants in order of appearance."""
    return [r for v in dict.fromkeys(r.variant for r in results) for r in results if r.variant == v]


def test_one_testcase_per_result_in_one_suite_per_variant(root: ET.Element, results: list[Result]) -> None:
    assert root.tag == "testsuites" and root.get("tests") == str(len(results))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["linux-4.0-rc1", "linux-4.0-claimed"]
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(results)
    for case, r in zip(cases, by_variant(results), strict=True):
        assert case.get("classname") == r.variant
        assert case.get("name") == f"{r.property}[{r.engine}]"
        assert case.get("time") == f"{r.stats.seconds:.3f}"
    for suite in suites:
        assert suite.get("tests") == str(len(suite.findall("testcase")))
        instance = suite.find("properties/property[@name='instance']")
        assert instance is not None and instance.get("value") == INSTANCE


def test_failures_and_skips(root: ET.Element, results: list[Result]) -> None:
    cases = [case_of(root, r) for r in results]
    outcome = [("failure" if c.find("failure") is not None else "skipped" if c.find("skipped") is not None
                else "pass") for c in cases]
    assert outcome == ["pass", "pass", "failure", "failure", "skipped", "failure"]
    assert root.get("failures") == "3" and root.get("skipped") == "1" and root.get("errors") == "0"
    kinds = [f.get("type") for c in cases for f in c.findall("failure")]
    assert kinds == ["unexpected-violation", "violation-not-found", "vacuous"]


def test_unexpected_violation_carries_the_text_trace(root: ET.Element, results: list[Result]) -> None:
    trace = results[2].trace
    assert trace is not None
    failure = case_of(root, results[2]).find("failure")
    assert failure is not None and failure.get("message") == "VIOLATED, expected holds"
    assert failure.text is not None and render_trace(trace) in failure.text


def test_skipped_carries_the_message_escaped_correctly(root: ET.Element, results: list[Result]) -> None:
    skipped = case_of(root, results[4]).find("skipped")
    assert skipped is not None and skipped.get("message") == "state limit <10> & time limit reached"
    failure = case_of(root, results[3]).find("failure")
    assert failure is not None and failure.text is not None
    assert "claimed to write outside VM_WRITE <&>" in failure.text


def test_as_expected_violation_shows_its_trace_without_failing(root: ET.Element,
                                                               results: list[Result]) -> None:
    case = case_of(root, results[0])
    out = case.find("system-out")
    assert case.find("failure") is None and out is not None and out.text is not None
    assert "do_numa_page" in out.text


def test_everything_as_expected_has_no_failures(results: list[Result]) -> None:
    root = ET.fromstring(junit.render(results[:2], INSTANCE))
    assert root.get("failures") == "0" and root.get("skipped") == "0"
    assert not root.findall(".//failure") and not root.findall(".//skipped")
