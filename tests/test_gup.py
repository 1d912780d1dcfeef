"""The gup and pin areas: each new operation against its cited kernel behaviour, and the
historic bugs as shortest traces on the era that had them and absent on the one that fixed
them (AREA_INSTANCE for the gup area, PIN_INSTANCE for pins)."""

from __future__ import annotations

import json
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numacheck.checker.outcome import Limits
from numacheck.checker.run import Check, run_check
from numacheck.model.instance import AREA_INSTANCE, AREAS, PIN_INSTANCE, Instance, gup_name, schema
from numacheck.model.system import TransitionSystem
from numacheck.model.variant import Variant, build
from numacheck.model.variants import BUILTIN
from numacheck.properties import BUILTIN as PROPERTIES
from numacheck.properties import covered_by
from tests.kernel import outputs, pte, run, step
from tests.test_cli import invoke
from tests.test_engines_agree import agree

ONE = Instance(1, 1, 1, areas=frozenset({"numa", "gup"}))
TWO = Instance(2, 1, 1, areas=frozenset({"numa", "pin"}))
RO_FILE = "mmap(p=0, prot=read, flags=private_file)"
RO_ANON = "mmap(p=0, prot=read, flags=private)"
RW_ANON = "mmap(p=0, prot=readwrite, flags=private)"
FORCE_WRITE = "access_remote_vm(p=0, page=0, kind=write, force=FOLL_FORCE)"
RETRY = "follow_page_pte(p=0, page=0)"
FILE_FAULT = "do_fault(p=0, page=0)"
ANON_FAULT = "do_anonymous_page(p=0, page=0)"
WP = "do_wp_page(p=0, page=0)"
DONTNEED = "madvise_dontneed(p=0, page=0)"
SHMEM0 = 1  # frame indices on one page: zero_page 0, shmem0 1, anon<k> 2 + k


@cache
def system(era: str, inst: Instance = ONE) -> TransitionSystem:
    return build(BUILTIN[era], inst)


def gup(state: dict[str, object], what: str, p: int = 0) -> object:
    return state[gup_name(p, what)]


def shortest(variant: Variant, prop: str) -> tuple[str, list[str]]:
    """The verdict and the shortest counterexample's functions where a run without --areas
    checks ``prop``."""
    inst = PIN_INSTANCE if PROPERTIES[prop].area == "pin" else AREA_INSTANCE
    (r,) = run_check(Check(variant, (PROPERTIES[prop],), "explicit", inst, Limits()))
    return r.verdict, [] if r.trace is None else [s.action for s in r.trace.steps[1:]]


# Schema and areas ----------------------------------------------------------------------------

def test_the_default_instance_has_no_gup_fields_or_operations() -> None:
    assert not [f.name for f in schema(Instance()).fields if ".gup." in f.name or "vm_file" in f.name]
    ops = {a.op for a in system("linux-6.11", Instance()).actions}
    assert not ops & {"access_remote_vm", "follow_page_pte", "madvise_dontneed", "uffd_continue",
                      "pin_user_pages", "unpin_user_page"}
    assert "mmap(p=0, prot=read, flags=private_file)" not in {a.label for a in
                                                              system("linux-6.11", Instance()).actions}


def test_the_retry_serves_both_gup_areas_and_pins_only_the_pin_area() -> None:
    gup_only = {a.op for a in system("linux-6.2", ONE).actions}
    pins_only = {a.op for a in system("linux-6.2", TWO).actions}
    assert {"access_remote_vm", "follow_page_pte", "madvise_dontneed"} <= gup_only
    assert "pin_user_pages" not in gup_only
    assert {"pin_user_pages", "unpin_user_page", "follow_page_pte"} <= pins_only
    assert not pins_only & {"access_remote_vm", "madvise_dontneed", "uffd_continue"}
    assert {"gup", "pin"} <= set(AREAS)


# MAP_PRIVATE of the shmem file (do_fault: do_read_fault / do_cow_fault) ----------------------

def test_a_private_file_read_fault_maps_the_page_cache_read_only() -> None:
    s = run(system("linux-6.2"), ["mmap(p=0, prot=readwrite, flags=private_file)",
                                  "access(p=0, page=0, kind=read)", FILE_FAULT])
    assert pte(s)["pfn"] == SHMEM0 and not pte(s)["write"] and not pte(s)["dirty"]


def test_a_private_file_write_fault_copies_to_an_exclusive_anonymous_page() -> None:
    s = run(system("linux-6.2"), ["mmap(p=0, prot=readwrite, flags=private_file)",
                                  "access(p=0, page=0, kind=write)", FILE_FAULT])
    assert pte(s)["pfn"] > SHMEM0 and pte(s)["write"] and pte(s)["dirty"]
    assert s[f"anon{pte(s)['pfn'] - 2}.PageAnonExclusive"] and s["shmem0.in_page_cache"]


