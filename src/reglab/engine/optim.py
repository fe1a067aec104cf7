"""Optimizers over a stack's flat parameter buffer, with per-member learning rates.

Adam (Kingma & Ba), in torch's arithmetic, for every element ``j`` of member ``i`` at the
member's step ``t_i``::

    m ← β₁·m + (1−β₁)·g          v ← β₂·v + (1−β₂)·g²
    w ← w − lr_i · (m / (1−β₁^t_i)) / (sqrt(v / (1−β₂^t_i)) + ε)

SGD: ``w ← w − lr_i·g``. Decoupled weight decay (AdamW, SGDW) first multiplies the weights by
``1 − lr_i·wd_i`` (torch's order). Because every coefficient is per element, one update of the
whole buffer serves members with different learning rates and decays. When every member has
taken the same number of steps (the usual case) Adam runs as torch's fused kernel, a single
operation over the buffer.

>>> import torch
>>> opt = FlatOptimizer("sgd", size=2, lr=torch.tensor([0.1, 0.5]), device="cpu")
>>> w = torch.ones(2)
>>> opt.step(w, torch.tensor([1.0, 1.0]), member_steps=None)
>>> w
tensor([0.9000, 0.5000])
"""

from __future__ import annotations

import numpy as np
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
        lr_values = torch.unique(lr)
        self.uniform_lr = float(lr_values[0]) if len(lr_values) == 1 else None
        if self.adam:
            self.m = torch.zeros(size, device=device)
            self.v = torch.zeros(size, device=device)
            self._step = torch.zeros((), device=device)
            self._delta = torch.empty(0, device=device) if self.uniform_lr else torch.empty_like(lr)
            self.fused = _HAS_FUSED
        self.bias_correction2: float | Tensor = 1.0

    def state(self) -> list[Tensor]:
        """The state tensors that follow the members when a stack is compacted."""
        return [self.m, self.v] if self.adam else []

    def load(self, state: list[Tensor], lr: Tensor, decay: Tensor | None) -> None:
        """Replace the state and coefficients (after compacting a stack)."""
        self.lr, self.decay = lr, decay
        lr_values = torch.unique(lr)
        self.uniform_lr = float(lr_values[0]) if len(lr_values) == 1 else None
        if self.adam:
            self.m, self.v = state
            self._delta = (
                torch.empty(0, device=lr.device) if self.uniform_lr else torch.empty_like(lr)
            )

    def step(self, w: Tensor, g: Tensor, member_steps: Tensor | int | None) -> None:
        """Update ``w`` in place with gradient ``g``.

        Args:
            w: The flat parameters.
            g: Their gradient.
            member_steps: For Adam, the step number ``t`` after this step: an int when all
                members share it, else a per-element tensor of each member's own ``t``.
        """
        if self.decay is not None:
            w.mul_(self.decay)
        if not self.adam:
            if self.uniform_lr is not None:
                w.add_(g, alpha=-self.uniform_lr)
            else:
                w.addcmul_(g, self.lr, value=-1.0)
            return
        b1, b2 = ADAM_BETAS
        if isinstance(member_steps, int) and self.fused:
            self._step.fill_(member_steps)
            self.bias_correction2 = 1.0 - b2**member_steps
            target, lr = (w, self.uniform_lr) if self.uniform_lr is not None else (self._delta, 1.0)
            if self.uniform_lr is None:
                target.zero_()
            torch._fused_adam_(
                [target],
                [g],
                [self.m],
                [self.v],
                [],
                [self._step],
                lr=lr,
                beta1=b1,
                beta2=b2,
                weight_decay=0.0,
                eps=ADAM_EPS,
                amsgrad=False,
                maximize=False,
            )
            if self.uniform_lr is None:
                w.addcmul_(self._delta, self.lr)
            return
        t = member_steps if member_steps is not None else 1
        if isinstance(t, Tensor):
            bc1: float | Tensor = 1.0 - torch.pow(b1, t)
            bc2: float | Tensor = 1.0 - torch.pow(b2, t)
            bc2_sqrt: float | Tensor = torch.sqrt(bc2)  # type: ignore[arg-type]
        else:
            bc1, bc2 = 1.0 - b1**t, 1.0 - b2**t
            bc2_sqrt = float(np.sqrt(bc2))
        self.bias_correction2 = bc2
        self.m.lerp_(g, 1.0 - b1)
        self.v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
        denom = (self.v.sqrt() / bc2_sqrt).add_(ADAM_EPS)
        w.addcdiv_(self.m * (self.lr / bc1), denom, value=-1.0)

    def preconditioner(self, start: int, stop: int) -> Tensor | None:
        """``sqrt(v̂) + ε`` of elements ``start:stop`` after the last Adam step (``None``: SGD).

        Proximal L1 for Adam soft-thresholds with ``lr·l1 / (sqrt(v̂) + ε)`` per element.
        """
        if not self.adam:
            return None
        bc2 = self.bias_correction2
        bc2s = bc2[start:stop] if isinstance(bc2, Tensor) else bc2
        return (self.v[start:stop] / bc2s).sqrt_().add_(ADAM_EPS)
