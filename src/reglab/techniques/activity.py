"""Keras's activity regularizer on hidden outputs: ``activity-l1=``, ``activity-l2=``.

Per member and training step, with ``h`` every hidden block's output (after the activation)
on the member's mini-batch of ``n`` rows::

    activity-l1:  strength · Σ|h| / n          activity-l2:  strength · Σh² / n

Keras divides a layer's activity penalty by the batch size; reglab applies it to every hidden
block. It has no fused form, so strategies using it train on the engine's generic backend.

>>> import torch
>>> from reglab.techniques.base import Batch
>>> h = torch.tensor([[[1.0, -2.0], [0.0, 3.0]]])  # [M=1, units=2, B=2]
>>> w = torch.full((1, 1, 2), 0.5)
>>> ActivityL2.penalty(Batch([], [], [h], w), {"strength": torch.tensor([0.1])})
tensor([0.7000])
>>> ActivityL1.penalty(Batch([], [], [h], w), {"strength": torch.tensor([0.1])})
tensor([0.3000])
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from reglab.techniques.base import Batch, Param, Technique
from reglab.techniques.registry import register

__all__ = ["ActivityL1", "ActivityL2"]


def _activity(batch: Batch, strength: Tensor, square: bool) -> Tensor:
    total = strength.new_zeros(strength.shape)
    for h in batch.hidden:
        size = h * h if square else h.abs()
        per_row = size.sum(1, keepdim=True)  # [M, 1, B]
        if batch.row_weight is None:
            total = total + per_row.mean((1, 2))
        else:
            total = total + (per_row * batch.row_weight).sum((1, 2))
    return strength * total


class ActivityL1(Technique):
    """``activity-l1=S``: ``S·Σ|h|`` over hidden outputs, ÷ batch size (Keras)."""

    key = "activity-l1"
    params = (Param("strength", 1e-6, 1e-2, "log"),)
    acts_on = "penalty"
    label = "activity L1"
    order = 62

    @classmethod
    def penalty(cls, batch: Batch, values: Mapping[str, Tensor]) -> Tensor:
        return _activity(batch, values["strength"], square=False)


class ActivityL2(Technique):
    """``activity-l2=S``: ``S·Σh²`` over hidden outputs, ÷ batch size (Keras)."""

    key = "activity-l2"
    params = (Param("strength", 1e-6, 1e-2, "log"),)
    acts_on = "penalty"
    label = "activity L2"
    order = 64

    @classmethod
    def penalty(cls, batch: Batch, values: Mapping[str, Tensor]) -> Tensor:
        return _activity(batch, values["strength"], square=True)


register(ActivityL1)
register(ActivityL2)
