"""The multilayer perceptron builder: Dense blocks with dropout, batch norm and penalties.

``MLP(in, out, hidden=(h1, ..., hk))`` is an ``nn.Sequential`` with named modules::

    [dropout_in]                         if input_dropout > 0
    dense0 → [bn0] → act0 → [dropout0]   block_order="bn-act-drop" (default)
    dense0 → act0 → [bn0] → [dropout0]   block_order="act-bn-drop"
    ...                                  one block per hidden layer (dense1, ..., dense{k-1})
    output                               a plain Dense: no activation, no dropout

``bn{i}`` (``BatchNorm1d``) is present with ``batch_norm=True``; ``dropout{i}`` and
``dropout_in`` only when their rate is > 0. Every ``dense{i}`` and ``output`` is a
:class:`~reglab.layers.Dense` (weight ``[out, in]``), so ``state_dict`` keys read
``dense0.weight``, ``bn0.running_mean``, ``output.bias``. The kernel penalty goes on the hidden
kernels (and on the output kernel with ``regularize_output=True``), the kernel constraint on
every kernel; biases and batch-norm parameters are never penalized. DropConnect masks the hidden
kernels. :func:`reglab.engine.export.single_model` builds the single-model equivalent of an
engine member (the translation from the engine's vocabulary lives in the engine).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from reglab._config import Configurable
from reglab._validation import (
    Problems,
    check_choice,
    check_fraction,
    check_int,
    message,
)
from reglab.layers.activations import ACTIVATIONS, Activation
from reglab.layers.dense import Dense, Penalty, Projection
from reglab.layers.dropconnect import drop_connect as _drop_connect
from reglab.layers.dropout import AlphaDropout, Dropout, GaussianDropout

__all__ = ["BLOCK_ORDERS", "DROPOUT_KINDS", "MLP"]

BLOCK_ORDERS = ("bn-act-drop", "act-bn-drop")
"""Orders of the modules inside a hidden block (the Dense layer always comes first)."""

DROPOUT_KINDS = ("standard", "gaussian", "alpha")
"""``standard``: :class:`Dropout`; ``gaussian``: :class:`GaussianDropout`; ``alpha``: :class:`AlphaDropout`."""  # noqa: E501

_DROPOUT_CLASSES: dict[str, type[Dropout | GaussianDropout | AlphaDropout]] = {
    "standard": Dropout,
    "gaussian": GaussianDropout,
    "alpha": AlphaDropout,
}


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


class MLP(nn.Sequential, Configurable):
    """A multilayer perceptron with the regularizers of a strategy built in.

    Layer order inside a hidden block (``block_order``): ``"bn-act-drop"`` is
    Dense → [BatchNorm1d] → activation → [dropout] (Ioffe & Szegedy's placement, before the
    nonlinearity); ``"act-bn-drop"`` is Dense → activation → [BatchNorm1d] → [dropout]. See the
    module docstring for the module names.

    Args:
        in_features: Number of input features, an integer >= 1.
        out_features: Number of outputs (logits or regression targets), an integer >= 1.
        hidden: Units of each hidden layer; ``()`` gives a linear model.
        activation: Activation of the hidden layers (see :mod:`reglab.layers.activations`).
        dropout: Rate after every hidden block, or one rate per hidden block; floats in [0, 1).
        input_dropout: Rate on the input features, a float in [0, 1).
        dropout_kind: ``"standard"``, ``"gaussian"`` (multiplicative N(1, p/(1−p))) or
            ``"alpha"`` (for SELU networks); used for the input and the hidden dropout.
        drop_connect: DropConnect rate on the hidden kernels, a float in [0, 1).
        batch_norm: Insert ``BatchNorm1d`` in every hidden block.
        block_order: ``"bn-act-drop"`` or ``"act-bn-drop"``.
        kernel_regularizer: A penalty for the hidden kernels (and the output kernel with
            ``regularize_output``), or a sequence with one penalty or ``None`` per Dense layer
            (hidden layers first, the output last).
        kernel_constraint: A constraint for every kernel, hidden and output (e.g. ``MaxNorm``).
        regularize_output: Also penalize the output kernel (only with a single penalty).
        generator: Source of every dropout and DropConnect mask (default: torch's default
            generator). Not part of the config.

    >>> import torch
    >>> net = MLP(4, 3, hidden=(8, 8), dropout=(0.2, 0.0), batch_norm=True)
    >>> [name for name, _ in net.named_children()]
    ['dense0', 'bn0', 'act0', 'dropout0', 'dense1', 'bn1', 'act1', 'output']
    >>> net(torch.randn(5, 4)).shape
    torch.Size([5, 3])
    >>> MLP(4, 3, block_order="bn-drop-act")
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: MLP: `block_order` must be one of 'bn-act-drop', 'act-bn-drop'; got 'bn-drop-act'. Did you mean 'bn-act-drop'?
    """  # noqa: E501

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int] = (64,),
        activation: str = "relu",
        dropout: float | Sequence[float] = 0.0,
        input_dropout: float = 0.0,
        dropout_kind: str = "standard",
        drop_connect: float = 0.0,
        batch_norm: bool = False,
        block_order: str = "bn-act-drop",
        kernel_regularizer: Penalty | Sequence[Penalty | None] | None = None,
        kernel_constraint: Projection | None = None,
        regularize_output: bool = False,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        sizes, rates, penalties = self._validate(
            in_features,
            out_features,
            hidden,
            activation,
            dropout,
            input_dropout,
            dropout_kind,
            drop_connect,
            batch_norm,
            block_order,
            kernel_regularizer,
            kernel_constraint,
            regularize_output,
        )
        make_dropout = _DROPOUT_CLASSES[dropout_kind]
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if input_dropout > 0:
            layers["dropout_in"] = make_dropout(input_dropout, generator=generator)
        for i, (fan_in, units) in enumerate(itertools.pairwise(sizes[:-1])):
            dense = Dense(
                fan_in,
                units,
                kernel_regularizer=penalties[i],
                kernel_constraint=kernel_constraint,
            )
            if drop_connect > 0:
                _drop_connect(dense, "weight", drop_connect, generator=generator)
            layers[f"dense{i}"] = dense
            block: dict[str, nn.Module] = {"act": Activation(activation)}
            if batch_norm:
                block["bn"] = nn.BatchNorm1d(units)
            order = ("bn", "act") if block_order == "bn-act-drop" else ("act", "bn")
            for part in order:
                if part in block:
                    layers[f"{part}{i}"] = block[part]
            if rates[i] > 0:
                layers[f"dropout{i}"] = make_dropout(rates[i], generator=generator)
        layers["output"] = Dense(
            sizes[-2],
            sizes[-1],
            kernel_regularizer=penalties[-1],
            kernel_constraint=kernel_constraint,
        )
        super().__init__(layers)

        self.in_features = in_features
        self.out_features = out_features
        self.hidden = tuple(hidden)
        self.activation = activation
        self.dropout = tuple(dropout) if _is_sequence(dropout) else dropout  # type: ignore[arg-type]
        self.input_dropout = input_dropout
        self.dropout_kind = dropout_kind
        self.drop_connect = drop_connect
        self.batch_norm = batch_norm
        self.block_order = block_order
        self.kernel_regularizer = (
            list(kernel_regularizer)  # type: ignore[arg-type]
            if _is_sequence(kernel_regularizer)
            else kernel_regularizer
        )
        self.kernel_constraint = kernel_constraint
        self.regularize_output = regularize_output
        self.generator = generator

    @staticmethod
    def _validate(
        in_features: Any,
        out_features: Any,
        hidden: Any,
        activation: Any,
        dropout: Any,
        input_dropout: Any,
        dropout_kind: Any,
        drop_connect: Any,
        batch_norm: Any,
        block_order: Any,
        kernel_regularizer: Any,
        kernel_constraint: Any,
        regularize_output: Any,
    ) -> tuple[list[int], list[float], list[Any]]:
        """Check every argument; return layer sizes, hidden dropout rates, per-layer penalties."""
        p = Problems()
        p.check(check_int, "MLP", "in_features", in_features, minimum=1)
        p.check(check_int, "MLP", "out_features", out_features, minimum=1)
        units: list[int] = []
        if not _is_sequence(hidden):
            p.add(message("MLP", "hidden", "a sequence of integers >= 1", hidden))
        else:
            units = [u for u in hidden if p.check(check_int, "MLP", "hidden", u, minimum=1)]
        n_hidden = len(hidden) if _is_sequence(hidden) else 0
        p.check(check_choice, "MLP", "activation", activation, ACTIVATIONS)
        rates: list[float] = []
        if _is_sequence(dropout):
            if len(dropout) != n_hidden:
                p.add(
                    f"MLP: `dropout` must be a float or one rate per hidden layer ({n_hidden}); "
                    f"got {len(dropout)} rates."
                )
            rates = [p.check(check_fraction, "MLP", "dropout", r) or 0.0 for r in dropout]
        else:
            rates = [p.check(check_fraction, "MLP", "dropout", dropout) or 0.0] * n_hidden
        p.check(check_fraction, "MLP", "input_dropout", input_dropout)
        p.check(check_choice, "MLP", "dropout_kind", dropout_kind, DROPOUT_KINDS)
        p.check(check_fraction, "MLP", "drop_connect", drop_connect)
        for name, flag in (("batch_norm", batch_norm), ("regularize_output", regularize_output)):
            if not isinstance(flag, bool):
                p.add(message("MLP", name, "a bool", flag))
        p.check(check_choice, "MLP", "block_order", block_order, BLOCK_ORDERS)

        n_layers = n_hidden + 1
        penalties: list[Any] = [None] * n_layers
        expected = "a regularizer, one regularizer or None per Dense layer, or None"
        if _is_sequence(kernel_regularizer):
            if len(kernel_regularizer) != n_layers:
                p.add(
                    f"MLP: `kernel_regularizer` must be one regularizer or None per Dense layer "
                    f"({n_layers}: {n_hidden} hidden + output); got {len(kernel_regularizer)}."
                )
            elif not all(r is None or callable(r) for r in kernel_regularizer):
                p.add(message("MLP", "kernel_regularizer", expected, kernel_regularizer))
            else:
                penalties = list(kernel_regularizer)
            if regularize_output is True:
                p.add(
                    message(
                        "MLP",
                        "regularize_output",
                        "False when `kernel_regularizer` is a sequence (it names every layer)",
                        regularize_output,
                    )
                )
        elif kernel_regularizer is not None:
            if not callable(kernel_regularizer):
                p.add(message("MLP", "kernel_regularizer", expected, kernel_regularizer))
            else:
                penalties = [kernel_regularizer] * n_hidden
                penalties.append(kernel_regularizer if regularize_output is True else None)
        if kernel_constraint is not None and not callable(kernel_constraint):
            p.add(message("MLP", "kernel_constraint", "a constraint or None", kernel_constraint))
        p.raise_if_any()
        return [in_features, *units, out_features], rates, penalties

    def get_config(self) -> dict[str, Any]:
        """The ``__init__`` arguments except ``generator`` (nested regularizers serialized)."""
        config = super().get_config()
        config.pop("generator", None)
        return config

    def dense_layers(self) -> list[Dense]:
        """The Dense layers in order: the hidden ones, then ``output``."""
        return [m for m in self.children() if isinstance(m, Dense)]
