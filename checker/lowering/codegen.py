"""Compile expressions and whole transition systems to Python source, one state at a time.

This is the lowering for code that looks at single states: replaying a trace, rendering its
outputs, the simulation runs of the Houdini pass, decoding a solver's path, and the tests' kernel
helpers.  (The explicit search works on whole levels instead: ``arrays.py``.)  A system becomes
one generated function that decodes a packed state into locals, evaluates every guard, and packs
each successor, with shared subexpressions computed once.  Integer assignments whose value might
leave the field's range are checked, so a model bug shows up as a ModelError naming the action
instead of a corrupted packed state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from numacheck.model.expr import Expr, ModelError
from numacheck.model.schema import Schema
from numacheck.model.system import Obligation, TransitionSystem

#: Nesting depth after which a subexpression is bound to a local, to stay far below CPython's
#: parser limits on very large instances.
_MAX_NEST = 24


def interval(e: Expr, schema: Schema) -> tuple[int, int]:
    """A sound range of an integer expression (interval arithmetic over field ranges)."""
    if e.op == "const":
        v = int(e.payload)  # type: ignore[call-overload]
        return v, v
    if e.op in ("var", "next"):
        f = schema[str(e.payload)]
        return f.lo, f.hi
    if e.op == "ite":
        a, b = interval(e.args[1], schema), interval(e.args[2], schema)
        return min(a[0], b[0]), max(a[1], b[1])
    if e.op == "add":
        parts = [interval(a, schema) for a in e.args]
        return sum(p[0] for p in parts), sum(p[1] for p in parts)
    if e.op == "sub":
        a, b = interval(e.args[0], schema), interval(e.args[1], schema)
        return a[0] - b[1], a[1] - b[0]
    raise ModelError(f"not an integer expression: {e.op}")


class _Emitter:
    """Turns expressions into Python source lines with common subexpressions in locals."""

    def __init__(self, names: dict[tuple[str, str], str], counter: list[int] | None = None) -> None:
        self.names = dict(names)  # (op, field) -> local holding that field
        self.temps: dict[int, str] = {}
        self.counter = counter if counter is not None else [0]

    def bind(self, roots: Sequence[Expr], lines: list[str], indent: str) -> None:
        """Bind every subexpression that ``roots`` use more than once (or nest deeply)."""
        uses: dict[int, int] = {}
        order: list[Expr] = []
        seen: set[int] = set()

        def visit(node: Expr) -> None:
            if node.op in ("const", "var", "next") or id(node) in self.temps:
                return
            uses[id(node)] = uses.get(id(node), 0) + 1
            if id(node) in seen:
                return
            seen.add(id(node))
            for a in node.args:
                visit(a)
            order.append(node)

        for r in roots:
            visit(r)
        depth: dict[int, int] = {}
        for node in order:
            d = 1 + max((depth.get(id(a), 0) for a in node.args), default=0)
            if uses[id(node)] > 1 or d > _MAX_NEST:
                name = f"t{self.counter[0]}"
                self.counter[0] += 1
                lines.append(f"{indent}{name} = {self.text(node)}")
                self.temps[id(node)] = name
                d = 0
            depth[id(node)] = d

    def text(self, e: Expr) -> str:
        """Python source of ``e`` (using bound locals where they exist)."""
        bound = self.temps.get(id(e))
        if bound is not None:
            return bound
        op = e.op
        if op == "const":
            return repr(int(e.payload))  # type: ignore[call-overload]
        if op in ("var", "next"):
            try:
                return self.names[(op, str(e.payload))]
            except KeyError:
                raise ModelError(f"expression reads {e.payload} where it is not available") from None
        a = [self.text(x) for x in e.args]
        if op == "not":
            return f"(not {a[0]})"
        if op == "and":
            return "(" + " and ".join(a) + ")"
        if op == "or":
            return "(" + " or ".join(a) + ")"
        if op == "ite":
            return f"({a[1]} if {a[0]} else {a[2]})"
        if op == "eq":
            return f"({a[0]} == {a[1]})"
        if op == "lt":
            return f"({a[0]} < {a[1]})"
        if op == "le":
            return f"({a[0]} <= {a[1]})"
        if op == "add":
            return "(" + " + ".join(a) + ")"
        if op == "sub":
            return f"({a[0]} - {a[1]})"
        raise ModelError(f"unknown operator {op}")

    def scoped(self) -> _Emitter:
        """A child emitter for a nested block: it sees the parent's locals, adds its own."""
        child = _Emitter(self.names, self.counter)
        child.temps = dict(self.temps)
        return child


def _decode(schema: Schema, lines: list[str], indent: str, prefix: str,
            src: str) -> dict[tuple[str, str], str]:
    names: dict[tuple[str, str], str] = {}
    for k, f in enumerate(schema.fields):
        local = f"{prefix}{k}"
        off, mask = schema.offsets[f.name], (1 << f.width) - 1
        if f.width == 0:
            lines.append(f"{indent}{local} = {f.lo}")
        elif f.lo:
            lines.append(f"{indent}{local} = (({src} >> {off}) & {mask}) + {f.lo}")
        else:
            lines.append(f"{indent}{local} = ({src} >> {off}) & {mask}")
        names[("var", f.name)] = local
    return names


def _range_error(action: str, field: str, value: int) -> None:
    raise ModelError(f"{action} assigns {value} to {field}, outside its range")


