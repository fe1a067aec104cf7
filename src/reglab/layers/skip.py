"""An MLP with a linear path from its inputs to its outputs (LassoNet's network).

``SkipMLP(...)(x) = MLP(...)(x) + x @ skip_weight.T``: the :class:`~reglab.layers.MLP`'s
arguments, plus the ``[out, in]`` kernel of a linear skip path without bias, initialized as
``nn.Linear`` initializes its kernel, ``U(−1/√in, 1/√in)``. It is the single model of an
engine member of the ``skip-mlp`` family (:mod:`reglab.engine.skip`), and the network of
LassoNet's hierarchical sparsity: call :meth:`SkipMLP.hier_prox_` after every optimizer step
to train one's own model with it.

>>> import torch
>>> net = SkipMLP(4, 1, hidden=(8,))
>>> net(torch.zeros(2, 4)).shape
torch.Size([2, 1])
>>> opt = torch.optim.Adam(net.parameters(), lr=1e-3)
>>> net.hier_prox_(lr=1e-3, strength=1e5)  # strong enough to drop every feature
>>> int((net.skip_weight != 0).sum()), int((net.dense0.weight != 0).sum())
(0, 0)
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from reglab.layers.mlp import MLP

__all__ = ["SkipMLP"]


class SkipMLP(MLP):
    """An :class:`~reglab.layers.MLP` plus a linear skip path (module docstring).

    Args:
        **arguments: :class:`~reglab.layers.MLP`'s arguments.
    """

    def __init__(self, *args: Any, **arguments: Any) -> None:
        super().__init__(*args, **arguments)
        bound = 1.0 / math.sqrt(self.in_features)
        # A parameter, not a layer: MLP is an nn.Sequential, whose children all run in turn.
        self.skip_weight = nn.Parameter(
            torch.empty(self.out_features, self.in_features).uniform_(-bound, bound)
        )

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x) + x @ self.skip_weight.T

    def first_kernel(self) -> Tensor:
        """The first layer's kernel ``[units, in]`` (the output's, without hidden layers)."""
        first = self.get_submodule("dense0" if self.hidden else "output")
        weight = first.weight
        if not isinstance(weight, Tensor):
            raise TypeError(f"SkipMLP: the first layer's `weight` is a {type(weight).__name__}")
        return weight

    @torch.no_grad()
    def hier_prox_(self, *, lr: float, strength: float, hierarchy: float = 10.0) -> None:
        """LassoNet's proximal step in place, at threshold ``lr·strength`` and bound
        ``hierarchy`` (:func:`reglab.techniques.lassonet.hier_prox`)."""
        from reglab.techniques.lassonet import hier_prox

        kernel = self.first_kernel()
        theta, new = hier_prox(
            self.skip_weight.unsqueeze(0),
            kernel.unsqueeze(0),
            torch.tensor([lr * strength], dtype=kernel.dtype),
            torch.tensor([hierarchy], dtype=kernel.dtype),
        )
        self.skip_weight.copy_(theta[0])
        kernel.copy_(new[0])
