"""Where every member's parameters live: one flat buffer, one contiguous block per tensor kind.

A stack of ``M`` members keeps all its parameters in one flat tensor so that the optimizer, the
penalty gradients and the early-stopping snapshots are a handful of elementwise operations over
one buffer. The buffer is a sequence of **blocks**, one per parameter tensor of the MLP, each
holding that tensor for all members contiguously, member-major. The stack computes in columns
(activations ``[M, units, B]``, ``z = W·h + b``), so the kernel of Dense layer ``l`` is the
block ``[M, out_l, in_l]`` (torch's layout), its bias ``[M, out_l, 1]``, and with batch norm the
scale and shift of hidden layer ``l`` are ``[M, h_l, 1]``. Kernels come first, so the penalized
weights are the prefix ``flat[:K·M]``. A last ``pad`` block of zeros rounds each member's share
up to a multiple of :data:`PAD` elements: operations over the whole buffer (the fused optimizer
step) then never meet a scalar remainder loop whose arithmetic differs from the vector loop's,
so a member's arithmetic does not depend on how many members share the buffer.

Because each block is contiguous, ``torch.bmm(..., out=grad_block)`` writes gradients in place,
and a per-member value is turned into a per-element coefficient once per stack by
:meth:`StackLayout.expand`.

>>> from reglab.engine.spec import Architecture
>>> layout = StackLayout(Architecture(3, 2, hidden=(4,)))
>>> [(b.name, b.shape) for b in layout.blocks]
[('dense0.weight', (4, 3)), ('output.weight', (2, 4)), ('dense0.bias', (4, 1)), ('output.bias', (2, 1)), ('', (38,))]
>>> layout.size, layout.n_params, layout.kernel_size
(64, 26, 20)
"""  # noqa: E501

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from reglab.engine.spec import Architecture
from reglab.errors import ConfigError

__all__ = ["PAD", "Block", "StackLayout", "layer_names"]

PAD = 64
"""Each member's share of a flat buffer is a multiple of this many elements."""


def layer_names(arch: Architecture) -> tuple[str, ...]:
    """Names of the Dense layers, as in :class:`reglab.layers.MLP`: ``dense0, …, output``.

    >>> layer_names(Architecture(3, 2, hidden=(4, 4)))
    ('dense0', 'dense1', 'output')
    """
    return (*(f"dense{i}" for i in range(len(arch.hidden))), "output")


@dataclass(frozen=True)
class Block:
    """One parameter tensor of every member.

    Attributes:
        name: The :class:`~reglab.layers.MLP` ``state_dict`` key it exports to (``""`` for the
            padding).
        kind: ``"kernel"``, ``"bias"``, ``"gamma"`` (batch-norm scale), ``"beta"`` (shift) or
            ``"pad"`` (zeros that round a member's share up to a multiple of :data:`PAD`).
        layer: Index of the Dense layer (output last) or of the hidden block for batch norm.
        shape: Per-member shape in the engine's layout.
        start: Offset of the block, in elements per member (the block starts at ``start·M``).
    """

    name: str
    kind: str
    layer: int
    shape: tuple[int, ...]
    start: int

    @property
    def size(self) -> int:
        """Number of elements per member."""
        return math.prod(self.shape)