def test_madvise_dontneed_zaps_the_pte_and_frees_the_private_copy() -> None:
    s = run(system("linux-6.2"), [RW_ANON, "access(p=0, page=0, kind=write)", ANON_FAULT, DONTNEED])
    assert not pte(s)["present"] and pte(s)["pfn"] == 0 and s["p0.vma.mapped"]
    assert not s["anon0.PageAnonExclusive"]


# check_vma_flags, follow_page_pte, faultin_page ---------------------------------------------

@pytest.mark.parametrize(("mapping", "label", "admitted"), [
    (RO_FILE, FORCE_WRITE, True),
    (RO_FILE, "access_remote_vm(p=0, page=0, kind=write, force=none)", False),
    ("mmap(p=0, prot=read, flags=shared)", FORCE_WRITE, False),  # FOLL_FORCE: COW mappings only
    ("mmap(p=0, prot=none, flags=private)", "access_remote_vm(p=0, page=0, kind=read, force=none)",
     False),
])
def test_check_vma_flags(mapping: str, label: str, admitted: bool) -> None:
    ts = system("linux-6.2")
    assert (step(ts, run(ts, [mapping]), label) is not None) is admitted


@pytest.mark.parametrize(("era", "foll_write", "foll_cow"), [
    ("linux-4.0", False, False), ("linux-4.9", True, True), ("linux-6.0", True, False)])
def test_faultin_page_after_a_cow_in_a_read_only_mapping(era: str, foll_write: bool,
                                                         foll_cow: bool) -> None:
    """<= 4.8 drops FOLL_WRITE after do_wp_page's VM_FAULT_WRITE; 19be0eaffa3a sets FOLL_COW
    instead; 5535be309971 keeps both flags as they were."""
    ts = system(era)
    s = run(ts, [RO_ANON, "access(p=0, page=0, kind=read)", ANON_FAULT, FORCE_WRITE])
    assert s["p0.task.fault"] == 2 and gup(s, "state") == 1  # faultin: a write fault
    s = run(ts, [WP], s)
    assert gup(s, "VM_FAULT_WRITE") and not pte(s)["write"] and pte(s)["dirty"]  # RO copy
    out = outputs(ts, s, RETRY)
    s = run(ts, [RETRY], s)
    assert out["completed"] and out["kernel_write"] and gup(s, "state") == 0
    assert out["gup_pfn"] == pte(s)["pfn"] != 0  # the private copy, not the zero page
    before = run(ts, [RO_ANON, "access(p=0, page=0, kind=read)", ANON_FAULT, FORCE_WRITE, WP,
                      DONTNEED, RETRY])  # the retry after the zap faults again: its flags show
    assert bool(gup(before, "FOLL_WRITE")) is foll_write and bool(gup(before, "FOLL_COW")) is foll_cow


def test_5535be309971_follows_an_exclusive_anonymous_copy_without_a_second_fault() -> None:
    ts = system("linux-6.0")
    s = run(ts, [RO_FILE, FORCE_WRITE, FILE_FAULT])  # do_cow_fault: read-only, dirty, exclusive
    out = outputs(ts, s, RETRY)
    assert out["completed"] and out["kernel_write"] and out["gup_pfn"] > SHMEM0


def test_foll_cow_follows_any_dirty_pte_before_5535be309971() -> None:
    ts = system("linux-4.9")
    s = run(ts, [RO_FILE, FORCE_WRITE, FILE_FAULT])
    assert not outputs(ts, s, RETRY)["completed"]  # no FOLL_COW yet: one more fault


@pytest.mark.parametrize(("era", "dirty"), [("linux-5.13", False), ("linux-5.16", True)])
def test_uffd_continue_maps_the_page_cache_read_only_and_dirty_from_9ae0f87d009c(
        era: str, dirty: bool) -> None:
    ts = system(era)
    s = run(ts, [RO_FILE, "access(p=0, page=0, kind=read)", FILE_FAULT, DONTNEED,
                 "uffd_continue(p=0, page=0)"])
    assert pte(s)["pfn"] == SHMEM0 and pte(s)["present"] and not pte(s)["write"]
    assert bool(pte(s)["dirty"]) is dirty


def test_uffd_continue_needs_5_13_and_a_cached_page() -> None:
    assert "uffd_continue" not in {a.op for a in system("linux-5.9").actions}
    ts = system("linux-6.2")
    assert step(ts, run(ts, [RO_FILE]), "uffd_continue(p=0, page=0)") is None  # not in the cache


