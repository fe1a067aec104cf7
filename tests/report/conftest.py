"""Synthetic studies for the report tests: realistic member records, no training.

``make_study`` builds a :class:`StudyInfo` and its :class:`MemberRecord` list: per-split scores
with a shared split effect (so paired tests have something to pair), training curves where
``none`` overfits (validation loss bottoms out at :data:`ONSET` and rises while training loss
keeps falling), weight histograms drawn from Gaussian (``none``, L2) or Laplace-with-zeros (L1)
weights, first-layer feature norms with exact zeros for L1, sparsity, and optionally a failed
member.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from reglab.store import MemberRecord, StudyInfo

ONSET = 18
"""0-based index of the epoch at which the baseline's validation loss is lowest (epoch 19)."""
EPOCHS = 60
LAYERS = ("dense_0", "dense_1", "dense_2")

# name -> (config, mean accuracy, mean train accuracy)
STRATEGIES: dict[str, tuple[dict[str, Any], float, float]] = {
    "none": ({"l1": 0.0, "l2": 0.0, "dropout": 0.0}, 0.80, 0.99),
    "l1": ({"l1": 1e-4, "l2": 0.0, "dropout": 0.0, "l1_mode": "proximal"}, 0.83, 0.93),
    "l2": ({"l1": 0.0, "l2": 1e-4, "dropout": 0.0}, 0.84, 0.92),
    "elasticnet": ({"l1": 5e-5, "l2": 5e-5, "dropout": 0.0, "l1_mode": "proximal"}, 0.835, 0.92),
    "dropout": ({"l1": 0.0, "l2": 0.0, "dropout": 0.3}, 0.845, 0.90),
    "dropout+l2": ({"l1": 0.0, "l2": 1e-4, "dropout": 0.3}, 0.86, 0.89),
    "dropout+l1": ({"l1": 1e-4, "l2": 0.0, "dropout": 0.3, "l1_mode": "proximal"}, 0.846, 0.9),
    "maxnorm": ({"max_norm": 3.0}, 0.83, 0.94),
    "dropout+maxnorm": ({"max_norm": 3.0, "dropout": 0.3}, 0.85, 0.9),
    "batchnorm": ({"batch_norm": True}, 0.82, 0.97),
    "batchnorm+dropout": ({"batch_norm": True, "dropout": 0.3}, 0.84, 0.92),
    "dropconnect": ({"drop_connect": 0.3}, 0.835, 0.92),
    "gaussian-dropout": ({"dropout": 0.3, "dropout_kind": "gaussian"}, 0.84, 0.91),
    "weight-decay": ({"weight_decay": 1e-2}, 0.825, 0.95),
    "dropout+elasticnet": ({"l1": 5e-5, "l2": 5e-5, "dropout": 0.3}, 0.855, 0.9),
}
FEATURES = (
    "age",
    "income",
    "<script>alert(1)</script>",
    "tenure",
    "noise_a",
    "noise_b",
    "noise_c",
    "noise_d",
    "height & weight",
    "noise_e",
)
INFORMATIVE = 4


def _curves(name: str, rng: np.random.Generator, epochs: int) -> dict[str, list[float]]:
    t = np.arange(epochs)
    if name == "none":
        train = 1.6 * np.exp(-t / 10) + 0.05
        val = 0.55 + 0.9 * np.exp(-t / 6) + 0.0012 * np.clip(t - ONSET, 0, None) ** 2
    else:
        train = 1.6 * np.exp(-t / 12) + 0.25
        val = 0.5 + 1.0 * np.exp(-t / 9) + 0.0002 * np.clip(t - 30, 0, None) ** 2
    noise = lambda: rng.normal(0, 0.01, epochs)  # noqa: E731
    return {
        "train_loss": list(train + noise()),
        "penalty": list(np.full(epochs, 0.0 if name == "none" else 0.05)),
        "val_loss": list(val + noise()),
        "val_metric": list(0.9 - 0.5 * val / val.max()),
    }


def _hist(name: str, config: dict[str, Any], rng: np.random.Generator, layer: int) -> Any:
    n = 2000 // (layer + 1)
    if float(config.get("l1", 0) or 0) > 0:
        w = rng.laplace(0, 0.08, n)
        w[rng.random(n) < 0.4] = 0.0
    elif float(config.get("l2", 0) or 0) > 0:
        w = rng.normal(0, 0.12, n)
    else:
        w = rng.normal(0, 0.3, n)
    counts, edges = np.histogram(w, bins=40)
    return edges, counts


def _norms(config: dict[str, Any], rng: np.random.Generator) -> list[float]:
    norms = rng.uniform(0.5, 1.5, len(FEATURES))
    norms[:INFORMATIVE] += 2.0
    if float(config.get("l1", 0) or 0) > 0:
        dropped = rng.random(len(FEATURES)) < 0.7
        dropped[:INFORMATIVE] = False
        norms[dropped] = 0.0
        norms[INFORMATIVE] = 1e-9  # below the relative threshold: never survives
    return list(norms)


