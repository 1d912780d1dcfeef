"""Kernel eras as variants: a named set of operations plus what is known about the era.

A :class:`Variant` lists one :class:`~numacheck.model.operation.Operation` per kernel path and
carries its metadata (version range, commits, what changed and why) and its expectations: the
properties the era is known to violate, each with the reason.  Every other property must hold.
Eras share operations and override the ones that differ; a user variant file does the same with
:meth:`Variant.derive`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from numacheck.model.builder import Step
from numacheck.model.expr import ModelError, ite, lift
from numacheck.model.instance import Instance, frame_name, schema, vma_name
from numacheck.model.mm import MM, vm_page_prot
from numacheck.model.operation import Operation
from numacheck.model.system import Derived, TransitionSystem


@dataclass(frozen=True)
class Variant:
    """One kernel era (or a proposed patch) as a model."""

    name: str
    versions: str
    commits: tuple[str, ...]
    summary: str
    operations: tuple[Operation, ...]
    expect_violated: Mapping[str, str] = field(default_factory=dict)
    not_modelled: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        names = [op.name for op in self.operations]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ModelError(f"variant {self.name}: operations defined twice: {sorted(dup)}")

    def operation(self, name: str) -> Operation:
        """The operation called ``name``."""
        for op in self.operations:
            if op.name == name:
                return op
        raise ModelError(f"variant {self.name} has no operation {name!r}")

    def expected(self, prop: str) -> tuple[str, str]:
        """``("violated", reason)`` for a known violation, else ``("holds", "")``."""
        reason = self.expect_violated.get(prop)
        return ("violated", reason) if reason is not None else ("holds", "")

    def derive(
        self,
        name: str,
        *,
        replace_ops: tuple[Operation, ...] = (),
        remove_ops: tuple[str, ...] = (),
        expect_violated: Mapping[str, str] | None = None,
        **meta: str | tuple[str, ...],
    ) -> Variant:
        """A new variant: this one with some operations replaced (matched by name) or removed.

        ``expect_violated`` replaces the expectations when given; other keyword arguments set
        metadata (``versions``, ``commits``, ``summary``, ``not_modelled``, ``source``).
        """
        by_name = {op.name: op for op in replace_ops}
        unknown = set(remove_ops) - {op.name for op in self.operations}
        if unknown:
            raise ModelError(f"variant {name}: cannot remove unknown operations {sorted(unknown)}")
        ops = [by_name.pop(op.name, op) for op in self.operations if op.name not in remove_ops]
        ops.extend(by_name.values())
        expectations = dict(self.expect_violated if expect_violated is None else expect_violated)
        meta.setdefault("source", "")  # a derived variant lives in its own file, not its parent's
        return replace(self, name=name, operations=tuple(ops), expect_violated=expectations, **meta)  # type: ignore[arg-type]


def build(variant: Variant, inst: Instance) -> TransitionSystem:
    """The transition system of ``variant`` on ``inst``: every operation, every parameter."""
    actions = [a for op in variant.operations for a in op.instantiate(inst)]
    return TransitionSystem(
        name=f"{variant.name}[{inst.describe()}]",
        schema=schema(inst),
        init=({},),
        actions=tuple(actions),
        derived=derived_values(inst),
        meta={"variant": variant.name, "instance": inst.describe()},
    )


PROT_NAMES = ("PAGE_NONE", "PAGE_READONLY", "PAGE_COPY", "PAGE_SHARED")


def derived_values(inst: Instance) -> tuple[Derived, ...]:
    """Values traces show besides the state: each VMA's vm_page_prot, each frame's mapcount."""
    mm = MM(inst, Step(schema(inst)))
    out = []
    for p in range(inst.processes):
        vma = mm.vma(p)
        prot = vm_page_prot(vma)
        code = ite(prot.protnone, 0, ite(prot.write, 3, ite(vma.VM_WRITE, 2, 1)))
        out.append(Derived(vma_name(p, "vm_page_prot"), code, f"p{p}.vma", "vm_page_prot", PROT_NAMES))
    names = inst.frame_names()
    for f in range(1, inst.frames):
        out.append(Derived(frame_name(names[f], "page_mapcount"), mm.page_mapcount(lift(f)), names[f],
                           "page_mapcount"))
    return tuple(out)
