"""Linux 5.19: shmem may be registered for uffd-wp, but vm_page_prot stays writable."""

from numacheck.model.ops.vma import mbind
from numacheck.model.variant import Variant
from numacheck.model.variants.common import era_ops, not_modelled
from numacheck.model.variants.gup import CVE_2022_2590, CVE_2022_2590_TRACE
from numacheck.model.variants.tracking import (
    SOFT_DIRTY_BY_UFFD_UNREGISTER,
    SOFT_DIRTY_UFFD_WP_RANGE,
    UFFD_BEFORE_6_2_NOT_MODELLED,
    UFFD_WP_BY_MPROTECT,
    UFFD_WP_SHMEM,
)

VARIANT = Variant(
    name="linux-5.19",
    versions="5.19 .. 5.19",
    commits=("b1f9e876862d", "6c287605fd56", "a7f226604170"),
    summary=(
        "b1f9e876862d (\"mm/uffd: enable write protection for shmem & hugetlbfs\") lets "
        "UFFDIO_REGISTER_MODE_WP cover shmem.  Registering does not touch vm_page_prot, and "
        "vma_wants_writenotify() has no uffd-wp term until 51d3d5eb74ff (6.2), so a shared "
        "writable shmem VMA keeps PAGE_SHARED: every path that rebuilds a PTE from vm_page_prot "
        "(the NUMA hinting restore, mprotect, migration) makes a uffd-wp PTE writable with "
        "_PAGE_UFFD_WP still set.  uffd_wp_range() unprotects with vm_get_page_prot(), ignoring "
        "soft-dirty's writenotify (until 931298e103c2).  NUMA balancing is 5.13's; reuse follows "
        "PageAnonExclusive (6c287605fd56), and a R/O pin of a page that is not exclusive unshares "
        "it first (a7f226604170), which ends the R/O-pin wrong COW; CVE-2022-2590 is still there "
        "(FOLL_COW until 5535be309971, 6.0)."
    ),
    operations=(*era_ops(scan="4.16", fault="5.13", mprotect_rule="4.0", reuse="PageAnonExclusive",
                         uffd="5.19", gup="5.19"), mbind),
    expect_violated={
        "uffd-wp-implies-read-only": UFFD_WP_SHMEM,
        "soft-dirty-needs-fault": SOFT_DIRTY_UFFD_WP_RANGE,
        "gup-write-lands-in-private-copy": CVE_2022_2590,
    },
    expect_trace={
        "gup-write-lands-in-private-copy": CVE_2022_2590_TRACE,
        "uffd-wp-implies-read-only": UFFD_WP_BY_MPROTECT,
        "soft-dirty-needs-fault": SOFT_DIRTY_BY_UFFD_UNREGISTER,
    },
    not_modelled=not_modelled(
        "mbind(MPOL_F_NUMA_BALANCING) from 5.15 (6d2aec9e123b) is assumed.  PTE-mapped THPs, "
        "hugetlbfs uffd-wp and PTE markers (uffd-wp on none PTEs, 5.19) are not modelled.  "
        + UFFD_BEFORE_6_2_NOT_MODELLED),
)
