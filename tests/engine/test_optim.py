"""The flat optimizer against torch.optim with one parameter group per member."""

from __future__ import annotations

import pytest
import torch

from reglab.engine.optim import FlatOptimizer
from reglab.regularizers.proximal import proximal_threshold

LRS = [1e-3, 5e-2, 0.3]
SIZE = 7  # elements per member


def _setup() -> tuple[torch.Tensor, list[torch.nn.Parameter], torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    flat = torch.randn(len(LRS) * SIZE, generator=gen, dtype=torch.float64)
    params = [torch.nn.Parameter(flat[i * SIZE : (i + 1) * SIZE].clone()) for i in range(len(LRS))]
    lr = torch.tensor(LRS, dtype=torch.float64).repeat_interleave(SIZE)
    return flat, params, lr


def _grads(step: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(100 + step)
    return torch.randn(len(LRS) * SIZE, generator=gen, dtype=torch.float64)


def _apply(
    opt: FlatOptimizer, flat: torch.Tensor, g: torch.Tensor, t: int, lr: torch.Tensor, decay: float
) -> None:
    """What the stack does: decoupled decay, then Adam in place or ``w −= lr·g`` for SGD."""
    if decay:
        flat.mul_(1 - lr * decay)
    if opt.adam:
        member_of = torch.arange(len(LRS)).repeat_interleave(SIZE)
        opt.adam_step_(flat, g, t, torch.tensor(LRS, dtype=flat.dtype), lambda: member_of)
    else:
        flat.addcmul_(g, lr, value=-1.0)


@pytest.mark.parametrize(
    ("kind", "decay", "reference"),
    [
        ("adam", 0.0, torch.optim.Adam),
        ("sgd", 0.0, torch.optim.SGD),
        ("adamw", 0.1, torch.optim.AdamW),
    ],
    ids=["adam", "sgd", "adamw"],
)
def test_flat_update_equals_torch_with_a_group_per_member(
    kind: str, decay: float, reference: type[torch.optim.Optimizer]
) -> None:
    flat, params, lr = _setup()
    opt = FlatOptimizer(kind, flat.numel(), "cpu", dtype=flat.dtype)
    groups = [{"params": [p], "lr": r} for p, r in zip(params, LRS, strict=True)]
    extra = {"weight_decay": decay} if kind == "adamw" else {}
    torch_opt = reference(groups, **extra)
    for step in range(1, 6):
        g = _grads(step)
        _apply(opt, flat, g, step, lr, decay)
        for i, p in enumerate(params):
            p.grad = g[i * SIZE : (i + 1) * SIZE].clone()
        torch_opt.step()
        torch.testing.assert_close(flat, torch.cat([p.detach() for p in params]))


def test_proximal_preconditioner_is_the_single_model_threshold() -> None:
    flat, params, lr = _setup()
    opt = FlatOptimizer("adam", flat.numel(), "cpu", dtype=flat.dtype)
    torch_opt = torch.optim.Adam(
        [{"params": [p], "lr": r} for p, r in zip(params, LRS, strict=True)]
    )
    for step in range(1, 4):
        g = _grads(step)
        _apply(opt, flat, g, step, lr, 0.0)
        for i, p in enumerate(params):
            p.grad = g[i * SIZE : (i + 1) * SIZE].clone()
        torch_opt.step()
    pre = opt.preconditioner(0, flat.numel())
    assert pre is not None
    l1 = 0.01
    for i, p in enumerate(params):
        expected = proximal_threshold(torch_opt, p, l1)
        assert isinstance(expected, torch.Tensor)
        torch.testing.assert_close(LRS[i] * l1 / pre[i * SIZE : (i + 1) * SIZE], expected)
    assert FlatOptimizer("sgd", 3, "cpu").preconditioner(0, 3) is None


def test_members_at_other_rates_get_the_bits_of_their_rate_alone() -> None:
    # Three members of 64 elements (a multiple of the kernel's vector width, as the stack's
    # padding makes every member's share), two at one rate and one at another: the pass per
    # rate gives each member the bits of a stack that shares its rate, and of it alone.
    rates = [1e-3, 3e-2, 1e-3]
    size = 64
    gen = torch.Generator().manual_seed(1)
    start = torch.randn(len(rates) * size, generator=gen)
    grads = [torch.randn(len(rates) * size, generator=gen) for _ in range(6)]
    member_of = torch.arange(len(rates)).repeat_interleave(size)
    lr = torch.tensor(rates, dtype=torch.float32)
    mixed, opt = start.clone(), FlatOptimizer("adam", start.numel(), "cpu")
    for t, g in enumerate(grads, start=1):
        opt.adam_step_(mixed, g, t, lr, lambda: member_of)
    for i in range(len(rates)):
        part = slice(i * size, (i + 1) * size)
        alone, single = start[part].clone(), FlatOptimizer("adam", size, "cpu")
        for t, g in enumerate(grads, start=1):
            single.adam_step_(
                alone, g[part], t, lr[i : i + 1], lambda: torch.zeros(size, dtype=torch.long),
                shared=float(lr[i]),
            )  # fmt: skip
        assert torch.equal(mixed[part], alone), f"member {i}"
        assert torch.equal(opt.m[part], single.m) and torch.equal(opt.v[part], single.v)
