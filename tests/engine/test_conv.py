"""The convolutional family on real images: the first 300 MNIST test digits, 14×14.

Contracts: a member is bit for bit the same alone and in a stack of different members (also
with two threads); the exported ``CNN`` loaded with its weights predicts what it predicted;
a one-member stack equals ``reglab.fit`` on the exported module; it learns.
"""

from __future__ import annotations

import dataclasses
import gzip
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import reglab
from reglab.engine import MemberSpec, TrainConfig, initial_weights, stream_seeds, train_members
from reglab.engine.conv import CNN_FAMILY, ConvArchitecture, ConvBlock, SpatialPlace
from reglab.engine.conv_stack import ConvStack
from reglab.engine.family import family_of
from reglab.engine.plan import member_bytes
from reglab.engine.spec import Architecture, Strategy
from reglab.errors import ConfigError
from reglab.study.strategies import parse_strategy

from .conftest import SHARED_DATA

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
N = 300
ARCH = ConvArchitecture(
    196, 10, hidden=(32,), height=14, width=14, conv=(ConvBlock(6, 3, 2), ConvBlock(12, 3, 2))
)


def _idx(name: str, header: int) -> np.ndarray:
    with gzip.open(SHARED_DATA / name) as f:
        return np.frombuffer(f.read(), dtype=np.uint8)[header:]


