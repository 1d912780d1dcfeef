"""Linux 5.13: the page is migrated from the hinted PTE, which still remembers _PAGE_RW."""

from numacheck.model.ops.vma import mbind
from numacheck.model.variant import Variant
from numacheck.model.variants.common import era_ops, not_modelled
from numacheck.model.variants.gup import COW_AFTER_PIN_TRACE, WRONG_COW

VARIANT = Variant(
    name="linux-5.13",
    versions="5.13 .. 5.15",
    commits=("b99a342d4f11",),
    summary=(
        "b99a342d4f11 (\"NUMA balancing: reduce TLB flush via delaying mapping on hint page "
        "fault\") picks the target node under the PT lock, unlocks and migrates the page while "
        "its PTE is still hinted, restoring the PTE only when no migration is attempted or it "
        "fails.  savedwrite is still there: the hinted PTE keeps _PAGE_RW, so the migration "
        "entry made from it is writable and the new PTE is maybe_mkwrite'd, and a failed "
        "migration restores with was_writable; TNF_NO_GROUP is !was_writable.  So a migrated "
        "private page comes back writable, unlike 6.2: the write loss after a migration comes "
        "from 6a56ccbcf6c6 alone, not from the reordering.  Reuse on a write fault follows "
        "page_count() == 1 (09854ba94c6a, 5.9), so a R/O pin is copied away from (the wrong COW); "
        "shmem can be scanned after mbind(); UFFDIO_CONTINUE maps page-cache pages clean.  "
        "Expected: every NUMA property holds, as in 4.9, since the write bit the scan saw is what "
        "the restore, the migration entry and TNF_NO_GROUP all use."
    ),
    operations=(*era_ops(scan="4.16", fault="5.13", mprotect_rule="4.0", reuse="page_count",
                         uffd="5.7", gup="5.13"), mbind),
    expect_violated={"pin-coherence": WRONG_COW},
    expect_trace={"pin-coherence": COW_AFTER_PIN_TRACE},
    not_modelled=not_modelled(
        "mbind(MPOL_F_NUMA_BALANCING) gives shmem a MOF policy only from 5.15 (6d2aec9e123b); "
        "the variant allows it in 5.13-5.14 too (a shmem PTE of a shared writable VMA is "
        "writable from vm_page_prot at every step, so no verdict depends on it).  "
        "uffd-wp (5.7+) covers anonymous memory only here; shmem follows in 5.19 "
        "(linux-5.19).  PTE-mapped THPs, which "
        "do_numa_page() restores without migrating, are not modelled."),
)
