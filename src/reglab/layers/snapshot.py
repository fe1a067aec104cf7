"""Snapshot ensembles (Huang et al. 2017): the mean prediction of a run's K snapshots.

A snapshot ensemble predicts the **mean of its snapshots' predicted probabilities**
(regression: the mean prediction). As a module it returns outputs that the usual heads read
unchanged: for ``C`` classes the log of the mean probabilities,

    out = log( (1/n) Σ_j softmax(z_j) )            (softmax(out) = the mean probabilities),

for one binary logit the logit of the mean probability,

    out = log p̄ − log(1 − p̄),    p̄ = (1/n) Σ_j σ(z_j),

and for regression ``(1/n) Σ_j z_j``. :func:`ensemble_mean` is that maths for any set of
included snapshots; the engine and :class:`SnapshotEnsemble` share it.

>>> import torch
>>> z = torch.tensor([[[2.0, 0.0]], [[0.0, 2.0]]])  # two snapshots, one row, two classes
>>> ensemble_mean(z, torch.ones(2, 1, 1, dtype=torch.bool), "multiclass").softmax(-1)
tensor([[0.5000, 0.5000]])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from reglab._validation import TASKS, Problems, message

__all__ = ["SnapshotEnsemble", "ensemble_mean"]


def ensemble_mean(outputs: Tensor, include: Tensor, task: str) -> Tensor:
    """The ensemble's outputs from its snapshots' raw outputs (see the module docstring).

    Args:
        outputs: ``[J, ..., C]``: snapshot ``j``'s raw outputs (logits; regression values).
        include: Booleans broadcastable to ``outputs``: which snapshots count, per position
            (the engine's members have taken different numbers of snapshots so far). At least
            one snapshot must count at each position.
        task: ``"multiclass"``, ``"binary"`` (one logit) or ``"regression"``.

    Returns:
        ``[..., C]``; reduces over the snapshot dimension only.
    """
    include = include.expand_as(outputs)
    n = include.sum(0).to(outputs.dtype)
    if task == "regression":
        return torch.where(include, outputs, torch.zeros_like(outputs)).sum(0) / n
    never = torch.full_like(outputs, -math.inf)
    if task == "multiclass":
        logp = torch.log_softmax(outputs, -1)
        return torch.logsumexp(torch.where(include, logp, never), 0) - torch.log(n)
    lp = torch.where(include, nn.functional.logsigmoid(outputs), never)
    lq = torch.where(include, nn.functional.logsigmoid(-outputs), never)
    return torch.logsumexp(lp, 0) - torch.logsumexp(lq, 0)


class SnapshotEnsemble(nn.Module):
    """The mean of several snapshots of one model (:func:`ensemble_mean` of their outputs).

    Args:
        models: The snapshots, oldest first: same architecture, different weights.
        task: ``"multiclass"``, ``"binary"`` (one output logit) or ``"regression"``.

    The last snapshot's layers and parameters keep the single model's names in the
    ``state_dict`` (``dense0.weight``); the earlier ones are ``snapshots.{j}.…``. So an
    engine member's stored weights load into it, and summaries of those weights (sparsity,
    histograms) describe the final snapshot.

    >>> import torch
    >>> from reglab.layers import MLP
    >>> nets = [MLP(3, 2, hidden=(4,)) for _ in range(3)]
    >>> ens = SnapshotEnsemble(nets, "multiclass").eval()
    >>> x = torch.randn(5, 3)
    >>> mean = torch.stack([n.eval()(x).softmax(-1) for n in nets]).mean(0)
    >>> torch.allclose(ens(x).softmax(-1), mean, atol=1e-6)
    True
    """

    def __init__(self, models: Sequence[nn.Module], task: str) -> None:
        super().__init__()
        p = Problems()
        if not models or not all(isinstance(m, nn.Module) for m in models):
            p.add(message("SnapshotEnsemble", "models", "a non-empty list of modules", models))
        if task not in TASKS:
            p.add(message("SnapshotEnsemble", "task", "one of " + ", ".join(TASKS), task))
        p.raise_if_any()
        self.task = task
        final = models[-1]
        self.snapshots = nn.ModuleList(models[:-1])
        # The final snapshot's own names, at the top level (not a registered child itself).
        self.__dict__["final"] = final
        for name, child in final.named_children():
            self.add_module(name, child)
        for name, param in final.named_parameters(recurse=False):
            self.register_parameter(name, param)
        for name, buffer in final.named_buffers(recurse=False):
            self.register_buffer(name, buffer)

    @property
    def models(self) -> list[nn.Module]:
        """Every snapshot, oldest first."""
        return [*self.snapshots, self.__dict__["final"]]

    def train(self, mode: bool = True) -> SnapshotEnsemble:
        super().train(mode)
        self.__dict__["final"].train(mode)
        return self

    def forward(self, x: Tensor) -> Tensor:
        outs = torch.stack([m(x) for m in self.models])
        include = torch.ones((len(outs),) + (1,) * (outs.dim() - 1), dtype=torch.bool)
        return ensemble_mean(outs, include.to(outs.device), self.task)
