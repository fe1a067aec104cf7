"""Batch norm with SWA, Lookahead and snapshot ensembles: the statistics recomputed for
averaged or slow weights equal a hand computation and ``reglab.optim.update_batchnorm`` on
the single model trained by reglab.fit; each snapshot keeps its own statistics; members are
bit for bit the same alone and stacked; the exported model predicts what the member did."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

import reglab
from reglab.engine import MemberSpec, initial_weights, stream_seeds, train_members
from reglab.engine.export import member_module, single_model
from reglab.errors import ConfigError
from reglab.optim import Lookahead, SnapshotCycles, recomputed_batchnorm, update_batchnorm
from reglab.study.strategies import parse_strategy

from .conftest import data_for, member

# Dense → activation → batch norm: no bias feeds batch norm directly, so its gradient is not
# rounding noise that Adam would scale up, and the single model follows the member closely.
BN = {"batch_norm": True, "block_order": "act-bn-drop"}


def _spec(
    text: str, *, seed: int = 3, hidden: tuple[int, ...] = (6, 5), **train: Any
) -> MemberSpec:
    spec = member(seed=seed, hidden=hidden, arch=BN, train={"epochs": 4, **train})
    return dataclasses.replace(spec, strategy=parse_strategy(f"batchnorm+{text}"))


def _model(spec: MemberSpec, weights: dict[str, np.ndarray] | None = None) -> Any:
    model = single_model(spec.arch, spec.strategy)
    state = initial_weights(spec) if weights is None else weights
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    return model


def _fit(spec: MemberSpec, x: np.ndarray, y: np.ndarray, factory: Any) -> Any:
    model = _model(spec)
    reglab.fit(
        model, x[spec.train_idx], y[spec.train_idx], task="multiclass", optimizer=factory,
        lr=spec.lr, epochs=spec.train.epochs, batch_size=spec.train.batch_size,
        validation_data=(x[spec.val_idx], y[spec.val_idx]), device="cpu",
        seed=stream_seeds(spec.seed)["order"],
    )  # fmt: skip
    return model


def _stats(weights: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in weights.items() if ".running_" in k}


def test_the_recomputed_statistics_equal_a_hand_computation() -> None:
    # swa=1 over one epoch: the average is the epoch's weights, whose statistics come from
    # one pass over the 54 training rows in order: batches of 16, 16, 16 and 6.
    spec = _spec("swa=1", hidden=(4, 3), epochs=1)
    (x, y), = data_for("multiclass").values()  # fmt: skip
    (result,) = train_members([spec], {0: (x, y)}, device="cpu")
    assert result.status == "ok", result.error
    w = {k: np.asarray(v, dtype=np.float64) for k, v in result.weights.items()}
    rows = x[spec.train_idx].astype(np.float64)
    means: list[list[np.ndarray]] = [[], []]
    variances: list[list[np.ndarray]] = [[], []]
    for start in range(0, len(rows), 16):
        h = rows[start : start + 16]
        for layer in range(2):  # Dense → ReLU → batch norm with the batch's statistics
            a = np.maximum(h @ w[f"dense{layer}.weight"].T + w[f"dense{layer}.bias"], 0.0)
            mu, var = a.mean(0), a.var(0)
            means[layer].append(mu)
            variances[layer].append(a.var(0, ddof=1))
            gamma, beta = w[f"bn{layer}.weight"], w[f"bn{layer}.bias"]
            h = (a - mu) / np.sqrt(var + 1e-5) * gamma + beta
    assert len(means[0]) == 4
    for layer in range(2):
        np.testing.assert_allclose(
            result.weights[f"bn{layer}.running_mean"],
            np.mean(means[layer], 0),
            rtol=1e-5,
            atol=1e-6,
        )
        np.testing.assert_allclose(
            result.weights[f"bn{layer}.running_var"],
            np.mean(variances[layer], 0),
            rtol=1e-5,
            atol=1e-6,
        )


def test_update_batchnorm_equals_torch_update_bn_without_dropout() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(),
                              torch.nn.Linear(4, 2), torch.nn.BatchNorm1d(2))  # fmt: skip
    x = torch.randn(23, 3)
    ours = {k: v.clone() for k, v in net.state_dict().items()}
    update_batchnorm(net, x, batch_size=5)
    mine = {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(ours)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=5)
    torch.optim.swa_utils.update_bn(loader, net)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(mine[k], v, msg=k)
    assert not torch.equal(mine["1.running_mean"], ours["1.running_mean"])
    assert net.training  # its mode is left as it was


def test_update_batchnorm_refuses_no_batches_and_keeps_the_statistics() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(ConfigError, match=r"update_batchnorm: `batches` must be at least one"):
        update_batchnorm(net, [])
    with pytest.raises(ConfigError, match=r"`batch_size` must be a whole number ≥ 1; got 0"):
        update_batchnorm(net, np.zeros((4, 3), np.float32), batch_size=0)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_a_lookahead_member_equals_fit_then_update_batchnorm_on_the_slow_weights() -> None:
    # 54 rows in batches of 16: 4 steps an epoch; k = 4 synchronizes at every epoch's end.
    spec = _spec("lookahead=4:0.6", lr=2e-2)
    data = data_for("multiclass")
    x, y = data[0]
    (result,) = train_members([spec], data, device="cpu")
    assert result.status == "ok", result.error
    made: list[Lookahead] = []

    def factory(groups: Any, lr: float) -> Lookahead:
        made.append(Lookahead(torch.optim.Adam(groups, lr=lr), k=4, alpha=0.6))
        return made[0]

    model = _fit(spec, x, y, factory)
    fast_stats = {k: v.clone() for k, v in model.state_dict().items() if ".running_" in k}
    made[0].load_slow_weights()
    update_batchnorm(model, x[spec.train_idx], batch_size=16)
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):  # a counter evaluation does not read
            continue
        np.testing.assert_allclose(result.weights[key], value, rtol=1e-4, atol=2e-5, err_msg=key)
    for key, fast in fast_stats.items():  # the slow weights' statistics, not the fast ones'
        assert not np.allclose(result.weights[key], fast.numpy(), atol=1e-4), key
    with torch.no_grad():
        out = model.eval()(torch.as_tensor(x[spec.test_idx])).softmax(1).numpy()
    np.testing.assert_allclose(result.test_pred, out, rtol=1e-4, atol=1e-4)


def test_an_swa_member_is_the_average_with_statistics_recomputed_for_it() -> None:
    start, epochs = 2, 4
    spec = _spec(f"swa={start}", epochs=epochs)
    data = data_for("multiclass")
    x, _ = data[0]
    (averaged,) = train_members([spec], data, device="cpu")
    plain = dataclasses.replace(spec, strategy=parse_strategy("batchnorm"))
    runs = [dataclasses.replace(plain, train=dataclasses.replace(plain.train, epochs=t))
            for t in range(start, epochs + 1)]  # fmt: skip
    iterates = [
        train_members([run], data, device="cpu", backend="generic")[0].weights for run in runs
    ]
    hand = {k: np.mean([w[k] for w in iterates], axis=0) for k in iterates[0]}
    model = _model(spec, hand)
    update_batchnorm(model, x[spec.train_idx], batch_size=16)
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        np.testing.assert_allclose(averaged.weights[key], value, rtol=1e-5, atol=1e-6, err_msg=key)
    stale = _stats(iterates[-1])  # the iterate's own statistics differ
    assert any(not np.allclose(averaged.weights[k], v, atol=1e-4) for k, v in stale.items())
    # training itself is unchanged: the iterate keeps its own running statistics
    assert averaged.curves["train_loss"] == train_members(
        [dataclasses.replace(plain, train=dataclasses.replace(plain.train, epochs=epochs))],
        data, device="cpu", backend="generic")[0].curves["train_loss"]  # fmt: skip


def test_a_snapshot_member_keeps_each_snapshots_statistics_and_exports_them() -> None:
    # 5 epochs of 4 steps: T = 20, K = 3 cycles of 7 steps, snapshots after steps 7, 14, 20.
    spec = _spec("snapshot=3", epochs=5, lr=2e-2)
    data = data_for("multiclass")
    x, y = data[0]
    (result,) = train_members([spec], data, device="cpu")
    assert result.status == "ok", result.error
    made: list[SnapshotCycles] = []

    def factory(groups: Any, lr: float) -> SnapshotCycles:
        made.append(SnapshotCycles(torch.optim.Adam(groups, lr=lr), total_steps=20, cycles=3,
                                   model=holder[0]))  # fmt: skip
        return made[0]

    holder = [_model(spec)]
    model = holder[0]
    reglab.fit(
        model, x[spec.train_idx], y[spec.train_idx], task="multiclass", optimizer=factory,
        lr=spec.lr, epochs=5, batch_size=16, validation_data=(x[spec.val_idx], y[spec.val_idx]),
        device="cpu", seed=stream_seeds(spec.seed)["order"],
    )  # fmt: skip
    expected = made[0].ensemble(model, "multiclass").state_dict()
    assert set(result.weights) == set(expected)
    for key, value in expected.items():
        if not key.endswith("num_batches_tracked"):
            np.testing.assert_allclose(
                result.weights[key], value, rtol=1e-4, atol=2e-5, err_msg=key
            )
    assert not np.allclose(result.weights["snapshots.0.bn0.running_mean"],
                           result.weights["bn0.running_mean"], atol=1e-3)  # fmt: skip
    module = member_module(spec.arch, spec.strategy)
    module.load_state_dict({k: torch.as_tensor(v) for k, v in result.weights.items()})
    with torch.no_grad():
        out = module.eval()(torch.as_tensor(x[spec.test_idx])).softmax(1).numpy()
    np.testing.assert_allclose(result.test_pred, out, rtol=1e-5, atol=1e-5)


def test_members_are_bit_identical_alone_and_stacked() -> None:
    data = data_for("multiclass")
    specs = [
        _spec("swa=2", seed=0),
        _spec("lookahead=3:0.5", seed=1, patience=1),
        _spec("snapshot=2", seed=2),
        _spec("swa=1+dropout=0.2", seed=3, epochs=5),
        _spec("dropout=0.1", seed=4),
        _spec("lookahead=3:0.5+swa=2", seed=6),
    ]
    short = specs[0]  # fewer training rows: other batch counts in the recomputation pass
    specs.append(dataclasses.replace(short, train_idx=short.train_idx[:37], seed=5))
    stacked = train_members(specs, data, device="cpu", backend="generic")
    for spec, together in zip(specs, stacked, strict=True):
        assert together.status == "ok", together.error
        (alone,) = train_members([spec], data, device="cpu", backend="generic")
        assert alone.curves == together.curves, spec.strategy.name
        assert np.array_equal(alone.test_pred, together.test_pred), spec.strategy.name
        for k, v in alone.weights.items():
            assert np.array_equal(v, together.weights[k]), (spec.strategy.name, k)


def test_the_exported_model_file_carries_the_recomputed_statistics(tmp_path: Any) -> None:
    spec = _spec("swa=2")
    data = data_for("multiclass")
    x, _ = data[0]
    (result,) = train_members([spec], data, device="cpu")
    module = member_module(spec.arch, spec.strategy)
    module.load_state_dict({k: torch.as_tensor(v) for k, v in result.weights.items()})
    path = tmp_path / "member.pt"
    torch.save(module.state_dict(), path)
    loaded = member_module(spec.arch, spec.strategy)
    loaded.load_state_dict(torch.load(path, weights_only=True))
    with torch.no_grad():
        out = loaded.eval()(torch.as_tensor(x[spec.test_idx])).softmax(1).numpy()
    np.testing.assert_allclose(result.test_pred, out, rtol=1e-5, atol=1e-6)


def _family_specs(kind: str) -> list[MemberSpec]:
    from reglab.engine import TrainConfig
    from reglab.engine.conv import ConvArchitecture, ConvBlock
    from reglab.engine.residual import ResidualArchitecture

    if kind == "residual":
        arch: Any = ResidualArchitecture(5, 3, hidden=(6, 6), batch_norm=True)
        texts = ["residual+batchnorm+swa=2", "residual+batchnorm+lookahead=3:0.5",
                 "residual+batchnorm+snapshot=2", "residual+shake-drop=0.5+batchnorm+swa=2",
                 "residual+batchnorm"]  # fmt: skip
    else:  # a 5-feature row as a 1×5 image: conv blocks with batch norm too
        arch = ConvArchitecture(25, 3, hidden=(6,), height=5, width=5, batch_norm=True,
                                conv=(ConvBlock(2, 3, 1, 1),))  # fmt: skip
        texts = ["batchnorm+swa=2", "batchnorm+lookahead=3:0.5", "batchnorm+snapshot=2",
                 "batchnorm+dropout=0.2+swa=3", "batchnorm"]  # fmt: skip
    base = member(seed=0, d=arch.in_features)
    cfg = TrainConfig(epochs=4, batch_size=16, patience=None)
    return [
        MemberSpec(
            arch,
            parse_strategy(t),
            cfg,
            base.train_idx,
            base.val_idx,
            base.test_idx,
            seed=i if i < len(texts) - 1 else 0,
        )
        for i, t in enumerate(texts)
    ]


@pytest.mark.parametrize("kind", ["residual", "cnn"])
def test_other_families_recompute_statistics_bit_identically_alone_and_stacked(kind: str) -> None:
    specs = _family_specs(kind)
    data = data_for("multiclass", d=specs[0].arch.in_features)
    stacked = train_members(specs, data, device="cpu")
    plain = stacked[-1]
    for spec, together in zip(specs, stacked, strict=True):
        assert together.status == "ok", together.error
        (alone,) = train_members([spec], data, device="cpu")
        assert np.array_equal(alone.test_pred, together.test_pred), spec.strategy.name
        for k, v in alone.weights.items():
            assert np.array_equal(v, together.weights[k]), (spec.strategy.name, k)
    for spec, result in zip(specs, stacked, strict=True):  # update_batchnorm on the export
        if not any(c.key == "swa" for c in spec.strategy.techniques):
            continue
        module = member_module(spec.arch, spec.strategy)
        module.load_state_dict({k: torch.as_tensor(v) for k, v in result.weights.items()})
        update_batchnorm(module, data[0][0][spec.train_idx], batch_size=16)
        for k, v in module.state_dict().items():
            if ".running_" in k:
                np.testing.assert_allclose(result.weights[k], v, rtol=1e-4, atol=1e-5, err_msg=k)
    swa = stacked[0]  # same seed as the plain member: same iterate, recomputed statistics
    stats = [k for k in swa.weights if k.endswith("running_mean")]
    assert len(stats) == 2  # residual: two blocks; cnn: one conv block and one dense layer
    assert all(not np.allclose(swa.weights[k], plain.weights[k], atol=1e-4) for k in stats)


def test_recomputed_batchnorm_restores_the_models_own_statistics() -> None:
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    net.train()(torch.randn(16, 3) * 3 + 1)  # some running statistics of its own
    own = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(20, 3)
    with recomputed_batchnorm(net, x, batch_size=10):
        inside = {k: v.clone() for k, v in net.state_dict().items()}
    update_batchnorm(net, x, batch_size=10)
    for k, v in net.state_dict().items():
        assert torch.equal(inside[k], v), k
    net.load_state_dict(own)
    with recomputed_batchnorm(net, x, batch_size=10):
        pass
    for k, v in net.state_dict().items():
        assert torch.equal(own[k], v), k
    assert not torch.equal(inside["1.running_mean"], own["1.running_mean"])
