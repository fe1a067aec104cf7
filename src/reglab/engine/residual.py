"""The ``residual-mlp`` family: an MLP whose hidden layers are pre-norm residual blocks.

The network is :class:`~reglab.layers.residual.ResidualMLP` (Gorishniy et al. 2021, "Revisiting
deep learning models for tabular data"): the inputs are projected to the width
``d = hidden[0]``, each entry ``h_l`` of ``hidden`` is one block

    h ← h + g_l ⊙ D_l(E_l(W_l2 · act(W_l1 · N_l(h) + b_l1) + b_l2))      (W_l1: [h_l, d], W_l2: [d, h_l])

and the output layer reads ``act(h)``; ``E_l`` is the branch's closing batch norm
(``branch_norm``; the identity without it). A study builds a strategy's members in this
family when the strategy has the ``residual`` term
(:func:`~reglab.engine.skip.dense_architecture`); the ``hidden`` option then gives the blocks
(``--hidden 64,64,64,64``: four blocks of width 64).

What the strategy terms do on a residual member:

* **L1/L2** (elastic net) penalize the kernels ``penalty-layers`` names among the Dense layers
  in order (``project``, each block's ``W_l1`` and ``W_l2``, ``output``): ``hidden`` (the
  default) every kernel but the output's, ``all`` every kernel, ``first`` the projection.
  Proximal L1, decoupled weight decay and **max-norm** (per unit) reach every kernel.
* **Dropout** (``D_l``, rate per block with ``dropout=a/b``) and Gaussian dropout act on each
  block's branch before it joins the sum; **input dropout** on the inputs; **DropConnect**
  masks each block's ``W_l1``.
* **Batch norm** is ``N_l``, the block's input normalization (``block_order`` must be
  ``bn-act-drop``: the block normalizes first).
* **shake-drop=P** is ``g_l`` (:mod:`reglab.layers.shakedrop`), ``p_l = P·l/L``, and it
  builds the member's architecture with ``branch_norm``: each branch ends in batch norm
  ``E_l`` (per member over its batch, running statistics for evaluation), the form
  Yamada et al. (2018) train ShakeDrop in. Without it a branch that ShakeDrop reverses
  (``α < 0``) grows without bound and training diverges
  (:mod:`reglab.layers.residual`; ``benchmarks/shakedrop_scale.py`` measures it).
* Registry techniques: penalties and hidden noise on activations act on each block's branch
  output (after its activation, second kernel and ``E_l``, before dropout); input noise, batch and
  loss techniques (mixup, adversarial training), projections and ``swa`` as on an MLP.
  Techniques that reparametrize every Dense kernel (``sparse-vd``, ``learned-dropout``) are
  refused in one line (they act on ``mlp`` members only), as is ``lassonet``, which needs the
  ``skip-mlp`` family.

>>> arch = ResidualArchitecture(5, 3, hidden=(16, 8))
>>> arch.layer_sizes
(5, 16, 16, 16, 8, 16, 3)
>>> [b.name for b in ResidualLayout(arch).of_kind("kernel")]
['project.weight', 'blocks.0.dense0.weight', 'blocks.0.dense1.weight', 'blocks.1.dense0.weight', 'blocks.1.dense1.weight', 'output.weight']
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from torch import nn

from reglab._validation import message
from reglab.engine.family import ModelFamily, register_family
from reglab.engine.layout import StackLayout
from reglab.engine.spec import Architecture, MemberSpec, Strategy
from reglab.engine.stack import Stack
from reglab.engine.streams import NoisePlace
from reglab.errors import ConfigError

__all__ = [
    "RESIDUAL_FAMILY",
    "ResidualArchitecture",
    "ResidualFamily",
    "ResidualLayout",
    "layer_names",
    "norm_names",
    "shake_rate",
]


@dataclass(frozen=True)
class ResidualArchitecture(Architecture):
    """A residual MLP (module docstring): width ``hidden[0]``, one block per ``hidden`` entry.

    Fields as :class:`~reglab.engine.spec.Architecture`; with batch norm ``block_order`` must
    be ``"bn-act-drop"`` (each block normalizes its input first). ``branch_norm`` ends every
    branch with batch norm ``E_l`` (a study sets it for strategies with ``shake-drop``:
    :func:`~reglab.engine.skip.dense_architecture`).
    """

    branch_norm: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.branch_norm, bool):
            raise ConfigError(
                message("ResidualArchitecture", "branch_norm", "a bool", self.branch_norm)
            )
        if not self.hidden:
            raise ConfigError(
                message("ResidualArchitecture", "hidden", "at least one block", self.hidden)
            )
        if self.batch_norm and self.block_order != "bn-act-drop":
            raise ConfigError(
                message("ResidualArchitecture", "block_order", "'bn-act-drop' with batch norm "
                        "(a residual block normalizes its input first)", self.block_order)
            )  # fmt: skip

    @property
    def width(self) -> int:
        """``d``: the width of the residual stream."""
        return self.hidden[0]

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """The Dense layers' sizes in order, ``(in, d, h_1, d, h_2, d, …, d, out)``."""
        d = self.width
        inner = [s for h in self.hidden for s in (h, d)]
        return (self.in_features, d, *inner, self.out_features)


