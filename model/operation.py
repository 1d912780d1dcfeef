"""Operations: one definition of a kernel path, instantiated into guarded commands.

An :class:`Operation` names the kernel function it models, cites where the kernel does it, says
which parameters it ranges over (process, page, protection, ...) and has a body that runs on an
:class:`~numacheck.model.mm.MM`.  Building a variant turns every operation and every parameter
value into one :class:`~numacheck.model.system.Action`.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from numacheck.model.builder import Step
from numacheck.model.expr import operation_body
from numacheck.model.instance import Instance, schema
from numacheck.model.mm import MM
from numacheck.model.system import Action, Citation

#: A parameter domain: for an instance, the values one parameter ranges over.
Domain = Callable[[Instance], Sequence["str | int"]]

_Rule = TypeVar("_Rule")
_Built = TypeVar("_Built")


def per_rule(factory: Callable[[_Rule], _Built]) -> Callable[[_Rule], _Built]:
    """A factory of an era's operations from its rule (a table row's name, or a rule object),
    made to give the same operations for the same rule: the eras that share a rule then share
    its operations, which a build instantiates once per instance (``model/variant.py``).  A
    rule that cannot be hashed gets operations of its own."""
    cached = functools.cache(factory)

    @functools.wraps(factory)
    def built(rule: _Rule) -> _Built:
        return cached(rule) if _hashable(rule) else factory(rule)

    return built


def _hashable(value: object) -> bool:
    """Whether ``value`` can be a key (a frozen rule with an unhashable field cannot)."""
    try:
        hash(value)
    except TypeError:
        return False
    return True


def processes(inst: Instance) -> Sequence[int]:
    """Every process."""
    return range(inst.processes)


def pages(inst: Instance) -> Sequence[int]:
    """Every page offset of a VMA."""
    return range(inst.pages)


def nodes(inst: Instance) -> Sequence[int]:
    """Every NUMA node."""
    return range(inst.nodes)


def choices(*values: str) -> Domain:
    """A fixed list of symbolic choices (e.g. protections)."""
    return lambda inst: values


@dataclass(frozen=True)
class Operation:
    """A kernel path as a guarded command family."""

    name: str
    body: Callable[..., None]
    citation: Citation
    params: Mapping[str, Domain] = field(default_factory=dict)
    where: Callable[..., bool] | None = None
    #: The kernel area it belongs to (instance.AREAS): an instance without it has no such actions.
    area: str = "numa"
    #: Other areas that need it too (the GUP retry serves the gup and the pin area).
    also: tuple[str, ...] = ()

    @property
    def areas(self) -> frozenset[str]:
        """The areas any of which brings this operation into an instance."""
        return frozenset((self.area, *self.also))

    @property
    def doc(self) -> str:
        """The first paragraph of the body's docstring."""
        return (self.body.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")

    def bindings(self, inst: Instance) -> Iterator[dict[str, str | int]]:
        """Every parameter assignment for ``inst`` (filtered by ``where``)."""
        names = list(self.params)
        for values in itertools.product(*(self.params[n](inst) for n in names)):
            binding = dict(zip(names, values, strict=True))
            if self.where is None or self.where(**binding):
                yield binding

    def instantiate(self, inst: Instance) -> Iterator[Action]:
        """One action per parameter assignment (none when the instance lacks the area)."""
        if not self.areas & inst.areas:
            return
        sch = schema(inst)
        for binding in self.bindings(inst):
            step = Step(sch)
            mm = MM(inst, step)
            with operation_body():
                self.body(mm, **binding)
            mm.finish()
            yield Action(
                op=self.name,
                params=tuple(binding.items()),
                guard=step.guard(),
                updates=step.updates(),
                outputs=step.outputs(),
                citation=self.citation,
            )


def operation(
    name: str,
    citation: Citation,
    where: Callable[..., bool] | None = None,
    area: str = "numa",
    also: tuple[str, ...] = (),
    **params: Domain,
) -> Callable[[Callable[..., None]], Operation]:
    """Decorator: turn a body ``f(mm, **params)`` into an :class:`Operation` of ``area`` (and of
    the areas in ``also``)."""

    def wrap(body: Callable[..., None]) -> Operation:
        return Operation(name=name, body=body, citation=citation, params=params, where=where,
                         area=area, also=also)

    return wrap
