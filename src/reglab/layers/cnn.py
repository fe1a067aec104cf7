"""A small convolutional network builder: conv blocks, then an :class:`~reglab.layers.MLP` head.

``CNN(channels, height, width, out_features, conv=((6, 5, 2, 2), (16, 5, 2, 0)))`` is an
``nn.Sequential`` that takes flat rows ``[n, C·H·W]`` (channel-major, numpy's reshape of
``[n, C, H, W]``) and has the named modules::

    [dropout_in]                                      if input_dropout > 0 (on the pixels)
    image                                             nn.Unflatten to [n, C, H, W]
    conv0 → [conv_bn0] → conv_act0 → [pool0] → [spatial_dropout0]
                                                      one block per (filters, kernel, pool, pad)
    ...
    flatten                                           [n, C'·H'·W']
    dense0 → act0 → [dropout0] … output               the MLP head's modules, same names

``conv{i}`` is an ``nn.Conv2d`` (stride 1, ``padding`` zeros), ``pool{i}`` a max pooling with
window and stride ``pool`` (absent when ``pool`` is 1), ``conv_bn{i}`` an ``nn.BatchNorm2d``
(with ``batch_norm=True``, which the dense head's hidden layers get too), ``spatial_dropout{i}`` a
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

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from reglab._validation import Problems, check_fraction, check_int, message
from reglab.layers.activations import Activation
from reglab.layers.dense import Penalty, Projection
from reglab.layers.dropout import Dropout, SpatialDropout1d, SpatialDropout2d
from reglab.layers.mlp import _DROPOUT_CLASSES, MLP

__all__ = [
    "CNN",
    "CNN1d",
    "ChannelsFirst",
    "conv_layers",
    "conv_output_shapes",
    "conv_output_sizes",
]


def conv_output_sizes(
    channels: int, spatial: Sequence[int], conv: Sequence[Sequence[int]]
) -> list[tuple[int, ...]]:
    """``(C, *spatial)`` after each conv block ``(filters, kernel, pool, padding)`` (pooled),
    over any number of spatial axes (each one as :func:`conv_output_shapes` computes).

    >>> conv_output_sizes(1, (20,), [(16, 3, 2, 1), (32, 3, 2, 1)])
    [(16, 10), (32, 5)]
    """
    shapes = []
    sizes = tuple(spatial)
    for filters, kernel, pool, padding in conv:
        sizes = tuple(n + 2 * padding - kernel + 1 for n in sizes)
        sizes = tuple(n // pool for n in sizes) if all(n > 0 for n in sizes) else sizes
        shapes.append((filters, *sizes))
    return shapes


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
    return [(c, h, w) for c, h, w in conv_output_sizes(channels, (height, width), conv)]


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
            ``kernel_constraint``, ``regularize_output``, ``batch_norm``, ``block_order``);
            ``batch_norm=True`` also puts a ``conv_bn{i}`` batch norm between every
            convolution and its activation.
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
        layers = conv_layers(
            "CNN",
            nn.Unflatten(1, (channels, height, width)),
            channels,
            (height, width),
            out_features,
            conv,
            hidden,
            activation,
            conv_regularizer=conv_regularizer,
            conv_constraint=conv_constraint,
            spatial_dropout=spatial_dropout,
            input_dropout=input_dropout,
            generator=generator,
            head=head,
            problems=p,
        )
        super().__init__(layers)
        self.in_features = channels * height * width
        self.out_features = out_features


class ChannelsFirst(nn.Module):
    """Flat time-major rows ``[n, T·F]`` → ``[n, F, T]`` (features as channels, contiguous):
    the input of :class:`torch.nn.Conv1d` for sequences laid out as numpy's reshape of
    ``[n, T, F]``.

    >>> import torch
    >>> ChannelsFirst(3, 2)(torch.arange(6.0).view(1, 6))
    tensor([[[0., 2., 4.],
             [1., 3., 5.]]])
    """

    def __init__(self, steps: int, features: int) -> None:
        super().__init__()
        self.steps = steps
        self.features = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], self.steps, self.features).transpose(1, 2).contiguous()

    def extra_repr(self) -> str:
        return f"steps={self.steps}, features={self.features}"


class CNN1d(nn.Sequential):
    """A 1-D convolutional network over time: conv blocks (``nn.Conv1d`` → activation → max
    pool → :class:`~reglab.layers.SpatialDropout1d`) and a dense :class:`~reglab.layers.MLP`
    head.

    Rows are sequences ``[n, T·F]``, time-major (numpy's reshape of ``[n, T, F]``); the
    ``sequence`` module turns them into ``[n, F, T]``, so the features are the first block's
    channels and every kernel ``[filters, in_channels, k]`` slides over time. A block of
    ``(filters, k, pool, padding)`` maps a length ``L`` to ``⌊(L + 2·padding − k + 1)/pool⌋``.
    Module names and arguments are :class:`CNN`'s (``conv0``, ``conv_act0``, ``pool0``,
    ``spatial_dropout0``, ``flatten``, ``dense0`` … ``output``).

    >>> import torch
    >>> net = CNN1d(20, 1, 1, conv=((8, 3, 2, 1),), hidden=(16,))
    >>> [name for name, _ in net.named_children()][:4], net(torch.zeros(2, 20)).shape
    (['sequence', 'conv0', 'conv_act0', 'pool0'], torch.Size([2, 1]))
    """

    def __init__(
        self,
        steps: int,
        features: int,
        out_features: int,
        conv: Sequence[Sequence[int]] = ((16, 3, 2, 1), (32, 3, 2, 1)),
        hidden: Sequence[int] = (64,),
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
        for name, value in (("steps", steps), ("features", features)):
            p.check(check_int, "CNN1d", name, value, minimum=1)
        layers = conv_layers(
            "CNN1d",
            ChannelsFirst(steps, features),
            features,
            (steps,),
            out_features,
            conv,
            hidden,
            activation,
            conv_regularizer=conv_regularizer,
            conv_constraint=conv_constraint,
            spatial_dropout=spatial_dropout,
            input_dropout=input_dropout,
            generator=generator,
            head=head,
            input_name="sequence",
            problems=p,
        )
        super().__init__(layers)
        self.in_features = steps * features
        self.out_features = out_features


_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
_POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d}
_SPATIAL = {1: SpatialDropout1d, 2: SpatialDropout2d}


def conv_layers(
    who: str,
    reshape: nn.Module,
    channels: int,
    spatial: tuple[int, ...],
    out_features: int,
    conv: Sequence[Sequence[int]],
    hidden: Sequence[int],
    activation: str,
    *,
    conv_regularizer: Sequence[Penalty | None] | None,
    conv_constraint: Projection | None,
    spatial_dropout: float,
    input_dropout: float,
    generator: torch.Generator | None,
    head: dict[str, Any],
    input_name: str = "image",
    problems: Problems | None = None,
) -> OrderedDict[str, nn.Module]:
    """The named modules of a conv network over ``len(spatial)`` (1 or 2) axes: input
    dropout, ``reshape`` (flat rows → ``[n, C, *spatial]``), the conv blocks (with
    ``head["batch_norm"]``, a ``conv_bn{i}`` batch norm between each convolution and its
    activation), ``flatten`` and the MLP head (see :class:`CNN`); ``problems`` holds the
    caller's own checks, raised with these in one message."""
    p = Problems() if problems is None else problems
    p.check(check_fraction, who, "spatial_dropout", spatial_dropout)
    p.check(check_fraction, who, "input_dropout", input_dropout)
    if conv_regularizer is not None and len(conv_regularizer) != len(conv):
        p.add(message(who, "conv_regularizer", f"{len(conv)} entries", len(conv_regularizer)))
    p.raise_if_any()
    dims = len(spatial)
    shapes = conv_output_sizes(channels, spatial, conv)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if input_dropout > 0:
        kind = _DROPOUT_CLASSES.get(head.get("dropout_kind", "standard"), Dropout)
        layers["dropout_in"] = kind(input_dropout, generator=generator)
    layers[input_name] = reshape
    fan_in = channels
    for i, (filters, kernel, pool, padding) in enumerate(conv):
        layer = _CONV[dims](fan_in, filters, kernel, padding=padding)
        penalty = None if conv_regularizer is None else conv_regularizer[i]
        layer._reglab_regularizers = {} if penalty is None else {"weight": penalty}  # type: ignore[assignment]
        constraints = {} if conv_constraint is None else {"weight": conv_constraint}
        layer._reglab_constraints = constraints  # type: ignore[assignment]
        layers[f"conv{i}"] = layer
        if head.get("batch_norm", False):
            layers[f"conv_bn{i}"] = _NORM[dims](filters)
        layers[f"conv_act{i}"] = Activation(activation)
        if pool > 1:
            layers[f"pool{i}"] = _POOL[dims](pool)
        if spatial_dropout > 0:
            layers[f"spatial_dropout{i}"] = _SPATIAL[dims](spatial_dropout, generator=generator)
        fan_in = filters
    layers["flatten"] = nn.Flatten()
    flat = math.prod(shapes[-1]) if shapes else channels * math.prod(spatial)
    mlp = MLP(flat, out_features, hidden, activation, generator=generator, **head)
    layers.update(mlp.named_children())
    return layers
