"""Linux 5.9: do_wp_page() reuses only at page_count() == 1; the forced COW break goes."""

from numacheck.model.ops.fault import do_wp_page
from numacheck.model.ops.fork import fork_copying_pinned
from numacheck.model.ops.gup import gup_ops
from numacheck.model.variants.gup import COW_AFTER_PIN_TRACE, WRONG_COW
from numacheck.model.variants.linux_4_16 import VARIANT as LINUX_4_16

VARIANT = LINUX_4_16.derive(
    "linux-5.9",
    replace_ops=(do_wp_page("page_count"), fork_copying_pinned, *gup_ops("5.9")),
    versions="5.9 .. 5.12",
    commits=("09854ba94c6a", "a308c71bf1e6", "70e806e4e645"),
    summary=(
        "09854ba94c6a (\"mm: do_wp_page() simplification\") reuses an anonymous page on a write "
        "fault only when page_count() == 1, so a page any GUP holds is copied: the missed COW "
        "of CVE-2020-29374 is closed, and a308c71bf1e6 (\"mm/gup: Remove enfornced COW "
        "mechanism\", same merge) drops 5.8's forced COW break.  The price is the 'wrong COW': a "
        "R/O pin of an exclusive page that fork once shared raises page_count(), and the next "
        "write fault copies the page away from the pin.  70e806e4e645 (\"mm: Do early cow for "
        "pinned pages during fork() for ptes\") gives the child of fork its own copy of a "
        "pinned page.  Scan and hinting fault are 4.16's."
    ),
    expect_violated={"pin-coherence": WRONG_COW},
    expect_trace={"pin-coherence": COW_AFTER_PIN_TRACE},
    not_modelled=LINUX_4_16.not_modelled,
    source="",
)