def build_study(
    *,
    strategies: Sequence[str] = ("none", "l1", "l2", "dropout", "dropout+l2"),
    n_splits: int = 5,
    task: str = "multiclass",
    failed: bool = True,
    curves: bool = True,
    details: bool = True,
    name: str = "synthetic",
    feature_names: Sequence[str] | None = FEATURES,
    epochs: int = EPOCHS,
    seed: int = 0,
) -> tuple[StudyInfo, list[MemberRecord]]:
    """A study of ``strategies`` × ``n_splits`` synthetic members (see the module docstring)."""
    rng = np.random.default_rng(seed)
    split_effect = rng.normal(0, 0.015, n_splits)
    members: list[MemberRecord] = []
    for split in range(n_splits):
        for s_name in strategies:
            config, acc, train_acc = STRATEGIES.get(s_name, ({}, 0.82, 0.9))
            config = {"name": s_name, **config}
            key = f"{s_name}-{split}"
            if failed and s_name == "dropout" and split == min(2, n_splits - 1) and n_splits > 2:
                members.append(
                    MemberRecord(
                        key,
                        s_name,
                        split,
                        100 + split,
                        800,
                        200,
                        status="failed",
                        error="loss became NaN at epoch 7",
                        strategy_config=config,
                        fold=split,
                    )
                )
                continue
            test = acc + split_effect[split] + rng.normal(0, 0.006)
            train = min(1.0, train_acc + rng.normal(0, 0.004))
            if task == "regression":
                test_scores = {
                    "rmse": 60 * (1.2 - test),
                    "r2": test - 0.3,
                    "mae": 40 * (1.2 - test),
                }
                train_scores = {"rmse": 60 * (1.2 - train), "r2": train - 0.3}
            else:
                test_scores = {"accuracy": test, "log_loss": 1.5 * (1 - test)}
                train_scores = {"accuracy": train, "log_loss": 1.5 * (1 - train)}
            member_curves = _curves(s_name, rng, epochs) if curves else {}
            val = member_curves.get("val_loss")
            best = int(np.argmin(val)) + 1 if val else None  # epochs count from 1
            stopped = None
            if val and s_name != "none" and best is not None and best + 10 < epochs:
                stopped = best + 10
                member_curves = {k: v[:stopped] for k, v in member_curves.items()}
            l1 = float(config.get("l1", 0) or 0) > 0
            members.append(
                MemberRecord(
                    key,
                    s_name,
                    split,
                    100 + split,
                    800,
                    200,
                    strategy_config=config,
                    fold=split,
                    curves=member_curves,
                    best_epoch=best,
                    stopped_epoch=stopped,
                    epochs_run=stopped if stopped is not None else (epochs if curves else 0),
                    test_scores=test_scores,
                    train_scores=train_scores,
                    sparsity={
                        layer: (0.4 if l1 else 0.0) / (i + 1) for i, layer in enumerate(LAYERS)
                    }
                    if details
                    else {},
                    weight_hist={
                        layer: _hist(s_name, config, rng, i) for i, layer in enumerate(LAYERS)
                    }
                    if details
                    else {},
                    feature_norms=_norms(config, rng) if details else None,
                    wall_s=1.5 + rng.random(),
                )
            )
    counts = {"running": 0, "done": sum(m.status == "done" for m in members)}
    counts["failed"] = len(members) - counts["done"]
    info = StudyInfo(
        name=name,
        created_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        status="done",
        config={
            "data": {"name": "synthetic", "task": task, "rows": 1000, "columns": len(FEATURES)},
            "strategies": [{"name": s, **STRATEGIES.get(s, ({}, 0, 0))[0]} for s in strategies],
            "splits": {"method": "kfold", "n_splits": n_splits, "seed": 42},
            "train": {"epochs": epochs, "patience": 10},
        },
        metadata={
            "environment": {"reglab": "0.1.0", "python": "3.11", "torch": "2.13.0"},
            "device": "cpu",
            "timings": {"last run wall s": 12.5},
        },
        feature_names=None if feature_names is None else tuple(feature_names),
        counts=counts,
        strategies=tuple(strategies),
    )
    return info, members


@pytest.fixture
def make_study() -> Callable[..., tuple[StudyInfo, list[MemberRecord]]]:
    """The :func:`build_study` factory."""
    return build_study


@pytest.fixture(scope="session")
def study() -> tuple[StudyInfo, list[MemberRecord]]:
    """The default synthetic study (5 strategies × 5 splits, one failed member)."""
    return build_study()


def finite(x: float) -> bool:
    return math.isfinite(x)
