"""Export a transition system and its obligations as a Promela model for SPIN.

The export has exactly the explicit engine's state space, so SPIN can be run on the same work
as a peer: every schema field (ghost fields too) is one global variable, and one process loops
over one ``d_step`` per action, so each SPIN state is one numacheck state with the process
parked at its loop head.  Step checks become assertions inside their actions' ``d_step``
(``next`` is replaced by the value the update assigns, so they read only the state before the
step); state invariants are asserted by a second process that can move only in a state that
violates one, so it adds no states either.  Situations are not exported: vacuity is
numacheck's own concern, and SPIN explores the whole space whatever they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from numacheck.checker.lowering.codegen import interval
from numacheck.model.expr import Expr, Kind, ModelError, fields_of, substitute, var
from numacheck.model.schema import Field, Schema
from numacheck.model.system import Action, Obligation, TransitionSystem

#: Words a field may not be called: Promela's keywords and predefined names, the C keywords a
#: struct member of the generated ``pan`` cannot take, and the names of the two processes.
_RESERVED = frozenset({
    "active", "assert", "atomic", "bit", "bool", "break", "byte", "c_code", "c_decl", "c_expr",
    "c_state", "c_track", "chan", "d_proctype", "d_step", "do", "else", "empty", "enabled", "eval",
    "false", "fi", "full", "goto", "hidden", "if", "init", "int", "len", "local", "ltl", "mtype",
    "nempty", "never", "nfull", "notrace", "np_", "od", "of", "pc_value", "printf", "printm",
    "priority", "proctype", "provided", "run", "select", "short", "skip", "timeout", "trace",
    "true", "typedef", "unless", "unsigned", "xr", "xs", "_", "_last", "_nr_pr", "_pid",
    "auto", "case", "char", "const", "continue", "default", "double", "enum", "extern", "float",
    "for", "long", "register", "return", "signed", "sizeof", "static", "struct", "switch",
    "union", "void", "volatile", "while",
    "system", "invariants",
})

#: Scratch variables are called ``tmp_<type><n>``; no field may be.
_SCRATCH = re.compile(r"tmp_(bool|byte|short|int)\d+")

#: See :func:`_shared`: shared subexpressions whose text would be longer than this many nodes are
#: computed once per step.
_SHARE_ABOVE = 256

#: Promela text of each operator, given the text of its operands.  ``->`` inside parentheses is
#: Promela's conditional expression.
_TEMPLATES: dict[str, Callable[[list[str]], str]] = {
    "not": lambda a: f"(!{a[0]})",
    "and": lambda a: "(" + " && ".join(a) + ")",
    "or": lambda a: "(" + " || ".join(a) + ")",
    "ite": lambda a: f"({a[0]} -> {a[1]} : {a[2]})",
    "eq": lambda a: f"({a[0]} == {a[1]})",
    "lt": lambda a: f"({a[0]} < {a[1]})",
    "le": lambda a: f"({a[0]} <= {a[1]})",
    "add": lambda a: "(" + " + ".join(a) + ")",
    "sub": lambda a: f"({a[0]} - {a[1]})",
}


def identifiers(schema: Schema) -> dict[str, str]:
    """A distinct Promela identifier for every field, readable
    (``p0.pte[0]._PAGE_RW`` -> ``p0_pte0_PAGE_RW``)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for f in schema.fields:
        name = re.sub(r"_+", "_", re.sub(r"\W", "_", re.sub(r"\[(\d+)\]", r"\1", f.name)))
        if not re.match(r"[A-Za-z]", name):
            name = "f_" + name
        while name.lower() in _RESERVED or _SCRATCH.fullmatch(name) or name in taken:
            name += "_"
        taken.add(name)
        out[f.name] = name
    return out


def _promela_type(kind: Kind, lo: int, hi: int) -> str:
    """The smallest Promela type holding every value in ``lo..hi`` (``byte`` is unsigned)."""
    if kind == "bool":
        return "bool"
    if lo >= 0 and hi <= 255:
        return "byte"
    if lo >= -(2**15) and hi < 2**15:
        return "short"
    return "int"


def _field_type(f: Field) -> str:
    """The Promela type of field ``f``."""
    return _promela_type(f.kind, f.lo, f.hi)


def _expr_type(e: Expr, schema: Schema) -> str:
    """The Promela type of a scratch variable holding ``e``."""
    return _promela_type(e.kind, *interval(e, schema)) if e.kind == "int" else "bool"


