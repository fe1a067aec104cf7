"""Residual blocks as an architecture switch (``residual``) and ShakeDrop (``shake-drop=P``).

``residual`` has no value: a strategy with it trains the ``residual-mlp`` family
(:mod:`reglab.engine.residual`), whose hidden layers are pre-norm residual blocks
``h ← h + D(W₂·act(W₁·N(h) + b₁) + b₂)`` after a projection of the inputs to the width
``hidden[0]`` (Gorishniy et al. 2021). Every other term of the strategy acts on that network
(the family's docstring says where). Its single-model form is
:class:`~reglab.layers.residual.ResidualMLP`.

``shake-drop=P`` (bare ``shake-drop``: ``P = 0.5``, the paper's) multiplies each block's branch
by ShakeDrop's gate (Yamada et al. 2018, :mod:`reglab.layers.shakedrop`): forward
``b + α − bα``, backward ``b + β − bβ``, ``b ~ Bernoulli(1 − p_l)``, ``α ~ U(−1, 1)``,
``β ~ U(0, 1)`` per example, ``p_l = P·l/L`` rising linearly with depth; in evaluation
``1 − p_l``. Its members' branches end in batch norm (``branch_norm``, the paper's form: without
it the branches ShakeDrop reverses grow until training diverges). It needs residual blocks and does not imply them: a strategy with ``shake-drop``
but not ``residual`` is refused in one line, so ``residual+shake-drop`` and ``residual`` name
the two networks a comparison needs. In ``reglab tune``'s cocktail, ``shake-drop`` is asked
only when ``residual`` is on.

>>> from reglab.study.strategies import parse_strategy
>>> parse_strategy("shake-drop+residual").name
'residual+shake-drop'
>>> parse_strategy("shake-drop=0.3")
Traceback (most recent call last):
...
reglab.errors.ConfigError: Strategy 'shake-drop=0.3': `shake-drop` must be used with `residual`; got shake-drop.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from torch import nn

from reglab.techniques.base import Param, Technique
from reglab.techniques.registry import register

__all__ = ["Residual", "ShakeDrop"]

FAMILY = "residual-mlp"


class Residual(Technique):
    """``residual``: train the network as residual blocks (an architecture switch)."""

    key = "residual"
    params = ()
    flag: ClassVar[bool] = True
    """A term without a value."""
    defaults: ClassVar[Mapping[str, float] | None] = {}
    acts_on = "layer"
    families = (FAMILY,)
    label = "residual blocks"
    order = 5

    def module(self, seed: int = 0) -> nn.Module:
        raise NotImplementedError(
            "Residual: an architecture switch has no module form; build the network as "
            "reglab.layers.ResidualMLP."
        )


class ShakeDrop(Technique):
    """``shake-drop=P``: ShakeDrop on every residual block, ``p_l = P·l/L``."""

    key = "shake-drop"
    # The paper's P is 0.5; Kadra et al. (2021) search it in [0, 1].
    params = (Param("rate", 0.1, 0.9, "linear", maximum=1.0),)
    defaults: ClassVar[Mapping[str, float] | None] = {"rate": 0.5}
    acts_on = "layer"
    families = (FAMILY,)
    requires = ("residual",)
    label = "ShakeDrop"
    order = 31

    def module(self, seed: int = 0) -> nn.Module:
        """One branch's :class:`~reglab.layers.shakedrop.ShakeDrop` at ``p = P`` (for one's own
        block; :func:`~reglab.layers.shakedrop.depth_rates` gives ``p_l`` for a network)."""
        from reglab.layers.shakedrop import ShakeDrop as ShakeDropLayer

        return ShakeDropLayer(self.values["rate"], generator=seed)


register(Residual)
register(ShakeDrop)
