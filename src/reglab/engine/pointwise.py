"""Element-wise maths of the stack whose result never depends on where an element sits.

A stack holds its members side by side in one tensor, so a member's elements sit at other
positions, and the tensor has another length, depending on which members share the stack.
torch's CPU kernels run a vectorized loop over a contiguous range and finish its last few
elements (or, with several threads, the last few of each thread's share) with a scalar loop.
For most operations the two loops give the same bits: the IEEE operations (``+ − × ÷ √``,
comparisons, ``where``, ``min``/``max``) are exact in both, and the transcendental functions
that torch maps through its vector library (``exp``, ``expm1``, ``log1p``, ``tanh``, ``erf``)
finish their tail with a partial vector. A few kernels, though, compute the tail with a
different scalar formula — ``torch.sigmoid``, ``softplus``, ``elu``/``selu`` and their
backward kernels among them — so an element's value would depend on its position, and a
member's result on its neighbours. Those functions are written here from position-invariant
pieces (``tests/engine/test_pointwise.py`` checks every function of this module, and the
torch kernels the stack calls directly, for position invariance). They agree with torch's
kernels to about one unit in the last place.

>>> import torch
>>> z = torch.tensor([[[-1.0, 2.0]]])
>>> activation_backward("relu", torch.ones(1, 1, 2), z, activation("relu", z))
tensor([[[0., 1.]]])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from reglab.layers.activations import LEAKY_RELU_SLOPE, get_activation

__all__ = ["SAVES_OUTPUT", "activation", "activation_backward", "sigmoid", "softplus"]

SAVES_OUTPUT = frozenset({"tanh", "sigmoid"})
"""Activations whose derivative is computed from the output (the others use the input)."""

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805

_aten = torch.ops.aten


def sigmoid(x: Tensor) -> Tensor:
    """``1 / (1 + exp(−x))``, element by element (torch's vectorized formula).

    >>> sigmoid(torch.tensor([0.0, 100.0, -100.0]))
    tensor([0.5000, 1.0000, 0.0000])
    """
    if x.requires_grad:  # autograd (the generic backend) needs exp's output unmodified
        return torch.exp(-x).add(1.0).reciprocal()
    return torch.exp(-x).add_(1.0).reciprocal_()


def softplus(x: Tensor) -> Tensor:
    """``log(1 + exp(x))`` computed as ``max(x, 0) + log1p(exp(−|x|))`` (no overflow).

    >>> softplus(torch.tensor([0.0, 100.0, -20.0]))
    tensor([6.9315e-01, 1.0000e+02, 2.0612e-09])
    """
    return torch.log1p(torch.exp(-x.abs())).add_(torch.clamp_min(x, 0.0))


def _elu(x: Tensor, alpha: float, scale: float) -> Tensor:
    # Out of place under autograd (expm1's backward reads its output); the same arithmetic.
    e = torch.expm1(x)
    negative = e * (alpha * scale) if x.requires_grad else e.mul_(alpha * scale)
    return torch.where(x > 0, x * scale if scale != 1.0 else x, negative)


def _elu_backward(grad: Tensor, x: Tensor, alpha: float, scale: float) -> Tensor:
    negative = torch.exp(x).mul_(alpha * scale).mul_(grad)
    return torch.where(x > 0, grad * scale if scale != 1.0 else grad, negative)


_FORWARD: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": sigmoid,
    "elu": lambda x: _elu(x, 1.0, 1.0),
    "selu": lambda x: _elu(x, SELU_ALPHA, SELU_SCALE),
}


def activation(name: str, x: Tensor) -> Tensor:
    """Activation ``name`` (:mod:`reglab.layers.activations`) of ``x``.

    ``sigmoid``, ``elu`` and ``selu`` are computed from position-invariant pieces; the
    others are torch's own kernels.
    """
    forward = _FORWARD.get(name)
    return forward(x) if forward is not None else get_activation(name)(x)


def activation_backward(name: str, grad: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """``grad · f'(x)`` for activation ``name`` with input ``x`` and output ``y = f(x)``.

    Uses torch's fused backward kernels where they are position-invariant
    (``threshold_backward``, ``tanh_backward``, ``sigmoid_backward``, ``gelu_backward``,
    ``leaky_relu_backward``), so the gradient is the one autograd would give; ``elu`` and
    ``selu`` are ``grad·λ`` for ``x > 0`` and ``grad·λα·exp(x)`` otherwise.
    """
    if name == "relu":
        return _aten.threshold_backward(grad, x, 0)
    if name == "tanh":
        return _aten.tanh_backward(grad, y)
    if name == "sigmoid":
        return _aten.sigmoid_backward(grad, y)
    if name == "elu":
        return _elu_backward(grad, x, 1.0, 1.0)
    if name == "selu":
        return _elu_backward(grad, x, SELU_ALPHA, SELU_SCALE)
    if name == "gelu":
        return _aten.gelu_backward(grad, x, approximate="none")
    if name == "leaky_relu":
        return _aten.leaky_relu_backward(grad, x, LEAKY_RELU_SLOPE, False)
    return grad
