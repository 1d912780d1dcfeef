"""Why eras violate the gup and pin areas' properties, said once for the eras that share a bug
(the shortest counterexamples are recorded in each era on the area's instance)."""

from dataclasses import replace

from numacheck.model.instance import AREA_INSTANCE, PIN_INSTANCE
from numacheck.model.variant import TraceShape, trace_shape


def on_instance(functions: str, pins: bool = False) -> TraceShape:
    """A recorded trace shape (see trace_shape) found on the instance where a run without
    --areas checks the property: PIN_INSTANCE for the pin area, AREA_INSTANCE otherwise."""
    return replace(trace_shape(functions), instance=PIN_INSTANCE if pins else AREA_INSTANCE)


DIRTY_COW = (
    "Dirty COW (CVE-2016-5195): after do_wp_page() broke COW in a read-only private mapping "
    "(VM_FAULT_WRITE without VM_WRITE), faultin_page() drops FOLL_WRITE; madvise(MADV_DONTNEED) "
    "from another thread zaps the private copy, and the retry, now a read, maps the page-cache "
    "page (or the zero page) and the kernel writes it (f33ea7f404e5 .. 19be0eaffa3a)."
)

CVE_2022_2590 = (
    "CVE-2022-2590: FOLL_COW is trusted while the PTE is dirty, and UFFDIO_CONTINUE maps the "
    "page-cache page read-only but dirty (9ae0f87d009c), so after MADV_DONTNEED zapped the COW "
    "copy a FOLL_FORCE write lands in the shmem file (9ae0f87d009c .. 5535be309971)."
)

PROT_NONE_HINT = (
    "handle_pte_fault() sends every pte_protnone() entry to do_numa_page(); a FOLL_FORCE write "
    "through /proc/PID/mem into a PROT_NONE VMA reaches it with no access check and hits its "
    "BUG_ON (c0e7cad9f7a0 [U] .. 38e088546522)."
)

MISSED_COW = (
    "CVE-2020-29374, 'COW can break either way': a GUP follows the read-only PTE of a page "
    "fork shares and keeps its reference; once the GUP's process unmaps it, reuse_swap_page() "
    "sees one mapping and the other process writes in place a page the GUP still holds (fixed "
    "by 17839856fd58, 5.8)."
)

FORK_AFTER_PIN = (
    "17839856fd58 breaks COW for a GUP after fork, but a page pinned before fork is still "
    "shared with the child; once the parent unmaps it, reuse_swap_page() lets the child write "
    "in place the page the parent's pin holds (fork copies pinned pages from 70e806e4e645, 5.9)."
)

COW_AFTER_PIN = (
    "A pin of a page fork shares (a R/O pin follows the read-only PTE; a pin taken before fork "
    "is shared with the child) does not stop the pinning process's next write fault from "
    "copying the page (page_mapcount 2): its PTE leaves the pinned page (70e806e4e645, 5.9, "
    "copies pinned pages at fork; R/O pins are reliable only with 5.19's unshare)."
)

WRONG_COW = (
    "The R/O-pin 'wrong COW': do_wp_page() reuses only at page_count() == 1 (09854ba94c6a), so "
    "the write fault after a R/O pin of a page fork once shared copies it, and the process's PTE "
    "leaves the pinned page (fixed by PageAnonExclusive and the R/O-pin unshare, 6c287605fd56 "
    "and a7f226604170, 5.19)."
)

#: Shortest counterexamples the engine found, recorded on the instance where a run without
#: --areas checks each property (see on_instance).
DIRTY_COW_ZERO_PAGE = on_instance(
    "mmap access do_anonymous_page access_remote_vm do_wp_page madvise_dontneed follow_page_pte "
    "do_anonymous_page follow_page_pte")
CVE_2022_2590_TRACE = on_instance(
    "mmap access do_fault access_remote_vm do_wp_page madvise_dontneed uffd_continue "
    "follow_page_pte")
PROT_NONE_HINT_TRACE = on_instance(
    "mmap access_remote_vm do_anonymous_page follow_page_pte do_numa_page")
MISSED_COW_TRACE = on_instance(
    "mmap pin_user_pages do_anonymous_page follow_page_pte fork access munmap do_wp_page",
    pins=True)
COW_AFTER_PIN_TRACE = on_instance(
    "mmap access do_anonymous_page fork pin_user_pages access do_wp_page", pins=True)


def before_4_9(prot_none_bug: bool) -> tuple[dict[str, str], dict[str, TraceShape]]:
    """The gup and pin expectations of the eras before 19be0eaffa3a (with the PROT_NONE hinting
    fault of 4.0-rc1 .. 38e088546522 where ``prot_none_bug``)."""
    violated = {"gup-write-lands-in-private-copy": DIRTY_COW, "pin-isolation": MISSED_COW,
                "pin-coherence": COW_AFTER_PIN}
    traces = {"gup-write-lands-in-private-copy": DIRTY_COW_ZERO_PAGE,
              "pin-isolation": MISSED_COW_TRACE, "pin-coherence": COW_AFTER_PIN_TRACE}
    if prot_none_bug:
        violated["numa-fault-only-in-accessible-vma"] = PROT_NONE_HINT
        traces["numa-fault-only-in-accessible-vma"] = PROT_NONE_HINT_TRACE
    return violated, traces


#: The pin expectations of 4.9 .. 5.7 (the missed COW and the COW after a pin).
PINS_BEFORE_5_8 = ({"pin-isolation": MISSED_COW, "pin-coherence": COW_AFTER_PIN},
                   {"pin-isolation": MISSED_COW_TRACE, "pin-coherence": COW_AFTER_PIN_TRACE})
