"""get_user_pages() and the references it returns (gup and pin areas).

A GUP runs as __get_user_pages() does, in three kinds of step: the call, whose first
follow_page_pte() either finds a page it may use (the GUP completes: the kernel reads or writes
the page, or keeps a reference to it) or makes faultin_page() raise a fault; the fault, handled
by the ordinary handlers (model/ops/fault.py, model/ops/numa.py) without an access check; and
the retry, where faultin_page()'s tail acts on the handler's VM_FAULT_WRITE and follow_page_pte()
runs again.  Other threads of the process (madvise(MADV_DONTNEED), UFFDIO_CONTINUE, faults) may
run between those steps; what takes mmap_lock for write may not (MM.mmap_write_lock).

Each era's rules are one row of GUP_RULES, side by side: can_follow_write_pte() (pte_write alone
<= 4.8; FOLL_COW and pte_dirty from 19be0eaffa3a; the exclusive-anonymous test of 5535be309971),
faultin_page()'s flag game, when follow_page_pte() follows a protnone PTE (FOLL_NUMA,
d74943a2f3cd), the 5.8 forced COW break, the 5.19 unshare of R/O pins, fork's copy of pinned
pages and how UFFDIO_CONTINUE maps a page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from numacheck.model.diagnose import lookup
from numacheck.model.expr import FALSE, TRUE, Expr, ite
from numacheck.model.instance import FAULT_KINDS, GUP_STATES, task_name
from numacheck.model.mm import (
    MM,
    Vma,
    is_cow_mapping,
    pte_needs_soft_dirty_wp,
    userfaultfd_pte_wp,
    vm_page_prot,
    vma_is_accessible,
)
from numacheck.model.operation import Operation, choices, operation, pages, per_rule, processes
from numacheck.model.pte import (
    PTE_NONE,
    Pte,
    mk_pte,
    pte_mkdirty,
    pte_mkwrite,
    pte_none,
    pte_present,
    pte_protnone,
    pte_select,
)
from numacheck.model.system import Citation


@dataclass(frozen=True)
class Foll:
    """The gup_flags of one GUP, and what its caller does with the page (``write``)."""

    write: Expr
    FOLL_WRITE: Expr
    FOLL_FORCE: Expr
    FOLL_COW: Expr
    FOLL_PIN: Expr


def _saved_foll(mm: MM, p: int) -> Foll:
    return Foll(*(mm.gup(p, f) for f in ("write", "FOLL_WRITE", "FOLL_FORCE", "FOLL_COW", "FOLL_PIN")))


# can_follow_write_pte() ---------------------------------------------------------------------

def _follow_write_pte_write(mm: MM, pte: Pte, vma: Vma, foll: Foll) -> Expr:
    # <= 4.8: follow_page_pte(): `if ((flags & FOLL_WRITE) && !pte_write(pte)) return NULL;`
    return pte.write


def _follow_write_foll_cow(mm: MM, pte: Pte, vma: Vma, foll: Foll) -> Expr:
    # 19be0eaffa3a (4.9), again from a308c71bf1e6 (5.9): pte_write(pte) || ((flags &
    # FOLL_FORCE) && (flags & FOLL_COW) && pte_dirty(pte))
    return pte.write | foll.FOLL_FORCE & foll.FOLL_COW & pte.dirty


def _follow_write_forced_cow(mm: MM, pte: Pte, vma: Vma, foll: Foll) -> Expr:
    # 17839856fd58 (5.8): pte_write(pte) || ((flags & FOLL_COW) && pte_dirty(pte)), since a
    # forced COW break sets FOLL_COW without FOLL_FORCE
    return pte.write | foll.FOLL_COW & pte.dirty


def _follow_write_exclusive(mm: MM, pte: Pte, vma: Vma, foll: Foll) -> Expr:
    # 5535be309971 (6.0): pte_write, or FOLL_FORCE in a private !VM_WRITE mapping on an
    # exclusive anonymous page that needs no write fault for soft-dirty or uffd-wp
    exclusive = mm.vm_normal_page(pte) & mm.PageAnon(pte.pfn) & mm.PageAnonExclusive(pte.pfn)
    return pte.write | (foll.FOLL_FORCE & is_cow_mapping(vma) & ~vma.VM_WRITE & exclusive
                        & ~pte_needs_soft_dirty_wp(vma, pte) & ~userfaultfd_pte_wp(vma, pte))


# faultin_page()'s tail on VM_FAULT_WRITE in a VMA without VM_WRITE ---------------------------

def _drop_foll_write(foll: Foll) -> Foll:
    # <= 4.8: `if ((ret & VM_FAULT_WRITE) && !(vma->vm_flags & VM_WRITE)) *flags &= ~FOLL_WRITE;`
    return replace(foll, FOLL_WRITE=FALSE)


def _set_foll_cow(foll: Foll) -> Foll:
    # 19be0eaffa3a .. 5535be309971: `... *flags |= FOLL_COW;`
    return replace(foll, FOLL_COW=TRUE)


def _no_flag_game(foll: Foll) -> Foll:
    # 5535be309971 (6.0): FOLL_COW is gone; the retry asks can_follow_write_pte() again
    return foll


# follow_page_pte() on a protnone PTE --------------------------------------------------------

def _protnone_foll_numa(vma: Vma, foll: Foll) -> Expr:
    # <= 6.4: __get_user_pages() sets FOLL_NUMA only without FOLL_FORCE, and `if ((flags &
    # FOLL_NUMA) && pte_protnone(pte)) goto no_page;` (474098edac26's gup_can_follow_protnone()
    # keeps that for GUP)
    return foll.FOLL_FORCE


def _protnone_honor_numa_fault(vma: Vma, foll: Foll) -> Expr:
    # d74943a2f3cd (6.5): GUP sets FOLL_HONOR_NUMA_FAULT; gup_can_follow_protnone() follows a
    # protnone PTE only in an inaccessible VMA (a real PROT_NONE mapping)
    return ~vma_is_accessible(vma)


# UFFDIO_CONTINUE's PTE (mfill_atomic_install_pte for a page-cache page) ----------------------

ContinuePte = Callable[[Pte, Vma], Pte]


def _continue_clean(entry: Pte, vma: Vma) -> Pte:
    # before 9ae0f87d009c: the page is in the cache and the VMA private, so writable = false and
    # `if (writable || !page_in_cache) _dst_pte = pte_mkdirty(_dst_pte);` leaves it clean
    return pte_select(vma.VM_SHARED & vma.VM_WRITE, pte_mkwrite(pte_mkdirty(entry)), entry)


def _continue_dirty(entry: Pte, vma: Vma) -> Pte:
    # 9ae0f87d009c (5.16): `_dst_pte = pte_mkdirty(_dst_pte);` unconditionally
    dirty = pte_mkdirty(entry)
    return pte_select(vma.VM_SHARED & vma.VM_WRITE, pte_mkwrite(dirty), dirty)


@dataclass(frozen=True)
class GupRule:
    """One era's get_user_pages() rules (see the module docstring)."""

    can_follow_write_pte: Callable[[MM, Pte, Vma, Foll], Expr]
    faultin_write_tail: Callable[[Foll], Foll]
    follows_protnone: Callable[[Vma, Foll], Expr]
    #: 17839856fd58 (5.8 only): should_force_cow_break() sets FOLL_WRITE for FOLL_GET/FOLL_PIN
    #: in a COW mapping, so even a read GUP breaks COW first.
    force_cow_break: bool
    #: a7f226604170 (5.19): gup_must_unshare(): a R/O FOLL_PIN of an anonymous page that is not
    #: PageAnonExclusive takes a FAULT_FLAG_UNSHARE fault first.
    unshare: bool
    #: 70e806e4e645 (5.9): fork gives the child a copy of a pinned anonymous page.
    fork_copies_pinned: bool
    #: UFFDIO_CONTINUE on shmem (minor faults): how it maps the page; None before it existed.
    uffd_continue: ContinuePte | None
    citation: Citation


