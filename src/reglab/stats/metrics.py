"""What each reported metric means for comparisons: its direction and its range.

One table serves the study results, the terminal table and the report, so they always agree
on which way is better and which intervals are clipped.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["BOUNDED_METRICS", "METRIC_DIRECTIONS", "bounded"]

METRIC_DIRECTIONS: Mapping[str, bool] = {
    "accuracy": True,
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
    "loss": False,
}
"""Whether higher is better, for the metric names the study layer stores."""

BOUNDED_METRICS = (
    "accuracy", "balanced_accuracy", "roc_auc", "auc", "f1", "f1_macro", "f1_weighted",
    "precision", "recall",
)  # fmt: skip
"""Metrics that live in [0, 1]: their intervals are shown clipped to that range."""


def bounded(metric: str, low: float, high: float) -> tuple[float, float]:
    """An interval as shown: clipped to [0, 1] for the metrics of :data:`BOUNDED_METRICS`.

    The corrected t-interval is symmetric, so near 100% accuracy it can pass 1; the
    terminal table clips it the same way.

    >>> bounded("accuracy", 0.94, 1.015), bounded("rmse", -0.5, 2.0)
    ((0.94, 1.0), (-0.5, 2.0))
    """
    if metric in BOUNDED_METRICS:
        return max(low, 0.0), min(high, 1.0)
    return low, high
