"""Properties of the PTE bits userspace trackers rely on: uffd-wp and soft-dirty."""

from __future__ import annotations

from numacheck.model.expr import Expr, all_, any_
from numacheck.model.mm import MM, userfaultfd_pte_wp, vma_soft_dirty_enabled
from numacheck.model.pte import pte_present
from numacheck.model.system import Action
from numacheck.properties.base import invariant, step_property


def _unprotects(action: Action, p: int, i: int) -> bool:
    """Whether ``action`` is userspace ending the write-protect of PTE (p, i), or unmapping it."""
    if action.op in ("uffd_unregister", "munmap"):
        return int(action.param("p")) == p
    if action.op == "uffd_writeprotect" and action.param("mode") == "off":
        return (int(action.param("p")), int(action.param("page"))) == (p, i)
    return False


def _any_uffd_wp(pre: MM, post: MM, action: Action) -> Expr:
    return any_(userfaultfd_pte_wp(pre.vma(p), pre.pte(p, i)) for p, i in pre.ptes())


@step_property(
    "uffd-wp-implies-read-only",
    "A PTE that userspace write-protected through userfaultfd stays write-protected: it keeps "
    "_PAGE_UFFD_WP and is never writable until userspace unprotects it (UFFDIO_WRITEPROTECT "
    "off, UFFDIO_UNREGISTER) or unmaps it.",
    "uffd-wp is how QEMU live snapshots, CRIU and garbage collectors learn of every write to a "
    "page: a uffd-wp PTE made writable (or stripped of the bit and then made writable) lets "
    "writes through unreported, and the snapshot is silently corrupt.  The NUMA hinting "
    "restore, mprotect and migration all rebuild PTEs from vm_page_prot, which stayed writable "
    "for uffd-wp shmem until 51d3d5eb74ff (b1f9e876862d .. 51d3d5eb74ff; x86 checks the "
    "bit/write pair in set_pte_at since c2da319c2e27).  Checked on every step of every "
    "operation, for every PTE that had the bit before the step.",
    "some PTE of a uffd-wp registered VMA has _PAGE_UFFD_WP",
    set(),
    when=_any_uffd_wp,
    area="uffd",
)
def uffd_wp_implies_read_only(pre: MM, post: MM, action: Action) -> Expr:
    """Every uffd-wp PTE before the step keeps the bit and stays read-only (unless userspace
    unprotects or unmaps it), and no uffd-wp PTE is writable after the step."""
    checks = []
    for p, i in pre.ptes():
        after = post.pte(p, i)
        kept = after.uffd_wp & userfaultfd_pte_wp(post.vma(p), after) & ~after.write
        armed = userfaultfd_pte_wp(pre.vma(p), pre.pte(p, i))
        if not _unprotects(action, p, i):
            checks.append(armed.implies(kept | ~pte_present(after)))
        checks.append(userfaultfd_pte_wp(post.vma(p), after).implies(~after.write))
    return all_(checks)


def _waiting_for_write(mm: MM) -> Expr:
    return any_(mm.vma(p).mapped & vma_soft_dirty_enabled(mm.vma(p)) & pte_present(mm.pte(p, i))
                & ~mm.pte(p, i).soft_dirty for p, i in mm.ptes())


@invariant(
    "soft-dirty-needs-fault",
    "While soft-dirty tracking is on for a VMA (VM_SOFTDIRTY clear after clear_refs), a PTE "
    "that is not soft-dirty is not writable: the next write must fault and the fault marks it.",
    "CRIU's pre-dump and live migration copy only pages whose PTE is soft-dirty since the last "
    "clear_refs; the MMU never sets _PAGE_SOFT_DIRTY, so a PTE made writable without it lets "
    "writes land unseen and the restored process has stale memory.  Write upgrades that skip "
    "the fault (mprotect's eager upgrade, 64fe24a3e05e until 76aefad628aa; uffd_wp_range() "
    "with vm_get_page_prot, until 931298e103c2) must check soft-dirty themselves.",
    "a VMA tracks soft-dirty and has a present PTE that is not soft-dirty",
    sometimes=_waiting_for_write,
    area="softdirty",
)
def soft_dirty_needs_fault(mm: MM) -> Expr:
    """``vma_soft_dirty_enabled(vma) && !pte_soft_dirty(pte) => !pte_write(pte)`` for every PTE."""
    return all_((mm.vma(p).mapped & vma_soft_dirty_enabled(mm.vma(p)) & ~mm.pte(p, i).soft_dirty)
                .implies(~mm.pte(p, i).write) for p, i in mm.ptes())


PROPERTIES = (uffd_wp_implies_read_only, soft_dirty_needs_fault)
