"""MC-dropout (Gal & Ghahramani, 2016): predictions averaged over dropout masks at test time.

A network trained with dropout is, read as a Bayesian model, a variational approximation whose
predictive distribution is sampled by keeping the dropout masks on at prediction time. Only the
dropout family is switched on: :class:`~reglab.layers.Dropout`, Gaussian and alpha dropout,
spatial dropout and DropConnect (by :func:`~reglab.layers.drop_connect` or
:class:`~reglab.layers.DropConnectLinear`). Everything else stays in evaluation mode; batch
norm keeps using its running statistics, and additive :class:`~reglab.layers.GaussianNoise`
stays off (it is a training-time perturbation, not a dropout posterior).

>>> import torch
>>> from reglab.layers import MLP
>>> net = MLP(4, 3, hidden=(16,), dropout=0.5)
>>> draws = mc_samples(net, torch.zeros(5, 4), samples=8, seed=0)
>>> draws.shape, bool(net.training)
(torch.Size([8, 5, 3]), True)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from reglab._validation import check_int
from reglab.layers.dropconnect import DropConnectLinear, drop_connect_rates
from reglab.layers.dropout import _RateLayer

__all__ = ["has_dropout", "mc_dropout", "mc_samples"]


def _stochastic(module: nn.Module) -> bool:
    if isinstance(module, _RateLayer | DropConnectLinear):
        return bool(getattr(module, "p", 0.0) > 0.0)
    return any(p > 0.0 for p in drop_connect_rates(module).values())


def has_dropout(model: nn.Module) -> bool:
    """Whether ``model`` has a dropout-family module with a rate above 0."""
    return any(_stochastic(m) for m in model.modules())


@contextmanager
def mc_dropout(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, ``model`` is in evaluation mode except its dropout-family modules.

    Every module's training flag is restored on exit.
    """
    flags = {m: m.training for m in model.modules()}
    try:
        model.eval()
        for m in model.modules():
            if _stochastic(m):
                m.train()
        yield model
    finally:
        for m, flag in flags.items():
            m.train(flag)


def mc_samples(model: nn.Module, x: Tensor, *, samples: int, seed: int = 0) -> Tensor:
    """``samples`` forward passes of ``x`` with fresh dropout masks: ``[samples, n, out]``.

    The masks come from torch's generator seeded with ``seed`` inside a forked random state, so
    the draws are reproducible and the caller's random state is untouched.
    """
    check_int("mc_samples", "samples", samples, minimum=1)
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad(), mc_dropout(model):
        torch.manual_seed(seed)
        return torch.stack([model(x) for _ in range(samples)])