def layer_names(arch: ResidualArchitecture) -> tuple[str, ...]:
    """The Dense layers' module names in order: ``project``, ``blocks.{l}.dense0/1``, ``output``."""
    blocks = [f"blocks.{i}.dense{j}" for i in range(len(arch.hidden)) for j in (0, 1)]
    return ("project", *blocks, "output")


class ResidualLayout(StackLayout):
    """Kernels and biases of every Dense layer in order (:func:`layer_names`), then with batch
    norm each block's ``blocks.{l}.norm.weight``/``.bias`` ``[d, 1]``, then with
    ``branch_norm`` each block's ``blocks.{l}.out_norm.weight``/``.bias`` ``[d, 1]`` (scales 1,
    shifts 0). Initialization is ``nn.Linear``'s, layer by layer, as for an MLP
    (:meth:`StackLayout.initial`): the norms draw nothing, so a member's Dense layers start
    the same with or without them."""

    def __init__(self, arch: Architecture) -> None:
        arch = cast(ResidualArchitecture, arch)
        self.arch = arch
        sizes = arch.layer_sizes
        names = layer_names(arch)
        n_layers = len(sizes) - 1
        specs: list[tuple[str, str, int, tuple[int, ...]]] = [
            (f"{names[i]}.weight", "kernel", i, (sizes[i + 1], sizes[i])) for i in range(n_layers)
        ]
        specs += [(f"{names[i]}.bias", "bias", i, (sizes[i + 1], 1)) for i in range(n_layers)]
        for module in norm_names(arch):
            for kind, name in (("gamma", "weight"), ("beta", "bias")):
                specs += [
                    (f"blocks.{i}.{module}.{name}", kind, i, (arch.width, 1))
                    for i in range(len(arch.hidden))
                ]
        self.n_layers = n_layers
        self.constants: dict[str, float] = {}
        self._place(specs)


def norm_names(arch: ResidualArchitecture) -> tuple[str, ...]:
    """The batch norms every block has, in layout order: ``norm`` (its input, with
    ``batch_norm``), then ``out_norm`` (its branch's end, with ``branch_norm``)."""
    return ("norm",) * arch.batch_norm + ("out_norm",) * arch.branch_norm


def shake_rate(strategy: Strategy) -> float:
    """A strategy's ShakeDrop ``P`` (0 without ``shake-drop``)."""
    for config in strategy.techniques:
        if config.key == "shake-drop":
            return float(config.values["rate"])
    return 0.0


