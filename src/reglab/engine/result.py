"""What the engine reports for each member: a frozen :class:`MemberResult`.

Scores come from :mod:`sklearn.metrics`, computed once per member on the predictions of its
restored (best-epoch) weights. The weight summaries are comparable across strategies: the
histogram edges of a layer depend only on the architecture (:func:`histogram_edges`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn import metrics

from reglab.engine.layout import layer_names
from reglab.engine.spec import Architecture, MemberSpec

__all__ = [
    "HISTOGRAM_BINS",
    "HISTOGRAM_RANGE",
    "LOG_ALPHA",
    "LOG_ALPHA_EDGES",
    "NEAR_ZERO",
    "MemberResult",
    "classification_scores",
    "failed_result",
    "histogram_edges",
    "kernel_summary",
    "regression_scores",
    "weight_summary",
]

NEAR_ZERO = 1e-3
"""``|w|`` below this counts as near zero (subgradient L1 leaves weights of about ``lr``)."""

HISTOGRAM_BINS = 41
"""Bins of every weight histogram; odd, so one bin is centred on 0."""

HISTOGRAM_RANGE = 8.0
"""A layer's histogram spans ``±HISTOGRAM_RANGE/√fan_in`` (8× the initialization bound)."""


@dataclass(frozen=True)
class MemberResult:
    """One trained member.

    Epochs are counted from 1; ``curves[name][t-1]`` belongs to epoch ``t``.

    Attributes:
        key: :meth:`MemberSpec.key` of the member.
        status: ``"ok"`` or ``"failed"``.
        error: Why it failed (e.g. ``"loss became NaN at epoch 12"``), else ``None``.
        curves: Per epoch: ``train_loss`` (mean over the epoch's mini-batches of the
            training-mode data loss, penalty excluded), ``penalty`` (the l1/l2 term at the
            epoch's end), ``val_loss`` and ``val_metric`` (evaluation mode on the validation
            rows; NaN when the member has none). The data loss is cross-entropy (multiclass),
            binary cross-entropy (binary) or the mean squared error of the member's
            standardized targets (regression). ``val_metric`` is the accuracy for
            classification and R² for regression (higher is better in both). A member with
            scheduled strengths also has ``strength:KEY`` (``strength:KEY[i]`` per layer): the
            value in effect in each epoch (:mod:`reglab.engine.strengths`).
        best_epoch: The epoch whose weights were restored (the last one without early
            stopping).
        stopped_epoch: The epoch at which early stopping fired; 0 when it did not.
        epochs_run: Epochs trained.
        test_pred: Predictions on the test rows: class probabilities ``[n_test, C]`` (binary:
            ``[n_test, 2]``) or values ``[n_test]`` in the target's original units.
        test_scores, train_scores: ``accuracy``, ``balanced_accuracy``, ``log_loss``
            (classification) or ``rmse``, ``mae``, ``r2`` (regression, original units).
        sparsity: Per Dense layer (``dense0``, …, ``output``), the fraction of exact zeros of
            the kernel.
        near_zero: Per Dense layer, the fraction of kernel weights with ``|w| < NEAR_ZERO``.
        weight_hist: Per Dense layer, ``(edges, counts)`` of the kernel's weights with
            :func:`histogram_edges`; weights beyond the range count in the outer bins. With
            sparse VD also ``<layer>.log_alpha``: the weights' ``log α`` in
            :data:`LOG_ALPHA_EDGES` (a pruned weight, stored as 0, counts in the top bin).
        feature_norms: L2 norm of each input feature's outgoing first-layer weights.
        wall_s: The member's share of its stack's wall time, in seconds.
        filters: A CNN member's first filters of its first conv layer, ``float32
            [n, C, kh, kw]`` from the restored weights (``None`` for other models and failed
            members).
        weights: The restored weights as a :class:`~reglab.layers.MLP` ``state_dict``
            (numpy arrays; empty for a failed member).
    """

    key: str
    status: str
    error: str | None
    curves: dict[str, list[float]]
    best_epoch: int
    stopped_epoch: int
    epochs_run: int
    test_pred: np.ndarray
    test_scores: dict[str, float]
    train_scores: dict[str, float]
    sparsity: dict[str, float]
    near_zero: dict[str, float]
    weight_hist: dict[str, tuple[list[float], list[int]]]
    feature_norms: list[float]
    wall_s: float
    weights: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    filters: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the member trained without failure."""
        return self.status == "ok"


def failed_result(member: MemberSpec, why: str) -> MemberResult:
    """A failed :class:`MemberResult` for a member that could not be trained (its executor
    gave up on it, or the member it starts from failed): no curves, an empty prediction of the
    task's shape, ``why`` as the error."""
    arch = member.arch
    outputs = 2 if arch.task == "binary" else arch.out_features
    empty = np.zeros(0) if arch.task == "regression" else np.zeros((0, outputs))
    return MemberResult(
        key=member.key(),
        status="failed",
        error=why,
        curves={},
        best_epoch=0,
        stopped_epoch=0,
        epochs_run=0,
        test_pred=empty,
        test_scores={},
        train_scores={},
        sparsity={},
        near_zero={},
        weight_hist={},
        feature_norms=[],
        wall_s=0.0,
    )


