"""Lookahead and snapshot ensembles as registry techniques: a one-member stack equals the
single-model form trained by reglab.fit; members are bit for bit the same alone and stacked;
the engine's learning rates follow the snapshot formula; the stored snapshots' mean is the
member's prediction; bad strengths are refused in one line."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

import reglab
from reglab.engine import MemberSpec, initial_weights, stream_seeds, train_members
from reglab.engine.export import member_module, single_model
from reglab.engine.layout import StackLayout
from reglab.engine.trajectory import Trajectory
from reglab.errors import ConfigError
from reglab.optim import Lookahead, SnapshotCycles
from reglab.study.strategies import parse_strategy
from reglab.study.tune_space import parse_space

from .conftest import data_for, member


def _spec(text: str, *, task: str = "multiclass", seed: int = 7, **options: Any) -> MemberSpec:
    spec = member(task=task, seed=seed, **options)
    return dataclasses.replace(spec, strategy=parse_strategy(text))


def _fit(spec: MemberSpec, x: np.ndarray, y: np.ndarray, factory: Any) -> tuple[Any, np.ndarray]:
    """The member's single model trained by reglab.fit with the optimizer ``factory``."""
    model = single_model(spec.arch, spec.strategy)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in initial_weights(spec).items()})
    y = np.asarray(y)
    scale = np.array([0.0, 1.0])
    if spec.arch.task == "regression":
        scale = np.array([y[spec.train_idx].mean(), y[spec.train_idx].std()])
        y = (y - scale[0]) / scale[1]
    reglab.fit(
        model, x[spec.train_idx], y[spec.train_idx], task=spec.arch.task, optimizer=factory,
        lr=spec.lr, epochs=spec.train.epochs, batch_size=spec.train.batch_size,
        validation_data=(x[spec.val_idx], y[spec.val_idx]), device="cpu",
        seed=stream_seeds(spec.seed)["order"],
    )  # fmt: skip
    return model, scale