class ResidualFamily(ModelFamily):
    """:class:`ResidualArchitecture` members on
    :class:`~reglab.engine.residual_stack.ResidualStack`, exported as
    :class:`~reglab.layers.residual.ResidualMLP`."""

    name = "residual-mlp"
    architecture = ResidualArchitecture

    def layout(self, arch: Any) -> StackLayout:
        return ResidualLayout(arch)

    def stack_class(self, generic: bool) -> type[Stack]:
        from reglab.engine.residual_stack import ResidualStack

        return ResidualStack

    def noise_places(self, members: Sequence[MemberSpec]) -> list[NoisePlace]:
        """Input dropout ``[in, B]``, each block's branch dropout ``[d, B]`` and DropConnect
        on each block's first kernel ``[h_l, d]`` (those at least one member uses)."""
        arch = cast(ResidualArchitecture, members[0].arch)
        batch = members[0].batch_size
        d = arch.width
        candidates = [NoisePlace("input", 0, (arch.in_features, batch))]
        candidates += [NoisePlace("hidden", i, (d, batch)) for i in range(len(arch.hidden))]
        candidates += [NoisePlace("connect", i, (h, d)) for i, h in enumerate(arch.hidden)]
        return [p for p in candidates if any(p.rate(m) > 0 for m in members)]

    def initial_weights(self, member: MemberSpec) -> dict[str, np.ndarray]:
        state = super().initial_weights(member)
        arch = cast(ResidualArchitecture, member.arch)
        for module in norm_names(arch):
            for i in range(len(arch.hidden)):
                prefix = f"blocks.{i}.{module}"
                state[f"{prefix}.running_mean"] = np.zeros(arch.width, dtype=np.float32)
                state[f"{prefix}.running_var"] = np.ones(arch.width, dtype=np.float32)
                state[f"{prefix}.num_batches_tracked"] = np.array(0, dtype=np.int64)
        return state

    def weight_summary(self, arch: Any, weights: dict[str, np.ndarray]) -> tuple[Any, ...]:
        """The summary of every Dense kernel, by its module name (``blocks.0.dense1``); the
        feature norms are the projection's column norms."""
        from reglab.engine.result import kernel_summary

        sizes = arch.layer_sizes
        kernels = [
            (name, weights[f"{name}.weight"], sizes[i]) for i, name in enumerate(layer_names(arch))
        ]
        return kernel_summary(kernels, weights["project.weight"])

    def export(self, arch: Any, strategy: Strategy) -> nn.Module:
        """The :class:`~reglab.layers.residual.ResidualMLP` equal to one member: the
        strategy's dropout, input dropout, dropout kind, DropConnect, max-norm, L1/L2 on the
        kernels :meth:`Strategy.penalized <reglab.engine.spec.Strategy.penalized>` flags,
        ShakeDrop's ``P`` and the architecture's ``branch_norm``."""
        from reglab.layers.residual import ResidualMLP
        from reglab.regularizers import L1L2, MaxNorm

        if strategy.batch_norm and not arch.batch_norm:
            raise ConfigError(
                message("ResidualFamily.export", "arch.batch_norm",
                        f"True for strategy {strategy.name!r}, which asks for batch norm", False)
            )  # fmt: skip
        n_layers = len(arch.layer_sizes) - 1
        reg = L1L2(l1=strategy.one("l1"), l2=strategy.one("l2"), mode=strategy.l1_mode)
        on = strategy.one("l1") > 0 or strategy.one("l2") > 0
        rates = strategy.dropout_rates(len(arch.hidden))
        return ResidualMLP(
            arch.in_features,
            arch.out_features,
            arch.hidden,
            arch.activation,
            dropout=rates[0] if len(set(rates)) == 1 else rates,
            input_dropout=strategy.input_dropout,
            dropout_kind=strategy.dropout_kind,
            drop_connect=strategy.one("drop_connect"),
            batch_norm=arch.batch_norm,
            shake_drop=shake_rate(strategy),
            branch_norm=arch.branch_norm,
            kernel_regularizer=[reg if on and f else None for f in strategy.penalized(n_layers)],
            kernel_constraint=MaxNorm(c) if (c := strategy.one("max_norm")) > 0 else None,
        )

    def member_bytes(self, member: MemberSpec) -> int:
        """The dense estimate over this layout, plus each block's extra activations: per row
        of a training step ``4`` copies of the stream (``d``) and ``2`` of the inner layer,
        and ``2`` more of the stream with ``branch_norm`` (the norm's output and its
        normalized input)."""
        from reglab.engine.plan import dense_member_bytes

        arch = cast(ResidualArchitecture, member.arch)
        stream = 4 + 2 * arch.branch_norm
        extra = sum(stream * arch.width + 2 * h for h in arch.hidden) * member.batch_size * 4
        return int(dense_member_bytes(member, self.layout(arch)) + extra)


RESIDUAL_FAMILY = register_family(ResidualFamily())
"""The registered ``residual-mlp`` family."""
