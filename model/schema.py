"""State schemas: named, typed fields packed into one integer.

A schema fixes the fields of a state and their order; each field owns a bit slice of the packed
integer the explicit engine stores, and the same list of fields gives the symbolic engines their
variables.  Fields carry display metadata (a group such as ``pte(p0,0)`` and a label such as
``_PAGE_RW``) so that traces can be rendered in the kernel's vocabulary without the renderer
knowing anything about PTEs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from numacheck.model.expr import Expr, Kind, ModelError, Value, next_, var


@dataclass(frozen=True)
class Field:
    """One state field: a boolean, or an integer in ``lo..hi`` (an enum when it has names)."""

    name: str
    kind: Kind
    lo: int = 0
    hi: int = 1
    names: tuple[str, ...] = ()
    group: str = ""
    label: str = ""
    ghost: bool = False
    doc: str = ""

    @property
    def size(self) -> int:
        """How many values the field can hold."""
        return self.hi - self.lo + 1

    @property
    def width(self) -> int:
        """Bits the field occupies in a packed state."""
        return max(0, (self.size - 1).bit_length())

    @property
    def default(self) -> Value:
        """The value a field has unless an initial state says otherwise."""
        return False if self.kind == "bool" else self.lo

    def check(self, value: Value) -> Value:
        """``value`` if the field can hold it, else a ModelError."""
        if self.kind == "bool":
            if value in (0, 1):
                return bool(value)
        elif not isinstance(value, bool) and isinstance(value, int) and self.lo <= value <= self.hi:
            return value
        raise ModelError(f"value {value!r} does not fit field {self.name} ({self.describe()})")

    def describe(self) -> str:
        """The field's type in words."""
        if self.kind == "bool":
            return "bool"
        if self.names:
            return "one of " + ", ".join(self.names)
        return f"int {self.lo}..{self.hi}"

    def render(self, value: Value) -> str:
        """A value as people read it (enum names, 0/1 for bits)."""
        if self.kind == "bool":
            return "1" if value else "0"
        if self.names:
            return self.names[int(value) - self.lo]
        return str(value)

    def parse(self, text: str | Value) -> Value:
        """The inverse of :meth:`render` (also accepts plain values)."""
        if isinstance(text, str):
            if self.names and text in self.names:
                return self.lo + self.names.index(text)
            if self.kind == "bool" and text in ("0", "1", "true", "false"):
                return text in ("1", "true")
            try:
                return self.check(int(text))
            except ValueError:
                raise ModelError(f"{text!r} is not a value of field {self.name}") from None
        return self.check(text)


def bool_field(name: str, **meta: str | bool) -> Field:
    """A one-bit field."""
    return Field(name, "bool", 0, 1, **meta)  # type: ignore[arg-type]


def int_field(name: str, lo: int, hi: int, **meta: str | bool) -> Field:
    """An integer field in ``lo..hi``."""
    if hi < lo:
        raise ModelError(f"field {name}: empty range {lo}..{hi}")
    return Field(name, "int", lo, hi, **meta)  # type: ignore[arg-type]


def enum_field(name: str, names: Sequence[str], **meta: str | bool) -> Field:
    """A field holding one of ``names`` (stored as its index)."""
    if not names:
        raise ModelError(f"field {name}: an enum needs at least one value")
    return Field(name, "int", 0, len(names) - 1, tuple(names), **meta)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Schema:
    """An ordered set of fields and their bit layout."""

    fields: tuple[Field, ...]
    offsets: Mapping[str, int] = field(init=False, repr=False, compare=False)
    index: Mapping[str, Field] = field(init=False, repr=False, compare=False)
    #: The ``var`` and ``next`` leaf of each field, made once (models read fields very often).
    leaves: Mapping[tuple[str, str], Expr] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        offsets: dict[str, int] = {}
        index: dict[str, Field] = {}
        bit = 0
        for f in self.fields:
            if f.name in index:
                raise ModelError(f"duplicate field {f.name}")
            index[f.name] = f
            offsets[f.name] = bit
            bit += f.width
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "leaves", {
            **{("var", f.name): var(f.name, f.kind) for f in self.fields},
            **{("next", f.name): next_(f.name, f.kind) for f in self.fields}})

    @property
    def bits(self) -> int:
        """Total width of a packed state."""
        return sum(f.width for f in self.fields)

    def __getitem__(self, name: str) -> Field:
        try:
            return self.index[name]
        except KeyError:
            raise ModelError(f"unknown field {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.index

    def var(self, name: str) -> Expr:
        """Expression reading field ``name`` before a step."""
        found = self.leaves.get(("var", name))
        return found if found is not None else var(name, self[name].kind)

    def next(self, name: str) -> Expr:
        """Expression reading field ``name`` after a step."""
        found = self.leaves.get(("next", name))
        return found if found is not None else next_(name, self[name].kind)

    def pack(self, values: Mapping[str, Value]) -> int:
        """A packed state from field values (missing fields take their default)."""
        unknown = set(values) - set(self.index)
        if unknown:
            raise ModelError(f"unknown fields {sorted(unknown)}")
        s = 0
        for f in self.fields:
            v = f.check(values.get(f.name, f.default))
            s |= (int(v) - f.lo) << self.offsets[f.name]
        return s

    def unpack(self, state: int) -> dict[str, Value]:
        """Field values of a packed state."""
        out: dict[str, Value] = {}
        for f in self.fields:
            raw = (state >> self.offsets[f.name]) & ((1 << f.width) - 1)
            value = raw + f.lo
            if value > f.hi:
                raise ModelError(f"packed state holds {value} in field {f.name} ({f.describe()})")
            out[f.name] = bool(value) if f.kind == "bool" else value
        return out

    def extend(self, extra: Iterable[Field]) -> Schema:
        """This schema with more fields appended."""
        return Schema(self.fields + tuple(extra))