class _Writer:
    """Promela text of expressions over the state before a step.

    ``bound`` names the scratch variable already holding a subexpression; the text of other
    nodes is built once and reused.
    """

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.bound: dict[int, str] = {}
        self.memo: dict[int, str] = {}

    def text(self, e: Expr) -> str:
        """The Promela expression of ``e`` (only ``var`` leaves; ``next`` must be substituted)."""
        done = self.bound.get(id(e)) or self.memo.get(id(e))
        if done is not None:
            return done
        if e.op == "const":
            value = int(e.payload)  # type: ignore[call-overload]
            out = str(value) if value >= 0 else f"({value})"
        elif e.op == "var":
            out = self.names[str(e.payload)]
        elif e.op in _TEMPLATES:
            out = _TEMPLATES[e.op]([self.text(a) for a in e.args])
        else:
            raise ModelError(f"cannot export operator {e.op} to Promela")
        self.memo[id(e)] = out
        return out


def _as_pre_state(check: Expr, action: Action, schema: Schema) -> Expr:
    """``check`` with every ``next`` field replaced by its value after ``action``, read before it."""
    assigned = dict(action.updates)
    mapping = {
        ("next", f.name): assigned.get(f.name, var(f.name, f.kind)) for f in schema.fields
    }
    return substitute(check, mapping)


def _schedule(updates: Sequence[tuple[str, Expr]]) -> tuple[list[str], list[str]]:
    """How to perform simultaneous updates one assignment at a time.

    Returns the fields whose new value is first computed into a temporary, and the order in
    which fields are then written: a field is written only once no update still to be written
    reads it; when no field is free the remaining reads form a cycle, and the first update that still
    reads another's field is computed into a temporary, which breaks it.
    """
    assigned = {name for name, _ in updates}
    reads = {name: {f for _, f in fields_of(e) if f in assigned and f != name} for name, e in updates}
    saved: list[str] = []
    order: list[str] = []
    while reads:
        free = [n for n in reads if not any(n in r for m, r in reads.items() if m != n)]
        if free:
            order.append(free[0])
            del reads[free[0]]
        else:
            stuck = next(n for n, r in reads.items() if r)
            saved.append(stuck)
            reads[stuck] = set()
    return saved, order


def _shared(roots: Sequence[Expr]) -> list[Expr]:
    """The subexpressions of ``roots`` to compute once into scratch variables, inner ones first.

    Written out as a tree, an expression repeats every subexpression it shares, which on large
    instances multiplies the text a thousandfold.  A shared node is bound when its text would
    exceed :data:`_SHARE_ABOVE` nodes (counting bound nodes as one), which keeps the text linear
    in the size of the expression graph; smaller ones are repeated, which costs less than the
    state-vector bytes of a scratch variable.
    """
    uses: dict[int, int] = {}
    order: list[Expr] = []

    def visit(node: Expr) -> None:
        uses[id(node)] = uses.get(id(node), 0) + 1
        if uses[id(node)] == 1:
            for arg in node.args:
                visit(arg)
            order.append(node)

    for root in roots:
        visit(root)
    size: dict[int, int] = {}
    out: list[Expr] = []
    for node in order:
        size[id(node)] = 1 + sum(size[id(a)] for a in node.args)
        if uses[id(node)] > 1 and size[id(node)] > _SHARE_ABOVE:
            out.append(node)
            size[id(node)] = 1
    return out


class _Scratch:
    """Scratch variables of one ``d_step``, named per Promela type; ``needed`` keeps the most
    any action uses, which is how many the process declares."""

    def __init__(self, needed: dict[str, int]) -> None:
        self.needed = needed
        self.counts: dict[str, int] = {}
        self.taken: list[str] = []

    def take(self, kind: str) -> str:
        """A fresh scratch variable of Promela type ``kind``."""
        k = self.counts.get(kind, 0)
        self.counts[kind] = k + 1
        self.needed[kind] = max(self.needed.get(kind, 0), k + 1)
        self.taken.append(f"tmp_{kind}{k}")
        return self.taken[-1]


