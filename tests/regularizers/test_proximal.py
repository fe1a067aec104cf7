"""Proximal L1: exact zeros with SGD and Adam, the preconditioned threshold, error cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from reglab.errors import ConfigError
from reglab.regularizers import (
    L1,
    L1L2,
    L2,
    add_regularizer,
    proximal_step,
    proximal_threshold,
    regularization_loss,
)

N_FEATURES, TRUE_NONZERO = 12, 3


def regression(seed: int = 0, n: int = 96) -> tuple[Tensor, Tensor]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    coef = np.zeros(N_FEATURES)
    coef[:TRUE_NONZERO] = [1.5, -2.0, 1.0]
    y = X @ coef + 0.1 * rng.normal(size=n)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)[:, None]


def train(
    mode: str,
    optimizer: str,
    *,
    l1: float = 0.05,
    lr: float = 0.05,
    epochs: int = 60,
    threshold: bool = True,
) -> nn.Linear:
    X, y = regression()
    torch.manual_seed(0)
    model = nn.Linear(N_FEATURES, 1)
    add_regularizer(model, L1(l1, mode=mode))
    opt: torch.optim.Optimizer
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(1)
    for _ in range(epochs):
        for idx in torch.randperm(len(X), generator=gen).split(16):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(X[idx]), y[idx]) + regularization_loss(model)
            loss.backward()
            opt.step()
            if threshold:
                proximal_step(model, opt)
    return model


def objective(model: nn.Linear, l1: float = 0.05) -> float:
    X, y = regression()
    with torch.no_grad():
        mse = nn.functional.mse_loss(model(X), y)
        return float(mse + l1 * model.weight.abs().sum())


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_proximal_gives_exact_zeros_where_penalty_mode_does_not(optimizer: str) -> None:
    prox = train("proximal", optimizer)
    pen = train("penalty", optimizer)
    prox_zeros = int((prox.weight == 0).sum())
    assert prox_zeros >= N_FEATURES - TRUE_NONZERO - 2  # the irrelevant features are dropped
    assert (prox.weight[0, :TRUE_NONZERO] != 0).all()  # the relevant ones kept
    assert int((pen.weight == 0).sum()) == 0
    assert (pen.weight[0, TRUE_NONZERO:].abs() > 0).all()
    assert prox.bias.item() != 0  # biases are not regularized


def test_proximal_adam_reaches_a_lower_objective_than_not_thresholding() -> None:
    prox = train("proximal", "adam", lr=0.02)
    not_thresholded = train("proximal", "adam", lr=0.02, threshold=False)  # L1 ignored
    subgradient = train("penalty", "adam", lr=0.02)
    assert objective(prox) < objective(not_thresholded)
    assert objective(prox) < objective(subgradient)


def _grad_step(model: nn.Module, opt: torch.optim.Optimizer, x: Tensor) -> None:
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()


@pytest.mark.parametrize("amsgrad", [False, True], ids=["adam", "amsgrad"])
@pytest.mark.parametrize("cls", [torch.optim.Adam, torch.optim.AdamW], ids=["Adam", "AdamW"])
def test_adam_threshold_is_lr_l1_over_preconditioner(cls: type, amsgrad: bool) -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    lr, l1, betas, eps = 0.01, 0.3, (0.8, 0.95), 1e-6
    opt = cls(model.parameters(), lr=lr, betas=betas, eps=eps, amsgrad=amsgrad)
    v = torch.zeros_like(model.weight)
    v_max = torch.zeros_like(model.weight)
    gen = torch.Generator().manual_seed(0)
    for step in range(1, 5):
        _grad_step(model, opt, torch.randn(5, 3, generator=gen, dtype=torch.float64))
        assert model.weight.grad is not None
        v = betas[1] * v + (1 - betas[1]) * model.weight.grad**2
        v_max = torch.maximum(v_max, v)
        v_hat = (v_max if amsgrad else v) / (1 - betas[1] ** step)
        expected = lr * l1 / (v_hat.sqrt() + eps)
        got = proximal_threshold(opt, model.weight, l1)
        assert isinstance(got, Tensor)
        torch.testing.assert_close(got, expected)


def test_first_adam_step_threshold_is_lr_l1_over_abs_grad() -> None:
    model = nn.Linear(2, 1, bias=False)
    opt = torch.optim.Adam(model.parameters(), lr=0.1, eps=0.0)
    model.weight.grad = torch.tensor([[0.5, -2.0]])
    opt.step()
    got = proximal_threshold(opt, model.weight, 1.0)
    assert isinstance(got, Tensor)
    torch.testing.assert_close(got, torch.tensor([[0.2, 0.05]]))


def test_sgd_threshold_is_lr_times_l1() -> None:
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(
        [{"params": [model.weight], "lr": 0.5}, {"params": [model.bias], "lr": 0.1}]
    )
    assert proximal_threshold(opt, model.weight, 0.2) == pytest.approx(0.1)
    assert proximal_threshold(opt, model.bias, 0.2) == pytest.approx(0.02)


def test_soft_threshold_applied_to_proximal_parameters_only() -> None:
    net = nn.Sequential(nn.Linear(3, 3, bias=False), nn.Linear(3, 3, bias=False))
    with torch.no_grad():
        for layer in net:
            layer.weight.copy_(torch.tensor([[0.05, -0.5, 1.0]] * 3))
    add_regularizer(net, L1L2(l1=1.0, l2=0.1, mode="proximal"), names="0.weight")
    add_regularizer(net, L1(1.0), names="1.weight")  # penalty mode: untouched
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for layer in net:
        layer.weight.grad = torch.zeros_like(layer.weight)
    opt.step()
    assert proximal_step(net, opt) == ["0.weight"]
    assert net[0].weight[0].tolist() == pytest.approx([0.0, -0.4, 0.9])
    assert net[1].weight[0].tolist() == pytest.approx([0.05, -0.5, 1.0])


def test_parameters_the_optimizer_does_not_update_are_left_alone() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    add_regularizer(net, L1(10.0, mode="proximal"))
    before = net[1].weight.detach().clone()
    sgd = torch.optim.SGD(net[0].parameters(), lr=1.0)
    assert proximal_step(net, sgd) == ["0.weight"]
    assert (net[0].weight == 0).all()
    torch.testing.assert_close(net[1].weight, before)
    adam = torch.optim.Adam(net.parameters(), lr=1.0)
    assert proximal_step(net, adam) == []  # no step taken yet: no state, nothing to scale by
    torch.testing.assert_close(net[1].weight, before)


def test_unsupported_optimizer_is_an_error_only_when_needed() -> None:
    net = nn.Linear(2, 2)
    add_regularizer(net, L2(0.1))
    rms = torch.optim.RMSprop(net.parameters())
    assert proximal_step(net, rms) == []
    add_regularizer(net, L1(0.1, mode="proximal"))
    with pytest.raises(
        ConfigError,
        match=r"^proximal_step: `optimizer` must be a torch\.optim\.SGD, Adam or AdamW "
        r"\(proximal L1 needs its step size\); got 'RMSprop'\.$",
    ):
        proximal_step(net, rms)
