"""The uffd and softdirty areas: each new operation against its cited kernel behaviour, the
schema of a run without them, and the historic bugs as shortest traces on the era that had them."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from numacheck.checker.engines.explicit import explore
from numacheck.checker.outcome import Limits, Outcome
from numacheck.checker.run import Check, run_check
from numacheck.model.instance import AREA_INSTANCE, AREAS, PIN_INSTANCE, Instance, area_instance, schema
from numacheck.model.ops.numa import MIGRATED_FROM_HINT, NUMA_FAULT_RULES, do_numa_page
from numacheck.model.ops.vma import mprotect
from numacheck.model.symmetry import process_fields
from numacheck.model.system import TransitionSystem
from numacheck.model.variant import Variant, build
from numacheck.model.variants import BUILTIN
from numacheck.properties import BUILTIN as PROPERTIES
from numacheck.properties import covered_by
from tests.kernel import pte, run, step
from tests.test_cli import invoke

RW_PRIVATE = "mmap(p=0, prot=readwrite, flags=private)"
RW_SHARED = "mmap(p=0, prot=readwrite, flags=shared)"
WRITE = "access(p=0, page=0, kind=write)"
READ = "access(p=0, page=0, kind=read)"
ANON = "do_anonymous_page(p=0, page=0)"
SHMEM = "do_fault(p=0, page=0)"
WP = "do_wp_page(p=0, page=0)"
REGISTER = "uffd_register_wp(p=0)"
PROTECT = "uffd_writeprotect(p=0, page=0, mode=on)"
UNPROTECT = "uffd_writeprotect(p=0, page=0, mode=off)"
UFFD_OPS = ("uffd_register_wp", "uffd_unregister", "uffd_writeprotect", "handle_userfault")
#: The areas these tests are about (the GUP areas have tests/test_gup.py).
TRACKING = frozenset({"numa", "softdirty", "uffd"})


@cache
def system(era: str, processes: int = 2) -> TransitionSystem:
    """A built-in era with the uffd and softdirty areas, on ``processes`` x 1 page, 2 nodes."""
    return build(BUILTIN[era], Instance(processes, 1, 2, areas=TRACKING))


def shortest(variant: Variant, prop: str) -> tuple[str, list[str]]:
    """The verdict and the shortest counterexample's functions on AREA_INSTANCE."""
    (r,) = run_check(Check(variant, (PROPERTIES[prop],), "explicit", AREA_INSTANCE, Limits()))
    return r.verdict, [] if r.trace is None else [s.action for s in r.trace.steps[1:]]


# Schema: a run without the areas is today's model -------------------------------------------

def test_the_default_instance_has_no_area_fields_and_no_area_actions() -> None:
    names = [f.name for f in schema(Instance()).fields]
    assert not [n for n in names if "SOFT_DIRTY" in n or "UFFD" in n or "SOFTDIRTY" in n]
    ts = build(BUILTIN["linux-6.11"], Instance())
    assert not {a.op for a in ts.actions} & {"clear_refs", *UFFD_OPS}


def test_area_fields_are_per_process_in_the_same_order() -> None:
    inst = Instance(2, 1, 2, areas=frozenset(AREAS))
    zero, one = process_fields(schema(inst), 0), process_fields(schema(inst), 1)
    assert [f.replace("p0.", "p1.", 1) for f in zero] == list(one)
    assert {"p0.vma.VM_UFFD_WP", "p0.pte[0]._PAGE_SOFT_DIRTY", "p0.pte[0]._PAGE_UFFD_WP"} <= set(zero)


def test_an_instance_needs_the_base_area() -> None:
    with pytest.raises(Exception, match="numa"):
        Instance(areas=frozenset({"uffd"}))


# clear_refs ----------------------------------------------------------------------------------

def test_clear_refs_write_protects_and_clears_soft_dirty_then_the_fault_marks_it() -> None:
    ts = system("linux-6.2")
    s = run(ts, [RW_PRIVATE, WRITE, ANON])
    assert pte(s)["write"] and pte(s)["soft_dirty"]  # pte_mkdirty sets both bits
    s = run(ts, ["clear_refs(p=0)"], s)
    assert not pte(s)["write"] and not pte(s)["soft_dirty"] and not s["p0.vma.VM_SOFTDIRTY"]
    s = run(ts, [WRITE, WP], s)  # the write faults; do_wp_page reuses and marks soft-dirty
    assert pte(s)["write"] and pte(s)["soft_dirty"]


