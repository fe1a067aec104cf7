"""Equivalence: a stack of one member equals reglab.fit on the same MLP, weights and batches,
on the fused and on the generic backend.

The single model is ``single_model(arch, strategy)`` loaded with the member's initial weights
(:func:`reglab.engine.initial_weights`) and trained by :func:`reglab.fit` with the member's
batch-order seed (:func:`reglab.engine.stream_seeds`); no dropout (the engine and the
single-model layers draw their noise from different generators). Regression targets are
standardized with the training rows' statistics, as the engine does internally.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import reglab
from reglab.engine import MemberSpec, initial_weights, stream_seeds, train_members
from reglab.engine.export import single_model, single_model_schedules
from reglab.layers import MLP
from reglab.training import EarlyStopping

from .conftest import data_for, member

CASES: list[tuple[str, dict[str, Any]]] = [
    ("plain", {}),
    ("l1-l2-penalty", {"l1": 1e-3, "l2": 1e-3}),
    ("l1-proximal", {"l1": 3e-3, "l1_mode": "proximal"}),
    ("l2-all-layers", {"l2": 1e-2, "penalty_layers": "all"}),
    ("l1-first-layer", {"l1": 1e-2, "penalty_layers": "first"}),
    ("max-norm", {"max_norm": 0.5}),
    ("weight-decay", {"weight_decay": 0.1}),
    ("own-lr", {"lr": 3e-2}),
    ("early-stopping", {"train": {"epochs": 12, "patience": 2}, "lr": 5e-2}),
    (
        "early-stopping-metric",
        {"train": {"epochs": 10, "patience": 1, "monitor": "val_metric"}, "lr": 5e-2},
    ),
    ("sgd-proximal", {"train": {"optimizer": "sgd", "lr": 0.1}, "l1": 1e-2, "l1_mode": "proximal"}),
    ("sgd-decay", {"train": {"optimizer": "sgd", "lr": 0.1}, "weight_decay": 0.05, "l2": 1e-3}),
    ("adamw", {"train": {"optimizer": "adamw"}, "weight_decay": 0.2}),
    # Before batch norm a Dense bias has a zero gradient in exact arithmetic; Adam would turn
    # its rounding noise into steps of size lr, different in any two programs: use SGD there.
    ("batch-norm", {"arch": {"batch_norm": True}, "train": {"optimizer": "sgd", "lr": 0.1}}),
    ("batch-norm-act-first", {"arch": {"batch_norm": True, "block_order": "act-bn-drop"}}),
    ("tanh", {"arch": {"activation": "tanh"}, "l2": 1e-3}),
    ("gelu", {"arch": {"activation": "gelu"}}),
    ("selu", {"arch": {"activation": "selu"}}),
    ("elu", {"arch": {"activation": "elu"}}),
    ("sigmoid", {"arch": {"activation": "sigmoid"}}),
    ("binary", {"task": "binary", "l2": 1e-3}),
    ("regression", {"task": "regression", "l1": 1e-3}),
    (
        "regression-bn",
        {"task": "regression", "arch": {"batch_norm": True}, "train": {"optimizer": "sgd"}},
    ),
    ("uneven-batches", {"train": {"batch_size": 20}}),
    ("linear-model", {"hidden": (), "l2": 1e-2, "penalty_layers": "all", "max_norm": 0.8}),
    (
        "bn-single-row-batch",
        {"train": {"batch_size": 53, "optimizer": "sgd"}, "arch": {"batch_norm": True}},
    ),
    # Per-layer strengths and schedules (the single model's by single_model_schedules).
    ("l2-per-layer", {"l2": (1e-2, 1e-3)}),
    ("l1-per-layer-proximal", {"l1": (3e-3, 1e-2), "l1_mode": "proximal"}),
    ("max-norm-per-layer", {"max_norm": (0.5, 1.0, 2.0)}),
    ("l2-warmup", {"l2": 1e-2, "schedules": (("l2", "warmup:2"),), "train": {"epochs": 4}}),
    (
        "l1-cosine-all-layers",
        {"l1": 3e-3, "penalty_layers": "all", "schedules": (("l1", "cosine"),)},
    ),
    ("max-norm-step", {"max_norm": 0.5, "schedules": (("maxnorm", "step:1:0.5"),)}),
    (
        "l2-per-layer-warmup",
        {"l2": (1e-2, 0.0, 3e-2), "penalty_layers": "all", "schedules": (("l2", "warmup:3"),)},
    ),
]


def _single_model(spec: MemberSpec, x: np.ndarray, y: np.ndarray) -> tuple[MLP, Any, np.ndarray]:
    """Train the single-model equivalent of ``spec``; return model, history, target transform."""
    model = single_model(spec.arch, spec.strategy)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in initial_weights(spec).items()})
    y = np.asarray(y)
    scale = np.array([0.0, 1.0])
    if spec.arch.task == "regression":
        train_y = y[spec.train_idx]
        scale = np.array([train_y.mean(), train_y.std()])
        y = (y - scale[0]) / scale[1]
    cfg = spec.train
    stopper = None
    if cfg.patience is not None:
        stopper = EarlyStopping(
            monitor=cfg.monitor,
            mode="min" if cfg.monitor == "val_loss" else "max",
            patience=cfg.patience,
            min_delta=cfg.min_delta,
        )
    history = reglab.fit(
        model,
        x[spec.train_idx],
        y[spec.train_idx],
        task=spec.arch.task,
        optimizer=cfg.optimizer,
        lr=spec.lr,
        weight_decay=spec.strategy.weight_decay,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        validation_data=(x[spec.val_idx], y[spec.val_idx]),
        early_stopping=stopper,
        device="cpu",
        seed=stream_seeds(spec.seed)["order"],
        on_epoch_begin=single_model_schedules(model, spec.strategy, cfg.epochs),
    )
    return model, history, scale


@pytest.mark.parametrize("backend", ["fused", "generic"])
@pytest.mark.parametrize(("name", "options"), CASES, ids=[c[0] for c in CASES])
def test_one_member_stack_equals_fit(name: str, options: dict[str, Any], backend: str) -> None:
    options = dict(options)
    task = options.pop("task", "multiclass")
    n = 90  # 54 training rows; with batch 53 the single-row last batch is skipped
    spec = member(task=task, n=n, seed=7, **options)
    data = data_for(task, n=n)
    x, y = data[0]
    (result,) = train_members([spec], data, device="cpu", backend=backend)
    assert result.status == "ok", result.error

    model, history, scale = _single_model(spec, x, y)
    expected = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    assert set(result.weights) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(result.weights[key], value, rtol=1e-4, atol=2e-5, err_msg=key)

    assert result.epochs_run == len(history)
    assert result.best_epoch == history.best_epoch
    assert result.stopped_epoch == history.stopped_epoch
    np.testing.assert_allclose(result.curves["val_loss"], history.val_loss, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.curves["penalty"], history.penalty, rtol=1e-4, atol=1e-6)

    with torch.no_grad():
        out = model(torch.as_tensor(x[spec.test_idx])).numpy().astype(np.float64)
    if task == "multiclass":
        pred = np.exp(out - out.max(1, keepdims=True))
        pred /= pred.sum(1, keepdims=True)
    elif task == "binary":
        p1 = 1 / (1 + np.exp(-out[:, 0]))
        pred = np.stack([1 - p1, p1], axis=1)
    else:
        pred = out[:, 0] * scale[1] + scale[0]
    np.testing.assert_allclose(result.test_pred, pred, rtol=1e-4, atol=1e-4)
