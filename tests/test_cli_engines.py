"""The symbolic engines through ``numacheck verify``: verdicts, JSON fields, limits, --jobs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from numacheck.checker.cli import main

#: The seed regression on one process (its trace is 6 steps on every instance).
RC1_RESTORE = ["-v", "linux-4.0-rc1", "-p", "numa-restore-keeps-write", "--processes", "1"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def results(out: str) -> list[dict[str, Any]]:
    doc = json.loads(out)
    return list(doc["results"])


@pytest.mark.parametrize("engine", ["explicit", "bmc", "kind", "pdr"])
def test_every_engine_finds_the_rc1_regression_in_six_steps(engine: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["verify", "-e", engine, *RC1_RESTORE, "--depth", "8", "--format", "json"], capsys)
    assert code == 0
    (r,) = results(out)
    assert r["engine"] == engine and r["verdict"] == "violated" and r["as_expected"]
    assert len(r["trace"]["steps"]) == 7
    assert [s["action"] for s in r["trace"]["steps"]][-2:] == ["access", "do_numa_page"]


def test_pdr_proves_with_a_checked_certificate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["verify", "-e", "pdr", "-v", "linux-4.0", "-p", "numa-restore-keeps-write",
                        "--processes", "1", "--format", "json"], capsys)
    assert code == 0
    (r,) = results(out)
    assert r["verdict"] == "holds" and r["bounded"] is False
    assert r["certificate_checked"] is True and r["certificate"]
    assert r["trace"] is None


def test_show_invariant_prints_the_clauses_the_proof_needs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["verify", "-e", "pdr", "-v", "linux-4.0", "-p", "protnone-never-accessed",
                        "--processes", "1", "--show-invariant"], capsys)
    assert code == 0
    head = re.search(r"the (\d+) of (\d+) certificate clauses the proof needs, inductive on their own "
                     r"\(checked; all \d+ in --format json\):", out)
    assert head is not None and 0 < int(head.group(1)) <= 50 < int(head.group(2))
    shown = [line for line in out.splitlines() if line.startswith("    ")]
    assert len(shown) == int(head.group(1))
    assert any(re.search(r"p\d\.pte\[0\]\._PAGE_(PROTNONE|PRESENT)", line) for line in shown)


def test_bmc_holds_is_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["verify", "-e", "bmc", "-v", "linux-4.0", "-p", "numa-restore-keeps-write",
                        "--depth", "7", "--format", "json"], capsys)
    assert code == 0
    (r,) = results(out)
    assert r["verdict"] == "holds" and r["bounded"] is True and r["depth"] == 7


@pytest.mark.parametrize("engine", ["bmc", "kind", "pdr"])
def test_time_limit_gives_unknown_and_exit_3(engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["verify", "-e", engine, "-v", "linux-4.9", "-p", "write-requires-exclusive",
                        "--timeout", "0.05", "--format", "json"], capsys)
    assert code == 3
    (r,) = results(out)
    assert r["verdict"] == "unknown" and "time limit" in r["message"]


def _without_timings(text: str) -> str:
    text = re.sub(r'"(seconds|states_per_second|peak_memory_mb)": [0-9.e+-]+', r'"\1": 0', text)
    return re.sub(r"\d+\.\d+s\b", "Xs", text)


@pytest.mark.parametrize(("engine", "fmt"), [("explicit", "json"), ("explicit", "text"), ("bmc", "json")])
def test_jobs_do_not_change_results_or_output(engine: str, fmt: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "--processes", "1", "-v", "linux-4.0-rc1", "-v", "linux-4.0", "-v", "linux-6.2",
            "-e", engine, "--depth", "8", "--format", fmt, "--areas", "numa,uffd,softdirty"]
    code1, out1, _ = run([*argv, "--jobs", "1"], capsys)
    code2, out2, _ = run([*argv, "--jobs", "2"], capsys)
    assert code1 == code2
    assert _without_timings(out1) == _without_timings(out2)
    assert "linux-6.2" in out1


OVERFLOW = """
from numacheck.model import VARIANTS
from numacheck.model.operation import operation, processes
from numacheck.model.system import Citation

@operation("task_numa_hop", Citation("made up", "kernel/sched/fair.c", "all"), p=processes)
def task_numa_hop(mm, p):
    \"\"\"The task moves to the next node, without wrapping around (the bug).\"\"\"
    mm.step.write(f"p{p}.task.numa_node_id", mm.step.read(f"p{p}.task.numa_node_id") + 1)

VARIANT = VARIANTS["linux-4.9"].derive("overflow", add_ops=(task_numa_hop,))
"""


@pytest.mark.parametrize("engine", ["explicit", "bmc"])
def test_an_out_of_range_assignment_is_a_model_error(engine: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """BMC must not let the field ranges of the next state silently disable such a step."""
    file = tmp_path / "overflow.py"
    file.write_text(OVERFLOW)
    code, _, err = run(["verify", "-e", engine, "-v", str(file), "--processes", "1", "--depth", "4"],
                       capsys)
    assert code == 2
    assert "task_numa_hop(p=0) assigns 2 to p0.task.numa_node_id, outside its range" in err
