"""``verify --baseline``: a run compared with an earlier JSON report fails on any change."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import invoke
from tests.test_shapes import ALWAYS_GROUP

GROUPING = ("-p", "numa-grouping-matches-write")


def record(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "baseline.json"
    code, _, _ = invoke("verify", *args, "--format", "json", "-o", str(out))
    assert code == 0
    return out


def test_an_unchanged_run_passes(tmp_path: Path) -> None:
    base = record(tmp_path, "-v", "linux-6.2", *GROUPING, "-p", "numa-migrate-keeps-write")
    code, _, err = invoke("verify", "-v", "linux-6.2", *GROUPING, "-p", "numa-migrate-keeps-write",
                          "--baseline", str(base))
    assert code == 0 and "0 change(s) from the baseline" in err


def test_a_patch_that_changes_the_counterexample_is_named(tmp_path: Path) -> None:
    patch = tmp_path / "patch.py"
    patch.write_text('from numacheck.model import VARIANTS\n'
                     'VARIANT = VARIANTS["linux-6.2"].derive("my-patch")\n')
    base = record(tmp_path, "-v", str(patch), *GROUPING)
    # the next version of the patch adds a bug under the property, and drops the recorded shape,
    # so only the baseline can tell
    patch.write_text(ALWAYS_GROUP.replace('"linux-6.2-always-group", ', '"my-patch", expect_trace={}, '))
    code, _, err = invoke("verify", "-v", str(patch), *GROUPING, "--baseline", str(base))
    assert code == 1
    # which of several equally short counterexamples is reported is the engine's choice; the
    # length and that it is named are not
    assert re.search(r"my-patch / numa-grouping-matches-write: a 10-step counterexample through "
                     r"[a-z_, ]+ -> a 7-step counterexample through [a-z_, ]+", err)
    assert re.search(r"my-patch / numa-grouping-matches-write: states \d+ -> \d+", err)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda r: r.update(verdict="holds", trace=None), "verdict holds -> violated"),
        (lambda r: r["stats"].update(states=1), "states 1 -> "),
        (lambda r: r.update(variant="linux-6.1"), "linux-6.1 / numa-grouping-matches-write: in the "
                                                  "baseline, not checked in this run"),
    ],
)
def test_each_kind_of_change_is_named(tmp_path: Path, edit: Callable[[dict[str, Any]], None],
                                      needle: str) -> None:
    base = record(tmp_path, "-v", "linux-6.2", *GROUPING)
    doc = json.loads(base.read_text())
    edit(doc["results"][0])
    base.write_text(json.dumps(doc))
    code, _, err = invoke("verify", "-v", "linux-6.2", *GROUPING, "--baseline", str(base))
    assert code == 1 and needle in err


@pytest.mark.parametrize(("content", "needle"), [
    ("not json", "is not JSON"), ('{"results": [{}]}', "is not a numacheck JSON report"),
])
def test_a_baseline_that_is_not_a_report_is_exit_2(tmp_path: Path, content: str, needle: str) -> None:
    base = tmp_path / "b.json"
    base.write_text(content)
    code, _, err = invoke("verify", "-v", "linux-6.2", *GROUPING, "--baseline", str(base))
    assert code == 2 and needle in err and err.count("\n") == 1
