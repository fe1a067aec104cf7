"""Activations by name, shared by :class:`~reglab.layers.Dense`, the MLP builder and the engine.

========== =========================================== ==========================
name       function                                    note
========== =========================================== ==========================
relu       ``max(x, 0)``
tanh       ``tanh(x)``
sigmoid    ``1 / (1 + exp(−x))``
elu        ``x`` if ``x > 0`` else ``exp(x) − 1``       α = 1 (Keras and torch)
selu       ``λ·elu_α(x)``                              λ ≈ 1.0507, α ≈ 1.6733
gelu       ``x·Φ(x)``                                  exact (erf), not tanh approx.
leaky_relu ``x`` if ``x > 0`` else ``0.01·x``          torch's slope
identity   ``x``                                       also ``None``
========== =========================================== ==========================

>>> import torch
>>> get_activation("relu")(torch.tensor([-1.0, 2.0]))
tensor([0., 2.])
>>> Activation("leaky_relu")(torch.tensor([-1.0, 2.0]))
tensor([-0.0100,  2.0000])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reglab._config import Configurable
from reglab._validation import check_choice

__all__ = ["ACTIVATIONS", "LEAKY_RELU_SLOPE", "Activation", "get_activation"]

LEAKY_RELU_SLOPE = 0.01
"""Negative slope of ``"leaky_relu"`` (torch's default)."""


def _identity(x: Tensor) -> Tensor:
    return x


def _leaky_relu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, LEAKY_RELU_SLOPE)


_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
    "leaky_relu": _leaky_relu,
    "identity": _identity,
}

ACTIVATIONS: tuple[str, ...] = tuple(_FUNCTIONS)
"""The activation names every layer accepts (``None`` means ``"identity"``)."""


def get_activation(name: str | None, who: str = "get_activation") -> Callable[[Tensor], Tensor]:
    """The activation function called ``name`` (``None`` → identity).

    Args:
        name: One of :data:`ACTIVATIONS`, or ``None``.
        who: Who asks, for the error message.

    Raises:
        ConfigError: For an unknown name, with a did-you-mean.

    >>> get_activation("rleu")
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: get_activation: `activation` must be one of 'relu', ...; got 'rleu'. Did you mean 'relu'?
    """  # noqa: E501
    if name is None:
        return _identity
    return _FUNCTIONS[check_choice(who, "activation", name, ACTIVATIONS)]


class Activation(nn.Module, Configurable):
    """An activation as a module (Keras ``Activation``), for model builders.

    Args:
        name: One of :data:`ACTIVATIONS`.

    >>> import torch
    >>> Activation("tanh")
    Activation(tanh)
    >>> Activation("identity")(torch.tensor([-3.0]))
    tensor([-3.])
    """

    def __init__(self, name: str = "relu") -> None:
        fn = _FUNCTIONS[check_choice("Activation", "name", name, ACTIVATIONS)]
        super().__init__()
        self.name = name
        self._fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self._fn(x)

    def extra_repr(self) -> str:
        return str(self.name)