@pytest.fixture(scope="module")
def mnist() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The first 300 test digits, 2×2-averaged to 14×14, in [0, 1], flat channel-major."""
    images = _idx("mnist-t10k-images-idx3-ubyte.gz", 16)[: N * 784].reshape(N, 14, 2, 14, 2)
    x = (images.astype(np.float32).mean((2, 4)) / 255.0).reshape(N, 196)
    y = _idx("mnist-t10k-labels-idx1-ubyte.gz", 8)[:N].astype(np.int64)
    return {0: (x, y)}


def _member(strategy: str, seed: int, *, epochs: int = 3, **train: Any) -> MemberSpec:
    idx = np.arange(N)
    config = TrainConfig(epochs=epochs, patience=None, batch_size=32, lr=1e-2, **train)
    return MemberSpec(
        ARCH, parse_strategy(strategy), config, idx[:200], idx[200:240], idx[240:], seed=seed
    )


STACKED = [
    "none",
    "dropout=0.2+l2=1e-3",
    "maxnorm=1+spatial-dropout=0.2",
    "l1=1e-3+dropconnect=0.2+activity-l2=1e-4",
]


@pytest.fixture(scope="module")
def stacked(mnist: Any) -> tuple[list[MemberSpec], list[Any]]:
    specs = [_member(s, seed, epochs=10) for seed, s in enumerate(STACKED, start=11)]
    return specs, train_members(specs, mnist, device="cpu")


def test_members_learn_and_export(mnist: Any, stacked: Any) -> None:
    x, _ = mnist[0]
    specs, results = stacked
    assert family_of(ARCH) is CNN_FAMILY and ARCH.layer_sizes == (48, 32, 10)
    for spec, r in zip(specs, results, strict=True):
        assert r.status == "ok", r.error
        assert r.test_scores["accuracy"] > 0.5, (spec.strategy.name, r.test_scores)  # chance 0.1
        module = CNN_FAMILY.export(ARCH, spec.strategy)
        assert set(module.state_dict()) == set(r.weights)
        module.load_state_dict({k: torch.from_numpy(v) for k, v in r.weights.items()})
        with torch.no_grad():
            logits = module.eval()(torch.from_numpy(x[spec.test_idx]))
        np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), r.test_pred, atol=1e-5)
    assert results[1].curves["penalty"][-1] > 0  # conv and dense kernels under l2
    for r in results:  # the report's filters: conv0's first (here all 6), best weights
        assert r.filters is not None and r.filters.dtype == np.float32
        assert np.array_equal(r.filters, r.weights["conv0.weight"][:6].astype(np.float32))


@pytest.mark.parametrize("position", [1, 2, 3])
def test_a_member_is_bit_identical_alone_and_stacked(
    mnist: Any, stacked: Any, position: int
) -> None:
    specs, together = stacked
    (alone,) = train_members(specs[position : position + 1], mnist, device="cpu")
    for name, value in alone.weights.items():
        assert np.array_equal(value, together[position].weights[name]), name
    for name, curve in alone.curves.items():
        assert np.array_equal(curve, together[position].curves[name], equal_nan=True), name
    assert np.array_equal(alone.test_pred, together[position].test_pred)
    assert np.array_equal(alone.filters, together[position].filters)


def test_threads_do_not_change_a_members_bits(mnist: Any) -> None:
    specs = [_member(s, seed, epochs=1) for seed, s in enumerate(["none", "l2=1e-3", "none"])]
    together = train_members(specs, mnist, device="cpu", num_threads=2)
    (alone,) = train_members(specs[1:2], mnist, device="cpu", num_threads=1)
    for name, value in alone.weights.items():
        assert np.array_equal(value, together[1].weights[name]), name


EQUIVALENT: list[tuple[str, str, dict[str, Any]]] = [
    ("plain", "none", {}),
    ("l2-all-layers", "l2=1e-2", {"penalty_layers": "all"}),
    ("l1-first-conv", "l1=1e-2", {"penalty_layers": "first"}),
    ("max-norm-per-filter", "maxnorm=0.5", {}),
    ("weight-decay", "weight-decay=0.1", {}),
    ("sgd-proximal", "l1=1e-2", {"l1_mode": "proximal", "optimizer": "sgd"}),
]


@pytest.mark.parametrize(
    ("strategy", "fields"), [c[1:] for c in EQUIVALENT], ids=[c[0] for c in EQUIVALENT]
)
def test_one_member_stack_equals_fit(mnist: Any, strategy: str, fields: dict[str, Any]) -> None:
    x, y = mnist[0]
    fields = dict(fields)
    optimizer = fields.pop("optimizer", "adam")
    base = parse_strategy(strategy)
    s = Strategy.from_dict({**base.to_dict(), **fields})
    spec = _member("none", 5, epochs=2, optimizer=optimizer)
    spec = MemberSpec(ARCH, s, spec.train, spec.train_idx, spec.val_idx, spec.test_idx, seed=5)
    (result,) = train_members([spec], mnist, device="cpu")
    model = CNN_FAMILY.export(ARCH, s)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in initial_weights(spec).items()})
    history = reglab.fit(
        model,
        x[spec.train_idx],
        y[spec.train_idx],
        task="multiclass",
        optimizer=optimizer,
        lr=spec.lr,
        weight_decay=s.weight_decay,
        epochs=spec.train.epochs,
        batch_size=spec.train.batch_size,
        validation_data=(x[spec.val_idx], y[spec.val_idx]),
        device="cpu",
        seed=stream_seeds(spec.seed)["order"],
    )
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(result.weights[key], value.numpy(), rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(result.curves["val_loss"], history.val_loss, rtol=1e-4)
    np.testing.assert_allclose(result.curves["penalty"], history.penalty, rtol=1e-4, atol=1e-6)


def test_layout_initialization_and_memory() -> None:
    layout = CNN_FAMILY.layout(ARCH)
    names = [(b.name, b.kind, b.shape) for b in layout.blocks if b.kind.startswith("conv")]
    assert names == [
        ("conv0.weight", "conv", (6, 1, 3, 3)),
        ("conv0.bias", "conv_bias", (6,)),
        ("conv1.weight", "conv", (12, 6, 3, 3)),
        ("conv1.bias", "conv_bias", (12,)),
    ]
    weights = initial_weights(_member("none", 3))
    bound = 1 / np.sqrt(6 * 9)  # nn.Conv2d's default: U(±1/√(in·k·k))
    assert 0.9 * bound < np.abs(weights["conv1.weight"]).max() <= bound
    lenet = ConvArchitecture(784, 10)
    assert lenet.layer_sizes == (400, 120, 84, 10)
    spec = _member("none", 0)
    dense = MemberSpec(Architecture(196, 10, hidden=(32,)), spec.strategy, spec.train,
                       spec.train_idx, spec.val_idx, spec.test_idx)  # fmt: skip
    assert member_bytes(spec) > member_bytes(dense)
    places = CNN_FAMILY.noise_places([_member("spatial-dropout=0.3", 0)])
    assert places == [SpatialPlace("spatial", 0, (6, 32)), SpatialPlace("spatial", 1, (12, 32))]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"in_features": 100}, r"`in_features` must be channels·height·width = 196; got 100"),
        (
            {"conv": ((6, 5, 4), (8, 3, 2))},
            r"`conv` block 1 must leave a feature map of at least 1×1; got 0×0 \(image 14×14\)",
        ),
        ({"conv": ((0, 3),)}, r"ConvBlock: `filters` must be an integer >= 1; got 0"),
    ],
    ids=["pixels", "too-small", "bad-block"],
)
def test_bad_architectures_name_the_field(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"in_features": 196, "out_features": 10, "height": 14, "width": 14}
    with pytest.raises(ConfigError, match=match):
        ConvArchitecture(**{**args, **kwargs})


def test_the_documented_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    (block,) = [b for b in blocks if "CNN_FAMILY.export" in b]
    namespace: dict[str, Any] = {}
    exec(compile(block, str(DOC), "exec"), namespace)
    results = namespace["results"]
    assert [r.status for r in results] == ["ok"] * 4
    assert min(r.test_scores["accuracy"] for r in results) > 0.5  # chance 0.1


def test_spatial_dropout_zeroes_whole_feature_maps(mnist: Any) -> None:
    x, _ = mnist[0]
    spec = _member("spatial-dropout=0.5", 0)
    layout = CNN_FAMILY.layout(ARCH)
    params = layout.stack([layout.initial(np.random.default_rng(0))], "cpu")
    places = CNN_FAMILY.noise_places([spec])
    table = torch.zeros(N, 196 + 10)
    stack = ConvStack([spec], layout, table, params, places, None, keep_best=False)
    views = stack.by_kind_views(layout.views(stack.theta, 1))
    h = stack.columns(torch.from_numpy(x[:32].T.copy())[None])
    keep = [torch.ones(1, 6, 32), torch.ones(1, 12, 32)]
    dropped = [keep[0], keep[1].clone()]
    dropped[1][0, 3, 5] = 0.0  # row 5's map 3 of the last block: its 2×2 features
    with torch.no_grad():
        a, b = stack._features(views, h, keep), stack._features(views, h, dropped)
    changed = (a != b).nonzero().tolist()
    assert changed
    assert [c[1:] for c in changed] == [[f, 5] for f in range(12, 16) if a[0, f, 5] != 0]
    assert torch.all(b[0, 12:16, 5] == 0)


def test_spatial_dropout_on_an_mlp_member_is_refused() -> None:
    idx = np.arange(40)
    x = np.zeros((40, 4), dtype=np.float32)
    y = (np.arange(40) % 2).astype(np.int64)
    spec = MemberSpec(
        Architecture(4, 2, hidden=(4,)), parse_strategy("spatial-dropout=0.2"),
        TrainConfig(epochs=1, patience=None), idx[:30], idx[:0], idx[30:],
    )  # fmt: skip
    with pytest.raises(ConfigError, match="acts on cnn or cnn1d members only"):
        train_members([spec], {0: (x, y)}, device="cpu")


def test_batch_norm_in_conv_blocks_trains_like_torch_and_exports(mnist: Any) -> None:
    x, y = mnist[0]
    arch = dataclasses.replace(ARCH, batch_norm=True)
    s = parse_strategy("batchnorm+spatial-dropout=0.1")
    base = _member("none", 7, epochs=2, optimizer="sgd")
    spec = MemberSpec(arch, s, base.train, base.train_idx, base.val_idx, base.test_idx, seed=7)
    (result,) = train_members([spec], mnist, device="cpu")
    module = CNN_FAMILY.export(arch, s)
    assert isinstance(module.conv_bn0, torch.nn.BatchNorm2d)
    assert "conv_bn1" in dict(module.named_children())
    module.load_state_dict({k: torch.from_numpy(v) for k, v in result.weights.items()})
    with torch.no_grad():
        logits = module.eval()(torch.from_numpy(x[spec.test_idx]))
    np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), result.test_pred, atol=1e-5)
    plain = parse_strategy("batchnorm")  # noise-free: reglab.fit gives the same weights
    spec = MemberSpec(arch, plain, base.train, base.train_idx, base.val_idx, base.test_idx, seed=7)
    (result,) = train_members([spec], mnist, device="cpu")
    model = CNN_FAMILY.export(arch, plain)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in initial_weights(spec).items()})
    reglab.fit(model, x[spec.train_idx], y[spec.train_idx], task="multiclass", optimizer="sgd",
               lr=spec.lr, epochs=2, batch_size=32, device="cpu",
               seed=stream_seeds(spec.seed)["order"])  # fmt: skip
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(result.weights[key], value.numpy(), rtol=1e-4, atol=2e-5)
