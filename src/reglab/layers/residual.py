"""The residual MLP: hidden layers as pre-norm residual blocks (Gorishniy et al. 2021).

``ResidualMLP(in, out, hidden=(d, h_1, …))`` has one block per entry of ``hidden``. The inputs
are first projected to the width ``d = hidden[0]``; block ``l`` (inner width ``h_l``; with
``hidden=(64,) * 4`` every width is 64) then computes

    h ← h + g_l ⊙ D_l(E_l(W_l2 · act(W_l1 · N_l(h) + b_l1) + b_l2))

and the output layer reads ``W_out · act(h) + b_out``. ``N_l`` is ``BatchNorm1d(d)`` with
``batch_norm=True`` (else the identity), ``E_l`` a ``BatchNorm1d(d)`` ending the branch with
``branch_norm`` (on by default with ShakeDrop, else the identity), ``D_l`` the block's dropout
(rate ``dropout`` or ``dropout[l]``), ``g_l`` ShakeDrop's gate with ``p_l = P·l/L`` for
``shake_drop=P`` (:mod:`reglab.layers.shakedrop`; 1 without it). DropConnect masks ``W_l1``.
Input dropout acts on the inputs before the projection.

Why ShakeDrop brings ``E_l``: Yamada et al. (2018) train ShakeDrop only on branches that end in
batch norm, and report that residual branches without it diverge. A dropped example's branch
goes forward times ``α ∈ [−1, 1]`` but its gradient comes back times ``β ∈ [0, 1]``: for
``α < 0`` the update moves the branch against the loss it produced, and nothing bounds the
branch's scale, which grows until the loss explodes. ``E_l`` fixes each branch's scale to its
learned ``γ`` per unit, so a reversed branch cannot run away.

Module names (``state_dict`` keys): ``dropout_in``, ``project``, ``blocks.{l}.norm``,
``blocks.{l}.dense0``, ``blocks.{l}.dense1``, ``blocks.{l}.out_norm``, ``blocks.{l}.dropout``,
``output``. The Dense
layers in order, ``project, blocks.0.dense0, blocks.0.dense1, …, output``, are what
``kernel_regularizer`` names when it is a sequence; a single penalty goes on every kernel but
the output's (and on that one with ``regularize_output``). ``kernel_constraint`` goes on every
kernel. It is the single model of an engine member of the ``residual-mlp`` family
(:mod:`reglab.engine.residual`).

>>> import torch
>>> from reglab.regularizers import L2
>>> net = ResidualMLP(5, 3, hidden=(16, 16), dropout=0.1, shake_drop=0.5, kernel_regularizer=L2(1e-4))
>>> net(torch.randn(8, 5)).shape
torch.Size([8, 3])
>>> [name for name, _ in net.blocks[1].named_children()]
['dense0', 'act', 'dense1', 'out_norm', 'dropout']
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from reglab._config import Configurable
from reglab._validation import Problems, check_choice, check_fraction, check_int, message
from reglab.layers.activations import ACTIVATIONS, Activation
from reglab.layers.dense import Dense, Penalty, Projection
from reglab.layers.dropconnect import drop_connect as _drop_connect
from reglab.layers.mlp import _DROPOUT_CLASSES, DROPOUT_KINDS
from reglab.layers.shakedrop import depth_rates, shake_drop, shake_gates

__all__ = ["ResidualBlock", "ResidualMLP"]


class ResidualBlock(nn.Module):
    """``h + g ⊙ D(E(dense1(act(dense0(N(h))))))``, one block of :class:`ResidualMLP`."""

    def __init__(
        self,
        width: int,
        units: int,
        activation: str,
        *,
        batch_norm: bool,
        branch_norm: bool,
        dropout: float,
        dropout_kind: str,
        drop_connect: float,
        shake_rate: float,
        penalties: Sequence[Penalty | None],
        constraint: Projection | None,
        generator: torch.Generator | None,
    ) -> None:
        super().__init__()
        if batch_norm:
            self.norm = nn.BatchNorm1d(width)
        self.dense0 = Dense(width, units, kernel_regularizer=penalties[0],
                            kernel_constraint=constraint)  # fmt: skip
        if drop_connect > 0:
            _drop_connect(self.dense0, "weight", drop_connect, generator=generator)
        self.act = Activation(activation)
        self.dense1 = Dense(units, width, kernel_regularizer=penalties[1],
                            kernel_constraint=constraint)  # fmt: skip
        if branch_norm:
            self.out_norm = nn.BatchNorm1d(width)
        if dropout > 0:
            self.dropout = _DROPOUT_CLASSES[dropout_kind](dropout, generator=generator)
        self.shake_rate = shake_rate

    def forward(self, h: Tensor, gates: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """``gates``: this step's ShakeDrop gates ``[B, 1]`` (forward, backward) in training."""
        r = self.norm(h) if hasattr(self, "norm") else h
        r = self.dense1(self.act(self.dense0(r)))
        if hasattr(self, "out_norm"):
            r = self.out_norm(r)
        if hasattr(self, "dropout"):
            r = self.dropout(r)
        if self.shake_rate > 0:
            if self.training and gates is not None:
                r = shake_drop(r, *gates)
            elif not self.training:
                r = r * (1.0 - self.shake_rate)
        return h + r


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


