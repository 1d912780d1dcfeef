"""Symmetry reduction: it changes no verdict and no shortest length, its traces replay, its
orbit counts add up to the concrete state count, and it refuses what it cannot justify."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from numacheck.checker.engines.explicit import explore
from numacheck.checker.engines.symmetry import Symmetry, disproof
from numacheck.checker.lowering.arrays import Evaluator
from numacheck.checker.lowering.codegen import compile_system
from numacheck.checker.outcome import Limits
from numacheck.checker.traces.replay import replay, violates
from numacheck.model.expr import FALSE, not_
from numacheck.model.instance import AREAS, GUP_STATES, Instance, frame_name, gup_name, pte_name, task_name
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
    _assert_same_verdicts(variant, SMALL, "processes, anonymous frames")


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


def test_a_precondition_failing_a_few_steps_in_falls_back_with_the_plain_results() -> None:
    """A precondition that holds in the initial state and fails once a PTE is present: the
    search notices at that depth and is redone without the reduction, with the plain search's
    verdicts, shortest lengths and state counts."""
    ts = build(BUILTIN["linux-4.0-rc1"], SMALL)
    frames = ts.symmetry[1]
    until_present = Interchangeable(frames.name, frames.slots, frames.references, frames.values,
                                    vouched=True, reason="a test's", live=frames.live,
                                    precondition=not_(ts.schema.var(pte_name(0, 0, "present"))))
    broken = dataclasses.replace(ts, symmetry=(ts.symmetry[0], until_present))
    obligations = [PROPERTIES[name].instantiate(ts, SMALL)
                   for name in ("numa-restore-keeps-write", "write-requires-exclusive")]
    fallen = explore(broken, obligations)
    plain = explore(ts, obligations, Limits(symmetry=False))
    [off] = [n for n in fallen[0].notes if n.startswith("symmetry off")]
    assert "precondition" in off and "at depth 0" not in off and "at depth" in off
    for a, b in zip(fallen, plain, strict=True):
        assert (a.verdict, a.depth, a.stats.states) == (b.verdict, b.depth, b.stats.states)
        assert a.stats.symmetry == ""


@pytest.mark.parametrize(("sizes", "variant", "orbits"), [
    ((3, 1, 1), "linux-6.2", 589291),
    ((2, 1, 2), "linux-6.11", 113626),  # with nodes: the keys count nodes rather than name them
])
def test_trying_only_sorted_process_orders_finds_the_same_orbits(
        sizes: tuple[int, int, int], variant: str, orbits: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Canonical forms try only the process orders that sort the label-free keys; the orbits
    (their number) must be those of trying every order."""
    inst = Instance(*sizes)
    ts = build(BUILTIN[variant], inst)
    obligations = [PROPERTIES["write-requires-exclusive"].instantiate(ts, inst)]
    [pruned] = explore(ts, obligations)
    monkeypatch.setattr(Symmetry, "_signature_plan", lambda self: None)
    [every] = explore(ts, obligations)
    assert pruned.stats.states == every.stats.states == orbits


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


PINNED = GUP_STATES.index("pinned")
TWO_NODES = Instance(processes=1, pages=1, nodes=2, areas=frozenset(AREAS))


def _swap_nodes(inst: Instance, values: dict[str, object]) -> dict[str, object]:
    """The state with nodes 0 and 1 exchanged wherever a node means something: every task, an
    anonymous frame some PTE maps or a pin holds, a shmem page in the page cache (the model's
    claim, restated here independently of model/symmetry.py)."""
    out = dict(values)
    pfns = {values[pte_name(p, i, "pfn")] for p in range(inst.processes) for i in range(inst.pages)}
    pfns |= {values[gup_name(p, "pin_pfn")] for p in range(inst.processes)
             if gup_name(p, "pin_pfn") in values and values[gup_name(p, "state")] == PINNED}
    names = [task_name(p, "numa_node_id") for p in range(inst.processes)]
    names += [frame_name(f"shmem{i}", "page_to_nid") for i in range(inst.pages)
              if values[frame_name(f"shmem{i}", "in_page_cache")]]
    names += [frame_name(f"anon{k}", "page_to_nid") for k in range(inst.anon_frames)
              if inst.anon_frame(k) in pfns]
    for name in names:
        out[name] = 1 - int(values[name])  # type: ignore[call-overload]
    return out


