"""The ``skip-mlp`` family: an MLP with a linear path from the inputs to the outputs.

LassoNet's network (:mod:`reglab.techniques.lassonet`): a member's outputs are its MLP's plus
``θ·x``, with ``θ`` ``[out, in]`` an extra block of the layout (``skip_weight``, initialized
``U(−1/√in, 1/√in)`` after the dense layers). The skip path reads the features before any
input noise, as :class:`~reglab.layers.skip.SkipMLP`'s does. Its generic stack runs the
``lassonet`` projection on each member's pair (skip kernel, first kernel) after the optimizer
step. A study builds a strategy's members in this family when one of its techniques acts on it
(:func:`dense_architecture`).

>>> from reglab.engine.spec import Strategy
>>> from reglab.study.strategies import parse_strategy
>>> type(dense_architecture(parse_strategy("lassonet=1"), in_features=4, out_features=1))
<class 'reglab.engine.skip.SkipArchitecture'>
>>> type(dense_architecture(Strategy(l2=1e-4), in_features=4, out_features=1)).__name__
'Architecture'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from reglab.engine.export import mlp_arguments
from reglab.engine.family import ModelFamily, register_family
from reglab.engine.generic import GenericStack
from reglab.engine.layout import StackLayout
from reglab.engine.spec import Architecture, Strategy

__all__ = ["SKIP_FAMILY", "SkipArchitecture", "dense_architecture", "for_strategy"]

SKIP = "skip_weight"


@dataclass(frozen=True)
class SkipArchitecture(Architecture):
    """An MLP plus a linear path from the inputs to the outputs (fields as
    :class:`~reglab.engine.spec.Architecture`)."""


class SkipLayout(StackLayout):
    def extra_blocks(self, arch: Architecture) -> list[tuple[str, str, int, tuple[int, ...]]]:
        return [(SKIP, "skip", 0, (arch.out_features, arch.in_features))]

    def initial_extra(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        bound = 1.0 / math.sqrt(self.arch.in_features)
        shape = (self.arch.out_features, self.arch.in_features)
        return {SKIP: rng.uniform(-bound, bound, size=shape)}


class SkipStack(GenericStack):
    """The generic stack of :class:`SkipArchitecture` members."""

    def _refresh(self) -> None:
        super()._refresh()
        self.skip = self.by_kind_views(self.layout.views(self.theta, self.m))["skip"][0]

    def train_forward(
        self,
        params: dict[str, list[Tensor]],
        h: Tensor,
        noise: Sequence[Tensor],
        weight: Tensor | None,
    ) -> tuple[Tensor, list[Tensor]]:
        out, hidden = super().train_forward(params, h, noise, weight)
        return out + torch.bmm(params["skip"][0], h), hidden

    def eval_forward(
        self, params: dict[str, list[Tensor]], running: Sequence[Tensor], h: Tensor
    ) -> Tensor:
        return super().eval_forward(params, running, h) + torch.bmm(params["skip"][0], h)

    def project_skip(self, cls: Any, on: Tensor, values: dict[str, Tensor]) -> None:
        theta, kernel = cls.project_pair(self.skip, self.W[0], values)
        self.skip.copy_(torch.where(on, theta, self.skip))
        self.W[0].copy_(torch.where(on, kernel, self.W[0]))


class SkipFamily(ModelFamily):
    """:class:`SkipArchitecture` members, trained by :class:`SkipStack`."""

    name = "skip-mlp"
    architecture = SkipArchitecture

    def layout(self, arch: Any) -> StackLayout:
        return SkipLayout(arch)

    def stack_class(self, generic: bool) -> type[GenericStack]:
        return SkipStack

    def export(self, arch: Any, strategy: Strategy) -> nn.Module:
        from reglab.layers.skip import SkipMLP

        return SkipMLP(**mlp_arguments(arch, strategy))


SKIP_FAMILY = register_family(SkipFamily())
"""The registered ``skip-mlp`` family."""


def dense_architecture(strategy: Strategy, **fields: Any) -> Architecture:
    """The dense network a strategy's members need: :class:`SkipArchitecture` when one of its
    techniques acts on ``skip-mlp`` members only, a
    :class:`~reglab.engine.residual.ResidualArchitecture` for ``residual`` (whose branches
    end in batch norm when the strategy has ``shake-drop``, unless ``fields`` say otherwise),
    else an MLP's :class:`~reglab.engine.spec.Architecture` (``fields`` are its arguments)."""
    from reglab.techniques import get

    if any(get(c.key).families == (SKIP_FAMILY.name,) for c in strategy.techniques):
        return SkipArchitecture(**fields)
    if any(c.key == "residual" for c in strategy.techniques):
        from reglab.engine.residual import ResidualArchitecture, shake_rate

        return ResidualArchitecture(**{"branch_norm": shake_rate(strategy) > 0, **fields})
    return Architecture(**fields)


def for_strategy(arch: Architecture, strategy: Strategy) -> Architecture:
    """``arch`` with ``strategy``'s batch norm and, for an MLP or a skip MLP, the skip path as
    :func:`dense_architecture` decides (another family's architecture keeps its class)."""
    arch = dataclasses.replace(arch, batch_norm=strategy.batch_norm)
    from reglab.engine.residual import ResidualArchitecture

    if type(arch) not in (Architecture, SkipArchitecture, ResidualArchitecture):
        return arch
    fields = {f.name: getattr(arch, f.name) for f in dataclasses.fields(Architecture)}
    return dense_architecture(strategy, **fields)