def _action_body(action: Action, checks: Sequence[tuple[str, Expr]], schema: Schema, guard: str,
                 names: dict[str, str], needed: dict[str, int]) -> list[str]:
    """The statements of one action's ``d_step``, after its ``guard``.

    Everything is computed from the state before the step, then the fields are written.
    Scratch variables (shared subexpressions, values of simultaneous updates) are set back to 0
    at the end, so they are constant in every state SPIN stores.  An update whose value might
    leave its field's range is asserted in range, as the explicit engine checks it.
    """
    writer = _Writer(names)
    scratch = _Scratch(needed)
    lines = [f"{guard} ->"]
    pre_checks = [(name, _as_pre_state(check, action, schema)) for name, check in checks]
    for node in _shared([e for _, e in action.updates] + [c for _, c in pre_checks]):
        temp = scratch.take(_expr_type(node, schema))
        lines.append(f"{temp} = {writer.text(node)};")
        writer.bound[id(node)] = temp
    for name, check in pre_checks:
        lines.append(f"/* {name} */ assert({writer.text(check)});")
    values = {name: writer.text(e) for name, e in action.updates}
    for name, e in action.updates:
        f = schema[name]
        if f.kind == "int":
            lo, hi = interval(e, schema)
            if lo < f.lo or hi > f.hi:
                lines.append(f"assert({f.lo} <= {values[name]} && {values[name]} <= {f.hi});")
    saved, order = _schedule(action.updates)
    for name in saved:
        temp = scratch.take(_field_type(schema[name]))
        lines.append(f"{temp} = {values[name]};")
        values[name] = temp
    lines.extend(f"{names[name]} = {values[name]};" for name in order)
    lines.extend(f"{temp} = 0;" for temp in scratch.taken)
    if len(lines) == 1:
        lines.append("skip")
    return lines


def _comment(text: str) -> str:
    return "/* " + text.replace("*/", "* /") + " */"


def to_promela(ts: TransitionSystem, obligations: Sequence[Obligation]) -> str:
    """A Promela model whose reachable states are exactly those of ``ts``, checking ``obligations``.

    With one initial state the fields are declared with its values; with several, the model
    starts by choosing one, which costs SPIN one extra state (the one before the choice).  Run
    it with ``spin -a`` and a pan compiled with ``-DSAFETY -DNOREDUCE`` (``-DBFS`` for shortest
    counterexamples); see benchmarks/README.md.
    """
    schema = ts.schema
    names = identifiers(schema)
    writer = _Writer(names)
    initial = [schema.unpack(s) for s in ts.initial_states()]
    for ob in obligations:
        ts.check_obligation(ob)

    checks_by_action: dict[int, list[tuple[str, Expr]]] = {}
    for ob in obligations:
        for index, check in ob.steps:
            checks_by_action.setdefault(index, []).append((ob.name, check))

    options: list[str] = []
    scratch: dict[str, int] = {}
    for index, action in enumerate(ts.actions):
        body = _action_body(action, checks_by_action.get(index, []), schema, writer.text(action.guard),
                            names, scratch)
        options.append(f"\t:: {_comment(action.label)}")
        options.append("\t\td_step {")
        options.extend(f"\t\t\t{line}" for line in body)
        options.append("\t\t}")

    out = [_comment(f"{ts.name}: exported by numacheck; one global per state field"), ""]
    first = initial[0] if len(initial) == 1 else {}
    for f in schema.fields:
        value = int(first.get(f.name, f.default))
        note = _comment(f.name + (" (ghost)" if f.ghost else ""))
        out.append(f"{_field_type(f)} {names[f.name]} = {value}; {note}")
    out += ["", "active proctype system()", "{"]
    if scratch:
        # Not ``hidden``: SPIN's breadth-first search refuses hidden variables.
        out.append("\t" + _comment("scratch for shared values and simultaneous assignment, 0 between steps"))
        out.extend(f"\t{kind} tmp_{kind}{k};" for kind, n in scratch.items() for k in range(n))
    if len(initial) > 1:
        out.append("\tif")
        for values in initial:
            assigns = " ".join(f"{names[k]} = {int(v)};" for k, v in values.items())
            out.append(f"\t:: d_step {{ {assigns} }}")
        out.append("\tfi;")
    # ``end``: a state where no action is enabled is a valid end state, as it is for numacheck.
    out += ["end:", "\tdo", *options, "\tod", "}"]

    invariants = [(ob.name, ob.invariant) for ob in obligations if ob.invariant is not None]
    if invariants:
        out += ["", "active proctype invariants()", "{", "end:", "\tif"]
        for name, invariant in invariants:
            text = writer.text(invariant)
            out.append(f"\t:: {_comment(name)} d_step {{ !{text} -> assert({text}) }}")
        out += ["\tfi", "}"]
    return "\n".join(out) + "\n"