_GUP = ("__get_user_pages -> follow_page_pte / faultin_page; can_follow_write_pte, "
        "check_vma_flags")

GUP_RULES: dict[str, GupRule] = {
    "3.19": GupRule(
        can_follow_write_pte=_follow_write_pte_write, faultin_write_tail=_drop_foll_write,
        follows_protnone=_protnone_foll_numa, force_cow_break=False,
        unshare=False, fork_copies_pinned=False,
        uffd_continue=None,
        citation=Citation(_GUP, "mm/gup.c", "3.13 .. 4.8", ("f33ea7f404e5",), confidence="V",
                          note="follow_page_pte: FOLL_WRITE needs pte_write; faultin_page drops "
                               "FOLL_WRITE after a VM_FAULT_WRITE in a !VM_WRITE VMA (the Dirty COW "
                               "window, undone 4ceb5db9757a); FOLL_NUMA only without FOLL_FORCE")),
    "4.9": GupRule(
        can_follow_write_pte=_follow_write_foll_cow, faultin_write_tail=_set_foll_cow,
        follows_protnone=_protnone_foll_numa, force_cow_break=False,
        unshare=False, fork_copies_pinned=False,
        uffd_continue=None,
        citation=Citation(_GUP, "mm/gup.c", "4.9 .. 5.7", ("19be0eaffa3a",), confidence="V",
                          note="'mm: remove gup_flags FOLL_WRITE games from __get_user_pages()' "
                               "(CVE-2016-5195): FOLL_COW after the COW, followed only while the PTE "
                               "is dirty")),
    "5.8": GupRule(
        can_follow_write_pte=_follow_write_forced_cow, faultin_write_tail=_set_foll_cow,
        follows_protnone=_protnone_foll_numa, force_cow_break=True,
        unshare=False, fork_copies_pinned=False,
        uffd_continue=None,
        citation=Citation(_GUP, "mm/gup.c", "5.8 .. 5.8", ("17839856fd58",), confidence="V",
                          note="'gup: document and work around \"COW can break either way\" issue' "
                               "(CVE-2020-29374): should_force_cow_break() = is_cow_mapping && (FOLL_GET "
                               "| FOLL_PIN) => FOLL_WRITE; can_follow_write_pte drops FOLL_FORCE; "
                               "removed by a308c71bf1e6 (5.9)")),
    "5.9": GupRule(
        can_follow_write_pte=_follow_write_foll_cow, faultin_write_tail=_set_foll_cow,
        follows_protnone=_protnone_foll_numa, force_cow_break=False,
        unshare=False, fork_copies_pinned=True,
        uffd_continue=None,
        citation=Citation(_GUP, "mm/gup.c, mm/memory.c", "5.9 .. 5.12", ("a308c71bf1e6", "70e806e4e645"),
                          confidence="I",
                          note="'mm/gup: Remove enfornced COW mechanism' restores 4.9's "
                               "can_follow_write_pte (with 09854ba94c6a's page_count reuse, same merge); "
                               "fork copies pinned pages (copy_present_page)")),
    "5.13": GupRule(
        can_follow_write_pte=_follow_write_foll_cow, faultin_write_tail=_set_foll_cow,
        follows_protnone=_protnone_foll_numa, force_cow_break=False,
        unshare=False, fork_copies_pinned=True,
        uffd_continue=_continue_clean,
        citation=Citation(_GUP + "; mcontinue_atomic_pte -> mfill_atomic_install_pte",
                          "mm/gup.c, mm/userfaultfd.c", "5.13 .. 5.15", confidence="I",
                          note="UFFDIO_CONTINUE (shmem minor faults from 5.14) maps a page-cache page "
                               "into a private VMA read-only and clean")),
    "5.16": GupRule(
        can_follow_write_pte=_follow_write_foll_cow, faultin_write_tail=_set_foll_cow,
        follows_protnone=_protnone_foll_numa, force_cow_break=False,
        unshare=False, fork_copies_pinned=True,
        uffd_continue=_continue_dirty,
        citation=Citation(_GUP + "; mfill_atomic_install_pte", "mm/gup.c, mm/userfaultfd.c",
                          "5.16 .. 5.18", ("9ae0f87d009c",), confidence="I",
                          note="'mm/shmem: unconditionally set pte dirty in mfill_atomic_install_pte': "
                               "a read-only page-cache PTE that is dirty, which FOLL_FORCE|FOLL_COW "
                               "follows for writing (CVE-2022-2590)")),
    "5.19": GupRule(
        can_follow_write_pte=_follow_write_foll_cow, faultin_write_tail=_set_foll_cow,
        follows_protnone=_protnone_foll_numa, force_cow_break=False,
        unshare=True, fork_copies_pinned=True,
        uffd_continue=_continue_dirty,
        citation=Citation(_GUP + "; gup_must_unshare", "mm/gup.c, include/linux/mm.h", "5.19 .. 5.19",
                          ("a7f226604170", "6c287605fd56"), confidence="I",
                          note="R/O FOLL_PIN of an anonymous page that is not PageAnonExclusive: "
                               "FAULT_FLAG_UNSHARE first; FOLL_COW still there until 5535be309971")),
    "6.0": GupRule(
        can_follow_write_pte=_follow_write_exclusive, faultin_write_tail=_no_flag_game,
        follows_protnone=_protnone_foll_numa, force_cow_break=False,
        unshare=True, fork_copies_pinned=True,
        uffd_continue=_continue_dirty,
        citation=Citation(_GUP, "mm/gup.c", "6.0 .. 6.4", ("5535be309971",), confidence="V",
                          note="'mm/gup: fix FOLL_FORCE COW security issue and remove FOLL_COW': "
                               "FOLL_FORCE writes only an exclusive anonymous page of a private "
                               "!VM_WRITE mapping (soft-dirty and uffd-wp checked)")),
    "6.5": GupRule(
        can_follow_write_pte=_follow_write_exclusive, faultin_write_tail=_no_flag_game,
        follows_protnone=_protnone_honor_numa_fault, force_cow_break=False,
        unshare=True, fork_copies_pinned=True,
        uffd_continue=_continue_dirty,
        citation=Citation(_GUP + "; gup_can_follow_protnone", "mm/gup.c, include/linux/mm.h",
                          "6.5 .. current", ("d74943a2f3cd",), confidence="I",
                          note="'mm/gup: reintroduce FOLL_NUMA as FOLL_HONOR_NUMA_FAULT': a GUP takes the "
                               "NUMA hinting fault even with FOLL_FORCE; a protnone PTE of a PROT_NONE "
                               "VMA is followed")),
}


