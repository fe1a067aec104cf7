"""Attaching penalties to any model: selection, shared parameters, activity losses, training."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from reglab.errors import ConfigError
from reglab.regularizers import (
    L1,
    L1L2,
    L2,
    ElasticNet,
    MaxNorm,
    add_constraint,
    add_regularizer,
    clear_regularizers,
    iter_regularized,
    penalty_breakdown,
    regularization_loss,
)


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3), nn.LayerNorm(3)
    )


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.fc = nn.Linear(8, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Linear(2, 1)
        self.embed = nn.Embedding(5, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))


SELECTIONS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("default", {}, ["encoder.conv.weight", "encoder.fc.weight", "head.weight"]),
    (
        "include-bias",
        {"include_bias": True},
        [
            "encoder.conv.weight",
            "encoder.conv.bias",
            "encoder.fc.weight",
            "encoder.fc.bias",
            "head.weight",
            "head.bias",
        ],
    ),
    ("by-type", {"modules": nn.Conv2d}, ["encoder.conv.weight"]),
    ("by-type-tuple", {"modules": (nn.Linear,)}, ["encoder.fc.weight", "head.weight"]),
    ("by-name", {"names": "encoder.*.weight"}, ["encoder.conv.weight", "encoder.fc.weight"]),
    ("by-name-and-type", {"names": "encoder.*", "modules": nn.Linear}, ["encoder.fc.weight"]),
    ("bias-by-name", {"names": "*.bias"}, ["encoder.conv.bias", "encoder.fc.bias", "head.bias"]),
    ("any-module", {"modules": None}, ["encoder.conv.weight", "encoder.fc.weight", "head.weight",
                                       "embed.weight"]),
    ("norm-named", {"modules": None, "names": "encoder.bn.*"},
     ["encoder.bn.weight", "encoder.bn.bias"]),
    ("norm-weight-named", {"modules": nn.BatchNorm2d, "names": "encoder.bn.weight"},
     ["encoder.bn.weight"]),
    ("wildcard-skips-norm", {"modules": None, "names": "encoder.*.weight"},
     ["encoder.conv.weight", "encoder.fc.weight"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "expected"), [s[1:] for s in SELECTIONS], ids=[s[0] for s in SELECTIONS]
)
def test_selection(kwargs: dict[str, Any], expected: list[str]) -> None:
    net = Net()
    assert add_regularizer(net, L2(0.1), **kwargs) == expected
    assert [name for name, _, _ in iter_regularized(net)] == expected
    want = sum(0.1 * p.pow(2).sum() for n, p in net.named_parameters() if n in expected)
    torch.testing.assert_close(regularization_loss(net), want)


def test_protocol_attributes_hold_own_parameter_names() -> None:
    net = Net()
    reg = L1(0.01)
    add_regularizer(net, reg, include_bias=True)
    assert net.encoder.fc._reglab_regularizers == {"weight": reg, "bias": reg}
    assert not hasattr(net.encoder.bn, "_reglab_regularizers")
    add_constraint(net, MaxNorm(2.0), names="head.weight")
    assert net.head._reglab_constraints == {"weight": MaxNorm(2.0)}


def test_batchnorm_and_biases_excluded_by_default_in_a_plain_mlp() -> None:
    net = mlp()
    assert add_regularizer(net, L2(0.01)) == ["0.weight", "3.weight"]
    assert add_regularizer(net, L2(0.01), modules=None) == ["0.weight", "3.weight"]


def test_penalty_of_pretrained_sequential_after_load_state_dict() -> None:
    """A 'pretrained' model: weights loaded from a state dict, penalties attached afterwards."""
    source = nn.Sequential(
        nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU()), nn.Flatten(), nn.Linear(6, 2)
    )
    state = copy.deepcopy(source.state_dict())
    target = nn.Sequential(
        nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU()), nn.Flatten(), nn.Linear(6, 2)
    )
    target.load_state_dict(state)
    assert add_regularizer(target, L1(0.5), names="0.*") == ["0.0.weight"]
    torch.testing.assert_close(regularization_loss(target), 0.5 * state["0.0.weight"].abs().sum())
    target(torch.randn(4, 2, 4)).sum().backward()  # still an ordinary model


def test_attaching_again_replaces() -> None:
    net = mlp()
    add_regularizer(net, L1(1.0))
    add_regularizer(net, L2(0.5), names="0.weight")
    assert net[0]._reglab_regularizers == {"weight": L2(0.5)}
    expected = 0.5 * net[0].weight.pow(2).sum() + net[3].weight.abs().sum()
    torch.testing.assert_close(regularization_loss(net), expected)
    clear_regularizers(net)
    assert regularization_loss(net).item() == 0.0


def test_reused_module_is_counted_once() -> None:
    torch.manual_seed(0)
    shared = nn.Linear(3, 3)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    assert add_regularizer(net, L2(1.0)) == ["0.weight"]
    torch.testing.assert_close(regularization_loss(net), shared.weight.pow(2).sum())


def test_tied_parameter_is_counted_once() -> None:
    torch.manual_seed(0)
    enc, dec = nn.Linear(4, 4, bias=False), nn.Linear(4, 4, bias=False)
    dec.weight = enc.weight  # weight tying
    net = nn.ModuleDict({"enc": enc, "dec": dec})
    assert add_regularizer(net, L1(1.0)) == ["enc.weight"]
    assert add_regularizer(net, L1(1.0), names="dec.weight") == ["dec.weight"]
    torch.testing.assert_close(regularization_loss(net), enc.weight.abs().sum())
    assert list(penalty_breakdown(net)) == ["enc.weight"]


class Activity(nn.Module):
    """A layer honoring the activity protocol: last training forward's penalty ÷ batch size."""

    def __init__(self, l1: float, n_in: int = 3, n_out: int = 2) -> None:
        super().__init__()
        self.lin = nn.Linear(n_in, n_out)
        self.l1 = l1
        self.activity_loss: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        out = self.lin(x)
        self.activity_loss = self.l1 * out.abs().sum() / x.shape[0] if self.training else None
        return out


