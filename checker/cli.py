"""The ``numacheck`` command line: it only wires model, properties, engines and reports.

Exit codes: 0 every result as expected; 1 a result not as expected (an unexpected violation, an
expected violation no longer found, a vacuous property); 2 usage or input error; 3 inconclusive
(a limit was reached or a solver answered unknown).  Errors are one line on stderr, never a
traceback (set NUMACHECK_DEBUG=1 to see one for an internal error).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from numacheck.checker import interrupt
from numacheck.checker.baseline import Baseline, BaselineError
from numacheck.checker.baseline import changes as baseline_changes
from numacheck.checker.baseline import load as load_baseline
from numacheck.checker.lowering.promela import to_promela
from numacheck.checker.outcome import DEFAULT_DEPTH, Limits
from numacheck.checker.parallel import run_checks
from numacheck.checker.result import (
    EXIT_INCONCLUSIVE,
    EXIT_OK,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    Result,
    exit_code,
)
from numacheck.checker.run import ENGINES, Check, units
from numacheck.checker.traces.itf import ItfError, ItfTrace
from numacheck.checker.traces.itf import load as itf_load
from numacheck.checker.traces.replay_itf import replay_itf
from numacheck.conform.command import conform
from numacheck.model.expr import ModelError
from numacheck.model.instance import AREAS, DEFAULT_AREAS, Instance, area_instance
from numacheck.model.system import Citation
from numacheck.model.variant import Variant, build
from numacheck.model.variants import BUILTIN as VARIANTS
from numacheck.model.variants import resolve as resolve_variant
from numacheck.model.variants.releases import for_kernel
from numacheck.properties import BUILTIN as PROPERTIES
from numacheck.properties import covered_by
from numacheck.properties import resolve as resolve_property
from numacheck.properties.base import Property
from numacheck.reports import html, itf, json_report, junit, sarif, text
from numacheck.reports.output import Destination, OutputError
from numacheck.reports.progress import ProgressDisplay

#: Renderers of a whole run into one document.
RENDERERS: dict[str, Callable[[list[Result], str], str]] = {
    "json": json_report.render, "sarif": sarif.render, "junit": junit.render, "html": html.render,
}

DEFAULT_MAX_STATES = 10_000_000


class UsageProblemError(Exception):
    """Bad input found after option parsing (exit code 2)."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="numacheck")
def cli() -> None:
    """Model checker for Linux PTE protection state around NUMA balancing."""


FORMATS = ("text", "json", "itf", "sarif", "junit", "html")


@cli.command()
@click.option("--variant", "-v", "variants", multiple=True, metavar="NAME|FILE.py",
              help="Built-in variant or a variant file (repeatable; default: every built-in).")
@click.option("--kernel", "-k", "kernels", multiple=True, metavar="VERSION",
              help="The built-in variant that stands for this kernel release, e.g. 6.1 or "
                   "4.0-rc4 (repeatable; see 'numacheck list').")
@click.option("--property", "-p", "properties", multiple=True, metavar="NAME",
              help="Property to check (repeatable; default: every property).")
@click.option("--engine", "-e", type=click.Choice(list(ENGINES)), default="explicit", show_default=True)
@click.option("--processes", type=int, default=Instance.processes, show_default=True,
              help="Processes, each with one VMA.")
@click.option("--pages", type=int, default=Instance.pages, show_default=True, help="Pages per VMA.")
@click.option("--nodes", type=int, default=Instance.nodes, show_default=True, help="NUMA nodes.")
@click.option("--areas", default=None, metavar="AREA,...",
              help=f"Kernel areas to cover, comma-separated, from {','.join(AREAS)} (default: numa on "
                   "the given sizes, then the other areas' properties with every area on, 1 process "
                   "x 1 page, 2 nodes; the pin area's with numa,pin on 2 processes x 1 page, 1 node).")
@click.option("--depth", type=int, default=DEFAULT_DEPTH, show_default=True,
              help="Unrolling depth of the bmc and kind engines (and PDR's BMC lane).")
@click.option("--max-states", type=int, default=DEFAULT_MAX_STATES, show_default=True,
              help="Stop exploring (verdict unknown) after this many distinct states.")
@click.option("--timeout", type=float, default=None,
              help="Seconds per variant (per property for pdr) before giving up.")
@click.option("--max-memory", type=float, default=None, metavar="MIB",
              help="Resident memory at which exploration gives up.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the randomised parts of pdr and kind (Spacer restarts, Houdini runs).")
