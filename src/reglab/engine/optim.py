"""Optimizers over a stack's flat parameter buffer, with per-member learning rates.

Adam (Kingma & Ba), in torch's arithmetic, for every element ``j`` of member ``i`` at the
member's step ``t_i``::

    m ← β₁·m + (1−β₁)·g          v ← β₂·v + (1−β₂)·g²
    w ← w − lr_i · (m / (1−β₁^t_i)) / (sqrt(v / (1−β₂^t_i)) + ε)

SGD: ``w ← w − lr_i·g``. Decoupled weight decay (AdamW, SGDW) first multiplies the weights by
``1 − lr_i·wd_i`` (torch's order). Because every coefficient is per element, one update of the
whole buffer serves members with different learning rates and decays. Every member of a stack
has taken the same number of steps (:mod:`reglab.engine.plan` sees to it), so Adam's moments
and bias corrections are one fused operation over the buffer (torch's fused Adam kernel).

>>> import torch
>>> opt = FlatOptimizer("sgd", size=2, lr=torch.tensor([0.1, 0.5]), device="cpu")
>>> w = torch.ones(2)
>>> opt.step(w, torch.tensor([1.0, 1.0]), t=1)
>>> w
tensor([0.9000, 0.5000])
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
    """SGD or Adam over one flat buffer, with per-element learning rates and decoupled decay.

    Args:
        kind: ``"sgd"``, ``"adam"`` or ``"adamw"`` (Adam and AdamW differ only in whether
            ``decay`` is expected; the decay is always decoupled).
        size: Number of elements of the buffer.
        lr: Per-element learning rates ``[size]``.
        device: Device of the state.
        decay: Per-element decoupled weight-decay factors ``1 − lr·wd`` ``[size]``, or ``None``.
    """

    def __init__(
        self,
        kind: str,
        size: int,
        lr: Tensor,
        device: torch.device | str,
        decay: Tensor | None = None,
    ) -> None:
        self.kind = kind
        self.adam = kind in ("adam", "adamw")
        self.lr = lr
        self.decay = decay
        self.fused = _HAS_FUSED and torch.device(device).type in ("cpu", "cuda")
        if self.adam:
            self.m = torch.zeros(size, device=device)
            self.v = torch.zeros(size, device=device)
            self._step = torch.zeros((), device=device)
            self._delta = torch.empty_like(lr)
        self.bias_correction2 = 1.0

    def state(self) -> list[Tensor]:
        """The state tensors that follow the members when a stack is compacted."""
        return [self.m, self.v] if self.adam else []

    def load(self, state: list[Tensor], lr: Tensor, decay: Tensor | None) -> None:
        """Replace the state and coefficients (after compacting a stack)."""
        self.lr, self.decay = lr, decay
        if self.adam:
            self.m, self.v = state
            self._delta = torch.empty_like(lr)

    def step(self, w: Tensor, g: Tensor, t: int) -> None:
        """Update ``w`` in place with gradient ``g``; ``t`` is the step number (from 1).

        Adam computes the unit-rate step ``δ = −m̂ / (sqrt(v̂) + ε)`` (torch's fused kernel when
        available) and then ``w ← w + lr·δ`` per element, the same arithmetic whatever the
        other members' learning rates are.
        """
        if self.decay is not None:
            w.mul_(self.decay)
        if not self.adam:
            w.addcmul_(g, self.lr, value=-1.0)
            return
        b1, b2 = ADAM_BETAS
        self.bias_correction2 = 1.0 - b2**t
        delta = self._delta
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
        w.addcmul_(delta, self.lr)

    def preconditioner(self, start: int, stop: int) -> Tensor | None:
        """``sqrt(v̂) + ε`` of elements ``start:stop`` after the last Adam step (``None``: SGD).

        Proximal L1 for Adam soft-thresholds with ``lr·l1 / (sqrt(v̂) + ε)`` per element.
        """
        if not self.adam:
            return None
        return (self.v[start:stop].sqrt() / math.sqrt(self.bias_correction2)).add_(ADAM_EPS)
