"""train_members: independence, early stopping, failures, chunking, every strategy, scores."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
import torch
from sklearn import metrics

from reglab.engine import MemberResult, MemberSpec, Strategy, TrainConfig, train_members
from reglab.engine.export import single_model
from reglab.engine.plan import plan_chunks
from reglab.engine.stack import Stack
from reglab.errors import ConfigError

from .conftest import Data, blobs, chunk_budget, data_for, member


def _weights_close(a: MemberResult, b: MemberResult, atol: float = 1e-6) -> None:
    assert a.status == b.status == "ok", (a.error, b.error)
    assert set(a.weights) == set(b.weights)
    for key in a.weights:
        np.testing.assert_allclose(a.weights[key], b.weights[key], atol=atol, rtol=0, err_msg=key)
    assert a.test_scores == pytest.approx(b.test_scores, rel=1e-5, abs=1e-6)
    assert a.best_epoch == b.best_epoch and a.epochs_run == b.epochs_run


def _mixed_members() -> tuple[list[MemberSpec], Data]:
    """Members of one stack that differ in everything a stack lets them differ in."""
    data = data_for("multiclass", n=90, splits=2)
    es = {"epochs": 6, "patience": 1}
    specs = [
        member(seed=1),
        member(seed=2, l1=1e-3, l2=1e-3, split_id=1),
        member(seed=3, dropout=0.3, input_dropout=0.1, train=es),
        member(seed=4, dropout=(0.2, 0.5), dropout_kind="gaussian", lr=1e-2),
        member(seed=5, drop_connect=0.3, max_norm=0.7, split_id=1, train={"epochs": 4}),
        member(seed=6, l1=5e-3, l1_mode="proximal", weight_decay=0.1, train=es),
        member(seed=7, l2=1e-3, penalty_layers="all", split_seed=3, train={"patience": 2}),
        member(seed=8, max_norm=0.5, lr=3e-2),
    ]
    # Other training-set sizes: short last batches of different sizes (54 rows → 16·3 + 6),
    # and members that need a stack of their own (other number of steps, full last batch).
    trimmed = [
        dataclasses.replace(specs[1], train_idx=specs[1].train_idx[:50]),
        dataclasses.replace(specs[3], train_idx=specs[3].train_idx[:36]),
        dataclasses.replace(specs[7], train_idx=specs[7].train_idx[:48]),
    ]
    return [*specs, *trimmed], data


@pytest.mark.usefixtures("small_budgets")
def test_a_member_trains_the_same_alone_in_a_stack_and_in_chunks() -> None:
    specs, data = _mixed_members()
    together = train_members(specs, data, device="cpu")
    assert plan_chunks(specs, data, 1024) == [[0, 1, 2, 3, 4, 5, 6, 7, 8], [9], [10]]
    budget = chunk_budget(specs, data, 2.5)
    assert [len(c) for c in plan_chunks(specs, data, budget)] == [2, 2, 2, 2, 1, 1, 1]
    chunked = train_members(specs, data, device="cpu", memory_budget_mb=budget)
    for spec, stacked, in_chunk in zip(specs, together, chunked, strict=True):
        (alone,) = train_members([spec], data, device="cpu")
        _weights_close(stacked, alone)
        _weights_close(in_chunk, alone)
        np.testing.assert_allclose(stacked.curves["val_loss"], alone.curves["val_loss"], atol=1e-6)


@pytest.mark.usefixtures("small_budgets")
def test_chunks_stay_within_the_planned_size(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    original = Stack.train_step

    def spy(self: Stack, *args: Any, **kwargs: Any) -> None:
        sizes.append(self.m)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Stack, "train_step", spy)
    specs = [member(seed=s) for s in range(7)]
    data = data_for("multiclass")
    budget = chunk_budget(specs, data, 3.5)
    results = train_members(specs, data, device="cpu", memory_budget_mb=budget)
    assert all(r.ok for r in results)
    assert max(sizes) == 3 and min(sizes) == 1


def test_members_stop_on_their_own_and_are_restored_to_their_best_epoch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes: list[int] = []
    original = Stack.train_step

    def spy(self: Stack, *args: Any, **kwargs: Any) -> None:
        sizes.append(self.m)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Stack, "train_step", spy)
    data = data_for("multiclass")
    specs = [
        member(seed=s, lr=lr, train={"epochs": 30, "patience": p})
        for s, (lr, p) in enumerate([(0.2, 1), (0.1, 2), (0.05, 4), (1e-3, 3)])
    ]
    results = train_members(specs, data, device="cpu")
    stack_sizes = list(sizes)  # the retraining below steps too
    stops = [r.epochs_run for r in results]
    assert len(set(stops)) > 1, stops
    for spec, r in zip(specs, results, strict=True):
        assert r.ok
        for curve in r.curves.values():
            assert len(curve) == r.epochs_run
        val = np.array(r.curves["val_loss"])
        assert r.best_epoch == int(np.argmin(val)) + 1
        if r.stopped_epoch:
            assert r.stopped_epoch == r.epochs_run == r.best_epoch + spec.train.patience
        else:
            assert r.epochs_run == spec.train.epochs
        # The restored weights are the weights after best_epoch epochs.
        short = dataclasses.replace(
            spec, train=TrainConfig(epochs=r.best_epoch, batch_size=16, patience=None)
        )
        (again,) = train_members([short], data, device="cpu")
        for key in r.weights:
            np.testing.assert_allclose(r.weights[key], again.weights[key], atol=1e-6)
    # Stopped members stop costing compute: the stack shrinks as they finish.
    steps_per_epoch = math.ceil(len(specs[0].train_idx) / 16)
    per_epoch = stack_sizes[::steps_per_epoch]
    assert per_epoch[0] == 4 and per_epoch[-1] == 1
    assert per_epoch == sorted(per_epoch, reverse=True)
    assert len(stack_sizes) == steps_per_epoch * max(stops)


def test_a_diverging_member_fails_with_a_reason_and_the_others_are_untouched() -> None:
    data = data_for("regression")
    good = [member(task="regression", seed=1), member(task="regression", seed=2, l2=1e-3)]
    bad = member(task="regression", seed=3, lr=1e12)
    results = train_members([good[0], bad, good[1]], data, device="cpu")
    failed = results[1]
    assert failed.status == "failed" and not failed.ok
    assert failed.error is not None
    assert failed.error.startswith(("loss became", "weights became", "validation loss became"))
    assert failed.error.endswith(f"at epoch {failed.epochs_run}")
    assert failed.test_scores == {} and failed.weights == {}
    for spec, r in zip(good, [results[0], results[2]], strict=True):
        (alone,) = train_members([spec], data, device="cpu")
        _weights_close(r, alone)


STRATEGIES: list[tuple[str, dict[str, Any]]] = [
    ("none", {}),
    ("l1", {"l1": 1e-3}),
    ("l2", {"l2": 1e-3}),
    ("elastic-net-all", {"l1": 1e-3, "l2": 1e-3, "penalty_layers": "all"}),
    ("l1-proximal", {"l1": 1e-2, "l1_mode": "proximal"}),
    ("dropout", {"dropout": 0.5}),
    ("dropout-per-layer", {"dropout": (0.1, 0.6)}),
    ("input-dropout", {"input_dropout": 0.2}),
    ("gaussian-dropout", {"dropout": 0.4, "input_dropout": 0.1, "dropout_kind": "gaussian"}),
    ("drop-connect", {"drop_connect": 0.4}),
    ("max-norm", {"max_norm": 0.3}),
    ("weight-decay", {"weight_decay": 0.3}),
    ("own-lr", {"lr": 2e-2}),
    ("everything", {"l1": 1e-3, "l2": 1e-3, "dropout": 0.2, "drop_connect": 0.2, "max_norm": 2.0}),
]
ARCHITECTURES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("multiclass-relu-adam", "multiclass", {}, {}),
    ("binary-tanh-sgd", "binary", {"activation": "tanh"}, {"optimizer": "sgd", "lr": 0.05}),
    ("regression-elu-adamw", "regression", {"activation": "elu"}, {"optimizer": "adamw"}),
    ("bn-act-drop-selu", "multiclass", {"batch_norm": True, "activation": "selu"}, {}),
    (
        "act-bn-drop-gelu",
        "multiclass",
        {"batch_norm": True, "block_order": "act-bn-drop", "activation": "gelu"},
        {},
    ),
    ("sigmoid", "multiclass", {"activation": "sigmoid"}, {}),
    ("leaky-relu", "multiclass", {"activation": "leaky_relu"}, {}),
    ("identity", "binary", {"activation": "identity"}, {}),
]


@pytest.mark.parametrize(
    ("name", "task", "arch", "train"), ARCHITECTURES, ids=[a[0] for a in ARCHITECTURES]
)
def test_every_strategy_trains_in_one_stack(
    name: str, task: str, arch: dict[str, Any], train: dict[str, Any]
) -> None:
    data = data_for(task)
    specs = [
        member(task=task, seed=i, arch=arch, train={"epochs": 2, **train}, name=s, **opts)
        for i, (s, opts) in enumerate(STRATEGIES)
    ]
    results = train_members(specs, data, device="cpu")
    for spec, r in zip(specs, results, strict=True):
        assert r.ok, (spec.strategy.name, r.error)
        assert r.key == spec.key()
        assert all(len(c) == 2 and all(math.isfinite(v) for v in c) for c in r.curves.values())
        names = ("rmse", "mae", "r2") if task == "regression" else ("accuracy", "log_loss")
        assert set(names) <= set(r.test_scores) and set(names) <= set(r.train_scores)
        shape = (len(spec.test_idx),) if task == "regression" else (len(spec.test_idx), 3)
        if task == "binary":
            shape = (len(spec.test_idx), 2)
        assert r.test_pred.shape == shape
        if spec.strategy.l1 or spec.strategy.l2:
            assert r.curves["penalty"][-1] > 0
        else:
            assert r.curves["penalty"] == [0.0, 0.0]


def _ece_by_hand(y: np.ndarray, proba: np.ndarray, bins: int = 15) -> float:
    """Guo et al.'s expected calibration error, bin by bin over (b/15, (b+1)/15]."""
    conf, right = proba.max(1), proba.argmax(1) == y
    total = 0.0
    for b in range(bins):
        rows = (conf > b / bins) & (conf <= (b + 1) / bins)
        if rows.any():
            total += rows.sum() / len(y) * abs(right[rows].mean() - conf[rows].mean())
    return total


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_scores_are_sklearn_metrics_of_the_returned_predictions(task: str) -> None:
    data = data_for(task)
    x, y = data[0]
    spec = member(task=task, seed=3, l2=1e-3, train={"epochs": 4})
    (r,) = train_members([spec], data, device="cpu")
    y_test = y[spec.test_idx]
    model = single_model(spec.arch, spec.strategy)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in r.weights.items()})
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(x[spec.train_idx])).numpy().astype(np.float64)
    y_train = y[spec.train_idx]
    if task == "regression":
        expected = {
            "rmse": math.sqrt(metrics.mean_squared_error(y_test, r.test_pred)),
            "mae": metrics.mean_absolute_error(y_test, r.test_pred),
            "r2": metrics.r2_score(y_test, r.test_pred),
        }
        mean, std = y_train.mean(), y_train.std()
        train_r2 = metrics.r2_score(y_train, out[:, 0] * std + mean)
        assert r.train_scores["r2"] == pytest.approx(train_r2, abs=1e-5)
    else:
        labels = np.arange(r.test_pred.shape[1])
        expected = {
            "accuracy": metrics.accuracy_score(y_test, r.test_pred.argmax(1)),
            "balanced_accuracy": metrics.balanced_accuracy_score(y_test, r.test_pred.argmax(1)),
            "log_loss": metrics.log_loss(y_test, r.test_pred, labels=labels),
            "ece": _ece_by_hand(y_test, r.test_pred),
        }
        train_pred = out.argmax(1) if task == "multiclass" else (out[:, 0] > 0).astype(int)
        assert r.train_scores["accuracy"] == pytest.approx(
            metrics.accuracy_score(y_train, train_pred)
        )
        np.testing.assert_allclose(r.test_pred.sum(1), 1.0, atol=1e-9)
    assert r.test_scores == pytest.approx(expected, abs=1e-9)


