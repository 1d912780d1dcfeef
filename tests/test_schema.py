"""State schemas: packing is a bijection between valid field values and packed integers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from numacheck.model.expr import ModelError
from numacheck.model.schema import Field, Schema, bool_field, enum_field, int_field


@st.composite
def schemas(draw: st.DrawFn) -> Schema:
    """Booleans, integer ranges (negative ones too) and enumerations, in any order."""
    fields: list[Field] = []
    for i in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(("bool", "int", "enum")))
        if kind == "bool":
            fields.append(bool_field(f"f{i}"))
        elif kind == "int":
            lo = draw(st.integers(-5, 5))
            fields.append(int_field(f"f{i}", lo, lo + draw(st.integers(0, 9))))
        else:
            names = draw(st.lists(st.sampled_from(("none", "read", "write", "zero_page", "anon0")),
                                  min_size=1, max_size=5, unique=True))
            fields.append(enum_field(f"f{i}", names))
    return Schema(tuple(fields))


State = dict[str, bool | int]
Case = tuple[Schema, State, State]


@st.composite
def schema_and_states(draw: st.DrawFn) -> Case:
    schema = draw(schemas())

    def state() -> State:
        return {f.name: draw(st.booleans()) if f.kind == "bool" else draw(st.integers(f.lo, f.hi))
                for f in schema.fields}

    return schema, state(), state()


@given(schema_and_states())
def test_unpack_inverts_pack(case: Case) -> None:
    schema, a, b = case
    packed = schema.pack(a)
    assert 0 <= packed < 2 ** schema.bits
    assert schema.unpack(packed) == a
    assert (schema.pack(b) == packed) == (a == b)  # distinct states pack to distinct integers


@given(schema_and_states())
def test_rendered_values_parse_back(case: Case) -> None:
    schema, a, _ = case
    for f in schema.fields:
        assert f.parse(f.render(a[f.name])) == a[f.name]


@given(schemas(), st.integers(0, 2 ** 40))
def test_unpack_rejects_a_value_outside_a_field(schema: Schema, packed: int) -> None:
    packed %= 2 ** schema.bits if schema.bits else 1
    fits = all(((packed >> schema.offsets[f.name]) & ((1 << f.width) - 1)) + f.lo <= f.hi
               for f in schema.fields)
    if fits:
        assert schema.pack(schema.unpack(packed)) == packed
    else:
        with pytest.raises(ModelError, match="packed state holds"):
            schema.unpack(packed)


def test_pack_rejects_unknown_fields_and_values_out_of_range() -> None:
    schema = Schema((bool_field("b"), int_field("n", 0, 2)))
    with pytest.raises(ModelError, match="unknown fields"):
        schema.pack({"x": 1})
    with pytest.raises(ModelError, match="does not fit field n"):
        schema.pack({"n": 3})
