"""The PTE model: its expression language, state, kernel helpers, operations and eras.

A user variant file imports what it needs from here; see README ("Checking a patch").
"""

from numacheck.model.expr import FALSE, TRUE, Expr, ModelError, all_, any_, ite
from numacheck.model.instance import AREAS, Instance
from numacheck.model.mm import (
    MM,
    Vma,
    is_cow_mapping,
    is_numa_hint,
    maybe_mkwrite,
    userfaultfd_pte_wp,
    userfaultfd_wp,
    vm_page_prot,
    vma_is_accessible,
    vma_soft_dirty_enabled,
    vma_wants_manual_pte_write_upgrade,
)
from numacheck.model.operation import Operation, choices, operation, pages, processes
from numacheck.model.pte import (
    PAGE_CHG_MASK,
    PAGE_COPY,
    PAGE_NONE,
    PAGE_READONLY,
    PAGE_SHARED,
    PTE_NONE,
    Pgprot,
    Pte,
    mk_pte,
    pte_clear_soft_dirty,
    pte_clear_uffd_wp,
    pte_dirty,
    pte_mkclean,
    pte_mkdirty,
    pte_mknonnuma,
    pte_mknuma,
    pte_mkold,
    pte_mkspecial,
    pte_mkuffd_wp,
    pte_mkwrite,
    pte_mkyoung,
    pte_modify,
    pte_none,
    pte_numa,
    pte_present,
    pte_protnone,
    pte_select,
    pte_soft_dirty,
    pte_special,
    pte_uffd_wp,
    pte_write,
    pte_wrprotect,
    pte_young,
)
from numacheck.model.system import Citation
from numacheck.model.variant import TraceShape, Variant, build, trace_shape
from numacheck.model.variants import BUILTIN as VARIANTS

__all__ = [
    "AREAS", "FALSE", "MM", "PAGE_CHG_MASK", "PAGE_COPY", "PAGE_NONE", "PAGE_READONLY",
    "PAGE_SHARED", "PTE_NONE", "TRUE", "VARIANTS", "Citation", "Expr", "Instance", "ModelError",
    "Operation", "Pgprot", "Pte", "TraceShape", "Variant", "Vma", "all_", "any_", "build",
    "choices", "is_cow_mapping", "is_numa_hint", "ite", "maybe_mkwrite", "mk_pte", "operation",
    "pages", "processes", "pte_clear_soft_dirty", "pte_clear_uffd_wp", "pte_dirty", "pte_mkclean",
    "pte_mkdirty", "pte_mknonnuma", "pte_mknuma", "pte_mkold", "pte_mkspecial", "pte_mkuffd_wp",
    "pte_mkwrite", "pte_mkyoung", "pte_modify", "pte_none", "pte_numa", "pte_present",
    "pte_protnone", "pte_select", "pte_soft_dirty", "pte_special", "pte_uffd_wp",
    "pte_write", "pte_wrprotect", "pte_young", "trace_shape", "userfaultfd_pte_wp",
    "userfaultfd_wp", "vm_page_prot", "vma_is_accessible", "vma_soft_dirty_enabled",
    "vma_wants_manual_pte_write_upgrade",
]
