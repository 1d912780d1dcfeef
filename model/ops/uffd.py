"""userfaultfd write-protect (uffd area): registering a range, UFFDIO_WRITEPROTECT, the wp fault.

Each era's rules are one row of UFFD_RULES: whether shmem may be registered for write-protect
(b1f9e876862d, 5.19) and how uffd_wp_range() rebuilds a PTE it unprotects (vm_get_page_prot
before 931298e103c2, vm_page_prot plus MM_CP_TRY_CHANGE_WRITABLE after).  How the rest of mm
treats the bit (kept by pte_modify, refused by can_change_pte_writable, and from 51d3d5eb74ff a
writenotify term in vm_page_prot) lives with those helpers in model/mm.py and model/pte.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from numacheck.model.diagnose import lookup
from numacheck.model.expr import FALSE, TRUE, Expr
from numacheck.model.mm import (
    MM,
    Vma,
    userfaultfd_pte_wp,
    userfaultfd_wp,
    vm_get_page_prot,
    vm_page_prot,
)
from numacheck.model.operation import Operation, choices, operation, pages, per_rule, processes
from numacheck.model.pte import (
    PAGE_CHG_MASK,
    Pte,
    pte_clear_uffd_wp,
    pte_mkuffd_wp,
    pte_mkwrite,
    pte_modify,
    pte_present,
    pte_select,
    pte_wrprotect,
)
from numacheck.model.system import Citation

#: uffd_wp_range(enable_wp=false) for one present PTE: (mm, PTE, VMA) -> PTE.
Unprotect = Callable[[MM, Pte, Vma], Pte]


def _unprotect_vm_get_page_prot(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # 5.7 .. 6.2: newprot = vm_get_page_prot(dst_vma->vm_flags); change_protection(...,
    # MM_CP_UFFD_WP_RESOLVE): pte_modify(oldpte, newprot), pte_clear_uffd_wp.  A shared
    # writable VMA gets PAGE_SHARED even with soft-dirty tracking on.
    return pte_clear_uffd_wp(pte_modify(pte, vm_get_page_prot(vma), PAGE_CHG_MASK))


def _unprotect_vm_page_prot(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # 931298e103c2 (6.3): newprot = vma->vm_page_prot, and MM_CP_TRY_CHANGE_WRITABLE where
    # vma_wants_manual_pte_write_upgrade() (private writable mappings): the PTE is upgraded
    # only if can_change_pte_writable() (soft-dirty and uffd-wp checked) allows it.
    ptent = pte_clear_uffd_wp(pte_modify(pte, vm_page_prot(vma), PAGE_CHG_MASK))
    return pte_select(mm.try_change_writable(vma, ptent), pte_mkwrite(ptent), ptent)


@dataclass(frozen=True)
class UffdRule:
    """What one era's userfaultfd write-protect allows and how it unprotects a PTE."""

    shmem: bool
    unprotect: Unprotect
    citation: Citation


UFFD_RULES: dict[str, UffdRule] = {
    "5.7": UffdRule(
        shmem=False, unprotect=_unprotect_vm_get_page_prot,
        citation=Citation("userfaultfd_register(MODE_WP) / mwriteprotect_range", "fs/userfaultfd.c, "
                          "mm/userfaultfd.c", "5.7 .. 5.18", confidence="V",
                          note="uffd-wp series (Peter Xu), patch text: anonymous VMAs only "
                               "(vma_is_anonymous); enable: "
                               "vm_get_page_prot(vm_flags & ~VM_WRITE) + MM_CP_UFFD_WP; disable: "
                               "vm_get_page_prot(vm_flags) + MM_CP_UFFD_WP_RESOLVE")),
    "5.19": UffdRule(
        shmem=True, unprotect=_unprotect_vm_get_page_prot,
        citation=Citation("userfaultfd_register(MODE_WP) / uffd_wp_range", "fs/userfaultfd.c, "
                          "mm/userfaultfd.c", "5.19 .. 6.2", ("b1f9e876862d",), confidence="V",
                          note="shmem may be registered for write-protect; uffd_wp_range() "
                               "still builds newprot with vm_get_page_prot(dst_vma->vm_flags), "
                               "ignoring writenotify (931298e103c2's message)")),
    "6.3": UffdRule(
        shmem=True, unprotect=_unprotect_vm_page_prot,
        citation=Citation("userfaultfd_register(MODE_WP) / uffd_wp_range", "fs/userfaultfd.c, "
                          "mm/userfaultfd.c", "6.3 .. current", ("931298e103c2",), confidence="I",
                          note="'mm/userfaultfd: rely on vma->vm_page_prot in uffd_wp_range()': "
                               "vm_page_prot + MM_CP_TRY_CHANGE_WRITABLE; version from the 6.3 "
                               "mm merge list")),
}


