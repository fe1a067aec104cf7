"""Pure, member-batched arithmetic of the dropout family and DropConnect.

The caller supplies the randomness: ``u`` is uniform noise in [0, 1) shaped like the tensor
being masked (or broadcastable to it, e.g. ``[M, B, C, 1, 1]`` for spatial dropout), and
``z`` is standard-normal noise. Keeping random number generation outside these functions lets
a single model use a ``torch.Generator`` and the engine use one independent stream per member,
with the same arithmetic. Rates ``p`` are a float or a per-member tensor ``[M]``; the leading
dimension of ``x`` is the member dimension.

All variants use inverted scaling (the expectation is preserved in training) and are the
identity in evaluation (the callers simply do not call them).

>>> import torch
>>> x = torch.ones(1, 4)
>>> dropout(x, 0.5, torch.tensor([[0.1, 0.6, 0.7, 0.2]]))
tensor([[0., 2., 2., 0.]])
"""

from __future__ import annotations

import torch
from torch import Tensor

from reglab.regularizers.functional import Strength, per_member

__all__ = [
    "ALPHA_DROPOUT_ALPHA_PRIME",
    "alpha_dropout",
    "drop_connect",
    "dropout",
    "dropout_mask",
    "gaussian_dropout",
    "gaussian_noise",
]

# SELU: alpha' = -lambda * alpha (Klambauer et al., 2017)
ALPHA_DROPOUT_ALPHA_PRIME = -1.7580993408473766


def dropout_mask(u: Tensor, p: Strength, *, out: Tensor | None = None) -> Tensor:
    """Inverted-dropout multiplier: ``1/(1−p)`` where ``u ≥ p``, else 0 (``p`` per member).

    ``out`` (shaped like ``u``, ``u``'s dtype) receives the multipliers instead of a new
    tensor; the values are the same bits.

    >>> dropout_mask(torch.tensor([[0.1, 0.9]]), 0.2)
    tensor([[0.0000, 1.2500]])
    """
    pm = per_member(p, u)
    if out is not None:
        # The comparison written into ``out`` as 0/1, then scaled in place: two vectorized
        # passes. Dividing the boolean (a cast in every element) took 13× as long.
        torch.ge(u, pm, out=out)
        return out.mul_(1.0 / (1.0 - pm))
    return (u >= pm).to(u.dtype) / (1.0 - pm)


def dropout(x: Tensor, p: Strength, u: Tensor) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by 1/(1−p)."""
    return x * dropout_mask(u.to(x.dtype), p)


def gaussian_dropout(x: Tensor, p: Strength, z: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Multiplicative Gaussian noise ``x · N(1, p/(1−p))`` (Keras ``GaussianDropout``):
    ``x · (1 + sqrt(p/(1−p))·z)``.

    ``out`` (shaped like ``z``, with ``x`` broadcasting to it) receives the result instead of
    a new tensor; the values are the same bits.

    >>> gaussian_dropout(torch.ones(1, 2), 0.5, torch.tensor([[1.0, -1.0]]))
    tensor([[2., 0.]])
    """
    pm = per_member(p, x)
    scale = torch.sqrt(pm / (1.0 - pm))
    if out is not None:  # the same three roundings, in ``out``'s memory
        return torch.mul(z.to(x.dtype), scale, out=out).add_(1.0).mul_(x)
    return x * (1.0 + scale * z.to(x.dtype))


def gaussian_noise(x: Tensor, stddev: Strength, z: Tensor) -> Tensor:
    """Additive Gaussian noise ``x + stddev · z`` (Keras ``GaussianNoise``)."""
    return x + per_member(stddev, x) * z.to(x.dtype)


def alpha_dropout(x: Tensor, p: Strength, u: Tensor) -> Tensor:
    """Alpha dropout for SELU networks: keeps mean and variance (Klambauer et al., 2017).

    Dropped units are set to ``α'`` and an affine correction ``a·x + b`` restores the
    self-normalizing statistics.
    """
    pm = per_member(p, x)
    keep = (u.to(x.dtype) >= pm).to(x.dtype)
    a = 1.0 / torch.sqrt((1 - pm) * (1 + pm * ALPHA_DROPOUT_ALPHA_PRIME**2))
    b = -a * ALPHA_DROPOUT_ALPHA_PRIME * pm
    return a * (x * keep + ALPHA_DROPOUT_ALPHA_PRIME * (1 - keep)) + b


def drop_connect(w: Tensor, p: Strength, u: Tensor) -> Tensor:
    """A DropConnect weight sample: ``w ⊙ mask / (1−p)``; a new tensor, ``w`` is untouched.

    At inference DropConnect uses the weights themselves (weight scaling: with inverted
    scaling the expected weight is ``w``), so no call is needed there.
    """
    return dropout(w, p, u)
