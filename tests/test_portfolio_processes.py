"""The portfolio's worker processes: the first conclusive answer wins, the others are stopped
and gone afterwards, and a worker that dies or fails is reported, never taken as an answer."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from numacheck.checker.engines.portfolio import EngineFn, portfolio
from numacheck.checker.outcome import Limits, Outcome
from numacheck.checker.result import Stats
from numacheck.model.instance import Instance
from numacheck.model.system import Obligation, TransitionSystem
from numacheck.model.variant import build
from numacheck.model.variants import BUILTIN
from numacheck.properties import resolve

INST = Instance(processes=1, pages=1, nodes=1)


def model() -> tuple[TransitionSystem, list[Obligation]]:
    ts = build(BUILTIN["linux-4.9"], INST)
    return ts, [resolve("write-requires-vm-write").instantiate(ts, INST)]


def answering(verdict: str, bounded: bool = False, delay: float = 0.0, depth: int = 0) -> EngineFn:
    def engine(ts: TransitionSystem, obs: Sequence[Obligation], limits: Limits,
               progress: object) -> list[Outcome]:
        time.sleep(delay)
        return [Outcome(verdict, bounded=bounded, depth=depth, stats=Stats(seconds=delay))  # type: ignore[arg-type]
                for _ in obs]
    return engine


def hanging(pids: Path) -> EngineFn:
    def engine(ts: TransitionSystem, obs: Sequence[Obligation], limits: Limits,
               progress: object) -> list[Outcome]:
        with pids.open("a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(600)
        return []
    return engine


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie still answers signal 0; it is gone once reaped, which /proc shows
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "State:\tZ" in status.read_text()


def test_the_first_answer_wins_and_the_other_workers_are_gone(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    ts, obs = model()
    engines = {"explicit": hanging(pids), "bmc": answering("holds", delay=0.5),
               "pdr": hanging(pids), "kind": hanging(pids)}
    (out,) = portfolio(engines, ts, obs, Limits(), lanes=2)
    # an unbounded holds is conclusive, so bmc's answer decides while the others still run
    assert out.verdict == "holds" and out.notes[0] == "decided by bmc"
    assert "explicit: stopped, already decided" in out.notes
    started = [int(p) for p in pids.read_text().split()]
    assert started and all(gone(p) for p in started)
    assert not mp.active_children()


def test_a_worker_that_dies_is_reported_not_taken_as_an_answer() -> None:
    def dies(ts: TransitionSystem, obs: Sequence[Obligation], limits: Limits,
             progress: object) -> list[Outcome]:
        os._exit(3)

    ts, obs = model()
    engines = {"explicit": dies, "bmc": dies, "pdr": dies, "kind": dies}
    (out,) = portfolio(engines, ts, obs, Limits(), lanes=2)
    assert out.verdict == "unknown" and "no engine" in out.message
    assert out.notes.count("explicit died (exit code 3)") == 1
    assert not mp.active_children()


def test_an_engine_error_is_noted_and_another_engine_decides() -> None:
    def fails(ts: TransitionSystem, obs: Sequence[Obligation], limits: Limits,
              progress: object) -> list[Outcome]:
        raise RuntimeError("solver exploded")

    ts, obs = model()
    engines = {"explicit": fails, "bmc": answering("violated"), "pdr": fails, "kind": fails}
    (out,) = portfolio(engines, ts, obs, Limits(), lanes=1)
    assert out.verdict == "violated" and "decided by bmc" in out.notes
    assert "explicit: RuntimeError: solver exploded" in out.notes


def test_engines_that_disagree_give_unknown() -> None:
    ts, obs = model()
    # explicit has looked 10 steps deep without a violation, then bmc finds one of 5 steps
    engines = {"explicit": answering("holds", bounded=True, depth=10),
               "bmc": answering("violated", delay=0.3, depth=5),
               "pdr": answering("holds", delay=5), "kind": answering("holds", delay=5)}
    (out,) = portfolio(engines, ts, obs, Limits(), lanes=2)
    assert out.verdict == "unknown"
    assert out.message == ("engines disagree: bmc/kind found no violation within a depth where "
                           "another engine found one")
    assert not mp.active_children()


@pytest.mark.parametrize("lanes", [1, 2])
def test_a_bounded_holds_is_only_noted(lanes: int) -> None:
    ts, obs = model()
    engines = {"explicit": answering("holds", bounded=True), "bmc": answering("holds", bounded=True),
               "pdr": answering("holds", bounded=True), "kind": answering("holds", bounded=True)}
    (out,) = portfolio(engines, ts, obs, Limits(), lanes=lanes)
    assert out.verdict == "unknown" and "no engine reached a conclusive answer" in out.message
    assert not mp.active_children()