class StackLayout:
    """The blocks of an architecture's parameters and the operations on a flat buffer of them.

    Args:
        arch: The architecture every member of the stack shares.
    """

    def __init__(self, arch: Architecture) -> None:
        self.arch = arch
        sizes = arch.layer_sizes
        names = layer_names(arch)
        n_layers = len(sizes) - 1
        specs: list[tuple[str, str, int, tuple[int, ...]]] = []
        for layer in range(n_layers):
            kernel = (sizes[layer + 1], sizes[layer])
            specs.append((f"{names[layer]}.weight", "kernel", layer, kernel))
        for layer in range(n_layers):
            specs.append((f"{names[layer]}.bias", "bias", layer, (sizes[layer + 1], 1)))
        if arch.batch_norm:
            for layer, units in enumerate(arch.hidden):
                specs.append((f"bn{layer}.weight", "gamma", layer, (units, 1)))
            for layer, units in enumerate(arch.hidden):
                specs.append((f"bn{layer}.bias", "beta", layer, (units, 1)))
        specs += self.extra_blocks(arch)
        self.n_layers = n_layers
        self.constants: dict[str, float] = {}
        """Blocks added by :meth:`extended`: their constant initial value by name."""
        self._place(specs)

    def _place(self, specs: Sequence[tuple[str, str, int, tuple[int, ...]]]) -> None:
        blocks = []
        start = 0
        for name, kind, layer, shape in specs:
            blocks.append(Block(name, kind, layer, shape, start))
            start += math.prod(shape)
        self.n_params = start
        """Parameters per member."""
        pad = -start % PAD
        if pad:
            blocks.append(Block("", "pad", 0, (pad,), start))
            start += pad
        self.blocks: tuple[Block, ...] = tuple(blocks)
        self.size = start
        """Elements per member in a flat buffer (parameters and padding)."""
        self.kernel_size = sum(b.size for b in blocks if b.kind == "kernel")

    def extended(
        self,
        specs: Sequence[tuple[str, str, int, tuple[int, ...]]],
        constants: Mapping[str, float],
    ) -> StackLayout:
        """A copy of this layout with more blocks ``(name, kind, layer, shape)`` after the
        others, each initialized to its constant in ``constants`` (a technique's extra
        parameters, :mod:`reglab.engine.parametrize`). Initialization draws nothing more, so
        the other blocks start as they do in this layout."""
        new = copy.copy(self)
        kept = [(b.name, b.kind, b.layer, b.shape) for b in self.blocks if b.kind != "pad"]
        new._place([*kept, *specs])
        new.constants = {**self.constants, **constants}
        return new

    def extra_blocks(self, arch: Architecture) -> list[tuple[str, str, int, tuple[int, ...]]]:
        """A model family's own blocks after the dense layers' ``(name, kind, layer, shape)``.

        Their kind must differ from ``kernel``, ``bias``, ``gamma`` and ``beta`` (which the
        stacks read as the dense layers'); the optimizer and decoupled weight decay reach every
        block. :meth:`initial_extra` initializes them.
        """
        return []

    def initial_extra(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Initial values of :meth:`extra_blocks` by name, drawn after the dense layers'."""
        return {}

    def of_kind(self, kind: str) -> list[Block]:
        """The blocks of one kind, in layer order."""
        return [b for b in self.blocks if b.kind == kind]

    def views(self, flat: Tensor, m: int) -> list[Tensor]:
        """Views ``[m, *shape]`` of every block of ``flat`` (which holds ``m`` members)."""
        return [flat[b.start * m : (b.start + b.size) * m].view(m, *b.shape) for b in self.blocks]

    def select(self, flat: Tensor, m: int, keep: Tensor) -> Tensor:
        """A new flat buffer with only the members ``keep`` (indices into ``0..m-1``), in order."""
        parts = [
            flat[b.start * m : (b.start + b.size) * m].view(m, b.size).index_select(0, keep)
            for b in self.blocks
        ]
        return torch.cat([p.reshape(-1) for p in parts])

    def expand(self, values: Tensor, *, kinds: Sequence[str] | None = None) -> Tensor:
        """Per-element coefficients from per-member or per-(member, layer) values.

        Args:
            values: ``[M]`` (one value per member) or ``[M, L]`` (one per member and Dense
                layer; for batch-norm blocks the hidden block's column).
            kinds: Block kinds that get the value; the others get 0. ``None``: every block.

        Returns:
            A flat tensor shaped like the buffer: element ``j`` of block ``b`` of member ``i``
            holds ``values[i]`` (or ``values[i, b.layer]``).
        """
        parts = []
        for b in self.blocks:
            col = values if values.dim() == 1 else values[:, b.layer]
            if kinds is not None and b.kind not in kinds:
                col = torch.zeros_like(col)
            parts.append(col.repeat_interleave(b.size))
        return torch.cat(parts)

    def member_of(self, m: int, device: torch.device | str = "cpu") -> Tensor:
        """For each element of an ``m``-member buffer, the index of its member."""
        return self.expand(torch.arange(m, device=device))

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        """One member's initial parameters, flattened in block order (float32, padding included).

        Kernels and biases follow ``torch.nn.Linear``: ``U(−1/√fan_in, 1/√fan_in)``, drawn layer
        by layer (kernel in torch's ``[out, in]`` order, then bias) from ``rng``; batch-norm
        scales are 1 and shifts 0.
        """
        values: dict[str, np.ndarray] = {}
        sizes = self.arch.layer_sizes
        for layer in range(self.n_layers):
            fan_in, fan_out = sizes[layer], sizes[layer + 1]
            bound = 1.0 / math.sqrt(fan_in)
            kernel = rng.uniform(-bound, bound, size=(fan_out, fan_in))
            bias = rng.uniform(-bound, bound, size=(fan_out,))
            values[f"{layer}.kernel"] = kernel
            values[f"{layer}.bias"] = bias
        extra = self.initial_extra(rng)
        out = np.empty(self.size, dtype=np.float32)
        for b in self.blocks:
            if b.name in extra:
                block = extra[b.name]
            elif b.name in self.constants:
                block = np.full(b.size, self.constants[b.name])
            elif b.kind == "gamma":
                block = np.ones(b.size)
            elif b.kind in ("beta", "pad"):
                block = np.zeros(b.size)
            else:
                block = values[f"{b.layer}.{b.kind}"]
            out[b.start : b.start + b.size] = np.asarray(block, dtype=np.float32).reshape(-1)
        return out

    def stack(self, members: Sequence[np.ndarray], device: torch.device | str) -> Tensor:
        """The flat buffer of several members' parameters (each as from :meth:`initial`)."""
        per_member = np.stack(members)  # [M, P]
        parts = [per_member[:, b.start : b.start + b.size].reshape(-1) for b in self.blocks]
        return torch.from_numpy(np.concatenate(parts)).to(device)

    def flatten(self, state: Mapping[str, np.ndarray]) -> np.ndarray:
        """The inverse of :meth:`unstack`: one member's parameters from its ``state_dict``, in
        :meth:`initial`'s flat form (other entries, such as batch-norm running statistics,
        are ignored). A missing block or a wrong shape raises :class:`ConfigError`."""
        out = np.zeros(self.size, dtype=np.float32)
        for b in self.blocks:
            if b.kind == "pad":
                continue
            value = state.get(b.name)
            if value is None or np.asarray(value).size != b.size:
                got = "missing" if value is None else f"shape {np.shape(value)}"
                raise ConfigError(
                    f"StackLayout.flatten: `state` must hold {b.name!r} with {b.size} values "
                    f"{b.shape}; got {got}."
                )
            out[b.start : b.start + b.size] = np.asarray(value, dtype=np.float32).reshape(-1)
        return out

    def unstack(self, flat: Tensor, m: int, index: int) -> dict[str, np.ndarray]:
        """Member ``index``'s parameters in :class:`~reglab.layers.MLP` ``state_dict`` layout.

        Kernels are ``[out, in]``; biases, scales and shifts are vectors; a family's extra
        blocks keep their shape.
        """
        out: dict[str, np.ndarray] = {}
        for b, view in zip(self.blocks, self.views(flat, m), strict=True):
            if b.kind == "pad":
                continue
            value = view[index].detach().cpu().numpy()
            column = b.kind in ("bias", "gamma", "beta")  # stored [n, 1], exported as vectors
            out[b.name] = (value.reshape(-1) if column else value).copy()
        return out
