"""Linux 5.16: UFFDIO_CONTINUE maps page-cache pages dirty (CVE-2022-2590's ingredient)."""

from numacheck.model.ops.gup import gup_ops
from numacheck.model.variants.gup import CVE_2022_2590, CVE_2022_2590_TRACE
from numacheck.model.variants.linux_5_13 import VARIANT as LINUX_5_13

VARIANT = LINUX_5_13.derive(
    "linux-5.16",
    replace_ops=gup_ops("5.16"),
    versions="5.16 .. 5.18",
    commits=("9ae0f87d009c",),
    summary=(
        "9ae0f87d009c (\"mm/shmem: unconditionally set pte dirty in mfill_atomic_install_pte\") "
        "makes UFFDIO_CONTINUE map a page-cache page dirty even read-only in a private mapping. "
        "can_follow_write_pte() still trusts FOLL_FORCE | FOLL_COW on a dirty PTE, so a "
        "/proc/PID/mem write that broke COW, then lost its copy to MADV_DONTNEED, writes the "
        "shmem file through the page UFFDIO_CONTINUE installed (CVE-2022-2590, fixed by "
        "5535be309971 in 6.0).  Everything else is 5.13's."
    ),
    expect_violated={**LINUX_5_13.expect_violated, "gup-write-lands-in-private-copy": CVE_2022_2590},
    expect_trace={**LINUX_5_13.expect_trace, "gup-write-lands-in-private-copy": CVE_2022_2590_TRACE},
    not_modelled=LINUX_5_13.not_modelled,
    source="",
)
