"""Spatial dropout of convolutional feature maps: ``spatial-dropout=p``.

In training, every feature map of every conv block's output is kept with probability ``1 − p``
and scaled by ``1/(1 − p)``, or zeroed as a whole (Tompson et al., 2015; Keras
``SpatialDropout2D``): one mask value per (row, channel), shared by all the map's pixels.

It acts on the conv blocks of a :class:`~reglab.engine.conv.ConvArchitecture` member
(:mod:`reglab.engine.conv`) and of a :class:`~reglab.engine.conv1d.Conv1dArchitecture` one
(whole channels over time, Keras's ``SpatialDropout1D``), which draw each member's masks from
the member's own noise stream; a network without conv blocks has no place for it. Its
single-model form is :class:`~reglab.layers.SpatialDropout2d` (the 1-D export uses
:class:`~reglab.layers.SpatialDropout1d`).

>>> SpatialDropout(rate=0.2).module()
SpatialDropout2d(p=0.2)
"""

from __future__ import annotations

from torch import nn

from reglab.layers.dropout import SpatialDropout2d
from reglab.techniques.base import Param, Technique
from reglab.techniques.registry import register

__all__ = ["SpatialDropout"]


class SpatialDropout(Technique):
    """``spatial-dropout=p``: drop whole feature maps after every conv block."""

    key = "spatial-dropout"
    params = (Param("rate", 0.05, 0.5, "linear", maximum=0.95),)
    acts_on = "layer"
    label = "spatial dropout"
    order = 25
    families = ("cnn", "cnn1d")

    def module(self, seed: int = 0) -> nn.Module:
        import torch

        return SpatialDropout2d(self.values["rate"], generator=torch.Generator().manual_seed(seed))


register(SpatialDropout)
