"""Each operation against the kernel behaviour its citation describes, on hand-driven states."""

from __future__ import annotations

import pytest

from tests.kernel import outputs, pte, run, step, system

RW_PRIVATE = "mmap(p=0, prot=readwrite, flags=private)"
RW_SHARED = "mmap(p=0, prot=readwrite, flags=shared)"
WRITE = "access(p=0, page=0, kind=write)"
READ = "access(p=0, page=0, kind=read)"
ANON = "do_anonymous_page(p=0, page=0)"
SCAN = "change_prot_numa(p=0, page=0)"
HINT = "do_numa_page(p=0, page=0, outcome=none)"
ERAS = ["linux-3.19", "linux-4.0-rc1", "linux-4.0-rc4", "linux-4.0", "linux-4.9", "linux-6.2"]
WRITTEN = [RW_PRIVATE, WRITE, ANON]  # a private page written once


@pytest.mark.parametrize("era", ERAS)
def test_do_anonymous_page_read_maps_the_zero_page_read_only(era: str) -> None:
    s = run(system(era), [RW_PRIVATE, READ, ANON])
    p = pte(s)
    assert p["present"] and p["special"] and not p["write"] and p["pfn"] == 0 and p["young"]
    assert s["p0.task.fault"] == 0


@pytest.mark.parametrize("era", ERAS)
def test_do_anonymous_page_write_maps_a_new_exclusive_writable_dirty_page(era: str) -> None:
    ts = system(era)
    s = run(ts, WRITTEN)
    p = pte(s)
    assert p["present"] and p["write"] and p["dirty"] and not p["special"]
    assert p["pfn"] == 2 and s["anon0.PageAnonExclusive"]
    assert s["anon0.page_to_nid"] == s["p0.task.numa_node_id"]
    # the retried access now completes and needs no fault
    after = step(ts, s, WRITE)
    assert after is not None and after["p0.task.fault"] == 0


def test_do_fault_maps_shmem_from_vm_page_prot() -> None:
    ts = system("linux-4.9")
    s = run(ts, [RW_SHARED, READ, "do_fault(p=0, page=0)"])
    assert pte(s)["write"] and not pte(s)["dirty"] and pte(s)["pfn"] == 1  # PAGE_SHARED, clean
    assert s["shmem0.in_page_cache"]
    s = run(ts, [RW_SHARED, WRITE, "do_fault(p=0, page=0)"])
    assert pte(s)["write"] and pte(s)["dirty"]


def test_bad_area_for_a_write_to_a_read_only_vma() -> None:
    ts = system("linux-4.9")
    s = run(ts, ["mmap(p=0, prot=read, flags=private)", WRITE])
    assert step(ts, s, ANON) is None
    s = run(ts, ["bad_area(p=0, page=0)"], s)
    assert s["p0.task.fault"] == 0 and not pte(s)["present"]


@pytest.mark.parametrize("era", ERAS)
def test_fork_write_protects_cow_ptes_on_both_sides(era: str) -> None:
    ts = system(era)
    s = run(ts, [*WRITTEN, "fork(p=0, child=1)"])
    parent, child = pte(s, 0), pte(s, 1)
    assert not parent["write"] and not child["write"]
    assert child["pfn"] == parent["pfn"] and not child["young"] and child["dirty"]
    assert not s["anon0.PageAnonExclusive"] and s["p1.vma.VM_WRITE"]


def test_fork_does_not_copy_shmem_ptes() -> None:
    ts = system("linux-4.9")
    s = run(ts, [RW_SHARED, WRITE, "do_fault(p=0, page=0)", "fork(p=0, child=1)"])
    assert pte(s, 0)["write"] and not pte(s, 1)["present"] and s["p1.vma.VM_SHARED"]


