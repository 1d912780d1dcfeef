"""Operations every era shares (their kernel text is the same in the respects modelled)."""

from __future__ import annotations

from numacheck.model.operation import Operation
from numacheck.model.ops.access import access, bad_area, handle_pte_fault
from numacheck.model.ops.fault import ReuseRule, do_anonymous_page, do_fault, do_wp_page
from numacheck.model.ops.fork import fork, fork_copying_pinned
from numacheck.model.ops.gup import GupRule, gup_ops, gup_rule
from numacheck.model.ops.numa import NumaFaultRule, ScanRule, change_prot_numa, do_numa_page, migrate_task_to
from numacheck.model.ops.softdirty import clear_refs
from numacheck.model.ops.uffd import UffdRule, uffd_ops
from numacheck.model.ops.vma import MprotectRule, mmap, mprotect, munmap
from numacheck.model.system import Citation

SHARED_OPS: tuple[Operation, ...] = (
    mmap,
    munmap,
    access,
    bad_area,
    handle_pte_fault,
    do_anonymous_page,
    do_fault,
    migrate_task_to,
    clear_refs,
)


def era_ops(scan: str | ScanRule, fault: str | NumaFaultRule,
            mprotect_rule: str | tuple[MprotectRule, Citation],
            reuse: str | tuple[ReuseRule, Citation],
            uffd: str | UffdRule | None = None,
            gup: str | GupRule | None = None) -> tuple[Operation, ...]:
    """The shared operations plus the era-specific scan, hinting fault, mprotect and COW rule,
    for a kernel with userfaultfd write-protect (5.7+) the uffd area's operations, and the gup
    and pin areas' operations with the era's GUP rules (and fork's treatment of pinned pages).

    Each rule is a row name of its table (SCAN_RULES, NUMA_FAULT_RULES, MPROTECT_RULES,
    REUSE_RULES, UFFD_RULES, GUP_RULES) or a rule object of the same shape, e.g. a row with one
    field replaced.
    """
    uffd_area = () if uffd is None else uffd_ops(uffd)
    gup_area = () if gup is None else gup_ops(gup)
    forks = fork_copying_pinned if gup is not None and gup_rule(gup).fork_copies_pinned else fork
    return (*SHARED_OPS, forks, do_wp_page(reuse), mprotect(mprotect_rule), change_prot_numa(scan),
            do_numa_page(fault), *uffd_area, *gup_area)


def not_modelled(era_specific: str) -> str:
    """What a variant leaves out: the era's own omissions, then what no era models."""
    return f"{era_specific} In every era: {NOT_MODELLED}" if era_specific else NOT_MODELLED


#: What none of the built-in eras model, said once for all of them.
NOT_MODELLED = (
    "KSM, THP/PMD paths, swap, GUP-fast, GUP of huge pages, pins of the zero page and of "
    "page-cache pages, migration's refusal of pinned pages, userfaultfd other than "
    "write-protect and UFFDIO_CONTINUE (missing faults, UFFDIO_COPY, PTE markers on none PTEs, "
    "UFFD_FEATURE_EVENT_FORK), soft-dirty through mremap/VMA merges, file-backed mappings other "
    "than one shmem file, fault-around, TLB state, and the scheduler side of task_numa_fault()."
)