def test_regression_is_reported_in_original_units() -> None:
    data = data_for("regression")
    y = data[0][1]
    spec = member(task="regression", seed=0, train={"epochs": 40}, lr=1e-2)
    (r,) = train_members([spec], data, device="cpu")
    y_test = y[spec.test_idx]
    assert abs(r.test_pred.mean() - y_test.mean()) < 0.3 * y_test.std()
    assert r.test_scores["r2"] > 0.8
    assert r.curves["val_metric"][-1] > 0.8  # R² is unit-free
    assert r.curves["train_loss"][-1] < 0.3  # standardized MSE


def test_weight_summaries_describe_the_returned_weights() -> None:
    data = data_for("multiclass")
    spec = member(seed=1, l1=3e-2, l1_mode="proximal", train={"epochs": 5}, lr=1e-2)
    dense = member(seed=1, l1=3e-2, train={"epochs": 5}, lr=1e-2)
    prox, penalty = train_members([spec, dense], data, device="cpu")
    for r in (prox, penalty):
        for name in ("dense0", "dense1", "output"):
            kernel = r.weights[f"{name}.weight"]
            assert r.sparsity[name] == pytest.approx(np.mean(kernel == 0))
            assert r.near_zero[name] == pytest.approx(np.mean(np.abs(kernel) < 1e-3))
            edges, counts = r.weight_hist[name]
            assert len(edges) == len(counts) + 1 == 42
            assert sum(counts) == kernel.size
            assert edges[0] == pytest.approx(-edges[-1])
        norms = np.linalg.norm(r.weights["dense0.weight"], axis=0)
        np.testing.assert_allclose(r.feature_norms, norms, rtol=1e-6)
        assert r.wall_s > 0
    assert prox.sparsity["dense0"] > 0.2  # proximal L1 makes exact zeros
    assert penalty.sparsity["dense0"] == 0.0  # the subgradient never does
    assert prox.sparsity["output"] == 0.0  # the output kernel is not penalized ("hidden")


