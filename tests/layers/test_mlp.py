"""The MLP builder: block order, per-layer dropout, penalties, configs; and single_model,
the engine member's translation to an MLP."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from torch import nn

from reglab._config import deserialize, serialize
from reglab.engine.export import single_model
from reglab.engine.spec import Architecture, Strategy
from reglab.errors import ConfigError
from reglab.layers import (
    MLP,
    Activation,
    AlphaDropout,
    Dense,
    Dropout,
    GaussianDropout,
    drop_connect_rates,
)
from reglab.regularizers import (
    L1L2,
    L2,
    MaxNorm,
    apply_constraints,
    penalty_breakdown,
    regularization_loss,
)


def _layout(net: nn.Module) -> list[tuple[str, type]]:
    return [(name, type(module)) for name, module in net.named_children()]


@pytest.mark.parametrize(
    ("block_order", "expected"),
    [
        pytest.param(
            "bn-act-drop",
            [
                ("dropout_in", Dropout),
                ("dense0", Dense),
                ("bn0", nn.BatchNorm1d),
                ("act0", Activation),
                ("dropout0", Dropout),
                ("dense1", Dense),
                ("bn1", nn.BatchNorm1d),
                ("act1", Activation),
                ("dropout1", Dropout),
                ("output", Dense),
            ],
            id="bn-act-drop",
        ),
        pytest.param(
            "act-bn-drop",
            [
                ("dropout_in", Dropout),
                ("dense0", Dense),
                ("act0", Activation),
                ("bn0", nn.BatchNorm1d),
                ("dropout0", Dropout),
                ("dense1", Dense),
                ("act1", Activation),
                ("bn1", nn.BatchNorm1d),
                ("dropout1", Dropout),
                ("output", Dense),
            ],
            id="act-bn-drop",
        ),
    ],
)
def test_block_order_gives_the_documented_module_sequence(block_order, expected) -> None:
    net = MLP(
        6,
        2,
        hidden=(5, 4),
        dropout=0.3,
        input_dropout=0.1,
        batch_norm=True,
        block_order=block_order,
    )
    assert _layout(net) == expected
    assert [d.out_features for d in net.dense_layers()] == [5, 4, 2]
    assert [d.in_features for d in net.dense_layers()] == [6, 5, 4]
    assert all(d.activation is None for d in net.dense_layers())  # activations are modules
    assert net.output.kernel_regularizer is None and drop_connect_rates(net.output) == {}


@pytest.mark.parametrize(
    ("block_order", "compute"),
    [
        pytest.param("bn-act-drop", lambda bn, act, h: act(bn(h)), id="bn-act-drop"),
        pytest.param("act-bn-drop", lambda bn, act, h: bn(act(h)), id="act-bn-drop"),
    ],
)
def test_forward_applies_the_block_order(block_order, compute) -> None:
    torch.manual_seed(0)
    net = MLP(3, 2, hidden=(4,), activation="tanh", batch_norm=True, block_order=block_order)
    with torch.no_grad():  # give batch norm non-trivial statistics and affine parameters
        net.bn0.running_mean.uniform_(-1, 1)
        net.bn0.running_var.uniform_(0.5, 2)
        net.bn0.weight.uniform_(0.5, 2)
        net.bn0.bias.uniform_(-1, 1)
    net.eval()
    x = torch.randn(5, 3)
    bn = net.bn0
    expected = net.output(
        compute(bn, torch.tanh, nn.functional.linear(x, net.dense0.weight, net.dense0.bias))
    )
    torch.testing.assert_close(net(x), expected)


def test_eval_forward_matches_a_numpy_oracle() -> None:
    torch.manual_seed(1)
    net = MLP(4, 3, hidden=(6, 5), activation="relu", dropout=0.5, input_dropout=0.2).double()
    x = np.random.default_rng(0).normal(size=(7, 4))
    h = x
    for dense in net.dense_layers()[:-1]:
        h = np.maximum(h @ dense.weight.detach().numpy().T + dense.bias.detach().numpy(), 0)
    out = h @ net.output.weight.detach().numpy().T + net.output.bias.detach().numpy()
    np.testing.assert_allclose(net.eval()(torch.from_numpy(x)).detach().numpy(), out, rtol=1e-12)


def test_optional_modules_are_left_out_and_hidden_may_be_empty() -> None:
    assert _layout(MLP(3, 1, hidden=(4,))) == [
        ("dense0", Dense),
        ("act0", Activation),
        ("output", Dense),
    ]
    linear = MLP(3, 1, hidden=(), input_dropout=0.5)
    assert _layout(linear) == [("dropout_in", Dropout), ("output", Dense)]


def test_per_layer_dropout_rates_including_the_input() -> None:
    net = MLP(5, 2, hidden=(8, 8, 8), dropout=(0.1, 0.0, 0.3), input_dropout=0.2)
    rates = {name: m.p for name, m in net.named_children() if isinstance(m, Dropout)}
    assert rates == {"dropout_in": 0.2, "dropout0": 0.1, "dropout2": 0.3}
    assert net.dropout == (0.1, 0.0, 0.3)


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        pytest.param("standard", Dropout, id="standard"),
        pytest.param("gaussian", GaussianDropout, id="gaussian"),
        pytest.param("alpha", AlphaDropout, id="alpha"),
    ],
)
def test_dropout_kind_picks_the_layer_for_input_and_hidden(kind, cls) -> None:
    net = MLP(3, 1, hidden=(4,), dropout=0.2, input_dropout=0.1, dropout_kind=kind)
    assert type(net.dropout_in) is cls and type(net.dropout0) is cls
    assert (net.dropout_in.p, net.dropout0.p) == (0.1, 0.2)


def test_penalties_go_on_hidden_kernels_unless_the_output_is_asked_for() -> None:
    reg = L2(0.01)
    net = MLP(3, 2, hidden=(4, 5), kernel_regularizer=reg, batch_norm=True)
    assert list(penalty_breakdown(net)) == ["dense0.weight", "dense1.weight"]
    expected = 0.01 * sum((d.weight.detach() ** 2).sum() for d in net.dense_layers()[:-1])
    torch.testing.assert_close(regularization_loss(net), expected)
    with_output = MLP(3, 2, hidden=(4, 5), kernel_regularizer=reg, regularize_output=True)
    assert list(penalty_breakdown(with_output)) == [
        "dense0.weight",
        "dense1.weight",
        "output.weight",
    ]
    per_layer = MLP(3, 2, hidden=(4, 5), kernel_regularizer=[reg, None, L2(0.5)])
    assert [d.kernel_regularizer for d in per_layer.dense_layers()] == [reg, None, L2(0.5)]


def test_kernel_constraint_on_every_kernel_and_drop_connect_on_hidden_kernels() -> None:
    net = MLP(3, 2, hidden=(4, 5), kernel_constraint=MaxNorm(0.5), drop_connect=0.25)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(20)
    assert apply_constraints(net) == ["dense0.weight", "dense1.weight", "output.weight"]
    for dense in net.dense_layers():
        assert (dense.weight.detach().norm(dim=1) <= 0.5 + 1e-6).all()
    assert [drop_connect_rates(d) for d in net.dense_layers()] == [
        {"weight": 0.25},
        {"weight": 0.25},
        {},
    ]


def test_generator_makes_training_forwards_reproducible() -> None:
    def build(seed: int) -> MLP:
        torch.manual_seed(0)
        net = MLP(
            4,
            2,
            hidden=(8,),
            dropout=0.5,
            input_dropout=0.2,
            drop_connect=0.3,
            generator=torch.Generator().manual_seed(seed),
        )
        return net

    x = torch.randn(6, 4)
    state = torch.get_rng_state()
    first = build(3)(x)
    torch.set_rng_state(state)
    assert torch.equal(build(3)(x), first)
    assert not torch.equal(build(4)(x), first)


# (strategy, expected per-Dense kernel regularizers: hidden..., output)
REG = L1L2(l1=1e-3, l2=1e-4, mode="proximal")
PENALTY_CASES = [
    pytest.param(Strategy(), [None, None, None], id="none"),
    pytest.param(Strategy(l1=1e-3, l2=1e-4, l1_mode="proximal"), [REG, REG, None], id="hidden"),
    pytest.param(
        Strategy(l1=1e-3, l2=1e-4, l1_mode="proximal", penalty_layers="all"),
        [REG, REG, REG],
        id="all",
    ),
    pytest.param(
        Strategy(l1=1e-3, l2=1e-4, l1_mode="proximal", penalty_layers="first"),
        [REG, None, None],
        id="first",
    ),
    pytest.param(Strategy(l2=1e-3), [L1L2(l2=1e-3)] * 2 + [None], id="l2_only"),
]


@pytest.mark.parametrize(("strategy", "expected"), PENALTY_CASES)
def test_single_model_puts_l1l2_on_the_penalized_layers(strategy, expected) -> None:
    net = single_model(Architecture(5, 3, hidden=(6, 4)), strategy)
    assert [d.kernel_regularizer for d in net.dense_layers()] == expected
    flags = strategy.penalized(3) if strategy.l1 or strategy.l2 else (False,) * 3
    assert [d.kernel_regularizer is not None for d in net.dense_layers()] == list(flags)


def test_single_model_maps_architecture_and_strategy() -> None:
    arch = Architecture(
        7,
        2,
        hidden=(6, 4),
        activation="elu",
        batch_norm=True,
        block_order="act-bn-drop",
        task="binary",
    )
    strategy = Strategy(
        name="mix",
        dropout=(0.1, 0.4),
        input_dropout=0.2,
        dropout_kind="gaussian",
        drop_connect=0.3,
        max_norm=3.0,
        weight_decay=1e-4,
        lr=0.01,
        batch_norm=True,
    )
    net = single_model(arch, strategy)
    assert _layout(net) == [
        ("dropout_in", GaussianDropout),
        ("dense0", Dense),
        ("act0", Activation),
        ("bn0", nn.BatchNorm1d),
        ("dropout0", GaussianDropout),
        ("dense1", Dense),
        ("act1", Activation),
        ("bn1", nn.BatchNorm1d),
        ("dropout1", GaussianDropout),
        ("output", Dense),
    ]
    assert (net.dropout_in.p, net.dropout0.p, net.dropout1.p) == (0.2, 0.1, 0.4)
    assert net.act0.name == "elu"
    assert [d.kernel_constraint for d in net.dense_layers()] == [MaxNorm(3.0)] * 3
    assert [drop_connect_rates(d) for d in net.dense_layers()] == [{"weight": 0.3}] * 2 + [{}]
    assert [d.out_features for d in net.dense_layers()] == [6, 4, 2]


def test_single_model_single_dropout_rate_and_no_max_norm() -> None:
    net = single_model(Architecture(3, 1, hidden=(4, 4)), Strategy(dropout=0.5))
    assert net.dropout == 0.5 and net.dropout1.p == 0.5
    assert all(d.kernel_constraint is None for d in net.dense_layers())
    assert not hasattr(net, "dropout_in")


@pytest.mark.parametrize(
    ("arch", "strategy", "pinned"),
    [
        pytest.param(
            Architecture(3, 1, hidden=(4,)),
            Strategy(name="bn", batch_norm=True),
            "single_model: `arch.batch_norm` must be True for strategy 'bn', which asks for "
            "batch norm; got False.",
            id="batch_norm_not_in_arch",
        ),
        pytest.param(
            Architecture(3, 1, hidden=(4, 4)),
            Strategy(name="d", dropout=(0.1, 0.2, 0.3)),
            "Strategy 'd': `dropout` must have one rate per hidden layer (2); got 3 rates.",
            id="dropout_rates_mismatch",
        ),
    ],
)
def test_single_model_rejects_inconsistent_specs(arch, strategy, pinned) -> None:
    with pytest.raises(ConfigError, match=re.escape(pinned)):
        single_model(arch, strategy)


@pytest.mark.parametrize(
    ("kwargs", "pinned"),
    [
        pytest.param(
            {"hidden": (8, 0)}, "MLP: `hidden` must be an integer >= 1; got 0.", id="zero_units"
        ),
        pytest.param(
            {"hidden": 8},
            "MLP: `hidden` must be a sequence of integers >= 1; got 8.",
            id="int_hidden",
        ),
        pytest.param(
            {"hidden": (8, 8), "dropout": (0.1,)},
            "MLP: `dropout` must be a float or one rate per hidden layer (2); got 1 rates.",
            id="dropout_length",
        ),
        pytest.param(
            {"dropout": 1.0}, "MLP: `dropout` must be a float in [0, 1); got 1.0.", id="dropout_one"
        ),
        pytest.param(
            {"input_dropout": -0.2},
            "MLP: `input_dropout` must be a float in [0, 1); got -0.2.",
            id="input_dropout_negative",
        ),
        pytest.param(
            {"dropout_kind": "gausian"},
            "MLP: `dropout_kind` must be one of 'standard', 'gaussian', 'alpha'; got 'gausian'. "
            "Did you mean 'gaussian'?",
            id="dropout_kind_typo",
        ),
        pytest.param(
            {"block_order": "drop-bn-act"},
            "MLP: `block_order` must be one of 'bn-act-drop', 'act-bn-drop'; got 'drop-bn-act'.",
            id="block_order",
        ),
        pytest.param(
            {"activation": "rellu"},
            "MLP: `activation` must be one of 'relu', 'tanh', 'sigmoid', 'elu', 'selu', 'gelu', "
            "'leaky_relu', 'identity'; got 'rellu'. Did you mean 'relu'?",
            id="activation_typo",
        ),
        pytest.param(
            {"drop_connect": 1.2},
            "MLP: `drop_connect` must be a float in [0, 1); got 1.2.",
            id="drop_connect",
        ),
        pytest.param(
            {"kernel_regularizer": 0.01},
            "MLP: `kernel_regularizer` must be a regularizer, one regularizer or None per Dense "
            "layer, or None; got 0.01.",
            id="number_as_regularizer",
        ),
        pytest.param(
            {"hidden": (4,), "kernel_regularizer": [L2(0.1)]},
            "MLP: `kernel_regularizer` must be one regularizer or None per Dense layer "
            "(2: 1 hidden + output); got 1.",
            id="regularizer_list_length",
        ),
        pytest.param(
            {"hidden": (4,), "kernel_regularizer": [L2(0.1), None], "regularize_output": True},
            "MLP: `regularize_output` must be False when `kernel_regularizer` is a sequence "
            "(it names every layer); got True.",
            id="regularize_output_with_list",
        ),
        pytest.param(
            {"kernel_constraint": 3.0},
            "MLP: `kernel_constraint` must be a constraint or None; got 3.0.",
            id="number_as_constraint",
        ),
        pytest.param(
            {"batch_norm": "yes"}, "MLP: `batch_norm` must be a bool; got 'yes'.", id="batch_norm"
        ),
    ],
)
def test_invalid_arguments_are_rejected(kwargs, pinned) -> None:
    with pytest.raises(ConfigError, match=re.escape(pinned)):
        MLP(3, 2, **kwargs)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        MLP(0, 2, dropout=2.0, block_order="x")
    text = str(info.value)
    for param in ("in_features", "dropout", "block_order"):
        assert f"MLP: `{param}` must be" in text


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {
                "hidden": (6, 5),
                "activation": "selu",
                "dropout": (0.1, 0.2),
                "input_dropout": 0.05,
                "dropout_kind": "alpha",
                "drop_connect": 0.2,
                "batch_norm": True,
                "block_order": "act-bn-drop",
                "kernel_regularizer": L1L2(l1=1e-3, l2=1e-2, mode="proximal"),
                "kernel_constraint": MaxNorm(2.0),
                "regularize_output": True,
            },
            id="everything",
        ),
        pytest.param(
            {"hidden": (6,), "kernel_regularizer": [None, L2(0.3)]}, id="per_layer_regularizers"
        ),
    ],
)
def test_config_round_trips_through_json(kwargs) -> None:
    torch.manual_seed(0)
    net = MLP(4, 3, **kwargs, generator=torch.Generator())
    data = json.loads(json.dumps(serialize(net)))
    assert data["class_name"] == "MLP" and "generator" not in data["config"]
    rebuilt = deserialize(data)
    assert isinstance(rebuilt, MLP)
    assert rebuilt.get_config() == net.get_config()
    assert _layout(rebuilt) == _layout(net)
    assert [d.kernel_regularizer for d in rebuilt.dense_layers()] == [
        d.kernel_regularizer for d in net.dense_layers()
    ]
    rebuilt.load_state_dict(net.state_dict())
    x = torch.randn(5, 4)
    torch.testing.assert_close(rebuilt.eval()(x), net.eval()(x))


def test_training_with_penalty_and_constraint_fits_and_respects_the_bound() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(128, 4, generator=gen)
    y = (x[:, 0] - 2 * x[:, 1] > 0).long()
    torch.manual_seed(0)
    net = MLP(
        4,
        2,
        hidden=(16,),
        dropout=0.1,
        kernel_regularizer=L2(1e-4),
        kernel_constraint=MaxNorm(2.0),
        drop_connect=0.1,
        generator=gen,
    )
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y) + regularization_loss(net)
        loss.backward()
        opt.step()
        apply_constraints(net)
    net.eval()
    accuracy = (net(x).argmax(dim=1) == y).float().mean().item()
    assert accuracy > 0.9
    for dense in net.dense_layers():
        assert (dense.weight.detach().norm(dim=1) <= 2.0 + 1e-5).all()
