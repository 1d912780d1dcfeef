"""The Promela export: its shape on a small instance, and, when SPIN is installed, that SPIN
stores exactly the states the explicit engine finds."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from numacheck.checker.cli import main
from numacheck.checker.engines.explicit import explore
from numacheck.checker.lowering import promela
from numacheck.checker.lowering.promela import identifiers, to_promela
from numacheck.model.expr import TRUE
from numacheck.model.instance import Instance
from numacheck.model.schema import Schema, bool_field, int_field
from numacheck.model.system import Action, Obligation, TransitionSystem
from numacheck.model.variant import build
from numacheck.model.variants import resolve as resolve_variant
from numacheck.properties import resolve as resolve_property

SMALL = Instance(processes=1, pages=1, nodes=1)


def small_model(variant: str, props: tuple[str, ...]) -> tuple[TransitionSystem, list[Obligation]]:
    ts = build(resolve_variant(variant), SMALL)
    return ts, [resolve_property(p).instantiate(ts, SMALL) for p in props]


def test_one_d_step_per_action_and_every_field_declared() -> None:
    ts, obs = small_model("linux-4.9", ("write-requires-exclusive", "numa-restore-keeps-write"))
    text = to_promela(ts, obs)
    assert text.count("d_step {\n") == len(ts.actions)
    names = identifiers(ts.schema)
    assert len(set(names.values())) == len(ts.schema.fields)
    for f in ts.schema.fields:
        assert re.search(rf"^(bool|byte|short|int) {re.escape(names[f.name])} = ", text, re.M), f.name
    # the invariant is asserted by the monitor, the step check inside do_numa_page's restore
    assert text.count("assert(") == 1 + sum(len(ob.steps) for ob in obs)


def test_shared_subexpressions_can_be_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    ts, obs = small_model("linux-4.9", ("write-requires-exclusive", "numa-restore-keeps-write"))
    repeated = to_promela(ts, obs)
    monkeypatch.setattr(promela, "_SHARE_ABOVE", 4)
    shared = to_promela(ts, obs)
    assert "tmp_bool0 = (" in shared and len(shared) < len(repeated)


SWAP = Schema((int_field("a", 0, 2), int_field("b", 0, 2), bool_field("do")))
a, b = SWAP.var("a"), SWAP.var("b")
EVERY_STATE_FINE = Obligation("fine", "", invariant=TRUE)


def swap_system(*init: dict[str, int]) -> TransitionSystem:
    """Two fields exchanged by one action: simultaneous assignment needs a temporary."""
    swap = Action("swap", (), TRUE, (("a", b), ("b", a)))
    bump = Action("bump", (), a < 2, (("a", a + 1),))
    return TransitionSystem("swap", SWAP, init or ({"a": 0, "b": 1},), (swap, bump))


def test_simultaneous_updates_go_through_a_temporary_and_names_avoid_keywords() -> None:
    text = to_promela(swap_system(), [])
    assert "tmp_byte0 = " in text and "tmp_byte0 = 0;" in text
    assert "bool do_ = 0;" in text
    assert "byte a = 0;" in text and "byte b = 1;" in text


def run_spin(model: str, work: Path) -> tuple[int, int, int]:
    """States stored, errors found and steps of the trail of a breadth-first safety search."""
    (work / "model.pml").write_text(model)
    subprocess.run(["spin", "-a", "model.pml"], cwd=work, check=True, capture_output=True)
    subprocess.run(["gcc", "-O0", "-w", "-DSAFETY", "-DNOREDUCE", "-DBFS", "-o", "pan", "pan.c"],
                   cwd=work, check=True, capture_output=True)
    out = subprocess.run(["./pan", "-w16"], cwd=work, capture_output=True, text=True).stdout
    stored = re.search(r"(\d+) states, stored", out)
    errors = re.search(r"errors: (\d+)", out)
    assert stored is not None and errors is not None, out
    trail = work / "model.pml.trail"
    steps = re.findall(r"^[1-9]\d*:", trail.read_text(), re.M) if trail.exists() else []
    return int(stored.group(1)), int(errors.group(1)), len(steps)


needs_spin = pytest.mark.skipif(shutil.which("spin") is None or shutil.which("gcc") is None,
                                reason="SPIN (Debian package spin) and gcc are not installed")


@needs_spin
@pytest.mark.parametrize("share_above", [promela._SHARE_ABOVE, 4])
def test_spin_stores_exactly_the_explicit_engines_states(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         share_above: int) -> None:
    monkeypatch.setattr(promela, "_SHARE_ABOVE", share_above)
    ts, obs = small_model("linux-4.9", ("write-requires-exclusive", "numa-restore-keeps-write"))
    outcomes = explore(ts, obs)
    assert [o.verdict for o in outcomes] == ["holds", "holds"]
    assert run_spin(to_promela(ts, obs), tmp_path) == (outcomes[0].stats.states, 0, 0)


@needs_spin
def test_spin_finds_the_violation_the_explicit_engine_finds(tmp_path: Path) -> None:
    ts, obs = small_model("linux-4.0-rc1", ("numa-restore-keeps-write",))
    [outcome] = explore(ts, obs)
    assert outcome.verdict == "violated" and outcome.path is not None
    _, errors, steps = run_spin(to_promela(ts, obs), tmp_path)
    assert (errors, steps) == (1, len(outcome.path) - 1)


@needs_spin
def test_choosing_among_initial_states_costs_spin_one_state(tmp_path: Path) -> None:
    for k, ts in enumerate((swap_system(), swap_system({"a": 0, "b": 1}, {"a": 2, "b": 2}))):
        [outcome] = explore(ts, [EVERY_STATE_FINE])
        work = tmp_path / str(k)
        work.mkdir()
        assert run_spin(to_promela(ts, []), work) == (outcome.stats.states + k, 0, 0)


@needs_spin
def test_an_invariant_violation_takes_spin_one_more_step(tmp_path: Path) -> None:
    ts = swap_system()
    below = Obligation("b below 2", "", invariant=b < 2)
    [outcome] = explore(ts, [below])
    assert outcome.verdict == "violated" and outcome.path is not None
    _, errors, steps = run_spin(to_promela(ts, [below]), tmp_path)
    assert (errors, steps) == (1, len(outcome.path))


def test_cli_export_writes_the_model(tmp_path: Path) -> None:
    out = tmp_path / "m.pml"
    main(["export", "-v", "linux-4.0-rc1", "--processes", "1", "-p", "numa-restore-keeps-write",
          "-o", str(out)])
    text = out.read_text()
    assert "linux-4.0-rc1[1 processes x 1 pages, 2 nodes]" in text and "d_step" in text