@click.option("--jobs", "-j", type=int, default=1, show_default=True,
              help="Check variants in this many parallel processes (same results for any N).")
@click.option("--threads", type=int, default=None, metavar="N",
              help="Threads of one explicit search (default: the CPUs this process may use, shared "
                   "among --jobs; same results for any N).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(), default=None,
              help="Write the report here ('-': stdout, the default; itf: a directory, one file per "
                   "trace), atomically.")
@click.option("--no-traces", is_flag=True, help="Text format: omit counterexample traces.")
@click.option("--show-invariant", is_flag=True, help="Text format: print the invariant of each proof.")
@click.option("--no-symmetry", is_flag=True,
              help="Explicit engine: store every concrete state (no reduction by symmetry).")
@click.option("--baseline", type=click.Path(dir_okay=False), default=None, metavar="RESULTS.json",
              help="Fail (exit 1) on any change from this earlier --format json report.")
def verify(variants: Sequence[str], kernels: Sequence[str], properties: Sequence[str], engine: str,
           processes: int,
           pages: int, nodes: int, areas: str | None, depth: int, max_states: int,
           timeout: float | None,
           max_memory: float | None, seed: int, jobs: int, threads: int | None, fmt: str,
           output: str | None, no_traces: bool,
           show_invariant: bool, no_symmetry: bool, baseline: str | None) -> None:
    """Check variants against properties and compare with each variant's expectations."""
    inst = Instance(processes=processes, pages=pages, nodes=nodes,
                    areas=DEFAULT_AREAS if areas is None else _areas(areas))
    chosen_variants = ([resolve_variant(v) for v in variants] + _kernel_variants(kernels)
                       or list(VARIANTS.values()))
    chosen_props = [resolve_property(p) for p in properties] or list(PROPERTIES.values())
    passes = _passes(inst, chosen_props, explicit=areas is not None, named=bool(properties))
    if max_states < 1:
        raise UsageProblemError("--max-states must be at least 1")
    if timeout is not None and not timeout > 0:  # also rejects nan
        raise UsageProblemError("--timeout must be a positive number of seconds")
    if max_memory is not None and not max_memory > 0:
        raise UsageProblemError("--max-memory must be a positive number of MiB")
    if depth < 0:
        raise UsageProblemError("--depth must be 0 or more")
    if jobs < 1:
        raise UsageProblemError("--jobs must be at least 1")
    if threads is not None and threads < 1:
        raise UsageProblemError("--threads must be at least 1")
    if fmt == "itf" and output in (None, "-"):
        raise UsageProblemError("--format itf writes one file per trace: give a directory with --output")
    destination = _destination(output, folder=fmt == "itf")
    earlier = _baseline(baseline)
    limits = Limits(max_states=max_states, timeout=timeout, max_memory_mb=max_memory, depth=depth,
                    seed=seed, symmetry=not no_symmetry,
                    threads=threads or max(1, len(os.sched_getaffinity(0)) // jobs))
    plan = [Check(v, props, engine, pass_inst, limits) for pass_inst, pass_props in passes
            for v in chosen_variants
            if (props := tuple(p for p in pass_props if p.area in v.areas))]
    start = time.monotonic()
    display = ProgressDisplay(sys.stderr, sys.stderr.isatty(), [c.variant.name for c in plan], jobs,
                              units=units(plan))
    display.begin()
    try:
        with contextlib.ExitStack() as pending:  # a stopped run removes the report's temporary file
            if destination.temporary is not None:
                pending.enter_context(interrupt.partial(destination.temporary))
            try:
                results = run_checks(plan, jobs, display.engine,
                                     display.finished if len(plan) > 1 or display.live else None)
            finally:
                display.close()
            seconds = time.monotonic() - start
            _write(fmt, results, inst, destination, seconds, not no_traces, show_invariant)
    finally:
        destination.close()
    code = exit_code(results)
    if earlier is not None:
        changed = baseline_changes(earlier, results, inst.describe())
        for line in changed:
            click.echo(f"  changed: {line}", err=True)
        click.echo(f"numacheck: {len(changed)} change(s) from the baseline {earlier.path}", err=True)
        if changed:
            code = EXIT_UNEXPECTED
    sys.exit(code)


def _areas(text: str) -> frozenset[str]:
    names = frozenset(a.strip() for a in text.split(",") if a.strip())
    unknown = sorted(names - set(AREAS))
    if unknown:
        raise UsageProblemError(f"--areas: unknown area {unknown[0]!r}; areas: {', '.join(AREAS)}")
    if "numa" not in names:
        raise UsageProblemError("--areas must include numa, the base model every other area extends")
    return names


def _passes(inst: Instance, props: Sequence[Property], explicit: bool,
            named: bool) -> list[tuple[Instance, tuple[Property, ...]]]:
    """The (instance, properties) passes of a run.

    With --areas: one pass on ``inst``; a property of an area it lacks is an error when named,
    left out otherwise.  Without: the numa properties on ``inst``, then the other areas'
    properties on their small all-areas instance (instance.area_instance: AREA_INSTANCE, and
    PIN_INSTANCE for the pin area).
    """
    if explicit:
        missing = [p for p in props if p.area not in inst.areas]
        if missing and named:
            raise UsageProblemError(f"property {missing[0].name} needs area {missing[0].area}; "
                                    f"add it to --areas (e.g. --areas numa,{missing[0].area})")
        return [(inst, tuple(p for p in props if p.area in inst.areas))]
    base = tuple(p for p in props if p.area in inst.areas)
    passes = [(inst, base)] if base else []
    for extra in dict.fromkeys(area_instance(p.area) for p in props if p.area not in inst.areas):
        passes.append((extra, tuple(p for p in props
                                    if p.area not in inst.areas and area_instance(p.area) == extra)))
    return passes


def _baseline(path: str | None) -> Baseline | None:
    if path is None:
        return None
    try:
        return load_baseline(path)
    except BaselineError as exc:
        raise UsageProblemError(str(exc)) from None


def _kernel_variants(kernels: Sequence[str]) -> list[Variant]:
    """The built-in variant of each --kernel release, each once, in the order given."""
    chosen = [for_kernel(k, VARIANTS.values()) for k in kernels]
    return [v for i, v in enumerate(chosen) if v not in chosen[:i]]


def _write(fmt: str, results: list[Result], inst: Instance, destination: Destination, seconds: float,
           traces: bool, show_invariant: bool) -> None:
    if fmt == "itf":
        files = itf.render(results)
        assert destination.path is not None
        with contextlib.ExitStack() as written:  # a stop halfway removes the traces already written
            for name in files:
                written.enter_context(interrupt.partial(destination.path / name))
            try:
                destination.write_files(files)
            except OutputError as exc:
                raise UsageProblemError(str(exc)) from None
        click.echo(f"{len(files)} ITF trace(s) written to {destination.path}/", err=True)
        return
    if fmt == "text":
        report = (text.render(results, traces=traces, invariants=show_invariant) + "\n\n"
                  + text.summary(results, seconds))
    else:
        report = RENDERERS[fmt](results, inst.describe())
    _emit(destination, report.rstrip("\n") + "\n")


def _destination(output: str | None, folder: bool = False) -> Destination:
    """Open the report's destination now, so an unwritable one fails before a long run."""
    try:
        return Destination(output, folder)
    except OutputError as exc:
        raise UsageProblemError(str(exc)) from None


def _emit(destination: Destination, report: str) -> None:
    if destination.to_stdout:
        click.echo(report, nl=False)
        return
    try:
        destination.write(report)
    except OutputError as exc:
        raise UsageProblemError(str(exc)) from None


@cli.command()
@click.argument("trace_file", metavar="TRACE.itf.json", type=click.Path(dir_okay=False))
@click.option("--variant", "-v", default=None, metavar="NAME|FILE.py",
              help="Replay on this variant instead of the one the trace names.")
def replay(trace_file: str, variant: str | None) -> None:
    """Re-execute an ITF trace on the model: every step enabled and exact, the last one violating.

    Exit 0 when it replays, 1 when it does not (the step and fields are named), 2 when the file
    is not a valid numacheck trace.
    """
    try:
        trace = itf_load(Path(trace_file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageProblemError(f"cannot read {trace_file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageProblemError(f"{trace_file} is not a valid trace: not UTF-8 text") from None
    except ItfError as exc:
        raise UsageProblemError(f"{trace_file} is not a valid trace: {exc}") from None
    try:
        report = replay_itf(trace, _trace_variant(trace, variant))
    except ItfError as exc:
        raise UsageProblemError(f"{trace_file} is not a valid trace: {exc}") from None
    click.echo(f"{trace_file}: {report.message}")
    sys.exit(EXIT_OK if report.ok else EXIT_UNEXPECTED)


def _trace_variant(trace: ItfTrace, override: str | None) -> Variant:
    if override is not None:
        return resolve_variant(override)
    name = str(trace.meta["variant"])
    if name in VARIANTS:
        return VARIANTS[name]
    # A trace file names its variant file, but replay never runs code a trace points at.
    file = str(trace.meta.get("variant_file", "")) or "FILE.py"
    raise UsageProblemError(f"the trace is for variant {name!r}, which is not built in; "
                            f"pass --variant {file} to replay it on that file")


@cli.command()
@click.option("--variant", "-v", "variant", default="linux-4.9", show_default=True, metavar="NAME|FILE.py")
@click.option("--property", "-p", "properties", multiple=True, metavar="NAME",
              help="Property to assert (repeatable; default: every property).")
@click.option("--processes", type=int, default=Instance.processes, show_default=True)
@click.option("--pages", type=int, default=Instance.pages, show_default=True)
@click.option("--nodes", type=int, default=Instance.nodes, show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None)
def export(variant: str, properties: Sequence[str], processes: int, pages: int, nodes: int,
           output: str | None) -> None:
    """Export a variant on an instance as a Promela model with the same state space (for SPIN)."""
    inst = Instance(processes=processes, pages=pages, nodes=nodes)
    chosen = resolve_variant(variant)
    props = [resolve_property(p) for p in properties] or list(covered_by(inst))
    destination = _destination(output)
    try:
        ts = build(chosen, inst)
        _emit(destination, to_promela(ts, [p.instantiate(ts, inst) for p in props]))
    finally:
        destination.close()


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
@click.argument("name", required=False)
@click.option("--kernel", "-k", metavar="VERSION",
              help="Describe the built-in variant that stands for this kernel release.")
def show(name: str | None, kernel: str | None) -> None:
    """Describe a variant (name or file), a property or an operation."""
    if kernel is not None and name is None:
        click.echo(_show_variant(for_kernel(kernel, VARIANTS.values())))
    elif name is None or kernel is not None:
        raise UsageProblemError("show takes a NAME or --kernel VERSION (one of them)")
    elif name in PROPERTIES:
        click.echo(_show_property(PROPERTIES[name]))
    elif name in _operations():
        click.echo(_show_operation(name))
    else:
        click.echo(_show_variant(resolve_variant(name)))


def _show_variant(v: Variant) -> str:
    lines = [f"{v.name}  (stands for Linux {v.versions})", f"commits: {', '.join(v.commits) or '-'}",
             "", v.summary, ""]
    lines.append("Expectations:")
    for p in PROPERTIES:
        verdict, reason = v.expected(p)
        lines.append(f"  {p:<28} {verdict}" + (f": {reason}" if reason else ""))
        if p in v.expect_trace:
            lines.append(f"  {'':<28} recorded counterexample: {v.expect_trace[p].describe()}")
    lines.append("\nOperations:")
    for op in v.operations:
        lines.append(f"  {op.name:<18} {op.citation.short()}")
    if v.not_modelled:
        lines.append(f"\nLeaves out: {v.not_modelled}")
    return "\n".join(lines)


def _show_property(p: Property) -> str:
    return "\n".join([
        f"{p.name}  ({p.kind} property)", "", p.summary, "", f"Why: {p.rationale}", "",
        f"Situation it is about (must be reachable): {p.situation}",
    ])


cli.add_command(conform)


def _show_operation(name: str) -> str:
    lines = [name]
    seen: set[Citation] = set()
    for v in VARIANTS.values():
        op = next((o for o in v.operations if o.name == name), None)
        if op is None or op.citation in seen:
            continue
        seen.add(op.citation)  # eras built from the same table row share it
        users = [w.name for w in VARIANTS.values()
                 if any(o.name == name and o.citation == op.citation for o in w.operations)]
        lines.append(f"\n[{', '.join(users)}] {op.citation.short()}")
        if op.citation.note:
            lines.append(f"  source: {op.citation.note}")
        lines.append(f"  {op.doc}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI, turning every input problem into one line and exit code 2.

    As the console script (no ``argv``), SIGINT and SIGTERM stop the run and its workers at once.
    """
    if argv is None:
        interrupt.install()
    try:
        try:
            cli.main(args=list(argv) if argv is not None else None, prog_name="numacheck",
                     standalone_mode=False)
        except BaseException:
            interrupt.hold()  # a failure caused by a stop is not reported
            raise
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.Abort:
        click.echo("numacheck: interrupted", err=True)
        sys.exit(interrupt.EXIT_STATUS[signal.SIGINT])
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
