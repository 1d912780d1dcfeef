"""ITF, the Informal Trace Format of Apalache and Quint, for numacheck's counterexamples.

A trace file holds the state fields (ghost fields included, computed values such as
page_mapcount left out) as nested records: ``p1.pte[0].write``, ``p1.vma.VM_WRITE``,
``anon0.exclusive``.  This module fixes that layout and reads a file back into the model's
packed states, so ``numacheck replay`` can re-execute a trace written by any run.
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
    """What the layout needs of a field: its dotted name and its display group."""

    @property
    def name(self) -> str: ...

    @property
    def group(self) -> str: ...


def _path(name: str, group: str) -> tuple[Key, ...]:
    """``p1 pte[0]`` + ``p1.pte0.write`` -> ``("p1", "pte", 0, "write")``."""
    tokens = group.split()
    head = name.split(".")
    if not tokens or tokens[0] != head[0]:
        return tuple(head)
    path: list[Key] = [tokens[0]]
    for token in tokens[1:]:
        m = _INDEXED.match(token)
        path.extend((m.group(1), int(m.group(2))) if m else (token,))
    return (*path, head[-1])


def layout(fields: Iterable[FieldLike]) -> dict[str, tuple[Key, ...]]:
    """Each field's place in an ITF state; dotted names when the groups do not nest uniquely."""
    fields = list(fields)
    paths = {f.name: _path(f.name, f.group) for f in fields}
    tops = {p[0] for p in paths.values()}
    clash = len(set(paths.values())) < len(paths) or any(
        p[:k] in paths.values() for p in paths.values() for k in range(1, len(p)))
    if clash or len(tops) == 0:
        return {f.name: tuple(f.name.split(".")) for f in fields}
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