def test_a_gup_between_fault_and_retry_holds_mmap_lock() -> None:
    ts = system("linux-6.2")
    s = run(ts, [RO_FILE, FORCE_WRITE])
    for label in ("munmap(p=0)", "mprotect(p=0, prot=readwrite)"):
        assert step(ts, s, label) is None
    assert step(ts, run(ts, [FILE_FAULT], s), "munmap(p=0)") is None  # still before the retry
    assert step(ts, run(ts, [FILE_FAULT], s), DONTNEED) is not None  # the read lock suffices


@pytest.mark.parametrize(("era", "numa_fault"), [("linux-4.0", True), ("linux-4.8", False)])
def test_a_forced_write_to_prot_none_reaches_do_numa_page_before_38e088546522(
        era: str, numa_fault: bool) -> None:
    ts = system(era)
    s = run(ts, ["mmap(p=0, prot=none, flags=private)", FORCE_WRITE, ANON_FAULT])
    assert pte(s)["protnone"] and not pte(s)["present"]  # mk_pte(page, PAGE_NONE)
    s = run(ts, [RETRY], s)  # FOLL_FORCE follows protnone (no FOLL_NUMA), but it is not writable
    assert (step(ts, s, "do_numa_page(p=0, page=0, outcome=none)") is not None) is numa_fault


@pytest.mark.parametrize(("era", "follows"), [("linux-6.4", True), ("linux-6.11", False)])
def test_foll_force_follows_a_numa_hint_until_d74943a2f3cd(era: str, follows: bool) -> None:
    inst = Instance(1, 1, 2, areas=frozenset({"numa", "gup"}))
    ts = system(era, inst)
    s = run(ts, [RW_ANON, "access(p=0, page=0, kind=write)", ANON_FAULT,
                 "migrate_task_to(p=0, node=1)", "change_prot_numa(p=0, page=0)"])
    read = "access_remote_vm(p=0, page=0, kind=read, force=FOLL_FORCE)"
    assert bool(outputs(ts, s, read)["completed"]) is follows


# Pins ----------------------------------------------------------------------------------------

PIN_RO = "pin_user_pages(p={p}, page=0, kind=read)"
SHARED_BY_FORK = [RW_ANON, "access(p=0, page=0, kind=write)", ANON_FAULT, "fork(p=0, child=1)"]


def test_a_pin_holds_its_page_after_munmap_until_unpin() -> None:
    ts = system("linux-6.2", TWO)
    s = run(ts, [RW_ANON, "access(p=0, page=0, kind=write)", ANON_FAULT, PIN_RO.format(p=0)])
    frame = pte(s)["pfn"]
    assert gup(s, "state") == 3 and gup(s, "pin_pfn") == frame and gup(s, "FOLL_PIN")
    s = run(ts, ["munmap(p=0)"], s)
    assert s[f"anon{frame - 2}.PageAnonExclusive"]  # not freed: the pin holds it
    s = run(ts, ["unpin_user_page(p=0)"], s)
    assert gup(s, "state") == 0 and not s[f"anon{frame - 2}.PageAnonExclusive"]


@pytest.mark.parametrize(("era", "unshare"), [("linux-5.13", False), ("linux-5.19", True)])
def test_a_read_only_pin_of_a_shared_page_unshares_from_a7f226604170(era: str, unshare: bool) -> None:
    ts = system(era, TWO)
    s = run(ts, [*SHARED_BY_FORK, PIN_RO.format(p=1)])
    if not unshare:
        assert gup(s, "state", 1) == 3 and gup(s, "pin_pfn", 1) == pte(s, 0)["pfn"]
        return
    assert s["p1.task.fault"] == 3  # FAULT_FLAG_UNSHARE
    s = run(ts, ["do_wp_page(p=1, page=0)", "follow_page_pte(p=1, page=0)"], s)
    child = pte(s, 1)
    assert child["pfn"] != pte(s, 0)["pfn"] and not child["write"]  # a read-only private copy
    assert gup(s, "pin_pfn", 1) == child["pfn"] and s[f"anon{child['pfn'] - 2}.PageAnonExclusive"]


def test_the_5_8_forced_cow_break_makes_a_read_pin_copy_first() -> None:
    ts = system("linux-5.8", TWO)
    s = run(ts, [*SHARED_BY_FORK, PIN_RO.format(p=1)])
    assert s["p1.task.fault"] == 2  # FOLL_WRITE forced: a write fault
    s = run(ts, ["do_wp_page(p=1, page=0)", "follow_page_pte(p=1, page=0)"], s)
    assert pte(s, 1)["write"] and gup(s, "pin_pfn", 1) == pte(s, 1)["pfn"] != pte(s, 0)["pfn"]


