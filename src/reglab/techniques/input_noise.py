"""Gaussian noise on the numeric inputs while training: ``input-noise=SIGMA``.

Each training step adds ``σ·z``, ``z ~ N(0, 1)`` drawn from the member's own generator, to
every numeric input of the batch; one-hot columns are left alone (:attr:`TrainingBatch.numeric`).
``σ`` is in the inputs' units after preprocessing (standard deviations of the training rows for
table columns). For small ``σ`` it acts as a Tikhonov penalty on the input gradient (Bishop
1995). Evaluation sees the inputs unchanged.

Search range: ``σ`` from 0.01 to 0.5 on a log scale, around the usual 0.1 of standardized
inputs.

>>> import torch
>>> from reglab.techniques.base import TrainingBatch
>>> b = TrainingBatch(torch.zeros(1, 2, 1), torch.zeros(1, 1, 1), torch.ones(1, 1, 1),
...                   torch.tensor([[[1.0], [0.0]]]), "binary")
>>> InputNoise.transform(b, torch.ones(1, 2, 1), {"sigma": torch.tensor([0.5])}).x.flatten()
tensor([0.5000, 0.0000])
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from torch import Tensor

from reglab.techniques.base import Param, Technique, TrainingBatch
from reglab.techniques.registry import register

__all__ = ["InputNoise"]


class InputNoise(Technique):
    """``input-noise=σ``: ``x + σ·z`` on numeric inputs in training, ``z ~ N(0, 1)``."""

    key = "input-noise"
    params = (Param("sigma", 0.01, 0.5, "log"),)
    acts_on = "batch"
    label = "Gaussian input noise"
    order = 92

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        values: Mapping[str, float],
        rows: int,
        shape: tuple[int, int],
    ) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32)

    @classmethod
    def transform(
        cls, batch: TrainingBatch, draws: Tensor, values: Mapping[str, Tensor]
    ) -> TrainingBatch:
        sigma = values["sigma"].view(-1, 1, 1).to(batch.x.dtype)
        return batch.with_(x=batch.x + sigma * batch.numeric * draws)


register(InputNoise)
