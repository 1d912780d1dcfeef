"""Progress on stderr: a live line on a terminal, TLC-style lines in logs, honest variant times."""

from __future__ import annotations

import io
import time

import pytest

from numacheck.checker.cli import main
from numacheck.reports import progress
from numacheck.reports.progress import ProgressDisplay


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def display(live: bool, jobs: int = 1) -> tuple[ProgressDisplay, io.StringIO, Clock]:
    stream, clock = io.StringIO(), Clock()
    return ProgressDisplay(stream, live, ["linux-4.0", "linux-4.9", "linux-6.2"], jobs, clock), stream, clock


def test_a_log_line_reads_like_tlc() -> None:
    d, stream, clock = display(live=False)
    clock.now += 40
    d.engine(500_000, 1_234_567, 12, 3_456, 40.0)
    d.show()
    line = stream.getvalue()
    assert line.startswith("Progress(12) at ") and line.endswith(".\n")
    assert ("linux-4.0: 1,234,567 states generated, 500,000 distinct states found (750,000 ds/min), "
            "3,456 states left on queue; 0/3 variants done, 40s elapsed." in line)


def test_a_variant_takes_its_own_wall_time_not_the_sum_of_its_properties() -> None:
    d, stream, clock = display(live=False)
    clock.now += 19.0
    d.finished(range(0, 1), [[object()] * 6])  # six results of one 19 s search
    clock.now += 5.0
    d.finished(range(1, 2), [[object()] * 6])
    assert stream.getvalue().splitlines() == ["  [1/3] linux-4.0: 6 checks in 19.0s",
                                              "  [2/3] linux-4.9: 6 checks in 5.0s"]


def test_variants_searched_together_share_a_line_and_the_running_one_names_them() -> None:
    stream, clock = io.StringIO(), Clock()
    d = ProgressDisplay(stream, False, ["linux-4.0", "linux-4.9", "linux-6.2"], 1, clock,
                        units=[range(0, 2), range(2, 3)])
    assert "linux-4.0 to linux-4.9 (2 searched together): 0/3 variants done" in d.line()
    clock.now += 3.0
    d.finished(range(0, 2), [[object()] * 6, [object()] * 6])
    assert stream.getvalue() == "  [1-2/3] linux-4.0 to linux-4.9 (2 searched together): 12 checks in 3.0s\n"
    assert "linux-6.2: 2/3 variants done" in d.line()


def test_with_several_jobs_a_variant_says_when_it_finished() -> None:
    d, stream, clock = display(live=False, jobs=2)
    clock.now += 7.5
    d.finished(range(1, 2), [[object()]])
    assert stream.getvalue() == "  [1/3] linux-4.9: 1 checks finished 7.5s into the run\n"


def test_the_live_line_is_redrawn_in_place_and_cleared_for_a_finished_variant() -> None:
    d, stream, clock = display(live=True)
    clock.now += 2
    d.engine(200_000, 600_000, 9, 1_000, 2.0)
    d.show()
    assert stream.getvalue() == ("\r\x1b[K  linux-4.0 | 200,000 states, 100,000 states/s, depth 9, "
                                 "queue 1,000 | 0/3 variants done, 2s elapsed")
    d.finished(range(0, 1), [[object()]])
    assert stream.getvalue().endswith("\r\x1b[K  [1/3] linux-4.0: 1 checks in 2.0s\n")


def test_the_time_left_is_estimated_only_once_a_variant_finished() -> None:
    d, _, clock = display(live=True)
    assert d.eta() is None and "left" not in d.line()
    clock.now += 10
    d.finished(range(0, 1), [[object()]])
    clock.now += 4
    assert d.eta() == pytest.approx(6 + 10)  # the rest of this variant, then one more
    assert "about 16s left" in d.line()


def test_the_timer_prints_even_when_no_engine_reports() -> None:
    stream = io.StringIO()
    d = ProgressDisplay(stream, False, ["linux-4.0"], interval=0.01)
    d.begin()
    time.sleep(0.2)
    d.close()
    lines = stream.getvalue().splitlines()
    assert lines and all(line.startswith("Progress(0) at ") for line in lines)
    assert "linux-4.0: 0/1 variants done" in lines[0]


def test_verify_without_a_terminal_leaves_progress_lines_on_stderr(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.05)
    with pytest.raises(SystemExit) as done:
        main(["verify", "-v", "linux-4.9", "-v", "linux-4.0", "-p", "write-requires-vm-write",
              "--processes", "1", "--pages", "2"])
    out, err = capsys.readouterr()
    assert done.value.code == 0 and "Progress(" not in out
    assert any(line.startswith("Progress(") and "distinct states found" in line
               for line in err.splitlines()), err
    assert "  [1-2/2] linux-4.9 to linux-4.0 (2 searched together): 2 checks in " in err
