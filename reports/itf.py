"""Counterexamples as ITF trace files (``--format itf``), one per violation.

The files follow Apalache's Informal Trace Format, so Quint and Apalache tooling can read them,
and ``numacheck replay`` re-executes them on the model.  Each state's ``#meta`` names the kernel
function of the step that led to it, its arguments and the fields it changed.
"""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from typing import Any

from numacheck.checker.result import Result, Trace
from numacheck.checker.traces.itf import FORMAT_URL, encode, layout, nest


def file_name(r: Result) -> str:
    """``<variant>__<property>.itf.json``, safe as a file name."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{r.variant}__{r.property}")
    return f"{stem}.itf.json"


def _states(trace: Trace) -> tuple[list[str], list[dict[str, Any]]]:
    infos = [f for f in trace.fields if not f.derived]
    paths = layout(infos)
    states = []
    for n, step in enumerate(trace.steps):
        meta: dict[str, Any] = {"index": n, "action": step.label, "function": step.action}
        if n:
            meta.update(args=step.args, citation=step.citation, outputs=step.outputs,
                        changed=list(step.changed))
        values = {paths[f.name]: encode(f.kind, f.names, step.state[f.name]) for f in infos}
        states.append({"#meta": meta, **nest(values)})
    variables = sorted({str(p[0]) for p in paths.values()})
    return variables, states


def document(r: Result) -> dict[str, Any]:
    """The ITF document of ``r``'s counterexample."""
    assert r.trace is not None
    variables, states = _states(r.trace)
    return {
        "#meta": {
            "format": "ITF",
            "format-description": FORMAT_URL,
            "source": r.variant_source or r.variant,
            "description": f"{r.variant}: {r.trace.violation}",
            "numacheck": {
                "version": version("numacheck"),
                "variant": r.variant,
                "variant_file": r.variant_source.rsplit(":", 1)[0] if r.variant_source else "",
                "property": r.property,
                "engine": r.engine,
                "instance": r.instance,
                "areas": list(r.areas),
            },
        },
        "vars": variables,
        "states": states,
    }


def render(results: list[Result]) -> dict[str, str]:
    """File name -> ITF text for every counterexample in ``results``."""
    files: dict[str, str] = {}
    for r in results:
        if r.trace is None:
            continue
        name = file_name(r)
        n = 1
        while name in files:  # two names that differ only in characters unsafe in a file name
            n += 1
            name = file_name(r).replace(".itf.json", f"-{n}.itf.json")
        files[name] = json.dumps(document(r), indent=1) + "\n"
    return files
