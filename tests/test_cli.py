"""The command line through click's runner: reports, exit codes, and one-line errors."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from numacheck.checker.cli import cli, main


def invoke(*args: str) -> tuple[int, str, str]:
    """Run ``numacheck ARGS`` as the console script does; (exit code, stdout, stderr)."""
    runner = CliRunner()
    result = runner.invoke(_entry, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
               add_help_option=False)
@click.pass_context
def _entry(ctx: click.Context) -> None:
    main(ctx.args)


def test_verify_reports_the_historic_bug_and_exits_0() -> None:
    code, out, _ = invoke("verify", "-v", "linux-4.0-rc1", "-p", "numa-restore-keeps-write")
    assert code == 0
    assert "VIOLATED" in out and "as expected" in out and "change_prot_numa" in out
    assert "_PAGE_RW" in out


@pytest.fixture(scope="module")
def json_doc() -> dict[str, Any]:
    code, out, _ = invoke("verify", "-v", "linux-4.0-rc1", "-p", "numa-restore-keeps-write",
                          "-p", "write-requires-vm-write", "--processes", "1", "--format", "json")
    assert code == 0
    return dict(json.loads(out))


def test_json_format(json_doc: dict[str, Any]) -> None:
    assert json_doc["ok"] is True and json_doc["exit_code"] == 0
    first, second = json_doc["results"]
    assert first["verdict"] == "violated" and first["expected"] == "violated" and first["as_expected"]
    steps = first["trace"]["steps"]
    assert [s["action"] for s in steps][-2:] == ["access", "do_numa_page"]
    assert set(steps[1]) >= {"action", "args", "state"} and steps[1]["args"]["p"] == 0
    assert second["verdict"] == "holds" and second["trace"] is None
    assert set(second["stats"]) >= {"states", "transitions", "depth", "seconds"}


def test_json_state_values_are_typed_and_named_the_kernel_way(json_doc: dict[str, Any]) -> None:
    last = json_doc["results"][0]["trace"]["steps"][-1]["state"]
    assert last["p0.pte[0]._PAGE_PRESENT"] is True and last["p0.pte[0]._PAGE_RW"] is False
    assert last["p0.pte[0].pfn"] == "anon0" and last["p0.task.fault"] == "none"
    assert last["p0.task.numa_node_id"] in (0, 1) and last["anon0.page_mapcount"] == 1
    assert last["p0.vma.vm_page_prot"] == "PAGE_COPY" and last["p0.vma.VM_WRITE"] is True


def _keys(node: Any, path: str, out: set[str]) -> None:
    """Every field name of the document, except inside maps keyed by data (states, args, ...)."""
    if isinstance(node, list):
        for item in node:
            _keys(item, path, out)
    elif isinstance(node, dict):
        for key, value in node.items():
            out.add(key)
            if key not in ("state", "args", "outputs", "operations"):
                _keys(value, f"{path}.{key}", out)


def test_every_json_field_is_documented(json_doc: dict[str, Any]) -> None:
    doc = (Path(__file__).parent.parent / "docs" / "json.md").read_text()
    documented = set(re.findall(r"^\| `(\w+)` \|", doc, re.MULTILINE))
    found: set[str] = set()
    _keys(json_doc, "", found)
    assert found <= documented, sorted(found - documented)
    assert documented <= found, sorted(documented - found)  # and nothing documented that is gone


def test_unexpected_result_exits_1(tmp_path: Path) -> None:
    variant = tmp_path / "claims_fixed.py"
    variant.write_text(
        "from numacheck.model import VARIANTS\n"
        "VARIANT = VARIANTS['linux-4.0-rc1'].derive('rc1-claimed-fixed', expect_violated={})\n"
    )
    code, out, _ = invoke("verify", "-v", str(variant), "-p", "numa-restore-keeps-write")
    assert code == 1 and "UNEXPECTED" in out


def test_user_variant_file_swapping_an_operation(tmp_path: Path) -> None:
    variant = tmp_path / "revert.py"
    variant.write_text(
        "from numacheck.model import VARIANTS\n"
        "from numacheck.model.ops.numa import do_numa_page\n"
        "VARIANT = VARIANTS['linux-4.9'].derive(\n"
        "    'revert-b191f9b106ea', replace_ops=(do_numa_page('4.0-rc1'),),\n"
        "    expect_violated={'numa-restore-keeps-write': 'restore from vm_page_prot'})\n"
    )
    code, out, _ = invoke("verify", "-v", str(variant), "-p", "numa-restore-keeps-write")
    assert code == 0 and "VIOLATED" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("verify", "-v", "linux-9.9"), "unknown variant 'linux-9.9'"),
        (("verify", "-p", "no-such-property"), "unknown property 'no-such-property'"),
        (("verify", "--processes", "0"), "--processes must be between 1 and"),
        (("verify", "--pages", "99"), "--pages must be between 1 and"),
        (("verify", "--engine", "magic"), "Invalid value for '--engine'"),
        (("verify", "--max-states", "0"), "--max-states must be at least 1"),
        (("verify", "-v", "/nonexistent/variant.py"), "does not exist"),
        (("verify", "--jobs", "0"), "--jobs must be at least 1"),
        (("verify", "--timeout", "nan"), "--timeout must be a positive number"),
        (("verify", "--max-memory", "0"), "--max-memory must be a positive number"),
        (("verify", "-o", "/tmp"), "cannot write to /tmp: it is a directory"),
        (("verify", "--depth", "-1"), "--depth must be 0 or more"),
        (("verify", "--format", "itf"), "give a directory with --output"),
        (("verify", "-o", "/dev/null/report.json"), "cannot write to /dev/null/report.json"),
        (("export", "--nodes", "7"), "--nodes must be between 1 and"),
        (("replay", "/nonexistent/trace.itf.json"), "cannot read /nonexistent/trace.itf.json"),
        (("show", "nothing-by-that-name"), "unknown variant"),
        (("frobnicate",), "No such command"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], needle: str) -> None:
    code, _, err = invoke(*args)
    assert code == 2
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("VARIANT = 3\n", "must define VARIANT"),
        ("import numacheck.model\ndef broken(:\n", "bad.py:2: SyntaxError"),
        ("from numacheck.model import VARIANTS\nVARIANT = VARIANTS['linux-6.2'].derive('x', "
         "remove_ops=('no_such_op',))\n", "remove_ops names 'no_such_op'"),
        ("raise RuntimeError('boom')\n", "RuntimeError: boom"),
    ],
)
def test_malformed_variant_file(tmp_path: Path, source: str, needle: str) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(source)
    code, _, err = invoke("verify", "-v", str(bad))
    assert code == 2 and needle in err and "Traceback" not in err and err.count("\n") == 1


def test_an_unwritable_output_fails_before_the_run_even_for_root(tmp_path: Path) -> None:
    if not Path("/sys/kernel").is_dir():
        pytest.skip("no sysfs here")
    # /sys refuses new files whatever the permission bits say (os.access says yes for root)
    code, _, err = invoke("verify", "-o", "/sys/r.json")  # the default run would take minutes
    assert code == 2 and err.startswith("numacheck: cannot write to /sys/r.json")


def test_dash_means_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = invoke("verify", "-v", "linux-4.9", "-p", "write-requires-vm-write", "--processes", "1",
                          "--format", "json", "-o", "-")
    assert code == 0 and json.loads(out)["ok"] is True
    assert list(tmp_path.iterdir()) == []


def test_the_report_is_written_atomically_and_nothing_is_left_behind(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "r.json"
    code, _, _ = invoke("verify", "-v", "linux-4.9", "-p", "write-requires-vm-write", "--processes", "1",
                        "--format", "json", "-o", str(target))
    assert code == 0 and json.loads(target.read_text())["ok"] is True
    assert [p.name for p in target.parent.iterdir()] == ["r.json"]  # no temporary file
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # an ordinary file, not mkstemp's 0600
    # a run that ends in an error keeps the old report and leaves no temporary file
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from numacheck.model import VARIANTS\n"
        "from numacheck.model.operation import operation, processes\n"
        "from numacheck.model.system import Citation\n"
        "@operation('hop', Citation('made up', 'kernel/sched/fair.c', 'all'), p=processes)\n"
        "def hop(mm, p):\n"
        "    mm.set_task_node(p, mm.task_node(p) + 1)\n"
        "VARIANT = VARIANTS['linux-4.9'].derive('x', add_ops=(hop,))\n")
    code, _, err = invoke("verify", "-v", str(bad), "--processes", "1", "--format", "json", "-o", str(target))
    assert code == 2 and "outside its range" in err  # found during the search
    assert [p.name for p in target.parent.iterdir()] == ["r.json"]
    assert json.loads(target.read_text())["results"][0]["variant"] == "linux-4.9"


def test_state_limit_is_inconclusive_exit_3() -> None:
    code, out, _ = invoke("verify", "-v", "linux-4.9", "-p", "write-requires-vm-write",
                          "--max-states", "500")
    assert code == 3 and "unknown" in out and "state limit" in out


def test_vacuous_property_is_a_failure(tmp_path: Path) -> None:
    variant = tmp_path / "noscan.py"
    variant.write_text(
        "from numacheck.model import VARIANTS\n"
        "VARIANT = VARIANTS['linux-4.9'].derive('no-scan', remove_ops=('change_prot_numa',))\n"
    )
    code, out, _ = invoke("verify", "-v", str(variant), "-p", "numa-restore-keeps-write")
    assert code == 1 and "VACUOUS" in out


def test_list_and_show() -> None:
    code, out, _ = invoke("list")
    assert code == 0 and "linux-4.0-rc1" in out and "numa-restore-keeps-write" in out
    assert "do_numa_page" in out
    code, out, _ = invoke("show", "linux-4.0")
    assert code == 0 and "b191f9b106ea" in out and "numa-grouping-matches-write" in out
    code, out, _ = invoke("show", "numa-grouping-matches-write")
    assert code == 0 and "TNF_NO_GROUP" in out
    code, out, _ = invoke("show", "do_numa_page")
    assert code == 0 and "4d9424669946" in out


def test_help_exits_0() -> None:
    code, out, _ = invoke("verify", "--help")
    assert code == 0 and "--max-states" in out


def test_cli_group_is_importable() -> None:
    assert "verify" in cli.commands
