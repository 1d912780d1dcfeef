"""Instance sizes and the state schema of the PTE model.

An instance fixes how many processes (each with one VMA), pages per VMA and NUMA nodes there
are.  Frames follow from it: frame 0 is the zero page, then one shmem page per page offset (the
page cache of the one shmem file every shared mapping maps), then enough anonymous frames for
every PTE to map a private page of its own, so an allocation can always succeed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from numacheck.model.expr import ModelError
from numacheck.model.schema import Field, Schema, bool_field, enum_field, int_field

#: Upper bounds on sizes; above them a packed state or the action list grows past anything an
#: engine here can explore, so asking for them is a usage error rather than a long wait.
MAX_PROCESSES = 4
MAX_PAGES = 4
MAX_NODES = 4

#: The access a pending fault is for; ``unshare`` is FAULT_FLAG_UNSHARE (5.19+, raised only by a
#: GUP that R/O-pins a possibly shared anonymous page: do_wp_page() without a write).
FAULT_KINDS = ("none", "read", "write", "unshare")

#: Kernel areas an instance may cover.  ``numa`` is the base model (VMAs, faults, COW, fork,
#: NUMA balancing); ``softdirty`` adds the soft-dirty bits and clear_refs, ``uffd`` the
#: userfaultfd write-protect bits and ioctls; ``gup`` the kernel's accesses to another task's
#: memory through get_user_pages() (access_remote_vm: /proc/PID/mem, ptrace, FOLL_FORCE), the
#: shmem file mapped MAP_PRIVATE, MADV_DONTNEED and UFFDIO_CONTINUE; ``pin`` pin_user_pages()
#: references that outlive the call (FOLL_PIN) and the COW rules that must respect them.  Both
#: GUP areas share the GUP's per-process state and its retry (follow_page_pte).  An area's fields
#: and operations exist only on an instance that covers it, so a run without it has exactly the
#: base model's states.
AREAS = ("numa", "softdirty", "uffd", "gup", "pin")
#: The areas that run get_user_pages() (and so have the per-process GUP fields).
GUP_AREAS = frozenset({"gup", "pin"})
DEFAULT_AREAS = frozenset({"numa"})

#: PTE bits the model keeps, with the name x86 gives them (arch/x86/include/asm/pgtable_types.h).
PTE_BITS = {
    "present": "_PAGE_PRESENT",
    "protnone": "_PAGE_PROTNONE",
    "numa": "_PAGE_NUMA",
    "write": "_PAGE_RW",
    "dirty": "_PAGE_DIRTY",
    "young": "_PAGE_ACCESSED",
    "special": "_PAGE_SPECIAL",
}

#: VMA state the model keeps: whether the VMA exists, then its vm_flags.
VMA_FLAGS = ("mapped", "VM_READ", "VM_WRITE", "VM_SHARED")

#: PTE bits and VMA flags of the optional areas, by area (x86 names as above).
AREA_PTE_BITS = {"softdirty": {"soft_dirty": "_PAGE_SOFT_DIRTY"}, "uffd": {"uffd_wp": "_PAGE_UFFD_WP"}}
#: ``vm_file``: the VMA maps the shmem file (shared, or MAP_PRIVATE in the gup area); without
#: the gup area only shared mappings do, and the flag reads as VM_SHARED.
AREA_VMA_FLAGS = {"softdirty": ("VM_SOFTDIRTY",), "uffd": ("VM_UFFD_WP",), "gup": ("vm_file",)}

#: Where a GUP of a process stands: none; faultin (follow_page_pte() found no usable page and
#: faultin_page()'s fault is pending); retry (the fault was handled, follow_page_pte() is next);
#: pinned (pin area: the GUP returned and keeps its reference until unpin_user_page()).
GUP_STATES = ("none", "faultin", "retry", "pinned")
#: The per-process GUP fields (gup area): the caller's access, the page, gup_flags, and the
#: VM_FAULT_WRITE that handle_mm_fault() returned to faultin_page() on the last fault.
GUP_FIELDS = ("write", "FOLL_WRITE", "FOLL_FORCE", "FOLL_COW", "VM_FAULT_WRITE")


def _all_areas_instance() -> Instance:
    return Instance(processes=1, pages=1, nodes=2, areas=frozenset(AREAS))


class InstanceError(ModelError):
    """An instance size that cannot be built."""


@dataclass(frozen=True)
class Instance:
    """The sizes of one model instance."""

    processes: int = 2
    pages: int = 1
    nodes: int = 2
    #: The kernel areas covered (see AREAS); ``numa`` is always among them.
    areas: frozenset[str] = DEFAULT_AREAS

    def __post_init__(self) -> None:
        object.__setattr__(self, "areas", frozenset(self.areas))
        unknown = sorted(self.areas - set(AREAS))
        if unknown:
            raise InstanceError(f"--areas: unknown area {unknown[0]!r}; areas: {', '.join(AREAS)}")
        if "numa" not in self.areas:
            raise InstanceError("--areas must include numa, the base model every other area extends")
        for name, value, top in (
            ("processes", self.processes, MAX_PROCESSES),
            ("pages", self.pages, MAX_PAGES),
            ("nodes", self.nodes, MAX_NODES),
        ):
            if not isinstance(value, int) or not 1 <= value <= top:
                raise InstanceError(f"--{name} must be between 1 and {top}, got {value}")

    @property
    def anon_frames(self) -> int:
        """Anonymous frames: one per (process, page), so a COW copy always finds a free frame,
        and with pins one more per process, for the page its pin keeps after it is unmapped."""
        return self.processes * self.pages + (self.processes if "pin" in self.areas else 0)

    @property
    def frames(self) -> int:
        """All frames: zero page, shmem pages, anonymous pages."""
        return 1 + self.pages + self.anon_frames

    def frame_names(self) -> tuple[str, ...]:
        """Display names of the frames, indexed like the ``pfn`` field of a PTE."""
        shmem = tuple(f"shmem{i}" for i in range(self.pages))
        anon = tuple(f"anon{k}" for k in range(self.anon_frames))
        return ("zero_page", *shmem, *anon)

    def shmem_frame(self, page: int) -> int:
        """The frame index of shmem page ``page``."""
        return 1 + page

    def anon_frame(self, k: int) -> int:
        """The frame index of anonymous frame ``k``."""
        return 1 + self.pages + k

    def sizes(self) -> dict[str, int]:
        """The sizes by option name (``processes``, ``pages``, ``nodes``)."""
        return {"processes": self.processes, "pages": self.pages, "nodes": self.nodes}

    @property
    def has_gup(self) -> bool:
        """Whether get_user_pages() runs here (the gup or the pin area)."""
        return bool(self.areas & GUP_AREAS)

    def area_names(self) -> tuple[str, ...]:
        """The areas covered, in the order of AREAS."""
        return tuple(a for a in AREAS if a in self.areas)

    def pte_bits(self) -> dict[str, str]:
        """The PTE bits this instance keeps: the base bits, then those of its areas."""
        out = dict(PTE_BITS)
        for area in self.area_names():
            out.update(AREA_PTE_BITS.get(area, {}))
        return out

    def vma_flags(self) -> tuple[str, ...]:
        """The VMA flags this instance keeps: the base flags, then those of its areas."""
        return VMA_FLAGS + tuple(f for area in self.area_names() for f in AREA_VMA_FLAGS.get(area, ()))

    def describe(self) -> str:
        """The sizes in words (and the areas, when more than the base model)."""
        sizes = f"{self.processes} processes x {self.pages} pages, {self.nodes} nodes"
        if self.areas == DEFAULT_AREAS:
            return sizes
        return f"{sizes}, areas {'+'.join(self.area_names())}"


#: Where a run without --areas checks the properties of the areas beyond numa: every area on,
#: the smallest instance with two nodes (a few seconds for every era).
AREA_INSTANCE = _all_areas_instance()
#: Where a run without --areas checks the pin area's properties: two processes (a pin and the
#: fork that shares its page need one each), one page, one node, and only the pin area beside
#: numa: with every area on, two processes have millions of states.
PIN_INSTANCE = Instance(processes=2, pages=1, nodes=1, areas=frozenset({"numa", "pin"}))


def area_instance(area: str) -> Instance:
    """The small all-areas instance on which a run without --areas checks ``area``'s properties."""
    return PIN_INSTANCE if area == "pin" else AREA_INSTANCE


