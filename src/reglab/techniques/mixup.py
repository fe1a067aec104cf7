"""Mixup (Zhang, Cisse, Dauphin and Lopez-Paz 2018): ``mixup=A``.

Each training step, every member draws ``λ ~ Beta(A, A)`` and a permutation ``π`` of its
batch's real rows from its own generator, and trains on the convex combinations

    x̃_j = λ·x_j + (1 − λ)·x_π(j)        ỹ_j = λ·y_j + (1 − λ)·y_π(j)

of inputs and targets: one-hot rows for multiclass (the loss is the cross-entropy against the
mixed one-hot targets), 0/1 for binary, the target itself for regression. Every input column
is mixed, one-hot columns included (as Zhang et al. mix whole examples). Padding rows of a
short last batch are left in place and never chosen as partners.

Search range: ``A`` in [0.05, 1] (Kadra et al. 2021 search mixup's α in [0, 1]; the lower end
is raised to 0.05 so that a switched-on trial mixes at all).

>>> import torch
>>> from reglab.techniques.base import TrainingBatch
>>> b = TrainingBatch(torch.tensor([[[1.0, 3.0]]]), torch.tensor([[[1.0, 0.0]]]),
...                   torch.full((1, 1, 2), 0.5), torch.ones(1, 1, 1), "binary")
>>> draws = torch.tensor([[0.25, 1.0, 0.0]])  # λ = 0.25, π = (1, 0)
>>> out = Mixup.transform(b, draws, {"alpha": torch.tensor([0.2])})
>>> out.x.tolist(), out.target.tolist()
([[[2.5, 1.5]]], [[[0.25, 0.75]]])
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from reglab.techniques.base import Param, Technique, TrainingBatch
from reglab.techniques.registry import register

__all__ = ["Mixup", "mix"]


def mix(values: Tensor, lam: Tensor, perm: Tensor) -> Tensor:
    """``λ·v + (1 − λ)·v[..., π]`` of ``values`` ``[M, D, B]`` with ``λ`` ``[M]`` and ``π``
    ``[M, B]`` (integer positions)."""
    partner = torch.gather(values, 2, perm.unsqueeze(1).expand(-1, values.shape[1], -1))
    lam = lam.view(-1, 1, 1).to(values.dtype)
    return lam * values + (1.0 - lam) * partner


class Mixup(Technique):
    """``mixup=A``: train on convex combinations of row pairs, ``λ ~ Beta(A, A)``."""

    key = "mixup"
    params = (Param("alpha", 0.05, 1.0, "linear"),)
    acts_on = "batch"
    label = "mixup"
    order = 90

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        values: Mapping[str, float],
        rows: int,
        shape: tuple[int, int],
    ) -> np.ndarray:
        """``[λ, π(0), …, π(B−1)]``: ``π`` permutes the first ``rows`` positions."""
        batch = shape[1]
        out = np.arange(-1, batch, dtype=np.float32)
        out[0] = rng.beta(values["alpha"], values["alpha"])
        out[1 : rows + 1] = rng.permutation(rows)
        return out

    @classmethod
    def transform(
        cls, batch: TrainingBatch, draws: Tensor, values: Mapping[str, Tensor]
    ) -> TrainingBatch:
        on = (values["alpha"] > 0).view(-1, 1, 1)
        lam, perm = draws[:, 0], draws[:, 1:].to(torch.int64).clamp(min=0)
        x = torch.where(on, mix(batch.x, lam, perm), batch.x)
        target = torch.where(on, mix(batch.target, lam, perm), batch.target)
        return batch.with_(x=x, target=target)


register(Mixup)
