"""The ``numacheck`` command line: it only wires model, properties, engines and reports.

Exit codes: 0 every result as expected; 1 a result not as expected (an unexpected violation, an
expected violation no longer found, a vacuous property); 2 usage or input error; 3 inconclusive
(a limit was reached or a solver answered unknown).  Errors are one line on stderr, never a
traceback (set NUMACHECK_DEBUG=1 to see one for an internal error).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import click

from numacheck.checker.outcome import Limits
from numacheck.checker.result import EXIT_INCONCLUSIVE, EXIT_USAGE, Result, exit_code
from numacheck.checker.run import ENGINES, Check, run_check
from numacheck.model.expr import ModelError
from numacheck.model.instance import Instance
from numacheck.model.variant import Variant
from numacheck.model.variants import BUILTIN as VARIANTS
from numacheck.model.variants import resolve as resolve_variant
from numacheck.properties import BUILTIN as PROPERTIES
from numacheck.properties import resolve as resolve_property
from numacheck.properties.base import Property
from numacheck.reports import json_report, text

DEFAULT_MAX_STATES = 10_000_000


class UsageProblemError(Exception):
    """Bad input found after option parsing (exit code 2)."""


def _progress(enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None
    last = [0.0]

    def show(states: int, transitions: int, depth: int, queue: int, seconds: float) -> None:
        if seconds - last[0] < 2.0:
            return
        last[0] = seconds
        rate = states / seconds if seconds else 0.0
        click.echo(f"  .. {states} states, {rate:.0f} states/s, depth {depth}, queue {queue}, "
                   f"{seconds:.0f}s", err=True)

    return show


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="numacheck")
def cli() -> None:
    """Model checker for Linux PTE protection state around NUMA balancing."""


@cli.command()
@click.option("--variant", "-v", "variants", multiple=True, metavar="NAME|FILE.py",
              help="Built-in variant or a variant file (repeatable; default: every built-in).")
@click.option("--property", "-p", "properties", multiple=True, metavar="NAME",
              help="Property to check (repeatable; default: every property).")
@click.option("--engine", "-e", type=click.Choice(list(ENGINES)), default="explicit", show_default=True)
@click.option("--processes", type=int, default=Instance.processes, show_default=True,
              help="Processes, each with one VMA.")
@click.option("--pages", type=int, default=Instance.pages, show_default=True, help="Pages per VMA.")
@click.option("--nodes", type=int, default=Instance.nodes, show_default=True, help="NUMA nodes.")
@click.option("--max-states", type=int, default=DEFAULT_MAX_STATES, show_default=True,
              help="Stop exploring (verdict unknown) after this many distinct states.")
@click.option("--timeout", type=float, default=None, help="Seconds per variant before giving up.")
@click.option("--max-memory", type=float, default=None, metavar="MIB",
              help="Resident memory at which exploration gives up.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the report here instead of stdout.")
@click.option("--no-traces", is_flag=True, help="Text format: omit counterexample traces.")
def verify(variants: Sequence[str], properties: Sequence[str], engine: str, processes: int,
           pages: int, nodes: int, max_states: int, timeout: float | None, max_memory: float | None,
           fmt: str, output: str | None, no_traces: bool) -> None:
    """Check variants against properties and compare with each variant's expectations."""
    inst = Instance(processes=processes, pages=pages, nodes=nodes)
    chosen_variants = [resolve_variant(v) for v in variants] or list(VARIANTS.values())
    chosen_props = [resolve_property(p) for p in properties] or list(PROPERTIES.values())
    if max_states < 1:
        raise UsageProblemError("--max-states must be at least 1")
    if timeout is not None and timeout <= 0:
        raise UsageProblemError("--timeout must be a positive number of seconds")
    limits = Limits(max_states=max_states, timeout=timeout, max_memory_mb=max_memory)
    start = time.monotonic()
    interactive = fmt == "text" and sys.stderr.isatty()
    results: list[Result] = []
    for variant in chosen_variants:
        check = Check(variant, tuple(chosen_props), engine, inst, limits)
        results.extend(run_check(check, _progress(interactive)))
    seconds = time.monotonic() - start
    if fmt == "json":
        report = json_report.render(results, inst.describe())
    else:
        report = text.render(results, traces=not no_traces) + "\n\n" + text.summary(results, seconds)
    _emit(report, output)
    sys.exit(exit_code(results))


