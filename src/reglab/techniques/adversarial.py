"""Adversarial training: ``fgsm=EPS``, ``pgd=EPS`` / ``pgd=EPS:STEPS``, ``adv-alpha=A``.

Each member trains on ``α·J(x) + (1 − α)·J(x + δ)`` with ``δ`` the FGSM or PGD perturbation
of its own batch under its own loss (:mod:`reglab.regularizers.adversarial` states the maths):

* ``fgsm=ε``: ``δ = ε·sign(∇ₓ J(x))`` (Goodfellow et al. 2015);
* ``pgd=ε`` or ``pgd=ε:K``: ``K`` steps (default :data:`PGD_STEPS`) of size ``2.5·ε/K`` from a
  uniform random start in the ε-ball (Madry et al. 2018), drawn from the member's own
  generator;
* ``adv-alpha=α``: the clean loss's weight (default 0.5, Goodfellow et al.'s choice); it only
  modifies ``fgsm`` or ``pgd`` and is refused without one.

``ε`` is per member, in the inputs' units after preprocessing (standard deviations of the
training rows for table columns, the [0, 1] pixel range for images), and applies to numeric
inputs only: one-hot columns are never perturbed (:attr:`TrainingBatch.numeric`). The attack
runs the member's training-mode forward pass with the step's own dropout masks; batch norm's
running statistics are restored after the attack, so only the clean and the adversarial pass
update them. The training loss curve records the combined loss.

Search ranges: ε from 0.01 to 0.3 on a log scale (Goodfellow et al. 2015 train MNIST with
ε = 0.25 on [0, 1] pixels, Madry et al. 2018 with ε = 0.3); α from 0.3 to 0.7 around
Goodfellow et al.'s 0.5. ``pgd`` is left out of ``reglab tune``'s cocktail (each step costs
``K + 1`` forward and backward passes); ``fgsm`` is one of Kadra et al.'s (2021) cocktail
ingredients.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from reglab.regularizers.adversarial import PGD_STEP_FACTOR, pgd_delta
from reglab.techniques.base import LossContext, Param, Technique
from reglab.techniques.registry import register

__all__ = ["PGD_STEPS", "AdvAlpha", "Fgsm", "Pgd", "adversarial_loss"]

PGD_STEPS = 10
"""PGD's steps when ``pgd=EPS`` gives none."""

_EPS = Param("eps", 0.01, 0.3, "log")
_ATTACKS = ("fgsm", "pgd")


def adversarial_loss(
    ctx: LossContext,
    clean: Tensor,
    eps: Tensor,
    steps: Tensor,
    step_size: Tensor,
    alpha: Tensor,
    start: Tensor | None,
) -> Tensor:
    """Each member's ``α·J(x) + (1 − α)·J(x + δ)`` ``[M]`` (members with ``ε = 0``: ``J(x)``).

    ``clean`` is ``J(x)`` ``[M]``; ``δ`` comes from :func:`pgd_delta` on the members' own
    input gradients (weights detached)."""
    batch = ctx.batch

    def grad(xa: Tensor) -> Tensor:
        with torch.enable_grad():
            value = ctx.data_loss(ctx.attack_forward(xa), batch.target).sum()
            (g,) = torch.autograd.grad(value, xa)
        return g

    delta = pgd_delta(batch.x, grad, eps, steps, step_size, batch.numeric, start)
    adversarial = ctx.data_loss(ctx.forward(batch.x + delta), batch.target)
    a = torch.where(eps > 0, alpha.to(clean.dtype), torch.ones_like(clean))
    return a * clean + (1.0 - a) * adversarial


class _Attack(Technique):
    acts_on = "loss"
    trains_apart = True
    reads = ("adv-alpha",)
    order = 88

    @classmethod
    def conflict(cls, keys: Sequence[str]) -> str | None:
        if cls.key == _ATTACKS[0] and _ATTACKS[1] in keys:  # said once, by the first
            return f"`{_ATTACKS[0]}` must be used without `{_ATTACKS[1]}` (one attack per strategy)"
        return None


class Fgsm(_Attack):
    """``fgsm=ε``: train on ``α·J(x) + (1 − α)·J(x + ε·sign(∇ₓJ))``."""

    key = "fgsm"
    params = (_EPS,)
    label = "adversarial training (FGSM)"

    @classmethod
    def loss(
        cls, ctx: LossContext, clean: Tensor, draws: Tensor, values: Mapping[str, Tensor]
    ) -> Tensor:
        eps = values["eps"]
        steps = (eps > 0).to(torch.int64)
        return adversarial_loss(ctx, clean, eps, steps, eps, values["alpha"], None)


class Pgd(_Attack):
    """``pgd=ε`` or ``pgd=ε:K``: ``K``-step PGD with a random start (default ``K = 10``)."""

    key = "pgd"
    params = (
        _EPS,
        Param("steps", PGD_STEPS, PGD_STEPS, "linear", minimum=1, maximum=1000, schedulable=False),
    )
    label = "adversarial training (PGD)"
    in_cocktail = False

    def __init__(self, eps: float, steps: float = 0.0) -> None:
        if isinstance(steps, int | float) and steps != int(steps):
            from reglab.errors import ConfigError

            raise ConfigError(f"Pgd (pgd): `steps` must be a whole number; got {steps!r}.")
        super().__init__(eps=eps, steps=steps)

    @staticmethod
    def member_steps(values: Mapping[str, Tensor]) -> Tensor:
        """Each member's ``K`` (0 without PGD; :data:`PGD_STEPS` when not given)."""
        steps = torch.where(values["steps"] > 0, values["steps"], float(PGD_STEPS))
        return torch.where(values["eps"] > 0, steps, 0.0).round().to(torch.int64)

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        values: Mapping[str, float],
        rows: int,
        shape: tuple[int, int],
    ) -> np.ndarray:
        """The random start's ``u ~ U(−1, 1)`` of the batch's shape."""
        return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)

    @classmethod
    def loss(
        cls, ctx: LossContext, clean: Tensor, draws: Tensor, values: Mapping[str, Tensor]
    ) -> Tensor:
        eps = values["eps"]
        steps = cls.member_steps(values)
        size = PGD_STEP_FACTOR * eps / torch.clamp(steps, min=1).to(eps.dtype)
        return adversarial_loss(ctx, clean, eps, steps, size, values["alpha"], draws)


class AdvAlpha(Technique):
    """``adv-alpha=α``: the clean loss's weight in ``fgsm``/``pgd`` training (default 0.5)."""

    key = "adv-alpha"
    params = (Param("alpha", 0.3, 0.7, "linear", off=0.5, maximum=1.0),)
    acts_on = "modifier"
    label = "adversarial loss weight"
    order = 89
    in_cocktail = False

    @classmethod
    def conflict(cls, keys: Sequence[str]) -> str | None:
        if not any(k in keys for k in _ATTACKS):
            return "`adv-alpha` must be used with `fgsm` or `pgd` (it weighs their clean loss)"
        return None


register(Fgsm)
register(Pgd)
register(AdvAlpha)
