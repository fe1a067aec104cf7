"""``train_members(on_epoch_end=...)``: the hook sees the members still training and their
curves, stops the ones it flags as early stopping would, and leaves the others untouched."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from reglab.engine import TrainConfig, train_members
from reglab.errors import ConfigError

from .conftest import data_for, member


def specs() -> list:  # type: ignore[type-arg]
    return [
        member(seed=1, train={"epochs": 6}),
        member(seed=2, l2=1e-3, train={"epochs": 6}),
        member(seed=3, dropout=0.3, train={"epochs": 6}),
        member(seed=4, train={"epochs": 6, "patience": 2}),
    ]


def test_a_member_stopped_by_the_hook_equals_one_trained_for_that_many_epochs() -> None:
    data = data_for("multiclass")
    members = specs()
    seen: list[tuple[list[int], list[int]]] = []

    def hook(ids: Sequence[int], curves: Sequence[Mapping[str, list[float]]]) -> list[bool]:
        seen.append((list(ids), [len(c["train_loss"]) for c in curves]))
        return [i == 1 and len(c["train_loss"]) == 3 for i, c in zip(ids, curves, strict=True)]

    hooked = train_members(members, data, device="cpu", on_epoch_end=hook)
    plain = train_members(members, data, device="cpu")
    assert seen[0] == ([0, 1, 2, 3], [1, 1, 1, 1])
    assert all(1 not in ids for ids, _ in seen[3:])  # member 1 is gone after epoch 3
    stopped = hooked[1]
    assert (stopped.epochs_run, stopped.stopped_epoch, stopped.best_epoch) == (3, 3, 3)
    short = dataclasses.replace(
        members[1], train=TrainConfig(epochs=3, batch_size=16, patience=None)
    )
    (alone,) = train_members([short], data, device="cpu")
    np.testing.assert_array_equal(stopped.test_pred, alone.test_pred)
    for key in alone.weights:
        np.testing.assert_array_equal(stopped.weights[key], alone.weights[key])
    for i in (0, 2, 3):  # the others are the same bits as without a hook
        np.testing.assert_array_equal(hooked[i].test_pred, plain[i].test_pred)
        assert hooked[i].curves == plain[i].curves


def test_a_hook_that_stops_none_changes_nothing() -> None:
    data = data_for("multiclass")
    members = specs()
    quiet = train_members(members, data, device="cpu", on_epoch_end=lambda ids, curves: None)
    plain = train_members(members, data, device="cpu")
    for a, b in zip(quiet, plain, strict=True):
        np.testing.assert_array_equal(a.test_pred, b.test_pred)
        assert (a.best_epoch, a.stopped_epoch, a.epochs_run) == (
            b.best_epoch,
            b.stopped_epoch,
            b.epochs_run,
        )


def test_a_hook_must_return_one_flag_per_member() -> None:
    with pytest.raises(ConfigError, match=r"`on_epoch_end` must return one flag per member"):
        train_members(
            specs(), data_for("multiclass"), device="cpu", on_epoch_end=lambda i, c: [True]
        )