def test_activity_losses_are_added_and_broken_down() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(Activity(0.1), nn.ReLU(), Activity(0.2, n_in=2))
    add_regularizer(net, L2(0.01))
    x = torch.randn(8, 3)
    h = net[0].lin(x)
    out = net[2].lin(torch.relu(h))
    net(x)
    parts = penalty_breakdown(net)
    assert list(parts) == ["0.lin.weight", "2.lin.weight", "0.activity_loss", "2.activity_loss"]
    torch.testing.assert_close(parts["0.activity_loss"], 0.1 * h.abs().sum() / 8)
    torch.testing.assert_close(parts["2.activity_loss"], 0.2 * out.abs().sum() / 8)
    torch.testing.assert_close(regularization_loss(net), sum(parts.values()))
    # gradient flows to the layer's weights through the activity term
    net.zero_grad()
    parts["0.activity_loss"].backward()
    assert net[0].lin.weight.grad is not None and net[0].lin.weight.grad.abs().sum() > 0


def test_activity_loss_none_in_eval_contributes_nothing() -> None:
    net = nn.Sequential(Activity(0.1)).eval()
    net(torch.randn(2, 3))
    assert penalty_breakdown(net) == {}
    assert regularization_loss(net).item() == 0.0


def test_penalty_gradient_equals_regularizer_grad() -> None:
    net = mlp().double()
    reg = ElasticNet(alpha=0.3, l1_ratio=0.4)
    add_regularizer(net, reg)
    regularization_loss(net).backward()
    for layer in (net[0], net[3]):
        torch.testing.assert_close(layer.weight.grad, reg.grad(layer.weight.detach()))
        assert layer.bias.grad is None


