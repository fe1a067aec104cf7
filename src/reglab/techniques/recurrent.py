"""Techniques of recurrent networks: ``recurrent-dropout=p``, ``weight-drop=p``, ``grad-clip=c``.

* ``recurrent-dropout=p`` — variational dropout of the recurrent connections (Gal &
  Ghahramani, 2016; Keras's ``recurrent_dropout``): each layer's previous state ``h_{t−1}``
  is multiplied, before the recurrent kernel, by one inverted mask per sequence (kept units
  scaled by ``1/(1 − p)``), the **same at every time step**.
* ``weight-drop=p`` — DropConnect on the hidden-to-hidden kernels ``W_hh`` (AWD-LSTM, Merity
  et al., 2018): one inverted mask per kernel and mini-batch, shared by every time step and
  row; the stored weights are never changed.
* ``grad-clip=c`` — gradient clipping by norm: before each optimizer step a member's whole
  gradient ``g`` (every parameter, penalties included) becomes ``g · min(1, c / (‖g‖₂ +
  1e-6))``, ``torch.nn.utils.clip_grad_norm_``'s rule, computed over the member's own
  gradient only.

They act on the recurrent family's members (:mod:`reglab.engine.rnn`), which draw each
member's masks from its own noise stream; a member of another family that asks for one is
refused before training. Their single-model form is an argument of
:class:`~reglab.layers.recurrent.RecurrentNet` (``recurrent_dropout``, ``weight_drop``) or,
for clipping, a call after ``loss.backward()``.

>>> RecurrentDropout(rate=0.25).values, GradClip(norm=1.0).values
({'rate': 0.25}, {'norm': 1.0})
"""

from __future__ import annotations

from torch import nn

from reglab.techniques.base import Param, Technique
from reglab.techniques.registry import register

__all__ = ["GradClip", "RecurrentDropout", "WeightDrop"]


class _RecurrentOnly(Technique):
    families = ("rnn",)
    single_form = ""

    def module(self, seed: int = 0) -> nn.Module:
        raise NotImplementedError(
            f"{type(self).__name__} ({self.key}): no stand-alone module; use {self.single_form}."
        )


class RecurrentDropout(_RecurrentOnly):
    """``recurrent-dropout=p``: the same dropout mask on ``h_{t−1}`` at every time step."""

    key = "recurrent-dropout"
    params = (Param("rate", 0.05, 0.5, "linear", maximum=0.95),)
    acts_on = "layer"
    label = "recurrent dropout"
    order = 26
    single_form = "RecurrentNet(recurrent_dropout=p)"


class WeightDrop(_RecurrentOnly):
    """``weight-drop=p``: DropConnect on the recurrent kernels, one mask per mini-batch."""

    key = "weight-drop"
    params = (Param("rate", 0.05, 0.6, "linear", maximum=0.95),)
    acts_on = "weight-noise"
    label = "weight-dropped recurrent kernels"
    order = 27
    single_form = "RecurrentNet(weight_drop=p)"


class GradClip(_RecurrentOnly):
    """``grad-clip=c``: scale a member's gradient to norm at most ``c`` before each step."""

    key = "grad-clip"
    params = (Param("norm", 0.1, 10.0, "log"),)
    acts_on = "optimizer"
    label = "gradient clipping"
    order = 95
    single_form = "torch.nn.utils.clip_grad_norm_(model.parameters(), c) after backward()"


register(RecurrentDropout)
register(WeightDrop)
register(GradClip)
