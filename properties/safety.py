"""Safety properties: who may write through a PTE, and no access through a hint."""

from __future__ import annotations

from numacheck.model.expr import Expr, all_, any_
from numacheck.model.mm import MM
from numacheck.model.system import Action
from numacheck.properties.base import invariant, output, step_property


def _private_writable(mm: MM, p: int, i: int) -> Expr:
    return mm.vma(p).mapped & ~mm.vma(p).VM_SHARED & mm.pte(p, i).write


def _any_private_writable(mm: MM) -> Expr:
    return any_(_private_writable(mm, p, i) for p, i in mm.ptes())


@invariant(
    "write-requires-exclusive",
    "A writable PTE of a private (COW) mapping maps an exclusive anonymous page that no other "
    "PTE maps, never the zero page.",
    "Writing through a PTE whose page another process still maps leaks the write into that "
    "process: the COW isolation every private mapping relies on (Dirty COW, CVE-2016-5195, "
    "broke exactly this).  _PAGE_RW counts on hinted PTEs too, where 4.0-4.10 keep it.",
    "a private mapping has a writable PTE",
    sometimes=_any_private_writable,
)
def write_requires_exclusive(mm: MM) -> Expr:
    checks = []
    for p, i in mm.ptes():
        pte = mm.pte(p, i)
        owned = (mm.vm_normal_page(pte) & mm.PageAnon(pte.pfn) & mm.PageAnonExclusive(pte.pfn)
                 & mm.page_mapcount(pte.pfn).eq(1))
        checks.append(_private_writable(mm, p, i).implies(owned))
    return all_(checks)


def _any_writable(mm: MM) -> Expr:
    return any_(mm.pte(p, i).write for p, i in mm.ptes())


@invariant(
    "write-requires-vm-write",
    "A writable PTE lies in a VMA with VM_WRITE.",
    "mprotect(PROT_READ) must stick: a PTE that stays or becomes writable in a read-only VMA "
    "lets a task write memory it has declared read-only (and a restore that trusts a stale "
    "bit is exactly how that would happen).",
    "some PTE is writable",
    sometimes=_any_writable,
)
def write_requires_vm_write(mm: MM) -> Expr:
    return all_(mm.pte(p, i).write.implies(mm.vma(p).mapped & mm.vma(p).VM_WRITE)
                for p, i in mm.ptes())


def _through_hint(pre: MM, post: MM, action: Action) -> Expr:
    return output(action, "through_hint")


@step_property(
    "protnone-never-accessed",
    "No user access completes through a PTE that carries a PROT_NONE or NUMA marker.",
    "A NUMA hint that lets an access through loses the fault the scheduler learns from; a "
    "PROT_NONE mapping that lets one through is a protection failure.  The hardware check "
    "is _PAGE_PRESENT, the marker is _PAGE_PROTNONE/_PAGE_NUMA: an operation that sets one "
    "without clearing the other is caught here.",
    "a user access meets a PTE with a PROT_NONE or NUMA marker",
    {"access"},
    when=_through_hint,
)
def protnone_never_accessed(pre: MM, post: MM, action: Action) -> Expr:
    return output(action, "completed").implies(~output(action, "through_hint"))


PROPERTIES = (write_requires_exclusive, write_requires_vm_write, protnone_never_accessed)
