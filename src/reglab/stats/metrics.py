"""What each reported metric means for comparisons: its direction and its range.

One table serves the study results, the terminal table and the report, so they always agree
on which way is better and which intervals are clipped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = [
    "BOUNDED_METRICS",
    "METRIC_DIRECTIONS",
    "NONNEGATIVE_METRICS",
    "PERCENT_METRICS",
    "bounded",
    "format_diff",
    "format_score",
]

METRIC_DIRECTIONS: Mapping[str, bool] = {
    "accuracy": True,
    "robust_accuracy": True,
    "balanced_accuracy": True,
    "f1": True,
    "f1_macro": True,
    "f1_weighted": True,
    "precision": True,
    "recall": True,
    "roc_auc": True,
    "auc": True,
    "r2": True,
    "explained_variance": True,
    "rmse": False,
    "mse": False,
    "mae": False,
    "log_loss": False,
    "cross_entropy": False,
    "brier": False,
    "ece": False,
    "loss": False,
}
"""Whether higher is better, for the metric names the study layer stores."""

BOUNDED_METRICS = (
    "accuracy", "robust_accuracy", "balanced_accuracy", "roc_auc", "auc", "f1", "f1_macro",
    "f1_weighted", "precision", "recall", "ece",
)  # fmt: skip
"""Metrics that live in [0, 1]: their intervals are shown clipped to that range."""

NONNEGATIVE_METRICS = ("rmse", "mse", "mae", "log_loss", "cross_entropy", "brier", "ece", "loss")
"""Metrics that are never negative: the lower end of their intervals is clipped at 0."""


def bounded(metric: str, low: float, high: float) -> tuple[float, float]:
    """An interval as shown: clipped to [0, 1] for the metrics of :data:`BOUNDED_METRICS`,
    and at 0 from below for those of :data:`NONNEGATIVE_METRICS`.

    The corrected t-interval is symmetric, so near 100% accuracy it can pass 1, and with few
    splits an error's interval can reach below 0; the terminal table clips it the same way.

    >>> bounded("accuracy", 0.94, 1.015), bounded("rmse", -0.5, 2.0), bounded("r2", -0.5, 0.9)
    ((0.94, 1.0), (0.0, 2.0), (-0.5, 0.9))
    """
    if metric in BOUNDED_METRICS:
        return max(low, 0.0), min(high, 1.0)
    if metric in NONNEGATIVE_METRICS:
        return max(low, 0.0), high
    return low, high


PERCENT_METRICS = ("accuracy", "balanced_accuracy", "robust_accuracy")
"""Metrics shown as percentages, their differences in percentage points."""


def format_score(metric: str, value: float | None) -> str:
    """A score as every presentation shows it: percent for accuracies, else 4 digits.

    >>> format_score("accuracy", 0.8612), format_score("rmse", 52.3456), format_score("r2", None)
    ('86.1%', '52.35', '–')
    """
    if value is None or not math.isfinite(value):
        return "–"
    if metric in PERCENT_METRICS:
        return f"{100 * value:.1f}%"
    return f"{value:.4g}"


def format_diff(metric: str, diff: float) -> str:
    """The size of a difference of ``metric`` scores (no sign): points for accuracies.

    >>> format_diff("accuracy", -0.0312), format_diff("rmse", 1.25)
    ('3.1 points', '1.25')
    >>> format_diff("accuracy", 0.0004)  # below 0.1 points: two decimals, never "0.0"
    '0.04 points'
    """
    if metric in PERCENT_METRICS:
        points = 100 * abs(diff)
        return f"{points:.2f} points" if 0 < points < 0.095 else f"{points:.1f} points"
    return f"{abs(diff):.3g}"
