"""Soft-dirty tracking: writing 4 to /proc/PID/clear_refs (softdirty area)."""

from __future__ import annotations

from dataclasses import replace

from numacheck.model.expr import FALSE
from numacheck.model.mm import MM
from numacheck.model.operation import operation, processes
from numacheck.model.pte import pte_clear_soft_dirty, pte_present, pte_wrprotect
from numacheck.model.system import Citation


@operation(
    "clear_refs",
    Citation("clear_refs_write(CLEAR_REFS_SOFT_DIRTY) -> clear_refs_pte_range -> clear_soft_dirty",
             "fs/proc/task_mmu.c, mm/mmap.c", "3.18-current", confidence="V",
             note="every VMA with VM_SOFTDIRTY: vm_flags &= ~VM_SOFTDIRTY, vma_set_page_prot() "
                  "(writenotify: a shared writable mapping loses _PAGE_RW in vm_page_prot); "
                  "every pte_present() PTE, hinted ones too: pte_wrprotect + "
                  "pte_clear_soft_dirty (pinned pages, 5.x+, not modelled)"),
    area="softdirty",
    p=processes,
)
def clear_refs(mm: MM, p: int) -> None:
    """A monitor (CRIU, live migration) starts a soft-dirty round for process ``p``.

    Tracking turns on for the VMA (VM_SOFTDIRTY cleared, vm_page_prot recomputed) and every
    present PTE is write-protected and marked clean of soft-dirty, so the next write to each
    page faults and the fault marks it soft-dirty again.  A hinted PTE is write-protected like
    any other (4.0-6.1 clear the saved _PAGE_RW), so its shadow write bit goes too.
    """
    vma = mm.vma(p)
    mm.step.require(vma.mapped)
    mm.mmap_write_lock(p)  # clear_refs_write(CLEAR_REFS_SOFT_DIRTY) changes vm_flags
    mm.set_vma(p, replace(vma, VM_SOFTDIRTY=FALSE))
    for i in range(mm.inst.pages):
        pte = mm.pte(p, i)
        present = pte_present(pte)
        mm.keep_pte(p, i, present, pte_clear_soft_dirty(pte_wrprotect(pte)))
        mm.set_shadow_write(p, i, mm.shadow_write(p, i) & ~present)
