"""Operations on the VMA: mmap, munmap, mbind and mprotect."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from numacheck.model.diagnose import lookup
from numacheck.model.expr import FALSE, TRUE, Expr
from numacheck.model.instance import SHMEM_MOF, Instance
from numacheck.model.mm import MM, Vma, vm_page_prot
from numacheck.model.operation import Operation, choices, operation, per_rule, processes
from numacheck.model.pte import (
    PAGE_CHG_MASK,
    PAGE_CHG_MASK_3_19,
    PTE_NONE,
    Pte,
    pte_mknonnuma,
    pte_mkwrite,
    pte_modify,
    pte_numa,
    pte_present,
    pte_select,
)
from numacheck.model.system import Citation

#: mmap/mprotect protections: (VM_READ, VM_WRITE).  PROT_WRITE implies PROT_READ on x86.
PROTS = {"none": (False, False), "read": (True, False), "readwrite": (True, True)}


def mmap_flags(inst: Instance) -> tuple[str, ...]:
    """The mappings mmap can create: MAP_PRIVATE|MAP_ANONYMOUS, MAP_SHARED of the shmem file,
    and with the gup area MAP_PRIVATE of the shmem file (``private_file``)."""
    return ("private", "shared", *(("private_file",) if "gup" in inst.areas else ()))


def _flags(prot: str) -> tuple[Expr, Expr]:
    read, write = PROTS[prot]
    return (TRUE if read else FALSE), (TRUE if write else FALSE)


@operation(
    "mmap",
    Citation("do_mmap -> mmap_region (+ shmem_zero_setup for MAP_SHARED|MAP_ANONYMOUS)",
             "mm/mmap.c, mm/shmem.c", "3.19-6.2",
             note="vma_set_page_prot() derives vm_page_prot; new VMAs get VM_SOFTDIRTY"),
    p=processes, prot=choices(*PROTS), flags=mmap_flags,
)
def mmap(mm: MM, p: int, prot: str, flags: str) -> None:
    """Map the region: MAP_PRIVATE|MAP_ANONYMOUS, MAP_SHARED of the one shmem file, or (gup
    area) MAP_PRIVATE of it.

    Every file mapping, in every process, maps the same shmem file, as processes sharing a
    memfd or a fork-inherited MAP_SHARED|MAP_ANONYMOUS region do.  A MAP_PRIVATE file mapping
    reads the page cache and copies on write (do_cow_fault, do_wp_page).
    """
    mm.step.require(~mm.vma(p).mapped)
    read, write = _flags(prot)
    mm.set_vma(p, Vma(TRUE, read, write, TRUE if flags == "shared" else FALSE,
                      VM_SOFTDIRTY=TRUE, VM_UFFD_WP=FALSE,
                      vm_file=FALSE if flags == "private" else TRUE))


@operation(
    "munmap",
    Citation("do_munmap -> unmap_region -> zap_pte_range", "mm/mmap.c, mm/memory.c", "3.19-6.2",
             confidence="I", note="zap clears every present (incl. hinted) PTE and drops the "
                                  "rmap; the last unmap frees an anonymous page"),
    p=processes,
)
def munmap(mm: MM, p: int) -> None:
    """Unmap the region (also what exit does): every PTE is zapped, unused anon pages freed
    (a page a GUP still holds stays until it is unpinned)."""
    mm.step.require(mm.vma(p).mapped)
    mm.mmap_write_lock(p)
    for i in range(mm.inst.pages):
        mm.set_pte_at(p, i, PTE_NONE)
    mm.set_vma(p, Vma(FALSE, FALSE, FALSE, FALSE, VM_SOFTDIRTY=FALSE, VM_UFFD_WP=FALSE))
    mm.free_unmapped_pages()


@operation(
    "mbind",
    Citation("do_mbind -> mbind_range -> shmem_set_policy; sanitize_mpol_flags",
             "mm/mempolicy.c, mm/shmem.c", "5.15+ (6d2aec9e123b; the flag: bda420b98505, 5.12)",
             confidence="I", note="MPOL_BIND|MPOL_F_NUMA_BALANCING adds MPOL_F_MOF|MPOL_F_MORON "
                                  "in sanitize_mpol_flags (6.2 text), which mbind calls only "
                                  "from 6d2aec9e123b; the shared policy lives on the shmem inode"),
    p=processes,
)
def mbind(mm: MM, p: int) -> None:
    """Give the shmem file a MPOL_BIND|MPOL_F_NUMA_BALANCING policy over all nodes.

    Only then does vma_policy_mof() let task_numa_work() scan a shmem VMA: shmem's get_policy
    returns NULL without a shared policy.  Older kernels have no userspace route to this.
    """
    vma = mm.vma(p)
    mm.step.require(vma.mapped & vma.VM_SHARED & ~mm.step.read(SHMEM_MOF))
    mm.mmap_write_lock(p)
    mm.step.write(SHMEM_MOF, TRUE)


#: How change_pte_range() rebuilds one PTE for mprotect, by era: (old PTE, new VMA) -> PTE.
MprotectRule = Callable[[MM, Pte, Vma], Pte]


def _mprotect_3_19(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # 3.19: a NUMA hint is cleared before pte_modify ("mm: numa: Clear numa hinting
    # information on mprotect"); dirty_accountable is false for anon and shmem VMAs.
    cleared = pte_select(pte_numa(pte), pte_mknonnuma(pte), pte)
    return pte_modify(cleared, vm_page_prot(vma, uffd_writenotify=False), PAGE_CHG_MASK_3_19)


def _mprotect_4_0(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # 4.0-6.1: pte_modify(); the dirty_accountable upgrade needs vma_wants_writenotify(),
    # false for anon and shmem VMAs.  5.19-6.1: vm_page_prot of a uffd-wp registered shmem VMA
    # is still PAGE_SHARED (no writenotify for uffd-wp before 51d3d5eb74ff), and _PAGE_UFFD_WP
    # is in _PAGE_CHG_MASK, so a uffd-wp PTE comes back writable with the bit set.
    return pte_modify(pte, vm_page_prot(vma, uffd_writenotify=False), PAGE_CHG_MASK)


def _mprotect_6_0(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # 64fe24a3e05e + 76aefad628aa (6.0-6.1): can_change_pte_writable() starts with
    # `if (pte_protnone(pte) || !pte_dirty(pte)) return false;`, so only a dirty exclusive
    # anonymous page is made writable without a fault.  No uffd-wp writenotify yet (6.2).
    ptent = pte_modify(pte, vm_page_prot(vma, uffd_writenotify=False), PAGE_CHG_MASK)
    return pte_select(ptent.dirty & mm.try_change_writable(vma, ptent), pte_mkwrite(ptent), ptent)


def _soft_dirty_wp_64fe24a3e05e(vma: Vma, pte: Pte) -> Expr:
    # 64fe24a3e05e: `if ((vma->vm_flags & VM_SOFTDIRTY) && !pte_soft_dirty(pte)) return
    # false;` - the wrong polarity: VM_SOFTDIRTY set means tracking is *off*, so with tracking
    # on (after clear_refs) a clean-of-soft-dirty PTE is upgraded without the write fault.
    return vma.VM_SOFTDIRTY & ~pte.soft_dirty


def _mprotect_64fe24a3e05e(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # 64fe24a3e05e alone (mm-unstable, 6.0 merge window; 76aefad628aa fixed it before 6.0-rc1).
    ptent = pte_modify(pte, vm_page_prot(vma, uffd_writenotify=False), PAGE_CHG_MASK)
    upgrade = ptent.dirty & mm.try_change_writable(vma, ptent, _soft_dirty_wp_64fe24a3e05e)
    return pte_select(upgrade, pte_mkwrite(ptent), ptent)


def _mprotect_6_2(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # 6.2: d84887739d5c moves the pte_dirty test to shared mappings, so a clean exclusive
    # anonymous page qualifies too.
    ptent = pte_modify(pte, vm_page_prot(vma), PAGE_CHG_MASK)
    return pte_select(mm.try_change_writable(vma, ptent), pte_mkwrite(ptent), ptent)


MPROTECT_RULES: dict[str, tuple[MprotectRule, Citation]] = {
    "3.19": (_mprotect_3_19, Citation(
        "mprotect_fixup -> change_protection -> change_pte_range (!prot_numa)", "mm/mprotect.c",
        "3.19", confidence="V", note="pte_numa => pte_mknonnuma, then pte_modify(newprot)")),
    "4.0": (_mprotect_4_0, Citation(
        "mprotect_fixup -> change_protection -> change_pte_range (!prot_numa)", "mm/mprotect.c",
        "4.0-5.19", confidence="V", note="4.9 text: pte_modify; dirty_accountable mkwrite")),
    "6.0": (_mprotect_6_0, Citation(
        "mprotect_fixup -> change_protection -> change_pte_range (!prot_numa)", "mm/mprotect.c",
        "6.0-6.1", ("64fe24a3e05e", "76aefad628aa"), confidence="V",
        note="6.1 text: try_change_writable (private: VM_WRITE) + can_change_pte_writable, "
             "which needs pte_dirty; prot_numa entries are protnone, never upgraded")),
    "6.0-64fe24a3e05e": (_mprotect_64fe24a3e05e, Citation(
        "mprotect_fixup -> change_protection -> change_pte_range (!prot_numa)", "mm/mprotect.c",
        "64fe24a3e05e .. 76aefad628aa (6.0 merge window)", ("64fe24a3e05e",), confidence="V",
        note="patch text: (vma->vm_flags & VM_SOFTDIRTY) && !pte_soft_dirty(pte) => no upgrade; "
             "76aefad628aa: 'VM_SOFTDIRTY set actually means soft-dirty tracking disabled'")),
    "6.2": (_mprotect_6_2, Citation(
        "mprotect_fixup -> change_protection -> change_pte_range (!prot_numa)", "mm/mprotect.c",
        "6.2", ("64fe24a3e05e", "d84887739d5c", "eb309ec89953"), confidence="V",
        note="MM_CP_TRY_CHANGE_WRITABLE + can_change_pte_writable")),
}


@per_rule
def mprotect(rule: str | tuple[MprotectRule, Citation]) -> Operation:
    """mprotect with the PTE rule of an era: a row of MPROTECT_RULES, or a rule of its own."""
    rebuild, citation = lookup(MPROTECT_RULES, rule, "mprotect rule") if isinstance(rule, str) else rule

    @operation("mprotect", citation, p=processes, prot=choices(*PROTS))
    def body(mm: MM, p: int, prot: str) -> None:
        """Change the protection of the region; every present PTE (hinted ones too) is rebuilt.

        The VMA gets the new flags and vm_page_prot, then change_pte_range() applies
        pte_modify() with the new protection to each pte_present() entry, so a NUMA hint
        becomes an ordinary entry again, followed by the era's eager write upgrade.  Unchanged
        flags return early (mprotect_fixup).
        """
        old = mm.vma(p)
        read, write = _flags(prot)
        mm.step.require(old.mapped)
        mm.mmap_write_lock(p)
        mm.step.require(old.VM_READ.ne(read) | old.VM_WRITE.ne(write))
        new = replace(old, mapped=TRUE, VM_READ=read, VM_WRITE=write)
        mm.set_vma(p, new)
        for i in range(mm.inst.pages):
            pte = mm.pte(p, i)
            mm.keep_pte(p, i, pte_present(pte), rebuild(mm, pte, new))

    return body
