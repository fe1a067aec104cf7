"""Variational dropout layers for one's own models: ``SparseVDLinear`` and
``LearnedDropoutLinear``, and converters that give an existing model's ``nn.Linear`` layers
either technique in place.

Both are ``nn.Linear`` layers (``weight`` is ``θ``, the posterior's mean) with one more learned
tensor and thin shells over :mod:`reglab.layers.variational`:

* in training, the pre-activations are sampled by the local reparameterization trick, and
  ``activity_loss`` holds the layer's ``KL / n_train`` (the ELBO per training example), which
  :func:`reglab.regularizers.regularization_loss`, and so :func:`reglab.fit`, add to the loss;
* in evaluation, :class:`SparseVDLinear` uses its pruned kernel (exact zeros where
  ``log α > threshold``) and :class:`LearnedDropoutLinear` its mean ``θ``.

The noise comes from ``generator``: a ``torch.Generator`` (``reglab.fit`` seeds a ``None`` one,
as for dropout) or a ``numpy.random.Generator``, whose standard-normal draws of shape
``[out, rows]`` are the engine's draws for a member (a model whose layers share one such
generator reproduces an engine member).

>>> import torch
>>> from torch import nn
>>> model = sparse_vd(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), n_train=100)
>>> type(model[0]).__name__, sorted(model[0].state_dict())
('SparseVDLinear', ['bias', 'log_sigma2', 'weight'])
>>> out = model.train()(torch.ones(3, 4))
>>> bool(model[0].activity_loss > 0)
True
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reglab._validation import Problems, check_int, check_nonnegative, message
from reglab.errors import ConfigError
from reglab.layers import variational as vf
from reglab.layers._noise import normal

__all__ = [
    "LearnedDropoutLinear",
    "SparseVDLinear",
    "learned_dropout",
    "sparse_vd",
]

ModuleT = TypeVar("ModuleT", bound=nn.Module)
Generator = torch.Generator | np.random.Generator | None

SPARSE_VD_INIT = -10.0
"""Initial ``log σ²`` of every weight (Molchanov et al.'s code): almost deterministic weights."""

_COPIED = ("_reglab_regularizers", "_reglab_constraints")


def _check_common(p: Problems, who: str, n_train: Any, generator: Any) -> None:
    if n_train is not None:
        p.check(check_int, who, "n_train", n_train, minimum=1)
    if generator is not None and not isinstance(generator, torch.Generator | np.random.Generator):
        p.add(message(who, "generator", "a torch.Generator, a numpy Generator or None", generator))


class _Variational(nn.Linear):
    """The shared shell: noise, the KL's weighting and the column layout of the maths."""

    activity_loss: Tensor | None

    def __init__(
        self, in_features: int, out_features: int, bias: bool, n_train: int | None, generator: Any
    ) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.n_train = n_train
        self.generator = generator
        self.activity_loss = None
        self.warmup = 0.0
        self.rows_seen = 0  # training rows so far: the epoch of a KL warm-up

    def _noise(self, shape: tuple[int, int], like: Tensor) -> Tensor:
        g = self.generator
        if isinstance(g, np.random.Generator):
            return torch.from_numpy(g.standard_normal(shape, dtype=np.float32)).to(like)
        return normal(shape, like, g)

    def _sample(self, x: Tensor, dense: Any, extra: Tensor) -> Tensor:
        if self.n_train is None:
            raise ConfigError(
                f"{type(self).__name__}: `n_train` must be set (the number of training rows) "
                "to train; got None."
            )
        rows = x.reshape(-1, self.in_features)
        cols = rows.T.unsqueeze(0)  # [1, in, B]
        bias = self.bias if self.bias is not None else rows.new_zeros(self.out_features)
        noise = self._noise((self.out_features, rows.shape[0]), rows).unsqueeze(0)
        out = dense(cols, self.weight.unsqueeze(0), bias.view(1, -1, 1), extra, noise)
        kl = self.kl()
        n = torch.tensor([float(self.n_train)], dtype=kl.dtype, device=kl.device)
        epoch = torch.tensor([float(self.rows_seen // self.n_train)], dtype=kl.dtype)
        beta = vf.kl_warmup(epoch, torch.tensor([self.warmup], dtype=kl.dtype)).to(kl.device)
        self.activity_loss = (beta * vf.kl_per_example(kl.view(1), n))[0]
        self.rows_seen += rows.shape[0]
        return out[0].T.reshape(*x.shape[:-1], self.out_features)

    def kl(self) -> Tensor:
        raise NotImplementedError


class SparseVDLinear(_Variational):
    """Sparse variational dropout on a linear layer (Molchanov, Ashukha & Vetrov, 2017).

    ``W ~ N(θ, σ²)`` with ``θ = weight`` and a learned ``log_sigma2`` per weight. Training
    samples the pre-activations (mean ``x·θᵀ + b``, variance ``x²·(α·θ²)ᵀ``) and sets
    ``activity_loss = KL / n_train``; evaluation uses :attr:`pruned_weight`. See
    :mod:`reglab.layers.variational` for the maths.

    Args:
        in_features, out_features, bias: As ``nn.Linear``.
        n_train: The number of training rows ``N`` (the KL's weight is ``1/N``); needed to
            train, not to predict.
        threshold: Weights with ``log α > threshold`` are pruned at evaluation (paper: 3).
        warmup: KL warm-up in epochs: the KL's weight rises from 0 in the first epoch to 1
            from epoch ``warmup + 1`` (:func:`~reglab.layers.variational.kl_warmup`; epochs are
            counted as ``n_train`` training rows seen). 0: none.
        generator: The noise source (see the module docstring).

    >>> layer = SparseVDLinear(3, 2, n_train=10)
    >>> float(layer.sparsity())
    0.0
    >>> with torch.no_grad():
    ...     layer.log_sigma2[0, 0] = 10.0  # α huge: the weight is noise, pruned
    >>> round(float(layer.sparsity()), 4), layer.pruned_weight()[0, 0].item()
    (0.1667, 0.0)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        n_train: int | None = None,
        threshold: float = 3.0,
        warmup: float = 0.0,
        generator: Generator = None,
    ) -> None:
        p = Problems()
        p.check(check_int, "SparseVDLinear", "in_features", in_features, minimum=1)
        p.check(check_nonnegative, "SparseVDLinear", "warmup", warmup)
        p.check(check_int, "SparseVDLinear", "out_features", out_features, minimum=1)
        _check_common(p, "SparseVDLinear", n_train, generator)
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not (-vf.LOG_ALPHA_CLIP <= threshold <= vf.LOG_ALPHA_CLIP)
        ):
            p.add(message("SparseVDLinear", "threshold", "a log α in [-8, 8]", threshold))
        p.raise_if_any()
        super().__init__(in_features, out_features, bias, n_train, generator)
        self.threshold = float(threshold)
        self.warmup = float(warmup)
        self.log_sigma2 = nn.Parameter(torch.full((out_features, in_features), SPARSE_VD_INIT))

    def log_alpha(self) -> Tensor:
        """``log α = log σ² − log θ²`` per weight, clipped to ``[−8, 8]``."""
        return vf.sparse_vd_log_alpha(self.weight, self.log_sigma2)

    def kl(self) -> Tensor:
        """The layer's KL approximation (a 0-d tensor)."""
        return vf.sparse_vd_kl(self.weight.unsqueeze(0), self.log_sigma2.unsqueeze(0))[0]

    def pruned_weight(self) -> Tensor:
        """``θ`` with exact zeros where ``log α > threshold``."""
        t = torch.tensor([self.threshold], dtype=self.weight.dtype, device=self.weight.device)
        return vf.sparse_vd_kernel(self.weight.unsqueeze(0), self.log_sigma2.unsqueeze(0), t)[0]

    def sparsity(self) -> Tensor:
        """The fraction of pruned weights (no gradient)."""
        with torch.no_grad():
            return (self.pruned_weight() == 0).double().mean()

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            self.activity_loss = None
            return F.linear(x, self.pruned_weight(), self.bias)
        return self._sample(x, vf.sparse_vd_dense, self.log_sigma2.unsqueeze(0))

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, n_train={self.n_train}, threshold={self.threshold:g}, "
            f"warmup={self.warmup:g}"
        )


class LearnedDropoutLinear(_Variational):
    """A linear layer whose inputs get Gaussian dropout ``N(1, α)`` with a learned ``α``
    (variational dropout, Kingma, Salimans & Welling, 2015).

    ``log_alpha`` is ``[1, in_features]`` (one ``α`` per input unit) or ``[1, 1]``
    (``per_layer=True``), clipped to ``α ≤ 1``. Training samples the pre-activations by the
    local reparameterization trick and sets ``activity_loss = KL / n_train``; evaluation is the
    plain linear layer.

    Args:
        in_features, out_features, bias: As ``nn.Linear``.
        n_train: The number of training rows ``N``; needed to train.
        alpha: The initial ``α`` (``p/(1−p)`` of an equivalent dropout rate), in ``(0, 1]``.
        per_layer: One ``α`` for the whole layer instead of one per input unit.
        generator: The noise source (see the module docstring).

    >>> layer = LearnedDropoutLinear(3, 2, n_train=10, alpha=0.25)
    >>> layer.log_alpha.shape, round(layer.alpha().mean().item(), 4)
    (torch.Size([1, 3]), 0.25)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        n_train: int | None = None,
        alpha: float = 0.25,
        per_layer: bool = False,
        generator: Generator = None,
    ) -> None:
        p = Problems()
        who = "LearnedDropoutLinear"
        p.check(check_int, who, "in_features", in_features, minimum=1)
        p.check(check_int, who, "out_features", out_features, minimum=1)
        _check_common(p, who, n_train, generator)
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 1:
            p.add(message(who, "alpha", "a number in (0, 1]", alpha))
        if not isinstance(per_layer, bool):
            p.add(message(who, "per_layer", "a bool", per_layer))
        p.raise_if_any()
        super().__init__(in_features, out_features, bias, n_train, generator)
        self.per_layer = per_layer
        shape = (1, 1) if per_layer else (1, in_features)
        self.log_alpha = nn.Parameter(torch.full(shape, math.log(alpha)))

    def alpha(self) -> Tensor:
        """The learned ``α`` (clipped to ``α ≤ 1``), without gradient."""
        return torch.exp(torch.clamp(self.log_alpha.detach(), *vf.LEARNED_DROPOUT_CLIP))

    def kl(self) -> Tensor:
        """The layer's KL approximation, one term per ``α`` (a 0-d tensor)."""
        return vf.learned_dropout_kl(self.log_alpha.unsqueeze(0))[0]

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            self.activity_loss = None
            return F.linear(x, self.weight, self.bias)
        return self._sample(x, vf.learned_dropout_dense, self.log_alpha.unsqueeze(0))


def _convert(model: ModuleT, make: Any, who: str = "", path: str = "model") -> ModuleT:
    """Replace every ``nn.Linear`` below ``model`` by ``make(linear)``, keeping its weights,
    regularizers and constraints (a layer with an activation of its own is refused)."""
    if isinstance(model, _Variational):
        return model
    for name, child in list(model.named_children()):
        if isinstance(child, _Variational):
            continue
        if isinstance(child, nn.Linear):
            activation = getattr(child, "activation", None)
            if activation not in (None, "identity"):
                raise ConfigError(
                    message(
                        who,
                        f"{path}.{name}",
                        "a linear layer without an activation of its own (put the activation "
                        "in a module after it)",
                        f"activation={activation!r}",
                    )
                )
            new = make(child).to(device=child.weight.device, dtype=child.weight.dtype)
            with torch.no_grad():
                new.weight.copy_(child.weight)
                if child.bias is not None:
                    new.bias.copy_(child.bias)
            for attr in _COPIED:
                if attr in vars(child):
                    setattr(new, attr, dict(vars(child)[attr]))
            setattr(model, name, new)
        else:
            _convert(child, make, who, f"{path}.{name}")
    return model


def sparse_vd(
    model: ModuleT,
    n_train: int | None,
    *,
    threshold: float = 3.0,
    warmup: float = 0.0,
    generator: Generator = None,
) -> ModuleT:
    """Give every ``nn.Linear`` of ``model`` sparse variational dropout, in place.

    Each becomes a :class:`SparseVDLinear` with the same ``weight``, ``bias`` and attached
    regularizers (``log σ²`` starts at −10); the layers share ``generator``. Returns ``model``.
    """
    SparseVDLinear(1, 1, n_train=n_train, threshold=threshold, warmup=warmup, generator=generator)
    return _convert(
        model,
        lambda lin: SparseVDLinear(
            lin.in_features,
            lin.out_features,
            lin.bias is not None,
            n_train=n_train,
            threshold=threshold,
            warmup=warmup,
            generator=generator,
        ),
        "sparse_vd",
    )


def learned_dropout(
    model: ModuleT,
    n_train: int | None,
    *,
    alpha: float = 0.25,
    per_layer: bool = False,
    generator: Generator = None,
) -> ModuleT:
    """Give every ``nn.Linear`` of ``model`` learned Gaussian dropout on its inputs, in place
    (each becomes a :class:`LearnedDropoutLinear`). Returns ``model``."""
    LearnedDropoutLinear(1, 1, n_train=n_train, alpha=alpha, per_layer=per_layer)  # validate
    return _convert(
        model,
        lambda lin: LearnedDropoutLinear(
            lin.in_features,
            lin.out_features,
            lin.bias is not None,
            n_train=n_train,
            alpha=alpha,
            per_layer=per_layer,
            generator=generator,
        ),
        "learned_dropout",
    )
