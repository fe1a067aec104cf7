"""Model outputs against targets: target tensors, output width checks, default losses.

Regression targets are ``[n, k]`` floats (a 1-d ``y`` is one column); classification targets
are class indices ``[n]``. Default losses: MSE (no ½) for regression, ``BCEWithLogits`` for a
binary model with one logit, cross-entropy otherwise; all are batch means.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reglab.errors import DataError
from reglab.training._loop import LossFn

__all__ = ["check_outputs", "default_loss", "probe", "target_tensor"]


def target_tensor(values: np.ndarray, task: str, dtype: torch.dtype, dev: torch.device) -> Tensor:
    if task == "regression":  # always [n, k]: a 1-d target is one column, like the output
        return torch.as_tensor(values.reshape(len(values), -1), dtype=dtype, device=dev)
    return torch.as_tensor(values, dtype=torch.long, device=dev)


@torch.no_grad()
def probe(model: nn.Module, X: Tensor) -> int:
    """Number of outputs per sample, from one evaluation-mode forward pass on two rows."""
    model.eval()
    out = model(X[:2])
    return 1 if out.dim() == 1 else int(out[0].numel())


def check_outputs(who: str, task: str, n_outputs: int, *targets: Tensor | None) -> None:
    if task == "regression":
        for t in targets:
            if t is None:
                continue
            width = int(t[0].numel())
            if width != n_outputs:
                raise DataError(
                    f"{who}: `model` must be a model with {width} output(s) per sample "
                    f"(the width of `y`); got {n_outputs}."
                )
        return
    if task == "binary":
        if n_outputs not in (1, 2):
            raise DataError(
                f"{who}: `model` must be a model with 1 logit (or 2) per sample for task "
                f"'binary'; got {n_outputs}."
            )
        return
    for t in targets:
        if t is not None and int(t.max()) >= n_outputs:
            raise DataError(
                f"{who}: `model` must be a model with one logit per class "
                f"({int(t.max()) + 1} or more) for task 'multiclass'; got {n_outputs}."
            )


def default_loss(task: str, n_outputs: int) -> LossFn:
    if task == "regression":

        def mse(output: Tensor, target: Tensor) -> Tensor:
            return F.mse_loss(output.reshape(target.shape), target)

        return mse
    if task == "binary" and n_outputs == 1:

        def bce(output: Tensor, target: Tensor) -> Tensor:
            return F.binary_cross_entropy_with_logits(output.reshape(-1), target.to(output.dtype))

        return bce

    def cross_entropy(output: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(output, target)

    return cross_entropy
