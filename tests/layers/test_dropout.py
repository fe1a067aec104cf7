"""The dropout-family contract, run over every layer, plus each layer's own statistics."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from reglab._config import deserialize, serialize
from reglab.errors import ConfigError, DataError
from reglab.layers import (
    AlphaDropout,
    Dropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1d,
    SpatialDropout2d,
)

# (class, name of the strength parameter, a training input shape)
LAYERS = [
    pytest.param(Dropout, "p", (64, 50), id="Dropout"),
    pytest.param(GaussianDropout, "p", (64, 50), id="GaussianDropout"),
    pytest.param(AlphaDropout, "p", (64, 50), id="AlphaDropout"),
    pytest.param(GaussianNoise, "stddev", (64, 50), id="GaussianNoise"),
    pytest.param(SpatialDropout1d, "p", (16, 20, 7), id="SpatialDropout1d"),
    pytest.param(SpatialDropout2d, "p", (8, 20, 3, 4), id="SpatialDropout2d"),
]
RATE_LAYERS = [p for p in LAYERS if p.values[1] == "p"]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _input(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=_gen(seed))


@pytest.mark.parametrize(("cls", "param", "shape"), LAYERS)
def test_identity_in_eval_mode(cls, param, shape) -> None:
    layer = cls(**{param: 0.5}).eval()
    x = _input(shape)
    assert torch.equal(layer(x), x)


@pytest.mark.parametrize(("cls", "param", "shape"), LAYERS)
def test_zero_strength_is_identity_in_training(cls, param, shape) -> None:
    layer = cls(**{param: 0.0}).train()
    x = _input(shape)
    assert torch.equal(layer(x), x)


@pytest.mark.parametrize(("cls", "param", "shape"), LAYERS)
def test_training_mode_perturbs_and_keeps_shape_and_dtype(cls, param, shape) -> None:
    layer = cls(**{param: 0.3}, generator=_gen(1))
    x = _input(shape).double()
    y = layer(x)
    assert y.shape == x.shape and y.dtype == torch.float64
    assert not torch.equal(y, x)


@pytest.mark.parametrize(("cls", "param", "shape"), LAYERS)
def test_generator_gives_reproducible_noise_without_touching_global_rng(cls, param, shape) -> None:
    x = _input(shape)
    torch.manual_seed(123)
    global_state = torch.get_rng_state()
    first = cls(**{param: 0.4}, generator=_gen(7))(x)
    assert torch.equal(torch.get_rng_state(), global_state)
    assert torch.equal(first, cls(**{param: 0.4}, generator=_gen(7))(x))
    assert not torch.equal(first, cls(**{param: 0.4}, generator=_gen(8))(x))


@pytest.mark.parametrize(("cls", "param", "shape"), LAYERS)
def test_default_generator_follows_torch_manual_seed(cls, param, shape) -> None:
    layer, x = cls(**{param: 0.4}), _input(shape)
    torch.manual_seed(5)
    first = layer(x)
    torch.manual_seed(5)
    assert torch.equal(layer(x), first)
    assert not torch.equal(layer(x), first)


@pytest.mark.parametrize(("cls", "param", "shape"), LAYERS)
@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "0.5", None, True], ids=repr)
def test_invalid_strength_is_rejected_with_the_standard_message(cls, param, shape, bad) -> None:
    expected = "a float in [0, 1)" if param == "p" else "a finite float >= 0"
    pinned = f"{cls.__name__}: `{param}` must be {expected}; got {bad!r}."
    with pytest.raises(ConfigError, match=re.escape(pinned)):
        cls(**{param: bad})


@pytest.mark.parametrize(("cls", "param", "shape"), RATE_LAYERS)
@pytest.mark.parametrize("bad", [1, 1.0, 1.5], ids=repr)
def test_rate_of_one_or_more_is_rejected(cls, param, shape, bad) -> None:
    pinned = f"{cls.__name__}: `p` must be a float in [0, 1); got {bad!r}."
    with pytest.raises(ConfigError, match=re.escape(pinned)):
        cls(p=bad)


def test_dropout_message_is_the_documented_one() -> None:
    with pytest.raises(
        ConfigError, match=r"^Dropout: `p` must be a float in \[0, 1\); got 1\.5\.$"
    ):
        Dropout(1.5)


@pytest.mark.parametrize(("cls", "param", "shape"), LAYERS)
def test_config_round_trips_through_json(cls, param, shape) -> None:
    layer = cls(**{param: 0.25}, generator=_gen(0))
    config = layer.get_config()
    assert config == {param: 0.25}  # the generator is runtime state, not configuration
    rebuilt = deserialize(json.loads(json.dumps(serialize(layer))))
    assert type(rebuilt) is cls and getattr(rebuilt, param) == 0.25
    assert rebuilt.generator is None
    assert repr(rebuilt) == f"{cls.__name__}({param}=0.25)"


@pytest.mark.parametrize(("cls", "param", "shape"), LAYERS)
def test_gradient_flows_through_the_noise(cls, param, shape) -> None:
    x = _input(shape).requires_grad_(True)
    y = cls(**{param: 0.3}, generator=_gen(2))(x)
    y.sum().backward()
    assert x.grad is not None
    if cls is GaussianNoise:
        torch.testing.assert_close(x.grad, torch.ones_like(x))
    elif cls is not AlphaDropout:  # multiplicative noise: dy/dx = y/x
        torch.testing.assert_close(x.grad * x.detach(), y.detach())


# (class, shape, number of independent noise draws per sample of the shape)
MULTIPLICATIVE = [
    pytest.param(Dropout, (400, 250), 400 * 250, id="Dropout"),
    pytest.param(GaussianDropout, (400, 250), 400 * 250, id="GaussianDropout"),
    pytest.param(SpatialDropout1d, (200, 100, 5), 200 * 100, id="SpatialDropout1d"),
    pytest.param(SpatialDropout2d, (100, 200, 2, 3), 100 * 200, id="SpatialDropout2d"),
]


@pytest.mark.parametrize(("cls", "shape", "draws"), MULTIPLICATIVE)
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_mean_is_preserved(cls, shape, draws, p) -> None:
    y = cls(p, generator=_gen(11))(torch.ones(shape, dtype=torch.float64))
    # each independent multiplier has mean 1 and variance p/(1−p)
    assert y.mean().item() == pytest.approx(1.0, abs=5 * math.sqrt(p / (1 - p) / draws))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest(p) -> None:
    n = 100_000
    y = Dropout(p, generator=_gen(3))(torch.ones(n, dtype=torch.float64))
    zeroed = (y == 0).double().mean().item()
    assert zeroed == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / n))
    np.testing.assert_allclose(y[y != 0].numpy(), 1.0 / (1.0 - p))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_gaussian_dropout_variance_is_p_over_one_minus_p(p) -> None:
    n = 100_000
    y = GaussianDropout(p, generator=_gen(4))(torch.ones(n, dtype=torch.float64))
    var = p / (1 - p)
    # the sample variance of a normal has standard deviation var·sqrt(2/(n−1))
    assert y.var().item() == pytest.approx(var, abs=5 * var * math.sqrt(2 / (n - 1)))


@pytest.mark.parametrize("stddev", [0.1, 1.0, 3.0])
def test_gaussian_noise_adds_zero_mean_noise_of_the_given_stddev(stddev) -> None:
    n = 100_000
    x = _input((n,), seed=9).double()
    noise = GaussianNoise(stddev, generator=_gen(5))(x) - x
    assert noise.mean().item() == pytest.approx(0.0, abs=5 * stddev / math.sqrt(n))
    assert noise.std().item() == pytest.approx(stddev, rel=5 * math.sqrt(1 / (2 * (n - 1))))


@pytest.mark.parametrize("p", [0.05, 0.1, 0.2, 0.5])
def test_alpha_dropout_keeps_selu_statistics(p) -> None:
    n = 200_000
    x = torch.randn(n, generator=_gen(6), dtype=torch.float64)  # the SELU fixed point N(0, 1)
    y = AlphaDropout(p, generator=_gen(7))(x)
    assert y.mean().item() == pytest.approx(0.0, abs=5 / math.sqrt(n))
    assert y.var().item() == pytest.approx(1.0, abs=0.02)
    # a dropped unit goes to a·α' + b (Keras), a fraction p of them
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - p) * (1 + p * alpha_p**2)) ** -0.5
    dropped = ((y - (a * alpha_p - a * alpha_p * p)).abs() < 1e-12).double().mean().item()
    assert dropped == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / n))


@pytest.mark.parametrize(
    ("cls", "shape"),
    [
        pytest.param(SpatialDropout1d, (32, 40, 9), id="SpatialDropout1d"),
        pytest.param(SpatialDropout2d, (16, 40, 3, 5), id="SpatialDropout2d"),
    ],
)
def test_spatial_dropout_drops_whole_channels(cls, shape) -> None:
    p = 0.5
    x = _input(shape).abs() + 0.1  # nonzero everywhere
    y = cls(p, generator=_gen(8))(x)
    ratio = (y / x).flatten(2)  # [B, C, positions]: one multiplier per channel
    torch.testing.assert_close(ratio.amax(-1), ratio.amin(-1))
    multipliers = ratio[..., 0]
    assert set(torch.unique(multipliers.round(decimals=5)).tolist()) == {0.0, 2.0}
    zeroed = (multipliers == 0).double().mean().item()
    n = multipliers.numel()
    assert zeroed == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / n))


@pytest.mark.parametrize(
    ("cls", "shape", "pinned"),
    [
        pytest.param(
            SpatialDropout1d,
            (4, 5),
            "SpatialDropout1d: `input` must be a 3-d tensor [batch, channels, length]; "
            "got a tensor of shape (4, 5).",
            id="1d_given_2d",
        ),
        pytest.param(
            SpatialDropout2d,
            (2, 3, 4),
            "SpatialDropout2d: `input` must be a 4-d tensor [batch, channels, height, width]; "
            "got a tensor of shape (2, 3, 4).",
            id="2d_given_3d",
        ),
    ],
)
def test_spatial_dropout_rejects_wrong_rank(cls, shape, pinned) -> None:
    with pytest.raises(DataError, match=re.escape(pinned)):
        cls(0.5)(torch.ones(shape))


def test_layers_are_interchangeable_with_torch_modules() -> None:
    net = nn.Sequential(nn.Linear(3, 4), Dropout(0.5), nn.ReLU(), nn.Linear(4, 1))
    assert list(net.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert repr(net[1]) == "Dropout(p=0.5)"
    net.eval()
    x = _input((5, 3))
    torch.testing.assert_close(net(x), net[3](torch.relu(net[0](x))))


@pytest.mark.parametrize(("cls", "param", "shape"), LAYERS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_low_precision_inputs_keep_their_dtype(cls, param, shape, dtype) -> None:
    y = cls(**{param: 0.5}, generator=_gen(0))(torch.ones(shape, dtype=dtype))
    assert y.dtype == dtype and torch.isfinite(y).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(("cls", "param", "shape"), LAYERS)
def test_cpu_generator_gives_the_same_noise_on_cuda(cls, param, shape) -> None:
    x = _input(shape)
    on_cpu = cls(**{param: 0.4}, generator=_gen(3))(x)
    on_cuda = cls(**{param: 0.4}, generator=_gen(3))(x.cuda())
    assert on_cuda.device.type == "cuda"
    torch.testing.assert_close(on_cuda.cpu(), on_cpu)
    default = cls(**{param: 0.4})(x.cuda())  # torch's default CUDA generator
    assert default.device.type == "cuda"
