"""The PTE model: its expression language, state, kernel helpers, operations and eras.

A user variant file imports what it needs from here; see README ("Checking a patch").
"""

from numacheck.model.expr import FALSE, TRUE, Expr, ModelError, all_, any_, ite
from numacheck.model.instance import Instance
from numacheck.model.mm import MM, Vma, is_numa_hint, maybe_mkwrite, vm_page_prot
from numacheck.model.operation import Operation, choices, operation, pages, processes
from numacheck.model.pte import Pgprot, Pte, mk_pte, pte_mkwrite, pte_mkyoung, pte_modify, pte_select
from numacheck.model.system import Citation
from numacheck.model.variant import Variant, build
from numacheck.model.variants import BUILTIN as VARIANTS

__all__ = [
    "FALSE", "MM", "TRUE", "VARIANTS", "Citation", "Expr", "Instance", "ModelError", "Operation",
    "Pgprot", "Pte", "Variant", "Vma", "all_", "any_", "build", "choices", "is_numa_hint", "ite",
    "maybe_mkwrite", "mk_pte", "operation", "pages", "processes", "pte_mkwrite", "pte_mkyoung",
    "pte_modify", "pte_select", "vm_page_prot",
]
