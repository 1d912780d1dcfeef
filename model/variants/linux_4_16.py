"""Linux 4.16: the NUMA scan stops hinting copy-on-write pages that another process maps."""

from numacheck.model.variant import Variant
from numacheck.model.variants.common import era_ops, not_modelled
from numacheck.model.variants.gup import PINS_BEFORE_5_8

VARIANT = Variant(
    name="linux-4.16",
    versions="4.16 .. 5.7",
    commits=("859d4adc3415",),
    summary=(
        "859d4adc3415 (\"mm: numa: do not trap faults on shared data section pages\", committed "
        "during the 4.16 merge window) makes change_pte_range(prot_numa) skip a page of a COW "
        "mapping whose page_mapcount() is not 1, so a page shared by fork is no longer hinted.  "
        "Everything else is 4.9's: the hinted PTE keeps _PAGE_RW (through pte_mk_savedwrite "
        "from 4.11, _PAGE_RW on x86), the fault restores it and then migrates through the "
        "present PTE, and TNF_NO_GROUP follows the restored write bit.  Expected: every property "
        "holds, as in 4.9 (the skip only removes the traces that hint a fork-shared page)."
    ),
    operations=era_ops(scan="4.16", fault="4.9", mprotect_rule="4.0", reuse="reuse_swap_page",
                          gup="4.9"),
    expect_violated=PINS_BEFORE_5_8[0],
    expect_trace=PINS_BEFORE_5_8[1],
    not_modelled=not_modelled(
        "FOLL_PIN (pin_user_pages) exists only from 5.6; before it the pins stand for the "
        "long-term FOLL_GET users, which no rule of this era tells apart.  5.7's uffd-wp bit in "
        "_PAGE_CHG_MASK has no effect without userfaultfd."),
)
