"""The 1-D convolutional family: conv blocks over time for sequence members, trained as stacks.

A :class:`Conv1dArchitecture` is the :class:`~reglab.engine.conv.ConvArchitecture` of
sequences. Its rows are ``steps·features`` values, time-major (value ``t·F + f`` is feature
``f`` at step ``t``, numpy's reshape of ``[n, T, F]``, as :mod:`reglab.data.sequences` lays
them out); the features are the first block's channels and every kernel
``[filters, in_channels, k]`` slides over time. Each :class:`~reglab.engine.conv.ConvBlock`
is ``nn.Conv1d`` (stride 1, ``padding`` zeros) → activation → max pooling of window and stride
``pool``, so a length ``L`` becomes ``⌊(L + 2·padding − k + 1)/pool⌋``; the last block's
maps, flattened channel-major, feed the dense ``hidden`` layers and the output. One
architecture serves sequence classification and forecasting (a regression on windows): the
``task`` decides the loss.

The family (:data:`CNN1D_FAMILY`, ``"cnn1d"``) is the 2-D family with one axis: the same
layout (``conv{i}.weight`` ``[M, filters, in, k]``, ``U(±1/√(in·k))`` as ``nn.Conv1d``), the
same stack (:class:`~reglab.engine.conv_stack.ConvStack`, one ``F.conv1d`` call per member),
the same noise places (spatial dropout: one mask value per row and channel, the same at every
time step, Keras's ``SpatialDropout1D``) and the same strategies: L1/L2, proximal L1 and
decoupled weight decay on the conv kernels (``penalty-layers`` numbers the conv blocks first),
max-norm per filter (over ``in·k``), dropout, Gaussian dropout, DropConnect and registry noise
on the dense head, input dropout on the values. Batch norm is refused, as for images. Its
export is :class:`~reglab.layers.cnn.CNN1d`, a plain ``nn.Sequential`` of ``nn.Conv1d`` blocks.

A study builds it with ``model="cnn"`` on sequence data (:func:`sequence_conv_architecture`):
the data decide how many axes the convolutions slide over.

>>> arch = Conv1dArchitecture(20, 1, steps=20, features=1, task="regression")
>>> arch.feature_shapes, arch.layer_sizes
([(16, 10), (32, 5)], (160, 64, 1))
>>> from reglab.engine.family import family_of
>>> family_of(arch).name
'cnn1d'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from reglab._validation import Problems, check_int, message
from reglab.engine.conv import FIRST_FILTERS, CNNFamily, ConvBlock, ConvShapes, conv_arguments
from reglab.engine.family import register_family
from reglab.engine.spec import Architecture, Strategy
from reglab.errors import ConfigError

__all__ = [
    "CNN1D_FAMILY",
    "SEQUENCE_BLOCKS",
    "CNN1dFamily",
    "Conv1dArchitecture",
    "sequence_blocks",
    "sequence_conv_architecture",
]

SEQUENCE_BLOCKS = (ConvBlock(16, 3, 2, padding=1), ConvBlock(32, 3, 2, padding=1))
"""The default blocks over time: 16@3 then 32@3, each padded to keep the length and pooled by
2 (a length of 20 becomes 10, then 5)."""


def sequence_blocks(steps: int) -> tuple[ConvBlock, ...]:
    """:data:`SEQUENCE_BLOCKS` for sequences of ``steps``: a block pools by 2 only while its
    input is at least 2 long, so short windows keep a feature map.

    >>> [b.pool for b in sequence_blocks(20)], [b.pool for b in sequence_blocks(3)]
    ([2, 2], [2, 1])
    """
    blocks = []
    length = steps
    for b in SEQUENCE_BLOCKS:
        pool = b.pool if length >= b.pool else 1
        blocks.append(ConvBlock(b.filters, b.kernel_size, pool, b.padding))
        length //= pool
    return tuple(blocks)


@dataclass(frozen=True)
class Conv1dArchitecture(ConvShapes, Architecture):
    """A 1-D CNN shape: conv blocks over ``steps`` time steps of ``features`` channels, then
    the dense ``hidden`` layers and the output (see the module docstring).

    ``in_features`` must be ``steps·features``; ``conv`` holds :class:`ConvBlock` values (or
    ``(filters, kernel_size[, pool[, padding]])`` tuples); ``batch_norm`` must be False.
    """

    hidden: tuple[int, ...] = (64,)
    steps: int = 1
    features: int = 1
    conv: tuple[ConvBlock, ...] = SEQUENCE_BLOCKS

    def __post_init__(self) -> None:
        super().__post_init__()
        who = "Conv1dArchitecture"
        p = Problems()
        for name in ("steps", "features"):
            p.check(check_int, who, name, getattr(self, name), minimum=1)
        p.raise_if_any()
        self._check_blocks(who, p)
        if self.in_features != self.steps * self.features:
            expected = f"steps·features = {self.steps * self.features}"
            p.add(message(who, "in_features", expected, self.in_features))
        self._check_maps(who, p, f"sequence of {self.steps} steps")
        p.raise_if_any()

    @property
    def channels_in(self) -> int:
        return self.features

    @property
    def spatial(self) -> tuple[int, ...]:
        return (self.steps,)


class CNN1dFamily(CNNFamily):
    """The 1-D convolutional family (:class:`Conv1dArchitecture`)."""

    name = "cnn1d"
    architecture = Conv1dArchitecture

    def first_filters(self, arch: Any, weights: dict[str, np.ndarray]) -> np.ndarray | None:
        """The first :data:`~reglab.engine.conv.FIRST_FILTERS` filters of ``conv0`` as
        ``float32 [n, features, 1, k]``: one row of ``k`` taps each, the report's tiles."""
        kernel = np.asarray(weights["conv0.weight"])[:FIRST_FILTERS]
        return np.array(kernel[:, :, None, :], dtype=np.float32)

    def export(self, arch: Any, strategy: Strategy) -> nn.Module:
        """The :class:`~reglab.layers.cnn.CNN1d` equal to one member (``state_dict`` names are
        the layout's; terms as :func:`~reglab.engine.conv.conv_arguments` places them)."""
        from reglab.layers.cnn import CNN1d

        return CNN1d(arch.steps, arch.features, **conv_arguments(arch, strategy))


def sequence_conv_architecture(
    dataset: Any, common: dict[str, Any], model: str
) -> Conv1dArchitecture:
    """A study's 1-D conv member on sequence data: :func:`sequence_blocks` over the
    dataset's ``[T, F]`` windows, then ``common``'s dense ``hidden`` layers."""
    if dataset.kind != "sequences" or len(dataset.shape) != 2:
        raise ConfigError(message("Study", "model", "'mlp' for data that are not sequences", model))
    steps, features = dataset.shape
    return Conv1dArchitecture(**common, steps=steps, features=features, conv=sequence_blocks(steps))


CNN1D_FAMILY = register_family(CNN1dFamily())
"""The 1-D convolutional family: :class:`Conv1dArchitecture` members on
:class:`~reglab.engine.conv_stack.ConvStack`, exported as :class:`~reglab.layers.cnn.CNN1d`."""