LOG_ALPHA = ".log_alpha"
"""Suffix of a layer's ``log α`` histogram in :attr:`MemberResult.weight_hist` (sparse VD)."""

LOG_ALPHA_EDGES: tuple[float, ...] = tuple(float(e) for e in np.linspace(-8.0, 8.0, 33))
"""The ``log α`` histograms' edges: sparse VD's clip range in bins of 0.5."""


def _log_alpha(kernel: np.ndarray, log_sigma2: np.ndarray) -> np.ndarray:
    """Sparse VD's clipped ``log α = log σ² − log θ²`` (as :mod:`reglab.layers.variational`)."""
    theta = np.asarray(kernel, dtype=np.float64).ravel()
    value = np.asarray(log_sigma2, dtype=np.float64).ravel() - np.log(theta * theta + 1e-8)
    return np.clip(value, -8.0, 8.0)


ECE_BINS = 15
"""Equal-width confidence bins of the expected calibration error (Guo et al., 2017)."""


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label expected calibration error: ``Σ_b (n_b/n)·|accuracy_b − confidence_b|``.

    Rows are binned by their largest probability into ``bins`` equal-width bins of (0, 1]; a
    perfectly calibrated classifier is right on a share ``c`` of the rows it gives confidence
    ``c``, and scores 0.

    >>> y = np.array([0, 0, 1, 1])  # right on 3 of 4 rows, each with confidence 0.9
    >>> round(expected_calibration_error(y, np.array([[0.9, 0.1]] * 3 + [[0.1, 0.9]])), 6)
    0.15
    """
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(np.float64)
    which = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    total = 0.0
    for b in np.unique(which):
        rows = which == b
        total += rows.sum() * abs(correct[rows].mean() - conf[rows].mean())
    return float(total / len(y))


def classification_scores(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, log loss (the negative log-likelihood per row) and expected
    calibration error (:func:`expected_calibration_error`) of class probabilities ``[n, C]``.

    With ``ŷ`` the most probable class and ``p_i`` the probability of row ``i``'s true class:
    accuracy ``= #{ŷ = y} / n``; balanced accuracy is the mean over the classes present in ``y``
    of their recall ``#{ŷ = y = c} / #{y = c}``; log loss ``= mean_i −log(clip(p_i, ε, 1 − ε))``
    with ``ε`` the machine epsilon of ``proba``'s dtype. These are scikit-learn's
    ``accuracy_score``, ``balanced_accuracy_score`` and ``log_loss(labels=range(C))``, computed
    with the NumPy operations scikit-learn 1.9 uses, in ``proba``'s dtype (the same bits;
    ``tests/engine/test_result.py`` compares them), but without its input checks, which cost a
    few milliseconds a call, paid twice for every member.

    >>> classification_scores(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))["accuracy"]
    1.0
    """
    if len(y) == 0:
        return {}
    y = np.asarray(y, dtype=np.int64)
    proba = np.asarray(proba)
    n, classes = proba.shape
    hit = proba.argmax(axis=1) == y
    counts = np.bincount(y, minlength=classes)
    present = counts > 0
    recall = np.bincount(y[hit], minlength=classes)[present] / counts[present]
    eps = np.finfo(proba.dtype).eps
    p_true = np.clip(proba[np.arange(n), y], eps, 1 - eps)
    return {
        "accuracy": float(np.mean(hit.astype(np.float64))),
        "balanced_accuracy": float(np.mean(recall)),
        "log_loss": float(np.mean(-np.log(p_true))),
        "ece": expected_calibration_error(y, proba),
    }