def test_the_mmu_sets_dirty_but_never_soft_dirty() -> None:
    ts = system("linux-4.9")
    s = run(ts, [RW_SHARED, READ, SHMEM])
    assert pte(s)["write"] and not pte(s)["soft_dirty"]
    s = run(ts, [WRITE], s)
    assert s["p0.task.fault"] == 0 and pte(s)["dirty"] and not pte(s)["soft_dirty"]


def test_clear_refs_makes_vm_page_prot_of_shmem_read_only() -> None:
    ts = system("linux-4.9")
    s = run(ts, [RW_SHARED, "clear_refs(p=0)", READ, SHMEM])  # writenotify: soft-dirty tracking
    assert pte(s)["present"] and not pte(s)["write"]


def test_clear_refs_write_protects_a_hinted_pte_and_its_shadow() -> None:
    ts = system("linux-4.9")
    s = run(ts, [RW_PRIVATE, WRITE, ANON, "migrate_task_to(p=0, node=1)",
                 "change_prot_numa(p=0, page=0)"])
    assert pte(s)["write"] and pte(s)["shadow_write"]  # savedwrite
    s = run(ts, ["clear_refs(p=0)"], s)
    assert pte(s)["protnone"] and not pte(s)["write"] and not pte(s)["shadow_write"]


# userfaultfd write-protect -------------------------------------------------------------------

def test_register_sets_vm_uffd_wp_and_shmem_needs_5_19() -> None:
    assert step(system("linux-5.13"), run(system("linux-5.13"), [RW_SHARED]), REGISTER) is None
    s = run(system("linux-5.13"), [RW_PRIVATE, REGISTER])
    assert s["p0.vma.VM_UFFD_WP"]
    assert run(system("linux-5.19"), [RW_SHARED, REGISTER])["p0.vma.VM_UFFD_WP"]


def test_writeprotect_needs_a_registered_vma() -> None:
    ts = system("linux-6.2")
    assert step(ts, run(ts, [RW_PRIVATE, WRITE, ANON]), PROTECT) is None


@pytest.mark.parametrize("era", ["linux-5.13", "linux-6.0", "linux-6.3", "linux-6.11"])
def test_a_write_to_a_uffd_wp_pte_goes_to_the_monitor_not_to_do_wp_page(era: str) -> None:
    ts = system(era)
    s = run(ts, [RW_PRIVATE, WRITE, ANON, REGISTER, PROTECT])
    assert not pte(s)["write"] and pte(s)["uffd_wp"]
    s = run(ts, [WRITE], s)
    assert s["p0.task.fault"] == 2 and step(ts, s, WP) is None
    s = run(ts, ["handle_userfault(p=0, page=0)"], s)
    assert s["p0.task.fault"] == 0 and not pte(s)["write"]  # the write never completed


def test_unprotect_before_931298e103c2_takes_vm_get_page_prot() -> None:
    ts = system("linux-6.0")
    s = run(ts, [RW_SHARED, REGISTER, "clear_refs(p=0)", WRITE, SHMEM])
    assert pte(s)["write"] and pte(s)["soft_dirty"]  # a write fault: dirty and soft-dirty
    s = run(ts, [PROTECT, "clear_refs(p=0)", UNPROTECT], s)
    assert pte(s)["write"] and not pte(s)["uffd_wp"] and not pte(s)["soft_dirty"]  # the bug
    private = run(ts, [RW_PRIVATE, WRITE, ANON, REGISTER, PROTECT, UNPROTECT])
    assert not pte(private)["write"] and not pte(private)["uffd_wp"]  # PAGE_COPY: fault again


def test_unprotect_from_931298e103c2_upgrades_only_where_can_change_pte_writable() -> None:
    ts = system("linux-6.3")
    s = run(ts, [RW_SHARED, REGISTER, WRITE, SHMEM, PROTECT, "clear_refs(p=0)", UNPROTECT])
    assert not pte(s)["write"] and not pte(s)["uffd_wp"]  # soft-dirty tracking wants the fault
    private = run(ts, [RW_PRIVATE, WRITE, ANON, REGISTER, PROTECT, UNPROTECT])
    assert pte(private)["write"] and not pte(private)["uffd_wp"]  # exclusive, soft-dirty


