"""The expression language: simplification, typing, and misuse that must fail loudly."""

from __future__ import annotations

import pytest

from numacheck.model.expr import (
    FALSE,
    TRUE,
    ModelError,
    and_,
    const,
    count,
    ite,
    or_,
    select,
    show,
    substitute,
    var,
)

a, b = var("a", "bool"), var("b", "bool")
x = var("x", "int")


def test_structurally_equal_expressions_are_one_object() -> None:
    assert (a & b) is (a & b)
    assert (x + 1).eq(3) is (x + 1).eq(3)


def test_boolean_simplification() -> None:
    assert (a & TRUE) is a
    assert (a & FALSE) is FALSE
    assert (a | TRUE) is TRUE
    assert (a & ~a) is FALSE
    assert (a | ~a) is TRUE
    assert ~~a is a
    assert and_() is TRUE and or_() is FALSE
    assert ite(TRUE, a, b) is a and ite(a, b, b) is b
    assert ite(a, TRUE, FALSE) is a and ite(a, FALSE, TRUE) is (~a)


def test_literal_comparison_folds_through_selectors() -> None:
    chain = select(x, [10, 20, 30])
    assert chain.eq(20) is (~x.eq(0) & x.eq(1))
    assert select(const(2), [a, b, TRUE]) is TRUE


def test_arithmetic_folds_literals() -> None:
    assert (const(2) + 3) is const(5)
    assert ((x + 1) + 2) is (x + 3)
    assert (x - 0) is x
    assert count([TRUE, FALSE, TRUE]) is const(2)


def test_python_truth_value_is_refused() -> None:
    with pytest.raises(TypeError):
        bool(a)
    with pytest.raises(TypeError):
        if a & b:  # a model must not branch in Python on a symbolic value
            pass


def test_kinds_are_checked() -> None:
    with pytest.raises(ModelError):
        a + 1
    with pytest.raises(ModelError):
        x & a
    with pytest.raises(ModelError):
        ite(a, x, b)
    with pytest.raises(ModelError):
        a.eq(x)


def test_substitute_and_show() -> None:
    e = (x + 1).eq(var("y", "int"))
    out = substitute(e, {("var", "x"): const(2)})
    assert out is (const(3).eq(var("y", "int")))
    assert show(a & ~b) == "(a & ~b)"
