"""Linux 4.0: the hinted PTE keeps _PAGE_RW and the restore puts it back."""

from numacheck.model.variant import Variant, trace_shape
from numacheck.model.variants.common import NOT_MODELLED, era_ops
from numacheck.model.variants.gup import before_4_9

_VIOLATED, _TRACES = before_4_9(prot_none_bug=True)

VARIANT = Variant(
    name="linux-4.0",
    versions="4.0 .. 4.8-rc7",
    commits=("b191f9b106ea", "bea66fbd11af", "074c238177a7"),
    summary=(
        "b191f9b106ea keeps _PAGE_RW in the PROT_NONE entry (preserve_write in "
        "change_pte_range) and do_numa_page() re-applies it (was_writable), so write permission "
        "survives the hinting fault and the migration.  bea66fbd11af decides TNF_NO_GROUP on "
        "the VMA's VM_WRITE instead of a PTE bit: simpler, but too coarse, since a COW-shared "
        "read-only page in a writable VMA is grouped.  074c238177a7 adds TNF_MIGRATE_FAIL.  "
        "The three were posted on 23 Mar 2015, after rc5, so 4.0-rc6 and -rc7 are taken to "
        "behave like 4.0 already (inferred from the dates)."
    ),
    operations=era_ops(scan="4.0", fault="4.0", mprotect_rule="4.0", reuse="reuse_swap_page",
                          gup="3.19"),
    expect_violated={
        **_VIOLATED,
        "numa-grouping-matches-write": "VM_WRITE is a property of the VMA, not of the page: "
                                       "after fork the PTE is read-only (COW) but the VMA is "
                                       "still writable, so the fault is grouped.",
    },
    not_modelled=NOT_MODELLED,
    # Recorded history, like LKMM's expected results: the shortest counterexample the engine
    # found on the default instance, one kernel function per step; every run compares the length
    # and the set of functions of its own with it (checker/shapes.py).
    expect_trace={
        **_TRACES,
        "numa-grouping-matches-write": trace_shape(
            "mmap access do_anonymous_page fork access change_prot_numa "
            "do_numa_page"),
    },
)
