"""The memory-management state of an instance, read and written in the kernel's vocabulary.

:class:`MM` wraps a symbolic :class:`~numacheck.model.builder.Step` and offers what kernel code
uses: the VMA of a process and its ``vm_page_prot``, PTEs, ``page_mapcount``,
``PageAnonExclusive``, ``page_to_nid``, page allocation, ``vm_normal_page``.  Frames are named
by an integer expression (a PTE's pfn), so helpers select over all frames with ``ite``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from numacheck.model.builder import Step
from numacheck.model.expr import FALSE, TRUE, Expr, any_, count, ite, lift, select
from numacheck.model.instance import (
    FAULT_KINDS,
    GUP_STATES,
    Instance,
    frame_name,
    gup_name,
    pte_name,
    task_name,
    vma_name,
)
from numacheck.model.pte import (
    Pgprot,
    Pte,
    pte_mkwrite,
    pte_numa,
    pte_present,
    pte_protnone,
    pte_select,
)


@dataclass(frozen=True)
class Vma:
    """A VMA: whether the process maps the region, and its vm_flags.

    VM_SOFTDIRTY and VM_UFFD_WP belong to the softdirty and uffd areas; without the area they
    are constants: VM_SOFTDIRTY set (tracking off, as every new VMA starts), VM_UFFD_WP clear.
    """

    mapped: Expr
    VM_READ: Expr
    VM_WRITE: Expr
    VM_SHARED: Expr
    VM_SOFTDIRTY: Expr = TRUE
    VM_UFFD_WP: Expr = FALSE
    #: vma->vm_file is the shmem file: shared mappings, and MAP_PRIVATE ones (gup area).
    vm_file: Expr = FALSE


def vma_is_anonymous(vma: Vma) -> Expr:
    """vma_is_anonymous(): no file behind the VMA (the model's private anonymous mappings)."""
    return ~vma.vm_file


#: The boolean GUP fields (the others are numbers or enums).
GUP_BOOLS = ("write", "FOLL_WRITE", "FOLL_FORCE", "FOLL_COW", "VM_FAULT_WRITE", "FOLL_PIN")


def vma_soft_dirty_enabled(vma: Vma) -> Expr:
    """vma_soft_dirty_enabled() (mm/internal.h): VM_SOFTDIRTY *clear* means tracking is on."""
    return ~vma.VM_SOFTDIRTY


def userfaultfd_wp(vma: Vma) -> Expr:
    """userfaultfd_wp(): the VMA is registered for write-protect (VM_UFFD_WP)."""
    return vma.VM_UFFD_WP


def userfaultfd_pte_wp(vma: Vma, pte: Pte) -> Expr:
    """userfaultfd_pte_wp(): a uffd-wp registered VMA and a PTE with _PAGE_UFFD_WP."""
    return userfaultfd_wp(vma) & pte.uffd_wp


def pte_needs_soft_dirty_wp(vma: Vma, pte: Pte) -> Expr:
    """pte_needs_soft_dirty_wp() (mm/internal.h): tracking on and the PTE not soft-dirty, so a
    write must fault to mark it (76aefad628aa's polarity)."""
    return vma_soft_dirty_enabled(vma) & ~pte.soft_dirty


def vma_wants_writenotify(vma: Vma, uffd_writenotify: bool = True) -> Expr:
    """vma_wants_writenotify() for the model's shared mappings (mm/mmap.c).

    shmem has no page_mkwrite and no dirty accounting; what is left is soft-dirty tracking
    (``!(vm_flags & VM_SOFTDIRTY)``) and, from 51d3d5eb74ff (6.2), ``userfaultfd_wp(vma)``.
    Before 6.2 (``uffd_writenotify=False``) a uffd-wp registered shmem VMA keeps a writable
    vm_page_prot.
    """
    uffd = userfaultfd_wp(vma) if uffd_writenotify else FALSE
    return vma.VM_SHARED & vma.VM_WRITE & (vma_soft_dirty_enabled(vma) | uffd)


def vm_page_prot(vma: Vma, uffd_writenotify: bool = True) -> Pgprot:
    """vma->vm_page_prot as vma_set_page_prot() computes it from protection_map[] (x86).

    PROT_NONE gives PAGE_NONE; a private mapping gets PAGE_COPY (read-only) even with VM_WRITE,
    because write permission in a COW mapping comes only from a write fault; a shared writable
    mapping gets PAGE_SHARED unless vma_wants_writenotify() strips _PAGE_RW (soft-dirty
    tracking on, or a uffd-wp VMA from 6.2).  The model recomputes it from the flags wherever
    the kernel would (mmap, mprotect, clear_refs, and from 6.2 uffd register/unregister), so
    a function of the flags is enough; ``uffd_writenotify=False`` is 5.19-6.1's value.
    """
    accessible = vma_is_accessible(vma)
    shared_write = vma.VM_SHARED & vma.VM_WRITE & ~vma_wants_writenotify(vma, uffd_writenotify)
    return Pgprot(
        present=accessible,
        protnone=~accessible,
        write=shared_write,
    )


def vm_get_page_prot(vma: Vma) -> Pgprot:
    """vm_get_page_prot(vm_flags): protection_map[] alone, without vma_wants_writenotify().

    What uffd_wp_range() used before 931298e103c2, so a shared writable VMA got PAGE_SHARED
    whatever soft-dirty tracking wanted.
    """
    accessible = vma_is_accessible(vma)
    return Pgprot(present=accessible, protnone=~accessible, write=vma.VM_SHARED & vma.VM_WRITE)


def vma_is_accessible(vma: Vma) -> Expr:
    """vma_is_accessible(): VM_READ, VM_WRITE or VM_EXEC (no VM_EXEC in the model)."""
    return vma.VM_READ | vma.VM_WRITE


def is_cow_mapping(vma: Vma) -> Expr:
    """is_cow_mapping(): private and may become writable (VM_MAYWRITE, always set here)."""
    return ~vma.VM_SHARED


def maybe_mkwrite(pte: Pte, vma: Vma) -> Pte:
    """maybe_mkwrite(): pte_mkwrite() if the VMA has VM_WRITE, else the PTE unchanged."""
    made = pte_mkwrite(pte)
    return pte.with_(write=ite(vma.VM_WRITE, made.write, pte.write))


def vma_wants_manual_pte_write_upgrade(vma: Vma) -> Expr:
    """vma_wants_manual_pte_write_upgrade() (6.0+, include/linux/mm.h): private: VM_WRITE.

    Shared: vma_wants_writenotify(vma, vma->vm_page_prot), which for shmem (no page_mkwrite) is
    never true: without soft-dirty tracking or uffd-wp there is nothing to notify, and with them
    vm_page_prot has already lost _PAGE_RW, so its "open routine did something to the
    protections" test (vm_page_prot != vm_pgprot_modify(vm_page_prot, vm_flags)) returns 0
    first; mprotect_fixup() asks with the old vm_page_prot, which differs from the new flags'
    protection for every protection change.
    """
    return ~vma.VM_SHARED & vma.VM_WRITE


def is_numa_hint(pte: Pte, vma: Vma) -> Expr:
    """Whether ``pte`` is a NUMA hinting entry that a fault would send to do_numa_page().

    3.19: pte_numa().  4.0+: pte_protnone() in an accessible VMA (handle_pte_fault); in a
    PROT_NONE VMA the same bits are a real PROT_NONE mapping.
    """
    return pte_numa(pte) | (pte_protnone(pte) & vma_is_accessible(vma))


class MM:
    """All processes' VMAs and PTEs and all frames, over one symbolic step."""

    def __init__(self, inst: Instance, step: Step) -> None:
        self.inst = inst
        self.step = step

    def branch(self, cond: Expr, then: Callable[[MM], None],
               otherwise: Callable[[MM], None] | None = None) -> None:
        """Symbolic ``if``: run ``then`` or ``otherwise`` on this state (see Step.branch)."""
        other = None if otherwise is None else (lambda s: otherwise(MM(self.inst, s)))
        self.step.branch(cond, lambda s: then(MM(self.inst, s)), other)

    # VMAs and tasks -------------------------------------------------------------------------
    def vma(self, p: int) -> Vma:
        """The VMA of process ``p`` (flags of areas the instance lacks keep their constants;
        without the gup area only shared mappings map the shmem file)."""
        flags = {flag: self.step.read(vma_name(p, flag)) for flag in self.inst.vma_flags()}
        flags.setdefault("vm_file", flags["VM_SHARED"])
        return Vma(**flags)

    def set_vma(self, p: int, vma: Vma) -> None:
        """Replace the VMA of process ``p``."""
        for flag in self.inst.vma_flags():
            self.step.write(vma_name(p, flag), getattr(vma, flag))

    def task_node(self, p: int) -> Expr:
        """numa_node_id() of the task of process ``p``."""
        return self.step.read(task_name(p, "numa_node_id"))

    def set_task_node(self, p: int, node: Expr | int) -> None:
        """Move the task of process ``p`` to ``node``."""
        self.step.write(task_name(p, "numa_node_id"), node)

    def fault_pending(self, p: int, page: int, kind: str | None = None) -> Expr:
        """Whether ``p`` has an unhandled fault on ``page`` (of ``kind``, or any kind)."""
        fault = self.step.read(task_name(p, "fault"))
        on_page = self.step.read(task_name(p, "fault_page")).eq(page)
        if kind is None:
            return fault.ne(FAULT_KINDS.index("none")) & on_page
        return fault.eq(FAULT_KINDS.index(kind)) & on_page

    def fault_is_unshare(self, p: int) -> Expr:
        """FAULT_FLAG_UNSHARE of the pending fault of ``p`` (a GUP's R/O pin, 5.19+)."""
        return self.step.read(task_name(p, "fault")).eq(FAULT_KINDS.index("unshare"))

    def fault_is_write(self, p: int) -> Expr:
        """FAULT_FLAG_WRITE of the pending fault of ``p``."""
        return self.step.read(task_name(p, "fault")).eq(FAULT_KINDS.index("write"))

    def raise_fault(self, p: int, page: int, kind: str) -> None:
        """Record that an access of ``p`` to ``page`` trapped."""
        self.step.write(task_name(p, "fault"), FAULT_KINDS.index(kind))
        self.step.write(task_name(p, "fault_page"), page)

    def fault_done(self, p: int) -> None:
        """The pending fault of ``p`` has been handled; the task will retry the access (a GUP:
        faultin_page() returns and __get_user_pages() retries follow_page_pte())."""
        self.step.write(task_name(p, "fault"), FAULT_KINDS.index("none"))
        self.step.write(task_name(p, "fault_page"), 0)
        if self.inst.has_gup:
            retry = lift(GUP_STATES.index("retry"))
            self.set_gup(p, "state", ite(self.gup_state(p, "faultin"), retry, self.gup(p, "state")))

    # GUP (gup and pin areas) ------------------------------------------------------------------
    def gup(self, p: int, what: str) -> Expr:
        """A GUP field of process ``p`` (instance.GUP_FIELDS, ``state``, ``page``, ``FOLL_PIN``,
        ``pin_pfn``); without the area a GUP never starts: state none, flags clear."""
        name = gup_name(p, what)
        if name in self.step.schema:
            return self.step.read(name)
        return FALSE if what in GUP_BOOLS else lift(0)

    def set_gup(self, p: int, what: str, value: Expr | bool | int) -> None:
        """Assign a GUP field of process ``p`` (the instance must have it)."""
        self.step.write(gup_name(p, what), value)

    def gup_state(self, p: int, state: str) -> Expr:
        """Whether the GUP of ``p`` stands at ``state`` (instance.GUP_STATES)."""
        return self.gup(p, "state").eq(GUP_STATES.index(state))

    def gup_faulting(self, p: int) -> Expr:
        """The pending fault of ``p`` is its GUP's (faultin_page -> handle_mm_fault): it has no
        access check of its own, check_vma_flags() admitted the GUP."""
        return self.gup_state(p, "faultin")

    def mmap_write_lock(self, p: int) -> None:
        """mmap_write_lock(p's mm): wait for the readers.  __get_user_pages() runs under
        mmap_read_lock from its first follow to its return, so an operation that changes VMAs
        (mmap, munmap, mprotect, fork, mbind, clear_refs, uffd (un)register) cannot run while a
        GUP of ``p`` is between follow and retry; faults, madvise(MADV_DONTNEED) and
        UFFDIO_CONTINUE take the read lock and can."""
        self.step.require(~self.gup_state(p, "faultin") & ~self.gup_state(p, "retry"))

    def gup_pins(self, pfn: Expr) -> list[Expr]:
        """For each process, whether it holds a pin (FOLL_PIN) on frame ``pfn`` (pin area)."""
        return [self.gup_state(p, "pinned") & self.gup(p, "pin_pfn").eq(pfn)
                for p in range(self.inst.processes)]

    def page_count(self, pfn: Expr) -> Expr:
        """page_count(): the mappings plus the pins held (access_remote_vm's FOLL_GET reference
        lasts only within its step; the model has no swap cache, LRU or pagevec references)."""
        return self.page_mapcount(pfn) + count(self.gup_pins(pfn))

    def page_maybe_dma_pinned(self, pfn: Expr) -> Expr:
        """page_maybe_dma_pinned() (5.7+): some FOLL_PIN reference is held on the frame."""
        return any_(self.gup_pins(pfn))

    # PTEs -------------------------------------------------------------------------------------
    def _pte_fields(self) -> tuple[str, ...]:
        return (*self.inst.pte_bits(), "pfn")

    def pte(self, p: int, i: int) -> Pte:
        """The PTE of process ``p`` at page ``i`` (bits of areas the instance lacks read 0)."""
        return Pte(**{bit: self.step.read(pte_name(p, i, bit)) for bit in self._pte_fields()})

    def set_pte_at(self, p: int, i: int, pte: Pte) -> None:
        """set_pte_at(): store a PTE."""
        for bit in self._pte_fields():
            self.step.write(pte_name(p, i, bit), getattr(pte, bit))

    def shadow_write(self, p: int, i: int) -> Expr:
        """Ghost: the write bit the PTE would have had the NUMA scan never protected it."""
        return self.step.read(pte_name(p, i, "shadow_write"))

    def set_shadow_write(self, p: int, i: int, value: Expr | bool) -> None:
        """Ghost: update the shadow write bit."""
        self.step.write(pte_name(p, i, "shadow_write"), value)

    def ptes(self) -> list[tuple[int, int]]:
        """Every (process, page) pair."""
        return [(p, i) for p in range(self.inst.processes) for i in range(self.inst.pages)]

    # Frames -----------------------------------------------------------------------------------
    def is_zero_pfn(self, pfn: Expr) -> Expr:
        """is_zero_pfn(): the frame is the shared zero page."""
        return pfn.eq(0)

    def PageAnon(self, pfn: Expr) -> Expr:
        """PageAnon(): the frame is an anonymous page."""
        return pfn > self.inst.pages

    def page_mapcount(self, pfn: Expr) -> Expr:
        """page_mapcount(): how many PTEs (present, including hinted) map the frame."""
        return count(pte_present(pte) & pte.pfn.eq(pfn) for pte in self._all_ptes())

    def _all_ptes(self) -> list[Pte]:
        return [self.pte(p, i) for p, i in self.ptes()]

    def _anon_fields(self, attr: str) -> list[Expr]:
        return [self.step.read(frame_name(f"anon{k}", attr)) for k in range(self.inst.anon_frames)]

    def _frame_choices(self, zero: Expr, shmem: str, anon: str) -> list[Expr]:
        return [zero, *(self.step.read(frame_name(f"shmem{i}", shmem)) for i in range(self.inst.pages)),
                *self._anon_fields(anon)]

    def PageAnonExclusive(self, pfn: Expr) -> Expr:
        """PageAnonExclusive() (5.19+; the model keeps the flag in every era, see README)."""
        return select(pfn, [FALSE] * (1 + self.inst.pages) + self._anon_fields("PageAnonExclusive"))

    def set_PageAnonExclusive(self, pfn: Expr, value: Expr | bool) -> None:
        """SetPageAnonExclusive()/ClearPageAnonExclusive() on an anonymous frame."""
        for k in range(self.inst.anon_frames):
            name = frame_name(f"anon{k}", "PageAnonExclusive")
            self.step.write(name, ite(pfn.eq(self.inst.anon_frame(k)), value, self.step.read(name)))

    def page_to_nid(self, pfn: Expr) -> Expr:
        """page_to_nid(): the node the frame lives on (the zero page counts as node 0)."""
        return select(pfn, self._frame_choices(lift(0), "page_to_nid", "page_to_nid"))

    def set_page_nid(self, pfn: Expr, node: Expr | int) -> None:
        """Move a frame to ``node`` (a migration copies it to a page there)."""
        for i in range(self.inst.pages):
            name = frame_name(f"shmem{i}", "page_to_nid")
            self.step.write(name, ite(pfn.eq(self.inst.shmem_frame(i)), node, self.step.read(name)))
        for k in range(self.inst.anon_frames):
            name = frame_name(f"anon{k}", "page_to_nid")
            self.step.write(name, ite(pfn.eq(self.inst.anon_frame(k)), node, self.step.read(name)))

    def shmem_cached(self, page: int) -> Expr:
        """Whether shmem page ``page`` is in the page cache."""
        return self.step.read(frame_name(f"shmem{page}", "in_page_cache"))

    def shmem_getpage(self, page: int, node: Expr) -> Expr:
        """shmem_get_folio(): the page-cache page, allocated on ``node`` on first use."""
        cached = self.shmem_cached(page)
        nid = frame_name(f"shmem{page}", "page_to_nid")
        self.step.write(nid, ite(cached, self.step.read(nid), node))
        self.step.write(frame_name(f"shmem{page}", "in_page_cache"), TRUE)
        return lift(self.inst.shmem_frame(page))

    def alloc_anon_page(self, node: Expr) -> tuple[Expr, Expr]:
        """alloc_page_vma(): the lowest free anonymous frame, placed on ``node``.

        Returns (found, pfn).  The new page is exclusive (page_add_new_anon_rmap).  With one
        frame per PTE a free frame always exists when a fault needs one; ``found`` is still
        returned so callers can model VM_FAULT_OOM rather than silently block.
        """
        free = [self.page_count(lift(self.inst.anon_frame(k))).eq(0)
                for k in range(self.inst.anon_frames)]
        pfn: Expr = lift(0)
        for k in range(self.inst.anon_frames - 1, -1, -1):
            pfn = ite(free[k], self.inst.anon_frame(k), pfn)
        self.set_page_nid(pfn, node)
        self.set_PageAnonExclusive(pfn, TRUE)
        return any_(free), pfn

    def free_unmapped_pages(self) -> None:
        """Release anonymous frames no PTE maps and no GUP holds (the last put_page frees it).

        A freed frame's flags return to their defaults, so that equal memory states are equal
        model states.
        """
        for k in range(self.inst.anon_frames):
            unused = self.page_count(lift(self.inst.anon_frame(k))).eq(0)
            for attr, reset in (("PageAnonExclusive", FALSE), ("page_to_nid", lift(0))):
                name = frame_name(f"anon{k}", attr)
                self.step.write(name, ite(unused, reset, self.step.read(name)))

    def vm_normal_page(self, pte: Pte) -> Expr:
        """Whether vm_normal_page() finds a struct page: false for special (zero-page) PTEs."""
        return ~pte.special

    def can_change_pte_writable(self, vma: Vma, pte: Pte,
                                needs_soft_dirty_wp: Callable[[Vma, Pte], Expr] = pte_needs_soft_dirty_wp
                                ) -> Expr:
        """can_change_pte_writable() (6.2, mm/mprotect.c, after d84887739d5c).

        VM_WRITE; not protnone; no write fault needed for soft-dirty tracking
        (``needs_soft_dirty_wp``: 76aefad628aa's test unless an era passes its own) or for uffd-wp
        (userfaultfd_pte_wp); a private mapping needs an exclusive anonymous page, a shared one
        a dirty PTE.
        """
        private_ok = self.vm_normal_page(pte) & self.PageAnon(pte.pfn) & self.PageAnonExclusive(pte.pfn)
        tracking_ok = ~needs_soft_dirty_wp(vma, pte) & ~userfaultfd_pte_wp(vma, pte)
        return (vma.VM_WRITE & ~pte_protnone(pte) & tracking_ok
                & ite(vma.VM_SHARED, pte.dirty, private_ok))

    def try_change_writable(self, vma: Vma, ptent: Pte,
                            needs_soft_dirty_wp: Callable[[Vma, Pte], Expr] = pte_needs_soft_dirty_wp
                            ) -> Expr:
        """Whether change_pte_range() under MM_CP_TRY_CHANGE_WRITABLE (6.0+, mm/mprotect.c) makes
        ``ptent`` writable without a fault: the VMA wants manual write upgrades (private:
        VM_WRITE; shared: writenotify, never for shmem), the entry is not writable yet, and
        can_change_pte_writable() allows it (``needs_soft_dirty_wp`` as there)."""
        return (vma_wants_manual_pte_write_upgrade(vma) & ~ptent.write
                & self.can_change_pte_writable(vma, ptent, needs_soft_dirty_wp))

    # Ghost maintenance --------------------------------------------------------------------------
    def finish(self) -> None:
        """Keep the ghost shadow write bit only while its PTE is still a NUMA hint.

        Any operation that turns a hint back into an ordinary entry (the hinting fault,
        mprotect, munmap, migration of the page) ends what the shadow bit is about; resetting it
        there keeps equal memory states equal.  Only PTEs the step touched are considered.
        """
        touched = self.step.written()
        for p, i in self.ptes():
            names = ([pte_name(p, i, bit) for bit in self._pte_fields()]
                     + [vma_name(p, f) for f in self.inst.vma_flags()])
            name = pte_name(p, i, "shadow_write")
            if name in touched or any(n in touched for n in names):
                hint = is_numa_hint(self.pte(p, i), self.vma(p))
                self.set_shadow_write(p, i, self.shadow_write(p, i) & hint)

    def keep_pte(self, p: int, i: int, cond: Expr, pte: Pte) -> None:
        """Store ``pte`` where ``cond`` holds, keep the current entry elsewhere."""
        self.set_pte_at(p, i, pte_select(cond, pte, self.pte(p, i)))
