"""DropConnect: masks on weights, never on the stored parameters."""

from __future__ import annotations

import copy
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reglab._config import deserialize, serialize
from reglab.errors import ConfigError
from reglab.layers import (
    Dense,
    DropConnectLinear,
    drop_connect,
    drop_connect_rates,
    remove_drop_connect,
)
from reglab.regularizers import (
    L2,
    MaxNorm,
    apply_constraints,
    iter_regularized,
    regularization_loss,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _linear_with_drop_connect(p: float, seed: int) -> nn.Module:
    torch.manual_seed(0)
    return drop_connect(nn.Linear(5, 3), p=p, generator=_gen(seed))


def _drop_connect_linear(p: float, seed: int) -> nn.Module:
    torch.manual_seed(0)
    return DropConnectLinear(5, 3, p=p, generator=_gen(seed))


FACTORIES = [
    pytest.param(_drop_connect_linear, id="DropConnectLinear"),
    pytest.param(_linear_with_drop_connect, id="drop_connect(Linear)"),
]


def _masks(seed: int, shape: tuple[int, ...], p: float, count: int) -> list[np.ndarray]:
    """The inverted-dropout masks a generator seeded with ``seed`` yields, in numpy."""
    gen = _gen(seed)
    return [
        (torch.rand(shape, generator=gen).numpy() >= p).astype(np.float64) / (1 - p)
        for _ in range(count)
    ]


@pytest.mark.parametrize("factory", FACTORIES)
def test_training_forward_uses_a_fresh_mask_and_never_mutates_the_weight(factory) -> None:
    layer = factory(0.5, seed=1)
    stored = layer.weight.detach().clone()
    x = torch.randn(4, 5, generator=_gen(2))
    y1, y2 = layer(x), layer(x)
    assert not torch.equal(y1, y2)
    (y1.sum() + y2.sum()).backward()
    assert torch.equal(layer.weight, stored)
    masks = _masks(1, (3, 5), 0.5, 2)
    for y, mask in zip((y1, y2), masks, strict=True):
        expected = x.numpy() @ (stored.numpy() * mask).T + layer.bias.detach().numpy()
        np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("factory", FACTORIES)
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_optimizer_step_changes_the_weight_by_the_masked_gradient_only(factory, p) -> None:
    layer = factory(p, seed=3)
    w0 = layer.weight.detach().clone().numpy().astype(np.float64)
    x = torch.randn(6, 5, generator=_gen(4))
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    layer(x).sum().backward()
    opt.step()
    # d(sum(x·(W⊙M)ᵀ))/dW = (1ᵀx per output row) ⊙ M
    mask = _masks(3, (3, 5), p, 1)[0]
    grad = np.ones((3, 6)) @ x.numpy().astype(np.float64) * mask
    np.testing.assert_allclose(layer.weight.detach().numpy(), w0 - 0.1 * grad, rtol=1e-5, atol=1e-6)
    assert (layer.weight.grad.numpy()[mask == 0] == 0).all()


@pytest.mark.parametrize("factory", FACTORIES)
def test_eval_uses_weight_scaling(factory) -> None:
    layer = factory(0.5, seed=5)
    x = torch.randn(4, 5, generator=_gen(6))
    layer.eval()
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias), rtol=0, atol=0)
    # the eval weight is the mean of the training-time weight samples (inverted scaling)
    layer.train()
    eye = torch.eye(5)
    draws = 4000
    with torch.no_grad():
        mean = sum(layer(eye) for _ in range(draws)) / draws - layer.bias
    w = layer.weight.detach().T
    tolerance = 5 * w.abs() * math.sqrt(1.0 / draws)  # sd of one sample: |w|·sqrt(p/(1−p)) = |w|
    assert ((mean - w).abs() <= tolerance + 1e-6).all()


