"""NUMA balancing: the hinting scan, the hinting fault and its migration, task placement.

Each era's scan (change_prot_numa -> change_pte_range with prot_numa) and hinting fault
(do_numa_page) is one row of a table below; the operations are built from a row, so the
differences between eras are visible side by side.  Sources: /docs/kernel-sources.md quotes
the kernel text of every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from numacheck.model.expr import FALSE, TRUE, Expr
from numacheck.model.instance import SHMEM_MOF
from numacheck.model.mm import (
    MM,
    Vma,
    is_cow_mapping,
    is_numa_hint,
    maybe_mkwrite,
    vm_page_prot,
    vma_is_accessible,
    vma_wants_manual_pte_write_upgrade,
)
from numacheck.model.operation import Operation, choices, nodes, operation, pages, processes
from numacheck.model.ops.access import vma_permits
from numacheck.model.pte import (
    PAGE_CHG_MASK,
    PAGE_NONE,
    Pte,
    mk_pte,
    pte_mknonnuma,
    pte_mknuma,
    pte_mkold,
    pte_mkwrite,
    pte_mkyoung,
    pte_modify,
    pte_numa,
    pte_present,
    pte_protnone,
    pte_select,
    pte_wrprotect,
)
from numacheck.model.system import Citation


def task_numa_work_scans(mm: MM, vma: Vma) -> Expr:
    """The VMA filter of task_numa_work() (kernel/sched/fair.c, same in 3.19-6.2).

    vma_policy_mof(): a private anonymous VMA follows the task policy, which by default has
    MPOL_F_MOF; a shmem VMA asks shmem_get_policy(), which has no policy (so no MOF) unless
    the file got one through mbind.  Read-only file mappings (shmem included) and
    inaccessible VMAs are skipped.
    """
    mof = ~vma.VM_SHARED | mm.step.read(SHMEM_MOF)
    read_only_file = vma.VM_SHARED & vma.VM_READ & ~vma.VM_WRITE
    return vma.mapped & mof & ~read_only_file & vma_is_accessible(vma)


@dataclass(frozen=True)
class ScanRule:
    """How one era's change_pte_range(prot_numa) treats a present PTE."""

    skip: Callable[[MM, Pte, Vma], Expr]
    protect: Callable[[Pte], Pte]
    citation: Citation


def _protnone(pte: Pte) -> Pte:
    return pte_modify(pte, PAGE_NONE, PAGE_CHG_MASK)


def _protnone_keep_write(pte: Pte) -> Pte:
    # b191f9b106ea: preserve_write = prot_numa && pte_write(oldpte); pte_mkwrite() after
    # pte_modify(PAGE_NONE) leaves _PAGE_RW set in the non-present entry.
    return pte_select(pte.write, pte_mkwrite(_protnone(pte)), _protnone(pte))


def _skip_4_0(mm: MM, pte: Pte, vma: Vma) -> Expr:
    # !page (zero page, special) || PageKsm(page) [KSM not modelled]; pte_protnone(oldpte)
    return ~mm.vm_normal_page(pte) | pte_protnone(pte)


