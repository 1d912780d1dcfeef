"""Cancelling a run: SIGTERM (a CI runner's cancel) and Ctrl-C stop every worker at once.

Each test starts the console script with ``--jobs 2`` (forked workers, and with ``-e all`` the
portfolio's engine processes under them) in a session of its own, signals it after 3 s, and
then looks for any process of that session still alive 2 s later.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

NUMACHECK = Path(sys.executable).with_name("numacheck")


def alive_in_session(sid: int) -> list[int]:
    """Processes of session ``sid`` that are not zombies (their parent may be gone)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(entry.name))
    return out


def stopped(tmp_path: Path, extra: tuple[str, ...], send: signal.Signals, to_group: bool) -> int:
    report = tmp_path / "result.json"
    proc = subprocess.Popen(
        [str(NUMACHECK), "verify", "--jobs", "2", *extra, "--format", "json", "-o", str(report)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(3)
    assert proc.poll() is None, "the run ended before it could be stopped"
    assert len(alive_in_session(proc.pid)) >= 3  # the command and its two workers
    if to_group:
        os.killpg(proc.pid, send)  # what a terminal's Ctrl-C does
    else:
        proc.send_signal(send)  # what a CI runner's cancel does
    try:
        _, err = proc.communicate(timeout=2)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    time.sleep(0.5)
    assert alive_in_session(proc.pid) == []
    assert not report.exists() and not list(tmp_path.iterdir())
    assert f"stopped by {send.name}" in err.decode()
    return proc.returncode


def test_sigterm_stops_every_worker_and_exits_143(tmp_path: Path) -> None:
    assert stopped(tmp_path, (), signal.SIGTERM, to_group=False) == 143


def test_ctrl_c_stops_every_worker_and_engine_process_and_exits_130(tmp_path: Path) -> None:
    assert stopped(tmp_path, ("-e", "all"), signal.SIGINT, to_group=True) == 130
