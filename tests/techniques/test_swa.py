"""Stochastic weight averaging: the averaged weights equal a hand average of the iterates."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reglab.engine import MemberSpec, train_members
from reglab.engine.spec import Architecture, TrainConfig
from reglab.errors import ConfigError
from reglab.study.strategies import parse_strategy
from reglab.study.tune_space import parse_space

N, D, K = 60, 5, 3


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(N) % K
    x = (rng.normal(size=(N, D)) + 1.5 * rng.normal(size=(K, D))[y]).astype(np.float32)
    return x, y.astype(np.int64)


def _spec(text: str, epochs: int, *, seed: int = 4, patience: int | None = None) -> MemberSpec:
    idx = np.arange(N)
    train = TrainConfig(epochs=epochs, batch_size=16, patience=patience)
    val = idx[40:50] if patience is not None else idx[:0]
    return MemberSpec(Architecture(D, K, hidden=(7,)), parse_strategy(text), train,
                      idx[:40], val, idx[50:], seed=seed)  # fmt: skip


def test_the_averaged_weights_equal_a_hand_average_of_the_iterates() -> None:
    x, y = _data()
    start, epochs = 3, 6
    (averaged,) = train_members([_spec(f"swa={start}", epochs)], {0: (x, y)}, device="cpu")
    iterates = [
        train_members([_spec("none", t)], {0: (x, y)}, device="cpu", backend="generic")[0]
        for t in range(start, epochs + 1)
    ]
    for k, v in averaged.weights.items():
        hand = np.mean([r.weights[k] for r in iterates], axis=0)
        np.testing.assert_allclose(v, hand, rtol=1e-5, atol=1e-6, err_msg=k)
    # before the start the member is its own iterate: the curves agree up to epoch start - 1
    plain = iterates[-1]
    assert averaged.curves["train_loss"][: start - 1] == plain.curves["train_loss"][: start - 1]
    assert averaged.curves["train_loss"] == plain.curves["train_loss"]  # training is unchanged


def test_members_are_the_same_alone_and_stacked_with_early_stopping() -> None:
    x, y = _data()
    specs = [_spec(t, 12, seed=i, patience=2) for i, t in
             enumerate(["swa=2", "swa=5+mixup=0.2", "none", "swa=1"])]  # fmt: skip
    stacked = train_members(specs, {0: (x, y)}, device="cpu", backend="generic")
    for spec, together in zip(specs, stacked, strict=True):
        assert together.status == "ok", together.error
        (alone,) = train_members([spec], {0: (x, y)}, device="cpu", backend="generic")
        assert alone.best_epoch == together.best_epoch
        for k, v in alone.weights.items():
            assert np.array_equal(v, together.weights[k]), (spec.strategy.name, k)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("swa=0.5", r"Swa \(swa\): `start` must be a whole epoch number; got 0.5"),
        ("swa=-3", r"`start` must be a number in \[1, 100000\]; got -3.0"),
    ],
)
def test_bad_start_epochs_are_refused_in_one_line(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        parse_strategy(text)
    assert "\n" not in str(err.value)


def test_swa_trains_with_batch_norm_and_joins_batch_norm_cocktails() -> None:
    x, y = _data()
    spec = _spec("swa=2+batchnorm", 3)
    spec = dataclasses.replace(spec, arch=dataclasses.replace(spec.arch, batch_norm=True))
    (result,) = train_members([spec], {0: (x, y)}, device="cpu")
    assert result.status == "ok", result.error
    assert "bn0.running_mean" in result.weights
    import optuna

    space = parse_space("cocktail")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    both = 0
    for _ in range(60):
        trial = study.ask()
        strategy, _ = space.suggest(trial)
        both += strategy.batch_norm and any(c.key == "swa" for c in strategy.techniques)
        study.tell(trial, 0.0)
    assert both > 0
