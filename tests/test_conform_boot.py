"""One real boot: four built-in scenarios on the installed Debian kernel under qemu (TCG).

Skipped, with the reason, where qemu, gcc, a static busybox or a kernel image is missing, unless
NUMACHECK_CONFORM_REQUIRED=1 (set by .ci/run, which installs them), where a missing tool fails.
About 15 s on 2 cores: the guest boots in ~4 s and the runs take ~1 s each.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from numacheck.checker.cli import main
from numacheck.conform import guest

#: A private page across a local hinting fault, a remote one with migration left open, the
#: scan's COW-shared skip, and shmem scanned after mbind: four different paths of the model.
SCENARIOS = ("anon-write-scan-write", "anon-remote-read", "fork-scan-skips-cow", "shared-mbind-scan")


def _missing() -> str:
    try:
        guest.qemu()
        guest.gcc()
        guest.busybox()
        guest.default_kernel_image()
    except guest.ToolError as exc:
        return str(exc)
    return ""


def exit_of(args: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(args)
    return int(done.value.code or 0)


@pytest.mark.slow
def test_boot_agrees_with_linux_6_1_and_tells_4_0_rc1_apart(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    missing = _missing()
    if missing:
        if os.environ.get("NUMACHECK_CONFORM_REQUIRED") == "1":
            pytest.fail(f"NUMACHECK_CONFORM_REQUIRED=1 but {missing}")
        pytest.skip(f"no guest to boot: {missing}")
    report = tmp_path / "conform.json"
    args = ["conform", "--repeat", "1", "--timeout", "300", "--json", str(report)]
    for name in SCENARIOS:
        args += ["--scenario", name]
    code = exit_of(args)
    out = capsys.readouterr().out
    doc = json.loads(report.read_text())
    if not doc["kernel_release"].startswith("6.1."):
        pytest.skip(f"the installed kernel is {doc['kernel_release']}, not Debian's 6.1")
    assert code == 0, out
    assert doc["variant"] == "linux-6.1"
    assert {s["name"]: s["verdict"] for s in doc["scenarios"]} == dict.fromkeys(SCENARIOS, "agree")
    # the same counts against the era whose hinting fault loses the write bit
    assert exit_of(["conform", "--measured", str(report), "--variant", "linux-4.0-rc1"]) == 1
    out = capsys.readouterr().out
    assert "scenario anon-write-scan-write: DISAGREE" in out
    assert "scenario shared-mbind-scan: N/A" in out