class ResidualMLP(nn.Module, Configurable):
    """A multilayer perceptron of residual blocks (module docstring).

    Args:
        in_features, out_features: Inputs and outputs, integers >= 1.
        hidden: The width ``d`` is ``hidden[0]``; one block per entry, entry ``l`` its inner
            width (at least one entry).
        activation: Activation inside the blocks and before the output layer.
        dropout: Rate of every block's dropout, or one rate per block; floats in [0, 1).
        input_dropout: Rate on the inputs, a float in [0, 1).
        dropout_kind: ``"standard"``, ``"gaussian"`` or ``"alpha"`` (as
            :class:`~reglab.layers.MLP`).
        drop_connect: DropConnect rate on each block's first kernel, a float in [0, 1).
        batch_norm: Normalize each block's input (``BatchNorm1d(d)``).
        shake_drop: ShakeDrop's ``P`` in [0, 1]: block ``l`` of ``L`` uses ``p_l = P·l/L``.
        branch_norm: End each block's branch with ``BatchNorm1d(d)`` (before its dropout and
            ShakeDrop's gate); ``None``, the default, turns it on exactly when ``shake_drop``
            is above 0, the form ShakeDrop trains stably in (module docstring).
        kernel_regularizer: A penalty for every kernel but the output's, or one penalty or
            ``None`` per Dense layer (``project``, the blocks' two kernels in order, ``output``).
        kernel_constraint: A constraint for every kernel (e.g. ``MaxNorm``).
        regularize_output: Also penalize the output kernel (only with a single penalty).
        generator: Source of the dropout and DropConnect masks (torch's default otherwise).
        shake_generator: Source of ShakeDrop's uniforms, a NumPy generator or a seed: each
            training forward draws ``[L, 3, B]`` (per block: ``b``'s, ``α``'s and ``β``'s).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int] = (64, 64),
        activation: str = "relu",
        dropout: float | Sequence[float] = 0.0,
        input_dropout: float = 0.0,
        dropout_kind: str = "standard",
        drop_connect: float = 0.0,
        batch_norm: bool = False,
        shake_drop: float = 0.0,
        kernel_regularizer: Penalty | Sequence[Penalty | None] | None = None,
        kernel_constraint: Projection | None = None,
        regularize_output: bool = False,
        branch_norm: bool | None = None,
        *,
        generator: torch.Generator | None = None,
        shake_generator: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        rates, penalties = self._validate(
            in_features, out_features, hidden, activation, dropout, input_dropout,
            dropout_kind, drop_connect, batch_norm, shake_drop, kernel_regularizer,
            regularize_output, branch_norm,
        )  # fmt: skip
        width = hidden[0]
        if input_dropout > 0:
            self.dropout_in = _DROPOUT_CLASSES[dropout_kind](input_dropout, generator=generator)
        self.project = Dense(in_features, width, kernel_regularizer=penalties[0],
                             kernel_constraint=kernel_constraint)  # fmt: skip
        shakes = depth_rates(float(shake_drop), len(hidden))
        self.blocks = nn.ModuleList(
            ResidualBlock(
                width,
                units,
                activation,
                batch_norm=batch_norm,
                branch_norm=shake_drop > 0 if branch_norm is None else branch_norm,
                dropout=rates[i],
                dropout_kind=dropout_kind,
                drop_connect=drop_connect,
                shake_rate=shakes[i],
                penalties=penalties[1 + 2 * i : 3 + 2 * i],
                constraint=kernel_constraint,
                generator=generator,
            )
            for i, units in enumerate(hidden)
        )
        self.act = Activation(activation)
        self.output = Dense(width, out_features, kernel_regularizer=penalties[-1],
                            kernel_constraint=kernel_constraint)  # fmt: skip
        self.in_features = in_features
        self.out_features = out_features
        self.hidden = tuple(hidden)
        self.activation = activation
        self.dropout = tuple(dropout) if _is_sequence(dropout) else dropout  # type: ignore[arg-type]
        self.input_dropout = input_dropout
        self.dropout_kind = dropout_kind
        self.drop_connect = drop_connect
        self.batch_norm = batch_norm
        self.shake_drop = shake_drop
        self.kernel_regularizer = (
            list(kernel_regularizer)  # type: ignore[arg-type]
            if _is_sequence(kernel_regularizer)
            else kernel_regularizer
        )
        self.kernel_constraint = kernel_constraint
        self.regularize_output = regularize_output
        self.branch_norm = branch_norm
        self.generator = generator
        self.shake_generator = (
            shake_generator
            if isinstance(shake_generator, np.random.Generator)
            else np.random.default_rng(shake_generator)
        )

    @staticmethod
    def _validate(
        in_features: Any, out_features: Any, hidden: Any, activation: Any, dropout: Any,
        input_dropout: Any, dropout_kind: Any, drop_connect: Any, batch_norm: Any,
        shake: Any, kernel_regularizer: Any, regularize_output: Any, branch_norm: Any,
    ) -> tuple[list[float], list[Any]]:  # fmt: skip
        who = "ResidualMLP"
        p = Problems()
        p.check(check_int, who, "in_features", in_features, minimum=1)
        p.check(check_int, who, "out_features", out_features, minimum=1)
        if not _is_sequence(hidden) or not hidden:
            p.add(message(who, "hidden", "a non-empty sequence of integers >= 1", hidden))
            hidden = ()
        for units in hidden:
            p.check(check_int, who, "hidden", units, minimum=1)
        n = len(hidden)
        p.check(check_choice, who, "activation", activation, ACTIVATIONS)
        if _is_sequence(dropout):
            if len(dropout) != n:
                p.add(f"{who}: `dropout` must be a float or one rate per block ({n}); got "
                      f"{len(dropout)} rates.")  # fmt: skip
            rates = [p.check(check_fraction, who, "dropout", r) or 0.0 for r in dropout]
        else:
            rates = [p.check(check_fraction, who, "dropout", dropout) or 0.0] * n
        p.check(check_fraction, who, "input_dropout", input_dropout)
        p.check(check_choice, who, "dropout_kind", dropout_kind, DROPOUT_KINDS)
        p.check(check_fraction, who, "drop_connect", drop_connect)
        for name, flag in (("batch_norm", batch_norm), ("regularize_output", regularize_output)):
            if not isinstance(flag, bool):
                p.add(message(who, name, "a bool", flag))
        if isinstance(shake, bool) or not isinstance(shake, int | float) or not 0 <= shake <= 1:
            p.add(message(who, "shake_drop", "a float in [0, 1]", shake))
        if branch_norm is not None and not isinstance(branch_norm, bool):
            p.add(message(who, "branch_norm", "a bool or None", branch_norm))
        n_layers = 2 * n + 2
        penalties: list[Any] = [None] * n_layers
        if _is_sequence(kernel_regularizer):
            if len(kernel_regularizer) != n_layers or regularize_output is True:
                p.add(
                    message(who, "kernel_regularizer", f"one penalty or None per Dense layer "
                            f"({n_layers}), with regularize_output False",
                            f"{len(kernel_regularizer)} entries")
                )  # fmt: skip
            else:
                penalties = list(kernel_regularizer)
        elif kernel_regularizer is not None:
            penalties = [kernel_regularizer] * (n_layers - 1)
            penalties.append(kernel_regularizer if regularize_output is True else None)
        for penalty in penalties:
            if penalty is not None and not callable(penalty):
                p.add(message(who, "kernel_regularizer", "a penalty or None", penalty))
                break
        p.raise_if_any()
        return rates, penalties

    @classmethod
    def config_example(cls) -> ResidualMLP:
        """A small instance for the configuration contract test."""
        return cls(3, 2, hidden=(4, 4), dropout=(0.1, 0.2), shake_drop=0.5)

    def get_config(self) -> dict[str, Any]:
        """The ``__init__`` arguments but the generators (nested regularizers serialized)."""
        config = super().get_config()
        config.pop("generator", None)
        config.pop("shake_generator", None)
        return config

    def dense_layers(self) -> list[Dense]:
        """The Dense layers in order: ``project``, each block's two, ``output``."""
        return [m for m in self.modules() if isinstance(m, Dense)]

    def forward(self, x: Tensor) -> Tensor:
        h = self.dropout_in(x) if hasattr(self, "dropout_in") else x
        h = self.project(h)
        gates: list[tuple[Tensor, Tensor] | None] = [None] * len(self.blocks)
        if self.training and self.shake_drop > 0:
            u = self.shake_generator.random((len(self.blocks), 3, len(x)), dtype=np.float32)
            uniforms = torch.from_numpy(u).to(device=x.device, dtype=x.dtype).unsqueeze(-1)
            for i, block in enumerate(self.blocks):
                p = torch.tensor(block.shake_rate, dtype=x.dtype, device=x.device)
                gates[i] = shake_gates(uniforms[i, 0], uniforms[i, 1], uniforms[i, 2], p)
        for block, gate in zip(self.blocks, gates, strict=True):
            h = block(h, gate)
        return self.output(self.act(h))