def test_results_are_reported_as_members_finish() -> None:
    data = data_for("multiclass")
    specs = [member(seed=s, train={"epochs": e}) for s, e in enumerate([3, 1, 2])]
    seen: list[MemberResult] = []
    ticks: list[tuple[int, int]] = []
    results = train_members(
        specs, data, device="cpu", on_result=seen.append, progress=lambda d, t: ticks.append((d, t))
    )
    assert [r.epochs_run for r in seen] == [1, 2, 3]  # finishing order
    assert [r.epochs_run for r in results] == [3, 1, 2]  # input order
    assert ticks == [(1, 3), (2, 3), (3, 3)]
    assert {id(r) for r in seen} == {id(r) for r in results}


def test_stacks_are_formed_by_architecture_batch_size_and_optimizer() -> None:
    data = data_for("multiclass")
    specs = [
        member(seed=0),
        member(seed=1, hidden=(4,)),
        member(seed=2, train={"batch_size": 8}),
        member(seed=3, train={"optimizer": "sgd"}),
        member(seed=4),
    ]
    assert plan_chunks(specs, data, 1024) == [[0, 4], [1], [2], [3]]
    results = train_members(specs, data, device="cpu")
    assert all(r.ok for r in results)
    (alone,) = train_members([specs[4]], data, device="cpu")
    _weights_close(results[4], alone)


