"""Dense: nn.Linear layout, activations by name, and the regularizer-slot protocol."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from scipy.special import expit, ndtr
from torch import nn

from reglab._config import deserialize, serialize
from reglab.errors import ConfigError
from reglab.layers import ACTIVATIONS, Activation, Dense, get_activation
from reglab.regularizers import (
    L1,
    L1L2,
    L2,
    MaxNorm,
    NonNeg,
    add_regularizer,
    apply_constraints,
    clear_regularizers,
    penalty_breakdown,
    regularization_loss,
)

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

ORACLES = {
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": expit,
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
    "gelu": lambda x: x * ndtr(x),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "identity": lambda x: x,
    None: lambda x: x,
}


def test_every_activation_has_an_oracle() -> None:
    assert set(ACTIVATIONS) | {None} == set(ORACLES)


@pytest.mark.parametrize("name", list(ORACLES), ids=str)
def test_dense_is_linear_then_activation(name) -> None:
    torch.manual_seed(0)
    layer = Dense(4, 3, activation=name).double()
    x = torch.randn(6, 4, dtype=torch.float64)
    pre = x.numpy() @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
    np.testing.assert_allclose(layer(x).detach().numpy(), ORACLES[name](pre), rtol=1e-12)
    np.testing.assert_allclose(
        Activation(name or "identity")(torch.from_numpy(pre)).numpy(), ORACLES[name](pre)
    )


def test_dense_is_interchangeable_with_nn_linear() -> None:
    linear = nn.Linear(5, 2)
    layer = Dense(5, 2)
    assert isinstance(layer, nn.Linear)
    assert layer.weight.shape == (2, 5)  # torch layout [out, in]
    layer.load_state_dict(linear.state_dict())
    x = torch.randn(3, 5)
    torch.testing.assert_close(layer(x), linear(x))
    assert list(Dense(5, 2, use_bias=False).state_dict()) == ["weight"]


def test_changing_the_activation_after_construction() -> None:
    layer = Dense(2, 2, activation="relu")
    layer.activation = "tanh"
    x = torch.randn(3, 2)
    torch.testing.assert_close(
        layer(x), torch.tanh(nn.functional.linear(x, layer.weight, layer.bias))
    )
    with pytest.raises(ConfigError, match=re.escape("got 'tahn'. Did you mean 'tanh'?")):
        layer.activation = "tahn"
    assert layer.activation == "tanh"


def test_regularizer_and_constraint_slots_follow_the_protocol() -> None:
    kernel, bias, maxnorm, nonneg = L2(0.01), L1(0.1), MaxNorm(1.0), NonNeg()
    layer = Dense(
        3,
        4,
        kernel_regularizer=kernel,
        bias_regularizer=bias,
        kernel_constraint=maxnorm,
        bias_constraint=nonneg,
    )
    assert layer._reglab_regularizers == {"weight": kernel, "bias": bias}
    assert layer._reglab_constraints == {"weight": maxnorm, "bias": nonneg}
    assert Dense(3, 4)._reglab_regularizers == {} and Dense(3, 4)._reglab_constraints == {}
    w, b = layer.weight.detach(), layer.bias.detach()
    expected = 0.01 * (w**2).sum() + 0.1 * b.abs().sum()
    torch.testing.assert_close(regularization_loss(layer), expected)
    with torch.no_grad():
        layer.weight.mul_(10.0)
        layer.bias.fill_(-1.0)
    assert sorted(apply_constraints(layer)) == ["bias", "weight"]
    row_norms = layer.weight.detach().norm(dim=1)  # one norm per output unit
    assert (row_norms <= 1.0 + 1e-6).all()
    assert torch.equal(layer.bias.detach(), torch.zeros(4))


def test_slots_stay_in_sync_with_attach_functions() -> None:
    net = nn.Sequential(Dense(3, 4, kernel_regularizer=L2(0.5)), Dense(4, 1))
    clear_regularizers(net)
    assert net[0].kernel_regularizer is None and net[0].get_config()["kernel_regularizer"] is None
    add_regularizer(net, L1(0.2))
    assert net[1].kernel_regularizer == L1(0.2)
    assert net[1].get_config()["kernel_regularizer"] == serialize(L1(0.2))
    net[1].kernel_regularizer = None
    assert list(penalty_breakdown(net)) == ["0.weight"]


@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_activity_loss_is_penalty_of_output_over_batch_size(activation) -> None:
    torch.manual_seed(1)
    layer = Dense(3, 4, activation=activation, activity_regularizer=L1(0.5))
    x = torch.randn(8, 3)
    out = layer(x)
    torch.testing.assert_close(layer.activity_loss, 0.5 * out.abs().sum() / 8)
    assert layer.activity_loss.dim() == 0
    torch.testing.assert_close(regularization_loss(layer), layer.activity_loss)
    layer.eval()
    layer(x)
    assert layer.activity_loss is None
    assert Dense(3, 4).train()(x) is not None and Dense(3, 4).activity_loss is None


def test_activity_loss_gradient_reaches_the_weights() -> None:
    layer = Dense(3, 2, activity_regularizer=L2(1.0))
    out = layer(torch.ones(4, 3))
    layer.activity_loss.backward()
    expected = 2.0 * out.detach().T @ torch.ones(4, 3) / 4  # d(Σy²/B)/dW
    torch.testing.assert_close(layer.weight.grad, expected)


def test_any_callable_works_as_a_regularizer() -> None:
    layer = Dense(2, 2, kernel_regularizer=lambda w: w.abs().max())
    torch.testing.assert_close(regularization_loss(layer), layer.weight.detach().abs().max())


@pytest.mark.parametrize(
    ("kwargs", "pinned"),
    [
        pytest.param(
            {"activation": "rleu"},
            "Dense: `activation` must be one of 'relu', 'tanh', 'sigmoid', 'elu', 'selu', "
            "'gelu', 'leaky_relu', 'identity'; got 'rleu'. Did you mean 'relu'?",
            id="unknown_activation",
        ),
        pytest.param(
            {"kernel_regularizer": 0.01},
            "Dense: `kernel_regularizer` must be a regularizer (e.g. L2(0.01)) or None; got 0.01.",
            id="number_as_regularizer",
        ),
        pytest.param(
            {"kernel_constraint": "max_norm"},
            "Dense: `kernel_constraint` must be a constraint or None; got 'max_norm'.",
            id="string_as_constraint",
        ),
        pytest.param(
            {"use_bias": False, "bias_regularizer": L2(0.5)},
            "Dense: `bias_regularizer` must be None when `use_bias` is False; got L2(l2=0.5).",
            id="bias_regularizer_without_bias",
        ),
        pytest.param(
            {"use_bias": False, "bias_constraint": NonNeg()},
            "Dense: `bias_constraint` must be None when `use_bias` is False; got NonNeg().",
            id="bias_constraint_without_bias",
        ),
        pytest.param(
            {"activity_regularizer": "l1"},
            "Dense: `activity_regularizer` must be a regularizer or None; got 'l1'.",
            id="string_as_activity_regularizer",
        ),
        pytest.param(
            {"use_bias": 1},
            "Dense: `use_bias` must be a bool; got 1.",
            id="use_bias_not_bool",
        ),
    ],
)
def test_invalid_arguments_are_rejected(kwargs, pinned) -> None:
    with pytest.raises(ConfigError, match=re.escape(pinned)):
        Dense(3, 2, **kwargs)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        Dense(0, -1, activation="soft")
    text = str(info.value)
    assert "`in_features` must be an integer >= 1; got 0." in text
    assert "`out_features` must be an integer >= 1; got -1." in text
    assert "`activation` must be one of" in text


def test_get_activation_maps_none_to_identity_and_rejects_unknown_names() -> None:
    x = torch.randn(3)
    assert torch.equal(get_activation(None)(x), x)
    with pytest.raises(ConfigError, match=re.escape("Activation: `name` must be one of")):
        Activation("softmax")


def test_config_round_trips_through_json_with_nested_objects() -> None:
    layer = Dense(
        3,
        2,
        activation="selu",
        use_bias=True,
        kernel_regularizer=L1L2(l1=0.01, l2=0.02, mode="proximal"),
        activity_regularizer=L2(0.1),
        kernel_constraint=MaxNorm(2.0),
        bias_constraint=NonNeg(),
    )
    data = json.loads(json.dumps(serialize(layer)))
    assert data["class_name"] == "Dense"
    rebuilt = deserialize(data)
    assert isinstance(rebuilt, Dense)
    assert rebuilt.get_config() == layer.get_config()
    assert rebuilt.kernel_regularizer == L1L2(l1=0.01, l2=0.02, mode="proximal")
    assert rebuilt._reglab_constraints == {"weight": MaxNorm(2.0), "bias": NonNeg()}
    assert rebuilt.activity_regularizer == L2(0.1)
    assert "activation=selu" in repr(rebuilt) and "kernel_constraint=MaxNorm" in repr(rebuilt)