#: One era per NUMA hinting scheme and fault-path generation: the node and page claims are about
#: how operations are instantiated and what they compare, which every era shares.
MOVE_ERAS = ("linux-3.19", "linux-4.0-rc1", "linux-5.13", "linux-6.2", "linux-6.11")


@pytest.mark.parametrize("variant", MOVE_ERAS)
def test_exchanging_nodes_maps_every_step_to_a_step(variant: str) -> None:
    _assert_equivariant(variant, TWO_NODES, _swap_nodes)


@pytest.mark.parametrize("variant", ["linux-4.0-rc1", "linux-6.2", "linux-6.11"])
def test_node_symmetry_changes_no_verdict_and_no_shortest_length(variant: str) -> None:
    _assert_same_verdicts(variant, TWO_NODES, "nodes")


def _assert_same_verdicts(variant: str, inst: Instance, group: str) -> None:
    """Symmetry (including ``group``) on and off: the same verdicts and shortest lengths, fewer
    states stored, and the traces rebuilt from orbits replay."""
    ts = build(BUILTIN[variant], inst)
    obligations = [p.instantiate(ts, inst) for p in covered_by(inst)]
    reduced = explore(ts, obligations)
    plain = explore(ts, obligations, Limits(symmetry=False))
    compiled = compile_system(ts, obligations)
    for j, (r, p) in enumerate(zip(reduced, plain, strict=True)):
        assert r.verdict == p.verdict and group in r.stats.symmetry and p.stats.symmetry == ""
        if r.verdict == "violated":
            assert r.path is not None and r.depth == p.depth == len(r.path) - 1
            replay(ts, compiled, r.path)  # the concrete trace rebuilt from the orbits
            assert violates(compiled, j, r.path)
        else:
            assert r.stats.states < p.stats.states




TWO_PAGES = Instance(processes=1, pages=2, nodes=1, areas=frozenset(AREAS))


def _swap_pages(inst: Instance, values: dict[str, object]) -> dict[str, object]:
    """The state with page offsets 0 and 1 exchanged: every process's PTEs 0 and 1, shmem pages
    0 and 1 and the pfns (of PTEs and pins) naming them, and the page of a pending fault and of a
    GUP under way (the model's claim, restated independently of model/symmetry.py)."""
    out = dict(values)
    shmem = {inst.shmem_frame(0): inst.shmem_frame(1), inst.shmem_frame(1): inst.shmem_frame(0)}
    for name, value in values.items():
        for a, b in (("[0].", "[1]."), ("[1].", "[0]."), ("shmem0.", "shmem1."), ("shmem1.", "shmem0.")):
            if a in name:
                out[name.replace(a, b)] = value
    for p in range(inst.processes):
        pfns = [pte_name(p, i, "pfn") for i in range(inst.pages)]
        for pfn in [*pfns, *([gup_name(p, "pin_pfn")] if gup_name(p, "pin_pfn") in values else [])]:
            out[pfn] = shmem.get(out[pfn], out[pfn])  # type: ignore[call-overload]
        for busy, page in ((task_name(p, "fault"), task_name(p, "fault_page")),
                           (gup_name(p, "state"), gup_name(p, "page"))):
            if values.get(busy):
                out[page] = 1 - int(values[page])  # type: ignore[call-overload]
    return out


