"""SIGINT and SIGTERM stop the whole run at once: every worker, exit 130 / 143, no report.

A CI runner cancels a job with SIGTERM, a user with Ctrl-C; both must stop ``--jobs`` workers and
the portfolio's engine processes too, even while the main thread is inside a long Z3 call (where
a Python signal handler would not run until the call returns).  So the command's process blocks
both signals and one thread waits for them with ``sigwait``: it terminates the forked children,
removes the report file being written, and leaves with ``os._exit``.  Forked children get the
default actions back (SIGINT ignored: the terminal sends it to the whole process group and the
parent decides) and, on Linux, ``PR_SET_PDEATHSIG``, so a process whose parent is gone follows it.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Exit status for each signal: 128 + its number, as a shell reports it (README, exit codes).
EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}
SIGNALS = frozenset(EXIT_STATUS)

#: Seconds the stopping thread waits for the children to go after SIGTERM before SIGKILL.
GRACE = 0.5

_PR_SET_PDEATHSIG = 1

#: Report files being written now (removed when the run is stopped halfway).
_partial: set[Path] = set()
#: Set once a signal arrived: the main thread must not report what the stopped workers did.
_stopping = threading.Event()
#: The process that forked, as its child sees it (for the PR_SET_PDEATHSIG race).
_forking: list[int] = [0]


def install() -> None:
    """Make SIGINT and SIGTERM stop this process and its workers (call once, main thread)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    os.register_at_fork(before=lambda: _forking.__setitem__(0, os.getpid()), after_in_child=_in_child)
    threading.Thread(target=_wait_for_signal, name="numacheck-signals", daemon=True).start()


def _wait_for_signal() -> None:
    signum = signal.sigwait(SIGNALS)
    _stopping.set()
    stop_children()
    for path in list(_partial):
        path.unlink(missing_ok=True)
    name = signal.Signals(signum).name
    sys.stderr.write(f"numacheck: stopped by {name}; no report written\n")
    sys.stderr.flush()
    os._exit(EXIT_STATUS[signal.Signals(signum)])


def hold() -> None:
    """If the run is being stopped, wait for the exit rather than report the workers' failure."""
    if _stopping.is_set():
        while True:
            time.sleep(1)


def stop_children() -> None:
    """Terminate every forked child, then kill the ones still there after :data:`GRACE`."""
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    deadline = time.monotonic() + GRACE
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
    for child in children:
        if child.is_alive():
            child.kill()
            child.join(1.0)


def _in_child() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != _forking[0]:  # the parent went before the request was made
            os._exit(EXIT_STATUS[signal.SIGTERM])


@contextmanager
def partial(path: Path) -> Iterator[None]:
    """Mark ``path`` as being written: a stopped run removes it rather than leave it half done."""
    _partial.add(path)
    try:
        yield
    finally:
        _partial.discard(path)
