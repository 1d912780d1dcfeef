"""``numacheck conform``: boot a kernel under qemu, run scenarios, compare with a variant.

Exit codes: 0 every scenario agrees, 1 a disagreement, 2 input error (a bad scenario, a missing
tool or image), 3 inconclusive (a scan that never happened, a timeout, a probe error).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from numacheck.checker.result import EXIT_USAGE
from numacheck.conform.compare import check_scenario
from numacheck.conform.guest import (
    ToolError,
    Tuning,
    busybox,
    default_kernel_image,
    gcc,
    kernel_release,
    qemu,
    release_version,
)
from numacheck.conform.report import Conformance, load_measured, render_json, render_junit, render_text
from numacheck.conform.runner import RunResult, boot
from numacheck.conform.scenario import Scenario, ScenarioError, builtin, load
from numacheck.model.variant import Variant
from numacheck.model.variants import BUILTIN as VARIANTS
from numacheck.model.variants import resolve as resolve_variant
from numacheck.model.variants.releases import for_kernel


def select(names: tuple[str, ...]) -> list[Scenario]:
    """The scenarios named (built-in names or scenario files), or every built-in one."""
    known = {s.name: s for s in builtin()}
    if not names:
        return list(known.values())
    out: list[Scenario] = []
    for name in names:
        if name in known:
            found = [known[name]]
        elif Path(name).exists() or name.endswith(".scn"):
            found = load(name)
        else:
            raise ScenarioError(f"--scenario {name!r} is neither a built-in scenario nor a file; "
                                "'numacheck conform --list' shows the built-in ones")
        for s in found:
            if any(o.name == s.name for o in out):
                raise ScenarioError(f"scenario {s.name} is given twice")
            out.append(s)
    return out


def choose_variant(name: str | None, release: str) -> Variant:
    """The variant given, or the built-in one that covers the image's kernel release."""
    if name:
        return resolve_variant(name)
    return for_kernel(release_version(release), VARIANTS.values())


def _write(path: str | None, text: str) -> None:
    if path is None:
        return
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot write {path}: {exc.strerror}") from None


@click.command("conform")
@click.option("--kernel-image", type=click.Path(dir_okay=False), metavar="PATH",
              help="Kernel image to boot (an x86 bzImage; default: the newest /boot/vmlinuz-*).")
@click.option("--variant", "-v", "variant_name", metavar="NAME|FILE.py",
              help="Variant to compare with (default: the one covering the image's release).")
@click.option("--scenario", "-s", "scenario_names", multiple=True, metavar="NAME|FILE",
              help="Built-in scenario or scenario file (repeatable; default: every built-in).")
@click.option("--repeat", "-r", "repeats", type=click.IntRange(1, 100), default=3, show_default=True,
              help="Runs of each scenario, all in one boot.")
@click.option("--timeout", type=click.FloatRange(1), default=900, show_default=True, metavar="SECONDS",
              help="Wall-clock limit of the boot; unfinished runs are inconclusive.")
@click.option("--scan-timeout", type=click.IntRange(1), default=60, show_default=True,
              metavar="SECONDS", help="How long the guest waits for one NUMA scan.")
@click.option("--run-timeout", type=click.IntRange(1), default=120, show_default=True,
              metavar="SECONDS", help="Limit of one scenario run in the guest; it is then "
              "inconclusive and the boot goes on.")
@click.option("--measured", metavar="FILE.json",
              help="Compare the counts of an earlier --json report instead of booting.")
@click.option("--json", "json_path", metavar="PATH", help="Write the JSON report here ('-': stdout).")
@click.option("--junit", "junit_path", metavar="PATH", help="Write JUnit XML here ('-': stdout).")
@click.option("--list", "list_only", is_flag=True, help="List the built-in scenarios and exit.")
def conform(kernel_image: str | None, variant_name: str | None, scenario_names: tuple[str, ...],
            repeats: int, timeout: float, scan_timeout: int, run_timeout: int, measured: str | None,
            json_path: str | None, junit_path: str | None, list_only: bool) -> None:
    """Run scenarios on a real kernel under qemu and compare the counts with the model.

    Each scenario's accesses are counted in the guest (minor faults, NUMA hinting faults, local
    hinting faults, migrated pages, SIGSEGV) and compared with every outcome the variant allows.
    """
    if list_only:
        for s in builtin():
            click.echo(f"{s.name:28} {s.doc}")
        return
    try:
        tuning = Tuning(scan_timeout_s=scan_timeout, run_timeout_s=run_timeout)
        result = _measure_and_compare(kernel_image, variant_name, scenario_names, repeats, timeout,
                                      tuning, measured)
    except (ToolError, ScenarioError) as exc:
        click.echo(f"numacheck: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    stdout_taken = "-" in (json_path, junit_path)
    if not stdout_taken:
        click.echo(render_text(result), nl=False)
    _write(json_path, render_json(result))
    _write(junit_path, render_junit(result))
    sys.exit(result.exit_code())


def _measure_and_compare(kernel_image: str | None, variant_name: str | None,
                         scenario_names: tuple[str, ...], repeats: int, timeout: float,
                         tuning: Tuning, measured: str | None) -> Conformance:
    if measured:
        m = load_measured(measured)
        wanted = set(scenario_names)
        scenarios = [s for s in m.scenarios if not wanted or s.name in wanted]
        missing = wanted - {s.name for s in scenarios}
        if missing:
            raise ScenarioError(f"{measured} has no scenario {sorted(missing)[0]}")
        variant = choose_variant(variant_name, m.kernel_release)
        runs = {k: v for k, v in m.runs.items() if k[0] in {s.name for s in scenarios}}
        return _compare(m.kernel_image, m.kernel_release, variant, scenarios, m.repeats, runs,
                        m.seconds, m.problem)
    scenarios = select(scenario_names)
    image = Path(kernel_image) if kernel_image else default_kernel_image()
    if not image.is_file():
        raise ToolError(f"kernel image {image} not found; install the Debian package "
                        "linux-image-amd64 or give --kernel-image PATH")
    qemu()
    gcc()
    busybox()
    release = kernel_release(image)
    variant = choose_variant(variant_name, release)
    started = time.monotonic()
    booted = boot(image, scenarios, repeats, timeout, tuning)
    return _compare(str(image), booted.release or release, variant, scenarios, repeats, booted.runs,
                    time.monotonic() - started, booted.problem)


def _compare(image: str, release: str, variant: Variant, scenarios: list[Scenario], repeats: int,
             runs: dict[tuple[str, int], RunResult], seconds: float, problem: str) -> Conformance:
    checks = tuple(
        check_scenario(variant, s, [runs.get((s.name, r), RunResult(s.name, r)) for r in range(repeats)])
        for s in scenarios)
    return Conformance(image, release, variant.name, repeats, seconds, checks, problem)
