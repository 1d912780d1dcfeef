"""The SARIF report: schema-valid, one rule per property, one result per surprise, stable identity."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from numacheck.checker.result import Result, Stats
from numacheck.reports import sarif
from tests.report_samples import INSTANCE, sample_results

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture(scope="module")
def results() -> list[Result]:
    return sample_results()


@pytest.fixture(scope="module")
def log(results: list[Result]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(sarif.render(results, INSTANCE))
    return doc


def validate(doc: dict[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, errors


def fingerprints(results: list[Result]) -> list[str]:
    doc = json.loads(sarif.render(results, INSTANCE))
    return [r["partialFingerprints"]["numacheckResult/v1"] for r in doc["runs"][0]["results"]]


def test_validates_against_the_sarif_schema(log: dict[str, Any]) -> None:
    assert log["version"] == "2.1.0"
    validate(log)


def test_one_rule_per_property(log: dict[str, Any], results: list[Result]) -> None:
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "numacheck" and driver["version"]
    rules = driver["rules"]
    assert [r["id"] for r in rules] == list(dict.fromkeys(r.property for r in results))
    first = results[0]
    assert rules[0]["shortDescription"]["text"] == first.property_summary
    assert first.situation in rules[0]["fullDescription"]["text"]
    assert first.property_summary in rules[0]["help"]["text"] and first.situation in rules[0]["help"]["text"]


def test_one_result_per_unexpected_result(log: dict[str, Any], results: list[Result]) -> None:
    out = log["runs"][0]["results"]
    unexpected = [r for r in results if not r.as_expected]
    assert len(out) == len(unexpected) == 4
    assert [(o["properties"]["variant"], o["ruleId"], o["properties"]["verdict"]) for o in out] == [
        (r.variant, r.property, r.verdict) for r in unexpected]
    assert [o["level"] for o in out] == ["error", "error", "warning", "warning"]
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[o["ruleIndex"]]["id"] == o["ruleId"] for o in out)


def test_locations_are_relative_to_the_project_root(log: dict[str, Any], results: list[Result]) -> None:
    where = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    path, line = results[2].variant_source.rsplit(":", 1)
    assert where["artifactLocation"] == {"uri": path, "uriBaseId": "SRCROOT"}
    assert where["region"]["startLine"] == int(line)
    related = log["runs"][0]["results"][0]["relatedLocations"][0]["physicalLocation"]
    assert related["artifactLocation"]["uri"] == results[2].property_source.rsplit(":", 1)[0]


def test_counterexample_is_a_thread_flow_with_one_location_per_step(log: dict[str, Any],
                                                                   results: list[Result]) -> None:
    trace = results[2].trace
    assert trace is not None
    flows = log["runs"][0]["results"][0]["codeFlows"]
    locations = flows[0]["threadFlows"][0]["locations"]
    assert len(locations) == len(trace.steps)
    texts = [loc["location"]["message"]["text"] for loc in locations]
    assert all(t.startswith(step.label) for t, step in zip(texts[1:], trace.steps[1:], strict=True))
    scan = next(t for t in texts if t.startswith("change_prot_numa"))
    assert "+_PAGE_PROTNONE" in scan and "-_PAGE_RW" in scan
    assert "tnf_no_group=1" in texts[-1]
    assert "codeFlows" not in log["runs"][0]["results"][1]


def test_fingerprints_ignore_timings_and_follow_the_trace(results: list[Result]) -> None:
    again = copy.deepcopy(results)
    for r in again:
        r.stats = Stats(seconds=r.stats.seconds + 100, solver_calls=7)
    assert fingerprints(results) == fingerprints(again)
    assert len(set(fingerprints(results))) == 4
    trace = results[2].trace
    assert trace is not None
    last = trace.steps[-1]
    moved = dataclasses.replace(last, args={**last.args, "p": 1})
    steps = (*trace.steps[:-1], moved)
    other = dataclasses.replace(results[2], trace=dataclasses.replace(trace, steps=steps))
    assert fingerprints([other])[0] != fingerprints([results[2]])[0]


def test_results_without_sources_have_no_locations_and_stay_valid(results: list[Result]) -> None:
    bare = dataclasses.replace(results[2], variant_source="", property_source="")
    doc = json.loads(sarif.render([bare], INSTANCE))
    validate(doc)
    out = doc["runs"][0]["results"][0]
    assert "locations" not in out and "relatedLocations" not in out
    locations = out["codeFlows"][0]["threadFlows"][0]["locations"]
    assert all("physicalLocation" not in loc["location"] for loc in locations)


def test_absolute_user_file_is_a_file_uri() -> None:
    where = sarif.physical_location("/home/me/my patch.py:12")
    assert where == {"artifactLocation": {"uri": "file:///home/me/my%20patch.py"},
                     "region": {"startLine": 12}}
    assert sarif.physical_location("") is None


def test_everything_as_expected_gives_no_results(results: list[Result]) -> None:
    doc = json.loads(sarif.render(results[:2], INSTANCE))
    validate(doc)
    assert doc["runs"][0]["results"] == []
    assert len(doc["runs"][0]["tool"]["driver"]["rules"]) == 2
