"""The optimizers' update direction over a stack's flat parameter buffer.

Adam (Kingma & Ba), in torch's arithmetic, for every element of member ``i`` at step ``t``
(every member of a stack takes the same steps, :mod:`reglab.engine.plan`)::

    m ← β₁·m + (1−β₁)·g          v ← β₂·v + (1−β₂)·g²
    u = −(m / (1−β₁^t)) / (sqrt(v / (1−β₂^t)) + ε)

and the stack applies ``w ← w + lr_i·u`` with each member's own rate; SGD's direction is
``u = −g``. Decoupled weight decay (AdamW, SGDW) first multiplies the weights by
``1 − lr_i·wd_i`` (torch's order), also in the stack. Computing the unit-rate direction for
all members at once keeps the arithmetic of a member independent of the other members' rates:
Adam's moments and bias corrections are one fused operation over the buffer (torch's fused
Adam kernel when available).

>>> import torch
>>> opt = FlatOptimizer("adam", size=2, device="cpu")
>>> u, sign = opt.direction(torch.tensor([0.5, -2.0]), t=1)
>>> (sign * u).round(decimals=4)
tensor([-1.,  1.])
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["ADAM_BETAS", "ADAM_EPS", "FlatOptimizer"]

ADAM_BETAS = (0.9, 0.999)
"""torch's (and Keras's) default Adam betas."""
ADAM_EPS = 1e-8
"""torch's default Adam epsilon."""

_HAS_FUSED = hasattr(torch, "_fused_adam_")


class FlatOptimizer:
    """Update directions of SGD or Adam for one flat buffer.

    Args:
        kind: ``"sgd"``, ``"adam"`` or ``"adamw"`` (Adam and AdamW differ only in the decoupled
            decay, which the stack applies).
        size: Number of elements of the buffer.
        device: Device of the state.
        dtype: Data type of the state.
    """

    def __init__(
        self,
        kind: str,
        size: int,
        device: torch.device | str,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.kind = kind
        self.adam = kind in ("adam", "adamw")
        self.fused = _HAS_FUSED and torch.device(device).type in ("cpu", "cuda")
        self.m = torch.zeros(size if self.adam else 0, device=device, dtype=dtype)
        self.v = torch.zeros_like(self.m)
        self.delta = torch.zeros_like(self.m)
        self._step = torch.zeros((), device=device, dtype=dtype)
        self.bias_correction2 = 1.0

    def state(self) -> list[Tensor]:
        """The state tensors that follow the members when a stack is compacted."""
        return [self.m, self.v] if self.adam else []

    def load(self, state: list[Tensor]) -> None:
        """Replace the state (after compacting a stack)."""
        if self.adam:
            self.m, self.v = state
            self.delta = torch.zeros_like(self.m)

    def direction(self, g: Tensor, t: int) -> tuple[Tensor, float]:
        """``(u, sign)`` with ``sign·u`` the unit-rate update for gradient ``g`` at step ``t``.

        For Adam ``u`` is :attr:`delta` (updated here), for SGD it is ``g`` itself with sign −1.
        """
        if not self.adam:
            return g, -1.0
        b1, b2 = ADAM_BETAS
        self.bias_correction2 = 1.0 - b2**t
        delta = self.delta
        if self.fused:
            self._step.fill_(t)
            delta.zero_()
            torch._fused_adam_(
                [delta],
                [g],
                [self.m],
                [self.v],
                [],
                [self._step],
                lr=1.0,
                beta1=b1,
                beta2=b2,
                weight_decay=0.0,
                eps=ADAM_EPS,
                amsgrad=False,
                maximize=False,
            )
        else:
            self.m.lerp_(g, 1.0 - b1)
            self.v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
            denom = (self.v.sqrt() / math.sqrt(self.bias_correction2)).add_(ADAM_EPS)
            torch.div(self.m, denom, out=delta).mul_(-1.0 / (1.0 - b1**t))
        return delta, 1.0

    def preconditioner(self, start: int, stop: int) -> Tensor | None:
        """``sqrt(v̂) + ε`` of elements ``start:stop`` after the last Adam step (``None``: SGD).

        Proximal L1 for Adam soft-thresholds with ``lr·l1 / (sqrt(v̂) + ε)`` per element.
        """
        if not self.adam:
            return None
        return (self.v[start:stop].sqrt() / math.sqrt(self.bias_correction2)).add_(ADAM_EPS)
