"""x86-64 PTE values and the kernel's PTE helpers, as expression builders.

A :class:`Pte` is a ``pte_t`` seen through the bits the model keeps; a :class:`Pgprot` is the
part of a ``pgprot_t`` that ``pte_modify`` and ``mk_pte`` take from it.  Each helper is named
and behaves like its kernel counterpart in arch/x86/include/asm/pgtable.h, so an operation reads
like the C it models.  Bit layout (pgtable_types.h): _PAGE_PRESENT bit 0, _PAGE_RW bit 1,
_PAGE_ACCESSED bit 5, _PAGE_DIRTY bit 6, _PAGE_PROTNONE = _PAGE_GLOBAL bit 8 (4.0+),
_PAGE_SPECIAL bit 9, and on 3.19 _PAGE_NUMA, which shares bit 9's slot in the non-present
encoding.  The software bits _PAGE_SOFT_DIRTY (bit 58) and _PAGE_UFFD_WP (bit 10) belong to the
softdirty and uffd areas: on an instance without the area they are the constant 0.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from numacheck.model.expr import FALSE, TRUE, Expr, ite, lift


@dataclass(frozen=True)
class Pte:
    """A ``pte_t``: the bits the model keeps and the frame it maps (``pte_pfn``)."""

    present: Expr
    protnone: Expr
    numa: Expr
    write: Expr
    dirty: Expr
    young: Expr
    special: Expr
    pfn: Expr
    soft_dirty: Expr = FALSE
    uffd_wp: Expr = FALSE

    def with_(self, **changes: Expr | bool | int) -> Pte:
        """A copy with some bits replaced."""
        return replace(self, **{k: lift(v) for k, v in changes.items()})


@dataclass(frozen=True)
class Pgprot:
    """The protection bits of a ``pgprot_t`` that reach a PTE."""

    present: Expr
    protnone: Expr
    write: Expr


PTE_NONE = Pte(FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, lift(0))

#: x86 protections (pgtable_types.h).  All of them include _PAGE_ACCESSED, so mk_pte() yields a
#: young PTE; PAGE_NONE is _PAGE_PROTNONE | _PAGE_ACCESSED (4.0+), a non-present entry.
PAGE_NONE = Pgprot(FALSE, TRUE, FALSE)
PAGE_READONLY = Pgprot(TRUE, FALSE, FALSE)
PAGE_COPY = PAGE_READONLY
PAGE_SHARED = Pgprot(TRUE, FALSE, TRUE)

#: _PAGE_CHG_MASK: the bits pte_modify() keeps from the old PTE (pgtable_types.h); every other
#: modelled bit comes from the new protection.  3.19 also keeps _PAGE_NUMA.  _PAGE_SOFT_DIRTY is
#: in the mask since 3.11 (0f8975ec4db2), _PAGE_UFFD_WP since 5.7 (uffd-wp does not exist before).
PAGE_CHG_MASK_3_19 = frozenset({"pfn", "special", "young", "dirty", "numa", "soft_dirty", "uffd_wp"})
PAGE_CHG_MASK = frozenset({"pfn", "special", "young", "dirty", "soft_dirty", "uffd_wp"})

_PROT_BITS = {"present", "protnone", "write"}


def pte_none(pte: Pte) -> Expr:
    """No entry at all (pte_none)."""
    return ~(pte.present | pte.protnone | pte.numa)


def pte_present(pte: Pte) -> Expr:
    """pte_present(): true for hardware-present and for NUMA-hinted/PROT_NONE entries.

    4.0+: _PAGE_PRESENT | _PAGE_PROTNONE; 3.19: also _PAGE_NUMA.  Generic mm (zap, fork,
    mprotect) therefore treats a hinted PTE as present.
    """
    return pte.present | pte.protnone | pte.numa


def pte_protnone(pte: Pte) -> Expr:
    """pte_protnone() (4.0+, CONFIG_NUMA_BALANCING): _PAGE_PROTNONE set, _PAGE_PRESENT clear."""
    return pte.protnone & ~pte.present


def pte_numa(pte: Pte) -> Expr:
    """pte_numa() (3.19): _PAGE_NUMA set, _PAGE_PRESENT and _PAGE_PROTNONE clear."""
    return pte.numa & ~pte.present & ~pte.protnone


def pte_write(pte: Pte) -> Expr:
    """pte_write(): the _PAGE_RW bit, also on a non-present hinted entry."""
    return pte.write


def pte_dirty(pte: Pte) -> Expr:
    """pte_dirty(): _PAGE_DIRTY."""
    return pte.dirty


def pte_young(pte: Pte) -> Expr:
    """pte_young(): _PAGE_ACCESSED."""
    return pte.young


def pte_special(pte: Pte) -> Expr:
    """pte_special(): _PAGE_SPECIAL, set on zero-page mappings (no struct page for generic mm)."""
    return pte.special


def pte_mkwrite(pte: Pte) -> Pte:
    """pte_mkwrite(): set _PAGE_RW."""
    return pte.with_(write=TRUE)


def pte_wrprotect(pte: Pte) -> Pte:
    """pte_wrprotect(): clear _PAGE_RW."""
    return pte.with_(write=FALSE)


def pte_mkdirty(pte: Pte) -> Pte:
    """pte_mkdirty(): set _PAGE_DIRTY and _PAGE_SOFT_DIRTY (x86: both, pgtable.h).

    The MMU sets only _PAGE_DIRTY on a write (see hw_access_ok); soft-dirty comes from software,
    so a write that completes without a fault never marks a clean-of-soft-dirty PTE.
    """
    return pte.with_(dirty=TRUE, soft_dirty=TRUE)


def pte_soft_dirty(pte: Pte) -> Expr:
    """pte_soft_dirty(): _PAGE_SOFT_DIRTY."""
    return pte.soft_dirty


def pte_clear_soft_dirty(pte: Pte) -> Pte:
    """pte_clear_soft_dirty(): clear _PAGE_SOFT_DIRTY."""
    return pte.with_(soft_dirty=FALSE)


def pte_uffd_wp(pte: Pte) -> Expr:
    """pte_uffd_wp(): _PAGE_UFFD_WP (5.7+)."""
    return pte.uffd_wp


def pte_mkuffd_wp(pte: Pte) -> Pte:
    """pte_mkuffd_wp(): set _PAGE_UFFD_WP (callers write-protect first, as change_pte_range does)."""
    return pte.with_(uffd_wp=TRUE)


def pte_clear_uffd_wp(pte: Pte) -> Pte:
    """pte_clear_uffd_wp(): clear _PAGE_UFFD_WP."""
    return pte.with_(uffd_wp=FALSE)


def pte_mkclean(pte: Pte) -> Pte:
    """pte_mkclean(): clear _PAGE_DIRTY."""
    return pte.with_(dirty=FALSE)


def pte_mkyoung(pte: Pte) -> Pte:
    """pte_mkyoung(): set _PAGE_ACCESSED."""
    return pte.with_(young=TRUE)


def pte_mkold(pte: Pte) -> Pte:
    """pte_mkold(): clear _PAGE_ACCESSED."""
    return pte.with_(young=FALSE)


def pte_mkspecial(pte: Pte) -> Pte:
    """pte_mkspecial(): set _PAGE_SPECIAL."""
    return pte.with_(special=TRUE)


def pte_mknuma(pte: Pte) -> Pte:
    """pte_mknuma() (3.13-3.19): clear _PAGE_PRESENT, set _PAGE_NUMA; every other bit stays."""
    return pte.with_(present=FALSE, numa=TRUE)


def pte_mknonnuma(pte: Pte) -> Pte:
    """pte_mknonnuma() (3.13-3.19): clear _PAGE_NUMA, set _PAGE_PRESENT and _PAGE_ACCESSED."""
    return pte.with_(numa=FALSE, present=TRUE, young=TRUE)


def pte_modify(pte: Pte, prot: Pgprot, keep: frozenset[str] = PAGE_CHG_MASK) -> Pte:
    """pte_modify(): keep the _PAGE_CHG_MASK bits of ``pte``, take the rest from ``prot``.

    Bits the protection does not carry (e.g. _PAGE_NUMA when it is not kept) become 0.
    """
    out = {}
    for f in fields(Pte):
        name = f.name
        if name in keep:
            out[name] = getattr(pte, name)
        elif name in _PROT_BITS:
            out[name] = getattr(prot, name)
        else:
            out[name] = FALSE
    return Pte(**out)


def mk_pte(pfn: Expr | int, prot: Pgprot) -> Pte:
    """mk_pte(page, prot): a new entry for ``pfn`` with ``prot`` (x86 prots are young)."""
    return Pte(prot.present, prot.protnone, FALSE, prot.write, FALSE, TRUE, FALSE, lift(pfn))


def pte_select(cond: Expr, a: Pte, b: Pte) -> Pte:
    """``a`` where ``cond`` holds, else ``b``, bit by bit."""
    return Pte(**{f.name: ite(cond, getattr(a, f.name), getattr(b, f.name)) for f in fields(Pte)})


def hw_mkdirty(pte: Pte) -> Pte:
    """What the MMU does to a PTE a write goes through: set _PAGE_DIRTY (not _PAGE_SOFT_DIRTY,
    a software bit the walk never touches; SDM vol. 3, 4.8)."""
    return pte.with_(dirty=TRUE)


def hw_access_ok(pte: Pte, write: bool) -> Expr:
    """Whether the MMU lets a user access through ``pte`` complete without a fault.

    x86 page walk: the entry must be present (_PAGE_PRESENT; a PROT_NONE/NUMA entry is not),
    and a write needs _PAGE_RW (SDM vol. 3, 4.6).
    """
    return pte.present & pte.write if write else pte.present