@per_rule
def uffd_ops(era: str | UffdRule) -> tuple[Operation, ...]:
    """The uffd-area operations of an era: a row of UFFD_RULES, or a rule of its own."""
    rule = lookup(UFFD_RULES, era, "userfaultfd era") if isinstance(era, str) else era

    def cite(function: str, unconfirmed: bool = False) -> Citation:
        return replace(rule.citation, function=function,
                       confidence="U" if unconfirmed else rule.citation.confidence)

    @operation("uffd_register_wp", cite("userfaultfd_register(UFFDIO_REGISTER_MODE_WP) -> "
                                        "vma_can_userfault, userfaultfd_set_vm_flags"),
               area="uffd", p=processes)
    def register(mm: MM, p: int) -> None:
        """UFFDIO_REGISTER with UFFDIO_REGISTER_MODE_WP over the region: VM_UFFD_WP is set.

        Private anonymous mappings from 5.7, shmem from 5.19.  No PTE changes; from 6.2
        (51d3d5eb74ff) userfaultfd_set_vm_flags() recomputes vm_page_prot, which the model's
        vm_page_prot does from the flags.
        """
        vma = mm.vma(p)
        mm.step.require(vma.mapped & ~userfaultfd_wp(vma))
        mm.mmap_write_lock(p)
        if not rule.shmem:
            mm.step.require(~vma.VM_SHARED)
        mm.set_vma(p, replace(vma, VM_UFFD_WP=TRUE))

    @operation("uffd_unregister", cite("userfaultfd_unregister -> uffd_wp_range(enable_wp=false)",
                                       unconfirmed=True), area="uffd", p=processes)
    def unregister(mm: MM, p: int) -> None:
        """UFFDIO_UNREGISTER: VM_UFFD_WP is cleared and every PTE unprotected by uffd_wp_range().

        The unprotect on unregister is f369b07c8614 ('mm/uffd: reset write protection when
        unregister with wp-mode', version unconfirmed); the model applies it in every era.
        """
        vma = mm.vma(p)
        mm.step.require(vma.mapped & userfaultfd_wp(vma))
        mm.mmap_write_lock(p)
        for i in range(mm.inst.pages):
            pte = mm.pte(p, i)
            mm.keep_pte(p, i, pte_present(pte), rule.unprotect(mm, pte, vma))
        mm.set_vma(p, replace(vma, VM_UFFD_WP=FALSE))

    @operation("uffd_writeprotect", cite("mwriteprotect_range -> uffd_wp_range -> change_protection"
                                         "(MM_CP_UFFD_WP | MM_CP_UFFD_WP_RESOLVE)"),
               area="uffd", p=processes, page=pages, mode=choices("on", "off"))
    def writeprotect(mm: MM, p: int, page: int, mode: str) -> None:
        """UFFDIO_WRITEPROTECT of one page: ``on`` sets _PAGE_UFFD_WP, ``off`` clears it.

        ``on`` write-protects the PTE too; ``off`` rebuilds it with the era's unprotect rule.
        The VMA must be registered for write-protect (else -ENOENT).  change_protection()
        handles pte_present() entries only (PTE markers on none PTEs, 6.0+, not modelled), and
        its pte_modify() turns a NUMA hint into an ordinary entry.
        """
        vma = mm.vma(p)
        pte = mm.pte(p, page)
        mm.step.require(vma.mapped & userfaultfd_wp(vma))
        if mode == "on":
            prot = vm_get_page_prot(replace(vma, VM_WRITE=FALSE))
            new = pte_mkuffd_wp(pte_wrprotect(pte_modify(pte, prot, PAGE_CHG_MASK)))
        else:
            new = rule.unprotect(mm, pte, vma)
        mm.keep_pte(p, page, pte_present(pte), new)

    return (register, unregister, writeprotect, handle_userfault)


def _wp_fault(mm: MM, p: int, page: int) -> Expr:
    pte = mm.pte(p, page)
    return (mm.fault_pending(p, page, "write") & pte.present & ~pte.write
            & userfaultfd_pte_wp(mm.vma(p), pte))


@operation(
    "handle_userfault",
    Citation("do_wp_page: userfaultfd_pte_wp() => handle_userfault(vmf, VM_UFFD_WP)",
             "mm/memory.c, fs/userfaultfd.c", "5.7 .. current", confidence="I",
             note="the fault is reported to the monitor, the task sleeps and "
                                  "retries (VM_FAULT_RETRY); the kernel never completes the write"),
    area="uffd",
    p=processes, page=pages,
)
def handle_userfault(mm: MM, p: int, page: int) -> None:
    """A write fault on a uffd-wp PTE goes to the userfaultfd monitor, not to do_wp_page().

    The task sleeps until the monitor wakes it, then retries the access, which faults again
    while the page stays write-protected; the pending fault is dropped here so the retry is a
    new access.  The write itself is never completed by the kernel.
    """
    mm.step.require(_wp_fault(mm, p, page))
    mm.fault_done(p)

