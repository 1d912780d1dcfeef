"""User accesses and the fault entry paths that need no new page.

An access is the hardware's part: it completes through a PTE that allows it (setting the
accessed and dirty bits as the MMU does) or traps, leaving a pending fault.  Handling the fault
is a separate transition chosen by the kernel's dispatch in handle_pte_fault(), so a trace shows
how many faults an access needed.
"""

from __future__ import annotations

from numacheck.model.expr import Expr
from numacheck.model.instance import task_name
from numacheck.model.mm import MM, vma_is_accessible
from numacheck.model.operation import choices, operation, pages, processes
from numacheck.model.pte import Pte, hw_access_ok, hw_mkdirty, pte_mkyoung
from numacheck.model.system import Citation


def vma_permits(mm: MM, p: int, write: Expr) -> Expr:
    """access_error() is false: the VMA exists and allows the access (arch/x86/mm/fault.c).

    A write needs VM_WRITE; a read needs any of VM_READ, VM_WRITE, VM_EXEC.
    """
    vma = mm.vma(p)
    return vma.mapped & (write & vma.VM_WRITE | ~write & vma_is_accessible(vma))


def fault_allowed(mm: MM, p: int, write: Expr) -> Expr:
    """The pending fault of ``p`` may be handled: a user fault passed access_error()
    (vma_permits); a GUP's fault (faultin_page -> handle_mm_fault, gup area) makes no access
    check of its own, since check_vma_flags() admitted the GUP (FOLL_FORCE writes to a
    read-only private VMA) and the VMA cannot change while the GUP holds mmap_lock."""
    return vma_permits(mm, p, write) | mm.gup_faulting(p)


def hint_or_protnone(pte: Pte) -> Expr:
    """The entry carries a NUMA/PROT_NONE marker (_PAGE_PROTNONE or _PAGE_NUMA)."""
    return pte.protnone | pte.numa


@operation(
    "access",
    Citation("user load/store (MMU page walk)", "arch/x86/include/asm/pgtable_types.h", "all",
             note="Intel SDM vol. 3 §4.6, §4.8: accessed/dirty set by the walk", confidence="V"),
    p=processes, page=pages, kind=choices("read", "write"),
)
def access(mm: MM, p: int, page: int, kind: str) -> None:
    """A task reads or writes a page of its VMA.

    If the PTE is present (and writable, for a write) the access completes and the MMU sets
    _PAGE_ACCESSED (and _PAGE_DIRTY, never the software _PAGE_SOFT_DIRTY); otherwise it traps
    and the fault is pending until the kernel handles it.  Outputs: ``completed`` and
    ``through_hint`` (the PTE carried a PROT_NONE/NUMA marker).
    """
    write = kind == "write"
    mm.step.require(mm.vma(p).mapped)
    mm.step.require(mm.step.read(task_name(p, "fault")).eq(0))
    pte = mm.pte(p, page)
    ok = hw_access_ok(pte, write)
    mm.step.output("completed", ok)
    mm.step.output("through_hint", hint_or_protnone(pte))
    done = pte_mkyoung(hw_mkdirty(pte) if write else pte)
    mm.keep_pte(p, page, ok, done)
    mm.branch(ok, lambda sub: None, lambda sub: sub.raise_fault(p, page, kind))


@operation(
    "bad_area",
    Citation("bad_area_access_error / __bad_area", "arch/x86/mm/fault.c", "all"),
    p=processes, page=pages,
)
def bad_area(mm: MM, p: int, page: int) -> None:
    """The faulting access is not allowed by the VMA (or there is none): SIGSEGV.

    The task does not retry; the pending fault is dropped.
    """
    mm.step.require(mm.fault_pending(p, page))
    mm.step.require(~fault_allowed(mm, p, mm.fault_is_write(p)))
    mm.fault_done(p)


@operation(
    "handle_pte_fault",
    Citation("handle_pte_fault (tail: pte_mkyoung / pte_mkdirty, ptep_set_access_flags)",
             "mm/memory.c", "all"),
    p=processes, page=pages,
)
def handle_pte_fault(mm: MM, p: int, page: int) -> None:
    """The PTE already allows the faulting access (it changed since the trap): fix up A/D.

    This is handle_pte_fault()'s fall-through for a present PTE that needs neither
    do_wp_page() nor do_numa_page(): mkyoung, and mkdirty for a write.  An unshare fault
    (FAULT_FLAG_UNSHARE) on a read-only PTE goes to do_wp_page() instead.
    """
    write = mm.fault_is_write(p)
    pte = mm.pte(p, page)
    mm.step.require(mm.fault_pending(p, page))
    mm.step.require(fault_allowed(mm, p, write))
    mm.step.require(pte.present & (~(write | mm.fault_is_unshare(p)) | pte.write))
    young = pte_mkyoung(pte)
    mm.set_pte_at(p, page, young.with_(dirty=young.dirty | write,  # pte_mkdirty on a write
                                       soft_dirty=young.soft_dirty | write))
    mm.fault_done(p)
