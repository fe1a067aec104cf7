"""Batch-norm statistics for averaged or interpolated weights (SWA, Lookahead's slow weights).

A member with batch norm keeps running statistics that follow the weights it trains with. SWA's
average ``w̄`` and Lookahead's slow weights ``φ`` were never trained with, so the running
statistics of the optimizer's iterate do not match them (Izmailov et al. 2018, §3.2). As
``torch.optim.swa_utils.update_bn`` does, the engine recomputes them with one pass over the
member's own training rows, without gradients, before the weights are evaluated:

    for each batch b = 1 … n_b of the member's training rows, in their order, B rows each
    (the last one shorter), through the network in training mode:
        μ_l ← μ_l + (m_l,b − μ_l)/b,     σ²_l ← σ²_l + (s²_l,b − σ²_l)/b

where ``m_l,b`` is layer ``l``'s batch mean and ``s²_l,b`` its unbiased batch variance
(``n/(n − 1)`` times the biased one), each layer normalized by its batch statistics as in
training. A last batch of one row is skipped, as training skips it. So the statistics are
the mean of the batches' statistics (PyTorch's ``momentum=None``), the first batch's exactly
at ``b = 1``. Noise is off during the pass
(dropout, Gaussian dropout, DropConnect and registry noise draw nothing, so no member's stream
moves; ShakeDrop's branches are scaled by ``1 − p_l`` as in evaluation): the statistics are
those of the network that evaluation runs, not of a noisy one
(dropout's inverted scaling keeps the mean but inflates the variance, the "variance shift" of
Li et al. 2019). A parametrization's evaluation kernels are used.

Every operation is per member (the stack's batched products over ``[M, units, B]`` with each
member's own rows and row weights ``[M, 1, B]``; members with fewer batches leave their
statistics alone in the others), so a member's statistics never depend on its neighbours.
:func:`reglab.optim.update_batchnorm` is the same pass for one's own model.

Snapshot ensembles need no pass: each snapshot keeps the running statistics it was trained
with, copied with its weights (:mod:`reglab.engine.trajectory`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["blend_running_", "recompute_running"]


def blend_running_(running: Tensor, mean: Tensor, unbiased: Tensor, factor: Tensor) -> None:
    """``running ← (1 − f)·running + f·stat`` for the mean and variance rows of ``running``
    ``[2, M, units, 1]``, with ``f`` per member ``[M, 1, 1]`` (``1/b`` for batch ``b`` of the
    pass, 0 where a member has no rows left: its statistics stay as they are)."""
    running[0].mul_(1 - factor).add_(factor * mean)
    running[1].mul_(1 - factor).add_(factor * unbiased)


@contextmanager
def _noise_off(stack: Any) -> Iterator[dict[str, list[Tensor]]]:
    """Within it ``stack.train_forward`` draws no noise; yields the evaluation parameters."""
    saved = (stack.place_of, stack.by_kind, stack.parametrization)
    params = stack.by_kind_views(stack.layout.views(stack.theta, stack.m))
    params = stack._eval_params(params)
    stack.place_of = {}
    stack.by_kind = {k: v for k, v in stack.by_kind.items() if not k.endswith("noise")}
    stack.parametrization = []
    if any(getattr(stack, "shake_on", ())):  # ShakeDrop: its branch times 1 − p, as evaluated
        stack._gates = [(keep, keep) for keep in stack.shake_keep]
    try:
        yield params
    finally:
        stack.place_of, stack.by_kind, stack.parametrization = saved
        if hasattr(stack, "_gates"):
            stack._gates = None


def recompute_running(stack: Any, flags: np.ndarray, rows: Sequence[np.ndarray]) -> None:
    """Recompute the running statistics of the members flagged in ``flags`` ``[M]`` from the
    stack's current weights (see the module docstring); the others keep theirs.

    Args:
        stack: A :class:`~reglab.engine.generic.GenericStack` (any family).
        flags: Which members get new statistics.
        rows: Each member's training rows in the stack's data table, in stack order.
    """
    if not stack.running or not flags.any():
        return
    dev, m, b = stack.device, stack.m, stack.batch
    counts = np.array([len(r) if on else 0 for r, on in zip(rows, flags, strict=True)])
    n_batches = int(-(-counts.max() // b))
    table = np.zeros((m, n_batches * b), dtype=np.int64)
    for i, r in enumerate(rows):
        if counts[i]:
            table[i, : counts[i]] = r
            table[i, counts[i] :] = r[0]
    saved = [r.clone() for r in stack.running]
    on = torch.from_numpy(flags).to(dev).view(1, -1, 1, 1)
    for r in stack.running:  # mean 0, variance 1: the first batch replaces them exactly
        r.copy_(torch.where(on, torch.stack([torch.zeros_like(r[0]), torch.ones_like(r[1])]), r))
    f_features = stack.features
    with torch.no_grad(), _noise_off(stack) as params:
        for j in range(n_batches):
            real = np.clip(counts - j * b, 0, b)  # each member's rows in batch j
            factor = np.where(real > 1, 1.0 / (j + 1), 0.0)  # a last batch of one row: skipped
            weight = np.zeros((m, 1, b), dtype=np.float32)
            for k in np.flatnonzero(real):
                weight[k, 0, : real[k]] = 1.0 / real[k]
            for k in np.flatnonzero(real == 0):  # padding only: a harmless full batch
                weight[k, 0, :] = 1.0 / b
            w = torch.from_numpy(weight).to(dev)
            stack._bn_factor = torch.from_numpy(factor.astype(np.float32)).to(dev).view(-1, 1, 1)
            index = torch.from_numpy(table[:, j * b : (j + 1) * b].reshape(-1)).to(dev)
            batch = stack.data.index_select(0, index).view(m, b, -1).transpose(1, 2)
            try:
                stack.train_forward(params, stack.columns(batch[:, :f_features]), [], w)
            finally:
                stack._bn_factor = None
    for r, before in zip(stack.running, saved, strict=True):
        r.copy_(torch.where(on, r, before))
