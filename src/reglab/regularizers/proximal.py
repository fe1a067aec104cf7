"""Proximal L1: soft-threshold after the optimizer step, for exact zeros.

For a loss ``f(w) + l1·Σ|w|`` a proximal-gradient step takes the optimizer's step on ``f``
(and on any L2 part) and then applies the proximal operator of the L1 part,
``w ← sign(w)·max(|w| − t, 0)``. Unlike the subgradient ``l1·sign(w)``, which makes weights
oscillate around zero, this sets small weights **exactly** to zero.

* **SGD**: ``t = lr·l1`` — ISTA, exact for (full-batch) SGD without momentum; with momentum
  it is the usual proximal heuristic.
* **Adam / AdamW**: the step was preconditioned by ``1/(sqrt(v̂) + eps)``, so the threshold is
  too: ``t = lr·l1/(sqrt(v̂) + eps)`` per element, with the bias-corrected second moment
  ``v̂ = exp_avg_sq/(1 − β₂^step)`` read from the optimizer's state (``max_exp_avg_sq`` with
  ``amsgrad=True``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from reglab._validation import message
from reglab.errors import ConfigError
from reglab.regularizers import functional as F
from reglab.regularizers.attach import iter_regularized
from reglab.regularizers.penalties import Regularizer

__all__ = ["SUPPORTED_OPTIMIZERS", "proximal_step", "proximal_threshold"]

SUPPORTED_OPTIMIZERS: tuple[type[torch.optim.Optimizer], ...] = (
    torch.optim.SGD,
    torch.optim.Adam,
    torch.optim.AdamW,
)


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, SUPPORTED_OPTIMIZERS):
        raise ConfigError(
            message(
                "proximal_step",
                "optimizer",
                "a torch.optim.SGD, Adam or AdamW (proximal L1 needs its step size)",
                type(optimizer).__name__,
            )
        )


def proximal_threshold(
    optimizer: torch.optim.Optimizer, param: Tensor, l1: float
) -> float | Tensor | None:
    """The soft-threshold for ``param`` after ``optimizer``'s last step (module docstring).

    Returns ``None`` when the optimizer does not update ``param`` (not in any parameter group,
    or no step taken yet), a float for SGD, and a tensor shaped like ``param`` for Adam(W).
    """
    _check_optimizer(optimizer)
    group = next((g for g in optimizer.param_groups if any(p is param for p in g["params"])), None)
    if group is None:
        return None
    lr = float(group["lr"])
    if isinstance(optimizer, torch.optim.SGD):
        return lr * l1
    state = optimizer.state.get(param, {})
    if "exp_avg_sq" not in state:
        return None
    step = float(state["step"])
    beta2 = float(group["betas"][1])
    v = state["max_exp_avg_sq"] if group.get("amsgrad", False) else state["exp_avg_sq"]
    denom = v.sqrt() / math.sqrt(1.0 - beta2**step) + float(group["eps"])
    return (lr * l1) / denom


@torch.no_grad()
def proximal_step(model: nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    """Soft-threshold every parameter whose regularizer is in proximal mode.

    Call right after ``optimizer.step()`` (and before :func:`apply_constraints`). Parameters
    the optimizer does not update are left alone.

    Returns:
        The names of the thresholded parameters.

    Raises:
        ConfigError: when a proximal regularizer is attached and the optimizer is not SGD,
            Adam or AdamW.

    >>> import torch
    >>> from torch import nn
    >>> from reglab.regularizers import L1, add_regularizer
    >>> net = nn.Linear(3, 1, bias=False)
    >>> _ = net.weight.data.copy_(torch.tensor([[0.05, -0.5, 1.0]]))
    >>> _ = add_regularizer(net, L1(1.0, mode="proximal"))
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> net.weight.grad = torch.zeros_like(net.weight)
    >>> opt.step()
    >>> proximal_step(net, opt)
    ['weight']
    >>> net.weight.data
    tensor([[ 0.0000, -0.4000,  0.9000]])
    """
    names = []
    for name, param, reg in iter_regularized(model):
        if not (isinstance(reg, Regularizer) and reg.proximal):
            continue  # penalty mode, or a plain callable penalty (layers accept those too)
        threshold = proximal_threshold(optimizer, param, reg.l1)
        if threshold is None:
            continue
        param.copy_(F.soft_threshold(param, threshold))
        names.append(name)
    return names
