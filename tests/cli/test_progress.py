"""What a long command shows while it trains: the first epoch's projection and the log lines."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from reglab.cli import progress as cli_progress
from reglab.cli.main import app
from reglab.cli.progress import TrainingProgress, duration
from reglab.engine.progress import EpochDone

runner = CliRunner()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _log() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


def _epoch(epoch: int, members: int = 50, last: int = 100, seconds: float = 10.0) -> EpochDone:
    return EpochDone(epoch, last, members, members, members, members * last, seconds)


def test_the_first_epoch_projects_the_whole_run_and_says_how_to_shorten_it() -> None:
    console, out = _log()
    clock = Clock()
    with TrainingProgress(console, clock=clock) as progress:
        progress.expect(work=5000, members=50)
        clock.now += 10
        progress.epoch(_epoch(1, seconds=10.0))
    # 10 s for 50 members: 0.2 s a member-epoch, 5000 member-epochs: 1000 s
    text = out.getvalue()
    assert "first epoch: 10.0 s for a stack of 50 members" in text
    assert "the run, if no member stops early: about 17 min on this machine" in text
    assert "to shorten it, lower --epochs, --cv or --strategies" in text
    assert "e.g. --epochs 20: about 3 min 20 s" in text


def test_a_short_run_gets_no_hint_and_a_very_short_one_no_projection() -> None:
    console, out = _log()
    with TrainingProgress(console, clock=Clock()) as progress:
        progress.expect(work=1000, members=10)
        progress.epoch(_epoch(1, members=10, last=100, seconds=0.5))
    assert "about 50 s" in out.getvalue() and "shorten" not in out.getvalue()
    console, out = _log()
    with TrainingProgress(console, clock=Clock()) as progress:
        progress.expect(work=100, members=10)
        progress.epoch(_epoch(1, members=10, last=10, seconds=0.5))  # 5 s in all
    assert progress.lines == [] and out.getvalue() == ""


def test_log_lines_come_after_30_s_and_10_percent_whichever_is_later() -> None:
    console, _ = _log()
    clock = Clock()
    progress = TrainingProgress(console, clock=clock)
    with progress:
        progress.expect(work=5000, members=50)
        times = []
        for epoch in range(1, 101):
            clock.now += 10  # 10 s an epoch: 1% of the run every 10 s
            before = len(progress.lines)
            progress.epoch(_epoch(epoch))
            if len(progress.lines) > before:
                times.append(epoch)
    # the projection after epoch 1, then a line each 10 epochs (100 s, later than 30 s)
    assert times == [1, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    line = progress.lines[2]  # after epoch 20 of 100: 200 s elapsed, 800 s left
    assert line == (
        "  epoch 20 of 100 in a stack of 50 members; 0 of 50 members done; "
        "3 min 20 s elapsed, about 13 min left"
    )


def test_fast_progress_is_printed_every_30_s_only() -> None:
    console, _ = _log()
    clock = Clock()
    progress = TrainingProgress(console, clock=clock)
    with progress:
        progress.expect(work=1000, members=50)
        for epoch in range(1, 21):
            clock.now += 5  # 5% of the run every 5 s
            progress.epoch(_epoch(epoch, last=20, seconds=5.0))
    assert len(progress.lines) == 1 + 3  # the projection, then after 30, 60 and 90 s


def test_without_a_known_total_each_stack_is_its_own_run() -> None:
    console, _ = _log()
    clock = Clock()
    progress = TrainingProgress(console, unit="trials", clock=clock)
    with progress:
        for epoch in range(1, 11):
            clock.now += 20
            progress.epoch(_epoch(epoch, members=8, last=10, seconds=20.0))
    assert "this stack, if no member stops early: about 3 min 20 s" in progress.lines[0]
    assert progress.lines[1].endswith("about 2 min 40 s left in this stack")  # after 40 s


def test_members_trained_elsewhere_move_the_run_as_they_come_back() -> None:
    console, _ = _log()
    clock = Clock()
    progress = TrainingProgress(console, clock=clock)
    with progress:
        progress.expect(work=500, members=50)
        clock.now += 60
        progress.members(10, 50)  # no epoch reports: members of 10 epochs each came back
    assert progress.done_work() == 100 and progress.fraction() == pytest.approx(0.2)
    assert progress.lines == ["  10 of 50 members done; 1 min 0 s elapsed, about 4 min 0 s left"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (59.4, "59 s"), (61, "1 min 1 s"), (599, "9 min 59 s"), (3600, "1 h 0 min")],
)
def test_durations_read_as_words(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_bench_prints_the_projection_in_a_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    frame["label"] = np.where(frame["a"] > 0, "x", "y")
    frame.to_csv("data.csv", index=False)
    monkeypatch.setattr(cli_progress, "SHOWN_S", 0.0)  # this run is too short to be projected
    result = runner.invoke(
        app, ["bench", "data.csv", "--target", "label", "--strategies", "none,l2", "--epochs",
              "3", "--cv", "2", "--no-report", "--store", "runs.db"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "first epoch:" in result.output and "if no member stops early: about" in result.output