def _assert_equivariant(variant: str, inst: Instance,
                        swap_values: Callable[[Instance, dict[str, object]], dict[str, object]]) -> None:
    """On the first reachable states (breadth-first order), the successors of the swapped state
    are the swapped successors, with the same obligation verdicts."""
    ts = build(BUILTIN[variant], inst)
    obligations = [p.instantiate(ts, inst) for p in covered_by(inst)]
    compiled = compile_system(ts, obligations)
    schema = ts.schema

    def swap(s: int) -> int:
        return schema.pack(swap_values(inst, schema.unpack(s)))  # type: ignore[arg-type]

    seen = set(ts.initial_states())
    frontier = list(seen)
    while frontier and len(seen) < 1000:
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
    assert len(seen) >= 1000


@pytest.mark.parametrize("variant", MOVE_ERAS)
def test_exchanging_pages_maps_every_step_to_a_step(variant: str) -> None:
    _assert_equivariant(variant, TWO_PAGES, _swap_pages)


@pytest.mark.parametrize("variant", ["linux-4.0-rc1"])
def test_page_symmetry_changes_no_verdict_and_no_shortest_length(variant: str) -> None:
    _assert_same_verdicts(variant, TWO_PAGES, "pages")


def _swap_processes(inst: Instance, values: dict[str, object]) -> dict[str, object]:
    """The state with processes 0 and 1 exchanged."""
    out = dict(values)
    for name, value in values.items():
        for a, b in (("p0.", "p1."), ("p1.", "p0.")):
            if name.startswith(a):
                out[b + name[len(a):]] = value
    return out


def _rename_frames(inst: Instance, values: dict[str, object]) -> dict[str, object]:
    """The state with its allocated anonymous frames renumbered in reverse."""
    out = dict(values)
    frames = [inst.anon_frame(k) for k in range(inst.anon_frames)]
    new = dict(zip(frames, reversed(frames), strict=True))
    for k in range(inst.anon_frames):
        for attr in ("PageAnonExclusive", "page_to_nid"):
            out[frame_name(f"anon{inst.anon_frames - 1 - k}", attr)] = values[frame_name(f"anon{k}", attr)]
    for p in range(inst.processes):
        for pfn in [pte_name(p, i, "pfn") for i in range(inst.pages)] + [gup_name(p, "pin_pfn")]:
            if pfn in values:
                out[pfn] = new.get(values[pfn], values[pfn])  # type: ignore[call-overload]
    return out


@pytest.mark.parametrize("variant", ["linux-4.0-rc1", "linux-6.11"])
def test_canonical_forms_are_the_same_across_an_orbit(variant: str) -> None:
    """On reachable states of 2 processes x 2 pages x 2 nodes: each state and its images under
    exchanging processes, pages, nodes and renumbering frames (restated here, independently
    of the engine) have one canonical form, which is canonical itself and meets the
    precondition."""
    inst = Instance(processes=2, pages=2, nodes=2)
    ts = build(BUILTIN[variant], inst)
    symmetry, _ = Symmetry.of(ts, [])
    assert symmetry is not None and symmetry.described == "processes, anonymous frames, nodes, pages"
    compiled = compile_system(ts, [])
    seen = set(ts.initial_states())
    frontier = list(seen)
    while frontier and len(seen) < 2000:
        level = {t: None for s in frontier for _, t, _, _ in compiled.expand(s) if t not in seen}
        frontier = list(level)[:2000]
        seen.update(frontier)
    layout, schema = symmetry.layout, ts.schema
    states = sorted(seen)
    images = [states]
    for move in (_swap_processes, _swap_pages, _swap_nodes, _rename_frames):
        images.append([schema.pack(move(inst, schema.unpack(s))) for s in states])  # type: ignore[arg-type]
    forms = [symmetry.canonical(layout.rows(batch)) for batch in images]
    for other in forms[1:]:
        assert (other == forms[0]).all()
    assert (symmetry.canonical(forms[0]) == forms[0]).all()
    assert all(holds.all() for holds in Evaluator(layout, symmetry.preconditions)(forms[0]))
    assert len(np.unique(forms[0], axis=0)) < len(states)