def test_unregister_clears_the_flag_and_the_bits() -> None:
    ts = system("linux-6.3")
    s = run(ts, [RW_PRIVATE, WRITE, ANON, REGISTER, PROTECT, "uffd_unregister(p=0)"])
    assert not s["p0.vma.VM_UFFD_WP"] and not pte(s)["uffd_wp"]


def test_fork_drops_uffd_wp_in_the_child() -> None:
    ts = system("linux-6.3")
    s = run(ts, [RW_PRIVATE, WRITE, ANON, REGISTER, PROTECT, "fork(p=0, child=1)"])
    assert pte(s, 0)["uffd_wp"] and not pte(s, 1)["uffd_wp"] and not s["p1.vma.VM_UFFD_WP"]


@pytest.mark.parametrize(("era", "writable"), [("linux-6.0", True), ("linux-6.2", False)])
def test_uffd_wp_writenotify_in_vm_page_prot_from_51d3d5eb74ff(era: str, writable: bool) -> None:
    ts = system(era)
    s = run(ts, [RW_SHARED, REGISTER, READ, SHMEM, PROTECT, "mprotect(p=0, prot=read)",
                 "mprotect(p=0, prot=readwrite)"])
    assert pte(s)["uffd_wp"] and bool(pte(s)["write"]) is writable


# The historic bugs as shortest traces --------------------------------------------------------

def _without(era: str, *ops: str) -> Variant:
    return BUILTIN[era].derive(f"{era}-without-{'-'.join(ops)}", remove_ops=ops)


@pytest.mark.parametrize("era", ["linux-5.19", "linux-6.0"])
def test_uffd_wp_shmem_made_writable_by_mprotect(era: str) -> None:
    assert shortest(BUILTIN[era], "uffd-wp-implies-read-only") == ("violated", [
        "mmap", "uffd_register_wp", "access", "do_fault", "uffd_writeprotect", "mprotect"])


@pytest.mark.parametrize("era", ["linux-5.19", "linux-6.0"])
def test_uffd_wp_shmem_made_writable_by_the_numa_hinting_restore(era: str) -> None:
    verdict, trace = shortest(_without(era, "mprotect"), "uffd-wp-implies-read-only")
    assert (verdict, len(trace), trace[-1]) == ("violated", 9, "do_numa_page")
    assert trace[:2] == ["mmap", "mbind"] and "change_prot_numa" in trace


@pytest.mark.parametrize(("era", "row", "verdict"), [
    ("linux-6.0", "5.13", "violated"), ("linux-6.2", "6.2", "holds"), ("linux-6.4", "6.4", "holds")])
def test_uffd_wp_shmem_made_writable_by_the_migration_rebuild(era: str, row: str, verdict: str) -> None:
    only_migrations = replace(NUMA_FAULT_RULES[row], outcomes=(MIGRATED_FROM_HINT,))
    variant = BUILTIN[era].derive(f"{era}-migrating", remove_ops=("mprotect",),
                                  replace_ops=(do_numa_page(only_migrations),))
    found, trace = shortest(variant, "uffd-wp-implies-read-only")
    assert found == verdict
    if verdict == "violated":  # remove_migration_pte(): mk_pte(new, vm_page_prot) + pte_mkuffd_wp
        assert len(trace) == 10 and trace[-1] == "do_numa_page" and "migrate_task_to" in trace


@pytest.mark.parametrize("era", ["linux-6.2", "linux-6.3", "linux-6.11"])
def test_uffd_wp_holds_from_51d3d5eb74ff_also_without_mprotect(era: str) -> None:
    assert shortest(_without(era, "mprotect"), "uffd-wp-implies-read-only")[0] == "holds"


def test_soft_dirty_lost_by_mprotect_upgrade_at_64fe24a3e05e_and_fixed_by_76aefad628aa() -> None:
    fixed = _without("linux-6.0", *UFFD_OPS)
    buggy = fixed.derive("linux-6.0-at-64fe24a3e05e", replace_ops=(mprotect("6.0-64fe24a3e05e"),))
    verdict, trace = shortest(buggy, "soft-dirty-needs-fault")
    assert (verdict, len(trace), trace[-1]) == ("violated", 6, "mprotect")
    assert "clear_refs" in trace and trace.index("clear_refs") < 5
    assert shortest(fixed, "soft-dirty-needs-fault")[0] == "holds"


