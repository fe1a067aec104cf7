"""Batch norm's running statistics for weights that were never trained with (SWA, Lookahead).

After averaging weights (SWA) or moving to Lookahead's slow weights, a model's batch-norm
layers still hold the running statistics of the optimizer's iterate. :func:`update_batchnorm`
recomputes them with one pass over the training data without gradients, as
``torch.optim.swa_utils.update_bn`` does (Izmailov et al. 2018): for batches ``b = 1 … n_b``,
every batch-norm layer normalizes by its batch statistics and

    μ ← μ + (m_b − μ)/b,        σ² ← σ² + (s²_b − σ²)/b

from ``μ = 0, σ² = 1`` (``m_b`` the batch mean, ``s²_b`` the unbiased batch variance): the mean
of the batches' statistics (a batch of one row, which has no variance, is skipped). Unlike
``update_bn``, every other module stays in evaluation mode, so dropout and other noise layers
are off and the statistics are those of the network that predicts (dropout's inverted scaling
keeps the mean but inflates the variance; Li et al. 2019). Given the member's training rows
in order and its batch size, it reproduces the engine's statistics
(:mod:`reglab.engine.bn_refresh`).

>>> import torch
>>> from torch import nn
>>> net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
>>> x = torch.randn(10, 2)
>>> update_batchnorm(net, x, batch_size=5)
>>> z = net[0](x).detach()
>>> hand = (z[:5].mean(0) + z[5:].mean(0)) / 2
>>> torch.allclose(net[1].running_mean, hand, atol=1e-6)
True
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from reglab._validation import message
from reglab.errors import ConfigError

__all__ = ["recomputed_batchnorm", "update_batchnorm"]

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _inputs(batches: Any, batch_size: int | None) -> Iterable[Any]:
    if batch_size is None:
        return batches
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(
            message("update_batchnorm", "batch_size", "a whole number ≥ 1", batch_size)
        )
    x = torch.as_tensor(np.asarray(batches)) if not isinstance(batches, Tensor) else batches
    return x.split(batch_size)


@torch.no_grad()
def update_batchnorm(
    model: nn.Module, batches: Any, *, batch_size: int | None = None, device: Any = None
) -> None:
    """Recompute ``model``'s batch-norm running statistics (see the module docstring).

    Args:
        model: Any module; its ``BatchNorm1d/2d/3d`` layers get new statistics, everything else
            is left as it was (its training mode included).
        batches: An iterable of input batches (tensors, or tuples/lists whose first item is
            the input, as a ``DataLoader`` gives them); or, with ``batch_size``, an array of
            rows cut in order into batches of that size (the last one shorter).
        batch_size: See ``batches``.
        device: Where to move each batch (default: where it is).

    A model without batch norm is left unchanged.
    """
    norms = [m for m in model.modules() if isinstance(m, _NORMS)]
    if not norms:
        return
    stream = iter(_inputs(batches, batch_size))
    first = next(stream, None)
    if first is None:
        raise ConfigError(message("update_batchnorm", "batches", "at least one batch", "none"))
    modes = {m: m.training for m in model.modules()}
    momenta = {m: m.momentum for m in norms}
    for m in norms:
        if not m.track_running_stats:
            raise ConfigError(
                message("update_batchnorm", "model", "batch-norm layers that track running "
                        "statistics", type(m).__name__)
            )  # fmt: skip
        m.reset_running_stats()
        m.momentum = None  # cumulative: the mean of the batches' statistics
    model.eval()
    for m in norms:
        m.train()
    try:
        for batch in itertools.chain([first], stream):
            x = batch[0] if isinstance(batch, list | tuple) else batch
            if len(x) < 2:  # no batch variance (training skips such a batch too)
                continue
            if device is not None:
                x = x.to(device)
            model(x)
    finally:
        for module, mode in modes.items():
            module.training = mode
        for norm, momentum in momenta.items():
            norm.momentum = momentum


@contextmanager
def recomputed_batchnorm(
    model: nn.Module, batches: Any, *, batch_size: int | None = None, device: Any = None
) -> Iterator[None]:
    """Within it, ``model``'s batch-norm layers hold statistics recomputed by
    :func:`update_batchnorm`; their own running statistics come back after. This is what the
    engine does to evaluate Lookahead's slow weights in the middle of training::

        with opt.slow_weights(), recomputed_batchnorm(model, x_train, batch_size=32):
            val_loss = loss(model.eval()(x_val), y_val)

    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    >>> with recomputed_batchnorm(net, torch.randn(8, 2), batch_size=4):
    ...     inside = net[1].running_mean.abs().sum().item() > 0
    >>> inside, net[1].running_mean.abs().sum().item()
    (True, 0.0)
    """
    norms = [m for m in model.modules() if isinstance(m, _NORMS)]
    kept = [{k: v.clone() for k, v in m.state_dict().items()} for m in norms]
    update_batchnorm(model, batches, batch_size=batch_size, device=device)
    try:
        yield
    finally:
        for m, state in zip(norms, kept, strict=True):
            m.load_state_dict(state)
