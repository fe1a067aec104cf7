"""How sparse a model is: exact zeros and near-zeros per layer.

>>> import torch
>>> from torch import nn
>>> net = nn.Linear(4, 1)
>>> _ = net.weight.data.copy_(torch.tensor([[0.0, 0.0, 1e-8, 0.5]]))
>>> sparsity(net)
[LayerSparsity(layer='', parameter='weight', n=4, zero_fraction=0.5, near_zero_fraction=0.75, eps=1e-06)]
"""  # noqa: E501

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from reglab._validation import check_positive
from reglab.regularizers.attach import (
    DEFAULT_MODULES,
    NORM_MODULES,
    REGULARIZERS_ATTR,
    _all_parameters,
    _check_modules,
    _is_bias,
)

__all__ = ["LayerSparsity", "sparsity", "total_sparsity"]


@dataclass(frozen=True)
class LayerSparsity:
    """The sparsity of one parameter tensor.

    Attributes:
        layer: The module's name in the model (``""`` for the model itself).
        parameter: The parameter's own name (``"weight"``).
        n: Number of elements.
        zero_fraction: Fraction of elements exactly 0.
        near_zero_fraction: Fraction with ``|w| < eps`` (exact zeros included).
        eps: The near-zero tolerance.
    """

    layer: str
    parameter: str
    n: int
    zero_fraction: float
    near_zero_fraction: float
    eps: float

    @property
    def name(self) -> str:
        """The full parameter name, ``"<layer>.<parameter>"``."""
        return f"{self.layer}.{self.parameter}" if self.layer else self.parameter


@torch.no_grad()
def sparsity(
    model: nn.Module,
    eps: float = 1e-6,
    *,
    modules: type[nn.Module] | tuple[type[nn.Module], ...] | None = DEFAULT_MODULES,
    include_bias: bool = False,
) -> list[LayerSparsity]:
    """One :class:`LayerSparsity` per weight, in model order (see :func:`total_sparsity`).

    Reports the weights of ``modules`` (default: Linear and Conv layers; ``None``: every
    module except normalization layers), biases with ``include_bias=True``, and every parameter
    with an attached regularizer. Tied parameters are reported once.
    """
    check_positive("sparsity", "eps", eps)
    types = _check_modules("sparsity", modules)
    rows: list[LayerSparsity] = []
    seen: set[int] = set()
    for f in _all_parameters(model):
        if id(f.param) in seen:
            continue
        attached = f.param_name in (getattr(f.module, REGULARIZERS_ATTR, None) or {})
        chosen = (
            (types is None or isinstance(f.module, types))
            and not isinstance(f.module, NORM_MODULES)
            and (include_bias or not _is_bias(f.param_name))
        )
        if not (chosen or attached):
            continue
        seen.add(id(f.param))
        w = f.param.detach()
        n = w.numel()
        zeros = int((w == 0).sum())
        near = int((w.abs() < eps).sum())
        rows.append(
            LayerSparsity(
                layer=f.module_name,
                parameter=f.param_name,
                n=n,
                zero_fraction=zeros / n if n else 0.0,
                near_zero_fraction=near / n if n else 0.0,
                eps=float(eps),
            )
        )
    return rows


def total_sparsity(rows: list[LayerSparsity]) -> LayerSparsity:
    """The element-weighted total of :func:`sparsity`'s rows (``layer="total"``, ``"*"``).

    >>> rows = [LayerSparsity("a", "weight", 10, 0.5, 0.5, 1e-6),
    ...         LayerSparsity("b", "weight", 30, 0.0, 0.1, 1e-6)]
    >>> total_sparsity(rows)
    LayerSparsity(layer='total', parameter='*', n=40, zero_fraction=0.125, near_zero_fraction=0.2, eps=1e-06)
    """  # noqa: E501
    n = sum(r.n for r in rows)
    zeros = sum(r.zero_fraction * r.n for r in rows)
    near = sum(r.near_zero_fraction * r.n for r in rows)
    eps = rows[0].eps if rows else 1e-6
    return LayerSparsity(
        layer="total",
        parameter="*",
        n=n,
        zero_fraction=zeros / n if n else 0.0,
        near_zero_fraction=near / n if n else 0.0,
        eps=eps,
    )
