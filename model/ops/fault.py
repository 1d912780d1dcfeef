"""Faults that map a page: first touch (anonymous and shmem) and write-protect faults (COW)."""

from __future__ import annotations

from collections.abc import Callable

from numacheck.model.diagnose import lookup
from numacheck.model.expr import Expr
from numacheck.model.mm import (
    MM,
    maybe_mkwrite,
    userfaultfd_pte_wp,
    vm_page_prot,
    vma_is_anonymous,
)
from numacheck.model.operation import Operation, operation, pages, per_rule, processes
from numacheck.model.ops.access import fault_allowed
from numacheck.model.pte import (
    mk_pte,
    pte_mkdirty,
    pte_mkspecial,
    pte_mkwrite,
    pte_mkyoung,
    pte_none,
    pte_select,
)
from numacheck.model.system import Citation


def _first_touch(mm: MM, p: int, page: int, file: bool) -> Expr:
    """Guard shared by the two first-touch handlers; returns FAULT_FLAG_WRITE."""
    write = mm.fault_is_write(p)
    vma = mm.vma(p)
    mm.step.require(mm.fault_pending(p, page))
    mm.step.require(fault_allowed(mm, p, write))
    mm.step.require(vma.vm_file if file else vma_is_anonymous(vma))
    mm.step.require(pte_none(mm.pte(p, page)))
    return write


@operation(
    "do_anonymous_page",
    Citation("do_anonymous_page", "mm/memory.c", "3.19-6.2", confidence="V",
             note="3.19 and 6.2 text: zero page via pte_mkspecial(pfn_pte(zero, vm_page_prot)); "
                  "write: mk_pte(page, vm_page_prot), pte_mkwrite(pte_mkdirty()) if VM_WRITE; "
                  "page_add_new_anon_rmap() marks the page exclusive"),
    p=processes, page=pages,
)
def do_anonymous_page(mm: MM, p: int, page: int) -> None:
    """First touch of a private anonymous page.

    A read maps the shared zero page read-only (_PAGE_SPECIAL, vm_page_prot has no _PAGE_RW in
    a private mapping).  A write allocates a zeroed page on the task's node, exclusive to this
    process, mapped writable and dirty.
    """
    write = _first_touch(mm, p, page, file=False)
    vma = mm.vma(p)
    prot = vm_page_prot(vma)
    zero = pte_mkspecial(mk_pte(0, prot))

    def new_page(sub: MM) -> None:
        found, pfn = sub.alloc_anon_page(sub.task_node(p))
        # One anonymous frame per PTE: a none PTE leaves at least one free, so this always
        # holds; it is a guard rather than an assumption so that a smaller pool would show.
        sub.step.require(found)
        entry = mk_pte(pfn, prot)
        sub.set_pte_at(p, page, pte_select(vma.VM_WRITE, pte_mkwrite(pte_mkdirty(entry)), entry))

    mm.branch(write, new_page, lambda sub: sub.set_pte_at(p, page, zero))
    mm.fault_done(p)


@operation(
    "do_fault",
    Citation("do_fault -> do_read_fault / do_cow_fault / do_shared_fault -> do_set_pte "
             "(finish_fault)", "mm/memory.c, mm/shmem.c (shmem_fault)", "3.19-6.2",
             confidence="V",
             note="do_set_pte: mk_pte(page, vm_page_prot); write: maybe_mkwrite(pte_mkdirty()); "
                  "shmem has no page_mkwrite, so do_shared_fault maps directly; a write fault "
                  "in a private mapping is do_cow_fault (a new anonymous page, copied)"),
    p=processes, page=pages,
)
def do_fault(mm: MM, p: int, page: int) -> None:
    """First touch of a page of a mapping of the shmem file.

    shmem_fault() finds the page in the page cache or allocates it on the task's node.  A read
    fault (do_read_fault) and a write fault in a shared mapping (do_shared_fault) map the
    page-cache page from vm_page_prot, so a shared writable mapping is writable even after a
    read fault, and a write fault also marks it dirty.  A write fault in a MAP_PRIVATE mapping
    (gup area) is do_cow_fault: a new exclusive anonymous page on the task's node gets a copy
    and is mapped maybe_mkwrite(pte_mkdirty()), so read-only but dirty when the VMA has no
    VM_WRITE (a FOLL_FORCE write).  Fault-around (map_pages) is not modelled.
    """
    write = _first_touch(mm, p, page, file=True)
    vma = mm.vma(p)
    prot = vm_page_prot(vma)
    pfn = mm.shmem_getpage(page, mm.task_node(p))
    entry = mk_pte(pfn, prot)

    def do_cow_fault(sub: MM) -> None:
        found, new = sub.alloc_anon_page(sub.task_node(p))
        sub.step.require(found)  # one anonymous frame per PTE, as in do_anonymous_page
        sub.set_pte_at(p, page, maybe_mkwrite(pte_mkdirty(mk_pte(new, prot)), vma))

    def map_page_cache(sub: MM) -> None:
        sub.set_pte_at(p, page, pte_select(write, maybe_mkwrite(pte_mkdirty(entry), vma), entry))

    mm.branch(write & ~vma.VM_SHARED, do_cow_fault, map_page_cache)
    mm.fault_done(p)


