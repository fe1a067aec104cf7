"""The dropout family as modules (Keras names and semantics), thin shells over the functional core.

Every layer is the identity in evaluation mode (``module.eval()``) and, in training mode, draws
fresh noise on each call and passes it to :mod:`reglab.layers.functional`. All use inverted
scaling, so the expected output equals the input and no rescaling is needed at inference.

=================== ====================================================== ==============
layer               training-mode output                                   parameter
=================== ====================================================== ==============
Dropout             ``x·m/(1−p)``, ``m ~ Bernoulli(1−p)`` per element      ``p`` in [0, 1)
GaussianDropout     ``x·(1 + √(p/(1−p))·z)``, ``z ~ N(0, 1)``              ``p`` in [0, 1)
GaussianNoise       ``x + σ·z``                                            ``stddev`` ≥ 0
AlphaDropout        ``a·(x·m + α'·(1−m)) + b`` (keeps mean 0, variance 1)  ``p`` in [0, 1)
SpatialDropout1d    ``x·m/(1−p)``, one ``m`` per (sample, channel)         ``p`` in [0, 1)
SpatialDropout2d    same, input ``[B, C, H, W]``                           ``p`` in [0, 1)
=================== ====================================================== ==============

Randomness is injected: pass ``generator=torch.Generator().manual_seed(s)`` for reproducible
masks; without one, torch's default generator for the input's device is used.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from reglab._config import Configurable
from reglab._validation import check_fraction, check_nonnegative
from reglab.errors import DataError
from reglab.layers import functional as lf
from reglab.layers._noise import normal, uniform

__all__ = [
    "AlphaDropout",
    "Dropout",
    "GaussianDropout",
    "GaussianNoise",
    "SpatialDropout1d",
    "SpatialDropout2d",
]


class _RandomLayer(nn.Module, Configurable):
    """Shared plumbing: the optional generator, which is runtime state and not configuration."""

    generator: torch.Generator | None

    def get_config(self) -> dict[str, Any]:
        """The ``__init__`` arguments except ``generator`` (a generator is not serializable)."""
        config = super().get_config()
        config.pop("generator", None)
        return config


class _RateLayer(_RandomLayer):
    """A layer with a drop rate ``p`` in [0, 1)."""

    def __init__(self, p: float = 0.5, *, generator: torch.Generator | None = None) -> None:
        rate = check_fraction(type(self).__name__, "p", p)
        super().__init__()
        self.p = rate
        self.generator = generator

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout(_RateLayer):
    """Inverted dropout (Keras ``Dropout``, torch ``nn.Dropout``).

    In training, each element is zeroed with probability ``p`` and the survivors are scaled by
    ``1/(1−p)``, so ``E[output] = x``; in evaluation the layer is the identity.

    Args:
        p: Drop probability, a float in [0, 1).
        generator: Source of the masks (default: torch's default generator).

    >>> import torch
    >>> layer = Dropout(0.5, generator=torch.Generator().manual_seed(0))
    >>> layer(torch.ones(2, 4))
    tensor([[0., 2., 0., 0.],
            [0., 2., 0., 2.]])
    >>> layer.eval()(torch.ones(2, 4))
    tensor([[1., 1., 1., 1.],
            [1., 1., 1., 1.]])
    >>> Dropout(1.5)
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: Dropout: `p` must be a float in [0, 1); got 1.5.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        return lf.dropout(x, self.p, uniform(tuple(x.shape), x, self.generator))


class GaussianDropout(_RateLayer):
    """Multiplicative Gaussian noise of mean 1, variance ``p/(1−p)`` (Keras ``GaussianDropout``).

    ``output = x·(1 + √(p/(1−p))·z)``, ``z ~ N(0, 1)`` per element: the same mean and variance
    as :class:`Dropout` with rate ``p`` (Srivastava et al., 2014, §10). Identity in evaluation.

    Args:
        p: Equivalent drop probability, a float in [0, 1).
        generator: Source of the noise (default: torch's default generator).

    >>> import torch
    >>> layer = GaussianDropout(0.2, generator=torch.Generator().manual_seed(0))
    >>> y = layer(torch.ones(10_000))
    >>> round(y.mean().item(), 1), round(y.var().item(), 2)       # 1 and 0.2/0.8
    (1.0, 0.25)
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        return lf.gaussian_dropout(x, self.p, normal(tuple(x.shape), x, self.generator))


class GaussianNoise(_RandomLayer):
    """Additive zero-mean Gaussian noise ``x + stddev·z`` (Keras ``GaussianNoise``).

    Identity in evaluation. A data-augmentation style regularizer, often put on the inputs.

    Args:
        stddev: Standard deviation of the noise, a finite float >= 0.
        generator: Source of the noise (default: torch's default generator).

    >>> import torch
    >>> layer = GaussianNoise(0.5, generator=torch.Generator().manual_seed(0))
    >>> y = layer(torch.zeros(10_000))
    >>> round(y.std().item(), 1)
    0.5
    """

    def __init__(self, stddev: float = 0.1, *, generator: torch.Generator | None = None) -> None:
        value = check_nonnegative("GaussianNoise", "stddev", stddev)
        super().__init__()
        self.stddev = value
        self.generator = generator

    def extra_repr(self) -> str:
        return f"stddev={self.stddev}"

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.stddev == 0.0:
            return x
        return lf.gaussian_noise(x, self.stddev, normal(tuple(x.shape), x, self.generator))


class AlphaDropout(_RateLayer):
    """Alpha dropout for self-normalizing (SELU) networks (Keras ``AlphaDropout``).

    Dropped units are set to SELU's negative saturation ``α' = −λ·α ≈ −1.7581`` instead of 0, and
    the affine correction ``a·(x·m + α'·(1−m)) + b`` with ``a = ((1−p)(1 + p·α'²))^(−1/2)`` and
    ``b = −a·α'·p`` keeps zero mean and unit variance (Klambauer et al., 2017). Identity in
    evaluation.

    Args:
        p: Drop probability, a float in [0, 1).
        generator: Source of the masks (default: torch's default generator).

    >>> import torch
    >>> layer = AlphaDropout(0.1, generator=torch.Generator().manual_seed(0))
    >>> y = layer(torch.randn(20_000, generator=torch.Generator().manual_seed(1)))
    >>> round(y.mean().item(), 1), round(y.var().item(), 1)
    (0.0, 1.0)
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        return lf.alpha_dropout(x, self.p, uniform(tuple(x.shape), x, self.generator))


class _SpatialDropout(_RateLayer):
    _ndim: int
    _layout: str

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != self._ndim:
            raise DataError(
                f"{type(self).__name__}: `input` must be a {self._ndim}-d tensor {self._layout}; "
                f"got a tensor of shape {tuple(x.shape)}."
            )
        if not self.training or self.p == 0.0:
            return x
        shape = (x.shape[0], x.shape[1]) + (1,) * (self._ndim - 2)
        return lf.dropout(x, self.p, uniform(shape, x, self.generator))


class SpatialDropout1d(_SpatialDropout):
    """Dropout of whole channels of ``[batch, channels, length]`` inputs (``SpatialDropout1D``).

    One Bernoulli draw per (sample, channel): a dropped channel is zero along its whole length,
    a kept one is scaled by ``1/(1−p)``. Use it after 1-d convolutions, whose neighbouring
    positions are strongly correlated so element-wise dropout barely regularizes them
    (Tompson et al., 2015). Note torch's channels-first layout (Keras is channels-last).

    Args:
        p: Drop probability of a channel, a float in [0, 1).
        generator: Source of the masks (default: torch's default generator).

    >>> import torch
    >>> layer = SpatialDropout1d(0.5, generator=torch.Generator().manual_seed(0))
    >>> layer(torch.ones(1, 3, 4))
    tensor([[[0., 0., 0., 0.],
             [2., 2., 2., 2.],
             [0., 0., 0., 0.]]])
    """

    _ndim = 3
    _layout = "[batch, channels, length]"


class SpatialDropout2d(_SpatialDropout):
    """Dropout of whole feature maps of ``[batch, channels, height, width]`` inputs.

    Keras ``SpatialDropout2D`` in torch's channels-first layout: one Bernoulli draw per
    (sample, channel), a dropped map is zero everywhere, a kept one is scaled by ``1/(1−p)``.

    Args:
        p: Drop probability of a feature map, a float in [0, 1).
        generator: Source of the masks (default: torch's default generator).

    >>> import torch
    >>> layer = SpatialDropout2d(0.5, generator=torch.Generator().manual_seed(0))
    >>> y = layer(torch.ones(2, 3, 4, 4))
    >>> y.amax(dim=(2, 3)).equal(y.amin(dim=(2, 3)))     # each map is all 0 or all 2
    True
    """

    _ndim = 4
    _layout = "[batch, channels, height, width]"
