"""Linux 6.2: savedwrite is gone; writability is re-determined at the hinting fault."""

from numacheck.model.ops.vma import mbind
from numacheck.model.variant import Variant, trace_shape
from numacheck.model.variants.common import NOT_MODELLED, era_ops
from numacheck.model.variants.tracking import SOFT_DIRTY_BY_UFFD_UNREGISTER, SOFT_DIRTY_UFFD_WP_RANGE

VARIANT = Variant(
    name="linux-6.2",
    versions="6.2 .. 6.2",
    commits=("6a56ccbcf6c6", "d84887739d5c", "eb309ec89953", "d6379159f476", "96a9c287e25d",
             "51d3d5eb74ff"),
    summary=(
        "The hinted PTE no longer remembers _PAGE_RW.  do_numa_page() re-determines "
        "writability under the PT lock: pte_write(pte_modify(pte, vm_page_prot)), or "
        "can_change_pte_writable() where the VMA wants manual write upgrades (private "
        "writable: an exclusive anonymous page qualifies, d84887739d5c).  Grouping follows that "
        "value.  Since b99a342d4f11 (5.13) the page is migrated from the hinted PTE, and once a "
        "migration is attempted writable is forced false: a migrated or failed page comes back "
        "read-only and needs one more write fault (deliberate, 6a56ccbcf6c6).  mprotect also "
        "upgrades exclusive anonymous pages eagerly.  A shmem VMA is scanned only after "
        "mbind(MPOL_BIND | MPOL_F_NUMA_BALANCING).  remove_migration_pte() write-protects a PTE "
        "rebuilt from a readable entry (96a9c287e25d), so a migrated shmem page comes back "
        "read-only even in a shared writable VMA; 6.4 reverts that (linux-6.4)."
    ),
    operations=(*era_ops(scan="6.2", fault="6.2", mprotect_rule="6.2", reuse="PageAnonExclusive",
                         uffd="5.19", gup="6.0"), mbind),
    expect_violated={
        "numa-migrate-keeps-write": "Deliberate (6a56ccbcf6c6): writable = false once the page "
                                    "table lock is dropped for a migration, and the migration "
                                    "entry of a write-less hinted PTE rebuilds a read-only PTE.",
        "numa-grouping-matches-write": "Writability is re-determined rather than remembered: an "
                                       "exclusive page that a migration left read-only counts "
                                       "as writable at its next hinting fault.",
        "soft-dirty-needs-fault": SOFT_DIRTY_UFFD_WP_RANGE,
    },
    not_modelled=NOT_MODELLED,
    # Recorded history, like LKMM's expected results: the shortest counterexample the engine
    # found on the default instance, one kernel function per step; every run compares the length
    # and the set of functions of its own with it (checker/shapes.py).
    expect_trace={
        "numa-migrate-keeps-write": trace_shape(
            "mmap access do_anonymous_page migrate_task_to change_prot_numa access "
            "do_numa_page"),
        "numa-grouping-matches-write": trace_shape(
            "mmap access do_anonymous_page migrate_task_to change_prot_numa access "
            "do_numa_page access change_prot_numa do_numa_page"),
        "soft-dirty-needs-fault": SOFT_DIRTY_BY_UFFD_UNREGISTER,
    },
)
