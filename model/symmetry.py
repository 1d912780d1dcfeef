"""What the PTE model treats alike: processes, and the anonymous frames they allocate.

Processes are interchangeable because every operation is instantiated for every process with
the same body and every property quantifies over all of them; the engine proves this by renaming
(``checker/engines/symmetry.py``), so a variant that singles out one process is caught.

Anonymous frames are interchangeable up to allocation.  Operations reach a frame only through a
PTE's pfn or a GUP's pinned page (equality with the frame's index) and the frame's own fields
(``select`` by pfn), except
``alloc_page_vma``, which takes the lowest free frame.  That choice does not matter when all free
frames look alike: every anonymous frame that no PTE names is blank (freed frames are reset by
``free_unmapped_pages``), and no non-present PTE names an anonymous frame (a free frame is one no
present PTE maps).  Those two facts are the precondition the engine checks on every state.  The
model vouches for this only when every operation of the variant is one of the built-in eras'
operations (the same objects); a variant file's own operation, or an era factory given a rule of
the user's, could name a frame directly, so such a variant is explored without the frame
reduction (process symmetry, which the engine proves, still applies).
"""

from __future__ import annotations

from collections.abc import Sequence

from numacheck.model.builder import Step
from numacheck.model.expr import Expr, all_, any_, lift
from numacheck.model.instance import Instance, gup_name, pte_name
from numacheck.model.mm import MM
from numacheck.model.operation import Operation
from numacheck.model.pte import pte_present
from numacheck.model.schema import Schema
from numacheck.model.system import Interchangeable


def _builtin_operations() -> set[int]:
    """The operations of the built-in eras (imported here: the eras are built on this module)."""
    from numacheck.model.variants import BUILTIN

    return {id(op) for variant in BUILTIN.values() for op in variant.operations}


def process_fields(schema: Schema, p: int) -> tuple[str, ...]:
    """The fields of process ``p`` (its VMA, task and PTEs), in schema order, which is the same
    for every process."""
    return tuple(f.name for f in schema.fields if f.name.startswith(f"p{p}."))


def frame_fields(schema: Schema, frame: str) -> tuple[str, ...]:
    """The fields of one frame (``anon0``), in schema order."""
    return tuple(f.name for f in schema.fields if f.name.startswith(f"{frame}."))


def frame_references(inst: Instance, schema: Schema) -> tuple[str, ...]:
    """The fields that name a frame: every PTE's pfn and (pin area) every GUP's pinned page."""
    ptes = tuple(pte_name(p, i, "pfn") for p in range(inst.processes) for i in range(inst.pages))
    pins = tuple(gup_name(p, "pin_pfn") for p in range(inst.processes))
    return ptes + tuple(name for name in pins if name in schema)


def free_frames_blank(inst: Instance, schema: Schema) -> Expr:
    """Every anonymous frame no PTE and no held GUP reference names is blank, and no
    non-present PTE and no GUP without a reference names one."""
    mm = MM(inst, Step(schema))
    ptes = [mm.pte(p, i) for p, i in mm.ptes()]
    held = [(mm.gup_state(p, "pinned"), mm.gup(p, "pin_pfn")) for p in range(inst.processes)
            if gup_name(p, "pin_pfn") in schema]
    conds: list[Expr] = []
    for k in range(inst.anon_frames):
        named = any_([*(pte.pfn.eq(inst.anon_frame(k)) for pte in ptes),
                      *(pinned & pfn.eq(inst.anon_frame(k)) for pinned, pfn in held)])
        frame = lift(inst.anon_frame(k))
        blank = ~mm.PageAnonExclusive(frame) & mm.page_to_nid(frame).eq(0)
        conds.append(named | blank)
    conds += [pte_present(pte) | ~mm.PageAnon(pte.pfn) for pte in ptes]
    conds += [pinned | ~mm.PageAnon(pfn) for pinned, pfn in held]
    return all_(conds)


def interchangeable(inst: Instance, schema: Schema,
                    operations: Sequence[Operation]) -> tuple[Interchangeable, ...]:
    """The symmetry the model declares for a variant with ``operations`` on ``inst``."""
    out = [Interchangeable("processes", tuple(process_fields(schema, p) for p in range(inst.processes)))]
    if all(id(op) in _builtin_operations() for op in operations):
        out.append(Interchangeable(
            "anonymous frames",
            tuple(frame_fields(schema, f"anon{k}") for k in range(inst.anon_frames)),
            references=frame_references(inst, schema),
            values=tuple(inst.anon_frame(k) for k in range(inst.anon_frames)),
            vouched=True,
            precondition=free_frames_blank(inst, schema),
            reason="frames are reached only through pfn equality and their own fields; "
                   "allocation takes the lowest free frame, and free frames are blank",
        ))
    return tuple(out)