def gup_rule(era: str | GupRule) -> GupRule:
    """A row of GUP_RULES, or a rule of the caller's own."""
    return lookup(GUP_RULES, era, "GUP era") if isinstance(era, str) else era


def check_vma_flags(vma: Vma, foll: Foll) -> Expr:
    """check_vma_flags() (mm/gup.c): a write needs VM_WRITE, or FOLL_FORCE in a COW mapping; a
    read needs VM_READ, or FOLL_FORCE (VM_MAYREAD is always set here)."""
    write_ok = vma.VM_WRITE | foll.FOLL_FORCE & is_cow_mapping(vma)
    read_ok = vma.VM_READ | foll.FOLL_FORCE
    return vma.mapped & ite(foll.FOLL_WRITE, write_ok, read_ok)


def _follow_and_fault(mm: MM, rule: GupRule, p: int, page: int, foll: Foll) -> None:
    """follow_page_pte() of ``page``; a usable page completes the GUP, else faultin_page()
    raises the fault (FAULT_FLAG_WRITE with FOLL_WRITE, FAULT_FLAG_UNSHARE for a R/O pin that
    must unshare).  A pin (FOLL_PIN) keeps its reference; access_remote_vm drops its FOLL_GET
    once the copy is done, within the step."""
    vma, pte = mm.vma(p), mm.pte(p, page)
    anon = mm.vm_normal_page(pte) & mm.PageAnon(pte.pfn)
    numa_blocked = pte_protnone(pte) & ~rule.follows_protnone(vma, foll)
    write_ok = ~foll.FOLL_WRITE | rule.can_follow_write_pte(mm, pte, vma, foll)
    unshare = FALSE
    if rule.unshare:
        unshare = (foll.FOLL_PIN & ~foll.FOLL_WRITE & ~pte.write & anon
                   & ~mm.PageAnonExclusive(pte.pfn))
    usable = pte_present(pte) & ~numa_blocked & write_ok & ~unshare
    mm.step.output("completed", usable)
    mm.step.output("kernel_write", usable & foll.write)
    mm.step.output("gup_pfn", ite(usable, pte.pfn, 0))

    def complete(sub: MM) -> None:
        held = anon & foll.FOLL_PIN  # a pin of the zero page or the page cache: not kept
        sub.set_gup(p, "state", ite(held, GUP_STATES.index("pinned"), GUP_STATES.index("none")))
        if "pin" in sub.inst.areas:
            sub.set_gup(p, "pin_pfn", ite(held, pte.pfn, 0))
            sub.set_gup(p, "FOLL_PIN", held)
        for f in ("write", "FOLL_WRITE", "FOLL_FORCE", "FOLL_COW", "VM_FAULT_WRITE"):
            sub.set_gup(p, f, FALSE)
        sub.set_gup(p, "page", ite(held, page, 0))

    def faultin_page(sub: MM) -> None:
        sub.step.require(sub.step.read(task_name(p, "fault")).eq(0))
        kind = ite(foll.FOLL_WRITE, FAULT_KINDS.index("write"),
                   ite(unshare, FAULT_KINDS.index("unshare"), FAULT_KINDS.index("read")))
        sub.step.write(task_name(p, "fault"), kind)
        sub.step.write(task_name(p, "fault_page"), page)
        sub.set_gup(p, "state", GUP_STATES.index("faultin"))
        sub.set_gup(p, "page", page)
        for f in ("write", "FOLL_WRITE", "FOLL_FORCE", "FOLL_COW"):
            sub.set_gup(p, f, getattr(foll, f))
        sub.set_gup(p, "VM_FAULT_WRITE", FALSE)
        if "pin" in sub.inst.areas:
            sub.set_gup(p, "FOLL_PIN", foll.FOLL_PIN)

    mm.branch(usable, complete, faultin_page)


