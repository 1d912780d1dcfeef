"""ITF, the Informal Trace Format of Apalache and Quint, for numacheck's counterexamples.

A trace file holds the state fields (ghost fields included, computed values such as
page_mapcount left out) as nested records spelled as the fields are named everywhere else:
``p1.pte[0]._PAGE_RW``, ``p1.vma.VM_WRITE``, ``anon0.PageAnonExclusive``.  This module fixes
that layout and reads a file back into the model's packed states, so ``numacheck replay`` can
re-execute a trace written by any run.
Format: https://apalache-mc.org/docs/adr/015adr-trace.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

FORMAT_URL = "https://apalache-mc.org/docs/adr/015adr-trace.html"

Key = str | int
_INDEXED = re.compile(r"^(\w+)\[(\d+)\]$")


class ItfError(Exception):
    """A file that is not a numacheck ITF trace."""


class FieldLike(Protocol):
    """What the layout needs of a field: its dotted name."""

    @property
    def name(self) -> str: ...


def _path(name: str) -> tuple[Key, ...]:
    """``p1.pte[0]._PAGE_RW`` -> ``("p1", "pte", 0, "_PAGE_RW")``."""
    path: list[Key] = []
    for token in name.split("."):
        m = _INDEXED.match(token)
        path.extend((m.group(1), int(m.group(2))) if m else (token,))
    return tuple(path)


def layout(fields: Iterable[FieldLike]) -> dict[str, tuple[Key, ...]]:
    """Each field's place in an ITF state: its name read as record fields and list indices, so
    ``p1.pte[0]._PAGE_RW`` in a report is ``p1.pte[0]._PAGE_RW`` in the trace file too."""
    paths = {f.name: _path(f.name) for f in fields}
    taken = set(paths.values())
    for name, path in paths.items():
        if any(path[:k] in taken for k in range(1, len(path))):
            raise ItfError(f"field {name} lies inside another field")
    return paths


def nest(values: dict[tuple[Key, ...], Any]) -> dict[str, Any]:
    """Nested records (and, for integer keys, lists) from a flat map of paths."""
    root: dict[Key, Any] = {}
    for path, value in values.items():
        node = root
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return _lists(root)  # type: ignore[no-any-return]


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(k, int) for k in node):
        return [_lists(node[k]) for k in sorted(node)]
    return {str(k): _lists(v) for k, v in node.items()}


def lookup(state: dict[str, Any], path: tuple[Key, ...]) -> Any:
    """The value at ``path`` in an ITF state; ItfError when it is missing."""
    node: Any = state
    for key in path:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            raise ItfError(f"state {state.get('#meta', {}).get('index', '?')} has no "
                           f"{_dotted(path)}") from None
    return node


def leaves(state: dict[str, Any]) -> set[str]:
    """The dotted name of every value in an ITF state (``#meta`` left out)."""
    out: set[str] = set()

    def walk(node: Any, path: tuple[Key, ...]) -> None:
        if isinstance(node, dict) and "#bigint" not in node:
            for key, child in node.items():
                if not str(key).startswith("#"):
                    walk(child, (*path, key))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, (*path, index))
        else:
            out.add(_dotted(path))

    walk(state, ())
    return out


def _dotted(path: Sequence[Key]) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")


def encode(kind: str, names: tuple[str, ...], text: str) -> Any:
    """An ITF value from a rendered field value: a boolean, an enum name, or a ``#bigint``."""
    if kind == "bool":
        return text == "1"
    if names:
        return text
    return {"#bigint": text}


def decode(kind: str, names: tuple[str, ...], value: Any, where: str) -> str:
    """The rendered field value of an ITF value (the inverse of :func:`encode`)."""
    if kind == "bool" and isinstance(value, bool):
        return "1" if value else "0"
    if kind != "bool" and names and isinstance(value, str):
        return value
    if (kind != "bool" and not names and isinstance(value, dict)
            and isinstance(value.get("#bigint"), str) and re.fullmatch(r"-?\d+", value["#bigint"])):
        return str(value["#bigint"])
    raise ItfError(f"{where}: {json.dumps(value)} is not a valid value here")


@dataclass(frozen=True)
class ItfTrace:
    """A parsed ITF document: numacheck's run metadata and the states with their actions."""

    meta: dict[str, Any]
    states: tuple[dict[str, Any], ...]

    @property
    def actions(self) -> tuple[str, ...]:
        """The action label of every state after the first."""
        return tuple(str(s["#meta"].get("action", "")) for s in self.states[1:])


def load(text: str) -> ItfTrace:
    """Parse and check the shape of an ITF document written by numacheck."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ItfError(f"not JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise ItfError("JSON nested too deeply for a trace") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("states"), list) or not doc["states"]:
        raise ItfError("an ITF trace is an object with a non-empty 'states' list")
    if not isinstance(doc.get("vars"), list):
        raise ItfError("an ITF trace lists its variables in 'vars'")
    meta = doc.get("#meta", {}).get("numacheck") if isinstance(doc.get("#meta"), dict) else None
    if not isinstance(meta, dict) or not {"variant", "property", "instance"} <= meta.keys():
        raise ItfError("'#meta.numacheck' must name the variant, property and instance")
    for n, state in enumerate(doc["states"]):
        if not isinstance(state, dict) or not isinstance(state.get("#meta"), dict):
            raise ItfError(f"state {n} is not an object with '#meta'")
        if state["#meta"].get("index") != n:
            raise ItfError(f"state {n} has '#meta.index' {state['#meta'].get('index')!r}")
        if n and not isinstance(state["#meta"].get("action"), str):
            raise ItfError(f"state {n} does not name the action that led to it")
    return ItfTrace(meta, tuple(doc["states"]))
