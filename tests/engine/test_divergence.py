"""Divergence is a failure: the rules of ``_scoring.problem`` and ``restored_problem``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits

from reglab.engine import Architecture, MemberSpec, Strategy, TrainConfig, train_members
from reglab.engine._scoring import Tracker, chance_loss, problem, restored_problem

from .conftest import member

LOG2 = math.log(2)


def _tracker(losses: list[float], penalties: list[float] | None = None, best: int = 0) -> Tracker:
    """A binary member's tracker whose curves are ``losses`` (chance loss log 2 ≈ 0.69)."""
    tr = Tracker(member(task="binary"))
    tr.curves["train_loss"] = list(losses)
    tr.curves["penalty"] = list(penalties or [0.0] * len(losses))
    tr.curves["val_loss"] = [0.5] * len(losses)
    tr.best_epoch = best or len(losses)
    return tr


def test_the_chance_loss_is_that_of_an_uninformed_model() -> None:
    assert chance_loss(Architecture(4, 10)) == pytest.approx(math.log(10))
    assert chance_loss(Architecture(4, 1, task="binary")) == pytest.approx(LOG2)
    assert chance_loss(Architecture(4, 1, task="regression")) == 1.0


IN_TRAINING: list[tuple[str, list[float], str | None]] = [
    ("normal", [0.69, 0.5, 0.4, 0.3, 0.25, 0.2], None),
    ("explodes-and-stays", [0.7, 50.0, 80.0, 1e4, 3.2e4, 3.2e4],
     "rose from 0.69 (chance) to 3.2e+04 by epoch 6"),
    ("four-epochs-above", [0.7, 0.6, 50.0, 80.0, 1e4, 3.2e4], None),
    ("spike-then-recovers", [0.7, 1e4, 1e4, 1e4, 1e4, 0.5], None),
    ("just-below-ten-times", [10 * LOG2 * 0.99] * 6, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "losses", "expected"), IN_TRAINING, ids=[c[0] for c in IN_TRAINING]
)
def test_a_loss_above_ten_times_chance_for_five_epochs_is_divergence(
    case: str, losses: list[float], expected: str | None
) -> None:
    found = problem(_tracker(losses), True, 0)
    if expected is None:
        assert found is None
    else:
        assert found == f"diverged: training loss {expected}; try a smaller lr or penalty"


AT_THE_END: list[tuple[str, dict[str, Any], str | None]] = [
    ("normal", {"losses": [0.6, 0.4, 0.3], "best": 3}, None),
    (
        "exploded-never-learned",
        {"losses": [7.6e3, 0.74, 0.78, 0.8], "best": 3},
        "diverged: training loss rose from 0.69 (chance) to 7.6e+03 by epoch 1; even its best "
        "epoch by validation loss, 3 (the one restored), is no better than chance (training "
        "loss 0.78); try a smaller lr or penalty",
    ),
    ("exploded-then-learned", {"losses": [8.6e4, 1.3e4, 1.6, 0.25], "best": 4}, None),
    (
        "restored-to-the-explosion",
        {"losses": [1e9, 1e8], "best": 1},
        "diverged: training loss rose from 0.69 (chance) to 1e+09 by epoch 1; even its best "
        "epoch by validation loss, 1 (the one restored), is no better than chance (training "
        "loss 1e+09); try a smaller lr or penalty",
    ),
    (
        "penalty-never-came-down",
        {"losses": [0.5, 0.4, 0.3], "penalties": [1.3e7, 5.8e6, 5.3e5], "best": 2},
        "diverged: the penalty of the restored epoch 2 is 5.8e+06, more than 10x the chance loss "
        "0.69 (the weights never came near the penalized minimum); try a smaller lr or penalty",
    ),
    ("strong-penalty-that-shrank", {"losses": [0.6, 0.5], "penalties": [70, 0.5], "best": 2}, None),
    (
        "penalty-exploded-nothing-learned",
        {"losses": [0.7, 0.69, 0.69], "penalties": [70, 3, 0.3], "best": 3},
        "diverged: the penalty reached 70 by epoch 1, more than 10x the chance loss 0.69; even "
        "its best epoch by validation loss, 3 (the one restored), is no better than chance "
        "(training loss 0.69); try a smaller lr or penalty",
    ),
    ("no-epoch-restored", {"losses": [1e9], "best": -1}, None),
]


@pytest.mark.parametrize(("case", "curves", "expected"), AT_THE_END, ids=[c[0] for c in AT_THE_END])
def test_a_finished_member_is_judged_on_its_restored_epoch(
    case: str, curves: dict[str, Any], expected: str | None
) -> None:
    tr = _tracker(curves["losses"], curves.get("penalties"), curves["best"])
    if curves["best"] < 0:
        tr.best_epoch = 0
    assert restored_problem(tr) == expected


def test_non_finite_values_come_first() -> None:
    assert problem(_tracker([0.5, float("nan")]), True, 0) == "loss became NaN at epoch 2"
    assert problem(_tracker([0.5]), False, 0) == "weights became NaN or inf at epoch 1"
    tr = _tracker([0.5])
    tr.curves["val_loss"] = [float("inf")]
    assert problem(tr, True, 10) == "validation loss became inf at epoch 1"


# --------------------------------------------------------------------------- end to end


def _specs(x: np.ndarray, k: int, cases: dict[str, dict[str, Any]]) -> list[MemberSpec]:
    n = len(x)
    perm = np.random.default_rng(0).permutation(n)
    tr, va, te = np.sort(perm[: n // 2]), np.sort(perm[n // 2 : 3 * n // 4]), perm[3 * n // 4 :]
    task = "binary" if k == 2 else "multiclass"
    return [
        MemberSpec(
            Architecture(x.shape[1], 1 if k == 2 else k, hidden=(32, 16), task=task),
            Strategy(name=name, **strategy),
            TrainConfig(epochs=20, patience=5),
            tr,
            va,
            np.sort(te),
            seed=i,
        )
        for i, (name, strategy) in enumerate(cases.items())
    ]


@pytest.mark.parametrize("loader", [load_digits, load_breast_cancer], ids=["digits", "cancer"])
def test_adam_with_a_huge_lr_or_l2_fails_and_normal_members_do_not(loader: Any) -> None:
    x, y = loader(return_X_y=True)
    x = ((x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1)).astype(np.float32)
    cases = {
        "none": {},
        "l2": {"l2": 1e-3},
        "dropout": {"dropout": 0.3},
        "fast": {"lr": 1e-2},
        "lr=1000": {"lr": 1000.0},
        "l2=1e6": {"l2": 1e6},
    }
    specs = _specs(x, int(y.max()) + 1, cases)
    results = {
        s.strategy.name: r for s, r in zip(specs, train_members(specs, {0: (x, y)}), strict=True)
    }
    for name in ("none", "l2", "dropout", "fast"):
        assert results[name].ok, results[name].error
        assert results[name].test_scores["accuracy"] > 0.85
    for name in ("lr=1000", "l2=1e6"):
        r = results[name]
        assert r.status == "failed" and r.error is not None, name
        assert r.error.startswith("diverged: ") and r.error.endswith("try a smaller lr or penalty")
        assert r.test_scores == {} and r.weights == {}