def test_keras_l2_with_sgd_equals_sgd_weight_decay_two_lambda() -> None:
    """Keras L2(λ) through the loss == torch SGD(weight_decay=2λ) on the weights, each step."""
    lam, lr = 0.05, 0.1
    a = mlp().double()
    b = copy.deepcopy(a)
    add_regularizer(a, L2(lam))
    opt_a = torch.optim.SGD(a.parameters(), lr=lr)
    decayed = [a_.weight for a_ in (b[0], b[3])]
    rest = [p for p in b.parameters() if all(p is not d for d in decayed)]
    opt_b = torch.optim.SGD(
        [{"params": decayed, "weight_decay": 2 * lam}, {"params": rest, "weight_decay": 0.0}],
        lr=lr,
    )
    gen = torch.Generator().manual_seed(0)
    for _ in range(25):
        x = torch.randn(16, 4, generator=gen, dtype=torch.float64)
        y = torch.randn(16, 3, generator=gen, dtype=torch.float64)
        for model, opt, penalty in ((a, opt_a, True), (b, opt_b, False)):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            if penalty:
                loss = loss + regularization_loss(model)
            loss.backward()
            opt.step()
        for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
            torch.testing.assert_close(pa, pb, rtol=1e-10, atol=1e-12, msg=name)
    assert (a[0].weight - mlp()[0].weight.double()).abs().max() > 0.01  # it did train


def test_empty_model_gives_zero_on_its_device_and_dtype() -> None:
    net = nn.Linear(2, 2).double()
    loss = regularization_loss(net)
    assert loss.dtype == torch.float64 and loss.item() == 0.0
    assert regularization_loss(nn.ReLU()).item() == 0.0


BAD: list[tuple[str, dict[str, Any], str]] = [
    (
        "names-typo",
        {"names": "0.wieght"},
        r"^add_regularizer: `names` must be a pattern matching at least one selectable "
        r"parameter; got '0\.wieght'\. Did you mean '0\.weight'\? \(Biases",
    ),
    (
        "names-only-norm",
        {"names": "1.*"},
        r"^add_regularizer: `names` must be a pattern matching at least one selectable "
        r"parameter; got '1\.\*'\.",
    ),
    (
        "modules-none-match",
        {"modules": nn.Conv2d},
        r"^add_regularizer: `modules` must be types selecting at least one parameter; "
        r"got \('Conv2d',\)\. Parameters: 0\.weight, 0\.bias, 1\.weight",
    ),
    (
        "modules-not-a-type",
        {"modules": "Linear"},
        r"^add_regularizer: `modules` must be an nn\.Module subclass, a tuple of them, or None; "
        r"got 'Linear'\.$",
    ),
    (
        "names-not-str",
        {"names": 3},
        r"^add_regularizer: `names` must be a non-empty fnmatch pattern \(str\) or None; got 3\.$",
    ),
    (
        "include-bias-not-bool",
        {"include_bias": "yes"},
        r"^add_regularizer: `include_bias` must be a bool; got 'yes'\.$",
    ),
]


@pytest.mark.parametrize(("kwargs", "pattern"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_selection_messages(kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        add_regularizer(mlp(), L1L2(0.1), **kwargs)


def test_bad_objects() -> None:
    with pytest.raises(ConfigError, match=r"^add_regularizer: `regularizer` must be a Regularizer"):
        add_regularizer(mlp(), 0.01)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^add_constraint: `constraint` must be a Constraint"):
        add_constraint(mlp(), L2(0.1))  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError, match=r"^add_regularizer: `model` must be a torch\.nn\.Module; got 'dict'\.$"
    ):
        add_regularizer({}, L2(0.1))  # type: ignore[arg-type]


def test_plain_callables_in_the_protocol_are_penalties_only() -> None:
    """Layers may hold any callable penalty; it is summed, and never thresholded."""
    net = nn.Linear(2, 2, bias=False)
    net._reglab_regularizers = {"weight": lambda w: 3.0 * w.sum()}  # type: ignore[assignment]
    torch.testing.assert_close(regularization_loss(net), 3.0 * net.weight.sum())
    from reglab.regularizers import proximal_step

    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    assert proximal_step(net, opt) == []


def test_reglab_dense_layers_are_selected_and_summed() -> None:
    layers = pytest.importorskip("reglab.layers")
    net = nn.Sequential(
        layers.Dense(3, 4, activation="relu", kernel_regularizer=L1(0.1)), layers.Dense(4, 1)
    )
    assert add_regularizer(net, L2(0.2), names="1.*") == ["1.weight"]
    expected = 0.1 * net[0].weight.abs().sum() + 0.2 * net[1].weight.pow(2).sum()
    torch.testing.assert_close(regularization_loss(net), expected)
