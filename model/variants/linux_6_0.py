"""Linux 6.0: mprotect makes dirty exclusive anonymous pages writable without a fault."""

from numacheck.model.ops.vma import mbind
from numacheck.model.variant import Variant
from numacheck.model.variants.common import era_ops, not_modelled
from numacheck.model.variants.tracking import (
    SOFT_DIRTY_BY_UFFD_UNREGISTER,
    SOFT_DIRTY_UFFD_WP_RANGE,
    UFFD_BEFORE_6_2_NOT_MODELLED,
    UFFD_WP_BY_MPROTECT,
    UFFD_WP_SHMEM,
)

VARIANT = Variant(
    name="linux-6.0",
    versions="6.0 .. 6.0",
    commits=("64fe24a3e05e", "76aefad628aa", "5535be309971"),
    summary=(
        "64fe24a3e05e (\"mm/mprotect: try avoiding write faults for exclusive anonymous pages "
        "when changing protection\") lets change_pte_range() set _PAGE_RW on a PTE of a "
        "writable private mapping when can_change_pte_writable() holds: not protnone, dirty, "
        "soft-dirty and uffd-wp tracking off (76aefad628aa fixed the soft-dirty polarity in the "
        "same merge window) and a PageAnonExclusive page.  So mprotect(PROT_READ) then "
        "mprotect(PROT_READ|PROT_WRITE) leaves a written exclusive page writable.  A clean one "
        "stays read-only until 6.2 (d84887739d5c).  The hinting fault is 5.13's (savedwrite, "
        "migration from the hinted PTE), and reuse follows PageAnonExclusive (5.19).  5535be309971 "
        "lets a FOLL_FORCE write follow only an exclusive anonymous page (CVE-2022-2590 fixed).  "
        "Expected: every NUMA property holds; the upgrade is taken only for an exclusive anonymous page in a "
        "VM_WRITE mapping, which is what write-requires-exclusive and write-requires-vm-write "
        "ask, and mprotect turns a hint into an ordinary entry before it upgrades."
    ),
    operations=(*era_ops(scan="4.16", fault="5.13", mprotect_rule="6.0", reuse="PageAnonExclusive",
                         uffd="5.19", gup="6.0"),
                mbind),
    expect_violated={
        "uffd-wp-implies-read-only": UFFD_WP_SHMEM,
        "soft-dirty-needs-fault": SOFT_DIRTY_UFFD_WP_RANGE,
    },
    expect_trace={
        "uffd-wp-implies-read-only": UFFD_WP_BY_MPROTECT,
        "soft-dirty-needs-fault": SOFT_DIRTY_BY_UFFD_UNREGISTER,
    },
    not_modelled=not_modelled(UFFD_BEFORE_6_2_NOT_MODELLED),
)
