"""Linux 4.9: grouping decided on the restored PTE's write bit again."""

from numacheck.model.variant import Variant
from numacheck.model.variants.common import NOT_MODELLED, era_ops
from numacheck.model.variants.gup import PINS_BEFORE_5_8

VARIANT = Variant(
    name="linux-4.9",
    versions="4.9 .. 4.15",
    commits=("d59dc7bcfa64", "19be0eaffa3a"),
    summary=(
        "19be0eaffa3a (4.9-rc2, CVE-2016-5195) ends Dirty COW: faultin_page() sets FOLL_COW "
        "instead of dropping FOLL_WRITE, and a FOLL_FORCE write follows a read-only PTE only "
        "while it is dirty.  d59dc7bcfa64 returns TNF_NO_GROUP to !pte_write() of the "
        "restored PTE, which now carries the preserved write bit, so grouping follows the "
        "real write permission.  The "
        "scan and restore are those of 4.0 (4.11 routes the saved bit through "
        "pte_mk_savedwrite(), which is _PAGE_RW on x86).  The commit id's title is "
        "unconfirmed; the 4.9 code is quoted in docs/kernel-sources.md.  4.10's single-threaded "
        "local-node scan skip never applies to the model's multi-threaded processes; 4.16 adds "
        "the shared-COW scan skip (linux-4.16)."
    ),
    operations=era_ops(scan="4.0", fault="4.9", mprotect_rule="4.0", reuse="reuse_swap_page",
                          gup="4.9"),
    expect_violated=PINS_BEFORE_5_8[0],
    expect_trace=PINS_BEFORE_5_8[1],
    not_modelled=NOT_MODELLED,
)