def pte_name(p: int, i: int, bit: str) -> str:
    """Field name of one part of the PTE of process ``p``, page ``i``: ``bit`` is a :class:`Pte`
    attribute (``write`` -> ``p0.pte[0]._PAGE_RW``), ``pfn`` or ``shadow_write``."""
    label = PTE_BITS.get(bit) or next((b[bit] for b in AREA_PTE_BITS.values() if bit in b), bit)
    return f"p{p}.pte[{i}].{label}"


def vma_name(p: int, flag: str) -> str:
    """Field name of one VMA flag of process ``p`` (``p0.vma.VM_WRITE``)."""
    return f"p{p}.vma.{flag}"


def task_name(p: int, what: str) -> str:
    """Field name of the task of process ``p``: ``numa_node_id``, ``fault`` or ``fault_page``."""
    return f"p{p}.task.{what}"


def gup_name(p: int, what: str) -> str:
    """Field name of the GUP of process ``p``: ``state``, ``page``, ``pin_pfn``, ``FOLL_PIN`` or
    one of GUP_FIELDS (``p0.gup.FOLL_FORCE``)."""
    return f"p{p}.gup.{what}"


def frame_name(frame: str, what: str) -> str:
    """Field name of a frame's ``PageAnonExclusive``, ``page_to_nid`` or ``in_page_cache``."""
    return f"{frame}.{what}"


