"""What is derived once for all eras: tables by identity and operations per rule."""

from __future__ import annotations

import dataclasses
import gc
import weakref

from numacheck.model.memo import ByIdentity
from numacheck.model.operation import per_rule
from numacheck.model.ops.fault import REUSE_RULES, do_wp_page
from numacheck.model.ops.gup import GUP_RULES, gup_ops


class _Thing:
    """An object that can be weakly referenced and compares equal to every other _Thing."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Thing)

    __hash__ = object.__hash__


def test_a_table_by_identity_makes_a_value_once_per_objects_and_keeps_them() -> None:
    table: ByIdentity[int] = ByIdentity(limit=3)
    made: list[int] = []

    def make(v: int) -> int:
        made.append(v)
        return v

    a, b = _Thing(), _Thing()  # equal, but not the same object: two entries
    assert table.get((a,), lambda: make(1)) == 1
    assert table.get((a,), lambda: make(2)) == 1
    assert table.get((b,), lambda: make(3)) == 3
    assert made == [1, 3]
    alive = weakref.ref(b)
    del b
    gc.collect()
    assert alive() is not None  # the entry holds it, so its id is not taken by another object
    table.get((a, a), lambda: 4)
    assert len(table) == 3
    table.get((_Thing(),), lambda: 5)  # the limit reached: cleared, then this one kept
    assert len(table) == 1
    assert table.get((a,), lambda: make(6)) == 6


def test_the_same_rule_gives_the_same_operations_and_another_rule_others() -> None:
    assert do_wp_page("page_count") is do_wp_page("page_count")
    assert do_wp_page("page_count") is not do_wp_page("PageAnonExclusive")
    assert gup_ops("6.0") is gup_ops("6.0")
    own = dataclasses.replace(GUP_RULES["6.0"], unshare=False)
    assert gup_ops(own) is gup_ops(dataclasses.replace(GUP_RULES["6.0"], unshare=False))  # equal rules
    assert gup_ops(own) is not gup_ops("6.0")
    rule, citation = REUSE_RULES["page_count"]
    assert do_wp_page((rule, citation)) is do_wp_page((rule, citation))


def test_a_rule_that_cannot_be_hashed_gets_operations_of_its_own() -> None:
    calls: list[object] = []

    @per_rule
    def factory(rule: object) -> object:
        calls.append(rule)
        return object()

    assert factory("row") is factory("row")
    assert factory(["row"]) is not factory(["row"])
    assert calls == ["row", ["row"], ["row"]]
