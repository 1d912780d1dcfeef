"""Linux 4.0-rc1: NUMA hints become PROT_NONE and the restore loses the write bit."""

from numacheck.model.variant import Variant, trace_shape
from numacheck.model.variants.common import NOT_MODELLED, era_ops
from numacheck.model.variants.gup import before_4_9

_LOST = (
    "do_numa_page() rebuilds the PTE from vma->vm_page_prot, which has no _PAGE_RW in a "
    "private mapping, so a page that was writable before the scan comes back read-only "
    "(4d9424669946); found by Linus reading the code, fixed by b191f9b106ea in 4.0."
)

_VIOLATED, _TRACES = before_4_9(prot_none_bug=True)

VARIANT = Variant(
    name="linux-4.0-rc1",
    versions="4.0-rc1 .. 4.0-rc3",
    commits=("4d9424669946",),
    summary=(
        "The PROT_NONE conversion: change_prot_numa() applies pte_modify(pte, PAGE_NONE), "
        "which drops _PAGE_RW, and do_numa_page() restores with pte_modify(pte, "
        "vm_page_prot) + pte_mkyoung.  For a private mapping vm_page_prot is read-only, so "
        "every written private page returns read-only, TNF_NO_GROUP (decided on the restored "
        "write bit) fires for nearly every private page, and NUMA task grouping silently "
        "stops.  The scan's skips (zero page, KSM, already PROT_NONE) came with later patches "
        "of the same series, all in rc1; at commit 4d9424669946 alone the scan had none."
    ),
    operations=era_ops(scan="4.0-rc1", fault="4.0-rc1", mprotect_rule="4.0", reuse="reuse_swap_page",
                          gup="3.19"),
    expect_violated={
        **_VIOLATED,
        "numa-restore-keeps-write": _LOST,
        "numa-migrate-keeps-write": "The PTE is restored read-only before the migration, so "
                                    "the migration entry is read-only and so is the new PTE.",
        "numa-grouping-matches-write": "TNF_NO_GROUP is !pte_write() of the read-only restored "
                                       "PTE, so pages written before the scan are not grouped.",
    },
    not_modelled=NOT_MODELLED,
    # Recorded history, like LKMM's expected results: the shortest counterexample the engine
    # found on the default instance, one kernel function per step; every run compares the length
    # and the set of functions of its own with it (checker/shapes.py).
    expect_trace={
        **_TRACES,
        "numa-restore-keeps-write": trace_shape(
            "mmap access do_anonymous_page change_prot_numa access do_numa_page"),
        "numa-migrate-keeps-write": trace_shape(
            "mmap access do_anonymous_page migrate_task_to change_prot_numa access "
            "do_numa_page"),
        "numa-grouping-matches-write": trace_shape(
            "mmap access do_anonymous_page change_prot_numa access do_numa_page"),
    },
)