@pytest.mark.parametrize("era", ERAS)
def test_do_wp_page_copies_a_shared_page_and_reuses_an_unshared_one(era: str) -> None:
    ts = system(era)
    s = run(ts, [*WRITTEN, "fork(p=0, child=1)", WRITE])
    assert outputs(ts, s, "do_wp_page(p=0, page=0)")["reused"] is False
    s = run(ts, ["do_wp_page(p=0, page=0)"], s)
    assert pte(s, 0)["write"] and pte(s, 0)["pfn"] == 3 and s["anon1.PageAnonExclusive"]
    assert pte(s, 1)["pfn"] == 2 and not pte(s, 1)["write"]
    # the child is now the only mapper of anon0: its write fault reuses it and marks it exclusive
    s = run(ts, ["access(p=1, page=0, kind=write)"], s)
    assert outputs(ts, s, "do_wp_page(p=1, page=0)")["reused"] is True
    s = run(ts, ["do_wp_page(p=1, page=0)"], s)
    assert pte(s, 1)["write"] and pte(s, 1)["pfn"] == 2 and s["anon0.PageAnonExclusive"]


def test_do_wp_page_copies_the_zero_page() -> None:
    ts = system("linux-6.2")
    s = run(ts, [RW_PRIVATE, READ, ANON, WRITE, "do_wp_page(p=0, page=0)"])
    assert pte(s)["pfn"] == 2 and pte(s)["write"] and not pte(s)["special"] and s["anon0.PageAnonExclusive"]


SCANNED = {
    # era: (present, protnone, numa, write) of the PTE of a written private page after the scan
    "linux-3.19": (False, False, True, True),
    "linux-4.0-rc1": (False, True, False, False),
    "linux-4.0-rc4": (False, True, False, False),
    "linux-4.0": (False, True, False, True),
    "linux-4.9": (False, True, False, True),
    "linux-6.2": (False, True, False, False),
}


@pytest.mark.parametrize("era", ERAS)
def test_change_prot_numa_encoding_per_era(era: str) -> None:
    s = run(system(era), [*WRITTEN, SCAN])
    p = pte(s)
    assert (p["present"], p["protnone"], p["numa"], p["write"]) == SCANNED[era]
    assert p["dirty"] and s["p0.pte[0].shadow_write"]


@pytest.mark.parametrize("era", ERAS)
def test_change_prot_numa_skips_the_zero_page_and_hinted_ptes(era: str) -> None:
    ts = system(era)
    assert step(ts, run(ts, [RW_PRIVATE, READ, ANON]), SCAN) is None
    assert step(ts, run(ts, [*WRITTEN, SCAN]), SCAN) is None


def test_6_2_skips_cow_shared_pages() -> None:
    ts = system("linux-6.2")
    assert step(ts, run(ts, [*WRITTEN, "fork(p=0, child=1)"]), SCAN) is None
    assert step(system("linux-4.9"), run(system("linux-4.9"), [*WRITTEN, "fork(p=0, child=1)"]), SCAN)


@pytest.mark.parametrize("era", ERAS)
def test_shmem_is_scanned_only_with_a_mof_shared_policy(era: str) -> None:
    ts = system(era)
    s = run(ts, [RW_SHARED, WRITE, "do_fault(p=0, page=0)"])
    assert step(ts, s, SCAN) is None
    if era == "linux-6.2":
        assert step(ts, run(ts, ["mbind(p=0)"], s), SCAN) is not None


RESTORED = {
    # era: (write after the hinting fault, TNF_NO_GROUP) for a written private page
    "linux-3.19": (True, False),
    "linux-4.0-rc1": (False, True),
    "linux-4.0-rc4": (False, False),  # dirty, so grouped
    "linux-4.0": (True, False),
    "linux-4.9": (True, False),
    "linux-6.2": (True, False),  # can_change_pte_writable: exclusive anon
}


@pytest.mark.parametrize("era", ERAS)
def test_do_numa_page_restore_and_grouping_per_era(era: str) -> None:
    ts = system(era)
    s = run(ts, [*WRITTEN, SCAN, READ])
    out = outputs(ts, s, HINT)
    s = run(ts, [HINT], s)
    p = pte(s)
    assert p["present"] and not p["protnone"] and not p["numa"] and p["young"]
    assert (p["write"], out["tnf_no_group"]) == RESTORED[era]
    assert out["task_numa_fault"] and not out["tnf_shared"]
    assert not s["p0.pte[0].shadow_write"]  # no longer a hint