SCAN_RULES: dict[str, ScanRule] = {
    "3.19": ScanRule(
        skip=lambda mm, pte, vma: ~mm.vm_normal_page(pte) | pte_numa(pte),
        protect=pte_mknuma,
        citation=Citation("change_prot_numa -> change_pte_range(prot_numa) -> ptep_set_numa",
                          "mm/mempolicy.c, mm/mprotect.c, include/asm-generic/pgtable.h", "3.19",
                          confidence="V",
                          note="skip !page, PageKsm, pte_numa; pte_mknuma clears _PAGE_PRESENT, "
                               "sets _PAGE_NUMA, keeps _PAGE_RW/_PAGE_DIRTY"),
    ),
    "4.0-rc1": ScanRule(
        skip=_skip_4_0,
        protect=_protnone,
        citation=Citation("change_prot_numa -> change_protection(PAGE_NONE) -> change_pte_range",
                          "mm/mempolicy.c, mm/mprotect.c", "4.0-rc1 .. 4.0-rc4",
                          ("4d9424669946",), confidence="V",
                          note="pte_modify(oldpte, PAGE_NONE) drops _PAGE_RW; skip !page, "
                               "PageKsm, pte_protnone (the skips came with later patches of the "
                               "same series, all in rc1)"),
    ),
    "4.0": ScanRule(
        skip=_skip_4_0,
        protect=_protnone_keep_write,
        citation=Citation("change_prot_numa -> change_pte_range(prot_numa), preserve_write",
                          "mm/mprotect.c", "4.0 .. 4.10", ("b191f9b106ea",), confidence="V",
                          note="4.0 and 4.9 text identical here; pte_mk_savedwrite only from "
                               "4.11 (288bc54949fc), same effect on x86"),
    ),
    "6.2": ScanRule(
        skip=lambda mm, pte, vma: (pte_protnone(pte) | ~mm.vm_normal_page(pte)
                                   | is_cow_mapping(vma) & mm.page_mapcount(pte.pfn).ne(1)),
        protect=_protnone,
        citation=Citation("change_prot_numa -> change_pte_range(MM_CP_PROT_NUMA)", "mm/mprotect.c",
                          "6.2", ("6a56ccbcf6c6", "d6379159f476"), confidence="V",
                          note="skip protnone, !page/zone-device/KSM, COW && page_count != 1 "
                               "(= mapcount here), dirty file-LRU (shmem is not), "
                               "single-threaded local (processes here are multi-threaded), "
                               "tiering (off); no write bit is kept"),
    ),
}


def change_prot_numa(era: str) -> Operation:
    """The NUMA hinting scan of an era (see SCAN_RULES)."""
    rule = SCAN_RULES[era]

    @operation("change_prot_numa", rule.citation, p=processes, page=pages)
    def body(mm: MM, p: int, page: int) -> None:
        """task_numa_work() protects one present PTE of a scanned VMA so the next access faults.

        Only VMAs that task_numa_work() scans, only present PTEs the era does not skip.  The
        ghost shadow write bit records the write bit the PTE had at this moment.
        """
        vma = mm.vma(p)
        pte = mm.pte(p, page)
        mm.step.require(task_numa_work_scans(mm, vma))
        mm.step.require(pte_present(pte) & ~rule.skip(mm, pte, vma))
        mm.set_pte_at(p, page, rule.protect(pte))
        mm.set_shadow_write(p, page, pte.write)

    return body


#: Restore formula of a hinting fault: (mm, hinted PTE, VMA) -> restored PTE.
Restore = Callable[[MM, Pte, Vma], Pte]
#: TNF_NO_GROUP: (mm, hinted PTE, restored PTE, VMA) -> flag.
NoGroup = Callable[[MM, Pte, Pte, Vma], Expr]
#: remove_migration_pte(): (mm, PTE at unmap, VMA) -> PTE after migration.
Rebuild = Callable[[MM, Pte, Vma], Pte]