@pytest.mark.parametrize("factory", FACTORIES)
def test_zero_rate_is_the_plain_layer(factory) -> None:
    layer = factory(0.0, seed=0)
    x = torch.randn(4, 5, generator=_gen(7))
    assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))


@pytest.mark.parametrize("factory", FACTORIES)
def test_state_dict_keys_are_those_of_nn_linear_and_plain_weights_load(factory) -> None:
    layer = factory(0.5, seed=0)
    plain = nn.Linear(5, 3)
    assert list(layer.state_dict()) == list(plain.state_dict()) == ["weight", "bias"]
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    layer.load_state_dict(plain.state_dict())
    assert torch.equal(layer.weight, plain.weight)
    x = torch.randn(2, 5)
    torch.testing.assert_close(layer.eval()(x), plain(x))
    assert isinstance(layer.weight, nn.Parameter)


def test_sequential_with_drop_connect_loads_a_plain_models_state_dict() -> None:
    plain = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    masked = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    drop_connect(masked[0], p=0.3)
    drop_connect(masked[2], p=0.3)
    masked.load_state_dict(plain.state_dict())  # strict: same keys
    masked(torch.randn(3, 4)).sum().backward()  # a training forward leaves the keys alone
    assert masked.state_dict().keys() == plain.state_dict().keys()
    x = torch.randn(3, 4)
    torch.testing.assert_close(masked.eval()(x), plain(x))


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_conv2d_weights_are_masked_per_element(p) -> None:
    conv = drop_connect(nn.Conv2d(2, 3, 3), p=p, generator=_gen(8))
    x = torch.randn(1, 2, 5, 5, generator=_gen(9))
    mask = torch.from_numpy(_masks(8, (3, 2, 3, 3), p, 1)[0]).float()
    expected = F.conv2d(x, conv.weight * mask, conv.bias)
    torch.testing.assert_close(conv(x), expected)


def test_lstm_hidden_to_hidden_weights() -> None:
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4)
    plain = copy.deepcopy(lstm)
    drop_connect(lstm, "weight_hh_l0", p=0.5, generator=_gen(10))
    stored = lstm.weight_hh_l0.detach().clone()
    x = torch.randn(6, 2, 3, generator=_gen(11))
    out1, out2 = lstm(x)[0], lstm(x)[0]
    assert not torch.equal(out1, out2)
    assert torch.equal(lstm.weight_hh_l0, stored)
    mask = torch.from_numpy(_masks(10, (16, 4), 0.5, 1)[0]).float()
    with torch.no_grad():
        plain.weight_hh_l0.mul_(mask)
    torch.testing.assert_close(out1, plain(x)[0])
    lstm.eval()
    torch.testing.assert_close(lstm(x)[0], copy.deepcopy(lstm)(x)[0])


def test_forward_hooks_run_once_and_parameters_survive_an_exception() -> None:
    layer = drop_connect(nn.Linear(3, 2), p=0.5)
    calls: list[int] = []
    layer.register_forward_hook(lambda *_: calls.append(1))
    layer(torch.ones(1, 3))
    assert calls == [1]
    weight = layer.weight
    with pytest.raises(RuntimeError):
        layer(torch.ones(1, 7))  # shape mismatch inside the masked forward
    assert layer.weight is weight and isinstance(layer.weight, nn.Parameter)


def test_deepcopy_masks_the_copys_own_weight() -> None:
    layer = drop_connect(nn.Linear(3, 2), p=0.5, generator=_gen(0))
    twin = copy.deepcopy(layer)
    with torch.no_grad():
        twin.weight.zero_()
    x = torch.ones(4, 3)
    torch.testing.assert_close(twin(x), twin.bias.expand(4, 2))
    assert layer.weight.abs().sum() > 0
    assert drop_connect_rates(twin) == {"weight": 0.5}


