"""JUnit XML for CI test dashboards: each (variant, property, engine) result is one test case.

There is one ``<testsuite>`` per variant, so a dashboard groups the properties under the kernel
era they were checked on, matching ``classname`` (the variant).  A test case fails when its
result is conclusive and not as expected (vacuous included), with the counterexample as the
text report renders it; an unknown verdict is skipped, since no answer was reached.  An expected
violation passes and shows its trace in ``<system-out>``: the historic bug is still found.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from numacheck.checker.result import Result
from numacheck.reports.text import VERDICT_WORD, render_trace, result_line


def failure_kind(r: Result) -> str:
    """The failure's ``type``: which way the result differs from the expectation."""
    if r.trace_mismatch:
        return "another-counterexample"
    if r.verdict == "violated":
        return "unexpected-violation"
    if r.verdict == "holds":
        return "violation-not-found"
    return "vacuous"


def details(r: Result) -> str:
    """The result line, the expectation, and the trace or the engine's message."""
    lines = [result_line(r)]
    if r.expectation_reason:
        lines.append(f"expected {r.expected}: {r.expectation_reason}")
    if r.message:
        lines.append(r.message)
    if r.trace_mismatch:
        lines.append(r.trace_mismatch)
    if r.trace is not None:
        lines.append(render_trace(r.trace))
    return "\n".join(lines)


def testcase(r: Result) -> ET.Element:
    """One result as a ``<testcase>``; the name carries the engine so each is unique."""
    case = ET.Element("testcase", classname=r.variant, name=f"{r.property}[{r.engine}]",
                      time=f"{r.stats.seconds:.3f}")
    if not r.conclusive:
        ET.SubElement(case, "skipped", message=r.message or "inconclusive")
    elif not r.as_expected:
        summary = r.trace_mismatch or f"{VERDICT_WORD[r.verdict]}, expected {r.expected}"
        failure = ET.SubElement(case, "failure", type=failure_kind(r), message=summary)
        failure.text = details(r)
    elif r.trace is not None:
        ET.SubElement(case, "system-out").text = details(r)
    return case


def _count(element: ET.Element, results: list[Result]) -> None:
    element.set("tests", str(len(results)))
    element.set("failures", str(sum(1 for r in results if r.conclusive and not r.as_expected)))
    element.set("errors", "0")
    element.set("skipped", str(sum(1 for r in results if not r.conclusive)))
    element.set("time", f"{sum(r.stats.seconds for r in results):.3f}")


def render(results: list[Result], instance: str) -> str:
    """The run as one ``<testsuites>`` document, one suite per variant in order of appearance."""
    root = ET.Element("testsuites", name="numacheck")
    _count(root, results)
    by_variant: dict[str, list[Result]] = {}
    for r in results:
        by_variant.setdefault(r.variant, []).append(r)
    for variant, members in by_variant.items():
        suite = ET.SubElement(root, "testsuite", name=variant)
        _count(suite, members)
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="instance", value=instance)
        suite.extend(testcase(r) for r in members)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
