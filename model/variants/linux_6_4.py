"""Linux 6.4: a migrated shmem page in a shared writable mapping comes back writable again."""

from numacheck.model.ops.vma import mbind
from numacheck.model.variant import Variant
from numacheck.model.variants.common import era_ops, not_modelled
from numacheck.model.variants.linux_6_2 import VARIANT as LINUX_6_2

_WRITE_LOSS = ("Deliberate (6a56ccbcf6c6), as in 6.2: writable = false once the page table "
               "lock is dropped for a migration, and an anonymous page's migration entry made "
               "from the write-less hinted PTE is readable, so its new PTE is read-only.")

VARIANT = Variant(
    name="linux-6.4",
    versions="6.4 .. 6.10",
    commits=("3c811f7883c4",),
    summary=(
        "The 6.4-rc1 MM pull reverts 96a9c287e25d (3c811f7883c4, David Hildenbrand, 'mm/migrate: revert "
        "\"mm/migrate: fix wrongly apply write bit after mkdirty on sparc64\"', after fixing "
        "sparc64's pte_mkdirty()): remove_migration_pte() no longer write-protects a PTE "
        "rebuilt from a readable entry, so it is what mk_pte(new, vm_page_prot) gives.  For a "
        "private mapping that is read-only, as in 6.2; for a shared writable shmem mapping "
        "vm_page_prot has _PAGE_RW, so a NUMA-migrated shmem page is writable straight away.  "
        "The hinting fault and the scan are 6.2's (6.7 converts do_numa_page() to folios, "
        "6.10 adds mTHP hinting; order-0 pages behave the same)."
    ),
    operations=(*era_ops(scan="6.2", fault="6.4", mprotect_rule="6.2", reuse="PageAnonExclusive",
                         uffd="6.3", gup="6.0"),
                mbind),
    expect_violated={
        "numa-migrate-keeps-write": _WRITE_LOSS,
        "numa-grouping-matches-write": "Writability is re-determined rather than remembered: an "
                                       "exclusive page that a migration left read-only counts "
                                       "as writable at its next hinting fault.",
    },
    not_modelled=not_modelled(
        "Large folios (6.10 hints mTHPs and restores every PTE of the folio at once); 6.10.4+ "
        "stable kernels carry 6.11's isolation under the PT lock (linux-6.11).  6.5-6.10 have "
        "d74943a2f3cd's FOLL_HONOR_NUMA_FAULT (a FOLL_FORCE GUP takes the NUMA hinting fault "
        "instead of following the hinted PTE; GUP_RULES['6.5'], used by linux-6.11); the variant "
        "keeps 6.4's rule, which no verdict depends on (both refuse or fault, neither writes)."),
    # The shortest counterexamples are those recorded for linux-6.2 (checked against the engine
    # on every run, checker/shapes.py): the migration path this era keeps from 6.2.
    expect_trace={p: LINUX_6_2.expect_trace[p]
                  for p in ("numa-migrate-keeps-write", "numa-grouping-matches-write")},
)
