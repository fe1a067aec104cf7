"""The convolutional model family: LeNet-style CNN members trained as stacks.

A :class:`ConvArchitecture` is an :class:`~reglab.engine.spec.Architecture` whose inputs are
images: each data row is ``C·H·W`` features, channel-major (numpy's reshape of
``[n, C, H, W]``). Its conv blocks (:class:`ConvBlock`: convolution → activation → max pool)
feed a dense head of ``hidden`` layers and the output layer, as in LeNet-5::

    ConvArchitecture(784, 10)   # 1×28×28 → conv 6@5×5 (pad 2) → pool 2 → conv 16@5×5 → pool 2
                                #         → dense 120 → 84 → 10

The family (:data:`CNN_FAMILY`, ``"cnn"``) gives the engine

* the layout (:class:`ConvLayout`): the dense head's blocks first (so ``kernel``/``bias`` are
  its layers, output last), then each conv block's kernel ``conv{i}.weight``
  ``[M, filters, in_channels, k, k]`` (kind ``"conv"``) and bias ``conv{i}.bias``
  ``[M, filters]`` (kind ``"conv_bias"``); every block is initialized as torch's
  ``nn.Linear``/``nn.Conv2d`` do, ``U(±1/√fan_in)``, from the member's own generator (dense
  layers first, then the conv blocks in order);
* the stack (:class:`~reglab.engine.conv_stack.ConvStack`, generic: autograd differentiates
  its forward pass);
* its noise places: the MLP's (input dropout on the pixels, dropout after the dense hidden
  blocks, DropConnect on the dense hidden kernels) and spatial dropout
  (:class:`~reglab.techniques.spatial.SpatialDropout`) after every conv block, one
  ``[filters, B]`` mask per block and step, drawn from the member's own noise stream;
* the export (:class:`~reglab.layers.cnn.CNN`) and the memory estimate.

Regularization: L1/L2 penalize the conv kernels as hidden kernels. The layers are numbered
conv blocks first, then the dense layers, and :meth:`Strategy.penalized
<reglab.engine.spec.Strategy.penalized>` picks among them: ``"hidden"`` (the default) and
``"all"`` penalize every conv kernel, ``"first"`` only the first conv kernel. Proximal L1,
decoupled weight decay and max-norm (one norm per filter, over ``in·k·k``) reach the conv
kernels as they reach the dense ones; biases are never penalized.

>>> arch = ConvArchitecture(784, 10)
>>> arch.feature_shapes, arch.layer_sizes
([(6, 14, 14), (16, 5, 5)], (400, 120, 84, 10))
>>> from reglab.engine.family import family_of
>>> family_of(arch).name
'cnn'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import numpy as np
from torch import nn

from reglab._validation import Problems, check_int, message
from reglab.engine.family import ModelFamily, register_family
from reglab.engine.layout import StackLayout
from reglab.engine.spec import Architecture, MemberSpec, Strategy
from reglab.engine.stack import EVAL_ROWS, Stack
from reglab.engine.streams import NoisePlace, batch_pattern, dense_noise_places
from reglab.errors import ConfigError
from reglab.layers.cnn import conv_output_sizes
from reglab.techniques.spatial import SpatialDropout

__all__ = [
    "CNN_FAMILY",
    "FIRST_FILTERS",
    "CNNFamily",
    "ConvArchitecture",
    "ConvBlock",
    "ConvLayout",
    "ConvShapes",
    "SpatialPlace",
    "conv_arguments",
    "image_blocks",
    "spatial_rate",
]


@dataclass(frozen=True)
class ConvBlock:
    """One conv block: ``filters`` kernels of ``kernel_size × kernel_size`` (stride 1,
    ``padding`` zeros), the activation, then a max pooling of window and stride ``pool``
    (``1``: none)."""

    filters: int
    kernel_size: int = 5
    pool: int = 2
    padding: int = 0

    def __post_init__(self) -> None:
        p = Problems()
        for name in ("filters", "kernel_size", "pool"):
            p.check(check_int, "ConvBlock", name, getattr(self, name), minimum=1)
        p.check(check_int, "ConvBlock", "padding", self.padding, minimum=0)
        p.raise_if_any()

    def astuple(self) -> tuple[int, int, int, int]:
        """``(filters, kernel_size, pool, padding)``: a block of :class:`~reglab.layers.cnn.CNN`."""
        return (self.filters, self.kernel_size, self.pool, self.padding)


LENET5 = (ConvBlock(6, 5, 2, padding=2), ConvBlock(16, 5, 2))
"""LeNet-5's conv blocks on 28×28 images: 6@5×5 (padded to keep 28×28), pool, 16@5×5, pool."""