#: The shared NUMA policy flag of the one shmem file.
SHMEM_MOF = "shmem.MPOL_F_MOF"


def _place(name: str) -> dict[str, str]:
    """Group and label of a field, read off its name: ``p0.pte[0]`` and ``_PAGE_RW``."""
    group, label = name.rsplit(".", 1)
    return {"group": group, "label": label}


def _gup_fields(inst: Instance, p: int) -> list[Field]:
    state, page = gup_name(p, "state"), gup_name(p, "page")
    out = [enum_field(state, GUP_STATES, **_place(state),
                      doc="Where the GUP of this process stands (mm/gup.c __get_user_pages())."),
           int_field(page, 0, inst.pages - 1, **_place(page))]
    out += [bool_field(gup_name(p, f), **_place(gup_name(p, f))) for f in GUP_FIELDS]
    if "pin" in inst.areas:
        pin, pfn = gup_name(p, "FOLL_PIN"), gup_name(p, "pin_pfn")
        out.append(bool_field(pin, **_place(pin), doc="The GUP is pin_user_pages() (FOLL_PIN): it "
                              "keeps its reference after the call, unlike access_remote_vm's "
                              "FOLL_GET, dropped after the copy."))
        out.append(enum_field(pfn, inst.frame_names(), **_place(pfn),
                              doc="The page the pin holds (zero_page while not pinned)."))
    return out


@functools.cache
def schema(inst: Instance) -> Schema:
    """The state schema of the PTE model for ``inst`` (built once per instance).

    Every field is named the kernel's way, ``<object>.<field>`` (``p0.pte[0]._PAGE_RW``,
    ``p1.vma.VM_WRITE``, ``anon0.PageAnonExclusive``), and that one spelling is used by every
    report, trace file and invariant.
    """
    fields: list[Field] = []
    frames = inst.frame_names()
    for p in range(inst.processes):
        for flag in inst.vma_flags():
            fields.append(bool_field(vma_name(p, flag), **_place(vma_name(p, flag))))
        node, fault, page = (task_name(p, w) for w in ("numa_node_id", "fault", "fault_page"))
        fields.append(int_field(node, 0, inst.nodes - 1, **_place(node)))
        fields.append(enum_field(fault, FAULT_KINDS, **_place(fault),
                                 doc="The access that trapped and awaits its fault handler."))
        fields.append(int_field(page, 0, inst.pages - 1, **_place(page)))
        if inst.has_gup:
            fields.extend(_gup_fields(inst, p))
        for i in range(inst.pages):
            for bit in inst.pte_bits():
                fields.append(bool_field(pte_name(p, i, bit), **_place(pte_name(p, i, bit))))
            pfn, shadow = pte_name(p, i, "pfn"), pte_name(p, i, "shadow_write")
            fields.append(enum_field(pfn, frames, **_place(pfn)))
            fields.append(
                bool_field(
                    shadow,
                    **_place(shadow),
                    ghost=True,
                    doc="Whether the PTE would be writable now had the NUMA scan never "
                    "protected it: the write bit at scan time, cleared by every later "
                    "operation that write-protects the PTE (fork's COW).",
                )
            )
    fields.append(bool_field(SHMEM_MOF, **_place(SHMEM_MOF),
                             doc="mbind(MPOL_BIND | MPOL_F_NUMA_BALANCING) set a shared policy "
                             "with MPOL_F_MOF on the shmem file (5.12+); without it "
                             "vma_policy_mof() is false and task_numa_work() skips the VMA."))
    for i in range(inst.pages):
        cached, nid = frame_name(f"shmem{i}", "in_page_cache"), frame_name(f"shmem{i}", "page_to_nid")
        fields.append(bool_field(cached, **_place(cached)))
        fields.append(int_field(nid, 0, inst.nodes - 1, **_place(nid)))
    for k in range(inst.anon_frames):
        excl, nid = frame_name(f"anon{k}", "PageAnonExclusive"), frame_name(f"anon{k}", "page_to_nid")
        fields.append(bool_field(excl, **_place(excl)))
        fields.append(int_field(nid, 0, inst.nodes - 1, **_place(nid)))
    return Schema(tuple(fields))
