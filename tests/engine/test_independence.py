"""Independence: a member's result is bit-identical whatever shares its stack (DESIGN §6).

On one device and thread setting, a member's final weights, curves, best and stopped epochs,
test predictions and scores must be the same bits when it trains with all the other members,
alone, in smaller chunks (a small ``memory_budget_mb``), or in a stack without some of the
others (what a resumed study trains). The engine has one backend today, the fused MLP stack
(:mod:`reglab.engine.stack`); a generic backend must join these tables when it exists.

The results are also the same for ``num_threads`` 1 and 2: a stack runs at most one thread per
member, and then every kernel gives each member the one-thread arithmetic
(:meth:`reglab.engine.stack.Stack.use_threads`). The contract itself is per thread setting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits

from reglab.engine import (
    Architecture,
    MemberResult,
    MemberSpec,
    Strategy,
    TrainConfig,
    train_members,
)
from reglab.engine.plan import plan_chunks

from .conftest import chunk_budget

Data = dict[int, tuple[np.ndarray, np.ndarray]]


def _standardized(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0)
    return ((x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype(np.float32)


@cache
def _data(name: str) -> Data:
    """Two splits of a scikit-learn data set, standardized: ``{0: (X, y), 1: (X, y)}``."""
    loader = {"digits": load_digits, "cancer": load_breast_cancer, "diabetes": load_diabetes}
    x, y = loader[name](return_X_y=True)
    y = y.astype(np.float64 if name == "diabetes" else np.int64)
    return {0: (_standardized(x), y), 1: (_standardized(x[::-1].copy()), y[::-1].copy())}


def _indices(n: int, n_train: int, n_val: int, n_test: int, seed: int) -> list[np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    cuts = np.cumsum([n_train, n_val, n_test])
    return [np.sort(perm[a:b]) for a, b in zip([0, *cuts[:-1]], cuts, strict=True)]


def _assert_identical(a: MemberResult, b: MemberResult, what: str) -> None:
    """Every field of two results, bit for bit (wall time aside)."""
    assert a.key == b.key, what
    assert (a.status, a.error) == (b.status, b.error), what
    assert (a.best_epoch, a.stopped_epoch, a.epochs_run) == (
        b.best_epoch,
        b.stopped_epoch,
        b.epochs_run,
    ), what
    assert a.curves.keys() == b.curves.keys(), what
    for name in a.curves:
        assert np.array_equal(a.curves[name], b.curves[name], equal_nan=True), (what, name)
    assert a.weights.keys() == b.weights.keys(), what
    for name in a.weights:
        assert np.array_equal(a.weights[name], b.weights[name]), (what, name)
    assert np.array_equal(a.test_pred, b.test_pred), what
    assert a.test_scores == b.test_scores, what
    assert a.train_scores == b.train_scores, what
    assert (a.sparsity, a.near_zero, a.weight_hist, a.feature_norms) == (
        b.sparsity,
        b.near_zero,
        b.weight_hist,
        b.feature_norms,
    ), what


def _check(specs: Sequence[MemberSpec], data: Data, budget_members: int = 2) -> None:
    """Train ``specs`` together, alone, chunked and without every third; compare all."""
    together = train_members(specs, data, device="cpu")
    assert all(r.ok for r in together), [r.error for r in together]
    for spec, ref in zip(specs, together, strict=True):
        (alone,) = train_members([spec], data, device="cpu")
        _assert_identical(ref, alone, f"{spec.strategy.name}: alone")
    budget = chunk_budget(list(specs), data, budget_members)
    chunks = plan_chunks(specs, data, budget)
    assert max(len(c) for c in chunks) < len(specs)
    chunked = train_members(specs, data, device="cpu", memory_budget_mb=budget)
    for spec, ref, res in zip(specs, together, chunked, strict=True):
        _assert_identical(ref, res, f"{spec.strategy.name}: chunked")
    keep = [i for i in range(len(specs)) if i % 3 != 1]
    resumed = train_members([specs[i] for i in keep], data, device="cpu")
    for i, res in zip(keep, resumed, strict=True):
        _assert_identical(together[i], res, f"{specs[i].strategy.name}: without others")


# --------------------------------------------------------------------------- 100 epochs


DIGITS_STRATEGIES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # (name, strategy, architecture options)
    ("none", {}, {}),
    ("l1", {"l1": 1e-3}, {}),
    ("l2", {"l2": 1e-3, "penalty_layers": "all"}, {}),
    ("dropout", {"dropout": 0.3, "input_dropout": 0.1}, {}),
    ("gaussian-dropout", {"dropout": 0.3, "dropout_kind": "gaussian"}, {}),
    ("drop-connect", {"drop_connect": 0.3}, {}),
    ("max-norm", {"max_norm": 1.0, "lr": 1e-2}, {}),
    ("weight-decay", {"weight_decay": 0.1}, {}),
    ("l1-proximal", {"l1": 1e-3, "l1_mode": "proximal"}, {}),
    ("fast", {"lr": 3e-2}, {}),
    ("batch-norm", {}, {"batch_norm": True}),
    ("batch-norm+dropout", {"dropout": 0.2}, {"batch_norm": True}),
    ("batch-norm+l2", {"l2": 1e-3, "lr": 1e-2}, {"batch_norm": True}),
]


def _digits_members() -> tuple[list[MemberSpec], Data]:
    data = _data("digits")
    n = len(data[0][1])
    # Two splits with other validation and test sizes; 700 and 690 training rows both take
    # 22 steps of 32 with a short last one, so their members share a stack.
    splits = [_indices(n, 700, 200, 300, seed=0), _indices(n, 690, 250, 250, seed=1)]
    specs = []
    for i, (name, strategy, arch) in enumerate(DIGITS_STRATEGIES):
        split = i % 2
        train = TrainConfig(
            epochs=100,
            batch_size=32,
            patience=5,
            monitor="val_metric" if i % 4 == 3 else "val_loss",
        )
        specs.append(
            MemberSpec(
                Architecture(64, 10, hidden=(24, 12), **arch),
                Strategy(name=name, **strategy),
                train,
                *splits[split],
                seed=100 + i,
                split_id=split,
            )
        )
    return specs, data


def test_digits_members_are_bit_identical_alone_chunked_and_resumed() -> None:
    specs, data = _digits_members()
    _check(specs, data, budget_members=3)


def test_results_do_not_depend_on_the_thread_setting() -> None:
    specs, data = _digits_members()
    specs = [dataclasses.replace(s, train=dataclasses.replace(s.train, epochs=8)) for s in specs]
    one = train_members(specs, data, device="cpu", num_threads=1)
    two = train_members(specs, data, device="cpu", num_threads=2)
    for spec, a, b in zip(specs, one, two, strict=True):
        _assert_identical(a, b, f"{spec.strategy.name}: 1 vs 2 threads")
    (alone,) = train_members(specs[:1], data, device="cpu", num_threads=2)
    _assert_identical(one[0], alone, "alone with 2 threads")


# --------------------------------------------------------------------------- other stacks


ARCHITECTURES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # (id, data set, architecture, training)
    ("binary-sigmoid-sgd", "cancer", {"activation": "sigmoid"}, {"optimizer": "sgd", "lr": 0.1}),
    ("binary-tanh-adamw", "cancer", {"activation": "tanh"}, {"optimizer": "adamw"}),
    ("regression-elu", "diabetes", {"activation": "elu"}, {"lr": 1e-2}),
    ("regression-selu-bn", "diabetes", {"activation": "selu", "batch_norm": True}, {}),
    ("gelu-act-bn-drop", "cancer", {"activation": "gelu", "batch_norm": True,
                                    "block_order": "act-bn-drop"}, {}),
    ("leaky-relu-full-batch", "cancer", {"activation": "leaky_relu"}, {"batch_size": 300}),
]  # fmt: skip

SHORT_STRATEGIES: list[tuple[str, dict[str, Any]]] = [
    ("none", {}),
    ("elastic-net", {"l1": 1e-3, "l2": 1e-3}),
    ("dropout", {"dropout": 0.3}),
    ("drop-connect+max-norm", {"drop_connect": 0.2, "max_norm": 1.5}),
    ("l1-proximal+decay", {"l1": 1e-3, "l1_mode": "proximal", "weight_decay": 0.05}),
    ("dropout-cosine+l2-per-layer", {"dropout": 0.3, "l2": (1e-3, 1e-2),
                                     "schedules": (("dropout", "cosine"),)}),
    ("l2-warmup+max-norm-per-layer", {"l2": 1e-3, "max_norm": (1.5, 2.0, 3.0),
                                      "schedules": (("l2", "warmup:4"),)}),
]  # fmt: skip


@pytest.mark.usefixtures("small_budgets")
@pytest.mark.parametrize(
    ("case", "dataset", "arch", "train"), ARCHITECTURES, ids=[a[0] for a in ARCHITECTURES]
)
def test_other_tasks_and_activations_are_bit_identical(
    case: str, dataset: str, arch: dict[str, Any], train: dict[str, Any]
) -> None:
    data = _data(dataset)
    x, y = data[0]
    task = "regression" if dataset == "diabetes" else "binary"
    n_train = 300 if dataset == "cancer" else 260
    specs = [
        MemberSpec(
            Architecture(x.shape[1], 1, hidden=(16, 8), task=task, **arch),
            Strategy(name=name, **strategy),
            TrainConfig(epochs=15, patience=2, **{"batch_size": 32, **train}),
            *_indices(len(y), n_train, 80 + 10 * i, 60, seed=i),
            seed=i,
            split_id=i % 2,
        )
        for i, (name, strategy) in enumerate(SHORT_STRATEGIES)
    ]
    _check(specs, data)