def image_blocks(height: int, width: int) -> tuple[ConvBlock, ...]:
    """A study's conv blocks for ``height × width`` images: :data:`LENET5` when they leave a
    feature map (images of at least 12×12); on smaller images both convolutions are padded
    to keep the size, and a block pools by 2 only while the map is at least 2×2.

    >>> image_blocks(28, 28) == LENET5
    True
    >>> [b.astuple() for b in image_blocks(8, 8)]
    [(6, 5, 2, 2), (16, 5, 2, 2)]
    """
    shapes = conv_output_sizes(1, (height, width), [b.astuple() for b in LENET5])
    if min(shapes[-1][1:]) >= 1:
        return LENET5
    blocks = []
    size = min(height, width)
    for b in LENET5:
        pool = b.pool if size >= b.pool else 1
        blocks.append(ConvBlock(b.filters, b.kernel_size, pool, padding=b.kernel_size // 2))
        size //= pool
    return tuple(blocks)


class ConvShapes:
    """The shape arithmetic every conv architecture shares: ``conv`` blocks on inputs of
    ``channels`` × ``spatial`` (``(height, width)`` for images, ``(steps,)`` for sequences),
    then the dense ``hidden`` layers and the output."""

    conv: tuple[ConvBlock, ...]
    hidden: tuple[int, ...]
    in_features: int
    out_features: int

    @property
    def channels_in(self) -> int:
        """Channels of the first conv block's input."""
        raise NotImplementedError

    @property
    def spatial(self) -> tuple[int, ...]:
        """The input's spatial sizes, one per convolved axis."""
        raise NotImplementedError

    @property
    def dims(self) -> int:
        """How many axes the convolutions slide over (1 or 2)."""
        return len(self.spatial)

    @property
    def feature_shapes(self) -> list[tuple[int, ...]]:
        """``(C, *spatial)`` after each conv block (pooled)."""
        return conv_output_sizes(self.channels_in, self.spatial, [b.astuple() for b in self.conv])

    @property
    def conv_shapes(self) -> list[tuple[int, ...]]:
        """``(C, *spatial)`` of each convolution's output, before pooling."""
        shapes = []
        sizes = self.spatial
        for b, (_, *pooled) in zip(self.conv, self.feature_shapes, strict=True):
            grow = 2 * b.padding - b.kernel_size + 1
            shapes.append((b.filters, *(n + grow for n in sizes)))
            sizes = tuple(pooled)
        return shapes

    @property
    def flat_features(self) -> int:
        """Inputs of the dense head: the last block's ``C'·∏ spatial'``."""
        last = self.feature_shapes[-1] if self.conv else (self.channels_in, *self.spatial)
        return math.prod(last)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """The dense head's ``(flat_features, *hidden, out)``."""
        return (self.flat_features, *self.hidden, self.out_features)

    def _check_blocks(self, who: str, p: Problems) -> None:
        """Turn ``conv`` tuples into :class:`ConvBlock` values (problems collected in
        ``p``)."""
        blocks = []
        for block in self.conv:
            try:
                blocks.append(block if isinstance(block, ConvBlock) else ConvBlock(*block))
            except (ConfigError, TypeError) as exc:
                p.add(f"{who}: `conv` entry {block!r}: {exc}")
        object.__setattr__(self, "conv", tuple(blocks))

    def _check_maps(self, who: str, p: Problems, what: str) -> None:
        """Refuse a block that leaves a feature map smaller than 1 (after the other checks)."""
        if p.messages:
            return
        for i, (_, *sizes) in enumerate(self.feature_shapes):
            if min(sizes) < 1:
                got = "×".join(str(n) for n in sizes)
                size = "×".join("1" for _ in sizes)
                p.add(
                    f"{who}: `conv` block {i} must leave a feature map of at least {size}; "
                    f"got {got} ({what})."
                )


@dataclass(frozen=True)
class ConvArchitecture(ConvShapes, Architecture):
    """A CNN shape: conv blocks on ``channels × height × width`` images, then the dense
    ``hidden`` layers and the output (see the module docstring).

    ``in_features`` must be ``channels·height·width``; ``conv`` holds :class:`ConvBlock`
    values (or ``(filters, kernel_size[, pool[, padding]])`` tuples). With ``batch_norm``
    every conv block normalizes its convolution's output per channel (over the rows and
    positions) before the activation, and the dense head's hidden layers as in the MLP
    (``block_order``).
    """

    hidden: tuple[int, ...] = (120, 84)
    channels: int = 1
    height: int = 28
    width: int = 28
    conv: tuple[ConvBlock, ...] = LENET5

    def __post_init__(self) -> None:
        super().__post_init__()
        p = Problems()
        for name in ("channels", "height", "width"):
            p.check(check_int, "ConvArchitecture", name, getattr(self, name), minimum=1)
        p.raise_if_any()
        self._check_blocks("ConvArchitecture", p)
        pixels = self.channels * self.height * self.width
        if self.in_features != pixels:
            p.add(
                message(
                    "ConvArchitecture",
                    "in_features",
                    f"channels·height·width = {pixels}",
                    self.in_features,
                )
            )
        self._check_maps("ConvArchitecture", p, f"image {self.height}×{self.width}")
        p.raise_if_any()

    @property
    def channels_in(self) -> int:
        return self.channels

    @property
    def spatial(self) -> tuple[int, ...]:
        return (self.height, self.width)


def conv_penalized(strategy: Strategy, arch: ConvShapes) -> tuple[bool, ...]:
    """Which layers carry the l1/l2 penalty: the conv kernels, then the dense layers."""
    return strategy.penalized(len(arch.conv) + len(arch.hidden) + 1)


class ConvLayout(StackLayout):
    """The dense head's blocks, then every conv block's kernel and bias."""

    arch: ConvArchitecture

    def extra_blocks(self, arch: Architecture) -> list[tuple[str, str, int, tuple[int, ...]]]:
        shapes = cast(ConvShapes, arch)
        blocks: list[tuple[str, str, int, tuple[int, ...]]] = []
        fan_in = shapes.channels_in
        for i, b in enumerate(shapes.conv):
            shape = (b.filters, fan_in, *(b.kernel_size,) * shapes.dims)
            blocks.append((f"conv{i}.weight", "conv", i, shape))
            blocks.append((f"conv{i}.bias", "conv_bias", i, (b.filters,)))
            if arch.batch_norm:
                blocks.append((f"conv_bn{i}.weight", "conv_gamma", i, (b.filters,)))
                blocks.append((f"conv_bn{i}.bias", "conv_beta", i, (b.filters,)))
            fan_in = b.filters
        return blocks

    def initial_extra(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``nn.Conv2d``'s (``nn.Conv1d``'s) initialization, ``U(±1/√(in·k·k))``
        (``U(±1/√(in·k))``) for kernel then bias."""
        values: dict[str, np.ndarray] = {}
        for block in self.blocks:
            if block.kind == "conv":
                bound = 1.0 / math.sqrt(math.prod(block.shape[1:]))
                values[block.name] = rng.uniform(-bound, bound, size=block.shape)
                bias = block.name.replace("weight", "bias")
                values[bias] = rng.uniform(-bound, bound, size=(block.shape[0],))
            elif block.kind in ("conv_gamma", "conv_beta"):  # batch norm's 1 and 0: no draws
                values[block.name] = np.full(block.shape, float(block.kind == "conv_gamma"))
        return values


def spatial_rate(member: MemberSpec) -> float:
    """The member's ``spatial-dropout`` rate (0 without it)."""
    return spatial_rate_of(member.strategy)


@dataclass(frozen=True)
class SpatialPlace(NoisePlace):
    """Spatial dropout after conv block ``layer``: one ``[filters, B]`` mask per step."""

    def rate(self, member: MemberSpec) -> float:
        return spatial_rate(member)

    def gaussian(self, member: MemberSpec) -> bool:
        return False


FIRST_FILTERS = 8
"""How many first-layer filters a CNN member's result keeps (the report shows them)."""


class CNNFamily(ModelFamily):
    """The convolutional family (:class:`ConvArchitecture`)."""

    name = "cnn"
    architecture: ClassVar[type] = ConvArchitecture

    def layout(self, arch: Any) -> StackLayout:
        return ConvLayout(arch)

    def stack_class(self, generic: bool) -> type[Stack]:
        from reglab.engine.conv_stack import ConvStack

        return ConvStack

    def noise_places(self, members: Sequence[MemberSpec]) -> list[NoisePlace]:
        arch = cast(ConvShapes, members[0].arch)
        batch = members[0].batch_size
        places = dense_noise_places(members)
        if any(spatial_rate(m) > 0 for m in members):
            places += [
                SpatialPlace("spatial", i, (b.filters, batch)) for i, b in enumerate(arch.conv)
            ]
        return places

    def initial_weights(self, member: MemberSpec) -> dict[str, np.ndarray]:
        """As the base, with batch norm's running statistics (``conv_bn{i}`` and the dense
        head's ``bn{i}``: mean 0, variance 1) when the member uses it."""
        state = super().initial_weights(member)
        arch = cast(ConvShapes, member.arch)
        if getattr(arch, "batch_norm", False):
            sizes = [(f"bn{i}", h) for i, h in enumerate(arch.hidden)]
            sizes += [(f"conv_bn{i}", b.filters) for i, b in enumerate(arch.conv)]
            for name, n in sizes:
                state[f"{name}.running_mean"] = np.zeros(n, dtype=np.float32)
                state[f"{name}.running_var"] = np.ones(n, dtype=np.float32)
                state[f"{name}.num_batches_tracked"] = np.array(0, dtype=np.int64)
        return state

    def weight_summary(self, arch: Any, weights: dict[str, np.ndarray]) -> tuple[Any, ...]:
        """Sparsity and histograms of every kernel: each conv block's ``conv{i}`` (fan-in
        ``in_channels · k^dims``), then the dense head's ``dense{i}`` and ``output``. No feature
        norms: the head's inputs are conv features, not the data's columns, and a conv kernel
        is shared by every pixel (or time step)."""
        from reglab.engine.layout import layer_names
        from reglab.engine.result import kernel_summary

        shapes = cast(ConvShapes, arch)
        kernels = []
        fan_in = shapes.channels_in
        for i, b in enumerate(shapes.conv):
            kernels.append(
                (f"conv{i}", weights[f"conv{i}.weight"], fan_in * b.kernel_size**shapes.dims)
            )
            fan_in = b.filters
        kernels += [
            (name, weights[f"{name}.weight"], size)
            for name, size in zip(layer_names(arch), arch.layer_sizes[:-1], strict=True)
        ]
        return kernel_summary(kernels, None)

    def first_filters(self, arch: Any, weights: dict[str, np.ndarray]) -> np.ndarray | None:
        """The first :data:`FIRST_FILTERS` filters of the first conv block's kernel ``conv0``,
        ``float32 [n, in_channels, k, k]`` (``n = min(FIRST_FILTERS, filters)``)."""
        kernel = np.asarray(weights["conv0.weight"])
        return np.array(kernel[:FIRST_FILTERS], dtype=np.float32)

    def export(self, arch: Any, strategy: Strategy) -> nn.Module:
        """The :class:`~reglab.layers.cnn.CNN` equal to one member (``state_dict`` names are the
        layout's): the strategy's dense terms go to the head as in
        :func:`~reglab.engine.export.single_model`, L1/L2 also to the conv kernels that
        :func:`conv_penalized` flags, max-norm to every kernel (per filter on conv kernels),
        ``spatial-dropout`` after every conv block."""
        from reglab.layers.cnn import CNN

        return CNN(arch.channels, arch.height, arch.width, **conv_arguments(arch, strategy))

    def member_bytes(self, member: MemberSpec) -> int:
        """The dense estimate over this layout, plus the conv blocks' activations: per row of
        a training step ``8`` copies of every convolution's output (output, activation,
        pooling and its indices, spatial mask, their gradients) and ``4`` of the image; per
        evaluated row ``3`` of the largest block output."""
        from reglab.engine.plan import dense_member_bytes

        arch = cast(ConvShapes, member.arch)
        base = dense_member_bytes(member, self.layout(arch))
        conv = sum(math.prod(s) for s in arch.conv_shapes)
        largest = max([math.prod(s) for s in arch.conv_shapes] + [arch.in_features])
        b = member.batch_size
        step = b * (8 * conv + 4 * arch.in_features) * 4
        evaluation = EVAL_ROWS * 3 * largest * 4
        spatial = 0
        if spatial_rate(member) > 0:
            noise = sum(blk.filters for blk in arch.conv) * b * batch_pattern(member)[0]
            spatial = 4 * noise * 4
        return int(base + step + evaluation + spatial)


def conv_arguments(arch: Any, strategy: Strategy) -> dict[str, Any]:
    """The arguments of :class:`~reglab.layers.cnn.CNN` (or
    :class:`~reglab.layers.cnn.CNN1d`) after its input shape that make it one member: the
    strategy's dense terms go to the head as in :func:`~reglab.engine.export.single_model`,
    L1/L2 also to the conv kernels that :func:`conv_penalized` flags, max-norm to every kernel
    (per filter on conv kernels), ``spatial-dropout`` after every conv block."""
    from reglab.engine.export import mlp_arguments
    from reglab.regularizers import L1L2

    head = mlp_arguments(arch, strategy)
    flags = conv_penalized(strategy, arch)
    n_conv = len(arch.conv)
    reg = L1L2(l1=strategy.one("l1"), l2=strategy.one("l2"), mode=strategy.l1_mode)
    on = strategy.one("l1") > 0 or strategy.one("l2") > 0
    head["kernel_regularizer"] = [reg if on and f else None for f in flags[n_conv:]]
    head["regularize_output"] = False
    for key in ("in_features", "out_features", "hidden", "activation", "input_dropout"):
        head.pop(key)
    return {
        "out_features": arch.out_features,
        "conv": [b.astuple() for b in arch.conv],
        "hidden": arch.hidden,
        "activation": arch.activation,
        "conv_regularizer": [reg if on and f else None for f in flags[:n_conv]],
        "conv_constraint": _max_norm(strategy),
        "spatial_dropout": spatial_rate_of(strategy),
        "input_dropout": strategy.input_dropout,
        **head,
    }


def spatial_rate_of(strategy: Strategy) -> float:
    """A strategy's ``spatial-dropout`` rate (0 without it)."""
    for config in strategy.techniques:
        if config.key == SpatialDropout.key:
            return float(config.values["rate"])
    return 0.0


CNN_FAMILY = register_family(CNNFamily())
"""The convolutional family: :class:`ConvArchitecture` members on
:class:`~reglab.engine.conv_stack.ConvStack`, exported as :class:`~reglab.layers.cnn.CNN`."""


def _max_norm(strategy: Strategy) -> Any:
    from reglab.regularizers import MaxNorm

    c = strategy.one("max_norm")
    return MaxNorm(c) if c > 0 else None
