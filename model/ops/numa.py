"""NUMA balancing: the hinting scan, the hinting fault and its migration, task placement.

Each era's scan (change_prot_numa -> change_pte_range with prot_numa) and hinting fault
(do_numa_page) is one row of a table below; the operations are built from a row, so the
differences between eras are visible side by side.  A fault row's ``outcomes`` are the ways a
fault of that era can end (no migration, migrated, migration failed after the unlock, and from
6.11 isolation failed under the lock), each a :class:`MigrationOutcome` saying what happens to
the PTE.  Every rule is a plain object, so a variant may pass its own row, or a row with one
field replaced, to :func:`change_prot_numa` / :func:`do_numa_page`.  Sources:
/docs/kernel-sources.md quotes the kernel text of every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from numacheck.model.diagnose import lookup
from numacheck.model.expr import FALSE, TRUE, Expr, ModelError
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
from numacheck.model.operation import Operation, choices, nodes, operation, pages, per_rule, processes
from numacheck.model.ops.access import fault_allowed
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
    MPOL_F_MOF; a shmem VMA, shared or MAP_PRIVATE, asks shmem_get_policy() (vm_ops->
    get_policy), which has no policy (so no MOF) unless the file got one through mbind.
    Read-only file mappings (shmem included) and inaccessible VMAs are skipped.
    """
    mof = ~vma.vm_file | mm.step.read(SHMEM_MOF)
    read_only_file = vma.vm_file & vma.VM_READ & ~vma.VM_WRITE
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


def _skip_shared_cow(mm: MM, pte: Pte, vma: Vma) -> Expr:
    # 859d4adc3415: "Also skip shared copy-on-write pages": is_cow_mapping(vma->vm_flags) &&
    # page_mapcount(page) != 1; later page_count (80d47f5de5e3) and folio_maybe_mapped_shared,
    # equal here but for pins (pin area), which the model's skip ignores: a pinned exclusive
    # page may be hinted here, where 6.1+ would skip it (extra behaviours only).
    return is_cow_mapping(vma) & mm.page_mapcount(pte.pfn).ne(1)


def _skip_4_16(mm: MM, pte: Pte, vma: Vma) -> Expr:
    return _skip_4_0(mm, pte, vma) | _skip_shared_cow(mm, pte, vma)


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
                          "mm/mempolicy.c, mm/mprotect.c", "4.0-rc1 .. 4.0-rc5",
                          ("4d9424669946",), confidence="V",
                          note="pte_modify(oldpte, PAGE_NONE) drops _PAGE_RW; skip !page, "
                               "PageKsm, pte_protnone (the skips came with later patches of the "
                               "same series, all in rc1)"),
    ),
    "4.0": ScanRule(
        skip=_skip_4_0,
        protect=_protnone_keep_write,
        citation=Citation("change_prot_numa -> change_pte_range(prot_numa), preserve_write",
                          "mm/mprotect.c", "4.0 .. 4.15", ("b191f9b106ea",), confidence="V",
                          note="4.0 and 4.9 text identical here; pte_mk_savedwrite only from "
                               "4.11 (288bc54949fc), same effect on x86; 4.10's single-threaded "
                               "local skip never applies to the model's multi-threaded processes"),
    ),
    "4.16": ScanRule(
        skip=_skip_4_16,
        protect=_protnone_keep_write,
        citation=Citation("change_prot_numa -> change_pte_range(prot_numa), preserve_write",
                          "mm/mprotect.c", "4.16 .. 6.1", ("859d4adc3415", "b191f9b106ea"),
                          confidence="V",
                          note="as 4.0 plus 'Also skip shared copy-on-write pages' "
                               "(is_cow_mapping && page_mapcount != 1; page_count from "
                               "80d47f5de5e3 in 6.1, equal here); the write bit is kept through "
                               "pte_mk_savedwrite (_PAGE_RW on x86) until 6.2"),
    ),
    "6.2": ScanRule(
        skip=_skip_4_16,
        protect=_protnone,
        citation=Citation("change_prot_numa -> change_pte_range(MM_CP_PROT_NUMA)", "mm/mprotect.c",
                          "6.2 .. current", ("6a56ccbcf6c6", "d6379159f476"), confidence="V",
                          note="skip protnone, !page/zone-device/KSM, COW && page_count != 1 "
                               "(= mapcount here), dirty file-LRU (shmem is not), "
                               "single-threaded local (processes here are multi-threaded), "
                               "tiering (off); no write bit is kept; the newest text (folio_"
                               "maybe_mapped_shared, 6.15; folio_can_map_prot_numa, linux-next) "
                               "skips the same order-0 pages"),
    ),
}


