"""Keras ``Dense`` in torch's layout: a ``nn.Linear`` with an activation and regularizer slots.

``Dense(in, out, activation)`` computes ``activation(x·Wᵀ + b)`` with ``W: [out, in]`` (torch's
layout, so it loads ``nn.Linear`` weights and works with everything that expects one).

Regularizers and constraints are declared, not applied, by the layer: the penalty functions of
:mod:`reglab.regularizers` find them through two dictionaries every reglab layer carries,

* ``_reglab_regularizers: dict[str, Regularizer]`` — parameter name → penalty
  (``"weight"`` for the kernel, ``"bias"``), added to the batch-mean data loss;
* ``_reglab_constraints: dict[str, Constraint]`` — parameter name → projection applied after
  every optimizer step;

and, with an ``activity_regularizer``, the attribute ``activity_loss``: in every training-mode
forward pass it is set to ``activity_regularizer(output) / batch_size`` (Keras divides by the
batch size), in evaluation mode to ``None``. ``output`` is the activation's output (Keras).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from reglab._config import Configurable
from reglab._validation import Problems, check_choice, check_int, message
from reglab.layers.activations import ACTIVATIONS, get_activation

__all__ = ["Dense", "Penalty", "Projection"]

Penalty = Callable[[Tensor], Tensor]
"""A regularizer: weight tensor → 0-d penalty (e.g. :class:`reglab.regularizers.L2`)."""

Projection = Callable[[Tensor], Tensor]
"""A constraint: weight tensor → projected weight tensor (e.g. ``MaxNorm``)."""

_SLOTS = {
    "kernel_regularizer": ("_reglab_regularizers", "weight"),
    "bias_regularizer": ("_reglab_regularizers", "bias"),
    "kernel_constraint": ("_reglab_constraints", "weight"),
    "bias_constraint": ("_reglab_constraints", "bias"),
}


def _check_slot(problems: Problems, param: str, value: Any, use_bias: bool) -> None:
    kind = "regularizer (e.g. L2(0.01))" if "regularizer" in param else "constraint"
    if value is not None and not callable(value):
        problems.add(message("Dense", param, f"a {kind} or None", value))
    elif value is not None and param.startswith("bias") and not use_bias:
        problems.add(message("Dense", param, "None when `use_bias` is False", value))


def _slot(param: str) -> property:
    table, key = _SLOTS[param]

    def fget(self: Dense) -> Any:
        return getattr(self, table).get(key)

    def fset(self: Dense, value: Any) -> None:
        problems = Problems()
        _check_slot(problems, param, value, self.use_bias)
        problems.raise_if_any()
        if value is None:
            getattr(self, table).pop(key, None)
        else:
            getattr(self, table)[key] = value

    return property(fget, fset, doc=f"The {param.replace('_', ' ')} (stored in ``{table}``).")


class Dense(nn.Linear, Configurable):
    """A fully connected layer ``activation(x·Wᵀ + b)``, Keras ``Dense`` in torch's layout.

    The kernel ``weight`` has shape ``[out_features, in_features]``; initialization is
    ``nn.Linear``'s. ``kernel_regularizer`` adds ``R(W)`` to the loss and ``bias_regularizer``
    adds ``R(b)`` (biases are not regularized unless asked); ``activity_regularizer`` adds
    ``R(y)/batch_size`` for the layer's output ``y``; constraints project the parameter after
    each optimizer step. The layer only declares them (see the module docstring);
    ``reglab.regularizers.regularization_loss`` and ``apply_constraints`` act on them. Any
    callable works, reglab's regularizer and constraint objects also serialize with the layer.

    Args:
        in_features: Size of each input sample, an integer >= 1.
        out_features: Number of units, an integer >= 1.
        activation: One of ``relu``, ``tanh``, ``sigmoid``, ``elu``, ``selu``, ``gelu``,
            ``leaky_relu``, ``identity``, or ``None`` (identity).
        use_bias: Whether the layer has a bias.
        kernel_regularizer: Penalty on ``weight``.
        bias_regularizer: Penalty on ``bias``.
        activity_regularizer: Penalty on the output, divided by the batch size.
        kernel_constraint: Projection of ``weight`` after each optimizer step.
        bias_constraint: Projection of ``bias`` after each optimizer step.

    >>> import torch
    >>> layer = Dense(3, 2, activation="relu", kernel_regularizer=lambda w: w.abs().sum())
    >>> layer(torch.ones(4, 3)).shape
    torch.Size([4, 2])
    >>> list(layer._reglab_regularizers)
    ['weight']
    >>> Dense(3, 2, activation="rleu")
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: Dense: `activation` must be one of 'relu', ...; got 'rleu'. Did you mean 'relu'?
    """  # noqa: E501

    _reglab_regularizers: dict[str, Penalty]
    _reglab_constraints: dict[str, Projection]
    activity_loss: Tensor | None

    kernel_regularizer = _slot("kernel_regularizer")
    bias_regularizer = _slot("bias_regularizer")
    kernel_constraint = _slot("kernel_constraint")
    bias_constraint = _slot("bias_constraint")

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str | None = None,
        use_bias: bool = True,
        kernel_regularizer: Penalty | None = None,
        bias_regularizer: Penalty | None = None,
        activity_regularizer: Penalty | None = None,
        kernel_constraint: Projection | None = None,
        bias_constraint: Projection | None = None,
    ) -> None:
        problems = Problems()
        problems.check(check_int, "Dense", "in_features", in_features, minimum=1)
        problems.check(check_int, "Dense", "out_features", out_features, minimum=1)
        if activation is not None:
            problems.check(check_choice, "Dense", "activation", activation, ACTIVATIONS)
        if not isinstance(use_bias, bool):
            problems.add(message("Dense", "use_bias", "a bool", use_bias))
        slots = {
            "kernel_regularizer": kernel_regularizer,
            "bias_regularizer": bias_regularizer,
            "kernel_constraint": kernel_constraint,
            "bias_constraint": bias_constraint,
        }
        for param, value in slots.items():
            _check_slot(problems, param, value, use_bias is True)
        if activity_regularizer is not None and not callable(activity_regularizer):
            problems.add(
                message(
                    "Dense", "activity_regularizer", "a regularizer or None", activity_regularizer
                )
            )
        problems.raise_if_any()

        super().__init__(in_features, out_features, bias=use_bias)
        self.use_bias = use_bias
        self._activation: str | None = activation
        self._fn = get_activation(activation, "Dense")
        self._reglab_regularizers = {}
        self._reglab_constraints = {}
        for param, value in slots.items():
            setattr(self, param, value)
        self.activity_regularizer = activity_regularizer
        self.activity_loss = None

    @property
    def activation(self) -> str | None:
        """The activation's name (``None``: identity)."""
        return self._activation

    @activation.setter
    def activation(self, name: str | None) -> None:
        self._fn = get_activation(name, "Dense")
        self._activation = name

    def forward(self, x: Tensor) -> Tensor:
        out = self._fn(F.linear(x, self.weight, self.bias))
        if self.training and self.activity_regularizer is not None:
            batch_size = out.shape[0] if out.dim() > 1 else 1
            self.activity_loss = self.activity_regularizer(out) / batch_size
        else:
            self.activity_loss = None
        return out

    def extra_repr(self) -> str:
        parts = [super().extra_repr()]
        if self._activation not in (None, "identity"):
            parts.append(f"activation={self._activation}")
        for param in (*_SLOTS, "activity_regularizer"):
            value = getattr(self, param)
            if value is not None:
                parts.append(f"{param}={value!r}")
        return ", ".join(parts)