ReuseRule = Callable[[MM, Expr], Expr]

#: When do_wp_page() may reuse a private anonymous page instead of copying it, by era.
REUSE_RULES: dict[str, tuple[ReuseRule, Citation]] = {
    "reuse_swap_page": (
        lambda mm, pfn: mm.page_mapcount(pfn) <= 1,
        Citation("do_wp_page -> reuse_swap_page", "mm/memory.c, mm/swapfile.c", "3.19-5.8",
                 note="reuse iff page_mapcount (+ swapcount) <= 1; KSM pages never (KSM not "
                      "modelled); page_move_anon_rmap when total_mapcount == 1"),
    ),
    "page_count": (
        lambda mm, pfn: mm.page_count(pfn).eq(1),
        Citation("do_wp_page", "mm/memory.c", "5.9-5.18", ("09854ba94c6a",), confidence="I",
                 note="reuse an anonymous non-KSM page iff page_count() == 1 (under the page "
                      "lock); refcount = mapcount + GUP references (pin area), so a page a GUP "
                      "holds is copied, pinned or not: the R/O-pin wrong COW"),
    ),
    "PageAnonExclusive": (
        lambda mm, pfn: mm.PageAnonExclusive(pfn) | mm.page_count(pfn).eq(1),
        Citation("do_wp_page", "mm/memory.c", "5.19-current",
                 note="PageAnonExclusive => reuse; else folio_ref_count == 1 under the folio "
                      "lock => page_move_anon_rmap (SetPageAnonExclusive) and reuse; refcount "
                      "= mapcount + GUP references (pin area)"),
    ),
}


@per_rule
def do_wp_page(rule: str | tuple[ReuseRule, Citation]) -> Operation:
    """The write-protect fault with the anonymous reuse rule of an era: a row of REUSE_RULES,
    or a rule of its own."""
    may_reuse, citation = (lookup(REUSE_RULES, rule, "do_wp_page reuse rule")
                           if isinstance(rule, str) else rule)

    @operation("do_wp_page", citation, p=processes, page=pages)
    def body(mm: MM, p: int, page: int) -> None:
        """Write fault on a present read-only PTE: reuse the page or copy it (COW).

        A shared writable mapping reuses the page (wp_page_shared: shmem has no page_mkwrite).
        In a private mapping an anonymous page this process may reuse is made writable in
        place (wp_page_reuse: mkyoung, mkdirty, maybe_mkwrite) and marked exclusive; the zero
        page, page-cache pages and shared anonymous pages are copied to a new exclusive page on
        the task's node (wp_page_copy: mk_pte(new, vm_page_prot), maybe_mkwrite(pte_mkdirty())).
        An unshare fault (FAULT_FLAG_UNSHARE, 5.19+, a GUP's R/O pin) takes the same decision
        but makes nothing writable: reuse only marks the page exclusive, a copy is mapped
        read-only.  A GUP's fault learns VM_FAULT_WRITE (reuse or copy for a write), which
        faultin_page() acts on (model/ops/gup.py).
        """
        vma = mm.vma(p)
        pte = mm.pte(p, page)
        write, unshare = mm.fault_is_write(p), mm.fault_is_unshare(p)
        mm.step.require(mm.fault_pending(p, page) & (write | unshare))
        mm.step.require(fault_allowed(mm, p, write))
        mm.step.require(pte.present & ~pte.write)
        # 5.7+: userfaultfd_pte_wp() => handle_userfault() instead (model/ops/uffd.py)
        mm.step.require(~(write & userfaultfd_pte_wp(vma, pte)))
        anon = mm.PageAnon(pte.pfn) & mm.vm_normal_page(pte)
        reuse = vma.VM_SHARED | anon & may_reuse(mm, pte.pfn)
        mm.step.output("reused", reuse)

        def wp_page_reuse(sub: MM) -> None:
            reused = maybe_mkwrite(pte_mkdirty(pte_mkyoung(pte)), vma)
            sub.set_pte_at(p, page, pte_select(unshare, pte, reused))
            sub.set_PageAnonExclusive(pte.pfn, anon | sub.PageAnonExclusive(pte.pfn))

        def wp_page_copy(sub: MM) -> None:
            found, pfn = sub.alloc_anon_page(sub.task_node(p))
            # A page is copied only while something else maps it (or it is the zero page), so
            # a free frame exists; see do_anonymous_page.
            sub.step.require(found)
            entry = mk_pte(pfn, vm_page_prot(vma))
            sub.set_pte_at(p, page, pte_select(unshare, entry, maybe_mkwrite(pte_mkdirty(entry), vma)))

        mm.branch(reuse, wp_page_reuse, wp_page_copy)
        if mm.inst.has_gup:
            mm.set_gup(p, "VM_FAULT_WRITE", mm.gup_faulting(p) & ~unshare)
        mm.fault_done(p)

    return body
