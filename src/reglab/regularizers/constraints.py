"""Weight constraints (Keras names): projections applied after every optimizer step.

A :class:`Constraint` maps a weight in **torch's layout** to its projection. Norms are taken
per unit over the fan-in axes (:func:`fan_in_dims`):

* Linear weight ``[out, in]`` — one norm per output unit, over dim 1 (a row);
* Conv weight ``[out, in/groups, *kernel]`` — one norm per filter, over dims 1.. ;
* a 1-d tensor (a bias) — one norm over dim 0 (the whole vector).

Keras stores a Dense kernel as ``[in, out]`` and constrains it over ``axis=0``; that is the same
per-output-unit norm as dim 1 of torch's ``[out, in]``.

>>> import torch
>>> w = torch.tensor([[3.0, 4.0], [0.3, 0.4]])       # two output units, norms 5 and 0.5
>>> MaxNorm(1.0)(w)
tensor([[0.6000, 0.8000],
        [0.3000, 0.4000]])
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from torch import Tensor

from reglab._config import Configurable, as_instance
from reglab._validation import Problems, check_nonnegative, check_positive, message
from reglab.errors import ConfigError
from reglab.regularizers import functional as F

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "as_constraint",
    "fan_in_dims",
]


def fan_in_dims(weight_ndim: int, *, member_dim: bool = False) -> tuple[int, ...]:
    """The axes a unit's norm is taken over, for a weight in torch's layout.

    ``(0,)`` for a 1-d tensor, ``(1, ..., ndim−1)`` otherwise (Linear ``[out, in]``: dim 1; conv
    ``[out, in, *k]``: every axis but the first). With ``member_dim=True`` the weight carries
    a leading member axis (``[M, out, in, ...]``) and every axis shifts by one;
    ``weight_ndim`` still counts the axes of one member's weight.

    >>> fan_in_dims(2)
    (1,)
    >>> fan_in_dims(4)
    (1, 2, 3)
    >>> fan_in_dims(1)
    (0,)
    >>> fan_in_dims(2, member_dim=True)
    (2,)
    """
    if isinstance(weight_ndim, bool) or not isinstance(weight_ndim, int) or weight_ndim < 1:
        raise ConfigError(message("fan_in_dims", "weight_ndim", "an integer >= 1", weight_ndim))
    dims = (0,) if weight_ndim == 1 else tuple(range(1, weight_ndim))
    shift = 1 if member_dim else 0
    return tuple(d + shift for d in dims)


class Constraint(Configurable):
    """Base class: a projection of one weight tensor in torch's layout.

    Subclasses implement :meth:`project` on a member stack ``[M, *shape]`` with norms over the
    given axes; :meth:`__call__` applies it to a single weight. Constraints are immutable value
    objects: equal configs compare equal.
    """

    registry_name: ClassVar[str | None] = "_Constraint"

    def __call__(self, w: Tensor) -> Tensor:
        """The projection of ``w`` (a new tensor; ``w`` is not modified)."""
        return self.project(w.unsqueeze(0), fan_in_dims(w.dim(), member_dim=True))[0]

    def project(self, w_stacked: Tensor, dim: int | tuple[int, ...]) -> Tensor:
        """Project a member stack ``[M, ...]`` with unit norms over ``dim``."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Constraint) or type(other) is not type(self):
            return NotImplemented
        return self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


class MaxNorm(Constraint):
    """Keras ``MaxNorm``: scale every unit whose norm exceeds ``max_value`` back onto it.

    ``w ← w · min(‖w‖, c)/(ε + ‖w‖)`` per unit (ε = 1e-7, as Keras).

    Args:
        max_value: The bound ``c``, a finite float > 0.

    >>> import torch
    >>> MaxNorm(2.0)(torch.tensor([[6.0, 8.0]])).norm().item()
    2.0
    """

    def __init__(self, max_value: float = 2.0) -> None:
        p = Problems()
        p.check(check_positive, "MaxNorm", "max_value", max_value)
        p.raise_if_any()
        self.max_value = float(max_value)

    def project(self, w_stacked: Tensor, dim: int | tuple[int, ...]) -> Tensor:
        return F.max_norm(w_stacked, self.max_value, dim)


class UnitNorm(Constraint):
    """Keras ``UnitNorm``: scale every unit to norm 1.

    >>> import torch
    >>> UnitNorm()(torch.tensor([[3.0, 4.0]]))
    tensor([[0.6000, 0.8000]])
    """

    def __init__(self) -> None:
        pass

    def project(self, w_stacked: Tensor, dim: int | tuple[int, ...]) -> Tensor:
        return F.unit_norm(w_stacked, dim)


class MinMaxNorm(Constraint):
    """Keras ``MinMaxNorm``: move every unit's norm ``rate`` of the way into [min, max].

    ``n' = rate·clip(n, min_value, max_value) + (1 − rate)·n`` and ``w ← w·n'/(ε + n)``.

    Args:
        min_value: Lower bound, a finite float >= 0.
        max_value: Upper bound, a finite float >= ``min_value``.
        rate: In (0, 1]; 1 enforces the bounds strictly.

    >>> import torch
    >>> MinMaxNorm(min_value=1.0, max_value=2.0)(torch.tensor([[0.3, 0.4]]))
    tensor([[0.6000, 0.8000]])
    """

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0) -> None:
        p = Problems()
        lo = p.check(check_nonnegative, "MinMaxNorm", "min_value", min_value)
        hi = p.check(check_nonnegative, "MinMaxNorm", "max_value", max_value)
        if lo is not None and hi is not None and hi < lo:
            p.add(message("MinMaxNorm", "max_value", f">= min_value ({lo!r})", max_value))
        if not _is_rate(rate):
            p.add(message("MinMaxNorm", "rate", "a float in (0, 1]", rate))
        p.raise_if_any()
        self.min_value = float(min_value)
        self.max_value = float(max_value)
        self.rate = float(rate)

    def project(self, w_stacked: Tensor, dim: int | tuple[int, ...]) -> Tensor:
        return F.min_max_norm(w_stacked, self.min_value, self.max_value, self.rate, dim)


class NonNeg(Constraint):
    """Keras ``NonNeg``: clip negative weights to zero (element-wise; no axes involved).

    >>> import torch
    >>> NonNeg()(torch.tensor([[-1.0, 2.0]]))
    tensor([[0., 2.]])
    """

    def __init__(self) -> None:
        pass

    def project(self, w_stacked: Tensor, dim: int | tuple[int, ...]) -> Tensor:
        return F.non_neg(w_stacked)


def _is_rate(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 < value <= 1
    )


def as_constraint(value: Any, who: str, param: str) -> Constraint | None:
    """``None``, a :class:`Constraint`, or a serialized one (``{"class_name", "config"}``).

    For layers accepting ``kernel_constraint=`` and the like.
    """
    return as_instance(
        value,
        Constraint,
        who,
        param,
        "a Constraint (MaxNorm, UnitNorm, MinMaxNorm, NonNeg) or None",
    )
