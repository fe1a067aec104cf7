"""Lookahead (Zhang, Lucas, Hinton & Ba 2019): slow weights that follow an inner optimizer.

Algorithm 1 of the paper, with an inner optimizer ``A`` (here: the study's Adam) and fast
weights ``θ``: the slow weights start as ``φ₀ = θ₀``; in every round the inner optimizer takes
``k`` steps from ``θ = φ``, then the slow weights move towards where it got,

    φ ← φ + α·(θ − φ),        θ ← φ,

with ``k`` the synchronization period (default 5) and ``α`` the slow step size in ``(0, 1]``
(default 0.5; ``α = 1`` is the inner optimizer alone). The inner optimizer's state (Adam's
moments) carries on across rounds, as in the paper's default. The paper reports and evaluates
the slow weights ``φ``; between two synchronizations they are the last ``φ``.

:func:`lookahead_sync_` is the member-batched maths the engine and :class:`Lookahead` share.

>>> import torch
>>> p = torch.nn.Parameter(torch.tensor([1.0]))
>>> opt = Lookahead(torch.optim.SGD([p], lr=0.1), k=2, alpha=0.5)
>>> for _ in range(2):
...     opt.zero_grad()
...     (p * 1.0).sum().backward()
...     opt.step()
>>> round(p.item(), 4)  # θ went 1 → 0.8 in two steps; φ = 1 + 0.5·(0.8 − 1)
0.9
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor

from reglab._validation import Problems, message

__all__ = ["Lookahead", "check_lookahead", "lookahead_sync_"]


def check_lookahead(who: str, k: Any, alpha: Any) -> list[str]:
    """The problems with ``k`` (a whole number ≥ 1) and ``alpha`` (in (0, 1]), one line each."""
    problems = []
    if isinstance(k, bool) or not isinstance(k, int | float) or k != int(k) or k < 1:
        problems.append(message(who, "k", "a whole number of steps ≥ 1", k))
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, int | float)
        or not 0.0 < float(alpha) <= 1.0
    ):
        problems.append(message(who, "alpha", "a number in (0, 1]", alpha))
    return problems


def lookahead_sync_(fast: Tensor, slow: Tensor, alpha: Tensor, due: Tensor) -> None:
    """Where ``due``: ``slow ← slow + alpha·(fast − slow)`` and ``fast ← slow``, in place.

    ``alpha`` and ``due`` broadcast against ``fast`` (one value per member, or per element);
    elements not ``due`` keep both values. Every operation is element-wise, so an element's
    result depends on its own values only.
    """
    moved = slow + alpha * (fast - slow)
    slow.copy_(torch.where(due, moved, slow))
    fast.copy_(torch.where(due, slow, fast))


class Lookahead(torch.optim.Optimizer):
    """Lookahead around any ``torch.optim`` optimizer (the paper's Algorithm 1).

    Args:
        optimizer: The inner optimizer, built on the model's parameters.
        k: Inner steps per synchronization (a whole number ≥ 1).
        alpha: Slow step size in (0, 1].

    :meth:`step` takes one inner step and, every ``k``-th call, moves the slow weights and
    resets the parameters to them. Evaluate the slow weights, as the paper does, inside
    :meth:`slow_weights`; :meth:`load_slow_weights` keeps them in the model (at the end of
    training). Usable as ``reglab.fit``'s optimizer factory::

        fit(model, X, y, optimizer=lambda groups, lr: Lookahead(torch.optim.Adam(groups, lr=lr)))
    """

    def __init__(self, optimizer: torch.optim.Optimizer, k: int = 5, alpha: float = 0.5) -> None:
        p = Problems()
        if not isinstance(optimizer, torch.optim.Optimizer):
            p.add(message("Lookahead", "optimizer", "a torch.optim.Optimizer", optimizer))
        for problem in check_lookahead("Lookahead", k, alpha):
            p.add(problem)
        p.raise_if_any()
        # A wrapper: it shares the inner optimizer's parameter groups (so learning-rate changes
        # and reglab.fit's weight decay reach it) and keeps no state of its own in them.
        self.optimizer = optimizer
        self.k, self.alpha = int(k), float(alpha)
        self.defaults = optimizer.defaults
        self.param_groups = optimizer.param_groups
        self.state = optimizer.state
        self._optimizer_step_pre_hooks: dict[int, Any] = OrderedDict()
        self._optimizer_step_post_hooks: dict[int, Any] = OrderedDict()
        self.steps = 0
        self._slow = [
            [q.detach().clone() for q in group["params"]] for group in optimizer.param_groups
        ]

    def __repr__(self) -> str:
        return f"Lookahead({self.optimizer!r}, k={self.k}, alpha={self.alpha})"

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> Any:
        """One inner step; every ``k``-th, ``φ ← φ + α(θ − φ)`` and ``θ ← φ``."""
        with torch.enable_grad():
            loss = self.optimizer.step(closure) if closure is not None else self.optimizer.step()
        self.steps += 1
        if self.steps % self.k == 0:
            due = torch.tensor(True)
            alpha = torch.tensor(self.alpha)
            for group, slows in zip(self.param_groups, self._slow, strict=True):
                for q, slow in zip(group["params"], slows, strict=True):
                    lookahead_sync_(q.data, slow, alpha, due)
        return loss

    @contextmanager
    def slow_weights(self) -> Iterator[None]:
        """Within it the parameters hold the slow weights ``φ``; the fast ones come back after."""
        pairs = [
            (q, slow)
            for group, slows in zip(self.param_groups, self._slow, strict=True)
            for q, slow in zip(group["params"], slows, strict=True)
        ]
        fast = [q.detach().clone() for q, _ in pairs]
        with torch.no_grad():
            for q, slow in pairs:
                q.copy_(slow)
        try:
            yield
        finally:
            with torch.no_grad():
                for (q, _), f in zip(pairs, fast, strict=True):
                    q.copy_(f)

    @torch.no_grad()
    def load_slow_weights(self) -> None:
        """Put the slow weights ``φ`` in the parameters for good (the end of training)."""
        for group, slows in zip(self.param_groups, self._slow, strict=True):
            for q, slow in zip(group["params"], slows, strict=True):
                q.copy_(slow)

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "steps": self.steps,
            "slow": [[s.clone() for s in slows] for slows in self._slow],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict["optimizer"])
        self.steps = int(state_dict["steps"])
        for slows, saved in zip(self._slow, state_dict["slow"], strict=True):
            for s, v in zip(slows, saved, strict=True):
                s.copy_(v)
