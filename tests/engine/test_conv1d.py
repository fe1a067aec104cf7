"""The 1-D convolutional family on tiny sequences (160 rows of 12 steps × 2 features, two
classes, and a sine forecast).

Contracts: the member-batched conv blocks equal ``torch.nn.Conv1d`` member by member; a member
is bit for bit the same alone and in a stack of different members; the exported ``CNN1d``
loaded with its weights predicts what it predicted; a one-member stack equals ``reglab.fit``
on the exported module; spatial dropout drops whole channels over time; members learn; what
does not apply is refused in one line.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

import reglab
from reglab.engine import MemberSpec, TrainConfig, initial_weights, stream_seeds, train_members
from reglab.engine.conv import ConvBlock, SpatialPlace
from reglab.engine.conv1d import CNN1D_FAMILY, Conv1dArchitecture, sequence_blocks
from reglab.engine.conv_stack import ConvStack, _maps
from reglab.engine.family import family_of
from reglab.engine.spec import Strategy
from reglab.errors import ConfigError
from reglab.layers.cnn import ChannelsFirst, CNN1d
from reglab.study.strategies import parse_strategy

N, T, F = 160, 12, 2
ARCH = Conv1dArchitecture(
    T * F, 2, hidden=(8,), steps=T, features=F, task="multiclass",
    conv=(ConvBlock(6, 3, 2, padding=1), ConvBlock(8, 3, 1)),
)  # fmt: skip
ARCH_BN = dataclasses.replace(ARCH, batch_norm=True)


@pytest.fixture(scope="module")
def waves() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Class 0: slow waves, class 1: fast waves, random phases, noise; flat time-major rows."""
    rng = np.random.default_rng(0)
    y = (np.arange(N) % 2).astype(np.int64)
    t = np.arange(T)[None, :, None]
    freq = np.where(y == 0, 0.4, 1.3)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, size=(N, 1, F))
    x = np.sin(freq * t + phase) + 0.3 * rng.standard_normal((N, T, F))
    return {0: (x.reshape(N, T * F).astype(np.float32), y)}


def _member(strategy: str | Strategy, seed: int, **train: Any) -> MemberSpec:
    idx = np.arange(N)
    config = TrainConfig(**{"epochs": 3, "patience": None, "batch_size": 16, "lr": 1e-2, **train})
    s = parse_strategy(strategy) if isinstance(strategy, str) else strategy
    arch = ARCH_BN if s.batch_norm else ARCH
    return MemberSpec(arch, s, config, idx[:110], idx[110:130], idx[130:], seed=seed)


def test_time_major_rows_become_channels_first_maps() -> None:
    rows = torch.arange(2 * T * F, dtype=torch.float32).view(2, T * F)
    maps = _maps(ARCH, rows)
    expected = torch.from_numpy(rows.numpy().reshape(2, T, F).transpose(0, 2, 1).copy())
    assert maps.shape == (2, F, T) and torch.equal(maps, expected)
    assert torch.equal(ChannelsFirst(T, F)(rows), expected)


def _features(
    params: dict[str, list[torch.Tensor]],
    x: torch.Tensor,
    noise: Any = None,
    places: dict[Any, int] | None = None,
) -> torch.Tensor:
    """The stack's conv blocks alone (what :meth:`ConvStack._features` reads of the stack)."""
    stack = SimpleNamespace(arch=ARCH, activation="relu", place_of=places or {})
    return ConvStack._features(stack, params, x, noise)  # type: ignore[arg-type]


def test_the_stacks_conv_blocks_equal_torch_conv1d_member_by_member() -> None:
    torch.manual_seed(0)
    first = [torch.nn.Conv1d(F, 6, 3, padding=1) for _ in range(3)]  # three members' blocks
    second = [torch.nn.Conv1d(6, 8, 3) for _ in range(3)]
    params = {
        "conv": [torch.stack([m.weight for m in ms]).detach() for ms in (first, second)],
        "conv_bias": [torch.stack([m.bias for m in ms]).detach() for ms in (first, second)],
    }
    x = torch.randn(3, T * F, 5)  # [M, T·F, B] columns, time-major rows
    with torch.no_grad():
        out = _features(params, x)  # [M, 8·4, B]
        for j in range(3):
            rows = x[j].T.reshape(5, T, F).transpose(1, 2)  # [B, F, T]
            y = torch.nn.functional.max_pool1d(torch.relu(first[j](rows)), 2)
            expected = torch.relu(second[j](y)).flatten(1).T
            torch.testing.assert_close(out[j], expected, atol=1e-6, rtol=1e-5)


STACKED = [
    "none",
    "dropout=0.2+l2=1e-3",
    "maxnorm=1+spatial-dropout=0.2",
    "l1=1e-3+dropconnect=0.2",
]


