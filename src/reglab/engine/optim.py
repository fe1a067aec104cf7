"""The optimizers' updates over a stack's flat parameter buffer.

Adam (Kingma & Ba), in torch's arithmetic, for every element of member ``i`` at step ``t``
(every member of a stack takes the same steps, :mod:`reglab.engine.plan`)::

    m ← β₁·m + (1−β₁)·g          v ← β₂·v + (1−β₂)·g²
    w ← w − (lr_i / (1−β₁^t))·m / (sqrt(v) / sqrt(1−β₂^t) + ε)

applied in place by torch's fused Adam kernel (:meth:`FlatOptimizer.adam_step_`): one pass
over the weights, the gradient and the two moments. The kernel takes one learning rate, so a
member's arithmetic is the kernel's with its own rate (``lr_i`` as float32, the stack's
column): members that share a rate are moved by one call; when rates differ (members with
their own ``lr``, or rates set step by step from outside: snapshot ensembles' cycles) each
distinct rate runs the kernel on a copy of the weights and each member keeps the copy of its
own rate, the same bits as a stack that shares its rate. The kernel rounds as torch's Adam
does, not as the unit-rate direction scaled by ``lr_i`` that this module computed before
(``w + lr_i·(−m̂/(√v̂+ε))``): every Adam member's bits changed with it, within float tolerance
(``tests/engine/test_equivalence.py``). SGD's direction is ``u = −g``, which the
stack applies as ``w ← w + lr_i·u``. Decoupled weight decay (AdamW, SGDW) first multiplies the
weights by ``1 − lr_i·wd_i`` (torch's order), also in the stack.

>>> import torch
>>> opt = FlatOptimizer("adam", size=2, device="cpu")
>>> w = torch.zeros(2)
>>> opt.adam_step_(w, torch.tensor([0.5, -2.0]), t=1, lr=torch.tensor([0.1]),
...                member_of=lambda: torch.zeros(2, dtype=torch.long))
>>> w.round(decimals=4)
tensor([-0.1000,  0.1000])
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["ADAM_BETAS", "ADAM_EPS", "FlatOptimizer"]

ADAM_BETAS = (0.9, 0.999)
"""torch's (and Keras's) default Adam betas."""
ADAM_EPS = 1e-8
"""torch's default Adam epsilon."""

_HAS_FUSED = hasattr(torch, "_fused_adam_")


class FlatOptimizer:
    """Adam's in-place update for one flat buffer.

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
        self._step = torch.zeros((), device=device, dtype=dtype)
        self.bias_correction2 = 1.0

    def state(self) -> list[Tensor]:
        """The state tensors that follow the members when a stack is compacted."""
        return [self.m, self.v] if self.adam else []

    def load(self, state: list[Tensor]) -> None:
        """Replace the state (after compacting a stack)."""
        if self.adam:
            self.m, self.v = state

    def adam_step_(
        self,
        w: Tensor,
        g: Tensor,
        t: int,
        lr: Tensor,
        member_of: Callable[[], Tensor],
        shared: float | None = None,
    ) -> None:
        """Adam's step ``t`` on ``w`` in place (the module's formula), each member at its rate.

        Args:
            w: The flat weights (moved in place).
            g: Their gradient.
            t: The step, from 1.
            lr: Each member's learning rate ``[M]`` (float32).
            member_of: Returns, for each element of ``w``, its member (rows of ``lr``);
                called only when the rates differ.
            shared: The members' one rate when they share it (``float(lr[0])``), so that no
                rate is read back from ``lr``.
        """
        self.bias_correction2 = 1.0 - ADAM_BETAS[1] ** t
        if shared is not None:
            self._kernel(w, g, self.m, self.v, t, shared)
            return
        rates = sorted(set(lr.view(-1).tolist()))
        if len(rates) == 1:
            self._kernel(w, g, self.m, self.v, t, rates[0])
            return
        # One pass per distinct rate on a copy of the weights; every element keeps its
        # member's pass. The moments do not depend on the rate: each pass starts from the
        # same m and v and leaves the same values.
        m0, v0, out = self.m.clone(), self.v.clone(), w.clone()
        of_element = lr.view(-1)[member_of()]
        for j, rate in enumerate(rates):
            if j:
                self.m.copy_(m0)
                self.v.copy_(v0)
            moved = w.clone()
            self._kernel(moved, g, self.m, self.v, t, rate)
            mine = of_element == torch.tensor(rate, dtype=lr.dtype, device=lr.device)
            torch.where(mine, moved, out, out=out)
        w.copy_(out)

    def _kernel(self, w: Tensor, g: Tensor, m: Tensor, v: Tensor, t: int, lr: float) -> None:
        b1, b2 = ADAM_BETAS
        if self.fused:
            self._step.fill_(t)
            torch._fused_adam_(
                [w],
                [g],
                [m],
                [v],
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
            return
        m.lerp_(g, 1.0 - b1)
        v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
        denom = (v.sqrt() / math.sqrt(1.0 - b2**t)).add_(ADAM_EPS)
        w.addcdiv_(m, denom, value=-lr / (1.0 - b1**t))

    def preconditioner(self, start: int, stop: int) -> Tensor | None:
        """``sqrt(v̂) + ε`` of elements ``start:stop`` after the last Adam step (``None``: SGD).

        Proximal L1 for Adam soft-thresholds with ``lr·l1 / (sqrt(v̂) + ε)`` per element.
        """
        if not self.adam:
            return None
        return (self.v[start:stop].sqrt() / math.sqrt(self.bias_correction2)).add_(ADAM_EPS)