def test_the_w1_data_trains_above_chance() -> None:
    from .conftest import SHARED_DATA

    raw = np.loadtxt(SHARED_DATA / "w1.csv", delimiter=",", skiprows=1)
    x, y = raw[:600, :-1].astype(np.float32), raw[:600, -1].astype(np.int64)
    idx = np.arange(600)
    specs = [
        MemberSpec(
            dataclasses.replace(member().arch, in_features=50, out_features=7, hidden=(50, 25)),
            Strategy(name=name, l2=l2, dropout=p),
            TrainConfig(epochs=10, batch_size=32, patience=None),
            idx[:450],
            idx[:0],
            idx[450:],
            seed=s,
        )
        for s, (name, l2, p) in enumerate([("none", 0.0, 0.0), ("dropout+l2", 1e-4, 0.3)])
    ]
    for r in train_members(specs, {0: (x, y)}, device="cpu"):
        assert r.ok and r.test_scores["accuracy"] > 0.35  # chance is 1/7


# --------------------------------------------------------------------------- validation

BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    (
        "budget",
        {"memory_budget_mb": 0},
        r"^`memory_budget_mb` \(--memory-budget-mb\) must be a finite number of MiB >= 1; got 0\.$",
    ),
    ("device", {"device": "tpu"}, r"`device` must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got 'tpu'"),
    ("data", {"data": [1, 2]}, r"`data` must be a mapping split_id -> \(X, y\); got 'list'\."),
    ("split", {"split_id": 5}, r"`members\[0\]\.split_id` must be one of the data's splits \[0\]"),
    (
        "width",
        {"x": np.zeros((90, 4), np.float32)},
        r"`data\[0\] X` must be a 2-D array with 5 columns \(arch\.in_features\); got \(90, 4\)",
    ),
    (
        "labels",
        {"y": np.arange(90) % 4},
        r"`data\[0\] y` must be integer class ids in \[0, 3\) for task 'multiclass'; got 'int64",
    ),
    (
        "empty-train",
        {"train_idx": np.zeros(0, np.int64)},
        r"`members\[0\]\.train_idx` must be non-empty; got 'an empty array'\.",
    ),
    (
        "out-of-range",
        {"test_idx": np.array([3, 90])},
        r"`members\[0\]\.test_idx` must be row numbers in \[0, 90\); got '\[3, 90\]'\.",
    ),
    (
        "no-validation",
        {"val_idx": np.zeros(0, np.int64), "patience": 2},
        r"`members\[0\]\.val_idx` must be non-empty when early stopping is on \(patience=2\)",
    ),
]


