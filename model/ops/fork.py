"""fork(): duplicate a process's VMA and, where the kernel does, its PTEs (COW)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from numacheck.model.expr import FALSE, any_
from numacheck.model.instance import task_name
from numacheck.model.mm import MM, Vma, is_cow_mapping, maybe_mkwrite, vm_page_prot
from numacheck.model.operation import Operation, operation, processes
from numacheck.model.pte import (
    PTE_NONE,
    mk_pte,
    pte_clear_uffd_wp,
    pte_mkclean,
    pte_mkdirty,
    pte_mkold,
    pte_present,
    pte_select,
    pte_wrprotect,
)
from numacheck.model.system import Citation

_CITATION = Citation(
    "dup_mmap -> copy_page_range -> copy_one_pte (<=5.8) / copy_present_pte (5.9+)",
    "kernel/fork.c, mm/memory.c", "3.19-6.2", confidence="V",
    note="copy_page_range returns early for a VMA without anon_vma (shmem): the child "
         "refaults. A COW PTE is write-protected in parent and child; VM_SHARED PTEs "
         "are cleaned in the child; the child's PTE is made old; anon rmap duplicated "
         "(5.19+: page_try_dup_anon_rmap clears PageAnonExclusive). A hinted PTE is "
         "pte_present() and is copied as it is (6.2 text; 3.19/4.x same shape)")


def fork_op(copies_pinned: bool) -> Operation:
    """fork with or without the copy of pinned pages for the child (70e806e4e645, 5.9:
    copy_present_page(); 5.19+: page_try_dup_anon_rmap() fails for a maybe-pinned page)."""
    citation = _CITATION if not copies_pinned else replace(
        _CITATION, era="5.9-6.2", commits=("70e806e4e645",), confidence="I",
        note=_CITATION.note + "; a FOLL_PIN'd anonymous page of a COW mapping "
             "(page_maybe_dma_pinned) is copied for the child at once: mk_pte(new, "
             "vm_page_prot), maybe_mkwrite(pte_mkdirty()); the parent's PTE stays as it was "
             "(5.9 copy_present_page text; version from the merge date)")

    @operation("fork", citation, p=processes, child=processes, where=lambda p, child: p != child)
    def fork(mm: MM, p: int, child: int) -> None:
        """Process ``p`` forks; the child takes the empty process slot ``child``.

        The child gets the parent's VMA.  A private VMA with an anon_vma (in this model: one
        that maps an anonymous page) has its PTEs copied: every anonymous page becomes shared
        (no longer exclusive) and every COW PTE is write-protected on both sides, hinted ones
        too.  The shadow write bit follows the write-protect: a hinted PTE that fork
        write-protects would have been write-protected had it not been hinted.  From 5.9 a
        pinned anonymous page (pin area) is copied for the child instead, and the parent keeps
        it exclusive and as writable as it was.  fork takes the parent's mmap_lock for write.
        """
        parent = mm.vma(p)
        mm.step.require(parent.mapped)
        mm.step.require(~mm.vma(child).mapped)
        mm.step.require(mm.step.read(task_name(child, "fault")).eq(0))
        mm.mmap_write_lock(p)
        # dup_userfaultfd() without UFFD_FEATURE_EVENT_FORK: the child VMA loses VM_UFFD_WP, and
        # copy_present_pte() clears _PAGE_UFFD_WP when !userfaultfd_wp(dst_vma) (uffd area).
        mm.set_vma(child, replace(parent, VM_UFFD_WP=FALSE))
        mm.set_task_node(child, mm.task_node(p))
        pages = range(mm.inst.pages)
        has_anon_vma = ~parent.VM_SHARED & any_(
            pte_present(mm.pte(p, i)) & mm.PageAnon(mm.pte(p, i).pfn) for i in pages
        )
        cow = is_cow_mapping(parent)
        for i in pages:
            src = mm.pte(p, i)
            copy = has_anon_vma & pte_present(src)
            pinned = FALSE
            if copies_pinned:
                pinned = copy & cow & mm.PageAnon(src.pfn) & mm.page_maybe_dma_pinned(src.pfn)
            shared = copy & ~pinned
            mm.set_PageAnonExclusive(src.pfn, ~shared & mm.PageAnonExclusive(src.pfn))
            protected = pte_select(cow, pte_wrprotect(src), src)
            mm.keep_pte(p, i, shared, protected)
            child_pte = pte_mkold(pte_select(parent.VM_SHARED, pte_mkclean(protected), protected))
            mm.set_pte_at(child, i, pte_select(shared, pte_clear_uffd_wp(child_pte), PTE_NONE))
            if copies_pinned:
                mm.branch(pinned, partial(_copy_present_page, child=child, i=i, vma=parent))
            mm.set_shadow_write(p, i, mm.shadow_write(p, i) & ~(shared & cow))
            mm.set_shadow_write(child, i, FALSE)

    return fork


def _copy_present_page(mm: MM, child: int, i: int, vma: Vma) -> None:
    # copy_present_page(): a new page for the child, copied now; the parent keeps its page.
    found, pfn = mm.alloc_anon_page(mm.task_node(child))
    mm.step.require(found)  # the child's PTEs are none, so its frames are free
    mm.set_pte_at(child, i, maybe_mkwrite(pte_mkdirty(mk_pte(pfn, vm_page_prot(vma))), vma))


#: fork before 70e806e4e645: pinned pages are shared with the child like any other.
fork = fork_op(copies_pinned=False)
#: fork from 70e806e4e645 (5.9): the child gets its own copy of a pinned anonymous page.
fork_copying_pinned = fork_op(copies_pinned=True)
