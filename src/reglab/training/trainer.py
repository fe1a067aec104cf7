"""The single-model trainer: ``reglab.fit(model, X, y, ...)`` trains one model in place.

Each step minimizes the batch-mean data loss plus every attached penalty
(:func:`reglab.regularizers.regularization_loss`), then applies the proximal L1 step and the
constraints; every measurement is taken in evaluation mode without gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from reglab._device import resolve_device
from reglab._seeding import derive
from reglab._validation import (
    TASKS,
    Problems,
    check_choice,
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
    message,
    suggest,
)
from reglab.errors import ConfigError, TrainingError
from reglab.training import _data, _outputs
from reglab.training._loop import (
    OPTIMIZERS,
    LossFn,
    OptimizerFactory,
    build_optimizer,
    evaluate,
    penalty_shares,
    seeded_noise,
    train_epoch,
)
from reglab.training.early_stopping import EarlyStopping
from reglab.training.history import History
from reglab.training.metrics import Metric, default_metric, get_metric

__all__ = ["OPTIMIZERS", "TASKS", "fit"]


def fit(
    model: nn.Module,
    X: Any,
    y: Any,
    *,
    task: str | None = None,
    loss: LossFn | None = None,
    optimizer: str | OptimizerFactory = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    epochs: int = 100,
    batch_size: int | str | None = 32,
    validation_data: tuple[Any, Any] | None = None,
    validation_split: float = 0.0,
    validation_mode: str = "last",
    early_stopping: EarlyStopping | bool | None = None,
    metric: str | Metric | None = None,
    device: str | torch.device = "auto",
    seed: int = 0,
    shuffle: bool = True,
    verbose: bool = False,
    on_epoch_begin: Callable[[int, History], None] | None = None,
) -> History:
    """Train ``model`` in place on ``(X, y)`` with its attached regularization.

    Every step minimizes ``L_data(batch) + Σ_j R_j(w_j)``: the **batch-mean** data loss plus
    each attached penalty (Keras semantics; see :mod:`reglab.regularizers`). After
    ``optimizer.step()`` the proximal L1 step soft-thresholds parameters whose regularizer is in
    ``mode="proximal"``, then constraints (``MaxNorm`` …) project their parameters.

    Losses by task (outputs are logits for classification):

    * ``"regression"``: mean squared error ``mean((f(x) − y)²)`` (no ½);
    * ``"binary"``: a model with **one** output logit trains with
      ``BCEWithLogits``; a model with two outputs trains with cross-entropy (both work);
    * ``"multiclass"``: cross-entropy over ``C`` logits.

    ``task=None`` infers it from ``y``: float targets with a non-integer value (or several
    target columns) mean regression; otherwise two distinct labels mean binary, more mean
    multiclass (pass ``task="regression"`` for integer-valued targets). Integer labels are
    class indices ``0..C−1`` as they are; other labels (strings) are numbered in sorted order.

    Measurements (recorded in the returned :class:`~reglab.training.history.History`) are
    taken with ``model.eval()`` under ``torch.no_grad()`` after each epoch: the data loss on the
    whole training set (without penalty), on the validation set, the validation ``metric``, and
    the penalty of every regularized parameter (proximal L1 parts included; activity penalties
    depend on the batch and only appear in the running loss).

    ``weight_decay`` is **decoupled** (Loshchilov & Hutter): ``w ← w − lr·wd·w`` on weights
    with two or more dimensions (not biases or normalization parameters), never added to the
    loss. ``"adam"`` with ``weight_decay > 0`` is therefore ``torch.optim.AdamW``; ``"sgd"``
    and optimizer factories get the decay applied before each step.

    Randomness is injected, never global: the batch order is
    ``torch.randperm(n_train, generator=g)`` per epoch with ``g`` seeded by ``seed``; layers
    with a ``generator`` attribute left ``None`` (reglab's dropout family, DropConnect) draw
    their noise during training from one generator seeded by
    ``reglab._seeding.derive(seed, "noise")``. ``validation_split`` takes the last rows, as
    Keras does (so sort or shuffle ``X`` first if its order means something);
    ``validation_mode="stratified"`` takes a seeded random share instead, stratified for
    classification. The model is
    moved to ``device`` and left in evaluation mode, holding the best weights when early
    stopping is used.

    Args:
        model: Any ``nn.Module`` mapping a batch of ``X`` rows to outputs.
        X: Features, shape ``(n_samples, ...)``; array, tensor or DataFrame, finite values.
        y: Targets, one per row of ``X``.
        task: ``"regression"``, ``"binary"``, ``"multiclass"`` or None (inferred).
        loss: A callable ``(output, target) -> batch-mean loss`` replacing the default; it
            receives the raw output and float targets of shape ``[batch, k]`` (regression; a
            1-d ``y`` is one column) or class indices ``[batch]`` (classification).
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"``, or a factory called as
            ``factory(param_groups, lr=lr)`` (a ``torch.optim`` class works).
        lr: Learning rate.
        weight_decay: Decoupled weight decay (see above).
        momentum: SGD momentum (only with ``optimizer="sgd"``).
        epochs: Maximum number of passes over the training data.
        batch_size: Rows per step; ``None`` or ``"full"`` for full-batch training. With batch
            normalization, a last batch of a single row is skipped.
        validation_data: ``(X_val, y_val)`` for the validation curves and early stopping.
        validation_split: Fraction of the rows held out for validation instead.
        validation_mode: ``"last"`` (Keras: the last rows) or ``"stratified"`` (a seeded
            random share, stratified by class for classification).
        early_stopping: An :class:`EarlyStopping` (used and updated in place), True for
            ``EarlyStopping()`` (patience 10 on ``val_loss``), or None/False.
        metric: The validation metric: a name (``"accuracy"``, ``"error_rate"``; ``"r2"``,
            ``"mse"``, ``"rmse"``, ``"mae"``), a :class:`~reglab.training.metrics.Metric`,
            or None (accuracy, or R² for regression).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, … .
        seed: Seed of the batch order and the layers' noise.
        shuffle: Shuffle the rows every epoch.
        verbose: Print one line per epoch.
        on_epoch_begin: Called as ``on_epoch_begin(epoch, history)`` before each epoch's
            first step (epochs from 1, the history of the epochs before): a
            :class:`~reglab.training.schedule.StrengthSchedule` sets scheduled strengths here.

    Returns:
        The per-epoch :class:`~reglab.training.history.History`.

    Raises:
        ConfigError: for invalid options. DataError: for unusable data.
        TrainingError: when the training loss becomes NaN or infinite (names the epoch).

    Example:
        >>> import torch
        >>> from reglab.regularizers import L2, add_regularizer
        >>> X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
        >>> y = X @ torch.tensor([1.0, -2.0, 0.5]) + 0.3
        >>> model = torch.nn.Linear(3, 1)
        >>> add_regularizer(model, L2(1e-3))
        ['weight']
        >>> history = fit(model, X, y, optimizer="sgd", lr=0.1, epochs=50, batch_size=16)
        >>> history.train_loss[-1] < 0.01, len(history)
        (True, 50)
    """
    who = "fit"
    _check_options(
        model=model,
        task=task,
        loss=loss,
        optimizer=optimizer,
        lr=lr,
        weight_decay=weight_decay,
        momentum=momentum,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation_data,
        validation_split=validation_split,
        validation_mode=validation_mode,
        early_stopping=early_stopping,
        metric=metric,
        seed=seed,
        shuffle=shuffle,
        verbose=verbose,
    )
    dev = resolve_device(device, "fit")

    task, data = _data.prepare(
        who, X, y, task, validation_data, validation_split, seed, validation_mode
    )

    # ---- model, tensors, loss, metric
    model.to(dev)
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    Xt = torch.as_tensor(data.x_train, dtype=dtype, device=dev)
    Yt = _outputs.target_tensor(data.t_train, task, dtype, dev)
    Xv = Yv = None
    if data.x_val is not None and data.t_val is not None:
        Xv = torch.as_tensor(data.x_val, dtype=dtype, device=dev)
        Yv = _outputs.target_tensor(data.t_val, task, dtype, dev)
    n_outputs = _outputs.probe(model, Xt)
    if loss is None:
        _outputs.check_outputs(who, task, n_outputs, Yt, Yv)
    loss_fn: LossFn = loss if loss is not None else _outputs.default_loss(task, n_outputs)
    the_metric = (
        default_metric(task)
        if metric is None
        else get_metric(metric, task)
        if isinstance(metric, str)
        else metric
    )

    # ---- early stopping
    es = EarlyStopping() if early_stopping is True else early_stopping or None
    if es is not None:
        es.reset()
        monitor = _monitor_key(es.monitor, the_metric.name)
        if monitor != "train_loss" and Xv is None:
            raise ConfigError(
                message(
                    who,
                    "validation_data",
                    f"given (or validation_split > 0) when early stopping monitors {es.monitor!r}",
                    None,
                )
            )
        es.resolve(the_metric.higher_is_better if monitor == "val_metric" else False)

    # ---- optimizer
    opt, decayed = build_optimizer(model, optimizer, lr, weight_decay, momentum)
    manual_decay = weight_decay > 0 and not isinstance(opt, torch.optim.AdamW)

    n = Xt.shape[0]
    bs = n if batch_size is None or batch_size == "full" else min(int(batch_size), n)
    skip_single = n > 1 and any(
        isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()
    )
    order_gen = torch.Generator().manual_seed(seed)
    history = History(metric=the_metric.name)

    with seeded_noise(model, derive(seed, "noise"), dev):
        for epoch in range(1, epochs + 1):
            if on_epoch_begin is not None:
                on_epoch_begin(epoch, history)
            running = train_epoch(
                model, Xt, Yt, loss_fn, opt, bs, shuffle, order_gen, skip_single,
                decayed if manual_decay else None, weight_decay,
            )  # fmt: skip
            train_loss, _ = evaluate(model, Xt, Yt, loss_fn, None)
            if not (math.isfinite(running) and math.isfinite(train_loss)):
                bad = running if not math.isfinite(running) else train_loss
                raise TrainingError(
                    f"fit: the training loss must stay finite; got {bad} at epoch {epoch} "
                    "(lower `lr`, scale the features or weaken the penalties)."
                )
            val_loss = val_metric = None
            if Xv is not None and Yv is not None:
                val_loss, val_metric = evaluate(model, Xv, Yv, loss_fn, the_metric)
            shares = penalty_shares(model)
            history.append(
                epoch=epoch,
                train_loss=train_loss,
                running_loss=running,
                penalty=sum(shares.values()),
                penalty_shares=shares,
                val_loss=val_loss,
                val_metric=val_metric,
                lr=float(opt.param_groups[0]["lr"]),
            )
            if verbose:
                _print_epoch(history, epochs)
            if es is not None:
                key = _monitor_key(es.monitor, the_metric.name)
                value = {"val_loss": val_loss, "val_metric": val_metric}.get(key, train_loss)
                if es.step(
                    math.nan if value is None else value, model=model, train_loss=train_loss
                ):
                    break

    history.best_epoch = history.epoch[-1]
    if es is not None:
        history.stopped_epoch = es.stopped_epoch_
        if es.restore(model):
            history.best_epoch = es.best_epoch_
    model.eval()
    return history


# --------------------------------------------------------------------------- checks
def _check_options(**kw: Any) -> None:
    who = "fit"
    p = Problems()
    if not isinstance(kw["model"], nn.Module):
        p.add(message(who, "model", "a torch.nn.Module", type(kw["model"]).__name__))
    if kw["task"] is not None:
        p.check(check_choice, who, "task", kw["task"], TASKS)
    if kw["loss"] is not None and not callable(kw["loss"]):
        p.add(message(who, "loss", "a callable (output, target) -> loss, or None", kw["loss"]))
    opt = kw["optimizer"]
    if isinstance(opt, str):
        p.check(check_choice, who, "optimizer", opt, OPTIMIZERS)
    elif not callable(opt):
        p.add(message(who, "optimizer", "'adam', 'adamw', 'sgd' or an optimizer factory", opt))
    p.check(check_positive, who, "lr", kw["lr"])
    p.check(check_nonnegative, who, "weight_decay", kw["weight_decay"])
    p.check(check_fraction, who, "momentum", kw["momentum"])
    if kw["momentum"] and opt != "sgd":
        p.add(message(who, "momentum", f"0 with optimizer {opt!r} (SGD only)", kw["momentum"]))
    p.check(check_int, who, "epochs", kw["epochs"], minimum=1)
    bs = kw["batch_size"]
    if bs is not None and bs != "full":
        p.check(check_int, who, "batch_size", bs, minimum=1)
    vd = kw["validation_data"]
    if vd is not None and not (isinstance(vd, tuple | list) and len(vd) == 2):
        p.add(message(who, "validation_data", "a pair (X_val, y_val) or None", type(vd).__name__))
    p.check(check_fraction, who, "validation_split", kw["validation_split"])
    p.check(check_choice, who, "validation_mode", kw["validation_mode"], ("last", "stratified"))
    if vd is not None and kw["validation_split"]:
        p.add(
            message(
                who, "validation_split", "0 when `validation_data` is given", kw["validation_split"]
            )
        )
    es = kw["early_stopping"]
    if es is not None and not isinstance(es, bool | EarlyStopping):
        p.add(message(who, "early_stopping", "an EarlyStopping, a bool or None", es))
    m = kw["metric"]
    if m is not None and not isinstance(m, str | Metric):
        p.add(message(who, "metric", "a metric name, a Metric or None", m))
    p.check(check_int, who, "seed", kw["seed"], minimum=0)
    for flag in ("shuffle", "verbose"):
        if not isinstance(kw[flag], bool):
            p.add(message(who, flag, "a bool", kw[flag]))
    p.raise_if_any()


def _monitor_key(monitor: str, metric_name: str) -> str:
    choices = {"val_loss": "val_loss", "train_loss": "train_loss", "val_metric": "val_metric"}
    choices[f"val_{metric_name}"] = "val_metric"
    if monitor not in choices:
        raise ConfigError(
            message("fit", "early_stopping.monitor", "one of " + ", ".join(map(repr, choices)),
                    monitor)
            + suggest(monitor, choices)
        )  # fmt: skip
    return choices[monitor]


def _print_epoch(history: History, epochs: int) -> None:
    i = len(history) - 1
    parts = [
        f"epoch {history.epoch[i]}/{epochs}",
        f"train_loss {history.train_loss[i]:.4g}",
        f"penalty {history.penalty[i]:.4g}",
    ]
    if not math.isnan(history.val_loss[i]):
        parts.append(f"val_loss {history.val_loss[i]:.4g}")
        parts.append(f"val_{history.metric} {history.val_metric[i]:.4g}")
    print(" - ".join(parts))
