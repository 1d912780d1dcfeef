"""Linux 6.5: a GUP honours NUMA hinting faults even with FOLL_FORCE."""

from numacheck.model.ops.gup import gup_ops
from numacheck.model.variants.linux_6_4 import VARIANT as LINUX_6_4

VARIANT = LINUX_6_4.derive(
    "linux-6.5",
    replace_ops=gup_ops("6.5"),
    versions="6.5 .. 6.10",
    commits=("d74943a2f3cd",),
    summary=(
        "d74943a2f3cd (\"mm/gup: reintroduce FOLL_NUMA as FOLL_HONOR_NUMA_FAULT\") makes GUP "
        "take the NUMA hinting fault on a protnone PTE of an accessible VMA whether or not "
        "FOLL_FORCE is set, and follow a protnone PTE of a PROT_NONE VMA (474098edac26, 6.2, "
        "had refused those too, which broke KSM and smaps).  Everything else is 6.4's."
    ),
    not_modelled=LINUX_6_4.not_modelled,
    source="",
)