@pytest.mark.parametrize(("case", "change", "pattern"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_invalid_calls_name_the_parameter(case: str, change: dict[str, Any], pattern: str) -> None:
    change = dict(change)
    x, y = blobs()
    x = change.pop("x", x)
    y = change.pop("y", y)
    data: Any = change.pop("data", {0: (x, y)})
    patience = change.pop("patience", None)
    spec = member(train={"patience": patience})
    fields = {
        k: change.pop(k) for k in ("split_id", "train_idx", "test_idx", "val_idx") if k in change
    }
    spec = dataclasses.replace(spec, **fields)
    with pytest.raises(ConfigError, match=pattern):
        train_members([spec], data, **change)


def test_all_problems_are_reported_together() -> None:
    x, y = blobs()
    a = dataclasses.replace(member(), split_id=3)
    b = dataclasses.replace(member(), train_idx=np.zeros(0, np.int64))
    with pytest.raises(ConfigError, match=r"members\[0\]\.split_id.*members\[1\]\.train_idx"):
        train_members([a, b], {0: (x, y)}, memory_budget_mb=-1)


# --------------------------------------------------------------------------- devices


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_gives_the_cpu_results() -> None:
    specs, data = _mixed_members()
    cpu = train_members(specs, data, device="cpu")
    cuda = train_members(specs, data, device="cuda")
    for a, b in zip(cpu, cuda, strict=True):
        _weights_close(a, b, atol=1e-4)


def test_auto_device_is_cpu_without_cuda() -> None:
    from reglab.engine._checks import resolve_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=r"`device` must be 'cpu' or 'auto' \(CUDA is not"):
            resolve_device("cuda")
