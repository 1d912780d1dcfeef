"""SARIF 2.1.0 for code-scanning tools: one rule per property, one result per surprise.

Only results that are not as their variant expects become SARIF results; a run where everything
matches the kernel history's prediction has none.  Levels: ``error`` when the search settled the
question the other way than expected (an unexpected violation, or an expected violation no longer
found: the model or the expectation is wrong); ``warning`` when the property was not really
checked: ``vacuous`` (its situation is unreachable, so holding says nothing) and ``unknown`` (a
limit was reached).  ``numacheck verify`` still fails on vacuous; the level only ranks findings.
A counterexample becomes a code flow with one location per trace step, each placed at the
variant's expectation for the property.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import quote

from numacheck.checker.result import Result, Trace, exit_code
from numacheck.reports.steps import step_text

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

#: The base that relative source paths are resolved against.
SRCROOT = "SRCROOT"


def physical_location(source: str) -> dict[str, Any] | None:
    """``path:LINE`` (relative to the project root, or absolute) as a SARIF physical location."""
    if not source:
        return None
    path, _, line = source.rpartition(":")
    if not path or not line.isdigit():
        path, line = source, ""
    if Path(path).is_absolute():
        artifact = {"uri": Path(path).as_uri()}
    else:
        artifact = {"uri": quote(path), "uriBaseId": SRCROOT}
    location: dict[str, Any] = {"artifactLocation": artifact}
    if line and int(line) >= 1:
        location["region"] = {"startLine": int(line)}
    return location


def fingerprint(r: Result) -> str:
    """A digest of what identifies a finding across runs: never timings or engine figures."""
    steps = [] if r.trace is None else [[s.action, s.args] for s in r.trace.steps]
    key = json.dumps([r.variant, r.property, r.verdict, steps], sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()


def level(r: Result) -> str:
    """``error`` for a settled verdict against the expectation, ``warning`` for vacuous or unknown."""
    return "error" if r.verdict in ("holds", "violated") else "warning"


def message(r: Result) -> str:
    """What happened, in one or two sentences."""
    who = f"{r.variant}: {r.property}"
    if r.trace_mismatch:
        return f"{who} is violated as expected, but {r.trace_mismatch} ({r.engine})."
    if r.verdict == "violated":
        length = f"{r.trace.length}-step counterexample, " if r.trace is not None else ""
        return f"{who} is violated ({length}{r.engine}) but the variant expects it to hold."
    if r.verdict == "holds":
        scope = f"up to depth {r.depth}" if r.bounded else "unbounded"
        return (f"{who} holds ({scope}, {r.engine}) but the variant expects it violated: "
                f"{r.expectation_reason or 'no reason given'}")
    if r.verdict == "vacuous":
        situation = f" ({r.situation})" if r.situation else ""
        return f"{who} holds only vacuously: its situation{situation} is unreachable. {r.message}".strip()
    return f"{who} is inconclusive ({r.engine}): {r.message or 'a limit was reached'}"


def rule(r: Result) -> dict[str, Any]:
    """The rule for ``r``'s property: its summary and the situation it is about."""
    summary = r.property_summary or r.property
    situation = f"It is about the situation: {r.situation}." if r.situation else ""
    advice = (f"`numacheck show {r.property}` explains why it matters; a result means the verdict "
              "differs from the variant's expectation.")
    return {
        "id": r.property,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": f"{summary} {situation}".strip()},
        "help": {"text": "\n\n".join(part for part in (summary, situation, advice) if part)},
        "defaultConfiguration": {"level": "error"},
    }


def code_flow(trace: Trace, where: dict[str, Any] | None) -> dict[str, Any]:
    """The counterexample: one thread-flow location per step, with the fields it changed."""
    locations = []
    for n, step in enumerate(trace.steps):
        location: dict[str, Any] = {"message": {"text": step_text(trace, n)}}
        if where is not None:
            location["physicalLocation"] = where
        flow_location: dict[str, Any] = {"location": location, "executionOrder": n}
        if step.changed:
            flow_location["state"] = {k: {"text": step.state[k]} for k in step.changed}
        locations.append(flow_location)
    return {
        "message": {"text": f"{trace.length}-step counterexample"},
        "threadFlows": [{"message": {"text": trace.violation}, "locations": locations}],
    }


def sarif_result(r: Result, rule_index: int) -> dict[str, Any]:
    """One unexpected result, located at the variant's expectation (else the property)."""
    variant_at = physical_location(r.variant_source)
    property_at = physical_location(r.property_source)
    primary = variant_at or property_at
    out: dict[str, Any] = {
        "ruleId": r.property,
        "ruleIndex": rule_index,
        "level": level(r),
        "message": {"text": message(r)},
        "partialFingerprints": {"numacheckResult/v1": fingerprint(r)},
        "properties": {"variant": r.variant, "engine": r.engine, "verdict": r.verdict,
                       "expected": r.expected, "bounded": r.bounded, "depth": r.depth},
    }
    if primary is not None:
        out["locations"] = [{"physicalLocation": primary}]
    if variant_at is not None and property_at is not None:
        out["relatedLocations"] = [{"id": 1, "physicalLocation": property_at,
                                    "message": {"text": f"definition of {r.property}"}}]
    if r.trace is not None:
        out["codeFlows"] = [code_flow(r.trace, primary)]
    return out


def render(results: list[Result], instance: str) -> str:
    """The run as one SARIF log."""
    rules: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.property not in rules:
            rules[r.property] = rule(r)
    index = {name: i for i, name in enumerate(rules)}
    driver = {"name": "numacheck", "version": version("numacheck"), "rules": list(rules.values())}
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "originalUriBaseIds": {SRCROOT: {"description": {
                "text": "The numacheck project root (the folder holding model/ and properties/)."}}},
            "invocations": [{"executionSuccessful": True, "exitCode": exit_code(results)}],
            "properties": {"instance": instance},
            "results": [sarif_result(r, index[r.property]) for r in results if not r.as_expected],
        }],
    }
    return json.dumps(doc, indent=2)