def test_reapplying_replaces_the_rate_and_remove_restores_the_plain_layer() -> None:
    layer = drop_connect(nn.Linear(3, 2), p=0.5)
    drop_connect(layer, p=0.25)
    assert drop_connect_rates(layer) == {"weight": 0.25}
    assert (len(layer._forward_pre_hooks), len(layer._forward_hooks)) == (1, 1)  # one pair
    drop_connect(layer, "bias", p=0.1)
    assert drop_connect_rates(layer) == {"weight": 0.25, "bias": 0.1}
    remove_drop_connect(layer)
    assert drop_connect_rates(layer) == {"bias": 0.1}
    remove_drop_connect(layer, "bias")
    assert drop_connect_rates(layer) == {}
    assert not layer._forward_pre_hooks and not layer._forward_hooks
    assert not layer._forward_hooks_always_called
    assert [k for k in vars(layer) if k.startswith("_reglab")] == []
    x = torch.randn(2, 3)
    assert torch.equal(layer(x), layer(x))


def test_forward_is_never_replaced() -> None:
    """Hooks, as torch's own pruning and weight norm do: the class's forward stays the one."""
    layer = drop_connect(nn.Linear(3, 2), p=0.5)
    assert "forward" not in vars(layer)
    assert layer.forward.__func__ is nn.Linear.forward
    layer(torch.ones(1, 3))
    assert "forward" not in vars(layer)


def test_regularizers_and_constraints_act_on_the_stored_weight() -> None:
    """The parameter stays registered as ``weight``: penalties, constraints and the optimizer
    see the stored weight, never a mask sample (a parametrization would hide it from them)."""
    torch.manual_seed(0)
    dense = drop_connect(
        Dense(4, 3, kernel_regularizer=L2(0.1), kernel_constraint=MaxNorm(0.05)), p=0.5
    )
    [(name, param, _)] = list(iter_regularized(dense))
    assert name == "weight" and param is dense.weight and isinstance(param, nn.Parameter)
    dense.train()
    dense(torch.ones(2, 4))
    expected = 0.1 * dense.weight.detach().pow(2).sum()
    torch.testing.assert_close(regularization_loss(dense).detach(), expected)
    assert apply_constraints(dense) == ["weight"]
    norms = dense.weight.detach().norm(dim=1)
    assert (norms <= 0.05 + 1e-6).all()
    assert [n for n, _ in dense.named_parameters()] == ["weight", "bias"]


def test_functional_call_masks_the_parameters_it_is_given() -> None:
    layer = drop_connect(nn.Linear(5, 3), p=0.5, generator=_gen(12))
    weight = torch.randn(3, 5, generator=_gen(13), requires_grad=True)
    x = torch.randn(4, 5, generator=_gen(14))
    y = torch.func.functional_call(layer, {"weight": weight, "bias": layer.bias}, (x,))
    mask = torch.from_numpy(_masks(12, (3, 5), 0.5, 1)[0]).float()
    torch.testing.assert_close(y, F.linear(x, weight * mask, layer.bias))
    y.sum().backward()
    assert weight.grad is not None and (weight.grad[mask == 0] == 0).all()
    assert isinstance(layer.weight, nn.Parameter) and layer.weight is not weight


def test_an_exception_in_a_later_forward_hook_leaves_the_parameter_in_place() -> None:
    layer = drop_connect(nn.Linear(3, 2), p=0.5)
    weight = layer.weight

    def fail(*_: object) -> None:
        raise ValueError("hook failed")

    layer.register_forward_hook(fail)
    with pytest.raises(ValueError, match="hook failed"):
        layer(torch.ones(1, 3))
    assert layer.weight is weight


def test_a_nested_call_of_the_same_module_reuses_the_outer_sample() -> None:
    class Twice(nn.Linear):
        def forward(self, x: torch.Tensor, again: bool = True) -> torch.Tensor:
            y = F.linear(x, self.weight, self.bias)
            return y - self(x, again=False) if again else y

    torch.manual_seed(0)
    layer = drop_connect(Twice(3, 3), p=0.5)
    weight = layer.weight
    out = layer(torch.randn(2, 3))
    assert torch.equal(out, torch.zeros(2, 3))  # both calls used one sample
    assert layer.weight is weight