def _begin(mm: MM, rule: GupRule, p: int, page: int, write: bool, force: bool, pin: bool) -> None:
    vma = mm.vma(p)
    w = TRUE if write else FALSE
    foll = Foll(w, w, TRUE if force else FALSE, FALSE, TRUE if pin else FALSE)
    mm.step.require(mm.gup_state(p, "none"))
    mm.step.require(check_vma_flags(vma, foll))
    if rule.force_cow_break:  # every GUP here has FOLL_GET or FOLL_PIN
        foll = replace(foll, FOLL_WRITE=foll.FOLL_WRITE | is_cow_mapping(vma))
    _follow_and_fault(mm, rule, p, page, foll)


@per_rule
def gup_ops(era: str | GupRule) -> tuple[Operation, ...]:
    """The gup and pin areas' operations of an era: a row of GUP_RULES, or a rule of its own."""
    rule = gup_rule(era)

    def cite(function: str) -> Citation:
        return replace(rule.citation, function=f"{function} -> {rule.citation.function}")

    @operation("access_remote_vm", cite("mem_rw (/proc/PID/mem), ptrace -> access_remote_vm -> "
                                        "get_user_pages_remote(FOLL_GET)"),
               area="gup", p=processes, page=pages, kind=choices("read", "write"),
               force=choices("FOLL_FORCE", "none"))
    def access_remote_vm(mm: MM, p: int, page: int, kind: str, force: str) -> None:
        """The kernel reads or writes a page of ``p`` for another task: /proc/PID/mem and ptrace
        with FOLL_FORCE, process_vm_readv/writev without.

        check_vma_flags() must admit it (FOLL_FORCE writes into a read-only private mapping,
        reads a PROT_NONE one); then the first follow_page_pte().  When it completes, the
        kernel copies to or from the page and drops its reference.  Outputs: ``completed``,
        ``kernel_write`` (the kernel wrote the page) and ``gup_pfn`` (which page).
        """
        _begin(mm, rule, p, page, kind == "write", force == "FOLL_FORCE", False)

    @operation("follow_page_pte", replace(rule.citation, function="faultin_page (tail: the era's "
                                          "FOLL_WRITE/FOLL_COW game) -> __get_user_pages retry: "
                                          "follow_page_pte, can_follow_write_pte"),
               area="gup", also=("pin",), p=processes, page=pages)
    def follow_page_pte(mm: MM, p: int, page: int) -> None:
        """The GUP's fault was handled; faultin_page() returns and follow_page_pte() retries.

        On VM_FAULT_WRITE in a VMA without VM_WRITE the era's flag game runs first (<= 4.8:
        drop FOLL_WRITE; 4.9-5.19: set FOLL_COW).  Outputs as access_remote_vm.
        """
        mm.step.require(mm.gup_state(p, "retry") & mm.gup(p, "page").eq(page))
        foll = _saved_foll(mm, p)
        cow_broken = mm.gup(p, "VM_FAULT_WRITE") & ~mm.vma(p).VM_WRITE
        tail = rule.faultin_write_tail(foll)
        foll = Foll(*(ite(cow_broken, getattr(tail, f), getattr(foll, f))
                      for f in ("write", "FOLL_WRITE", "FOLL_FORCE", "FOLL_COW", "FOLL_PIN")))
        _follow_and_fault(mm, rule, p, page, foll)

    @operation("madvise_dontneed", Citation(
        "madvise_dontneed_single_vma -> zap_page_range", "mm/madvise.c, mm/memory.c", "3.19-6.2",
        confidence="I", note="takes mmap_lock for read; zaps the PTEs, the VMA stays; a private "
                             "file mapping drops its COW copy and refaults the page cache"),
        area="gup", p=processes, page=pages)
    def madvise_dontneed(mm: MM, p: int, page: int) -> None:
        """madvise(MADV_DONTNEED) of one page: its PTE is zapped, the VMA stays.

        The next touch refaults: the zero page or a new page in an anonymous mapping, the
        page-cache page in a file mapping.  It takes mmap_lock for read, so another thread's
        GUP may be between its fault and its retry (Dirty COW's second thread).
        """
        mm.step.require(mm.vma(p).mapped & pte_present(mm.pte(p, page)))
        mm.set_pte_at(p, page, PTE_NONE)
        mm.free_unmapped_pages()

    ops = [access_remote_vm, follow_page_pte, madvise_dontneed]
    if rule.uffd_continue is not None:
        install = rule.uffd_continue

        @operation("uffd_continue", replace(rule.citation, function="userfaultfd_continue -> "
                                            "mcontinue_atomic_pte -> mfill_atomic_install_pte"),
                   area="gup", p=processes, page=pages)
        def uffd_continue(mm: MM, p: int, page: int) -> None:
            """UFFDIO_CONTINUE of one page: a minor-fault monitor maps the page-cache page.

            For a shmem VMA (shared or MAP_PRIVATE) whose PTE is none and whose page is in the
            page cache; built from vm_page_prot, writable only in a shared writable VMA; dirty
            by the era's rule (9ae0f87d009c: always).  Registration for minor faults
            (VM_UFFD_MINOR) is assumed: the process may register its own mapping.
            """
            vma = mm.vma(p)
            mm.step.require(vma.mapped & vma.vm_file & pte_none(mm.pte(p, page)))
            mm.step.require(mm.shmem_cached(page))
            entry = mk_pte(mm.inst.shmem_frame(page), vm_page_prot(vma))
            mm.set_pte_at(p, page, install(entry, vma))

        ops.append(uffd_continue)

    @operation("pin_user_pages", cite("pin_user_pages (io_uring, RDMA, O_DIRECT, vfio)"),
               area="pin", p=processes, page=pages, kind=choices("read", "write"))
    def pin_user_pages(mm: MM, p: int, page: int, kind: str) -> None:
        """A driver or syscall pins a page of ``p`` for DMA (FOLL_PIN, no FOLL_FORCE).

        When the follow completes, the pin holds the anonymous page until unpin_user_page().
        Before 5.6 (eddb1c228f79) the long-term users took FOLL_GET, which no rule modelled
        tells apart before 5.8.  A pin of the zero page or of a page-cache page is not kept
        (84209e87c696's unsharing of those, 6.0, is not modelled), nor are long-held FOLL_GET
        references (vmsplice), which from 5.8 differ from pins (no unshare, no copy at fork).
        """
        _begin(mm, rule, p, page, kind == "write", False, True)

    @operation("unpin_user_page", Citation("unpin_user_page / put_page", "mm/gup.c", "5.6-6.2",
                                           confidence="I"),
               area="pin", p=processes)
    def unpin_user_page(mm: MM, p: int) -> None:
        """The holder drops its reference; a page nothing maps any more is freed."""
        mm.step.require(mm.gup_state(p, "pinned"))
        mm.set_gup(p, "state", GUP_STATES.index("none"))
        mm.set_gup(p, "pin_pfn", 0)
        mm.set_gup(p, "FOLL_PIN", FALSE)
        mm.set_gup(p, "page", 0)
        mm.free_unmapped_pages()

    return (*ops, pin_user_pages, unpin_user_page)
