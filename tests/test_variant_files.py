"""Mistakes in a variant file: exit 2, one line naming the file's own line and what to do.

Each case is a small variant file with one mistake a kernel developer makes when writing a
patch as a variant; the error must point at the line of the mistake (import time or build
time), and a file that prints must not break a machine-readable report on stdout.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from numacheck.model.expr import ExprUseError, var
from tests.test_cli import invoke

HOP = '''from numacheck.model import VARIANTS, Citation, operation, processes

@operation("task_numa_hop", Citation("made up", "kernel/sched/fair.c", "all"), p=processes)
def task_numa_hop(mm, p):
    """The task moves to node 0."""
    {line}
    mm.set_task_node(p, 0)

VARIANT = VARIANTS["linux-4.9"].derive("hop", add_ops=(task_numa_hop,))
'''

DERIVE = '''from numacheck.model import VARIANTS
from numacheck.model.ops.numa import do_numa_page

VARIANT = VARIANTS["linux-4.9"].derive(
    {args})
'''


@pytest.mark.parametrize(
    ("source", "line", "needles"),
    [
        (HOP.format(line="if mm.task_node(p): pass"), 6, ("no Python truth value", "mm.branch(")),
        (HOP.format(line="if mm.task_node(p) == 1: pass"), 6, ("a.eq(b)",)),
        (HOP.format(line="mm.step.require(mm.task_node(p) == 1)"), 6, ("a.eq(b)",)),
        (HOP.format(line="mm.step.require(mm.task_node(p) != 1)"), 6, ("a.ne(b)",)),
        (HOP.format(line="mm.step.require(mm.task_node(p))"), 6,
         ("in task_numa_hop", "guard must be a boolean expression", "p0.task.numa_node_id")),
        (HOP.format(line="mm.step.require(p in (0, 1))"), 6, ("guard is the Python value", "where=")),
        (HOP.format(line="mm.tsak_node(p)"), 6, ("did you mean 'task_node'",)),
        (HOP.format(line="pte_mkwrite(mm.pte(p, 0))"), 6,
         ("NameError", "from numacheck.model import pte_mkwrite")),
        (DERIVE.format(args='"x", replace_ops=(do_numa_page("5.0"),)'), 5,
         ("unknown do_numa_page era '5.0'", "known: 3.19")),
        (DERIVE.format(args='"x", replace_ops=(do_numa_page("4.0-rc1"),), remove_ops=("do_numa_pag",)'),
         4, ("remove_ops names 'do_numa_pag'", "did you mean 'do_numa_page'")),
        (HOP.replace("add_ops", "replace_ops"), 9,
         ("replace_ops names 'task_numa_hop', which linux-4.9 does not have", "add_ops=")),
        (DERIVE.format(args='"x", expect_violated={"numa-restore-keep-write": "why"}'), 5,
         ("unknown property 'numa-restore-keep-write'", "did you mean 'numa-restore-keeps-write'")),
        (DERIVE.format(args='"linux-4.0"'), 5, ("like the built-in era", "a name of its own")),
        ("import sys\nfrom numacheck.model import VARIANTS\nsys.exit(0)\n", 3, ("sys.exit()",)),
        ("from numacheck.model import VARIANTS, pte_mkwirte\n", 1, ("did you mean 'pte_mkwrite'",)),
    ],
)
def test_a_mistake_is_exit_2_at_its_line(tmp_path: Path, source: str, line: int,
                                          needles: tuple[str, ...]) -> None:
    file = tmp_path / "patch.py"
    file.write_text(source)
    code, _, err = invoke("verify", "-v", str(file), "--processes", "1", "-p", "write-requires-vm-write")
    assert code == 2, err
    assert err.startswith(f"numacheck: {file}:{line}: ") and err.count("\n") == 1, err
    assert all(n in err for n in needles), err
    assert "internal error" not in err and "Traceback" not in err


def test_the_variant_files_output_goes_to_stderr(tmp_path: Path) -> None:
    file = tmp_path / "chatty.py"
    file.write_text('from numacheck.model import VARIANTS\nprint("loading my patch")\n'
                    'VARIANT = VARIANTS["linux-4.9"].derive("chatty")\n')
    code, out, err = invoke("verify", "-v", str(file), "--processes", "1", "-p",
                            "write-requires-vm-write", "--format", "json")
    assert code == 0 and json.loads(out)["ok"] is True and "loading my patch" in err


def test_a_derived_variant_shows_its_own_name_and_origin(tmp_path: Path) -> None:
    file = tmp_path / "revert.py"
    file.write_text(DERIVE.format(args='"my-revert", replace_ops=(do_numa_page("4.0-rc1"),)'))
    code, out, _ = invoke("show", str(file))
    first = out.splitlines()[0]
    assert code == 0 and first.startswith("my-revert") and "derived from linux-4.9" in first
    assert "d59dc7bcfa64" not in out.split("Expectations:")[0]  # 4.9's commit is not this one's
    assert "replaces do_numa_page" in out


def test_python_equality_still_serves_containers_outside_operation_bodies() -> None:
    a, b = var("a", "int"), var("b", "int")
    assert a in [b, a] and [a, b].index(b) == 1 and (a == a) and a != b
    with pytest.raises(ExprUseError):
        _ = (a == b) & a.eq(1)
