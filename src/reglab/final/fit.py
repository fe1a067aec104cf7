"""Train the final model: one strategy on all of a data set, with the engine.

The protocol is a study member's with the whole table as its outer training part: the
preprocessing is fit on every row, early stopping (when on) uses a validation part of
``ceil(val_fraction · n)`` rows carved from the data (stratified for classification, seeded by
``derive(seed, "final", "val")``), and the network is restored to its best epoch. The member
trains on the engine (:func:`~reglab.engine.train_members`) with seed
``derive(seed, "final")``; its weights are loaded into
:func:`~reglab.engine.export.single_model`, the plain ``nn.Module`` that computes what the
member computes.

Settings not given come from the study the strategy came from (its ``hidden``, ``epochs``,
``lr``, early stopping …) when the strategy is a :class:`~reglab.study.results.StudyResult`,
else from :class:`~reglab.study.run.Study`'s defaults.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from reglab._device import resolve_device
from reglab._seeding import derive, generator
from reglab._validation import Problems, check_choice, check_fraction, check_int, message
from reglab.data.load import Dataset
from reglab.data.preprocess import Preprocessor, check_encoded_size
from reglab.engine import MemberSpec, train_members
from reglab.engine.export import member_module
from reglab.engine.plan import available_memory, check_budget
from reglab.engine.spec import Strategy, TrainConfig
from reglab.errors import ConfigError, TrainingError
from reglab.final.model import FinalModel

__all__ = ["DEFAULTS", "fit_final", "strategy_of_study", "validation_rows"]

WHO = "fit_final"

DEFAULTS: dict[str, Any] = {
    "model": "auto",
    "hidden": (64, 32),
    "activation": "relu",
    "block_order": "bn-act-drop",
    "epochs": 100,
    "batch_size": 32,
    "lr": 1e-3,
    "optimizer": "adam",
    "early_stopping": True,
    "patience": 10,
    "min_delta": 0.0,
    "val_fraction": 0.2,
}
"""The settings a final model trains with when neither the caller nor a study gives them
(:class:`~reglab.study.run.Study`'s defaults)."""


def fit_final(
    data: Any,
    y: Any = None,
    *,
    strategy: Any,
    target: str | None = None,
    task: str | None = None,
    drop: Sequence[str] = (),
    model: str | None = None,
    hidden: Sequence[int] | None = None,
    activation: str | None = None,
    block_order: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    optimizer: str | None = None,
    early_stopping: bool | None = None,
    patience: int | None = None,
    val_fraction: float | None = None,
    groups: Any = None,
    seed: int = 0,
    device: str = "auto",
    memory_budget_mb: float = 1024.0,
) -> FinalModel:
    """Train ``strategy`` on all of ``data`` and return the model, ready to predict and save.

    Args:
        data, y, target, task, drop: The data, as :func:`reglab.bench` takes it (a path,
            ``"builtin:NAME"``, a DataFrame with ``target``, or arrays).
        strategy: Strategy text (``"dropout=0.3+l2=1e-4"``, one strategy), a
            :class:`~reglab.engine.spec.Strategy`, or a
            :class:`~reglab.study.results.StudyResult`, whose recommended strategy is trained
            with the study's settings (refused when the study recommends none).
        model: ``"auto"`` (the data's default, :mod:`reglab.study.models`), ``"mlp"``,
            ``"cnn"`` (images: LeNet-5's conv blocks, then ``hidden``; sequences: 1-D conv
            blocks over time) or ``"rnn"`` (sequences: an LSTM, ``"rnn?cell=gru"`` a GRU,
            with ``hidden`` as its layers' units), as in :class:`~reglab.study.run.Study`; a
            study's by default.
        hidden, activation, block_order: The dense layers.
        epochs, batch_size, lr, optimizer: Training.
        early_stopping, patience, val_fraction: Early stopping on ``val_fraction`` of the
            rows, carved from the data.
        groups: The rows' groups (:mod:`reglab.data.groups`): the validation part is then
            whole groups. A study's grouping by a column is the default.
        seed: Root seed of the validation carve, initial weights, batches and noise.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (the model predicts on the CPU after).
        memory_budget_mb: Bound on the training stack's memory.

    Returns:
        The :class:`~reglab.final.model.FinalModel`.

    >>> import pandas as pd
    >>> model = fit_final("builtin:iris", strategy="l2=1e-4", epochs=2, hidden=(8,), device="cpu")
    >>> rows = pd.DataFrame({"sepal length (cm)": [5.1], "sepal width (cm)": [3.5],
    ...                      "petal length (cm)": [1.4], "petal width (cm)": [0.2]})
    >>> model.predict(rows).shape, model.predict_proba(rows).shape
    ((1,), (1, 3))
    """
    from reglab.api import load_data

    chosen, settings, study = _strategy(strategy)
    given = {
        "model": model,
        "hidden": hidden,
        "activation": activation,
        "block_order": block_order,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "early_stopping": early_stopping,
        "patience": patience,
        "val_fraction": val_fraction,
    }
    studied = settings.pop("groups", None)
    studied_data = settings.pop("data", None)
    options = {**DEFAULTS, **settings, **{k: v for k, v in given.items() if v is not None}}
    _check(options, seed, memory_budget_mb)
    dev = resolve_device(device, WHO)
    groups = studied if groups is None else groups
    if target is None and y is None and studied_data is not None:  # the study's target
        target = studied_data.get("target")
    dataset = load_data(data, y, target=target, task=task, drop=drop, groups=groups)
    if study is not None and studied_data is not None:
        _check_studied_data(dataset, studied_data, study["name"])
    return _train(dataset, chosen, options, seed, dev, memory_budget_mb, study)


def _check_studied_data(dataset: Dataset, studied: Mapping[str, Any], name: str) -> None:
    """A study's recommendation fits the data it was made on: the same target, task,
    classes and number of feature columns, or a one-line refusal naming what differs."""
    differs = []
    for what, have, had in (
        ("target", dataset.target, studied.get("target")),
        ("task", dataset.task, studied.get("task")),
        ("feature columns", dataset.n_features, studied.get("columns")),
    ):
        if had is not None and have != had:
            differs.append(f"{what} {have!r} where the study had {had!r}")
    classes = studied.get("classes")
    if classes and list(dataset.classes) != [str(c) for c in classes]:
        differs.append(
            f"classes {', '.join(dataset.classes)} where the study had "
            f"{', '.join(str(c) for c in classes)}"
        )
    if differs:
        raise ConfigError(
            f"{WHO}: the data must be the study's ({name!r}, made on {studied.get('name')!r}) "
            f"to train its recommendation; got {'; '.join(differs)}. Fit with --strategy "
            "instead, or run a study on these data."
        )


def strategy_of_study(result: Any) -> tuple[Strategy, dict[str, Any]]:
    """A study's recommended strategy and the settings its members trained with.

    Raises:
        ConfigError: When the study recommends no strategy (say, none learned anything).
    """
    winner = result.winner
    if winner is None:
        raise ConfigError(
            f"fit: study {result.name!r} recommends no strategy ({result.headline.rstrip('.')}); "
            "choose one with --strategy (strategy= in Python)."
        )
    config: Mapping[str, Any] = result.config
    if winner in (config.get("tune") or {}).get("families", {}):  # chosen per outer split
        trials = config["tune"].get("trials")
        raise ConfigError(
            f"fit: study {result.name!r} compared tuned families and recommends {winner!r}, "
            "whose strengths were chosen anew on each outer split; choose them on all the data "
            f"with reglab tune DATA --strategy {winner} --trials {trials}, then fit with "
            "--strategy (strategy= in Python)."
        )
    stored = [s for s in config.get("strategies", []) if isinstance(s, Mapping)]
    match = next((s for s in stored if s.get("name") == winner), None)
    if match is not None:
        chosen = Strategy.from_dict(dict(match))
    else:
        from reglab.study.strategies import parse_strategy

        chosen = parse_strategy(winner)
    settings: dict[str, Any] = {}
    model, train = config.get("model", {}), config.get("train", {})
    for key in ("hidden", "activation", "block_order"):
        if key in model:
            settings[key] = tuple(model[key]) if key == "hidden" else model[key]
    settings["model"] = model.get("family", "mlp")
    for key in ("epochs", "batch_size", "lr", "optimizer", "min_delta"):
        if key in train:
            settings[key] = train[key]
    if "patience" in train:
        settings["early_stopping"] = train["patience"] is not None
        if train["patience"] is not None:
            settings["patience"] = train["patience"]
    grouped = (config.get("splits", {}).get("groups") or {}).get("by")
    if isinstance(grouped, str) and grouped != "array":  # the study's grouping, by a column
        settings["groups"] = grouped
    fraction = config.get("splits", {}).get("val_fraction")
    if isinstance(fraction, int | float) and fraction > 0:
        settings["val_fraction"] = float(fraction)
    if isinstance(config.get("data"), Mapping):  # the target, and what the data must match
        settings["data"] = dict(config["data"])
    return chosen, settings


def _strategy(spec: Any) -> tuple[Strategy, dict[str, Any], dict[str, Any] | None]:
    """``(strategy, settings from its study, the study's description or None)``."""
    from reglab.study.results import StudyResult
    from reglab.study.strategies import resolve_strategies

    if isinstance(spec, StudyResult):
        chosen, settings = strategy_of_study(spec)
        return chosen, settings, {"name": spec.name, "answer": spec.headline}
    if spec is None:
        raise ConfigError(
            message(WHO, "strategy", "one strategy (text like 'dropout=0.3+l2=1e-4')", None)
        )
    strategies = resolve_strategies(spec)
    if len(strategies) != 1:
        names = ", ".join(s.name for s in strategies)
        raise ConfigError(
            f"{WHO}: `strategy` (--strategy) must be one strategy; got {len(strategies)} ({names})."
        )
    return strategies[0], {}, None


def _check(options: dict[str, Any], seed: Any, memory_budget_mb: Any) -> None:
    p = Problems()
    from reglab.study.run import MODELS, _model_family

    try:
        family = _model_family(options["model"])
    except ConfigError as exc:
        p.add(str(exc).replace("Study:", f"{WHO}:", 1))
    else:
        p.check(check_choice, WHO, "model", family, MODELS)
    hidden = options["hidden"]
    if isinstance(hidden, int) or not isinstance(hidden, Sequence) or not hidden:
        p.add(message(WHO, "hidden", "a non-empty sequence of layer sizes", hidden))
    else:
        for h in hidden:
            p.check(check_int, WHO, "hidden", h, minimum=1)
        options["hidden"] = tuple(hidden)
    p.check(check_int, WHO, "seed", seed, minimum=0)
    p.check(check_budget, memory_budget_mb)
    if not isinstance(options["early_stopping"], bool):
        p.add(message(WHO, "early_stopping", "True or False", options["early_stopping"]))
    elif options["early_stopping"]:
        p.check(check_fraction, WHO, "val_fraction", options["val_fraction"])
        if options["val_fraction"] == 0:
            p.add(
                f"{WHO}: `val_fraction` must be > 0 when early stopping is on (it needs "
                "validation rows); got 0. Turn early stopping off to train fixed epochs."
            )
    p.raise_if_any()


def validation_rows(
    y: np.ndarray, task: str, fraction: float, seed: int, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(train rows, validation rows)``: ``ceil(fraction · n)`` rows carved for early stopping,
    stratified for classification when every class has 2 rows and the part holds one of each.
    With ``groups`` (one code per row) the validation part is whole groups
    (:func:`~reglab.study.splits.carve_groups`).

    >>> train, val = validation_rows(np.array([0, 1] * 10), "binary", 0.2, seed=0)
    >>> len(train), len(val), int(np.bincount(np.array([0, 1] * 10)[val]).min())
    (16, 4, 2)
    """
    n = len(y)
    rows = np.arange(n, dtype=np.int64)
    n_val = math.ceil(fraction * n) if fraction > 0 else 0
    if n_val == 0:
        return rows, rows[:0]
    if n_val >= n:
        raise ConfigError(
            f"{WHO}: `val_fraction` must leave training rows ({n} rows); got {fraction} "
            f"({n_val} validation rows)."
        )
    rs = derive(seed, "final", "val")
    if groups is not None:
        from reglab.study.splits import carve_groups

        val = carve_groups(rows, groups, fraction, rs, "the data")
        return np.setdiff1d(rows, val), val
    if task != "regression":
        counts = np.bincount(np.asarray(y, dtype=np.int64))
        counts = counts[counts > 0]
        c = len(counts)
        if counts.min() >= 2 and c <= n_val <= n - c:
            from sklearn.model_selection import train_test_split

            _, val = train_test_split(rows, test_size=n_val, stratify=y, random_state=rs % 2**32)
            val = np.sort(val)
            return np.setdiff1d(rows, val), val
    val = np.sort(generator(rs).choice(rows, size=n_val, replace=False))
    return np.setdiff1d(rows, val), val


def _train(
    dataset: Dataset,
    strategy: Strategy,
    options: dict[str, Any],
    seed: int,
    device: torch.device,
    memory_budget_mb: float,
    study: dict[str, Any] | None,
) -> FinalModel:
    hidden = tuple(int(h) for h in options["hidden"])
    strategy.dropout_rates(len(hidden))
    from reglab.study.model_techniques import model_problem
    from reglab.study.models import resolve_model

    options = {**options, "model": resolve_model(options["model"], dataset)}

    keys = [c.key for c in strategy.techniques]
    refused = model_problem(keys, strategy, options["model"], WHO, "strategy")
    if refused is not None:
        raise ConfigError(refused)
    stopping = bool(options["early_stopping"])
    train = TrainConfig(
        epochs=options["epochs"],
        batch_size=options["batch_size"],
        lr=options["lr"],
        optimizer=options["optimizer"],
        patience=options["patience"] if stopping else None,
        min_delta=options["min_delta"],
    )
    check_encoded_size(dataset, 1, check_budget(memory_budget_mb) * 2**20,
                       available_memory("cpu"), who=WHO)  # fmt: skip
    every = np.arange(dataset.n_rows, dtype=np.int64)
    pre = Preprocessor.for_dataset(dataset).fit(dataset.X, every)
    x = np.ascontiguousarray(pre.transform(dataset.X))
    from reglab.study.run import Study

    shape = Study(None, hidden=hidden, activation=options["activation"],
                  block_order=options["block_order"], model=options["model"])  # fmt: skip
    n_out = dataset.n_classes if dataset.task == "multiclass" else 1
    try:
        arch = shape._architecture(dataset, pre.n_features_out, n_out, strategy)
    except ConfigError as exc:  # the family on data it does not read, named for fit
        raise ConfigError(str(exc).replace("Study:", f"{WHO}:", 1)) from None
    train_idx, val_idx = validation_rows(
        dataset.y, dataset.task, float(options["val_fraction"]) if stopping else 0.0, seed,
        None if dataset.grouping is None else dataset.grouping.codes,
    )  # fmt: skip
    spec = MemberSpec(
        arch, strategy, train, train_idx, val_idx, val_idx, seed=derive(seed, "final"),
        numeric_features=len(dataset.numeric_columns),  # written before the one-hot columns
    )  # fmt: skip
    (result,) = train_members(
        [spec], {0: (x, dataset.y)}, device=device, memory_budget_mb=memory_budget_mb
    )
    if not result.ok:
        raise TrainingError(f"fit: training {strategy.name!r} failed: {result.error}.")
    module = member_module(arch, strategy)
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in result.weights.items()})
    mean, std = 0.0, 1.0
    if dataset.task == "regression":
        y_train = np.asarray(dataset.y, dtype=np.float64)[train_idx]
        mean, spread = float(y_train.mean()), float(y_train.std())
        std = spread if spread > 0 and math.isfinite(spread) else 1.0
    info = {
        "data": {
            "name": dataset.name,
            "source": dataset.source,
            "rows": dataset.n_rows,
            "columns": dataset.n_features,
            "dropped columns": [list(d) for d in dataset.dropped_columns],
            "notices": list(dataset.notices),
        },
        "training": {
            "training rows": len(train_idx),
            "validation rows": len(val_idx),
            "epochs run": result.epochs_run,
            "best epoch": result.best_epoch,
            "stopped epoch": result.stopped_epoch,
            "seed": seed,
            "device": device.type,
            "training scores": _finite(result.train_scores),
            "validation scores": _finite(result.test_scores),
        },
        "study": study,
        "input names": list(pre.feature_names_out),
    }
    return FinalModel(
        module=module,
        preprocessor=pre,
        task=dataset.task,
        target=dataset.target,
        classes=dataset.classes,
        target_mean=mean,
        target_std=std,
        arch=arch,
        strategy=strategy,
        train=dataclasses.replace(train),
        info=info,
    )


def _finite(scores: Mapping[str, float]) -> dict[str, float | None]:
    return {k: (float(v) if math.isfinite(v) else None) for k, v in scores.items()}