@pytest.mark.parametrize(("era", "copied"), [("linux-5.8", False), ("linux-5.9", True)])
def test_fork_copies_a_pinned_page_for_the_child_from_70e806e4e645(era: str, copied: bool) -> None:
    ts = system(era, TWO)
    s = run(ts, [RW_ANON, "access(p=0, page=0, kind=write)", ANON_FAULT, PIN_RO.format(p=0),
                 "fork(p=0, child=1)"])
    assert (pte(s, 1)["pfn"] != pte(s, 0)["pfn"]) is copied
    assert bool(pte(s, 0)["write"]) is copied  # the parent keeps its page writable, exclusive


@pytest.mark.parametrize(("era", "reused"), [("linux-4.16", True), ("linux-5.9", False),
                                              ("linux-5.19", True)])
def test_the_reuse_rule_counts_pins_from_09854ba94c6a(era: str, reused: bool) -> None:
    """A read-only PTE of an exclusive pinned page (mprotect made it so): reuse_swap_page()
    counts mappings (reuse), page_count() counts the pin (copy), PageAnonExclusive reuses."""
    ts = system(era, TWO)
    s = run(ts, [RW_ANON, "access(p=0, page=0, kind=write)", ANON_FAULT, PIN_RO.format(p=0),
                 "mprotect(p=0, prot=read)", "mprotect(p=0, prot=readwrite)",
                 "access(p=0, page=0, kind=write)"])
    assert bool(outputs(ts, s, WP)["reused"]) is reused


# The historic bugs ---------------------------------------------------------------------------

@pytest.mark.parametrize("era", ["linux-4.0", "linux-4.8"])
def test_dirty_cow_on_4_8_and_earlier(era: str) -> None:
    verdict, trace = shortest(BUILTIN[era], "gup-write-lands-in-private-copy")
    assert verdict == "violated" and len(trace) == 9
    assert trace[3] == "access_remote_vm" and "madvise_dontneed" in trace
    assert trace[-1] == "follow_page_pte"


def test_dirty_cow_writes_the_page_cache_of_a_private_file_mapping() -> None:
    file_only = BUILTIN["linux-4.0"].derive("linux-4.0-file-only", remove_ops=("do_anonymous_page",))
    verdict, trace = shortest(file_only, "gup-write-lands-in-private-copy")
    assert verdict == "violated" and len(trace) == 9 and trace.count("do_fault") == 2
    assert trace[trace.index("madvise_dontneed") + 1:] == ["follow_page_pte", "do_fault",
                                                             "follow_page_pte"]


@pytest.mark.parametrize(("era", "verdict"), [("linux-4.9", "holds"), ("linux-5.13", "holds"),
                                               ("linux-6.0", "holds")])
def test_no_gup_write_outside_a_private_copy_after_19be0eaffa3a(era: str, verdict: str) -> None:
    assert shortest(BUILTIN[era], "gup-write-lands-in-private-copy")[0] == verdict


@pytest.mark.parametrize("era", ["linux-5.16", "linux-5.19"])
def test_cve_2022_2590_on_5_16_to_5_19(era: str) -> None:
    assert shortest(BUILTIN[era], "gup-write-lands-in-private-copy") == ("violated", [
        "mmap", "access", "do_fault", "access_remote_vm", "do_wp_page", "madvise_dontneed",
        "uffd_continue", "follow_page_pte"])


def test_prot_none_hinting_fault_before_38e088546522() -> None:
    assert shortest(BUILTIN["linux-4.0"], "numa-fault-only-in-accessible-vma") == ("violated", [
        "mmap", "access_remote_vm", "do_anonymous_page", "follow_page_pte", "do_numa_page"])
    assert shortest(BUILTIN["linux-4.8"], "numa-fault-only-in-accessible-vma")[0] == "holds"


@pytest.mark.slow
def test_missed_cow_until_5_8_and_gone_from_5_9() -> None:
    verdict, trace = shortest(BUILTIN["linux-4.16"], "pin-isolation")
    assert verdict == "violated" and len(trace) == 8 and trace[-1] == "do_wp_page"
    assert shortest(BUILTIN["linux-5.9"], "pin-isolation")[0] == "holds"


