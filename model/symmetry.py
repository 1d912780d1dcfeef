"""What the PTE model treats alike: processes, the anonymous frames they allocate, and nodes.

Processes are interchangeable because every operation is instantiated for every process with
the same body and every property quantifies over all of them; the engine proves this by renaming
(``checker/engines/symmetry.py``), so a variant that singles out one process is caught.

Anonymous frames are interchangeable up to allocation.  Operations reach a frame only through a
PTE's pfn or a GUP's pinned page (equality with the frame's index) and the frame's own fields
(``select`` by pfn), except ``alloc_page_vma``, which takes the lowest free frame.  That choice
does not matter when all free frames look alike: every anonymous frame that no PTE and no pin
names is blank (freed frames are reset by ``free_unmapped_pages``), and no non-present PTE and
no GUP without a held reference names an anonymous frame (a free frame is one nothing maps or
holds).  Those two facts are the precondition the engine checks on every state.  The
model vouches for this only when every operation of the variant is one of the built-in eras'
operations (the same objects); a variant file's own operation, or an era factory given a rule of
the user's, could name a frame directly, so such a variant is explored without the frame
reduction (process symmetry, which the engine proves, still applies).

NUMA nodes are interchangeable on the same terms.  A node is a value (a task's numa_node_id, a
frame's page_to_nid) that operations only compare for equality with another node, copy from a
task, or range over whole (migrate_task_to takes every node); no operation or property names a
node.  A frame's node means nothing while the frame is free (an anonymous frame no PTE names,
reset to node 0 when freed) or, for shmem, not yet in the page cache; a permutation of nodes
leaves those at 0, which the precondition checks.  Vouched under the same condition as frames.

Page offsets are interchangeable too: every operation that acts on one page is instantiated for
every page with the same body, the others (mmap, mprotect, fork, clear_refs) treat all pages
alike, and every property quantifies over all of them.  Exchanging two offsets exchanges them
in every process at once, with the shmem page at that offset (its fields, and the pfns of PTEs
and pins naming it), a pending fault's page and a GUP's page; a task with no pending fault, or
no GUP under way, has that page reset to 0, which the precondition checks.  Vouched under the
same condition as frames.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from numacheck.model.builder import Step
from numacheck.model.expr import Expr, all_, any_, lift
from numacheck.model.instance import (
    FAULT_KINDS,
    GUP_STATES,
    Instance,
    frame_name,
    gup_name,
    pte_name,
    task_name,
)
from numacheck.model.mm import MM
from numacheck.model.operation import Operation
from numacheck.model.pte import pte_present
from numacheck.model.schema import Schema
from numacheck.model.system import Interchangeable


@functools.cache
def builtin_operations() -> frozenset[int]:
    """The operations of the built-in eras (imported here: the eras are built on this module)."""
    from numacheck.model.variants import BUILTIN

    return frozenset(id(op) for variant in BUILTIN.values() for op in variant.operations)


def process_fields(schema: Schema, p: int) -> tuple[str, ...]:
    """The fields of process ``p`` (its VMA, task and PTEs), in schema order, which is the same
    for every process."""
    return tuple(f.name for f in schema.fields if f.name.startswith(f"p{p}."))


def page_fields(schema: Schema, p: int, i: int) -> tuple[str, ...]:
    """The fields of PTE ``i`` of process ``p``, in schema order."""
    return tuple(f.name for f in schema.fields if f.name.startswith(f"p{p}.pte[{i}]."))


def frame_fields(schema: Schema, frame: str) -> tuple[str, ...]:
    """The fields of one frame (``anon0``), in schema order."""
    return tuple(f.name for f in schema.fields if f.name.startswith(f"{frame}."))


def frame_references(inst: Instance, schema: Schema) -> tuple[str, ...]:
    """The fields that name a frame: every PTE's pfn and (pin area) every GUP's pinned page."""
    ptes = tuple(pte_name(p, i, "pfn") for p in range(inst.processes) for i in range(inst.pages))
    pins = tuple(gup_name(p, "pin_pfn") for p in range(inst.processes))
    return ptes + tuple(name for name in pins if name in schema)


def _held(mm: MM, inst: Instance, schema: Schema) -> list[tuple[Expr, Expr]]:
    """Per process with a pin field, (whether its GUP holds a pin, the page it holds)."""
    return [(mm.gup_state(p, "pinned"), mm.gup(p, "pin_pfn")) for p in range(inst.processes)
            if gup_name(p, "pin_pfn") in schema]


def _gup_busy(mm: MM, p: int) -> Expr:
    """Whether a GUP of ``p`` is under way or holds a pin (its page means something)."""
    return mm.gup(p, "state").ne(GUP_STATES.index("none"))


def free_frames_blank(inst: Instance, schema: Schema) -> Expr:
    """Every anonymous frame no PTE and no held pin names is blank, no non-present PTE and no GUP
    without a held reference names one, a shmem page not in the page cache is on node 0, and a
    task with no pending fault (no GUP under way) has fault page (GUP page) 0."""
    mm = MM(inst, Step(schema))
    ptes = [mm.pte(p, i) for p, i in mm.ptes()]
    conds: list[Expr] = []
    for k in range(inst.anon_frames):
        named = _anon_named(inst, schema, k)
        frame = lift(inst.anon_frame(k))
        blank = ~mm.PageAnonExclusive(frame) & mm.page_to_nid(frame).eq(0)
        conds.append(named | blank)
    conds += [pte_present(pte) | ~mm.PageAnon(pte.pfn) for pte in ptes]
    conds += [pinned | ~mm.PageAnon(pfn) for pinned, pfn in _held(mm, inst, schema)]
    conds += [_gup_busy(mm, p) | mm.gup(p, "page").eq(0)
              for p in range(inst.processes) if gup_name(p, "page") in schema]
    conds += [mm.shmem_cached(i) | mm.page_to_nid(lift(inst.shmem_frame(i))).eq(0)
              for i in range(inst.pages)]
    conds += [_fault_pending(mm, p) | mm.step.read(task_name(p, "fault_page")).eq(0)
              for p in range(inst.processes)]
    return all_(conds)


def _fault_pending(mm: MM, p: int) -> Expr:
    """Whether the task of ``p`` has a fault awaiting its handler (its fault page means something)."""
    return mm.step.read(task_name(p, "fault")).ne(FAULT_KINDS.index("none"))


def _anon_named(inst: Instance, schema: Schema, k: int) -> Expr:
    """Whether some PTE or held pin names anonymous frame ``k`` (it is allocated)."""
    mm = MM(inst, Step(schema))
    return any_([*(mm.pte(p, i).pfn.eq(inst.anon_frame(k)) for p, i in mm.ptes()),
                 *(pinned & pfn.eq(inst.anon_frame(k)) for pinned, pfn in _held(mm, inst, schema))])


def interchangeable(inst: Instance, schema: Schema,
                    operations: Sequence[Operation]) -> tuple[Interchangeable, ...]:
    """The symmetry the model declares for a variant with ``operations`` on ``inst``."""
    return _declared(inst, schema, all(id(op) in builtin_operations() for op in operations))


@functools.cache
def _declared(inst: Instance, schema: Schema, builtin: bool) -> tuple[Interchangeable, ...]:
    """The declarations for ``inst``: processes always; frames, nodes and pages when every
    operation is the model's own (built once per instance)."""
    out = [Interchangeable("processes", tuple(process_fields(schema, p) for p in range(inst.processes)))]
    if builtin:
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
        out.append(Interchangeable(
            "nodes", (),
            references=(*(task_name(p, "numa_node_id") for p in range(inst.processes)),
                        *(frame_name(f"shmem{i}", "page_to_nid") for i in range(inst.pages)),
                        *(frame_name(f"anon{k}", "page_to_nid") for k in range(inst.anon_frames))),
            values=tuple(range(inst.nodes)),
            vouched=True,
            precondition=free_frames_blank(inst, schema),
            reason="nodes are only compared with each other, copied from a task or ranged over "
                   "whole; a free frame's node is reset to 0",
            live=(*(None for _ in range(inst.processes)),
                  *(MM(inst, Step(schema)).shmem_cached(i) for i in range(inst.pages)),
                  *(_anon_named(inst, schema, k) for k in range(inst.anon_frames))),
        ))
        out.append(_pages(inst, schema))
    return tuple(out)


