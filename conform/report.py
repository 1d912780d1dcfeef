"""The conform results as a text table, a JSON document and JUnit XML; the JSON read back.

The JSON keeps every run's raw counts and each scenario's text, so ``numacheck conform
--measured FILE`` can compare an earlier boot's measurements with another variant without
booting again (docs/conform.md lists the fields).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from numacheck.checker.result import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE
from numacheck.conform.compare import (
    AGREE,
    DISAGREE,
    INCONCLUSIVE,
    NOT_APPLICABLE,
    RunCheck,
    ScenarioCheck,
    observed,
    pages_text,
    worst,
)
from numacheck.conform.predict import StepPrediction
from numacheck.conform.runner import COUNTERS, Counts, RunResult
from numacheck.conform.scenario import Scenario, ScenarioError, parse

FORMAT = "numacheck-conform/1"


@dataclass(frozen=True)
class Conformance:
    """A whole comparison: the kernel, the variant, every scenario, and what went wrong."""

    kernel_image: str
    kernel_release: str
    variant: str
    repeats: int
    seconds: float
    checks: tuple[ScenarioCheck, ...]
    problem: str = ""

    def counts(self) -> Counter[str]:
        """How many scenarios have each verdict."""
        return Counter(c.verdict for c in self.checks)

    def exit_code(self) -> int:
        """0 all agree, 1 a disagreement, 3 inconclusive (or a boot problem), 2 nothing the
        variant can predict."""
        verdicts = self.counts()
        if verdicts[DISAGREE]:
            return EXIT_UNEXPECTED
        if verdicts[INCONCLUSIVE] or self.problem:
            return EXIT_INCONCLUSIVE
        if not verdicts[AGREE]:
            return EXIT_USAGE
        return EXIT_OK


def _measured(check: ScenarioCheck, index: int) -> str:
    seen: Counter[str] = Counter()
    for run in check.runs:
        step = run.steps[index]
        if step.counts is None:
            seen["(not measured)"] += 1
            continue
        pages = f"pages {pages_text(step.counts.nodes)}"
        if step.step.is_access:
            seen[f"{observed(step.counts).text()}  {pages}"] += 1
        elif step.step.op == "numa_scan":
            scan = f"scanned ({step.counts.pte} PTEs system-wide)" if step.counts.seq else "no scan"
            seen[f"{scan}  {pages}"] += 1
        else:
            seen[pages] += 1
    return ", ".join(f"{text} x{n}" if len(check.runs) > 1 else text for text, n in seen.items())


def _predicted(p: StepPrediction) -> str:
    pages = "pages " + " | ".join(pages_text(n) for n in sorted(p.nodes))
    if p.step.is_access:
        return " | ".join(o.text() for o in sorted(p.observations)) + "  " + pages
    return ("scan  " if p.step.op == "numa_scan" else "") + pages


def _step_verdict(check: ScenarioCheck, index: int) -> str:
    verdicts = [r.steps[index].verdict for r in check.runs]
    w = worst(verdicts)
    return AGREE if w == AGREE else f"{w} {verdicts.count(w)}/{len(verdicts)}"


def render_scenario(check: ScenarioCheck) -> str:
    """One scenario: its verdict line, a row per step (predicted, measured, verdict), and the
    notes of the runs that did not agree."""
    s = check.scenario
    lines = [f"scenario {s.name}: {check.verdict.upper()}" + (f" ({s.doc})" if s.doc else "")]
    if check.verdict == NOT_APPLICABLE:
        return "\n".join([*lines, f"  {check.note}"])
    rows = [("#", "step", "predicted", "measured", "verdict")]
    for i, p in enumerate(check.prediction):
        rows.append((str(i + 1), p.step.text(), _predicted(p), _measured(check, i), _step_verdict(check, i)))
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    for r in rows:
        lines.append("  " + "  ".join(r[k].ljust(widths[k]) for k in range(4)) + "  " + r[4])
    for run in check.runs:
        notes = [f"step {i + 1}: {st.note}" for i, st in enumerate(run.steps)
                 if st.note and st.verdict in (DISAGREE, INCONCLUSIVE)]
        if run.error:
            notes.insert(0, f"probe error: {run.error}")
        if notes:
            lines.append(f"  run {run.repeat + 1}: " + "; ".join(notes))
    return "\n".join(lines)


def render_text(result: Conformance) -> str:
    """One table per scenario: predicted against measured, step by step; a summary line."""
    lines = [f"numacheck conform: {result.kernel_release or result.kernel_image} against "
             f"{result.variant}, {result.repeats} run(s) of each scenario"]
    for check in result.checks:
        lines += ["", render_scenario(check)]
    n = result.counts()
    lines.append("")
    summary = ", ".join(f"{n[v]} {v}" for v in (AGREE, DISAGREE, INCONCLUSIVE, NOT_APPLICABLE) if n[v])
    lines.append(f"{len(result.checks)} scenarios: {summary} ({result.seconds:.0f} s)")
    if result.problem:
        lines.append(f"problem: {result.problem}")
    return "\n".join(lines) + "\n"


def _run_json(raw: RunResult, checked: RunCheck | None) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"counts": asdict(c)} for c in raw.steps]
    if checked is not None:
        for entry, st in zip(steps, checked.steps, strict=False):
            entry.update(verdict=st.verdict, note=st.note)
    return {"repeat": raw.repeat, "verdict": checked.verdict if checked else NOT_APPLICABLE,
            "error": raw.error, "finished": raw.done, "steps": steps}


def to_json(result: Conformance) -> dict[str, Any]:
    """The JSON document (docs/conform.md)."""
    scenarios = []
    for check in result.checks:
        checked = {r.repeat: r for r in check.runs}
        scenarios.append({
            "name": check.scenario.name,
            "where": check.scenario.where,
            "text": check.scenario.text(),
            "verdict": check.verdict,
            "note": check.note,
            "steps": [{"step": p.step.text(),
                       "predicted": [asdict(o) for o in sorted(p.observations)] if p.step.is_access else None,
                       "predicted_nodes": [list(n) for n in sorted(p.nodes)]}
                      for p in check.prediction],
            "runs": [_run_json(raw, checked.get(raw.repeat)) for raw in check.measured],
        })
    return {
        "format": FORMAT,
        "kernel_image": result.kernel_image,
        "kernel_release": result.kernel_release,
        "variant": result.variant,
        "repeats": result.repeats,
        "seconds": round(result.seconds, 1),
        "problem": result.problem,
        "verdicts": dict(result.counts()),
        "exit_code": result.exit_code(),
        "scenarios": scenarios,
    }


def render_json(result: Conformance) -> str:
    """The JSON document as text."""
    return json.dumps(to_json(result), indent=2) + "\n"


def render_junit(result: Conformance) -> str:
    """One ``<testcase>`` per scenario in a suite named after the variant: a disagreement is a
    failure, an inconclusive scenario an error, one the variant cannot predict is skipped."""
    root = ET.Element("testsuites", name="numacheck conform")
    suite = ET.SubElement(root, "testsuite", name=f"conform {result.variant}")
    n = result.counts()
    for element in (root, suite):
        element.set("tests", str(len(result.checks)))
        element.set("failures", str(n[DISAGREE]))
        element.set("errors", str(n[INCONCLUSIVE]))
        element.set("skipped", str(n[NOT_APPLICABLE]))
        element.set("time", f"{result.seconds:.1f}")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="kernel", value=result.kernel_release or result.kernel_image)
    for check in result.checks:
        case = ET.SubElement(suite, "testcase", classname=result.variant, name=check.scenario.name)
        text = render_scenario(check)
        if check.verdict == DISAGREE:
            ET.SubElement(case, "failure", type="disagreement", message="measured counts the model "
                          "does not allow").text = text
        elif check.verdict == INCONCLUSIVE:
            ET.SubElement(case, "error", type="inconclusive", message="a step was not measured "
                          "cleanly").text = text
        elif check.verdict == NOT_APPLICABLE:
            ET.SubElement(case, "skipped", message=check.note)
        else:
            ET.SubElement(case, "system-out").text = text
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


@dataclass(frozen=True)
class Measured:
    """An earlier boot's measurements read back from its JSON report."""

    kernel_image: str
    kernel_release: str
    repeats: int
    seconds: float
    scenarios: tuple[Scenario, ...]
    runs: dict[tuple[str, int], RunResult]
    problem: str


def load_measured(path: str) -> Measured:
    """Read a JSON report of ``numacheck conform``; a bad file is a ScenarioError (exit 2)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if doc.get("format") != FORMAT:
            raise ScenarioError(f"{path}: not a numacheck conform JSON report (format {FORMAT})")
        scenarios, runs = [], {}
        for s in doc["scenarios"]:
            scenario = parse(s["text"], f"{path}: scenario {s['name']}")[0]
            scenarios.append(scenario)
            for run in s["runs"]:
                counts = [Counts(**{c: int(st["counts"][c]) for c in COUNTERS},
                                 nodes=tuple(int(n) for n in st["counts"]["nodes"])) for st in run["steps"]]
                runs[(scenario.name, int(run["repeat"]))] = RunResult(
                    scenario.name, int(run["repeat"]), counts, run["error"], bool(run["finished"]))
        return Measured(doc["kernel_image"], doc["kernel_release"], int(doc["repeats"]),
                        float(doc["seconds"]), tuple(scenarios), runs, doc["problem"])
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(f"{path}: not a numacheck conform JSON report ({exc})") from None
