"""Linux 4.8-rc8: a GUP's fault on a PROT_NONE VMA no longer enters the NUMA hinting fault."""

from numacheck.model.ops.numa import do_numa_page
from numacheck.model.variants.linux_4_0 import VARIANT as LINUX_4_0

VARIANT = LINUX_4_0.derive(
    "linux-4.8",
    replace_ops=(do_numa_page("4.8"),),
    versions="4.8-rc8 .. 4.8",
    commits=("38e088546522",),
    summary=(
        "38e088546522 (\"mm: check VMA flags to avoid invalid PROT_NONE NUMA balancing\", "
        "Lorenzo Stoakes, applied for 4.8-rc8) sends a protnone PTE to do_numa_page() only in a "
        "VMA with VM_READ, VM_WRITE or VM_EXEC (vma_is_accessible) and drops do_numa_page()'s "
        "BUG_ON: a FOLL_FORCE access through /proc/PID/mem to a PROT_NONE mapping is no longer "
        "a NUMA hinting fault.  Everything else is 4.0's, Dirty COW included (19be0eaffa3a is "
        "4.9-rc2)."
    ),
    expect_trace={p: t for p, t in LINUX_4_0.expect_trace.items()
                  if p != "numa-fault-only-in-accessible-vma"},
    expect_violated={p: r for p, r in LINUX_4_0.expect_violated.items()
                     if p != "numa-fault-only-in-accessible-vma"},
    not_modelled=LINUX_4_0.not_modelled,
    source="",
)
