"""README.md's examples, run as written, so the documentation cannot drift from the tool.

Every ``python`` block whose first line names a file (``# revert.py``) is written to a scratch
folder; every ``sh`` block is run there line by line (with ``.venv`` linked to this checkout's),
and each command must exit 0, without a traceback.  A comment just before a block can change
that for the commands a regular expression finds, and the README shows it next to the example:

    <!-- readme-test skip: REGEX | why -->          not run (the reason is required)
    <!-- readme-test small: REGEX | ARGS -->        run with ARGS appended (a smaller instance)
    <!-- readme-test exit: REGEX | CODE -->         must exit CODE instead of 0

A comment that matches no command of its block is an error, so the comments cannot drift either.
YAML blocks (CI and pre-commit configuration) and plain blocks (sample output) are not run.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
VENV = Path(sys.executable).parent.parent

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_MARKER = re.compile(r"<!-- readme-test (skip|small|exit): (.+?) \| (.+?) -->")


@dataclass
class Block:
    """One fenced block and the readme-test comments just before it."""

    lang: str
    text: str
    line: int
    markers: list[tuple[str, str, str]] = field(default_factory=list)


def blocks() -> list[Block]:
    """The README's fenced blocks, in order, each with its markers."""
    source = README.read_text(encoding="utf-8")
    out = []
    end = 0
    for m in _FENCE.finditer(source):
        between = source[end:m.start()]
        # markers belong to a block when only markers and blank lines separate them from it
        tail = between.rstrip("\n").split("\n")
        markers: list[tuple[str, str, str]] = []
        while tail and _MARKER.fullmatch(tail[-1].strip()):
            found = _MARKER.fullmatch(tail.pop().strip())
            assert found is not None
            markers.insert(0, (found.group(1), found.group(2).strip(), found.group(3).strip()))
        out.append(Block(m.group(1), m.group(2), source[:m.start()].count("\n") + 1, markers))
        end = m.end()
    return out


def commands(block: Block) -> list[str]:
    """The commands of a shell block, without their comments."""
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in block.text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


SHELL = [b for b in blocks() if b.lang == "sh"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the README's variant files and a link to this checkout's .venv."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / ".venv").symlink_to(VENV)
    for b in blocks():
        first = b.text.splitlines()[0] if b.text else ""
        if b.lang == "python" and re.fullmatch(r"# [\w.-]+\.py", first):
            (folder / first[2:]).write_text(b.text, encoding="utf-8")
    return folder


def test_the_readme_has_examples_of_every_kind() -> None:
    assert len(SHELL) >= 3 and sum(len(commands(b)) for b in SHELL) >= 10
    assert any(b.lang == "python" for b in blocks())


@pytest.mark.parametrize("block", SHELL, ids=[f"README.md:{b.line}" for b in SHELL])
def test_shell_example(block: Block, scratch: Path) -> None:
    used = set()
    for command in commands(block):
        run, expect = command, 0
        for i, (kind, pattern, value) in enumerate(block.markers):
            if not re.search(pattern, command):
                continue
            used.add(i)
            if kind == "skip":
                run = ""
            elif kind == "small":
                run = f"{command} {value}"
            else:
                expect = int(value)
        if not run:
            continue
        done = subprocess.run(["bash", "-c", run], cwd=scratch, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == expect, f"{run}: exit {done.returncode}\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr, f"{run}:\n{done.stderr[-2000:]}"
    unused = [block.markers[i] for i in range(len(block.markers)) if i not in used]
    assert not unused, f"readme-test comments that match no command of their block: {unused}"


def _table_rows(header: str) -> list[list[str]]:
    """The cells of the README table whose header row starts with ``header``."""
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return [rows[0], *rows[2:]]


def test_the_variant_table_is_the_built_in_eras() -> None:
    """README's variant table: one row per built-in era, in kernel order, with its releases."""
    from numacheck.model.variants import BUILTIN

    rows = _table_rows("| variant | kernels |")[1:]
    assert [r[0].strip("`") for r in rows] == list(BUILTIN)
    for row in rows:
        first, _, last = BUILTIN[row[0].strip("`")].versions.partition(" .. ")
        release = first.split("-rc")[0]
        if last.startswith(f"{release}-rc") and "-rc" in first:  # 4.0-rc1 .. 4.0-rc3: 4.0-rc1-rc3
            last = last.removeprefix(f"{release}-")
        assert row[1] == (first if first == last else f"{first}-{last}")


def test_the_expectation_table_is_the_eras_expectations() -> None:
    """README's expected results: per property and era, what the era's expectations say, and
    '-' exactly where the era's instance does not cover the property."""
    from numacheck.model.variants import BUILTIN
    from numacheck.properties import BUILTIN as PROPERTIES

    header, *rows = _table_rows("| property | 3.19 |")
    eras = {v.name.removeprefix("linux-"): v for v in BUILTIN.values()}
    assert header[1:] == list(eras)
    assert sorted(r[0] for r in rows) == sorted(PROPERTIES)
    for prop, *cells in rows:
        for era, cell in zip(eras, cells, strict=True):
            variant = eras[era]
            checked = any(op.area == PROPERTIES[prop].area for op in variant.operations)
            expected = "violated" if prop in variant.expect_violated else "holds"
            assert cell.split(" (")[0] == (expected if checked else "-"), (prop, era, cell)
