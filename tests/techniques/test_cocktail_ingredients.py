"""Mixup, label smoothing and Gaussian input noise: their maths, their members, their errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reglab._seeding import derive, generator
from reglab.engine import MemberSpec, initial_weights, train_members
from reglab.engine.export import single_model
from reglab.engine.spec import Architecture, TrainConfig
from reglab.errors import ConfigError
from reglab.study.strategies import parse_strategy
from reglab.study.tune_space import parse_space
from reglab.techniques import InputNoise, LabelSmoothing, Mixup, TrainingBatch

N, D, K = 60, 5, 3
NUMERIC = 3


def _data(task: str = "multiclass") -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(N) % (K if task == "multiclass" else 2)
    x = rng.normal(size=(N, D)).astype(np.float32)
    x[:, NUMERIC:] = np.eye(2, dtype=np.float32)[rng.integers(0, 2, N)]
    return x, y.astype(np.int64)


def _spec(text: str, *, seed: int = 3, task: str = "multiclass", **train: object) -> MemberSpec:
    idx = np.arange(N)
    options = {"epochs": 2, "batch_size": 16, "patience": None, **train}
    out = K if task == "multiclass" else 1
    return MemberSpec(Architecture(D, out, hidden=(7,), task=task), parse_strategy(text),
                      TrainConfig(**options), idx[:45], idx[:0], idx[45:], seed=seed,  # type: ignore[arg-type]
                      numeric_features=NUMERIC)  # fmt: skip


def _batch(x: torch.Tensor, target: torch.Tensor, task: str = "multiclass") -> TrainingBatch:
    m, f, b = x.shape
    numeric = torch.ones(m, f, 1)
    numeric[:, NUMERIC:] = 0.0
    return TrainingBatch(x, target, torch.full((m, 1, b), 1.0 / b), numeric, task)


def test_the_mixed_loss_equals_the_hand_mixed_loss_for_a_fixed_lambda() -> None:
    torch.manual_seed(0)
    b, lam = 6, 0.3
    x = torch.randn(1, D, b)
    labels = torch.tensor([0, 2, 1, 1, 0, 2])
    onehot = F.one_hot(labels, K).T.float().unsqueeze(0)  # [1, K, B]
    perm = torch.tensor([3, 0, 5, 1, 2, 4])
    draws = torch.cat([torch.tensor([lam]), perm.float()]).unsqueeze(0)
    mixed = Mixup.transform(_batch(x, onehot), draws, {"alpha": torch.tensor([0.4])})
    torch.testing.assert_close(mixed.x[0], lam * x[0] + (1 - lam) * x[0][:, perm])
    logits = torch.randn(1, K, b)  # any network's outputs on the mixed inputs
    soft = -(torch.log_softmax(logits, 1) * mixed.target).sum(1).mean()
    hand = lam * F.cross_entropy(logits[0].T, labels) + (1 - lam) * F.cross_entropy(
        logits[0].T, labels[perm]
    )
    torch.testing.assert_close(soft, hand)


def test_mixup_draws_beta_lambdas_and_permutes_only_real_rows() -> None:
    rng = generator(derive(1, "test"))
    draws = np.stack([Mixup.sample(rng, {"alpha": 0.4}, 5, (D, 8)) for _ in range(2000)])
    assert draws[:, 0].mean() == pytest.approx(0.5, abs=0.02)  # Beta(a, a) has mean 1/2
    assert draws[:, 0].var() == pytest.approx(1 / (4 * (2 * 0.4 + 1)), abs=0.01)
    assert all(sorted(d[1:6]) == [0, 1, 2, 3, 4] for d in draws)
    assert bool((draws[:, 6:] == [5, 6, 7]).all())  # padding rows keep their place


def test_label_smoothing_is_torchs_cross_entropy_with_label_smoothing() -> None:
    torch.manual_seed(0)
    labels = torch.tensor([0, 2, 1, 1])
    onehot = F.one_hot(labels, K).T.float().unsqueeze(0)
    smooth = LabelSmoothing.transform(_batch(torch.zeros(1, D, 4), onehot), torch.zeros(1, 0),
                                      {"smoothing": torch.tensor([0.2])})  # fmt: skip
    logits = torch.randn(1, K, 4)
    ours = -(torch.log_softmax(logits, 1) * smooth.target).sum(1).mean()
    torch.testing.assert_close(ours, F.cross_entropy(logits[0].T, labels, label_smoothing=0.2))


def test_one_label_smoothing_step_of_a_member_equals_torchs() -> None:
    x, y = _data()
    spec = _spec("label-smoothing=0.15", epochs=1, batch_size=64, optimizer="sgd", lr=0.5)
    (result,) = train_members([spec], {0: (x, y)}, device="cpu")
    model = single_model(spec.arch, spec.strategy)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in initial_weights(spec).items()})
    xt, yt = torch.from_numpy(x[spec.train_idx]), torch.from_numpy(y[spec.train_idx])
    loss = F.cross_entropy(model(xt), yt, label_smoothing=0.15)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    for (name, p), g in zip(model.named_parameters(), grads, strict=True):
        np.testing.assert_allclose(result.weights[name], (p - 0.5 * g).detach().numpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=name)  # fmt: skip


def test_input_noise_moves_numeric_columns_only() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, D, 4)
    draws = torch.randn(2, D, 4)
    out = InputNoise.transform(_batch(x, torch.zeros(2, K, 4)), draws,
                               {"sigma": torch.tensor([0.5, 0.0])})  # fmt: skip
    torch.testing.assert_close(out.x[0, :NUMERIC], x[0, :NUMERIC] + 0.5 * draws[0, :NUMERIC])
    assert torch.equal(out.x[0, NUMERIC:], x[0, NUMERIC:])
    assert torch.equal(out.x[1], x[1])  # σ = 0: untouched


def test_input_noise_on_one_hot_inputs_only_is_exactly_none() -> None:
    x, y = _data()
    specs = [
        dataclasses.replace(s, seed=5, numeric_features=0)
        for s in (_spec("none"), _spec("input-noise=0.3"))
    ]
    plain, noisy = train_members(specs, {0: (x, y)}, device="cpu", backend="generic")
    for k, v in plain.weights.items():
        assert np.array_equal(v, noisy.weights[k]), k


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_members_are_the_same_alone_and_stacked(task: str) -> None:
    x, y = _data(task)
    if task == "regression":
        y = y.astype(np.float64) * 3.0 + 10.0
    texts = ["mixup=0.4", "input-noise=0.2", "mixup=1+input-noise=0.05", "none"]
    if task != "regression":
        texts += ["label-smoothing=0.1", "mixup=0.2+label-smoothing=0.2+fgsm=0.1"]
    specs = [_spec(t, seed=i, task=task, batch_size=13) for i, t in enumerate(texts)]
    stacked = train_members(specs, {0: (x, y)}, device="cpu", backend="generic")
    for spec, together in zip(specs, stacked, strict=True):
        assert together.status == "ok", together.error
        (alone,) = train_members([spec], {0: (x, y)}, device="cpu", backend="generic")
        for k, v in alone.weights.items():
            assert np.array_equal(v, together.weights[k]), (spec.strategy.name, k)
    by = {s.strategy.name: r for s, r in zip(specs, stacked, strict=True)}
    assert not np.array_equal(by["mixup=0.4"].weights["dense0.weight"],
                              by["none"].weights["dense0.weight"])  # fmt: skip


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("mixup=-0.5", r"Mixup \(mixup\): `alpha` must be a finite number ≥ 0; got -0.5"),
        ("label-smoothing=1", r"`smoothing` must be a number in \[0, 0.99\]; got 1.0"),
        ("input-noise=-1", r"InputNoise \(input-noise\): `sigma` must be a finite number ≥ 0"),
        ("mixup=x", r"`mixup` must be a number such as 1e-4; got 'x'"),
    ],
)
def test_bad_strengths_are_refused_in_one_line(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        parse_strategy(text)
    assert "\n" not in str(err.value)


def test_label_smoothing_is_refused_on_regression_in_one_line() -> None:
    import reglab

    with pytest.raises(ConfigError, match=r"`label-smoothing` acts on multiclass or binary") as e:
        reglab.bench("builtin:diabetes", strategies="none,label-smoothing=0.1", epochs=1)
    assert "\n" not in str(e.value)


def test_the_cocktail_searches_the_ingredients_on_the_right_tasks() -> None:
    space = parse_space("cocktail")
    assert {"mixup", "label-smoothing", "input-noise"} <= set(space.techniques)
    regression = space.for_task("regression")
    assert "label-smoothing" not in regression.techniques
    assert "label-smoothing" not in {d.technique for d in regression.dims}
    assert {"mixup", "input-noise"} <= set(regression.techniques)
    assert space.dim("mixup", "alpha").low == 0.05 and not space.dim("mixup", "alpha").log


def test_the_cocktail_leaves_out_techniques_of_other_model_families() -> None:
    import reglab.engine.conv  # noqa: F401  (registers spatial-dropout)

    space = parse_space("cocktail")
    assert "spatial-dropout" in space.techniques
    assert "spatial-dropout" not in space.for_task("multiclass", "mlp").techniques
    assert "spatial-dropout" in space.for_task("multiclass", "cnn").techniques
