"""One trace step as one line of text, as the text report words it, for SARIF messages and HTML.

The change itself comes from :func:`numacheck.reports.text.describe_change`, so every renderer
names PTE bits and objects the same way.
"""

from __future__ import annotations

from numacheck.checker.result import Trace, TraceStep
from numacheck.reports.text import describe_change


def outputs_text(step: TraceStep) -> str:
    """The step's outputs as ``name=value`` pairs (flags as 0/1), e.g. ``tnf_no_group=1``."""
    return " ".join(f"{k}={int(v) if isinstance(v, bool) else v}" for k, v in step.outputs.items())


def step_text(trace: Trace, n: int) -> str:
    """Step ``n``: the kernel function with its arguments, what it changed, and its outputs."""
    step = trace.steps[n]
    if n == 0:
        return "init: the initial state"
    parts = [step.label, *describe_change(trace, step, trace.steps[n - 1])]
    if step.outputs:
        parts.append("-> " + outputs_text(step))
    return "; ".join(parts)