@pytest.fixture(scope="module")
def stacked(waves: Any) -> tuple[list[MemberSpec], list[Any]]:
    specs = [_member(s, seed, epochs=15) for seed, s in enumerate(STACKED, start=11)]
    return specs, train_members(specs, waves, device="cpu")


def test_members_learn_and_export_a_plain_conv1d_network(waves: Any, stacked: Any) -> None:
    x, _ = waves[0]
    specs, results = stacked
    assert family_of(ARCH) is CNN1D_FAMILY and ARCH.layer_sizes == (32, 8, 2)
    for spec, r in zip(specs, results, strict=True):
        assert r.status == "ok", r.error
        assert r.test_scores["accuracy"] > 0.75, (spec.strategy.name, r.test_scores)  # chance 0.5
        module = CNN1D_FAMILY.export(ARCH, spec.strategy)
        assert isinstance(module, CNN1d) and isinstance(module.conv0, torch.nn.Conv1d)
        assert set(module.state_dict()) == set(r.weights)
        module.load_state_dict({k: torch.from_numpy(v) for k, v in r.weights.items()})
        with torch.no_grad():
            logits = module.eval()(torch.from_numpy(x[spec.test_idx]))
        np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), r.test_pred, atol=1e-5)
        assert r.filters is not None and r.filters.shape == (6, F, 1, 3)
    assert results[1].curves["penalty"][-1] > 0  # conv and dense kernels under l2
    conv0 = results[2].weights["conv0.weight"]  # max-norm 1 per filter, over in·k
    assert np.sqrt((conv0**2).sum(axis=(1, 2))).max() <= 1 + 1e-5


@pytest.mark.parametrize("position", [1, 2, 3])
def test_a_member_is_bit_identical_alone_and_stacked(
    waves: Any, stacked: Any, position: int
) -> None:
    specs, together = stacked
    (alone,) = train_members(specs[position : position + 1], waves, device="cpu")
    for name, value in alone.weights.items():
        assert np.array_equal(value, together[position].weights[name]), name
    for name, curve in alone.curves.items():
        assert np.array_equal(curve, together[position].curves[name], equal_nan=True), name
    assert np.array_equal(alone.test_pred, together[position].test_pred)


def test_chunking_and_neighbours_do_not_change_a_member(waves: Any, stacked: Any) -> None:
    specs, together = stacked
    others = [_member("dropout=0.5", 3, epochs=15), specs[2], _member("l2=1e-2", 4, epochs=15)]
    again = train_members(others, waves, device="cpu")
    for name, value in together[2].weights.items():
        assert np.array_equal(value, again[1].weights[name]), name


EQUIVALENT: list[tuple[str, str, dict[str, Any]]] = [
    ("plain", "none", {}),
    ("l2-all-layers", "l2=1e-2", {"penalty_layers": "all"}),
    ("l1-first-conv", "l1=1e-2", {"penalty_layers": "first"}),
    ("max-norm-per-filter", "maxnorm=0.5", {}),
    ("weight-decay", "weight-decay=0.1", {}),
    ("sgd-proximal", "l1=1e-2", {"l1_mode": "proximal", "optimizer": "sgd"}),
    ("batch-norm", "batchnorm+l2=1e-3", {}),
    ("batch-norm-sgd", "batchnorm", {"optimizer": "sgd"}),
]


@pytest.mark.parametrize(
    ("strategy", "fields"), [c[1:] for c in EQUIVALENT], ids=[c[0] for c in EQUIVALENT]
)
def test_one_member_stack_equals_fit(waves: Any, strategy: str, fields: dict[str, Any]) -> None:
    x, y = waves[0]
    fields = dict(fields)
    optimizer = fields.pop("optimizer", "adam")
    s = Strategy.from_dict({**parse_strategy(strategy).to_dict(), **fields})
    spec = _member(s, 5, epochs=3, optimizer=optimizer)
    (result,) = train_members([spec], waves, device="cpu")
    model = CNN1D_FAMILY.export(spec.arch, s)
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
    # A bias that feeds batch norm has a zero gradient in exact arithmetic: Adam scales its
    # rounding noise up to full steps on both sides (docs/architecture.md), so with Adam it
    # and the running mean that follows it are left out, and the losses agree to 1e-2.
    noisy = s.batch_norm and optimizer == "adam"
    feeds_norm = {"conv0.bias", "conv1.bias", "dense0.bias"} if noisy else set()
    feeds_norm |= {f"{b}.running_mean" for b in ("conv_bn0", "conv_bn1", "bn0")} if noisy else set()
    assert {"conv_bn0.running_var", "bn0.weight"} <= set(result.weights) or not s.batch_norm
    for key, value in model.state_dict().items():
        if key not in feeds_norm:
            np.testing.assert_allclose(result.weights[key], value.numpy(), rtol=1e-4, atol=2e-5)
    rtol = 1e-2 if noisy else 1e-4
    np.testing.assert_allclose(result.curves["val_loss"], history.val_loss, rtol=rtol)
    np.testing.assert_allclose(result.curves["penalty"], history.penalty, rtol=1e-4, atol=1e-6)