def _probabilities(out: torch.Tensor, task: str, scale: np.ndarray) -> np.ndarray:
    z = out.detach().numpy().astype(np.float64)
    if task == "multiclass":
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
    if task == "binary":
        p1 = 1 / (1 + np.exp(-z[:, 0]))
        return np.stack([1 - p1, p1], axis=1)
    return z[:, 0] * scale[1] + scale[0]


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_a_lookahead_member_equals_fit_with_reglab_optim_lookahead(task: str) -> None:
    # 54 training rows in batches of 16: 4 steps an epoch, 14 in all; k = 5 leaves the last
    # four steps after the last synchronization, so the stored weights are the slow ones.
    spec = _spec("lookahead=5:0.6", task=task, train={"epochs": 4}, lr=2e-2)
    data = data_for(task)
    x, y = data[0]
    (result,) = train_members([spec], data, device="cpu")
    assert result.status == "ok", result.error
    made: list[Lookahead] = []

    def factory(groups: Any, lr: float) -> Lookahead:
        made.append(Lookahead(torch.optim.Adam(groups, lr=lr), k=5, alpha=0.6))
        return made[0]

    model, scale = _fit(spec, x, y, factory)
    fast = {k: v.detach().clone() for k, v in model.state_dict().items()}
    made[0].load_slow_weights()
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(result.weights[key], value, rtol=1e-4, atol=2e-5, err_msg=key)
        assert not np.allclose(result.weights[key], fast[key], atol=1e-6), key  # slow, not fast
    with torch.no_grad():
        pred = _probabilities(model.eval()(torch.as_tensor(x[spec.test_idx])), task, scale)
    np.testing.assert_allclose(result.test_pred, pred, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_a_snapshot_member_equals_fit_with_snapshot_cycles_and_its_ensemble(task: str) -> None:
    # 5 epochs of 4 steps: T = 20, K = 3 cycles of 7 steps, snapshots after steps 7, 14, 20.
    spec = _spec("snapshot=3", task=task, train={"epochs": 5, "patience": 2}, lr=2e-2)
    data = data_for(task)
    x, y = data[0]
    (result,) = train_members([spec], data, device="cpu")
    assert result.status == "ok", result.error
    assert result.epochs_run == 5 and result.best_epoch == 5  # early stopping does not stop it
    made: list[SnapshotCycles] = []

    def factory(groups: Any, lr: float) -> SnapshotCycles:
        made.append(SnapshotCycles(torch.optim.Adam(groups, lr=lr), total_steps=20, cycles=3))
        return made[0]

    model, scale = _fit(spec, x, y, factory)
    ensemble = made[0].ensemble(model, task).eval()
    expected = ensemble.state_dict()
    assert set(result.weights) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(result.weights[key], value, rtol=1e-4, atol=2e-5, err_msg=key)

    # the member's prediction is the hand mean of its snapshots' probabilities
    xt = torch.as_tensor(x[spec.test_idx])
    hand = []
    for j in range(3):
        net = single_model(spec.arch, spec.strategy).eval()
        prefix = "" if j == 2 else f"snapshots.{j}."
        net.load_state_dict({k: torch.as_tensor(result.weights[prefix + k])
                             for k in net.state_dict()})  # fmt: skip
        with torch.no_grad():
            hand.append(_probabilities(net(xt), task, scale))
    np.testing.assert_allclose(result.test_pred, np.mean(hand, axis=0), rtol=1e-5, atol=1e-5)

    # the exported module predicts what the member did
    module = member_module(spec.arch, spec.strategy)
    module.load_state_dict({k: torch.as_tensor(v) for k, v in result.weights.items()})
    with torch.no_grad():
        exported = _probabilities(module.eval()(xt), task, scale)
    np.testing.assert_allclose(result.test_pred, exported, rtol=1e-5, atol=1e-5)


def test_members_are_bit_identical_alone_and_stacked() -> None:
    texts = [
        ("lookahead", {}),
        ("lookahead=3:0.8", {"lr": 3e-2, "train": {"epochs": 6, "patience": 1}}),
        ("snapshot=2", {"train": {"epochs": 4}}),
        ("snapshot=3", {"lr": 5e-3, "train": {"epochs": 6}}),
        ("snapshot=4+l2=1e-3", {"weight_decay": 0.0, "train": {"epochs": 5}}),
        ("none", {"train": {"epochs": 5, "patience": 1}}),
        ("swa=2", {}),
    ]
    specs = []
    for i, (text, options) in enumerate(texts):
        options = dict(options)
        lr = options.pop("lr", None)
        spec = _spec(text, seed=i, **options)
        if lr is not None:
            spec = dataclasses.replace(spec, strategy=dataclasses.replace(spec.strategy, lr=lr))
        specs.append(spec)
    data = data_for("multiclass")
    stacked = train_members(specs, data, device="cpu", backend="generic")
    for spec, together in zip(specs, stacked, strict=True):
        assert together.status == "ok", together.error
        (alone,) = train_members([spec], data, device="cpu", backend="generic")
        assert alone.curves == together.curves, spec.strategy.name
        assert np.array_equal(alone.test_pred, together.test_pred), spec.strategy.name
        assert set(alone.weights) == set(together.weights)
        for k, v in alone.weights.items():
            assert np.array_equal(v, together.weights[k]), (spec.strategy.name, k)


def test_the_engines_learning_rates_follow_the_snapshot_formula() -> None:
    specs = [_spec("snapshot=3", train={"epochs": 5}), _spec("none", train={"epochs": 5}),
             _spec("snapshot=2", train={"epochs": 3})]  # fmt: skip
    layout = StackLayout(specs[0].arch)
    theta = torch.zeros(layout.size * len(specs))
    path = Trajectory(specs, theta, layout)
    stack = SimpleNamespace(
        lr=torch.tensor([1e-2, 2e-2, 3e-2]).view(3, 1, 1), decay=None, proximal=[],
        members=specs, t=0,
    )  # fmt: skip
    path.rebase(stack)
    seen = []
    for t in range(20):
        stack.t = t
        path.before_update(stack)
        seen.append(stack.lr.view(-1).tolist())
    got = np.array(seen)
    for col, (lr0, total, k) in enumerate([(1e-2, 20, 3), (2e-2, None, None), (3e-2, 12, 2)]):
        if total is None:
            np.testing.assert_array_equal(got[:, col], np.float32(lr0))
            continue
        c = math.ceil(total / k)
        formula = [lr0 / 2 * (math.cos(math.pi * ((t - 1) % c) / c) + 1) for t in range(1, 21)]
        np.testing.assert_allclose(got[:, col], formula, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "lookahead=0:0.5",
            r"Lookahead \(lookahead\): `k` must be a whole number of steps ≥ 1; got 0",
        ),
        ("lookahead=2.5", r"`k` must be a whole number of steps ≥ 1; got 2.5"),
        ("lookahead=5:1.5", r"`alpha` must be a number in \(0, 1\]; got 1.5"),
        ("lookahead=5:0", r"`alpha` must be a number in \(0, 1\]; got 0"),
        ("snapshot=-1", r"Snapshot \(snapshot\): `cycles` must be a whole number ≥ 1; got -1"),
        ("snapshot=2.5", r"`cycles` must be a whole number ≥ 1; got 2.5"),
        (
            "snapshot=3+swa=2",
            r"`snapshot` must be used without `swa` \(a snapshot ensemble "
            r"predicts with its K snapshots, SWA with one average",
        ),
        ("snapshot=3+lookahead", r"`snapshot` must be used without `lookahead` \(whether"),
    ],
)
def test_bad_strengths_are_refused_in_one_line(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        parse_strategy(text)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("epochs", "cycles", "match"),
    [
        (3, 5, r"`snapshot` must be a number of cycles in \[1, 3\] \(the epochs\); got 5"),
        # 3 epochs of 1 step (16 rows, batch 16): 3 cycles of 1 step fit, 3 of ⌈3/3⌉ do too;
        # with 54 rows and batch 54, 5 epochs: 4 cycles of 2 steps leave the 4th outside.
        (5, 4, r"cycles of ⌈T/K⌉ = 2 steps all start within the T = 5 steps"),
    ],
)
def test_too_many_cycles_are_refused_before_training(epochs: int, cycles: int, match: str) -> None:
    batch = 16 if epochs == 3 else 54
    spec = _spec(f"snapshot={cycles}", train={"epochs": epochs, "batch_size": batch})
    with pytest.raises(ConfigError, match=match) as err:
        train_members([spec], data_for("multiclass"), device="cpu")
    assert "\n" not in str(err.value)


