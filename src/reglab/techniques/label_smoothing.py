"""Label smoothing (Szegedy et al. 2016): ``label-smoothing=E``.

Classification members train against softened targets: with ``K`` classes,

    ỹ = (1 − E)·y + E/K        (multiclass, one-hot ``y``; binary: ``K = 2`` on the 0/1 target)

so the cross-entropy against ``ỹ`` is ``torch.nn.functional.cross_entropy(...,
label_smoothing=E)`` for multiclass and Keras's ``BinaryCrossentropy(label_smoothing=E)``
for binary. It has no meaning for regression and is refused there.

Search range: ``E`` in [0.01, 0.3], around Szegedy et al.'s 0.1.

>>> import torch
>>> from reglab.techniques.base import TrainingBatch
>>> b = TrainingBatch(torch.zeros(1, 1, 1), torch.tensor([[[1.0], [0.0]]]), torch.ones(1, 1, 1),
...                   torch.ones(1, 1, 1), "multiclass")
>>> LabelSmoothing.transform(b, torch.zeros(1, 0), {"smoothing": torch.tensor([0.1])}).target
tensor([[[0.9500],
         [0.0500]]])
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from reglab.techniques.base import Param, Technique, TrainingBatch
from reglab.techniques.registry import register

__all__ = ["LabelSmoothing", "smooth_labels"]


def smooth_labels(target: Tensor, smoothing: Tensor, classes: int) -> Tensor:
    """``(1 − E)·y + E/K`` per member (``smoothing`` ``[M]``, ``target`` ``[M, T, B]``)."""
    e = smoothing.view(-1, 1, 1).to(target.dtype)
    return (1.0 - e) * target + e / classes


class LabelSmoothing(Technique):
    """``label-smoothing=E``: train against ``(1 − E)·y + E/K`` (classification only)."""

    key = "label-smoothing"
    params = (Param("smoothing", 0.01, 0.3, "linear", maximum=0.99),)
    acts_on = "batch"
    tasks = ("multiclass", "binary")
    label = "label smoothing"
    order = 91

    @classmethod
    def transform(
        cls, batch: TrainingBatch, draws: Tensor, values: Mapping[str, Tensor]
    ) -> TrainingBatch:
        classes = batch.target.shape[1] if batch.task == "multiclass" else 2
        return batch.with_(target=smooth_labels(batch.target, values["smoothing"], classes))


register(LabelSmoothing)