def test_batch_norm_members_alone_stacked_and_exported(waves: Any) -> None:
    x, _ = waves[0]
    strategies = ["batchnorm", "batchnorm+dropout=0.2", "batchnorm+spatial-dropout=0.2"]
    specs = [_member(s, seed, epochs=10) for seed, s in enumerate(strategies)]
    together = train_members(specs, waves, device="cpu")
    (alone,) = train_members(specs[2:], waves, device="cpu")
    for name, value in alone.weights.items():
        assert np.array_equal(value, together[2].weights[name]), name
    for spec, r in zip(specs, together, strict=True):
        assert r.status == "ok" and r.test_scores["accuracy"] > 0.75, r.test_scores
        module = CNN1D_FAMILY.export(ARCH_BN, spec.strategy)
        assert isinstance(module.conv_bn0, torch.nn.BatchNorm1d)
        module.load_state_dict({k: torch.from_numpy(v) for k, v in r.weights.items()})
        assert r.weights["conv_bn1.running_var"].shape == (8,)
        assert not np.allclose(r.weights["conv_bn0.running_mean"], 0)  # the stats moved
        with torch.no_grad():
            logits = module.eval()(torch.from_numpy(x[spec.test_idx]))
        np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), r.test_pred, atol=1e-5)


def test_spatial_dropout_drops_whole_channels_over_time() -> None:
    places = CNN1D_FAMILY.noise_places([_member("spatial-dropout=0.3", 0)])
    assert places == [SpatialPlace("spatial", 0, (6, 16)), SpatialPlace("spatial", 1, (8, 16))]
    torch.manual_seed(1)
    params = {
        "conv": [torch.randn(1, 6, F, 3), torch.zeros(1, 8, 6, 3)],
        "conv_bias": [torch.zeros(1, 6), torch.zeros(1, 8)],
    }
    params["conv"][1][0, :6, :, 1] = torch.eye(6)  # conv1 copies channel c (c < 6) to c
    mask = torch.tensor([[2.0, 0.0, 2.0, 0.0], [0.0, 2.0, 2.0, 0.0]]).repeat(3, 1)  # [6, B]
    noise = [mask[None], torch.ones(1, 8, 4)]
    places_of = {("spatial", 0): 0, ("spatial", 1): 1}
    x = torch.randn(1, T * F, 4)
    with torch.no_grad():
        clean = _features(params, x).view(8, -1, 4)  # [filters, length, B]
        dropped = _features(params, x, noise, places_of).view(8, -1, 4)
    assert dropped.shape[1] == 4  # 12/2 − 3 + 1
    for c in range(6):
        for b in range(4):  # one value per (row, channel), the same at every time step
            torch.testing.assert_close(dropped[c, :, b], clean[c, :, b] * mask[c, b])
    assert clean[:6].abs().sum() > 0


def test_default_blocks_and_bad_architectures_name_the_field() -> None:
    assert [b.pool for b in sequence_blocks(20)] == [2, 2]
    assert [b.pool for b in sequence_blocks(1)] == [1, 1]
    assert Conv1dArchitecture(20, 1, steps=20, features=1).layer_sizes == (160, 64, 1)
    args: dict[str, Any] = {"in_features": 24, "out_features": 2, "steps": 12, "features": 2}
    cases = [
        ({"in_features": 20}, r"`in_features` must be steps·features = 24; got 20"),
        ({"conv": ((4, 9, 2), (4, 3, 1))},
         r"`conv` block 1 must leave a feature map of at least 1; got 0 \(sequence of 12 steps\)"),
        ({"conv": ((0, 3),)}, r"ConvBlock: `filters` must be an integer >= 1; got 0"),
    ]  # fmt: skip
    for kwargs, match in cases:
        with pytest.raises(ConfigError, match=match):
            Conv1dArchitecture(**{**args, **kwargs})


def test_the_documented_example_runs() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    (block,) = [b for b in blocks if "CNN1D_FAMILY.export" in b]
    namespace: dict[str, Any] = {}
    exec(compile(block, str(doc), "exec"), namespace)
    results = namespace["results"]
    assert [r.status for r in results] == ["ok"] * 3
    assert isinstance(namespace["model"].conv0, torch.nn.Conv1d)
    assert max(r.test_scores["rmse"] for r in results) < 0.5  # the series' spread is ~0.7