def test_robust_accuracy_is_refused_for_a_snapshot_ensemble() -> None:
    spec = dataclasses.replace(_spec("snapshot=2", train={"epochs": 3}), robust_eps=0.1)
    with pytest.raises(ConfigError, match=r"`members\[0\].robust_eps` must be 0 with `snapshot`"):
        train_members([spec], data_for("multiclass"), device="cpu")


def test_both_are_in_the_cocktail_and_never_together_or_with_swa() -> None:
    import optuna

    space = parse_space("cocktail")
    assert {"lookahead", "snapshot"} <= set(space.techniques)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(60):
        trial = study.ask()
        strategy, _ = space.suggest(trial)
        keys = {c.key for c in strategy.techniques} & {"lookahead", "snapshot", "swa"}
        assert len(keys) <= 1, strategy.name
        seen |= keys
        study.tell(trial, 0.0)
    assert seen == {"lookahead", "snapshot", "swa"}


def test_a_recurrent_family_trains_them_alone_and_stacked_alike_and_exports_the_ensemble() -> None:
    from reglab.engine import TrainConfig
    from reglab.engine.rnn import RecurrentArchitecture

    rng = np.random.default_rng(0)
    series = np.sin(np.arange(200) / 4) + 0.1 * rng.standard_normal(200)
    x = np.stack([series[i : i + 8] for i in range(192)]).astype(np.float32)
    y = series[8:200].astype(np.float32)
    arch = RecurrentArchitecture(8, 1, units=(6,), steps=8, features=1, task="regression")
    idx = np.arange(192)
    specs = [
        MemberSpec(
            arch,
            parse_strategy(s),
            TrainConfig(epochs=4, patience=None, lr=1e-2),
            idx[:150],
            idx[:0],
            idx[150:],
            seed=i,
        )
        for i, s in enumerate(["lookahead=3:0.5", "snapshot=2", "none"])
    ]
    together = train_members(specs, {0: (x, y)}, device="cpu")
    for spec, t in zip(specs, together, strict=True):
        (alone,) = train_members([spec], {0: (x, y)}, device="cpu")
        assert np.array_equal(alone.test_pred, t.test_pred), spec.strategy.name
    snap = together[1]
    module = member_module(arch, specs[1].strategy).eval()
    module.load_state_dict({k: torch.as_tensor(v) for k, v in snap.weights.items()})
    train_y = y[:150].astype(np.float64)
    with torch.no_grad():
        out = module(torch.as_tensor(x[150:])).numpy()[:, 0].astype(np.float64)
    np.testing.assert_allclose(snap.test_pred, out * train_y.std() + train_y.mean(), rtol=1e-4)


def test_lookahead_with_swa_averages_the_slow_weights() -> None:
    start, epochs = 2, 4
    data = data_for("multiclass")
    (both,) = train_members([_spec(f"lookahead=3:0.5+swa={start}", train={"epochs": epochs})],
                            data, device="cpu")  # fmt: skip
    assert both.status == "ok", both.error
    slow = [  # a lookahead member's stored weights after t epochs are its slow weights then
        train_members([_spec("lookahead=3:0.5", train={"epochs": t})], data, device="cpu")[0]
        for t in range(start, epochs + 1)
    ]
    for k, v in both.weights.items():
        hand = np.mean([r.weights[k] for r in slow], axis=0)
        np.testing.assert_allclose(v, hand, rtol=1e-5, atol=1e-6, err_msg=k)
    assert both.curves["train_loss"] == slow[-1].curves["train_loss"]  # training unchanged
