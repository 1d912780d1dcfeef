"""What the PTE model treats alike: processes, and the anonymous frames they allocate.

Processes are interchangeable because every operation is instantiated for every process with
the same body and every property quantifies over all of them; the engine proves this by renaming
(``checker/symmetry.py``), so a variant that singles out one process is caught.

Anonymous frames are interchangeable up to allocation.  Operations reach a frame only through a
PTE's pfn (equality with the frame's index) and the frame's own fields (``select`` by pfn), except
``alloc_page_vma``, which takes the lowest free frame.  That choice does not matter when all free
frames look alike: every anonymous frame that no PTE names is blank (freed frames are reset by
``free_unmapped_pages``), and no non-present PTE names an anonymous frame (a free frame is one no
present PTE maps).  Those two facts are the precondition the engine checks on every state.  The
model vouches for this only when every operation of the variant is one of the model's own
(``numacheck.model.ops``); a user's operation could name a frame directly, so a variant file with
its own operations is explored without the frame reduction.
"""

from __future__ import annotations

from collections.abc import Sequence

from numacheck.model.builder import Step
from numacheck.model.expr import Expr, all_, any_, lift
from numacheck.model.instance import Instance, pte_name, vma_name
from numacheck.model.mm import MM
from numacheck.model.operation import Operation
from numacheck.model.pte import pte_present
from numacheck.model.schema import Schema
from numacheck.model.system import Interchangeable

_MODEL_OPS = "numacheck.model.ops."


def process_fields(inst: Instance, p: int) -> tuple[str, ...]:
    """The fields of process ``p``, in the same order for every process (the areas' VMA flags
    and PTE bits included)."""
    fields = [vma_name(p, flag) for flag in inst.vma_flags()]
    fields += [f"p{p}.node", f"p{p}.fault", f"p{p}.fault_page"]
    for i in range(inst.pages):
        fields += [pte_name(p, i, bit) for bit in (*inst.pte_bits(), "pfn", "shadow_write")]
    return tuple(fields)


def free_frames_blank(inst: Instance, schema: Schema) -> Expr:
    """Every anonymous frame no PTE names is blank, and no non-present PTE names one."""
    mm = MM(inst, Step(schema))
    ptes = [mm.pte(p, i) for p, i in mm.ptes()]
    conds: list[Expr] = []
    for k in range(inst.anon_frames):
        named = any_(pte.pfn.eq(inst.anon_frame(k)) for pte in ptes)
        frame = lift(inst.anon_frame(k))
        blank = ~mm.PageAnonExclusive(frame) & mm.page_to_nid(frame).eq(0)
        conds.append(named | blank)
    conds += [pte_present(pte) | ~mm.PageAnon(pte.pfn) for pte in ptes]
    return all_(conds)


def interchangeable(inst: Instance, schema: Schema,
                    operations: Sequence[Operation]) -> tuple[Interchangeable, ...]:
    """The symmetry the model declares for a variant with ``operations`` on ``inst``."""
    out = [Interchangeable("processes", tuple(process_fields(inst, p) for p in range(inst.processes)))]
    if all(op.body.__module__.startswith(_MODEL_OPS) for op in operations):
        out.append(Interchangeable(
            "anonymous frames",
            tuple((f"anon{k}.exclusive", f"anon{k}.node") for k in range(inst.anon_frames)),
            references=tuple(pte_name(p, i, "pfn") for p in range(inst.processes)
                             for i in range(inst.pages)),
            values=tuple(inst.anon_frame(k) for k in range(inst.anon_frames)),
            vouched=True,
            precondition=free_frames_blank(inst, schema),
            reason="frames are reached only through pfn equality and their own fields; "
                   "allocation takes the lowest free frame, and free frames are blank",
        ))
    return tuple(out)