def _emit(report: str, output: str | None) -> None:
    if output is None:
        click.echo(report)
    else:
        Path(output).write_text(report + "\n", encoding="utf-8")


@cli.command(name="list")
def list_() -> None:
    """List the built-in variants, the properties and the operations."""
    click.echo("Variants:")
    for v in VARIANTS.values():
        click.echo(f"  {v.name:<15} {v.versions:<20} {', '.join(v.commits) or '-'}")
    click.echo("\nProperties:")
    for p in PROPERTIES.values():
        click.echo(f"  {p.name:<28} {p.kind:<9} {p.summary}")
    click.echo("\nOperations (kernel function: which variants define it):")
    for name, owners in _operations().items():
        click.echo(f"  {name:<18} {', '.join(owners)}")


def _operations() -> dict[str, list[str]]:
    owners: dict[str, list[str]] = {}
    for v in VARIANTS.values():
        for op in v.operations:
            owners.setdefault(op.name, []).append(v.name)
    return owners


@cli.command()
@click.argument("name")
def show(name: str) -> None:
    """Describe a variant (name or file), a property or an operation."""
    if name in PROPERTIES:
        click.echo(_show_property(PROPERTIES[name]))
    elif name in _operations():
        click.echo(_show_operation(name))
    else:
        click.echo(_show_variant(resolve_variant(name)))


def _show_variant(v: Variant) -> str:
    lines = [f"{v.name}  ({v.versions})", f"commits: {', '.join(v.commits) or '-'}", "", v.summary, ""]
    lines.append("Expectations:")
    for p in PROPERTIES:
        verdict, reason = v.expected(p)
        lines.append(f"  {p:<28} {verdict}" + (f": {reason}" if reason else ""))
    lines.append("\nOperations:")
    for op in v.operations:
        lines.append(f"  {op.name:<18} {op.citation.short()}")
    if v.not_modelled:
        lines.append(f"\nNot modelled: {v.not_modelled}")
    return "\n".join(lines)


def _show_property(p: Property) -> str:
    return "\n".join([
        f"{p.name}  ({p.kind} property)", "", p.summary, "", f"Why: {p.rationale}", "",
        f"Situation it is about (must be reachable): {p.situation}",
    ])


def _show_operation(name: str) -> str:
    lines = [name]
    seen: set[int] = set()
    for v in VARIANTS.values():
        op = next((o for o in v.operations if o.name == name), None)
        if op is None or id(op) in seen:
            continue
        seen.add(id(op))
        users = [w.name for w in VARIANTS.values() if any(o is op for o in w.operations)]
        lines.append(f"\n[{', '.join(users)}] {op.citation.short()}")
        if op.citation.note:
            lines.append(f"  source: {op.citation.note}")
        lines.append(f"  {op.doc}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI, turning every input problem into one line and exit code 2."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="numacheck",
                 standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.Abort:
        click.echo("numacheck: interrupted", err=True)
        sys.exit(EXIT_INCONCLUSIVE)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "numacheck"
        click.echo(f"numacheck: {exc.format_message()} (see '{where} --help')", err=True)
        sys.exit(EXIT_USAGE)
    except (UsageProblemError, ModelError) as exc:
        click.echo(f"numacheck: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except MemoryError:
        click.echo("numacheck: out of memory; use a smaller instance or --max-states/--max-memory",
                   err=True)
        sys.exit(EXIT_INCONCLUSIVE)
    except click.ClickException as exc:
        click.echo(f"numacheck: {exc.format_message()}", err=True)
        sys.exit(EXIT_USAGE)
    except Exception as exc:
        if os.environ.get("NUMACHECK_DEBUG"):
            raise
        click.echo(f"numacheck: internal error: {type(exc).__name__}: {exc} "
                   "(rerun with NUMACHECK_DEBUG=1 for the traceback)", err=True)
        sys.exit(70)