@pytest.mark.parametrize(("era", "child_copies"), [("linux-4.16", False), ("linux-5.8", True)])
def test_17839856fd58_breaks_cow_for_a_gup_after_fork(era: str, child_copies: bool) -> None:
    """CVE-2020-29374 as Jann Horn reported it: the child pins after fork and unmaps; the
    parent's write then reuses the page (<= 5.7) unless the pin broke COW first (5.8)."""
    ts = system(era, TWO)
    s = run(ts, [*SHARED_BY_FORK, PIN_RO.format(p=1)])
    if child_copies:
        s = run(ts, ["do_wp_page(p=1, page=0)", "follow_page_pte(p=1, page=0)"], s)
    pinned = gup(s, "pin_pfn", 1)
    s = run(ts, ["munmap(p=1)", "access(p=0, page=0, kind=write)", WP], s)
    assert (pte(s, 0)["pfn"] == pinned) is not child_copies


@pytest.mark.slow
def test_wrong_cow_from_09854ba94c6a_until_5_19() -> None:
    for era in ("linux-5.9",):
        verdict, trace = shortest(BUILTIN[era], "pin-coherence")
        assert verdict == "violated" and len(trace) == 7 and trace[-1] == "do_wp_page"
        assert "pin_user_pages" in trace and "fork" in trace
    assert shortest(BUILTIN["linux-5.19"], "pin-coherence")[0] == "holds"


@pytest.mark.parametrize("era", ["linux-4.0", "linux-4.8", "linux-5.16", "linux-6.11"])
def test_the_safety_properties_hold_with_every_area(era: str) -> None:
    """GUP writes, pins, MADV_DONTNEED and UFFDIO_CONTINUE never leave a PTE writable where
    write-requires-exclusive or write-requires-vm-write forbid it (1 process, every area)."""
    props = tuple(PROPERTIES[n] for n in ("write-requires-exclusive", "write-requires-vm-write",
                                          "protnone-never-accessed"))
    results = run_check(Check(BUILTIN[era], props, "explicit", AREA_INSTANCE, Limits()))
    assert [(r.property, r.verdict) for r in results] == [(p.name, "holds") for p in props]


def test_every_result_of_the_default_run_names_its_areas() -> None:
    code, out, _ = invoke("verify", "-v", "linux-5.16", "-p", "pin-coherence",
                          "-p", "gup-write-lands-in-private-copy", "--format", "json")
    results = {r["property"]: r for r in json.loads(out)["results"]}
    assert code == 0 and results["pin-coherence"]["areas"] == ["numa", "pin"]
    assert "areas covered: numa, pin (not covered: gup, softdirty, uffd)" in results["pin-coherence"]["notes"]
    assert results["gup-write-lands-in-private-copy"]["areas"] == list(AREAS)


# The engines agree on systems built from the new operations ----------------------------------

BASE = ("mmap", "access", "do_anonymous_page", "do_wp_page", "access_remote_vm", "follow_page_pte",
        "madvise_dontneed")
OPTIONAL = ("do_fault", "uffd_continue", "mprotect", "munmap", "handle_pte_fault", "do_numa_page",
            "bad_area")


@pytest.mark.slow
@settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["linux-4.0", "linux-5.16", "linux-6.0"]),
       st.sets(st.sampled_from(OPTIONAL), max_size=2))
def test_engines_agree_on_systems_with_gup_operations(era: str, extra: set[str]) -> None:
    """The Dirty COW core plus a few drawn operations of the era (about 5 s an example; one
    example per run keeps the suite inside its time budget)."""
    variant = BUILTIN[era]
    keep = set(BASE) | extra
    small = variant.derive("small", remove_ops=tuple(op.name for op in variant.operations
                                                     if op.name not in keep))
    ts = build(small, ONE)
    ops = {a.op for a in ts.actions}
    obligations = [p.instantiate(ts, ONE) for p in covered_by(ONE)
                   if p.area == "gup" and (not p.operations or p.operations & ops)]
    agree(ts, obligations)


PIN_CORE = ("mmap", "access", "do_anonymous_page", "do_wp_page", "pin_user_pages",
            "follow_page_pte", "unpin_user_page", "mprotect")


@pytest.mark.verify
@pytest.mark.parametrize("era", ["linux-5.9", "linux-5.19"])
def test_engines_agree_on_a_pin_system(era: str) -> None:
    """One process pinning its own page, mprotect making the PTE read-only: the wrong COW
    (pin-coherence) on 5.9, none on 5.19 (10-60 s, PDR's proof on 5.19 the slow part)."""
    inst = Instance(1, 1, 1, areas=frozenset({"numa", "pin"}))
    variant = BUILTIN[era]
    small = variant.derive("small", remove_ops=tuple(op.name for op in variant.operations
                                                     if op.name not in PIN_CORE))
    ts = build(small, inst)
    agree(ts, [p.instantiate(ts, inst) for p in covered_by(inst) if p.area == "pin"])
