"""History: per-epoch lists, conversions and the printed table."""

from __future__ import annotations

import json
import math

import pytest

from reglab.training import History


def filled(n: int = 3, **kwargs: object) -> History:
    h = History(metric="accuracy", **kwargs)  # type: ignore[arg-type]
    for t in range(1, n + 1):
        h.append(
            epoch=t,
            train_loss=1.0 / t,
            running_loss=1.1 / t,
            penalty=0.1 * t,
            penalty_shares={"dense0.weight": 0.06 * t, "output.weight": 0.04 * t},
            val_loss=1.2 / t,
            val_metric=0.5 + 0.1 * t,
            lr=0.01,
        )
    return h


def test_append_records_one_value_per_series() -> None:
    h = filled(3)
    assert len(h) == 3 and h.epoch == [1, 2, 3]
    assert h.train_loss == pytest.approx([1.0, 0.5, 1 / 3])
    assert h.penalty_shares["output.weight"] == pytest.approx([0.04, 0.08, 0.12])
    assert h.lr == [0.01] * 3


def test_missing_validation_is_nan_and_new_penalties_are_padded() -> None:
    h = History()
    h.append(epoch=1, train_loss=1.0)
    h.append(epoch=2, train_loss=0.9, penalty=0.2, penalty_shares={"w": 0.2})
    assert math.isnan(h.val_loss[0]) and math.isnan(h.val_metric[1])
    assert math.isnan(h.penalty_shares["w"][0]) and h.penalty_shares["w"][1] == 0.2
    assert math.isnan(h.running_loss[0])


def test_dict_round_trip_through_json() -> None:
    h = filled(4, best_epoch=3, stopped_epoch=4)
    again = History.from_dict(json.loads(json.dumps(h.to_dict())))
    assert again == h
    assert again.best_index == 2


def test_to_frame() -> None:
    frame = filled(3).to_frame()
    assert frame.index.name == "epoch" and list(frame.index) == [1, 2, 3]
    assert list(frame.columns) == [
        "train_loss", "running_loss", "penalty", "penalty[dense0.weight]",
        "penalty[output.weight]", "val_loss", "val_accuracy", "lr",
    ]  # fmt: skip
    shares = frame["penalty[dense0.weight]"] + frame["penalty[output.weight]"]
    assert shares.tolist() == pytest.approx(frame["penalty"].tolist())


def test_summary_marks_best_and_stopped_epochs() -> None:
    h = filled(5, best_epoch=2, stopped_epoch=5)
    lines = str(h).splitlines()
    assert lines[0].split() == ["epoch", "train_loss", "penalty", "val_loss", "val_accuracy", "lr"]
    assert lines[2].split()[0] == "2*" and lines[5].split()[0] == "5!"
    assert lines[1].split()[1:] == ["1.0000", "0.1000", "1.2000", "0.6000", "0.0100"]
    assert lines[-1] == "5 epochs; best epoch 2; stopped early at epoch 5"
    # all rows line up
    assert len({len(line) for line in lines[:-1]}) == 1


def test_summary_shortens_long_histories() -> None:
    h = filled(50, best_epoch=50)
    lines = h.summary(max_rows=6).splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == ["1", "2", "3", "...", "48", "49", "50*"]
    assert lines[-1] == "50 epochs; best epoch 50; no early stop"


def test_summary_formats_small_and_missing_values() -> None:
    h = History()
    h.append(epoch=1, train_loss=1.5e-6, lr=0.001)
    row = h.summary().splitlines()[1].split()
    assert row == ["1", "1.500e-06", "0.0000", "-", "-", "0.0010"]
