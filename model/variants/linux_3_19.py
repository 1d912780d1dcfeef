"""Linux 3.19: NUMA hints are _PAGE_NUMA entries that keep every protection bit."""

from numacheck.model.variant import Variant
from numacheck.model.variants.common import NOT_MODELLED, era_ops
from numacheck.model.variants.gup import before_4_9

_VIOLATED, _TRACES = before_4_9(prot_none_bug=False)

VARIANT = Variant(
    name="linux-3.19",
    versions="3.13 .. 3.19",
    commits=(),
    summary=(
        "change_prot_numa() marks a PTE with _PAGE_NUMA and clears _PAGE_PRESENT; _PAGE_RW, "
        "_PAGE_DIRTY and _PAGE_ACCESSED stay as they were.  do_numa_page() undoes exactly that "
        "(pte_mknonnuma), so the write bit survives the round trip, and TNF_NO_GROUP is decided "
        "on the real write bit.  This is the baseline the PROT_NONE conversion had to match."
    ),
    operations=era_ops(scan="3.19", fault="3.19", mprotect_rule="3.19", reuse="reuse_swap_page",
                      gup="3.19"),
    expect_violated=_VIOLATED,
    expect_trace=_TRACES,
    not_modelled=NOT_MODELLED,
)
