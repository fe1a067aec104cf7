"""A small convolutional network builder: conv blocks, then an :class:`~reglab.layers.MLP` head.

``CNN(channels, height, width, out_features, conv=((6, 5, 2, 2), (16, 5, 2, 0)))`` is an
``nn.Sequential`` that takes flat rows ``[n, C·H·W]`` (channel-major, numpy's reshape of
``[n, C, H, W]``) and has the named modules::

    [dropout_in]                                      if input_dropout > 0 (on the pixels)
    image                                             nn.Unflatten to [n, C, H, W]
    conv0 → conv_act0 → [pool0] → [spatial_dropout0]  one block per (filters, kernel, pool, pad)
    ...
    flatten                                           [n, C'·H'·W']
    dense0 → act0 → [dropout0] … output               the MLP head's modules, same names

``conv{i}`` is an ``nn.Conv2d`` (stride 1, ``padding`` zeros), ``pool{i}`` a max pooling with
window and stride ``pool`` (absent when ``pool`` is 1), ``spatial_dropout{i}`` a
:class:`~reglab.layers.SpatialDropout2d` (whole feature maps). ``state_dict`` keys read
``conv0.weight``, ``conv0.bias``, ``dense0.weight``, ``output.bias``.
:meth:`reglab.engine.conv.CNNFamily.export` builds the single model of an engine member.

>>> import torch
>>> net = CNN(1, 12, 12, 3, conv=((4, 3, 2, 0),), hidden=(8,))
>>> [name for name, _ in net.named_children()]
['image', 'conv0', 'conv_act0', 'pool0', 'flatten', 'dense0', 'act0', 'output']
>>> net(torch.zeros(2, 144)).shape
torch.Size([2, 3])
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from reglab._validation import Problems, check_fraction, check_int, message
from reglab.layers.activations import Activation
from reglab.layers.dense import Penalty, Projection
from reglab.layers.dropout import Dropout, SpatialDropout2d
from reglab.layers.mlp import _DROPOUT_CLASSES, MLP

__all__ = ["CNN", "conv_output_shapes"]


def conv_output_shapes(
    channels: int, height: int, width: int, conv: Sequence[Sequence[int]]
) -> list[tuple[int, int, int]]:
    """``(C, H, W)`` after each conv block ``(filters, kernel, pool, padding)`` (pooled).

    A convolution of stride 1 gives ``H + 2·padding − kernel + 1``; a max pooling with window
    and stride ``pool`` then ``⌊H/pool⌋``. Sizes below 1 are returned as they come (the
    caller reports them).

    >>> conv_output_shapes(1, 28, 28, [(6, 5, 2, 2), (16, 5, 2, 0)])
    [(6, 14, 14), (16, 5, 5)]
    """
    shapes = []
    h, w = height, width
    for filters, kernel, pool, padding in conv:
        h, w = h + 2 * padding - kernel + 1, w + 2 * padding - kernel + 1
        h, w = (h // pool, w // pool) if h > 0 and w > 0 else (h, w)
        shapes.append((filters, h, w))
    return shapes


class CNN(nn.Sequential):
    """A convolutional network: conv blocks (conv → activation → max pool → spatial dropout)
    and a dense :class:`~reglab.layers.MLP` head.

    Args:
        channels, height, width: The image shape of each flat input row.
        out_features: Number of outputs (logits or regression targets).
        conv: One ``(filters, kernel_size, pool, padding)`` per conv block.
        hidden: Units of the dense head's hidden layers.
        activation: Activation of the conv blocks and the dense head.
        conv_regularizer: One penalty or ``None`` per conv kernel.
        conv_constraint: A constraint for every conv kernel (``MaxNorm``: one norm per filter).
        spatial_dropout: Rate of :class:`~reglab.layers.SpatialDropout2d` after every block.
        input_dropout: Rate of element dropout on the pixels (of the head's ``dropout_kind``).
        generator: Source of every dropout mask (default: torch's default generator).
        **head: The remaining :class:`~reglab.layers.MLP` arguments of the dense head
            (``dropout``, ``dropout_kind``, ``drop_connect``, ``kernel_regularizer``,
            ``kernel_constraint``, ``regularize_output``).
    """

    def __init__(
        self,
        channels: int,
        height: int,
        width: int,
        out_features: int,
        conv: Sequence[Sequence[int]] = ((6, 5, 2, 2), (16, 5, 2, 0)),
        hidden: Sequence[int] = (120, 84),
        activation: str = "relu",
        *,
        conv_regularizer: Sequence[Penalty | None] | None = None,
        conv_constraint: Projection | None = None,
        spatial_dropout: float = 0.0,
        input_dropout: float = 0.0,
        generator: torch.Generator | None = None,
        **head: Any,
    ) -> None:
        p = Problems()
        for name, value in (("channels", channels), ("height", height), ("width", width)):
            p.check(check_int, "CNN", name, value, minimum=1)
        p.check(check_fraction, "CNN", "spatial_dropout", spatial_dropout)
        p.check(check_fraction, "CNN", "input_dropout", input_dropout)
        if conv_regularizer is not None and len(conv_regularizer) != len(conv):
            p.add(message("CNN", "conv_regularizer", f"{len(conv)} entries", len(conv_regularizer)))
        p.raise_if_any()
        shapes = conv_output_shapes(channels, height, width, conv)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if input_dropout > 0:
            kind = _DROPOUT_CLASSES.get(head.get("dropout_kind", "standard"), Dropout)
            layers["dropout_in"] = kind(input_dropout, generator=generator)
        layers["image"] = nn.Unflatten(1, (channels, height, width))
        fan_in = channels
        for i, (filters, kernel, pool, padding) in enumerate(conv):
            layer = nn.Conv2d(fan_in, filters, kernel, padding=padding)
            penalty = None if conv_regularizer is None else conv_regularizer[i]
            layer._reglab_regularizers = {} if penalty is None else {"weight": penalty}  # type: ignore[assignment]
            constraints = {} if conv_constraint is None else {"weight": conv_constraint}
            layer._reglab_constraints = constraints  # type: ignore[assignment]
            layers[f"conv{i}"] = layer
            layers[f"conv_act{i}"] = Activation(activation)
            if pool > 1:
                layers[f"pool{i}"] = nn.MaxPool2d(pool)
            if spatial_dropout > 0:
                layers[f"spatial_dropout{i}"] = SpatialDropout2d(
                    spatial_dropout, generator=generator
                )
            fan_in = filters
        layers["flatten"] = nn.Flatten()
        c, h, w = shapes[-1] if shapes else (channels, height, width)
        mlp = MLP(c * h * w, out_features, hidden, activation, generator=generator, **head)
        layers.update(mlp.named_children())
        super().__init__(layers)
        self.in_features = channels * height * width
        self.out_features = out_features
