"""Adversarial training (Goodfellow, Shlens and Szegedy 2015; Madry et al. 2018).

For a model with data loss ``J`` and a bound ``ε`` on each input, a step trains on

    α·J(x) + (1 − α)·J(x + δ),    δ ≈ argmax_{‖δ‖∞ ≤ ε} J(x + δ)

with ``δ`` found by projected gradient ascent on the sign of the input gradient (PGD):

    δ₀ = ε·u,  u ~ U(−1, 1)  (random start; FGSM: δ₀ = 0)
    δₖ₊₁ = clip(δₖ + a·sign(∇ₓ J(x + δₖ)), −ε, ε)       k = 0 … K−1

FGSM is one step of size ``a = ε`` from ``δ₀ = 0``, i.e. ``δ = ε·sign(∇ₓ J(x))``; PGD defaults
to ``a = 2.5·ε/K`` (Madry et al.). ``δ`` is a constant of the training step: the weights'
gradient is taken at ``x + δ`` (``δ`` detached), and the input gradients that find it treat
the weights as constants.

Only numeric inputs are perturbed: ``numeric`` is 1 on numeric columns and 0 on one-hot
columns, whose bound is then 0 (a one-hot code has no meaning between 0 and 1). ``ε`` is in the
inputs' units after preprocessing: standard deviations of the training rows for tables, the
[0, 1] range for images.

:func:`pgd_delta` is member-batched (``x``: ``[M, F, B]``, per-member ``ε``, steps and step
size ``[M]``): each member's ``δ`` depends only on its own loss, because the gradient of a sum
of per-member losses is each member's own gradient. :class:`AdversarialLoss` is the same maths
for one's own PyTorch model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from reglab._validation import Problems, check_int, check_nonnegative, message

__all__ = ["PGD_STEP_FACTOR", "AdversarialLoss", "pgd_delta"]

PGD_STEP_FACTOR = 2.5
"""PGD's default step size is ``PGD_STEP_FACTOR·ε/K`` (Madry et al. 2018)."""


def pgd_delta(
    x: Tensor,
    grad: Callable[[Tensor], Tensor],
    eps: Tensor,
    steps: Tensor,
    step_size: Tensor,
    numeric: Tensor,
    start: Tensor | None = None,
) -> Tensor:
    """The adversarial perturbation ``δ`` of ``x`` ``[M, F, B]`` (see the module's maths).

    Args:
        x: Inputs as the engine's columns, one member per leading index.
        grad: ``x_adv ↦ ∇ Σ_i J_i(x_adv)`` with respect to ``x_adv`` (same shape).
        eps: Each member's bound ``[M]`` (0: ``δ = 0``).
        steps: Each member's number of steps ``K`` ``[M]`` (members with fewer steps keep
            their ``δ`` while the others go on).
        step_size: Each member's step ``a`` ``[M]``.
        numeric: ``[M, F, 1]`` (or broadcastable): 1 on perturbed columns, 0 elsewhere.
        start: Uniform draws in [−1, 1) of ``x``'s shape for the random start, or ``None``.

    Returns:
        ``δ`` with ``|δ| ≤ ε·numeric`` element-wise (detached).

    >>> x = torch.zeros(1, 2, 1)
    >>> d = pgd_delta(x, lambda xa: torch.tensor([[[3.0], [-1.0]]]), torch.tensor([0.1]),
    ...               torch.tensor([1]), torch.tensor([0.1]), torch.ones(1, 2, 1))
    >>> d.flatten().tolist()
    [0.10000000149011612, -0.10000000149011612]
    """
    bound = eps.view(-1, 1, 1).to(x.dtype) * numeric.to(x.dtype)
    delta = torch.zeros_like(x) if start is None else start * bound
    a = step_size.view(-1, 1, 1).to(x.dtype)
    for k in range(int(steps.max().item()) if steps.numel() else 0):
        g = grad((x + delta).detach().requires_grad_())
        moved = torch.minimum(torch.maximum(delta + a * torch.sign(g), -bound), bound)
        delta = torch.where((steps > k).view(-1, 1, 1), moved, delta)
    return delta.detach()


