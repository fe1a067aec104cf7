"""Group L1 on input features (``group-l1=S``): neural feature selection with exact zeros.

Each input feature ``j`` owns the column ``W[:, j]`` of the first layer's kernel, its outgoing
weights. After every optimizer step the column is shrunk towards zero as a group, by the
proximal operator of ``S·Σ_j ‖W[:, j]‖₂`` (the group lasso, Yuan & Lin 2006) with step size the
member's learning rate ``η``::

    W[:, j] ← W[:, j] · max(0, 1 − η·S / ‖W[:, j]‖₂)

so a feature whose outgoing weights are weak leaves the network exactly, while the others are
shrunk evenly. With ``group-l1=S:A`` (sparse group lasso, Simon et al. 2013) an element-wise
soft-threshold ``η·A`` runs first, thinning the weights inside the surviving columns too.
Proximal steps with an adaptive optimizer use the plain ``η``: the threshold is not scaled by
Adam's per-weight step (as in LassoNet's implementation). A strength path over ``S``
(``reglab path DATA --technique group-l1``) counts the surviving features at each strength,
and ``reglab select`` builds the selection on it.

>>> import torch
>>> w = torch.tensor([[[3.0, 0.1], [4.0, 0.0]]])  # [M=1, out=2, in=2]: feature norms 5, 0.1
>>> GroupL1.project(w, {"strength": torch.tensor([1.0]), "lr": torch.tensor([1.0])})
tensor([[[2.4000, 0.0000],
         [3.2000, 0.0000]]])
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from reglab.techniques.base import Param, Technique
from reglab.techniques.registry import register

__all__ = ["GroupL1", "group_soft_threshold"]


def group_soft_threshold(kernel: Tensor, threshold: Tensor) -> Tensor:
    """``kernel`` ``[M, out, in]`` with each input column shrunk by ``threshold`` ``[M]``."""
    norms = torch.linalg.vector_norm(kernel, dim=1, keepdim=True)  # [M, 1, in]
    t = threshold.view(-1, 1, 1)
    scale = torch.clamp(1.0 - t / torch.clamp(norms, min=torch.finfo(kernel.dtype).tiny), min=0.0)
    return kernel * scale


class GroupL1(Technique):
    """``group-l1=S`` or ``group-l1=S:A``: group lasso on input features (first layer)."""

    key = "group-l1"
    params = (
        Param("strength", 0.3, 30.0, "log"),  # Adam steps each weight ~lr: shrink must match
        Param("within", 1e-4, 1e-1, "log"),
    )
    acts_on = "projection"
    layers = "first"
    sparsifies_inputs = True
    label = "group L1 on inputs"
    order = 66

    def __init__(self, strength: float, within: float = 0.0) -> None:
        super().__init__(strength=strength, within=within)

    @classmethod
    def project(cls, kernel: Tensor, values: Mapping[str, Tensor]) -> Tensor:
        lr = values["lr"].to(kernel.dtype)
        within = values.get("within")
        if within is not None and bool((within > 0).any()):
            t = (lr * within).view(-1, 1, 1)
            kernel = torch.sign(kernel) * torch.clamp(kernel.abs() - t, min=0.0)
        return group_soft_threshold(kernel, lr * values["strength"])


register(GroupL1)
