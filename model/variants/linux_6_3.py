"""Linux 6.3: uffd_wp_range() relies on vm_page_prot, so unprotecting keeps soft-dirty faults."""

from numacheck.model.ops.uffd import uffd_ops
from numacheck.model.variants.linux_6_2 import VARIANT as LINUX_6_2

VARIANT = LINUX_6_2.derive(
    "linux-6.3",
    replace_ops=uffd_ops("6.3"),
    versions="6.3 .. 6.3",
    commits=("931298e103c2",),
    summary=(
        "931298e103c2 (\"mm/userfaultfd: rely on vma->vm_page_prot in uffd_wp_range()\") "
        "unprotects with vma->vm_page_prot and MM_CP_TRY_CHANGE_WRITABLE, so a PTE is made "
        "writable only where can_change_pte_writable() allows it, soft-dirty and uffd-wp "
        "checked: the soft-dirty loss of 5.19-6.2 is gone.  Everything else is 6.2's, "
        "including remove_migration_pte()'s pte_wrprotect() of a readable entry (reverted in "
        "6.4, linux-6.4)."
    ),
    expect_violated={p: r for p, r in LINUX_6_2.expect_violated.items()
                     if p != "soft-dirty-needs-fault"},
    source="",
)