def test_a_deepcopy_carries_its_own_hooks() -> None:
    layer = drop_connect(nn.Linear(3, 2), p=0.5, generator=_gen(0))
    twin = remove_drop_connect(copy.deepcopy(layer))
    assert drop_connect_rates(twin) == {} and not twin._forward_pre_hooks
    assert drop_connect_rates(layer) == {"weight": 0.5} and len(layer._forward_pre_hooks) == 1
    x = torch.ones(2, 3)
    assert not torch.equal(layer(x), layer(x))
    assert torch.equal(twin(x), twin(x))


@pytest.mark.parametrize(
    ("call", "pinned"),
    [
        pytest.param(
            lambda: drop_connect(nn.Linear(2, 2), name="wieght"),
            "drop_connect: `name` must be a parameter of Linear ('weight', 'bias'); "
            "got 'wieght'. Did you mean 'weight'?",
            id="unknown_name",
        ),
        pytest.param(
            lambda: drop_connect(nn.Linear(2, 2), p=1.0),
            "drop_connect: `p` must be a float in [0, 1); got 1.0.",
            id="p_one",
        ),
        pytest.param(
            lambda: drop_connect(nn.Linear(2, 2), name="scale", p=-0.5),
            "drop_connect: `p` must be a float in [0, 1); got -0.5. drop_connect: `name` must "
            "be a parameter of Linear ('weight', 'bias'); got 'scale'.",
            id="all_problems_at_once",
        ),
        pytest.param(
            lambda: drop_connect(nn.Sequential(nn.Linear(2, 2)), name="0.weight"),
            "drop_connect: `name` must be a parameter of Sequential (); got '0.weight'.",
            id="child_parameter",
        ),
        pytest.param(
            lambda: drop_connect("linear"),  # type: ignore[type-var]
            "drop_connect: `module` must be a torch.nn.Module; got 'linear'.",
            id="not_a_module",
        ),
        pytest.param(
            lambda: DropConnectLinear(0, 2, p=1.5),
            "DropConnectLinear: `in_features` must be an integer >= 1; got 0. "
            "DropConnectLinear: `p` must be a float in [0, 1); got 1.5.",
            id="DropConnectLinear",
        ),
        pytest.param(
            lambda: remove_drop_connect(nn.Linear(2, 2)),
            "remove_drop_connect: `name` must be a parameter with DropConnect; got 'weight'.",
            id="remove_without_drop_connect",
        ),
    ],
)
def test_invalid_arguments_are_rejected(call, pinned) -> None:
    with pytest.raises(ConfigError, match=re.escape(pinned)):
        call()


def test_drop_connect_linear_config_round_trip() -> None:
    layer = DropConnectLinear(4, 3, p=0.3, bias=False, generator=_gen(0))
    assert layer.get_config() == {"in_features": 4, "out_features": 3, "p": 0.3, "bias": False}
    rebuilt = deserialize(serialize(layer))
    assert isinstance(rebuilt, DropConnectLinear)
    assert rebuilt.bias is None and rebuilt.p == 0.3 and rebuilt.weight.shape == (3, 4)
    assert repr(rebuilt) == "DropConnectLinear(in_features=4, out_features=3, bias=False, p=0.3)"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("factory", FACTORIES)
def test_cuda_module_with_cpu_generator_matches_cpu(factory) -> None:
    x = torch.randn(4, 5, generator=_gen(1))
    on_cpu = factory(0.5, seed=2)(x)
    layer = factory(0.5, seed=2).cuda()
    on_cuda = layer(x.cuda())
    torch.testing.assert_close(on_cuda.cpu(), on_cpu)
    assert isinstance(layer.weight, nn.Parameter) and layer.weight.is_cuda
