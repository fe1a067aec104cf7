"""Measuring and reporting members: validation curves, scores, and their results.

Validation runs in evaluation mode on every epoch; a member that is done is scored once on its
restored weights (:func:`finish`), with :mod:`sklearn.metrics` (:mod:`reglab.engine.result`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence

import numpy as np
import sklearn
import torch

from reglab.engine.family import family_of
from reglab.engine.result import (
    MemberResult,
    classification_scores,
    regression_scores,
)
from reglab.engine.spec import Architecture, MemberSpec
from reglab.engine.stack import Stack
from reglab.errors import TrainingError
from reglab.training.early_stopping import EarlyStopping

__all__ = [
    "DIVERGENCE_EPOCHS",
    "DIVERGENCE_FACTOR",
    "Tracker",
    "chance_loss",
    "finish",
    "padded",
    "problem",
    "restored_problem",
    "validation",
]


class Tracker:
    """Host-side record of one member: curves, early stopping, time."""

    def __init__(self, member: MemberSpec) -> None:
        self.member = member
        cfg = member.train
        self.curves: dict[str, list[float]] = {
            "train_loss": [],
            "penalty": [],
            "val_loss": [],
            "val_metric": [],
        }
        self.stopper = (
            EarlyStopping(
                monitor=cfg.monitor,
                mode="min" if cfg.monitor == "val_loss" else "max",
                patience=cfg.patience,
                min_delta=cfg.min_delta,
            )
            if cfg.patience is not None and not _every_epoch(member)
            else None
        )
        self.best_epoch = 0
        self.stopped_epoch = 0
        self.epochs_run = 0
        self.wall = 0.0
        self.error: str | None = None


def _every_epoch(member: MemberSpec) -> bool:
    """Whether a technique of the member trains all its epochs (``snapshot``: early stopping
    neither stops nor restores it)."""
    from reglab.techniques import get

    for c in member.strategy.techniques:
        cls = get(c.key)
        if cls.trains_every_epoch and any(c.values[q.name] != q.off for q in cls.params):
            return True
    return False


def padded(rows: Sequence[np.ndarray], device: torch.device) -> tuple[torch.Tensor, np.ndarray]:
    """Rows of every member padded to one length (repeating the first row); real counts."""
    counts = np.array([len(r) for r in rows])
    width = max(int(counts.max()), 1)
    out = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        if len(r):
            out[i, : len(r)] = r
            out[i, len(r) :] = r[0]
    return torch.from_numpy(out).to(device), counts


DIVERGENCE_FACTOR = 10.0
"""A training loss (or objective) this many times the chance loss counts as diverged."""
DIVERGENCE_EPOCHS = 5
"""Consecutive epochs above the limit before a member in training counts as diverged."""
LEARNED_NOTHING = 0.9
"""A restored training loss at least this fraction of the chance loss counts as no better."""
_ADVICE = "try a smaller lr or penalty"


def chance_loss(arch: Architecture) -> float:
    """The data loss of an uninformed model: ``log K`` for ``K`` classes (binary: ``log 2``), 1
    for regression (the mean squared error of predicting the mean of standardized targets).

    >>> from reglab.engine.spec import Architecture
    >>> round(chance_loss(Architecture(4, 10)), 3), chance_loss(Architecture(4, 1, task="regression"))
    (2.303, 1.0)
    """  # noqa: E501
    if arch.task == "regression":
        return 1.0
    return math.log(2 if arch.task == "binary" else arch.out_features)


def problem(tracker: Tracker, finite: bool, n_val: int) -> str | None:
    """Why the member fails after its latest epoch (its curves end with it), else ``None``.

    A member fails when its loss, its weights or its validation loss are not finite, or when
    it has **diverged**. With ``c`` its :func:`chance_loss` and ``L_t`` its training loss of
    epoch ``t`` (the epoch's mean data loss), it has diverged at epoch ``t`` when

    1. ``L_s > 10·c`` for each of the last :data:`DIVERGENCE_EPOCHS` epochs ``s = t−4 … t``:
       its predictions have stayed more than ten times worse than chance (a learning rate
       far too large: the loss explodes and does not come back).

    A finished member is judged once more by :func:`restored_problem` (rules 2 and 3). A
    normal run's training loss starts near ``c`` and falls, so it never meets rule 1.
    """
    curves = tracker.curves
    epoch = len(curves["train_loss"])
    loss, val_loss = curves["train_loss"][-1], curves["val_loss"][-1]
    if not math.isfinite(loss):
        return f"loss became {'NaN' if math.isnan(loss) else 'inf'} at epoch {epoch}"
    if not finite:
        return f"weights became NaN or inf at epoch {epoch}"
    if n_val and not math.isfinite(val_loss):
        return f"validation loss became {'NaN' if math.isnan(val_loss) else 'inf'} at epoch {epoch}"
    chance = chance_loss(tracker.member.arch)
    recent = curves["train_loss"][-DIVERGENCE_EPOCHS:]
    if epoch >= DIVERGENCE_EPOCHS and min(recent) > DIVERGENCE_FACTOR * chance:
        return f"{_diverged(chance, loss, epoch)}; {_ADVICE}"
    return None


def restored_problem(tracker: Tracker) -> str | None:
    """Why a finished member fails, else ``None`` (notation of :func:`problem`).

    With ``b`` the epoch it is restored to and ``P_t`` the penalty at the end of epoch ``t``,
    it has diverged when

    2. ``L_t > 10·c`` or ``P_t > 10·c`` in some epoch ``t``, and ``L_b ≥ 0.9·c``: the loss
       or the penalty exploded and the member learned nothing (a balanced problem's constant
       prediction costs ``c``). This also judges members that stopped early or trained for
       fewer than :data:`DIVERGENCE_EPOCHS` epochs. One that blew up but then learned is
       kept, and its scores say how well; or
    3. ``P_b > 10·c``: the restored weights' penalty alone is ten times what all-zero
       kernels cost in all (about ``c``), so the optimizer never came near the penalized
       minimum (Adam under a huge L2 penalty, whose steps of about ``lr`` shrink the weights
       slowly).

    A normal run never comes near ``10·c`` (checked on the benchmark workloads and on
    scikit-learn data sets with every preset strategy). The penalty criteria do not judge a
    member whose penalty holds a variational KL (``KL/N`` of a parametrization technique,
    ``sparse-vd``): with many weights and few rows it is rightly many times ``c``.
    """
    curves = tracker.curves
    losses, penalties = curves["train_loss"], curves["penalty"]
    if _holds_kl(tracker.member):
        penalties = [0.0] * len(penalties)
    if tracker.best_epoch < 1 or not losses:
        return None
    chance = chance_loss(tracker.member.arch)
    limit = DIVERGENCE_FACTOR * chance
    best = tracker.best_epoch
    restored = losses[best - 1]
    nothing = (
        f"even its best epoch by validation loss, {best} (the one restored), is no better than "
        f"chance (training loss {restored:.2g}); {_ADVICE}"
    )
    if restored >= LEARNED_NOTHING * chance:
        worst = int(np.argmax(losses))
        if losses[worst] > limit:
            return f"{_diverged(chance, losses[worst], worst + 1)}; {nothing}"
        worst = int(np.argmax(penalties))
        if penalties[worst] > limit:
            return (
                f"diverged: the penalty reached {penalties[worst]:.2g} by epoch {worst + 1}, more "
                f"than {DIVERGENCE_FACTOR:g}x the chance loss {chance:.2g}; {nothing}"
            )
    if penalties[best - 1] > limit:
        return (
            f"diverged: the penalty of the restored epoch {best} is {penalties[best - 1]:.2g}, "
            f"more than {DIVERGENCE_FACTOR:g}x the chance loss {chance:.2g} (the weights never "
            f"came near the penalized minimum); {_ADVICE}"
        )
    return None


def _holds_kl(member: MemberSpec) -> bool:
    from reglab.techniques import get

    return any(get(c.key).acts_on == "parametrization" for c in member.strategy.techniques)


def _diverged(chance: float, loss: float, epoch: int) -> str:
    return f"diverged: training loss rose from {chance:.2g} (chance) to {loss:.2g} by epoch {epoch}"


def _y_stats(stack: Stack) -> np.ndarray:
    """The regression stack's target mean and standard deviation per member."""
    if stack.y_stats is None:
        raise TrainingError(
            f"a {stack.task} stack has no target statistics; only regression stacks are "
            "scored in the target's units"
        )
    return stack.y_stats


def validation(
    stack: Stack,
    rows: torch.Tensor,
    counts_all: np.ndarray,
    targets: dict[int, np.ndarray],
    trackers: Sequence[Tracker],
    positions: Sequence[int],
) -> tuple[np.ndarray, np.ndarray]:
    """Validation loss and metric of every member (NaN for members without validation rows)."""
    m = stack.m
    counts = counts_all[list(positions)]
    if not counts.any():
        return np.full(m, np.nan), np.full(m, np.nan)
    out = stack.outputs(rows, best=False)
    loss, metric = np.full(m, np.nan), np.full(m, np.nan)
    out_np = out.cpu().numpy().astype(np.float64)
    for slot, pos in enumerate(positions):
        n = counts[slot]
        if n == 0:
            continue
        member = trackers[pos].member
        y = np.asarray(targets[member.split_id])[member.val_idx]
        pred = out_np[slot, :n]
        loss[slot], metric[slot] = _loss_and_metric(stack, slot, member, pred, y)
    return loss, metric


def _loss_and_metric(
    stack: Stack, slot: int, member: MemberSpec, out: np.ndarray, y: np.ndarray
) -> tuple[float, float]:
    """Data loss (as trained) and metric of raw outputs ``out`` against targets ``y``."""
    task = member.arch.task
    with np.errstate(all="ignore"):
        if task == "multiclass":
            shifted = out - out.max(axis=1, keepdims=True)
            logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            loss = -float(np.mean(logp[np.arange(len(y)), y.astype(np.int64)]))
            return loss, float(np.mean(out.argmax(axis=1) == y))
        if task == "binary":
            z = out[:, 0]
            loss = float(np.mean(np.logaddexp(0.0, z) - y * z))
            return loss, float(np.mean((z > 0).astype(np.int64) == y))
        mean, std = _y_stats(stack)[slot]
        ys = (np.asarray(y, dtype=np.float64) - mean) / std
        err = out[:, 0] - ys
        sst = float(np.sum((ys - ys.mean()) ** 2))
        r2 = 1.0 - float(np.sum(err**2)) / sst if sst > 0 else math.nan
        return float(np.mean(err**2)), r2


def _predictions(stack: Stack, slots: Sequence[int], out: np.ndarray) -> np.ndarray:
    """Raw outputs → probabilities ``[n, C]`` (classification) or original-unit values."""
    task = stack.task
    with np.errstate(all="ignore"):
        if task == "multiclass":
            shifted = out - out.max(axis=-1, keepdims=True)
            e = np.exp(shifted)
            return e / e.sum(axis=-1, keepdims=True)
        if task == "binary":
            p1 = 1.0 / (1.0 + np.exp(-out[..., 0]))
            return np.stack([1.0 - p1, p1], axis=-1)
    stats = _y_stats(stack)[list(slots)]
    return out[..., 0] * stats[:, 1:2] + stats[:, 0:1]


def finish(
    stack: Stack,
    slots: Sequence[int],
    positions: Sequence[int],
    trackers: Sequence[Tracker],
    targets: dict[int, np.ndarray],
    offsets: dict[int, int],
    device: torch.device,
) -> Iterator[tuple[int, MemberResult]]:
    """Score the finished members on their best weights and build their results."""
    start = time.perf_counter()
    ok = [s for s in slots if trackers[positions[s]].error is None]
    scored: dict[int, tuple[np.ndarray, dict[str, float], dict[str, float]]] = {}
    if ok:
        scored = _score(stack, ok, positions, trackers, targets, offsets, device)
    for slot in ok:
        if slot not in scored:
            tr = trackers[positions[slot]]
            tr.error = f"predictions became NaN or inf at epoch {tr.best_epoch}"
    share = (time.perf_counter() - start) / len(slots)
    for slot in slots:
        pos = positions[slot]
        tr = trackers[pos]
        tr.wall += share
        member = tr.member
        if tr.error is not None:
            empty = np.zeros((0, _n_outputs(member)) if member.arch.task != "regression" else 0)
            yield (
                pos,
                MemberResult(
                    key=member.key(),
                    status="failed",
                    error=tr.error,
                    curves=tr.curves,
                    best_epoch=tr.best_epoch,
                    stopped_epoch=tr.stopped_epoch,
                    epochs_run=tr.epochs_run,
                    test_pred=empty,
                    test_scores={},
                    train_scores={},
                    sparsity={},
                    near_zero={},
                    weight_hist={},
                    feature_norms=[],
                    wall_s=tr.wall,
                ),
            )
            continue
        weights = stack.export(slot, best=True)
        family = family_of(member.arch)
        sparsity, near_zero, hist, norms = family.weight_summary(member.arch, weights)
        test_pred, test_scores, train_scores = scored[slot]
        yield (
            pos,
            MemberResult(
                key=member.key(),
                status="ok",
                error=None,
                curves=tr.curves,
                best_epoch=tr.best_epoch,
                stopped_epoch=tr.stopped_epoch,
                epochs_run=tr.epochs_run,
                test_pred=test_pred,
                test_scores=test_scores,
                train_scores=train_scores,
                sparsity=sparsity,
                near_zero=near_zero,
                weight_hist=hist,
                feature_norms=norms,
                wall_s=tr.wall,
                weights=weights,
                filters=family.first_filters(member.arch, weights),
            ),
        )


def _n_outputs(member: MemberSpec) -> int:
    return 2 if member.arch.task == "binary" else member.arch.out_features


def _score(
    stack: Stack,
    slots: Sequence[int],
    positions: Sequence[int],
    trackers: Sequence[Tracker],
    targets: dict[int, np.ndarray],
    offsets: dict[int, int],
    device: torch.device,
) -> dict[int, tuple[np.ndarray, dict[str, float], dict[str, float]]]:
    """Test predictions and test/train scores of members ``slots`` (best weights).

    Members whose predictions are not all finite are left out of the returned mapping.
    """
    results: dict[int, tuple[np.ndarray, dict[str, float], dict[str, float]]] = {}
    raw: dict[str, np.ndarray] = {}
    members = [trackers[positions[s]].member for s in slots]
    for name in ("test_idx", "train_idx"):
        rows = [np.asarray(getattr(m, name), dtype=np.int64) + offsets[m.split_id] for m in members]
        table_rows, _ = padded(rows, device)
        raw[name] = stack.outputs(table_rows, best=True, slots=slots).cpu().numpy()
    scores = regression_scores if stack.task == "regression" else classification_scores
    # Only finite predictions are scored, so scikit-learn's input checks can be skipped.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        for k, (slot, member) in enumerate(zip(slots, members, strict=True)):
            y = np.asarray(targets[member.split_id])
            # Each member's own rows, copied out, so that NumPy computes on the same array
            # whatever the other members.
            test_pred, train_pred = (
                _predictions(stack, [slot], raw[name][k : k + 1, :n].astype(np.float64))[0]
                for name, n in (
                    ("test_idx", len(member.test_idx)),
                    ("train_idx", len(member.train_idx)),
                )
            )
            if not (np.isfinite(test_pred).all() and np.isfinite(train_pred).all()):
                continue
            test_scores = scores(y[member.test_idx], test_pred)
            if member.robust_eps > 0 and stack.task != "regression":
                from reglab.engine.robust import robust_accuracy

                test_rows = np.asarray(member.test_idx, dtype=np.int64) + offsets[member.split_id]
                test_scores["robust_accuracy"] = robust_accuracy(
                    stack, slot, member, test_rows, y[member.test_idx]
                )
            results[slot] = (test_pred, test_scores, scores(y[member.train_idx], train_pred))
    return results