MIGRATED = {
    # era: (write, young, dirty) of the PTE after a successful NUMA migration
    "linux-3.19": (True, False, False),   # pte_mkold(mk_pte()), dirty moved to the page
    "linux-4.0-rc1": (False, False, False),
    "linux-4.0": (True, False, False),
    "linux-6.2": (False, True, True),     # readable entry -> pte_wrprotect; A/D kept
}


@pytest.mark.parametrize("era", list(MIGRATED))
def test_migration_rebuilds_the_pte_per_era(era: str) -> None:
    ts = system(era)
    s = run(ts, [*WRITTEN, "migrate_task_to(p=0, node=1)", SCAN, READ])
    assert step(ts, s, "do_numa_page(p=0, page=0, outcome=migrated)") is not None
    out = outputs(ts, s, "do_numa_page(p=0, page=0, outcome=migrated)")
    s = run(ts, ["do_numa_page(p=0, page=0, outcome=migrated)"], s)
    p = pte(s)
    assert (p["write"], p["young"], p["dirty"]) == MIGRATED[era]
    assert s["anon0.page_to_nid"] == 1 and s["anon0.PageAnonExclusive"] and out["tnf_migrated"]


def test_migration_needs_a_misplaced_page() -> None:
    ts = system("linux-4.0")
    s = run(ts, [*WRITTEN, SCAN, READ])  # page on the task's node
    assert step(ts, s, "do_numa_page(p=0, page=0, outcome=migrated)") is None
    assert step(ts, s, "do_numa_page(p=0, page=0, outcome=migrate_failed)") is None


def test_6_2_failed_migration_restores_without_write() -> None:
    ts = system("linux-6.2")
    s = run(ts, [*WRITTEN, "migrate_task_to(p=0, node=1)", SCAN, READ,
                 "do_numa_page(p=0, page=0, outcome=migrate_failed)"])
    assert pte(s)["present"] and not pte(s)["write"] and s["anon0.page_to_nid"] == 0


@pytest.mark.parametrize(("era", "upgraded"), [("linux-4.9", False), ("linux-6.2", True)])
def test_mprotect_write_upgrade(era: str, upgraded: bool) -> None:
    ts = system(era)
    s = run(ts, [*WRITTEN, "mprotect(p=0, prot=read)"])
    assert not pte(s)["write"] and pte(s)["present"]
    s = run(ts, ["mprotect(p=0, prot=readwrite)"], s)
    assert pte(s)["write"] is upgraded  # 6.2: clean or dirty exclusive anon is made writable


@pytest.mark.parametrize("era", ERAS)
def test_mprotect_turns_a_hint_into_an_ordinary_entry(era: str) -> None:
    ts = system(era)
    s = run(ts, [*WRITTEN, SCAN, "mprotect(p=0, prot=read)"])
    p = pte(s)
    assert p["present"] and not p["protnone"] and not p["numa"] and not p["write"]
    assert not s["p0.pte[0].shadow_write"]


def test_munmap_frees_the_page() -> None:
    ts = system("linux-6.2")
    s = run(ts, [*WRITTEN, "munmap(p=0)"])
    assert not s["p0.vma.mapped"] and not pte(s)["present"] and not s["anon0.PageAnonExclusive"]


def test_access_sets_accessed_and_dirty_like_the_mmu() -> None:
    ts = system("linux-4.9")
    s = run(ts, [*WRITTEN, "fork(p=0, child=1)", "access(p=1, page=0, kind=read)"])
    assert pte(s, 1)["young"] and s["p1.task.fault"] == 0
    out = outputs(ts, s, "access(p=1, page=0, kind=write)")
    assert out["completed"] is False


def test_handle_pte_fault_fixes_up_a_spurious_fault() -> None:
    ts = system("linux-6.2")
    # write fault on a read-only PTE, then mprotect's eager upgrade makes it writable
    s = run(ts, [*WRITTEN, "mprotect(p=0, prot=read)", "mprotect(p=0, prot=readwrite)"])
    s = run(ts, ["mprotect(p=0, prot=read)"], s)
    s = run(ts, [WRITE, "mprotect(p=0, prot=readwrite)"], s)
    assert step(ts, s, "do_wp_page(p=0, page=0)") is None
    s = run(ts, ["handle_pte_fault(p=0, page=0)"], s)
    assert s["p0.task.fault"] == 0 and pte(s)["dirty"]