def _restore_page_prot(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # 4d9424669946: pte_modify(pte, vma->vm_page_prot); pte_mkyoung(pte)
    return pte_mkyoung(pte_modify(pte, vm_page_prot(vma), PAGE_CHG_MASK))


def _restore_was_writable(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # b191f9b106ea: was_writable = pte_write(pte); ... if (was_writable) pte_mkwrite(pte)
    restored = _restore_page_prot(mm, pte, vma)
    return pte_select(pte.write, pte_mkwrite(restored), restored)


def _writable_6_2(mm: MM, pte: Pte, vma: Vma) -> Expr:
    # 6a56ccbcf6c6: writable = pte_write(pte_modify(old, vm_page_prot)) ||
    #   (vma_wants_manual_pte_write_upgrade(vma) && can_change_pte_writable(vma, addr, pte))
    candidate = pte_modify(pte, vm_page_prot(vma), PAGE_CHG_MASK)
    return candidate.write | (vma_wants_manual_pte_write_upgrade(vma)
                              & mm.can_change_pte_writable(vma, candidate))


def _restore_6_2(mm: MM, pte: Pte, vma: Vma) -> Pte:
    restored = _restore_page_prot(mm, pte, vma)
    return pte_select(_writable_6_2(mm, pte, vma), pte_mkwrite(restored), restored)


def _rebuild_4_0(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # try_to_unmap_one: entry writable iff pte_write; dirty moved to the page.
    # remove_migration_pte: pte_mkold(mk_pte(new, vm_page_prot)); maybe_mkwrite if writable.
    new = pte_mkold(mk_pte(pte.pfn, vm_page_prot(vma)))
    return pte_select(pte.write, maybe_mkwrite(new, vma), new)


def _rebuild_6_2(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # 6.2 remove_migration_pte: mk_pte(new, vm_page_prot); young and dirty come back from the
    # entry (2e3468778dbe, x86 supports it); writable entry => maybe_mkwrite, otherwise
    # pte_wrprotect (no uffd-wp here).  RMAP_EXCLUSIVE keeps PageAnonExclusive.
    new = mk_pte(pte.pfn, vm_page_prot(vma)).with_(young=pte.young, dirty=pte.dirty)
    return pte_select(pte.write, maybe_mkwrite(new, vma), pte_wrprotect(new))


@dataclass(frozen=True)
class NumaFaultRule:
    """How one era's do_numa_page() restores a hinted PTE, groups, and migrates."""

    restore: Restore
    no_group: NoGroup
    rebuild: Rebuild
    migrate_from_hint: bool
    migrate_fail_flag: bool
    citation: Citation


NUMA_FAULT_RULES: dict[str, NumaFaultRule] = {
    "3.19": NumaFaultRule(
        restore=lambda mm, pte, vma: pte_mknonnuma(pte),
        no_group=lambda mm, orig, restored, vma: ~restored.write,
        rebuild=_rebuild_4_0,
        migrate_from_hint=False,
        migrate_fail_flag=False,
        citation=Citation("do_numa_page", "mm/memory.c", "3.19", confidence="V",
                          note="pte_mknonnuma; !pte_write => TNF_NO_GROUP; restore, then "
                               "migrate_misplaced_page; no TNF_MIGRATE_FAIL"),
    ),
    "4.0-rc1": NumaFaultRule(
        restore=_restore_page_prot,
        no_group=lambda mm, orig, restored, vma: ~restored.write,
        rebuild=_rebuild_4_0,
        migrate_from_hint=False,
        migrate_fail_flag=False,
        citation=Citation("do_numa_page", "mm/memory.c", "4.0-rc1", ("4d9424669946",),
                          confidence="V",
                          note="pte_modify(pte, vm_page_prot) + pte_mkyoung: a private page "
                               "comes back read-only; !pte_write(restored) => TNF_NO_GROUP"),
    ),
    "4.0-rc4": NumaFaultRule(
        restore=_restore_page_prot,
        no_group=lambda mm, orig, restored, vma: ~restored.dirty,
        rebuild=_rebuild_4_0,
        migrate_from_hint=False,
        migrate_fail_flag=False,
        citation=Citation("do_numa_page", "mm/memory.c", "4.0-rc4", ("53da3bc2ba9e",),
                          confidence="V",
                          note="FIXME: !pte_dirty(pte) as an approximation of read-only; "
                               "TNF_MIGRATE_FAIL only arrives in 4.0 final (074c238177a7)"),
    ),
    "4.0": NumaFaultRule(
        restore=_restore_was_writable,
        no_group=lambda mm, orig, restored, vma: ~vma.VM_WRITE,
        rebuild=_rebuild_4_0,
        migrate_from_hint=False,
        migrate_fail_flag=True,
        citation=Citation("do_numa_page", "mm/memory.c", "4.0",
                          ("b191f9b106ea", "bea66fbd11af", "074c238177a7"), confidence="V",
                          note="was_writable restores _PAGE_RW; !(vm_flags & VM_WRITE) => "
                               "TNF_NO_GROUP; failed migration => TNF_MIGRATE_FAIL"),
    ),
    "4.9": NumaFaultRule(
        restore=_restore_was_writable,
        no_group=lambda mm, orig, restored, vma: ~restored.write,
        rebuild=_rebuild_4_0,
        migrate_from_hint=False,
        migrate_fail_flag=True,
        citation=Citation("do_numa_page", "mm/memory.c", "4.9", ("d59dc7bcfa64",), confidence="V",
                          note="!pte_write(restored pte, saved write included) => TNF_NO_GROUP; "
                               "commit title unconfirmed"),
    ),
    "6.2": NumaFaultRule(
        restore=_restore_6_2,
        no_group=lambda mm, orig, restored, vma: ~_writable_6_2(mm, orig, vma),
        rebuild=_rebuild_6_2,
        migrate_from_hint=True,
        migrate_fail_flag=True,
        citation=Citation("do_numa_page", "mm/memory.c", "6.2", ("6a56ccbcf6c6", "b99a342d4f11"),
                          confidence="V",
                          note="writable re-determined under the PT lock; migrate from the "
                               "hinted PTE; writable = false once a migration is attempted"),
    ),
}

OUTCOMES = ("none", "migrated", "migrate_failed")


def migrate_misplaced_page(mm: MM, pfn: Expr, target: Expr, rebuild: Rebuild) -> None:
    """Move the frame to ``target``; every PTE mapping it goes through a migration entry.

    try_to_migrate/try_to_unmap replaces each mapping (hinted ones too: they are
    pte_present) by a migration entry, and remove_migration_ptes rebuilds each from the new
    page with the era's rule.  The frame keeps its index (the page identity), only its node
    changes.
    """
    for q, i in mm.ptes():
        pte = mm.pte(q, i)
        mapped = pte_present(pte) & pte.pfn.eq(pfn)
        mm.keep_pte(q, i, mapped, rebuild(mm, pte, mm.vma(q)))
    mm.set_page_nid(pfn, target)


def do_numa_page(era: str) -> Operation:
    """The NUMA hinting fault of an era (see NUMA_FAULT_RULES)."""
    rule = NUMA_FAULT_RULES[era]

    @operation("do_numa_page", rule.citation, p=processes, page=pages, outcome=choices(*OUTCOMES))
    def body(mm: MM, p: int, page: int, outcome: str) -> None:
        """A fault on a NUMA hint: make the PTE accessible again, decide grouping, maybe migrate.

        ``outcome`` is the part the model leaves open: ``none`` (no migration attempted: the
        page is local, or should_numa_migrate_memory() vetoes), ``migrated`` or
        ``migrate_failed`` (both need a normal page on another node than the task, the
        mpol_misplaced() target).  Outputs: ``tnf_no_group``, ``tnf_shared``, and
        ``task_numa_fault`` (whether the fault is accounted at all: not for the zero page).
        """
        vma = mm.vma(p)
        orig = mm.pte(p, page)
        mm.step.require(mm.fault_pending(p, page))
        mm.step.require(vma_permits(mm, p, mm.fault_is_write(p)))
        mm.step.require(is_numa_hint(orig, vma))
        restored = rule.restore(mm, orig, vma)
        has_page = mm.vm_normal_page(orig)
        pfn = orig.pfn
        target = mm.task_node(p)
        if outcome != "none":
            mm.step.require(has_page & mm.page_to_nid(pfn).ne(target))
        mm.step.output("task_numa_fault", has_page)
        mm.step.output("tnf_no_group", has_page & rule.no_group(mm, orig, restored, vma))
        mm.step.output("tnf_shared", has_page & (mm.page_mapcount(pfn) > 1) & vma.VM_SHARED)
        mm.step.output("tnf_migrated", TRUE if outcome == "migrated" else FALSE)
        mm.step.output("tnf_migrate_fail",
                       TRUE if outcome == "migrate_failed" and rule.migrate_fail_flag else FALSE)
        if not rule.migrate_from_hint:
            # <= 5.12: the PTE is made present first, then the page is migrated through it.
            mm.set_pte_at(p, page, restored)
            if outcome == "migrated":
                migrate_misplaced_page(mm, pfn, target, rule.rebuild)
        elif outcome == "none":
            mm.set_pte_at(p, page, restored)
        elif outcome == "migrate_failed":
            # writable = false after the unlock; relock, pte_same, out_map without mkwrite.
            mm.set_pte_at(p, page, _restore_page_prot(mm, orig, vma))
        else:
            migrate_misplaced_page(mm, pfn, target, rule.rebuild)
        mm.fault_done(p)

    return body


@operation(
    "migrate_task_to",
    Citation("migrate_task_to / load balancing (set_task_cpu)", "kernel/sched/fair.c", "all",
             confidence="I", note="any move of the task to a CPU of another node"),
    p=processes, node=nodes,
)
def migrate_task_to(mm: MM, p: int, node: int) -> None:
    """The scheduler moves the task of process ``p`` to a CPU on ``node``.

    Where the task runs decides which node is local to its faults (numa_node_id()): new
    pages are allocated there and a hinting fault on a page elsewhere may migrate it.
    """
    mm.step.require(mm.task_node(p).ne(node))
    mm.set_task_node(p, node)
