"""Kernel eras as variants: a named set of operations plus what is known about the era.

A :class:`Variant` lists one :class:`~numacheck.model.operation.Operation` per kernel path and
carries its metadata (version range, commits, what changed and why) and its expectations: the
properties the era is known to violate, each with the reason.  Every other property must hold.
Eras share operations and override the ones that differ; a user variant file does the same with
:meth:`Variant.derive`.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from numacheck.model.builder import Step
from numacheck.model.diagnose import did_you_mean, explain, user_frame
from numacheck.model.expr import ModelError, ite, lift
from numacheck.model.instance import Instance, frame_name, schema, vma_name
from numacheck.model.mm import MM, vm_page_prot
from numacheck.model.operation import Operation
from numacheck.model.symmetry import builtin_operations, interchangeable
from numacheck.model.system import Action, Derived, TransitionSystem


@dataclass(frozen=True)
class TraceShape:
    """The shape of a shortest counterexample: its length and the kernel functions on it.

    Recorded for an era's expected violation from a run of the engine (like LKMM's recorded
    results) and compared with each run's counterexample, so that a new bug under a property the
    era violates on purpose still fails the gate.  The functions are a set, not a sequence: of
    several equally short counterexamples an engine may report any, and these differ in the
    order of independent steps and in which process or page they use, not in their length.
    """

    length: int
    functions: frozenset[str]
    #: The instance it was recorded on: another instance may have shorter counterexamples.
    instance: Instance = field(default_factory=Instance)
    #: The recorded trace's functions in order, for display only (never compared).
    steps: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "functions", frozenset(self.functions))

    def describe(self) -> str:
        """``6 steps: mmap, access, ...`` (in order when recorded so), else the set of functions."""
        if self.steps:
            return f"{self.length} steps: {', '.join(self.steps)}"
        return f"{self.length} steps through {', '.join(sorted(self.functions))}"


def trace_shape(functions: str) -> TraceShape:
    """The shape of a recorded trace given as its kernel functions in order, one per step
    (``"mmap access do_anonymous_page ..."``): its length and the set of them."""
    steps = tuple(functions.split())
    return TraceShape(len(steps), frozenset(steps), steps=steps)


class VariantError(ModelError):
    """A mistake in a variant's own code, reported at its file and line."""


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
    #: For an expected violation, the shape of its shortest counterexample (see TraceShape).
    expect_trace: Mapping[str, TraceShape] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [op.name for op in self.operations]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ModelError(f"variant {self.name}: operations defined twice: {sorted(dup)}")
        stray = sorted(set(self.expect_trace) - set(self.expect_violated))
        if stray:
            raise ModelError(f"variant {self.name}: expect_trace records a counterexample for "
                             f"{', '.join(stray)}, which expect_violated does not name")

    @property
    def areas(self) -> frozenset[str]:
        """The kernel areas this variant models: those of its operations (see instance.AREAS)."""
        return frozenset(a for op in self.operations for a in op.areas)

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
        add_ops: tuple[Operation, ...] = (),
        remove_ops: tuple[str, ...] = (),
        expect_violated: Mapping[str, str] | None = None,
        expect_trace: Mapping[str, TraceShape] | None = None,
        **meta: str | tuple[str, ...],
    ) -> Variant:
        """A new variant: this one with some operations replaced (matched by name), added or removed.

        A replaced or removed name this variant does not have is an error (a misspelt name would
        otherwise check another patch than the one meant); a new operation goes in ``add_ops``.
        ``expect_violated`` replaces the expectations when given, ``expect_trace`` the recorded
        counterexample shapes (by default this variant's, for the properties still expected
        violated: a patch that changes the bug's counterexample fails); other keyword arguments set
        metadata (``versions``, ``commits``, ``summary``, ``not_modelled``, ``source``), which
        otherwise say what the variant was derived from rather than repeat this era's.
        """
        own = [op.name for op in self.operations]
        for what, names in (("replace_ops", [op.name for op in replace_ops]), ("remove_ops", remove_ops)):
            for unknown in (n for n in names if n not in own):
                raise ModelError(
                    f"variant {name}: {what} names {unknown!r}, which {self.name} does not have"
                    f"{did_you_mean(unknown, own)}; its operations: {', '.join(own)}"
                    + ("; a new operation goes in add_ops=" if what == "replace_ops" else ""))
        for op in add_ops:
            if op.name in own:
                raise ModelError(f"variant {name}: add_ops has {op.name!r}, which {self.name} "
                                 "already has; to change it, pass it in replace_ops=")
        by_name = {op.name: op for op in replace_ops}
        ops = [by_name.get(op.name, op) for op in self.operations if op.name not in remove_ops]
        ops.extend(add_ops)
        expectations = dict(self.expect_violated if expect_violated is None else expect_violated)
        shapes = {p: t for p, t in self.expect_trace.items() if p in expectations} \
            if expect_trace is None else dict(expect_trace)
        changes = [f"replaces {', '.join(by_name)}" if by_name else "",
                   f"adds {', '.join(op.name for op in add_ops)}" if add_ops else "",
                   f"removes {', '.join(remove_ops)}" if remove_ops else ""]
        meta.setdefault("versions", f"derived from {self.name} ({self.versions})")
        meta.setdefault("commits", ())
        changed = "; ".join(c for c in changes if c) or "nothing changed"
        meta.setdefault("summary", f"{self.name}, {changed}.")
        meta.setdefault("source", "")  # a derived variant lives in its own file, not its parent's
        return replace(self, name=name, operations=tuple(ops), expect_violated=expectations,
                       expect_trace=shapes, **meta)  # type: ignore[arg-type]


