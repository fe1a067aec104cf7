"""Validation metrics of the single-model trainer, each with its direction.

A :class:`Metric` turns raw model outputs and encoded targets into one number and says whether
higher is better; early stopping in ``mode="auto"`` reads that direction, never the name.
Outputs are logits for classification (one logit for a binary task, or one per class) and
predictions for regression.

>>> import torch
>>> acc = get_metric("accuracy", "multiclass")
>>> acc(torch.tensor([[2.0, 0.1], [0.0, 1.0]]), torch.tensor([0, 0])), acc.higher_is_better
(0.5, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from reglab._validation import check_choice

__all__ = ["METRICS", "Metric", "default_metric", "get_metric", "predict_labels"]

CLASSIFICATION_METRICS = ("accuracy", "error_rate")
REGRESSION_METRICS = ("r2", "mse", "rmse", "mae")
METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS


@dataclass(frozen=True)
class Metric:
    """A named score ``fn(output, target) -> float`` and its direction.

    Args:
        name: Shown in the history (``val_<name>``).
        fn: Maps the model output on a data set and the encoded targets (class indices, or
            float targets for regression) to a float.
        higher_is_better: The direction early stopping uses in ``mode="auto"``.
    """

    name: str
    fn: Callable[[Tensor, Tensor], float]
    higher_is_better: bool

    def __call__(self, output: Tensor, target: Tensor) -> float:
        return float(self.fn(output, target))


def predict_labels(output: Tensor) -> Tensor:
    """Class indices from logits: ``output > 0`` for one logit, else the arg-max.

    >>> predict_labels(torch.tensor([[0.3], [-1.0]]))
    tensor([1, 0])
    """
    if output.dim() == 1 or output.shape[-1] == 1:
        return (output.reshape(-1) > 0).long()
    return output.argmax(dim=-1)


def _accuracy(output: Tensor, target: Tensor) -> float:
    return float((predict_labels(output) == target.reshape(-1).long()).double().mean())


def _error_rate(output: Tensor, target: Tensor) -> float:
    return 1.0 - _accuracy(output, target)


def _residual(output: Tensor, target: Tensor) -> Tensor:
    return (output.reshape(target.shape) - target).double()


def _mse(output: Tensor, target: Tensor) -> float:
    return float(_residual(output, target).pow(2).mean())


def _rmse(output: Tensor, target: Tensor) -> float:
    return float(_residual(output, target).pow(2).mean().sqrt())


def _mae(output: Tensor, target: Tensor) -> float:
    return float(_residual(output, target).abs().mean())


def _r2(output: Tensor, target: Tensor) -> float:
    """Coefficient of determination (averaged uniformly over outputs, as scikit-learn)."""
    t = target.double().reshape(target.shape[0], -1)
    res = _residual(output, target).reshape(t.shape).pow(2).sum(dim=0)
    tot = (t - t.mean(dim=0)).pow(2).sum(dim=0)
    per_output = torch.where(tot > 0, 1.0 - res / tot.clamp_min(1e-300), (res == 0).double())
    return float(per_output.mean())


_BUILTIN: dict[str, Metric] = {
    "accuracy": Metric("accuracy", _accuracy, True),
    "error_rate": Metric("error_rate", _error_rate, False),
    "r2": Metric("r2", _r2, True),
    "mse": Metric("mse", _mse, False),
    "rmse": Metric("rmse", _rmse, False),
    "mae": Metric("mae", _mae, False),
}


def get_metric(name: str, task: str, who: str = "fit") -> Metric:
    """The built-in metric ``name`` for ``task`` (did-you-mean on unknown names).

    >>> get_metric("rmse", "regression").higher_is_better
    False
    """
    choices = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    return _BUILTIN[check_choice(who, "metric", name, choices)]


def default_metric(task: str) -> Metric:
    """Accuracy for classification, R² for regression."""
    return _BUILTIN["r2" if task == "regression" else "accuracy"]