def regression_scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Root mean squared error, mean absolute error and R² (original units).

    >>> regression_scores(np.array([1.0, 3.0]), np.array([1.0, 3.0]))
    {'rmse': 0.0, 'mae': 0.0, 'r2': 1.0}
    """
    if len(y) == 0:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "rmse": float(math.sqrt(metrics.mean_squared_error(y, pred))),
            "mae": float(metrics.mean_absolute_error(y, pred)),
            "r2": float(metrics.r2_score(y, pred)) if len(y) > 1 else math.nan,
        }


def histogram_edges(fan_in: int) -> np.ndarray:
    """The :data:`HISTOGRAM_BINS` + 1 edges of a kernel with ``fan_in`` inputs.

    >>> edges = histogram_edges(64)
    >>> len(edges), float(edges[0]), float(edges[-1])
    (42, -1.0, 1.0)
    """
    bound = HISTOGRAM_RANGE / math.sqrt(fan_in)
    return np.linspace(-bound, bound, HISTOGRAM_BINS + 1)


def weight_summary(
    arch: Architecture, weights: dict[str, np.ndarray]
) -> tuple[
    dict[str, float],
    dict[str, float],
    dict[str, tuple[list[float], list[int]]],
    list[float],
]:
    """Sparsity, near-zero fraction, histogram and first-layer feature norms of the kernels.

    A feature's norm is that of its outgoing first-layer weights, with its skip-path weights
    (``skip_weight``, :mod:`reglab.engine.skip`) when the network has one.

    Args:
        arch: The architecture (it fixes the histogram edges).
        weights: An MLP ``state_dict`` (kernels ``[out, in]``).

    Returns:
        ``(sparsity, near_zero, weight_hist, feature_norms)`` as in :class:`MemberResult`.
    """
    kernels = [
        (name, weights[f"{name}.weight"], fan_in)
        for name, fan_in in zip(layer_names(arch), arch.layer_sizes[:-1], strict=True)
    ]
    first = weights[f"{layer_names(arch)[0]}.weight"]
    summary = kernel_summary(kernels, first, weights.get("skip_weight"))
    for name, kernel, _ in kernels:  # sparse VD: where each layer's log α lie
        if f"{name}.log_sigma2" in weights:
            log_alpha = _log_alpha(
                np.asarray(kernel, dtype=np.float64), weights[f"{name}.log_sigma2"]
            )
            counts, _ = np.histogram(log_alpha, bins=LOG_ALPHA_EDGES)
            summary[2][f"{name}{LOG_ALPHA}"] = (list(LOG_ALPHA_EDGES), [int(c) for c in counts])
    return summary


def kernel_summary(
    kernels: Sequence[tuple[str, np.ndarray, int]],
    first: np.ndarray | None,
    skip: np.ndarray | None = None,
) -> tuple[
    dict[str, float],
    dict[str, float],
    dict[str, tuple[list[float], list[int]]],
    list[float],
]:
    """:func:`weight_summary` of named kernels ``(name, kernel, fan_in)``; the feature norms
    are the column norms of ``first`` (none when it is ``None``), with those of a skip path's
    kernel ``skip`` ``[out, in]`` added in square."""
    sparsity: dict[str, float] = {}
    near_zero: dict[str, float] = {}
    hist: dict[str, tuple[list[float], list[int]]] = {}
    for name, weight, fan_in in kernels:
        kernel = np.asarray(weight, dtype=np.float64)
        sparsity[name] = float(np.mean(kernel == 0.0))
        near_zero[name] = float(np.mean(np.abs(kernel) < NEAR_ZERO))
        edges = histogram_edges(fan_in)
        clipped = np.clip(kernel.ravel(), edges[0], edges[-1])
        counts, _ = np.histogram(clipped, bins=edges)
        hist[name] = ([float(e) for e in edges], [int(c) for c in counts])
    if first is None:
        return sparsity, near_zero, hist, []
    matrix = np.asarray(first, dtype=np.float64)
    squares = np.sum(matrix * matrix, axis=0)
    if skip is not None:  # a feature also reaches the outputs by a linear skip path
        path = np.asarray(skip, dtype=np.float64)
        squares = squares + np.sum(path * path, axis=0)
    norms = np.sqrt(squares)
    return sparsity, near_zero, hist, [float(v) for v in norms]
