"""Symmetry reduction: it changes no verdict and no shortest length, its traces replay, its
orbit counts add up to the concrete state count, and it refuses what it cannot justify."""

from __future__ import annotations

import dataclasses

import pytest

from numacheck.checker.engines.explicit import explore
from numacheck.checker.engines.symmetry import Symmetry, disproof
from numacheck.checker.lowering.codegen import compile_system
from numacheck.checker.outcome import Limits
from numacheck.checker.traces.replay import replay, violates
from numacheck.model.expr import FALSE
from numacheck.model.instance import AREAS, Instance, frame_name, pte_name, task_name
from numacheck.model.system import Interchangeable, Obligation
from numacheck.model.variant import build
from numacheck.model.variants import BUILTIN
from numacheck.properties import BUILTIN as PROPERTIES
from numacheck.properties import covered_by

SMALL = Instance(processes=2, pages=1, nodes=1)

#: (orbits with processes and frames, orbits with processes only, concrete states) on SMALL.
COUNTS = {"linux-3.19": (7913, 14147, 28096), "linux-6.2": (14829, 26007, 51660)}


@pytest.mark.parametrize("variant", list(BUILTIN))
def test_symmetry_changes_no_verdict_and_no_shortest_length(variant: str) -> None:
    ts = build(BUILTIN[variant], SMALL)
    obligations = [p.instantiate(ts, SMALL) for p in covered_by(SMALL)]
    reduced = explore(ts, obligations)
    plain = explore(ts, obligations, Limits(symmetry=False))
    compiled = compile_system(ts, obligations)
    for j, (r, p) in enumerate(zip(reduced, plain, strict=True)):
        assert r.verdict == p.verdict
        assert r.stats.symmetry == "processes, anonymous frames" and p.stats.symmetry == ""
        if r.verdict == "violated":
            assert r.path is not None and r.depth == p.depth == len(r.path) - 1
            replay(ts, compiled, r.path)  # the concrete trace rebuilt from the orbits
            assert violates(compiled, j, r.path)
        else:
            assert r.stats.states < p.stats.states


@pytest.mark.parametrize("variant", sorted(COUNTS))
def test_orbits_add_up_to_the_concrete_states(variant: str) -> None:
    ts = build(BUILTIN[variant], SMALL)
    obligations = [PROPERTIES["write-requires-exclusive"].instantiate(ts, SMALL)]
    both, procs, concrete = COUNTS[variant]
    [full] = explore(ts, obligations)
    [by_process] = explore(dataclasses.replace(ts, symmetry=ts.symmetry[:1]), obligations)
    [plain] = explore(ts, obligations, Limits(symmetry=False))
    assert (full.stats.states, by_process.stats.states, plain.stats.states) == (both, procs, concrete)
    assert by_process.stats.concrete_states == concrete  # exact group: sum of orbit sizes
    assert full.stats.concrete_states is None  # the vouched frame group cannot count them


def test_a_system_that_singles_out_a_process_is_not_reduced() -> None:
    ts = build(BUILTIN["linux-4.9"], SMALL)
    obligations = [PROPERTIES["write-requires-exclusive"].instantiate(ts, SMALL)]
    lopsided = dataclasses.replace(ts, actions=tuple(a for a in ts.actions if a.label != "munmap(p=1)"))
    processes = ts.symmetry[0]
    assert disproof(ts, obligations, processes) == ""
    assert "munmap(p=0)" in disproof(lopsided, obligations, processes)
    [out] = explore(lopsided, obligations)
    assert out.stats.symmetry == "anonymous frames"
    assert any("symmetry off for processes" in n for n in out.notes)


def test_a_property_about_one_process_is_not_reduced() -> None:
    ts = build(BUILTIN["linux-4.9"], SMALL)
    p0_only = Obligation("p0-never-writes", "", invariant=~ts.schema.var(pte_name(0, 0, "write")))
    assert "not symmetric" in disproof(ts, [p0_only], ts.symmetry[0])
    symmetry, notes = Symmetry.of(ts, [p0_only])
    assert symmetry is not None and symmetry.described == "anonymous frames" and notes


def test_a_failed_precondition_falls_back_to_the_plain_search() -> None:
    ts = build(BUILTIN["linux-4.0-rc1"], SMALL)
    never = Interchangeable("anonymous frames", ts.symmetry[1].slots, ts.symmetry[1].references,
                            ts.symmetry[1].values, vouched=True, precondition=FALSE)
    broken = dataclasses.replace(ts, symmetry=(ts.symmetry[0], never))
    obligations = [PROPERTIES["numa-restore-keeps-write"].instantiate(ts, SMALL)]
    [out] = explore(broken, obligations)
    assert out.verdict == "violated" and out.depth == 6
    assert out.stats.symmetry == "" and any("precondition" in n for n in out.notes)