def _pages(inst: Instance, schema: Schema) -> Interchangeable:
    """Page offsets: each offset's PTE in every process and its shmem page move together; the
    fields naming an offset are a pending fault's page and a GUP's page (by offset), and the
    pfns of PTEs and pins (by the shmem frame)."""
    mm = MM(inst, Step(schema))
    offsets, shmem = tuple(range(inst.pages)), tuple(inst.shmem_frame(i) for i in range(inst.pages))
    by_offset: list[tuple[str, Expr]] = [(task_name(p, "fault_page"), _fault_pending(mm, p))
                                         for p in range(inst.processes)]
    by_offset += [(gup_name(p, "page"), _gup_busy(mm, p)) for p in range(inst.processes)
                  if gup_name(p, "page") in schema]
    by_frame = list(frame_references(inst, schema))
    return Interchangeable(
        "pages",
        tuple((*(name for p in range(inst.processes) for name in page_fields(schema, p, i)),
               *frame_fields(schema, f"shmem{i}")) for i in range(inst.pages)),
        references=(*(name for name, _ in by_offset), *by_frame),
        values=offsets,
        values_by_reference=(*(offsets for _ in by_offset), *(shmem for _ in by_frame)),
        vouched=True,
        precondition=free_frames_blank(inst, schema),
        reason="every page operation is instantiated for every page alike and the others treat "
               "all pages alike; an idle task's fault page and GUP page are reset to 0",
        live=(*(live for _, live in by_offset), *(None for _ in by_frame)),
    )