#: The actions of the built-in eras' operations, by operation and instance (with the operation,
#: which keeps its identity alive): the eras share most operations, and instantiating one is
#: pure, so each is instantiated once per instance.
_INSTANTIATED: dict[tuple[int, Instance], tuple[Operation, tuple[Action, ...]]] = {}


def _instantiated(op: Operation, inst: Instance) -> Sequence[Action]:
    if id(op) not in builtin_operations():  # a user's operation may print, or read state
        return list(op.instantiate(inst))
    found = _INSTANTIATED.get((id(op), inst))
    if found is None:
        found = _INSTANTIATED[(id(op), inst)] = (op, tuple(op.instantiate(inst)))
    return found[1]


def build(variant: Variant, inst: Instance) -> TransitionSystem:
    """The transition system of ``variant`` on ``inst``: every operation, every parameter."""
    actions: list[Action] = []
    with contextlib.redirect_stdout(sys.stderr):  # a body's print() must not corrupt a report
        for op in variant.operations:
            try:
                actions.extend(_instantiated(op, inst))
            except Exception as exc:
                where = user_frame(exc.__traceback__)
                if where is None:  # numacheck's own code: a model error or an internal one
                    raise
                file = where[0]
                if variant.source and Path(variant.source).resolve() == Path(file).resolve():
                    file = variant.source  # the path as the user gave it
                raise VariantError(f"{file}:{where[1]}: in {op.name}: {explain(exc, where[0])}") from None
    sch = schema(inst)
    return TransitionSystem(
        name=f"{variant.name}[{inst.describe()}]",
        schema=sch,
        init=({},),
        actions=tuple(actions),
        derived=derived_values(inst),
        meta={"variant": variant.name, "instance": inst.describe()},
        symmetry=interchangeable(inst, sch, variant.operations),
    )


PROT_NAMES = ("PAGE_NONE", "PAGE_READONLY", "PAGE_COPY", "PAGE_SHARED")


@functools.cache
def derived_values(inst: Instance) -> tuple[Derived, ...]:
    """Values traces show besides the state: each VMA's vm_page_prot, each frame's mapcount
    (built once per instance)."""
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