@pytest.mark.parametrize(("era", "verdict"), [("linux-5.19", "violated"), ("linux-6.0", "violated"),
                                               ("linux-6.2", "violated"), ("linux-6.3", "holds")])
def test_soft_dirty_lost_by_uffd_wp_range_until_931298e103c2(era: str, verdict: str) -> None:
    found, trace = shortest(BUILTIN[era], "soft-dirty-needs-fault")
    assert found == verdict
    if verdict == "violated":
        assert trace == ["mmap", "uffd_register_wp", "clear_refs", "access", "do_fault",
                         "uffd_unregister"]


def _area_check(era: str, inst: Instance) -> None:
    props = tuple(p for p in covered_by(inst, BUILTIN[era].areas)
                  if p.area != "numa" and area_instance(p.area) == inst)
    results = run_check(Check(BUILTIN[era], props, "explicit", inst, Limits()))
    assert [r.property for r in results if not r.as_expected] == []
    assert all(any(n.startswith("areas covered: numa") for n in r.notes) for r in results)


@pytest.mark.parametrize("era", list(BUILTIN))
def test_every_era_meets_its_area_expectations_on_the_area_instance(era: str) -> None:
    _area_check(era, AREA_INSTANCE)


@pytest.mark.verify
@pytest.mark.parametrize("era", list(BUILTIN))
def test_every_era_meets_its_pin_expectations_on_the_pin_instance(era: str) -> None:
    """Two processes: 1-3 s an era (the default run checks the pin bugs in tests/test_gup.py)."""
    _area_check(era, PIN_INSTANCE)


def test_symmetry_over_processes_keeps_the_area_verdicts_and_shortest_lengths() -> None:
    """The per-process area fields are in the process slots (model/symmetry.py): the reduced
    search and the plain one agree on every verdict and every counterexample length."""
    inst = Instance(2, 1, 1, areas=TRACKING)
    ts = build(BUILTIN["linux-6.0"], inst)
    obligations = [p.instantiate(ts, inst) for p in covered_by(inst)]
    reduced, plain = explore(ts, obligations), explore(ts, obligations, Limits(symmetry=False))

    def seen(outcomes: list[Outcome]) -> list[tuple[str, int | None]]:
        return [(o.verdict, o.depth if o.verdict == "violated" else None) for o in outcomes]

    assert seen(reduced) == seen(plain)
    assert ("violated", 6) in seen(reduced)


def test_an_area_trace_replays_on_its_areas(tmp_path: Path) -> None:
    code, _, err = invoke("verify", "-v", "linux-6.0", "-p", "uffd-wp-implies-read-only",
                          "--format", "itf", "-o", str(tmp_path))
    assert code == 0, err
    (trace,) = tmp_path.glob("*.itf.json")
    assert json.loads(trace.read_text())["#meta"]["numacheck"]["areas"] == list(AREAS)
    code, out, err = invoke("replay", str(trace))
    assert code == 0 and "6 steps" in out, err


@pytest.mark.parametrize(("args", "needle"), [
    (("--areas", "uffd,cow"), "unknown area 'cow'"),
    (("--areas", "uffd"), "must include numa"),
    (("--areas", "numa", "-p", "soft-dirty-needs-fault"), "needs area softdirty"),
])
def test_areas_option_errors_are_one_line_and_exit_2(args: tuple[str, ...], needle: str) -> None:
    code, _, err = invoke("verify", "-v", "linux-6.3", *args)
    assert code == 2 and needle in err and err.count("\n") == 1, err


def test_a_result_says_which_areas_it_covered() -> None:
    code, out, _ = invoke("verify", "-v", "linux-4.9", "-p", "write-requires-vm-write",
                          "-p", "uffd-wp-implies-read-only", "--format", "json")
    (result,) = json.loads(out)["results"]  # linux-4.9 has no uffd-wp: not checked there
    assert code == 0 and result["areas"] == ["numa"]
    assert "areas covered: numa (not covered: gup, pin, softdirty)" in result["notes"]