class AdversarialLoss(nn.Module):
    """``α·J(x) + (1 − α)·J(x + δ)`` for one's own model, ``δ`` by FGSM or PGD.

    Args:
        model: The network (``[B, F]`` inputs); called in its current mode.
        loss: ``(output, target) -> batch-mean loss`` (e.g. ``nn.CrossEntropyLoss()``).
        eps: The bound ``ε`` on each numeric input, in the inputs' units.
        steps: 1 with ``random_start=False`` is FGSM; more is PGD.
        alpha: The clean loss's weight ``α`` in [0, 1].
        step_size: PGD's step ``a``; ``None``: ``ε`` for one step, else ``2.5·ε/steps``.
        random_start: Start from ``δ₀ ~ U(−ε, ε)`` (default: when ``steps > 1``).
        numeric_features: The first this many columns are numeric and perturbed, the rest
            (one-hot columns, as :class:`~reglab.data.Preprocessor` orders them) are not;
            ``None``: every column.
        generator: The random start's generator.

    >>> torch.manual_seed(0) is not None
    True
    >>> net = nn.Linear(3, 2)
    >>> adv = AdversarialLoss(net, nn.CrossEntropyLoss(), eps=0.1)
    >>> x, y = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])
    >>> bool(adv(x, y) >= nn.CrossEntropyLoss()(net(x), y) * 0.5)
    True
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Callable[[Tensor, Tensor], Tensor],
        eps: float,
        *,
        steps: int = 1,
        alpha: float = 0.5,
        step_size: float | None = None,
        random_start: bool | None = None,
        numeric_features: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        who = "AdversarialLoss"
        p = Problems()
        p.check(check_nonnegative, who, "eps", eps)
        p.check(check_int, who, "steps", steps, minimum=1)
        if not (isinstance(alpha, int | float) and 0.0 <= alpha <= 1.0):
            p.add(message(who, "alpha", "a number in [0, 1]", alpha))
        if step_size is not None:
            p.check(check_nonnegative, who, "step_size", step_size)
        if numeric_features is not None:
            p.check(check_int, who, "numeric_features", numeric_features, minimum=0)
        p.raise_if_any()
        self.model = model
        self.loss = loss
        self.eps = float(eps)
        self.steps = int(steps)
        self.alpha = float(alpha)
        self.step_size = (
            float(step_size)
            if step_size is not None
            else (self.eps if steps == 1 else PGD_STEP_FACTOR * self.eps / steps)
        )
        self.random_start = steps > 1 if random_start is None else bool(random_start)
        self.numeric_features = numeric_features
        self.generator = generator

    def perturbation(self, x: Tensor, y: Tensor) -> Tensor:
        """``δ`` for inputs ``x`` ``[B, F]`` and targets ``y`` (the weights untouched)."""
        cols = x.detach().T.unsqueeze(0)  # [1, F, B]: the member-batched layout
        numeric = torch.ones(1, x.shape[1], 1, dtype=x.dtype, device=x.device)
        if self.numeric_features is not None:
            numeric[:, self.numeric_features :] = 0.0
        start = None
        if self.random_start:
            u = torch.rand(cols.shape, generator=self.generator, dtype=x.dtype)
            start = (2.0 * u - 1.0).to(x.device)

        def grad(xa: Tensor) -> Tensor:
            with torch.enable_grad():
                value = self.loss(self.model(xa[0].T), y)
                (g,) = torch.autograd.grad(value, xa)
            return g

        one = torch.ones(1, dtype=x.dtype, device=x.device)
        delta = pgd_delta(
            cols,
            grad,
            one * self.eps,
            torch.tensor([self.steps], device=x.device),
            one * self.step_size,
            numeric,
            start,
        )
        return delta[0].T

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """The training loss ``α·J(x) + (1 − α)·J(x + δ)``."""
        delta = self.perturbation(x, y)
        clean = self.loss(self.model(x), y)
        if self.alpha == 1.0:
            return clean
        return self.alpha * clean + (1.0 - self.alpha) * self.loss(self.model(x + delta), y)