@per_rule
def change_prot_numa(era: str | ScanRule) -> Operation:
    """The NUMA hinting scan of an era: a row of SCAN_RULES, or a rule of its own."""
    rule = lookup(SCAN_RULES, era, "change_prot_numa era") if isinstance(era, str) else era

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
    # (pte_savedwrite() from 288bc54949fc, _PAGE_RW on x86).  vm_page_prot has no uffd-wp
    # writenotify before 51d3d5eb74ff (6.2): a uffd-wp shmem PTE comes back writable (5.19-6.1).
    restored = pte_mkyoung(pte_modify(pte, vm_page_prot(vma, uffd_writenotify=False), PAGE_CHG_MASK))
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


def _no_group_6_2(mm: MM, orig: Pte, restored: Pte, vma: Vma) -> Expr:
    # if (!writable) flags |= TNF_NO_GROUP, on the writability re-determined under the PT lock
    # (6.12+: inside numa_migrate_check(), same predicate)
    return ~_writable_6_2(mm, orig, vma)


def _rebuild_4_0(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # try_to_unmap_one: entry writable iff pte_write; dirty moved to the page.
    # remove_migration_pte: pte_mkold(mk_pte(new, vm_page_prot)); maybe_mkwrite if writable.
    # The entry carries soft-dirty and (5.7+) uffd-wp, which come back without a write-protect:
    # pte_mkuffd_wp() alone, so before 6.2 vm_page_prot decides (reference 2.4, S32) [I].
    new = _migration_bits(pte, pte_mkold(mk_pte(pte.pfn, vm_page_prot(vma, uffd_writenotify=False))))
    return pte_select(pte.write, maybe_mkwrite(new, vma), new)


def _migration_bits(entry: Pte, new: Pte) -> Pte:
    # remove_migration_pte(): pte_swp_soft_dirty => pte_mksoft_dirty; pte_swp_uffd_wp =>
    # pte_mkuffd_wp (the software bits the migration entry kept from the PTE).
    return new.with_(soft_dirty=entry.soft_dirty, uffd_wp=entry.uffd_wp)


def _migration_pte_6_1(pte: Pte, vma: Vma) -> Pte:
    # remove_migration_pte() since 2e3468778dbe (6.1): mk_pte(new, vm_page_prot); young and
    # dirty come back from the entry (x86 supports it).
    return _migration_bits(pte, mk_pte(pte.pfn, vm_page_prot(vma)).with_(young=pte.young, dirty=pte.dirty))


def _rebuild_6_1(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # 6.1: young and dirty from the entry (2e3468778dbe); writable entry => maybe_mkwrite, a
    # readable one keeps vm_page_prot (no pte_wrprotect() arm before 96a9c287e25d), which before
    # 6.2 ignores uffd-wp, as in _rebuild_4_0.
    new = _migration_bits(pte, mk_pte(pte.pfn, vm_page_prot(vma, uffd_writenotify=False))
                          .with_(young=pte.young, dirty=pte.dirty))
    return pte_select(pte.write, maybe_mkwrite(new, vma), new)


def _rebuild_6_2(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # 6.2-6.3: writable entry => maybe_mkwrite, otherwise pte_wrprotect (96a9c287e25d; no
    # uffd-wp here).  RMAP_EXCLUSIVE keeps PageAnonExclusive.
    new = _migration_pte_6_1(pte, vma)
    return pte_select(pte.write, maybe_mkwrite(new, vma), pte_wrprotect(new))


def _rebuild_6_4(mm: MM, pte: Pte, vma: Vma) -> Pte:
    # 6.4+: the pte_wrprotect() arm is reverted, so a readable entry keeps what vm_page_prot
    # gives (PAGE_SHARED in a shared writable shmem VMA); a writable entry => pte_mkwrite
    # ("mm: don't check VMA write permissions if the PTE/PMD indicates write permissions").
    new = _migration_pte_6_1(pte, vma)
    return pte_select(pte.write, pte_mkwrite(new), new)


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


@dataclass(frozen=True)
class HintFault:
    """One hinting fault as do_numa_page() sees it: where, the hinted PTE, the VMA, the target.

    ``restore`` and ``rebuild`` are the era's rules, so an outcome can apply them.
    """

    p: int
    page: int
    orig: Pte
    vma: Vma
    target: Expr
    restore: Restore
    rebuild: Rebuild


#: What an outcome does to the page tables.
OutcomeEffect = Callable[[MM, HintFault], None]


def out_map(mm: MM, f: HintFault) -> None:
    """``out_map`` with the era's restore: the PTE comes back as the era's rule computes it."""
    mm.set_pte_at(f.p, f.page, f.restore(mm, f.orig, f.vma))


def out_map_read_only(mm: MM, f: HintFault) -> None:
    """``writable = false`` after the PT lock was dropped (6a56ccbcf6c6): no pte_mkwrite."""
    mm.set_pte_at(f.p, f.page, _restore_page_prot(mm, f.orig, f.vma))


def restore_then_migrate(mm: MM, f: HintFault) -> None:
    """<= 5.12: the PTE is made present first, then the page is migrated through it."""
    out_map(mm, f)
    migrate_misplaced_page(mm, f.orig.pfn, f.target, f.rebuild)


def migrate_from_hint(mm: MM, f: HintFault) -> None:
    """5.13+ (b99a342d4f11): the page is migrated through the still-hinted PTE."""
    migrate_misplaced_page(mm, f.orig.pfn, f.target, f.rebuild)


@dataclass(frozen=True)
class MigrationOutcome:
    """One way a hinting fault can end, the part the model leaves open (the ``outcome`` choice).

    ``attempted``: mpol_misplaced() picked a target, which needs a normal page on another node
    than the task.  ``effect`` is what happens to the page tables; the two flags are what
    task_numa_fault() is told.
    """

    name: str
    attempted: bool
    effect: OutcomeEffect
    tnf_migrated: bool
    tnf_migrate_fail: bool


# no target node (the page is local, or should_numa_migrate_memory() vetoes): out_map
NO_MIGRATION = MigrationOutcome("none", False, out_map, False, False)
# <= 5.12: restore under the PT lock, unlock, migrate_misplaced_page() succeeds
MIGRATED_AFTER_RESTORE = MigrationOutcome("migrated", True, restore_then_migrate, True, False)
# 5.13+: unlock with the PTE still hinted, migrate_misplaced_page/folio() succeeds
MIGRATED_FROM_HINT = MigrationOutcome("migrated", True, migrate_from_hint, True, False)
# <= 4.0-rc5: the migration fails after the restore; no TNF_MIGRATE_FAIL yet
FAILED_UNFLAGGED = MigrationOutcome("migrate_failed", True, out_map, False, False)
# 4.0-6.1: the failed page keeps the era's restore (<= 5.12 restored before the attempt;
# 5.13-6.1 relock, pte_same, out_map with was_writable); TNF_MIGRATE_FAIL (074c238177a7)
FAILED_RESTORED = MigrationOutcome("migrate_failed", True, out_map, False, True)
# 6.2+: the migration fails after the unlock: writable = false, relock, pte_same, out_map
FAILED_AFTER_UNLOCK = MigrationOutcome("migrate_failed", True, out_map_read_only, False, True)
# 6.11+ (ee86814b0562): migrate_misplaced_folio_prepare() fails under the PT lock:
# TNF_MIGRATE_FAIL, out_map with the re-determined write bit
ISOLATE_FAILED = MigrationOutcome("isolate_failed", True, out_map, False, True)


@dataclass(frozen=True)
class NumaFaultRule:
    """How one era's do_numa_page() restores a hinted PTE, groups, and migrates.

    ``outcomes`` lists the ways a fault of the era can end (distinct names; the properties
    single out ``none``, the fault that attempts no migration).
    """

    restore: Restore
    no_group: NoGroup
    rebuild: Rebuild
    outcomes: tuple[MigrationOutcome, ...]
    citation: Citation
    #: handle_pte_fault()'s test for do_numa_page(): from 38e088546522 (4.8) pte_protnone() in
    #: an accessible VMA (is_numa_hint); before it pte_protnone() alone, so a GUP's fault on a
    #: PROT_NONE VMA (FOLL_FORCE, no access_error()) entered do_numa_page() and its BUG_ON.
    dispatch: Callable[[Pte, Vma], Expr] = is_numa_hint


def _dispatch_pte_protnone(pte: Pte, vma: Vma) -> Expr:
    # 4.0-rc1 .. 38e088546522: `if (pte_protnone(entry)) return do_numa_page(...)`
    return pte_protnone(pte)


OUTCOMES_3_19 = (NO_MIGRATION, MIGRATED_AFTER_RESTORE, FAILED_UNFLAGGED)
OUTCOMES_4_0 = (NO_MIGRATION, MIGRATED_AFTER_RESTORE, FAILED_RESTORED)
OUTCOMES_5_13 = (NO_MIGRATION, MIGRATED_FROM_HINT, FAILED_RESTORED)
OUTCOMES_6_2 = (NO_MIGRATION, MIGRATED_FROM_HINT, FAILED_AFTER_UNLOCK)
OUTCOMES_6_11 = (*OUTCOMES_6_2, ISOLATE_FAILED)


_FAULT_4_0 = NumaFaultRule(
    restore=_restore_was_writable,
    no_group=lambda mm, orig, restored, vma: ~vma.VM_WRITE,
    rebuild=_rebuild_4_0,
    outcomes=OUTCOMES_4_0,
    citation=Citation("do_numa_page", "mm/memory.c", "4.0",
                      ("b191f9b106ea", "bea66fbd11af", "074c238177a7"), confidence="V",
                      note="was_writable restores _PAGE_RW; !(vm_flags & VM_WRITE) => "
                           "TNF_NO_GROUP; failed migration => TNF_MIGRATE_FAIL"),
    dispatch=_dispatch_pte_protnone,
)

_FAULT_5_13 = NumaFaultRule(
    restore=_restore_was_writable,
    no_group=lambda mm, orig, restored, vma: ~orig.write,
    rebuild=_rebuild_4_0,
    outcomes=OUTCOMES_5_13,
    citation=Citation("do_numa_page", "mm/memory.c", "5.13 .. 6.0", ("b99a342d4f11",),
                      confidence="V",
                      note="was_writable = pte_savedwrite(orig_pte); !was_writable => "
                           "TNF_NO_GROUP; target chosen under the PT lock, unlock, migrate "
                           "from the hinted PTE (a writable migration entry: _PAGE_RW is "
                           "still set); on failure relock, pte_same, out_map with "
                           "was_writable"),
)

NUMA_FAULT_RULES: dict[str, NumaFaultRule] = {
    "3.19": NumaFaultRule(
        restore=lambda mm, pte, vma: pte_mknonnuma(pte),
        no_group=lambda mm, orig, restored, vma: ~restored.write,
        rebuild=_rebuild_4_0,
        outcomes=OUTCOMES_3_19,
        citation=Citation("do_numa_page", "mm/memory.c", "3.19", confidence="V",
                          note="pte_mknonnuma; !pte_write => TNF_NO_GROUP; restore, then "
                               "migrate_misplaced_page; no TNF_MIGRATE_FAIL"),
    ),
    "4.0-rc1": NumaFaultRule(
        restore=_restore_page_prot,
        no_group=lambda mm, orig, restored, vma: ~restored.write,
        rebuild=_rebuild_4_0,
        outcomes=OUTCOMES_3_19,
        citation=Citation("do_numa_page", "mm/memory.c", "4.0-rc1", ("4d9424669946",),
                          confidence="V",
                          note="pte_modify(pte, vm_page_prot) + pte_mkyoung: a private page "
                               "comes back read-only; !pte_write(restored) => TNF_NO_GROUP"),
        dispatch=_dispatch_pte_protnone,
    ),
    "4.0-rc4": NumaFaultRule(
        restore=_restore_page_prot,
        no_group=lambda mm, orig, restored, vma: ~restored.dirty,
        rebuild=_rebuild_4_0,
        outcomes=OUTCOMES_3_19,
        citation=Citation("do_numa_page", "mm/memory.c", "4.0-rc4", ("53da3bc2ba9e",),
                          confidence="V",
                          note="FIXME: !pte_dirty(pte) as an approximation of read-only; "
                               "TNF_MIGRATE_FAIL only arrives in 4.0 final (074c238177a7)"),
        dispatch=_dispatch_pte_protnone,
    ),
    "4.0": _FAULT_4_0,
    "4.8": replace(
        _FAULT_4_0,
        dispatch=is_numa_hint,
        citation=Citation("do_numa_page; handle_pte_fault", "mm/memory.c", "4.8-rc8 .. 4.8",
                          ("38e088546522",), confidence="V",
                          note="4.0's fault; 38e088546522 (stable backport text): "
                               "`if (pte_protnone(entry) && vma_is_accessible(vma)) return "
                               "do_numa_page(...)` and the BUG_ON(!(vma->vm_flags & (VM_READ | "
                               "VM_EXEC | VM_WRITE))) goes; in 4.8-rc8 per the patch mail"),
    ),
    "4.9": NumaFaultRule(
        restore=_restore_was_writable,
        no_group=lambda mm, orig, restored, vma: ~restored.write,
        rebuild=_rebuild_4_0,
        outcomes=OUTCOMES_4_0,
        citation=Citation("do_numa_page", "mm/memory.c", "4.9 .. 5.12", ("d59dc7bcfa64",),
                          confidence="V",
                          note="!pte_write(restored pte, saved write included) => TNF_NO_GROUP; "
                               "restore, then migrate; commit title unconfirmed"),
    ),
    "5.13": _FAULT_5_13,
    "6.1": replace(
        _FAULT_5_13,
        rebuild=_rebuild_6_1,
        citation=Citation("do_numa_page -> migrate_misplaced_page -> remove_migration_pte",
                          "mm/memory.c, mm/migrate.c", "6.1", ("b99a342d4f11", "2e3468778dbe"),
                          confidence="V",
                          note="the hinting fault as 5.13; remove_migration_pte() takes young "
                               "and dirty from the migration entry (is_migration_entry_young/"
                               "_dirty), so a migrated written page comes back dirty"),
    ),
    "6.2": NumaFaultRule(
        restore=_restore_6_2,
        no_group=_no_group_6_2,
        rebuild=_rebuild_6_2,
        outcomes=OUTCOMES_6_2,
        citation=Citation("do_numa_page", "mm/memory.c, mm/migrate.c", "6.2 .. 6.3",
                          ("6a56ccbcf6c6", "b99a342d4f11", "96a9c287e25d"), confidence="V",
                          note="writable re-determined under the PT lock; migrate from the "
                               "hinted PTE; writable = false once a migration is attempted; "
                               "remove_migration_pte() write-protects a readable entry"),
    ),
    "6.4": NumaFaultRule(
        restore=_restore_6_2,
        no_group=_no_group_6_2,
        rebuild=_rebuild_6_4,
        outcomes=OUTCOMES_6_2,
        citation=Citation("do_numa_page", "mm/memory.c, mm/migrate.c", "6.4 .. 6.10",
                          ("6a56ccbcf6c6", "b99a342d4f11", "3c811f7883c4"), confidence="V",
                          note="fault as 6.2 (6.7 text: folio, same order-0 logic); the revert "
                               "of 96a9c287e25d (6.4-rc1 MM pull) leaves a readable migration "
                               "entry's PTE as mk_pte(new, vm_page_prot) gives it"),
    ),
    "6.11": NumaFaultRule(
        restore=_restore_6_2,
        no_group=_no_group_6_2,
        rebuild=_rebuild_6_4,
        outcomes=OUTCOMES_6_11,
        citation=Citation("do_numa_page", "mm/memory.c, mm/migrate.c", "6.11 .. current",
                          ("ee86814b0562", "40b760cfd445"), confidence="V",
                          note="migrate_misplaced_folio_prepare() isolates the folio under the "
                               "PT lock: a failure there restores with the re-determined write "
                               "bit; only after the unlock is writable = false"),
    ),
}


@per_rule
def do_numa_page(era: str | NumaFaultRule) -> Operation:
    """The NUMA hinting fault of an era: a row of NUMA_FAULT_RULES, or a rule of its own."""
    rule = lookup(NUMA_FAULT_RULES, era, "do_numa_page era") if isinstance(era, str) else era
    by_name = {o.name: o for o in rule.outcomes}
    if len(by_name) != len(rule.outcomes):
        names = [o.name for o in rule.outcomes]
        raise ModelError(f"do_numa_page: outcome names must be distinct, got {names}")

    @operation("do_numa_page", rule.citation, p=processes, page=pages, outcome=choices(*by_name))
    def body(mm: MM, p: int, page: int, outcome: str) -> None:
        """A fault on a NUMA hint: make the PTE accessible again, decide grouping, maybe migrate.

        ``outcome`` is the part the model leaves open, one of the era's MigrationOutcomes:
        ``none`` (no migration attempted), ``migrated``, ``migrate_failed`` and, from 6.11,
        ``isolate_failed``; every outcome but ``none`` needs a normal page on another node
        than the task (the mpol_misplaced() target).  Outputs: ``tnf_no_group``,
        ``tnf_shared``, ``tnf_migrated``, ``tnf_migrate_fail``, and ``task_numa_fault``
        (whether the fault is accounted at all: not for the zero page).
        """
        how = by_name[outcome]
        vma = mm.vma(p)
        orig = mm.pte(p, page)
        mm.step.require(mm.fault_pending(p, page))
        mm.step.require(fault_allowed(mm, p, mm.fault_is_write(p)))
        mm.step.require(rule.dispatch(orig, vma))
        has_page = mm.vm_normal_page(orig)
        pfn = orig.pfn
        target = mm.task_node(p)
        if how.attempted:
            mm.step.require(has_page & mm.page_to_nid(pfn).ne(target))
        restored = rule.restore(mm, orig, vma)
        mm.step.output("task_numa_fault", has_page)
        mm.step.output("tnf_no_group", has_page & rule.no_group(mm, orig, restored, vma))
        mm.step.output("tnf_shared", has_page & (mm.page_mapcount(pfn) > 1) & vma.VM_SHARED)
        mm.step.output("tnf_migrated", TRUE if how.tnf_migrated else FALSE)
        mm.step.output("tnf_migrate_fail", TRUE if how.tnf_migrate_fail else FALSE)
        how.effect(mm, HintFault(p, page, orig, vma, target, rule.restore, rule.rebuild))
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
