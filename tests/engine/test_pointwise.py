"""Position invariance: the kernels a stack runs give each member the same bits in any stack.

Each operation is applied to one member's tensor alone and to a stack of ``M`` members'
tensors; the member's slice must be bitwise equal. Shapes are chosen so that members end
inside a vector (odd sizes) and, with two threads, so that the work is split between threads.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from reglab.engine import pointwise as pw
from reglab.engine.backward import batch_norm_backward, batch_norm_train
from reglab.engine.layout import PAD
from reglab.layers.activations import ACTIVATIONS, get_activation
from reglab.regularizers.functional import add_penalty_grad_, l1l2_penalty, max_norm

Op = Callable[[Tensor, Tensor, Tensor], Tensor]
"""``op(x, g, c)``: a member's tensor, another one, and a per-member column ``[M, 1, 1]``."""


def _adam_direction(x: Tensor, g: Tensor, c: Tensor) -> Tensor:
    """torch's fused Adam over a flat buffer, ``PAD`` elements per member (as the layout)."""
    m = x.shape[0]
    flat = torch.zeros(m, PAD * (x[0].numel() // PAD + 1))
    grad = flat.clone()
    flat[:, : x[0].numel()] = x.reshape(m, -1)
    grad[:, : g[0].numel()] = g.reshape(m, -1)
    delta = torch.zeros_like(flat).view(-1)
    exp_avg, exp_avg_sq = grad.view(-1) * 0.1, grad.view(-1).square() * 0.01
    torch._fused_adam_(
        [delta],
        [grad.view(-1)],
        [exp_avg],
        [exp_avg_sq],
        [],
        [torch.tensor(3.0)],
        lr=1.0,
        beta1=0.9,
        beta2=0.999,
        weight_decay=0.0,
        eps=1e-8,
        amsgrad=False,
        maximize=False,
    )
    return delta.view(m, -1)


def _batch_norm(x: Tensor, g: Tensor, c: Tensor) -> Tensor:
    gamma, beta = (1 + c).expand(-1, x.shape[1], 1), c.expand(-1, x.shape[1], 1)
    y, z_hat, rstd, _, _ = batch_norm_train(x, gamma, beta)
    return torch.cat([y, batch_norm_backward(g, z_hat, rstd, gamma)], dim=2)


OPS: dict[str, Op] = {
    **{f"{name}": (lambda x, g, c, n=name: pw.activation(n, x)) for name in ACTIVATIONS},
    **{
        f"{name}-backward": (
            lambda x, g, c, n=name: pw.activation_backward(n, g, x, pw.activation(n, x))
        )
        for name in ACTIVATIONS
    },
    "sigmoid": lambda x, g, c: pw.sigmoid(x),
    "softplus": lambda x, g, c: pw.softplus(x),
    "log-softmax-then-exp": lambda x, g, c: torch.log_softmax(x, 1).exp(),
    "penalty-gradient": lambda x, g, c: add_penalty_grad_(g.clone(), x, c * 1e-3, c * 1e-2),
    "rate-times-direction": lambda x, g, c: x.clone().addcmul_(g, c * 1e-3, value=-1.0),
    "max-norm": lambda x, g, c: max_norm(x, c.view(-1) * 2, dim=2),
    "penalty": lambda x, g, c: l1l2_penalty(x, c.view(-1) * 1e-3, 2e-3),
    "batch-sums": lambda x, g, c: torch.sum(x, 2, keepdim=True),
    "loss-sum": lambda x, g, c: x.sum((1, 2)),
    "batch-norm": _batch_norm,
    "fused-adam": _adam_direction,
}

SHAPES = [(7, 25), (3, 1), (300, 111)]  # the last one is split between two threads


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(OPS))
def test_a_members_result_does_not_depend_on_its_stack(name: str, threads: int) -> None:
    """Alone on one thread; stacked on ``threads``, at most one per member (the stack's rule)."""
    op = OPS[name]
    for shape in SHAPES:
        gen = torch.Generator().manual_seed(len(shape) + shape[0])
        x = torch.randn(5, *shape, generator=gen) * 3
        g = torch.randn(5, *shape, generator=gen)
        c = torch.rand(5, 1, 1, generator=gen) + 0.5
        torch.set_num_threads(1)  # the conftest fixture restores one thread at the end
        alone = [op(x[i : i + 1], g[i : i + 1], c[i : i + 1]) for i in range(5)]
        torch.set_num_threads(threads)
        for m in (max(2, threads), 3, 5):
            stacked = op(x[:m], g[:m], c[:m])
            for i in range(m):
                assert torch.equal(stacked[i : i + 1], alone[i]), (shape, m, i)


@pytest.mark.parametrize("name", ["sigmoid", "elu", "selu"])
def test_rewritten_activations_agree_with_torch(name: str) -> None:
    x = torch.linspace(-30, 30, 10_001)
    torch.testing.assert_close(pw.activation(name, x), get_activation(name)(x))
    torch.testing.assert_close(pw.softplus(x), F.softplus(x))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(("rows", "inner", "cols"), [(50, 50, 32), (7, 25, 32), (512, 784, 64)])
def test_batched_products_do_not_depend_on_the_batch_count(
    rows: int, inner: int, cols: int, threads: int
) -> None:
    """One member per thread at least (``Stack.use_threads``): each matrix is one thread's."""
    gen = torch.Generator().manual_seed(rows)
    w = torch.randn(5, rows, inner, generator=gen)
    h = torch.randn(5, cols, inner, generator=gen).transpose(1, 2)  # the stack's column view
    bias = torch.randn(5, rows, 1, generator=gen)
    torch.set_num_threads(1)
    alone = [torch.baddbmm(bias[i : i + 1], w[i : i + 1], h[i : i + 1]) for i in range(5)]
    torch.set_num_threads(threads)
    for m in range(threads, 6):
        stacked = torch.baddbmm(bias[:m], w[:m], h[:m])
        assert all(torch.equal(stacked[i : i + 1], alone[i]) for i in range(m)), m