def test_trying_only_sorted_process_orders_finds_the_same_orbits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Canonical forms try only the process orders that sort the label-free keys; the orbits
    (their number) must be those of trying every order."""
    inst = Instance(processes=3, pages=1, nodes=1)
    ts = build(BUILTIN["linux-6.2"], inst)
    obligations = [PROPERTIES["write-requires-exclusive"].instantiate(ts, inst)]
    [pruned] = explore(ts, obligations)
    monkeypatch.setattr(Symmetry, "_signature_plan", lambda self: None)
    [every] = explore(ts, obligations)
    assert pruned.stats.states == every.stats.states == 589291


def test_a_user_rule_turns_the_frame_reduction_off() -> None:
    """An era factory given the user's own rule could name a frame directly: only the proved
    process symmetry applies to it."""
    from dataclasses import replace

    from numacheck.model.ops.numa import NUMA_FAULT_RULES, do_numa_page

    row = NUMA_FAULT_RULES["6.2"]
    patched = BUILTIN["linux-6.2"].derive(
        "patched", replace_ops=(do_numa_page(replace(row, restore=row.restore)),))
    ts = build(patched, SMALL)
    [out] = explore(ts, [PROPERTIES["write-requires-exclusive"].instantiate(ts, SMALL)])
    assert out.stats.symmetry == "processes" and out.stats.concrete_states == COUNTS["linux-6.2"][2]


TWO_NODES = Instance(processes=1, pages=1, nodes=2, areas=frozenset(AREAS))


def _swap_nodes(inst: Instance, values: dict[str, object]) -> dict[str, object]:
    """The state with nodes 0 and 1 exchanged wherever a node means something: every task, an
    anonymous frame some PTE maps, a shmem page in the page cache (the model's claim, restated
    here independently of model/symmetry.py)."""
    out = dict(values)
    pfns = {values[pte_name(p, i, "pfn")] for p in range(inst.processes) for i in range(inst.pages)}
    names = [task_name(p, "numa_node_id") for p in range(inst.processes)]
    names += [frame_name(f"shmem{i}", "page_to_nid") for i in range(inst.pages)
              if values[frame_name(f"shmem{i}", "in_page_cache")]]
    names += [frame_name(f"anon{k}", "page_to_nid") for k in range(inst.anon_frames)
              if inst.anon_frame(k) in pfns]
    for name in names:
        out[name] = 1 - int(values[name])  # type: ignore[call-overload]
    return out


@pytest.mark.parametrize("variant", list(BUILTIN))
def test_exchanging_nodes_maps_every_step_to_a_step(variant: str) -> None:
    """The model's node symmetry, checked state by state on the first reachable states (in
    breadth-first order) of a small instance with every area: the successors of the swapped
    state are the swapped successors, with the same obligation verdicts."""
    ts = build(BUILTIN[variant], TWO_NODES)
    obligations = [p.instantiate(ts, TWO_NODES) for p in covered_by(TWO_NODES)]
    compiled = compile_system(ts, obligations)
    schema = ts.schema

    def swap(s: int) -> int:
        return schema.pack(_swap_nodes(TWO_NODES, schema.unpack(s)))  # type: ignore[arg-type]

    seen = set(ts.initial_states())
    frontier = list(seen)
    while frontier and len(seen) < 1500:
        nxt = []
        for s in frontier:
            assert compiled.check_state(swap(s)) == compiled.check_state(s)
            succ = {(t, vm, sm) for _, t, vm, sm in compiled.expand(s)}
            assert {(t, vm, sm) for _, t, vm, sm in compiled.expand(swap(s))} == \
                {(swap(t), vm, sm) for t, vm, sm in succ}
            for t, _, _ in succ:
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    assert len(seen) >= 1500


@pytest.mark.parametrize("variant", ["linux-4.0-rc1", "linux-6.2", "linux-6.11"])
def test_node_symmetry_changes_no_verdict_and_no_shortest_length(variant: str) -> None:
    ts = build(BUILTIN[variant], TWO_NODES)
    obligations = [p.instantiate(ts, TWO_NODES) for p in covered_by(TWO_NODES)]
    reduced = explore(ts, obligations)
    plain = explore(ts, obligations, Limits(symmetry=False))
    compiled = compile_system(ts, obligations)
    for j, (r, p) in enumerate(zip(reduced, plain, strict=True)):
        assert r.verdict == p.verdict and "nodes" in r.stats.symmetry
        if r.verdict == "violated":
            assert r.path is not None and r.depth == p.depth == len(r.path) - 1
            replay(ts, compiled, r.path)
            assert violates(compiled, j, r.path)
        else:
            assert r.stats.states < p.stats.states


def test_sorted_process_orders_find_the_same_orbits_with_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """With nodes reduced too, the label-free keys count nodes rather than name them; pruning
    by them must still find the orbits of trying every order."""
    inst = Instance(processes=2, pages=1, nodes=2)
    ts = build(BUILTIN["linux-6.11"], inst)
    obligations = [PROPERTIES["write-requires-exclusive"].instantiate(ts, inst)]
    [pruned] = explore(ts, obligations)
    monkeypatch.setattr(Symmetry, "_signature_plan", lambda self: None)
    [every] = explore(ts, obligations)
    assert pruned.stats.states == every.stats.states == 113626
