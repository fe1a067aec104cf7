"""Robust accuracy: a member's test accuracy under a PGD attack of a stated ε.

For a member with ``robust_eps = ε`` and ``robust_steps = K`` (:class:`MemberSpec`), each test
row ``x`` is replaced by ``x + δ`` with ``δ`` from ``K`` steps of projected gradient ascent on
the member's own data loss (:func:`~reglab.regularizers.adversarial.pgd_delta`: step
``2.5·ε/K``, a uniform random start in the ε-ball from the generator
``derive(member seed, "robust")``), on its restored best weights in evaluation mode. Only
numeric inputs are attacked (:attr:`MemberSpec.numeric_features`); ε is in the inputs' units
after preprocessing. The score is ``robust_accuracy = mean(argmax f(x + δ) = y)``, stored
beside the clean ``accuracy``.

Each member is attacked on its own (a one-member view of the stack's weights), so its score
depends on its own spec only.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from reglab._seeding import derive, generator
from reglab.engine import pointwise as pw
from reglab.engine.generic import numeric_columns
from reglab.engine.spec import MemberSpec
from reglab.engine.stack import Stack
from reglab.regularizers.adversarial import PGD_STEP_FACTOR, pgd_delta

__all__ = ["robust_accuracy"]


def robust_accuracy(
    stack: Stack, slot: int, member: MemberSpec, rows: np.ndarray, y: np.ndarray
) -> float:
    """Accuracy of member ``slot`` (best weights) on table rows ``rows`` under PGD.

    Args:
        stack: The member's stack.
        slot: Its position in the stack.
        member: Its spec (``robust_eps``, ``robust_steps``, ``numeric_features``, ``seed``).
        rows: Its test rows in the stack's data table.
        y: Their class ids.
    """
    if len(rows) == 0:
        return float("nan")
    device = stack.device
    keep = torch.tensor([slot], dtype=torch.long, device=device)
    theta = stack.layout.select(stack.best, stack.m, keep)
    running = [r.index_select(1, keep) for r in stack.best_running]
    params = stack.by_kind_views(stack.layout.views(theta, 1))
    stack.use_threads(1)
    table = stack.data.index_select(0, torch.as_tensor(rows, device=device))
    x = stack.columns(table[:, : stack.features].T.unsqueeze(0))  # [1, F, R]
    labels = torch.as_tensor(np.asarray(y, dtype=np.int64), device=device)

    def loss(out: Tensor) -> Tensor:  # out: [1, C, R]
        if stack.task == "binary":
            z = out[0, 0]
            return (pw.softplus(z) - z * labels.to(z.dtype)).sum()
        return torch.nn.functional.cross_entropy(out[0].T, labels, reduction="sum")

    def grad(xa: Tensor) -> Tensor:
        with torch.enable_grad(), stack.evaluating([slot]):
            (g,) = torch.autograd.grad(loss(stack.eval_forward(params, running, xa)), xa)
        return g

    eps, steps = float(member.robust_eps), int(member.robust_steps)
    rng = generator(derive(member.seed, "robust"))
    start = torch.from_numpy(rng.uniform(-1.0, 1.0, size=tuple(x.shape)).astype(np.float32))
    one = torch.ones(1, device=device)
    delta = pgd_delta(
        x,
        grad,
        one * eps,
        torch.tensor([steps], device=device),
        one * (PGD_STEP_FACTOR * eps / steps),
        numeric_columns([member], stack.features).to(device),
        start.to(device),
    )
    with torch.no_grad(), stack.evaluating([slot]):
        out = stack.eval_forward(params, running, x + delta)[0]
    pred = (out[0] > 0).long() if stack.task == "binary" else out.argmax(0)
    return float((pred == labels).double().mean().item())
