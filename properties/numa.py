"""Properties of NUMA balancing: write permission and grouping across a hinting fault."""

from __future__ import annotations

from numacheck.model.expr import Expr
from numacheck.model.mm import MM
from numacheck.model.system import Action
from numacheck.properties.base import output, step_property


def _pte_of(action: Action) -> tuple[int, int]:
    return int(action.param("p")), int(action.param("page"))


def _shadow(pre: MM, post: MM, action: Action) -> Expr:
    p, i = _pte_of(action)
    return pre.shadow_write(p, i)


def _keeps_write(pre: MM, post: MM, action: Action) -> Expr:
    p, i = _pte_of(action)
    return pre.shadow_write(p, i).implies(post.pte(p, i).write)


numa_restore_keeps_write = step_property(
    "numa-restore-keeps-write",
    "NUMA hinting never takes write permission away: a PTE restored by a hinting fault is "
    "writable whenever it would be writable had the scan never protected it.",
    "A written private page that comes back read-only costs an extra write fault per scan "
    "period, and grouping decided on the restored write bit stops grouping (4.0-rc1, "
    "4d9424669946).  The reference is the ghost shadow write bit: _PAGE_RW when "
    "change_prot_numa() protected the PTE, cleared by every later operation that would "
    "have write-protected the PTE anyway (fork's COW), so a correct kernel raises no alarm.  "
    "Checked on hinting faults that attempt no migration; see numa-migrate-keeps-write for "
    "the others.",
    "a hinting fault restores a PTE whose shadow write bit is set",
    {"do_numa_page"},
    when=_shadow,
    applies=lambda a: a.param("outcome") == "none",
)(_keeps_write)


numa_migrate_keeps_write = step_property(
    "numa-migrate-keeps-write",
    "A hinting fault that migrates the page, or tries to, leaves the PTE writable whenever its "
    "shadow write bit is set.",
    "NUMA balancing should move pages without costing the task write faults.  Before 5.13 "
    "the page is migrated through the restored PTE, so this follows the restore; from 6.2 "
    "the kernel deliberately maps a migrated (or failed) page read-only and lets the next "
    "write fault re-establish write permission (6a56ccbcf6c6), which this property reports.",
    "a hinting fault migrates, or fails to migrate, a page whose shadow write bit is set",
    {"do_numa_page"},
    when=_shadow,
    applies=lambda a: a.param("outcome") != "none",
)(_keeps_write)


def _grouping(pre: MM, post: MM, action: Action) -> Expr:
    p, i = _pte_of(action)
    accounted = output(action, "task_numa_fault")
    no_group = output(action, "tnf_no_group")
    return accounted.implies(no_group.eq(~pre.shadow_write(p, i)))


def _accounted_writable(pre: MM, post: MM, action: Action) -> Expr:
    return output(action, "task_numa_fault") & _shadow(pre, post, action)


numa_grouping_matches_write = step_property(
    "numa-grouping-matches-write",
    "A hinting fault passes TNF_NO_GROUP to task_numa_fault() exactly when the PTE's shadow "
    "write bit is clear.",
    "The kernel's intent: do not group tasks on read-only, COW-shared or shared-library "
    "pages, do group on pages the task writes.  Deciding on a proxy (the restored write bit "
    "in 4.0-rc1, the dirty bit in 4.0-rc4, VM_WRITE in 4.0) misgroups tasks, or, as in "
    "4.0-rc1, stops grouping altogether with nothing but a slower benchmark to show for it.",
    "an accounted hinting fault on a PTE whose shadow write bit is set",
    {"do_numa_page"},
    when=_accounted_writable,
)(_grouping)

PROPERTIES = (numa_restore_keeps_write, numa_migrate_keeps_write, numa_grouping_matches_write)
