"""Properties of get_user_pages() and its references (gup and pin areas)."""

from __future__ import annotations

from numacheck.model.expr import Expr, all_, any_
from numacheck.model.mm import MM, is_cow_mapping, vma_is_accessible
from numacheck.model.pte import pte_present
from numacheck.model.system import Action
from numacheck.properties.base import invariant, output, step_property

#: The operations whose step can complete a GUP (model/ops/gup.py).
GUP_STEPS = {"access_remote_vm", "pin_user_pages", "follow_page_pte"}


def _writes_cow_mapping(pre: MM, post: MM, action: Action) -> Expr:
    p = int(action.param("p"))
    return output(action, "kernel_write") & pre.vma(p).mapped & is_cow_mapping(pre.vma(p))


@step_property(
    "gup-write-lands-in-private-copy",
    "A kernel write through get_user_pages() into a private (COW) mapping writes an anonymous "
    "page exclusive to the caller, never a page-cache page or the zero page.",
    "A FOLL_FORCE write through /proc/PID/mem or ptrace into a read-only private mapping must "
    "break COW first: writing the page cache modifies the file for everyone (a setuid binary, "
    "/etc/passwd), and writing the zero page every process's zeroes.  Dirty COW "
    "(CVE-2016-5195) dropped FOLL_WRITE after the COW and let a MADV_DONTNEED race turn the "
    "retry into a read of the page cache; CVE-2022-2590 trusted FOLL_COW on a dirty PTE that "
    "UFFDIO_CONTINUE made for a page-cache page.  This is write-requires-exclusive for kernel "
    "writes, checked on the step that completes the GUP.",
    "a GUP completes a kernel write into a private mapping",
    GUP_STEPS,
    when=_writes_cow_mapping,
    area="gup",
)
def gup_write_lands_in_private_copy(pre: MM, post: MM, action: Action) -> Expr:
    """The written page is an exclusive anonymous page mapped only by the caller's PTE."""
    pfn = output(action, "gup_pfn")
    private = (pre.PageAnon(pfn) & pre.PageAnonExclusive(pfn) & pre.page_mapcount(pfn).eq(1))
    return _writes_cow_mapping(pre, post, action).implies(private)


def _numa_fault(pre: MM, post: MM, action: Action) -> Expr:
    return pre.vma(int(action.param("p"))).mapped


@step_property(
    "numa-fault-only-in-accessible-vma",
    "A NUMA hinting fault is taken only in a VMA that allows access: a PROT_NONE VMA's "
    "protnone PTE is a real PROT_NONE mapping, never treated as a NUMA hint.",
    "_PAGE_PROTNONE is both the NUMA hint and the PROT_NONE protection (4.0+); only the VMA "
    "tells them apart.  User faults in a PROT_NONE VMA die in access_error(), but a FOLL_FORCE "
    "GUP faults with no access check, and before 38e088546522 handle_pte_fault() sent its "
    "fault to do_numa_page(), which BUG()s on an inaccessible VMA (or would restore PAGE_NONE "
    "and let the GUP loop).  Checked on every do_numa_page step.",
    "a NUMA hinting fault is handled",
    {"do_numa_page"},
    when=_numa_fault,
    area="gup",
)
def numa_fault_only_in_accessible_vma(pre: MM, post: MM, action: Action) -> Expr:
    """``vma_is_accessible(vma)`` where do_numa_page() runs."""
    return vma_is_accessible(pre.vma(int(action.param("p"))))


def _held_by_other(mm: MM, p: int, pfn: Expr) -> Expr:
    return any_(mm.gup_pins(pfn)[q] for q in range(mm.inst.processes) if q != p)


def _private_writable_held(mm: MM) -> Expr:
    return any_(mm.vma(p).mapped & ~mm.vma(p).VM_SHARED & mm.pte(p, i).write
                for p, i in mm.ptes())


@invariant(
    "pin-isolation",
    "After fork, a write by one process never reaches a page another process has pinned: a "
    "writable PTE of a private mapping never maps a page another process's pin holds.",
    "Pinning drivers (and vmsplice) read a page through their reference long after the GUP; if "
    "the process that shared the page by fork may then write it in place, the other process "
    "sees writes it must never see (CVE-2020-29374, 'COW can break either way': the reuse "
    "test counted mappings, not references).  The model's write-requires-exclusive covers "
    "other mappings; this covers references.",
    "a private mapping has a writable PTE",
    sometimes=_private_writable_held,
    area="pin",
)
def pin_isolation(mm: MM) -> Expr:
    """A writable private PTE of ``p`` maps no frame another process has pinned."""
    return all_((mm.vma(p).mapped & ~mm.vma(p).VM_SHARED & mm.pte(p, i).write)
                .implies(~_held_by_other(mm, p, mm.pte(p, i).pfn)) for p, i in mm.ptes())


def _pinned_and_mapped(mm: MM, p: int) -> Expr:
    """``p`` holds a FOLL_PIN pin through page i and its PTE i maps the pinned page."""
    pfn = mm.gup(p, "pin_pfn")
    return all_([mm.gup_state(p, "pinned"),
                 *(mm.gup(p, "page").ne(i) | pte_present(mm.pte(p, i)) & mm.pte(p, i).pfn.eq(pfn)
                   for i in range(mm.inst.pages))])


def _any_pinned_and_mapped(pre: MM, post: MM, action: Action) -> Expr:
    return any_(_pinned_and_mapped(pre, p) for p in range(pre.inst.processes))


@step_property(
    "pin-coherence",
    "A page pinned (FOLL_PIN) stays the page the pinning process maps: no COW replaces it "
    "behind the pin; only the process itself unmapping or discarding the page (munmap, "
    "MADV_DONTNEED) or unpinning ends that.",
    "RDMA, io_uring and O_DIRECT read or write a pinned page while the process works on its "
    "mapping; if a write fault copies the page, the device and the process see different "
    "memory and data is silently lost.  do_wp_page() must reuse a pinned exclusive page, and a "
    "R/O pin of a possibly shared page must unshare first (5.19: PageAnonExclusive, "
    "a7f226604170); fork must copy pinned pages for the child (70e806e4e645).  Checked on every "
    "step from a state where the pinned page is mapped through the pinned page's PTE.",
    "a process has pinned a page its PTE maps",
    set(),
    when=_any_pinned_and_mapped,
    area="pin",
)
def pin_coherence(pre: MM, post: MM, action: Action) -> Expr:
    """A pinned, mapped page stays mapped by the pinning PTE unless that PTE is zapped or the
    pin dropped."""
    checks = []
    for p in range(pre.inst.processes):
        still_pinned = post.gup_state(p, "pinned") & post.gup(p, "pin_pfn").eq(pre.gup(p, "pin_pfn"))
        for i in range(pre.inst.pages):
            after = post.pte(p, i)
            kept = ~pte_present(after) | after.pfn.eq(pre.gup(p, "pin_pfn"))
            checks.append((_pinned_and_mapped(pre, p) & pre.gup(p, "page").eq(i) & still_pinned)
                          .implies(kept))
    return all_(checks)


PROPERTIES = (gup_write_lands_in_private_copy, numa_fault_only_in_accessible_vma, pin_isolation,
              pin_coherence)
