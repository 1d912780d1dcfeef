"""Kernel PTE helpers against the x86 definitions they cite (pgtable.h, pgtable_types.h)."""

from __future__ import annotations

import itertools
from dataclasses import fields

import pytest

from numacheck.checker.lowering.codegen import compile_exprs
from numacheck.model.builder import Step
from numacheck.model.expr import Expr, const
from numacheck.model.instance import Instance, schema
from numacheck.model.mm import MM, Vma, is_numa_hint, maybe_mkwrite, vm_page_prot
from numacheck.model.pte import (
    PAGE_CHG_MASK,
    PAGE_CHG_MASK_3_19,
    PAGE_NONE,
    PAGE_SHARED,
    Pte,
    hw_access_ok,
    mk_pte,
    pte_mknonnuma,
    pte_mknuma,
    pte_modify,
    pte_numa,
    pte_present,
    pte_protnone,
)

BITS = [f.name for f in fields(Pte) if f.name != "pfn"]
SCHEMA = schema(Instance(1, 1, 1))


def value(e: Expr) -> bool | int:
    return compile_exprs(SCHEMA, [e])(0)[0]


def concrete(**bits: int) -> Pte:
    return Pte(**{b: const(bool(bits.get(b, 0))) for b in BITS}, pfn=const(bits.get("pfn", 2)))


def as_dict(pte: Pte) -> dict[str, bool | int]:
    return {f.name: value(getattr(pte, f.name)) for f in fields(Pte)}


ALL = [dict(zip(BITS, combo, strict=True)) for combo in itertools.product((0, 1), repeat=len(BITS))]


@pytest.mark.parametrize("bits", ALL[::7])
def test_pte_modify_keeps_chg_mask_bits_and_takes_the_rest_from_prot(bits: dict[str, int]) -> None:
    old = concrete(**bits)
    new = as_dict(pte_modify(old, PAGE_SHARED, PAGE_CHG_MASK))
    # _PAGE_CHG_MASK = PFN | SPECIAL | ACCESSED | DIRTY (| SOFT_DIRTY ...): from the old entry
    for kept in ("pfn", "special", "young", "dirty"):
        assert new[kept] == as_dict(old)[kept]
    # PRESENT, RW, PROTNONE come from the protection; _PAGE_NUMA (not in the 4.0 mask) is lost
    assert (new["present"], new["write"], new["protnone"], new["numa"]) == (True, True, False, False)


def test_pte_modify_to_page_none_is_a_non_present_protnone_entry_without_rw() -> None:
    old = concrete(present=1, write=1, dirty=1, young=1)
    new = as_dict(pte_modify(old, PAGE_NONE))
    assert new["present"] is False and new["protnone"] is True and new["write"] is False
    assert new["dirty"] is True and new["young"] is True
    assert value(pte_protnone(pte_modify(old, PAGE_NONE))) is True


def test_3_19_keeps_the_numa_bit_in_pte_modify() -> None:
    old = concrete(numa=1, write=1)
    assert as_dict(pte_modify(old, PAGE_SHARED, PAGE_CHG_MASK_3_19))["numa"] is True


def test_pte_mknuma_and_mknonnuma_round_trip_keeps_rw_and_dirty() -> None:
    old = concrete(present=1, write=1, dirty=1, young=0)
    hinted = pte_mknuma(old)
    assert value(pte_numa(hinted)) is True and value(pte_present(hinted)) is True
    back = as_dict(pte_mknonnuma(hinted))
    assert back["present"] and back["write"] and back["dirty"] and back["young"] and not back["numa"]


def test_hardware_access_rule() -> None:
    assert value(hw_access_ok(concrete(present=1), write=False)) is True
    assert value(hw_access_ok(concrete(present=1), write=True)) is False
    assert value(hw_access_ok(concrete(present=1, write=1), write=True)) is True
    assert value(hw_access_ok(concrete(protnone=1, write=1), write=False)) is False


def vma(mapped: int, read: int, write: int, shared: int) -> Vma:
    return Vma(*(const(bool(x)) for x in (mapped, read, write, shared)))


@pytest.mark.parametrize(
    ("read", "write", "shared", "expect"),
    [
        (0, 0, 0, (False, True, False)),   # PROT_NONE -> PAGE_NONE
        (1, 0, 0, (True, False, False)),   # PAGE_READONLY
        (1, 1, 0, (True, False, False)),   # private writable -> PAGE_COPY: no _PAGE_RW
        (1, 0, 1, (True, False, False)),   # shared read-only
        (1, 1, 1, (True, False, True)),    # PAGE_SHARED (shmem: no writenotify)
    ],
)
def test_vm_page_prot_follows_protection_map(read: int, write: int, shared: int,
                                             expect: tuple[bool, bool, bool]) -> None:
    prot = vm_page_prot(vma(1, read, write, shared))
    assert (value(prot.present), value(prot.protnone), value(prot.write)) == expect


def test_maybe_mkwrite_needs_vm_write() -> None:
    ro = concrete(present=1)
    assert value(maybe_mkwrite(ro, vma(1, 1, 1, 0)).write) is True
    assert value(maybe_mkwrite(ro, vma(1, 1, 0, 0)).write) is False


def test_mk_pte_is_young_and_clean() -> None:
    new = as_dict(mk_pte(3, PAGE_SHARED))
    assert new["young"] and not new["dirty"] and new["pfn"] == 3 and new["write"]


def test_numa_hint_needs_an_accessible_vma() -> None:
    protnone = concrete(protnone=1)
    assert value(is_numa_hint(protnone, vma(1, 1, 0, 0))) is True
    assert value(is_numa_hint(protnone, vma(1, 0, 0, 0))) is False  # real PROT_NONE
    assert value(is_numa_hint(concrete(numa=1), vma(1, 1, 1, 0))) is True


def test_page_mapcount_counts_present_and_hinted_mappings() -> None:
    inst = Instance(2, 1, 1)
    sch = schema(inst)
    mm = MM(inst, Step(sch))
    anon0 = inst.anon_frame(0)
    state = {"p0.pte[0]._PAGE_PRESENT": True, "p0.pte[0].pfn": anon0,
             "p1.pte[0]._PAGE_PROTNONE": True, "p1.pte[0].pfn": anon0}
    got = compile_exprs(sch, [mm.page_mapcount(const(anon0))])(sch.pack(state))[0]
    assert got == 2
