"""The engine's epoch reports: they add up per chunk, and they never change a member's bits."""

from __future__ import annotations

import numpy as np
import pytest

from reglab.engine import train_members
from reglab.engine.progress import EpochDone, listener, listening

from .conftest import chunk_budget, data_for, member


def _specs() -> list:
    """Members of 3 to 6 epochs, two with early stopping."""
    return [
        member(seed=0, train={"epochs": 3}),
        member(seed=1, train={"epochs": 6}),
        member(seed=2, train={"epochs": 6, "patience": 1}, l2=1e-3),
        member(seed=3, train={"epochs": 5, "patience": 1}, dropout=0.3),
    ]


def _stop_member_1_at_2(ids, curves):  # type: ignore[no-untyped-def]
    return [i == 1 and len(c["train_loss"]) == 2 for i, c in zip(ids, curves, strict=True)]


def test_each_chunks_reports_add_up_to_its_member_epochs() -> None:
    specs = _specs()
    seen: list[EpochDone] = []
    with listening(seen.append):  # the hook stops member 1 after epoch 2, 4 epochs early
        results = train_members(
            specs, data_for("multiclass"), device="cpu", on_epoch_end=_stop_member_1_at_2
        )
    assert results[1].epochs_run == 2
    assert [d.epoch for d in seen] == list(range(1, len(seen) + 1))  # one stack here
    assert all(d.last == 6 and d.members == 4 and d.total == 20 for d in seen)
    assert sum(d.work for d in seen) == 20 == sum(s.train.epochs for s in specs)
    # members still training fall as members end; the last report has none left
    training = [d.training for d in seen]
    assert training == sorted(training, reverse=True) and training[-1] == 0
    # the first epoch trained every member, and every epoch took some time
    assert seen[0].work >= 4 and all(d.seconds > 0 for d in seen)
    # each epoch's count of members still training agrees with the results
    for d in seen:
        alive = sum(r.epochs_run > d.epoch for r in results)
        assert d.training == alive


def test_chunks_report_separately(small_budgets: None) -> None:
    specs = _specs()
    data = data_for("multiclass")
    seen: list[EpochDone] = []
    with listening(seen.append):
        train_members(specs, data, device="cpu", memory_budget_mb=chunk_budget(specs, data, 2))
    starts = [d for d in seen if d.epoch == 1]
    assert len(starts) == 2 and [d.members for d in starts] == [2, 2]
    assert sum(d.total for d in starts) == sum(d.work for d in seen) == 20


def test_reports_change_no_bits() -> None:
    specs = _specs()
    data = data_for("multiclass")
    quiet = train_members(specs, data, device="cpu")
    with listening(lambda d: None):
        heard = train_members(specs, data, device="cpu")
    for a, b in zip(quiet, heard, strict=True):
        assert a.epochs_run == b.epochs_run and a.best_epoch == b.best_epoch
        for name, w in a.weights.items():
            np.testing.assert_array_equal(w, b.weights[name])
        np.testing.assert_array_equal(a.test_pred, b.test_pred)
        assert a.curves == b.curves and a.test_scores == b.test_scores


def test_the_listener_is_only_in_effect_inside_the_block() -> None:
    assert listener() is None
    with listening(print):
        assert listener() is print
        with listening(len):
            assert listener() is len
        assert listener() is print
    assert listener() is None


def test_a_listener_that_raises_ends_the_training() -> None:
    def stop(done: EpochDone) -> None:
        raise KeyboardInterrupt

    with listening(stop), pytest.raises(KeyboardInterrupt):
        train_members(_specs(), data_for("multiclass"), device="cpu")
