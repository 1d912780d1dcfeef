"""Linux 4.0-rc4: grouping switched to the dirty bit; the write bit is still lost."""

from numacheck.model.variant import Variant, trace_shape
from numacheck.model.variants.common import era_ops, not_modelled
from numacheck.model.variants.gup import before_4_9

_VIOLATED, _TRACES = before_4_9(prot_none_bug=True)

VARIANT = Variant(
    name="linux-4.0-rc4",
    versions="4.0-rc4 .. 4.0-rc5",
    commits=("53da3bc2ba9e",),
    summary=(
        "53da3bc2ba9e papers over the grouping regression: TNF_NO_GROUP becomes !pte_dirty() "
        "(marked FIXME: an approximation of read-only, since pte_write() of the restored PTE is "
        "always false for private pages).  The restore still comes from vm_page_prot, so "
        "private pages still come back read-only and take an extra write fault.  The dirty bit "
        "is wrong both ways: a page that fork write-protected is still dirty (grouped though "
        "read-only), and a writable page not yet written is clean (not grouped).  The fixes of "
        "4.0 were posted on 23 Mar 2015, after rc5, so rc6 and rc7 behave as linux-4.0."
    ),
    operations=era_ops(scan="4.0-rc1", fault="4.0-rc4", mprotect_rule="4.0", reuse="reuse_swap_page",
                          gup="3.19"),
    expect_violated={
        **_VIOLATED,
        "numa-restore-keeps-write": "Unchanged from rc1: the restore takes _PAGE_RW from "
                                    "vm_page_prot, read-only in a private mapping.",
        "numa-migrate-keeps-write": "The page is migrated through the read-only restored PTE.",
        "numa-grouping-matches-write": "pte_dirty() is not the write permission: a dirty page "
                                       "that fork write-protected is grouped.",
    },
    not_modelled=not_modelled(
        "The rc4 text is taken to be blob 411144f977b1 (the pre-image of the 23 Mar 2015 "
        "fixes), not read at the v4.0-rc4 tag."),
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
            "mmap access do_anonymous_page fork access change_prot_numa "
            "do_numa_page"),
    },
)