@dataclass
class CompiledSystem:
    """A transition system compiled for one set of obligations.

    ``expand(s)`` returns ``(action, successor, violated, situations)`` for every enabled
    action, the last two as bit masks over the step obligations.  ``check_state(s)`` returns
    the masks of violated invariants and reached state situations.
    """

    expand: Callable[[int], list[tuple[int, int, int, int]]]
    check_state: Callable[[int], tuple[int, int]]
    source: str


def _system_function(ts: TransitionSystem, obligations: Sequence[Obligation]) -> list[str]:
    schema = ts.schema
    steps_by_action: dict[int, list[tuple[int, Expr, bool]]] = {}
    for j, ob in enumerate(obligations):
        for index, check in ob.steps:
            steps_by_action.setdefault(index, []).append((j, check, True))
        for index, sit in ob.situation_steps:
            steps_by_action.setdefault(index, []).append((j, sit, False))

    lines = ["def expand(s):", "    out = []", "    push = out.append"]
    names = _decode(schema, lines, "    ", "v", "s")
    top = _Emitter(names)
    for index, action in enumerate(ts.actions):
        lines.append(f"    # {action.label}")
        em = top.scoped()
        em.bind([action.guard], lines, "    ")
        lines.append(f"    if {em.text(action.guard)}:")
        inner = em.scoped()
        inner.bind([e for _, e in action.updates], lines, "        ")
        keep = (1 << schema.bits) - 1
        parts = []
        post = dict(names)
        for k, (name, e) in enumerate(action.updates):
            f = schema[name]
            local = f"n{k}"
            lines.append(f"        {local} = {inner.text(e)}")
            if f.kind == "int":
                lo, hi = interval(e, schema)
                if lo < f.lo or hi > f.hi:
                    lines.append(
                        f"        if not {f.lo} <= {local} <= {f.hi}: "
                        f"_range_error({action.label!r}, {name!r}, {local})"
                    )
            off = schema.offsets[name]
            keep &= ~(((1 << f.width) - 1) << off)
            if f.width:
                shifted = f"({local} - {f.lo})" if f.lo else local
                parts.append(f"({shifted} << {off})" if off else f"{shifted}")
            post[("next", name)] = local
        for f in schema.fields:
            post.setdefault(("next", f.name), names[("var", f.name)])
        packed = " | ".join([f"(s & {keep})", *parts]) if parts else "s"
        lines.append(f"        ns = {packed}")
        checks = steps_by_action.get(index, [])
        masks = ("vm", "sm") if checks else ("0", "0")
        if checks:
            ck = inner.scoped()
            ck.names = post
            ck.bind([c for _, c, _ in checks], lines, "        ")
            lines.append("        vm = 0")
            lines.append("        sm = 0")
            for j, c, is_check in checks:
                test = f"not {ck.text(c)}" if is_check else ck.text(c)
                lines.append(f"        if {test}: {'vm' if is_check else 'sm'} |= {1 << j}")
        lines.append(f"        push(({index}, ns, {masks[0]}, {masks[1]}))")
    lines.append("    return out")
    return lines


def compile_system(ts: TransitionSystem, obligations: Sequence[Obligation]) -> CompiledSystem:
    """Generate and compile the successor and state-check functions of ``ts``."""
    schema = ts.schema
    lines = _system_function(ts, obligations)
    lines.append("def check_state(s):")
    names = _decode(schema, lines, "    ", "v", "s")
    em = _Emitter(names)
    roots = [ob.invariant for ob in obligations if ob.invariant is not None]
    roots += [ob.sometimes for ob in obligations if ob.sometimes is not None]
    em.bind(roots, lines, "    ")
    lines.append("    vm = 0")
    lines.append("    sm = 0")
    for j, ob in enumerate(obligations):
        if ob.invariant is not None:
            lines.append(f"    if not {em.text(ob.invariant)}: vm |= {1 << j}")
        if ob.sometimes is not None:
            lines.append(f"    if {em.text(ob.sometimes)}: sm |= {1 << j}")
    lines.append("    return vm, sm")
    source = "\n".join(lines) + "\n"
    scope: dict[str, object] = {"_range_error": _range_error}
    exec(compile(source, f"<numacheck:{ts.name}>", "exec"), scope)
    return CompiledSystem(scope["expand"], scope["check_state"], source)  # type: ignore[arg-type]


def compile_exprs(schema: Schema, exprs: Sequence[Expr]) -> Callable[..., list[int | bool]]:
    """A function ``f(pre, post)`` evaluating ``exprs`` (``var`` on pre, ``next`` on post).

    Used off the hot path: traces (outputs, derived values), replay and tests.
    """
    lines = ["def evaluate(s, p):"]
    names = _decode(schema, lines, "    ", "v", "s")
    names.update({("next", k[1]): v for k, v in _decode(schema, lines, "    ", "w", "p").items()})
    em = _Emitter(names)
    em.bind(list(exprs), lines, "    ")
    lines.append("    return [" + ", ".join(em.text(e) for e in exprs) + "]")
    scope: dict[str, object] = {}
    exec(compile("\n".join(lines) + "\n", "<numacheck:exprs>", "exec"), scope)
    raw = scope["evaluate"]
    kinds = [e.kind for e in exprs]

    def evaluate(pre: int, post: int = 0) -> list[int | bool]:
        values = raw(pre, post)  # type: ignore[operator]
        return [bool(v) if k == "bool" else int(v) for v, k in zip(values, kinds, strict=True)]

    return evaluate
