"""Adversarial training (fgsm, pgd, adv-alpha) and the robust accuracy score.

Oracles: PGD stays in the ε-ball and never moves one-hot columns; FGSM's δ is the sign of the
input gradient computed by hand; one full-batch SGD step of a member equals the hand-computed
step on ``α·J(x) + (1 − α)·J(x + δ)``; the robust score equals an attack written out here.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reglab._seeding import derive, generator
from reglab.engine import MemberSpec, initial_weights, train_members
from reglab.engine.export import single_model
from reglab.engine.spec import Architecture, TrainConfig
from reglab.errors import ConfigError
from reglab.regularizers.adversarial import AdversarialLoss, pgd_delta
from reglab.study.strategies import parse_strategy
from reglab.study.tune_space import parse_space

N, D, K = 60, 5, 3
NUMERIC = 3  # the last two columns are one-hot


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(N) % K
    x = rng.normal(size=(N, D)).astype(np.float32)
    x[:, :NUMERIC] += 1.5 * rng.normal(size=(K, NUMERIC)).astype(np.float32)[y]
    x[:, NUMERIC:] = np.eye(2, dtype=np.float32)[rng.integers(0, 2, N)]
    return x, y.astype(np.int64)


def _spec(
    text: str, *, seed: int = 3, epochs: int = 2, batch: int = 16, **kw: object
) -> MemberSpec:
    idx = np.arange(N)
    train = TrainConfig(epochs=epochs, batch_size=batch, patience=None, **kw)  # type: ignore[arg-type]
    return MemberSpec(Architecture(D, K, hidden=(7,)), parse_strategy(text), train,
                      idx[:45], idx[:0], idx[45:], seed=seed, numeric_features=NUMERIC)  # fmt: skip


def test_pgd_never_leaves_the_ball_nor_touches_one_hot_columns() -> None:
    torch.manual_seed(0)
    m, f, b = 3, 6, 7
    x = torch.randn(m, f, b)
    w = torch.randn(m, f, f)

    def grad(xa: torch.Tensor) -> torch.Tensor:
        (g,) = torch.autograd.grad(torch.tanh(torch.bmm(w, xa)).pow(3).sum(), xa)
        return g

    eps = torch.tensor([0.05, 0.3, 0.0])
    numeric = torch.ones(m, f, 1)
    numeric[0, 4:] = 0.0
    numeric[1, 2:] = 0.0
    start = torch.rand(m, f, b) * 2 - 1
    delta = pgd_delta(x, grad, eps, torch.tensor([7, 20, 5]), eps * 0.6, numeric, start)
    bound = eps.view(-1, 1, 1) * numeric
    assert bool((delta.abs() <= bound + 1e-7).all())
    assert bool((delta[0, 4:] == 0).all()) and bool((delta[1, 2:] == 0).all())
    assert bool((delta[2] == 0).all())
    assert float(delta[1, :2].abs().max()) == pytest.approx(0.3, abs=1e-6)  # it reaches the edge


def test_fgsm_is_the_sign_of_the_input_gradient() -> None:
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(D, 4), torch.nn.Tanh(), torch.nn.Linear(4, K))
    x, y = torch.randn(8, D), torch.randint(0, K, (8,))
    xr = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(F.cross_entropy(net(xr), y), xr)
    expected = 0.1 * torch.sign(g)
    expected[:, NUMERIC:] = 0.0
    adv = AdversarialLoss(net, F.cross_entropy, eps=0.1, numeric_features=NUMERIC, alpha=0.3)
    torch.testing.assert_close(adv.perturbation(x, y), expected)
    hand = 0.3 * F.cross_entropy(net(x), y) + 0.7 * F.cross_entropy(net(x + expected), y)
    torch.testing.assert_close(adv(x, y), hand)


@pytest.mark.parametrize(("text", "alpha"), [("fgsm=0.2", 0.5), ("fgsm=0.2+adv-alpha=0.25", 0.25)])
def test_one_fgsm_step_of_a_member_equals_the_hand_computed_step(text: str, alpha: float) -> None:
    x, y = _data()
    spec = _spec(text, epochs=1, batch=64, optimizer="sgd", lr=0.5)
    (result,) = train_members([spec], {0: (x, y)}, device="cpu")
    model = single_model(spec.arch, spec.strategy)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in initial_weights(spec).items()})
    xt, yt = torch.from_numpy(x[spec.train_idx]), torch.from_numpy(y[spec.train_idx])
    xr = xt.clone().requires_grad_()
    (g,) = torch.autograd.grad(F.cross_entropy(model(xr), yt), xr)
    delta = 0.2 * torch.sign(g)
    delta[:, NUMERIC:] = 0.0
    loss = alpha * F.cross_entropy(model(xt), yt) + (1 - alpha) * F.cross_entropy(
        model(xt + delta), yt
    )
    grads = torch.autograd.grad(loss, list(model.parameters()))
    for (name, p), gp in zip(model.named_parameters(), grads, strict=True):
        np.testing.assert_allclose(result.weights[name], (p - 0.5 * gp).detach().numpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=name)  # fmt: skip
    assert result.curves["train_loss"][0] == pytest.approx(float(loss.detach()), rel=1e-5)


def test_members_are_the_same_alone_and_stacked() -> None:
    x, y = _data()
    texts = ["fgsm=0.1", "pgd=0.2", "pgd=0.1:3+adv-alpha=0.2", "none", "fgsm=0.3+adv-alpha=0.9"]
    specs = [_spec(t, seed=i) for i, t in enumerate(texts)]
    stacked = train_members(specs, {0: (x, y)}, device="cpu", backend="generic")
    for spec, together in zip(specs, stacked, strict=True):
        (alone,) = train_members([spec], {0: (x, y)}, device="cpu", backend="generic")
        for k, v in alone.weights.items():
            assert np.array_equal(v, together.weights[k]), (spec.strategy.name, k)


def test_attacks_on_one_hot_columns_only_change_nothing() -> None:
    x, y = _data()
    specs = [
        dataclasses.replace(s, seed=5, numeric_features=0)
        for s in (_spec("none"), _spec("pgd=0.3"))
    ]
    plain, attacked = train_members(specs, {0: (x, y)}, device="cpu", backend="generic")
    for k, v in plain.weights.items():  # δ = 0: α·J + (1 − α)·J = J up to rounding
        np.testing.assert_allclose(v, attacked.weights[k], rtol=1e-5, atol=1e-6)


def test_robust_accuracy_equals_an_attack_written_out_here() -> None:
    x, y = _data()
    base = _spec("none", epochs=5)
    spec = MemberSpec(base.arch, base.strategy, base.train, base.train_idx, base.val_idx,
                      base.test_idx, seed=base.seed, numeric_features=NUMERIC, robust_eps=0.5,
                      robust_steps=4)  # fmt: skip
    (result,) = train_members([spec], {0: (x, y)}, device="cpu")
    model = single_model(spec.arch, spec.strategy)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in result.weights.items()})
    model.eval()
    xt, yt = torch.from_numpy(x[spec.test_idx]), torch.from_numpy(y[spec.test_idx])
    u = generator(derive(spec.seed, "robust")).uniform(-1.0, 1.0, size=(1, D, len(yt)))
    mask = torch.tensor([1.0] * NUMERIC + [0.0] * (D - NUMERIC))
    delta = torch.from_numpy(u.astype(np.float32))[0].T * 0.5 * mask
    for _ in range(4):
        xa = (xt + delta).requires_grad_()
        (g,) = torch.autograd.grad(F.cross_entropy(model(xa), yt, reduction="sum"), xa)
        delta = torch.clamp(delta + (2.5 * 0.5 / 4) * torch.sign(g), -0.5, 0.5) * mask
    expected = float((model(xt + delta).argmax(1) == yt).double().mean())
    assert result.test_scores["robust_accuracy"] == pytest.approx(expected)
    assert result.test_scores["robust_accuracy"] < result.test_scores["accuracy"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("fgsm=-0.1", r"Fgsm \(fgsm\): `eps` must be a finite number ≥ 0; got -0.1"),
        ("pgd=0.1:0.5", r"`steps` must be a whole number; got 0.5"),
        ("pgd=0.1:5000", r"`steps` must be a number in \[1, 1000\]"),
        ("adv-alpha=1.5+fgsm=0.1", r"`alpha` must be a number in \[0, 1\]; got 1.5"),
        ("adv-alpha=0.3", r"`adv-alpha` must be used with `fgsm` or `pgd`"),
        ("fgsm=0.1+pgd=0.1", r"`fgsm` must be used without `pgd`"),
    ],
)
def test_bad_strengths_are_refused_in_one_line(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        parse_strategy(text)
    assert "\n" not in str(err.value)


def test_robust_eps_is_refused_for_regression() -> None:
    import reglab

    with pytest.raises(ConfigError, match=r"`robust_eps` must be 0 for regression"):
        reglab.bench("builtin:diabetes", strategies="none", robust_eps=0.1, epochs=1)


def test_the_cocktail_has_fgsm_but_not_pgd_nor_the_modifier() -> None:
    space = parse_space("cocktail")
    assert "fgsm" in space.techniques
    assert "pgd" not in space.techniques and "adv-alpha" not in space.techniques
    named = parse_space("pgd+adv-alpha")
    assert [d.name for d in named.dims] == ["pgd", "pgd.steps", "adv-alpha"]


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["builtin:diabetes", "--robust-eps", "0.1"], r"`robust_eps` must be 0 for regression"),
        (["builtin:iris", "--robust-eps", "-1"], r"`robust_eps` must be a finite float >= 0"),
        (["builtin:iris", "--strategies", "none,pgd=0.1:2.5"], r"`steps` must be a whole"),
    ],
)
def test_the_command_line_refuses_bad_robust_options_before_writing(
    args: list[str], pattern: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from reglab.cli.main import app

    store = tmp_path / "s.db"
    result = CliRunner().invoke(app, ["bench", *args, "--store", str(store), "--epochs", "1"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("reglab: error:")]
    assert len(errors) == 1 and re.search(pattern, errors[0]), result.output
    assert not store.exists()


def test_a_study_reports_robust_accuracy_beside_accuracy(tmp_path: Path) -> None:
    import reglab

    result = reglab.bench("builtin:iris", strategies="none,fgsm=0.2", cv=3, epochs=3,
                          hidden=(8,), robust_eps=0.2, reference="none")  # fmt: skip
    for name in ("none", "fgsm=0.2"):
        metrics = result.strategies[name].metrics
        assert "robust_accuracy" in metrics and "accuracy" in metrics
        assert 0.0 <= metrics["robust_accuracy"].mean <= 1.0
    assert "robust_accuracy" in str(result.table().columns.tolist())
    html = Path(result.report(tmp_path / "r.html")).read_text(encoding="utf-8")
    assert "robust accuracy" in html


def test_batch_norm_members_are_the_same_alone_and_stacked() -> None:
    x, y = _data()
    texts = ["batchnorm+pgd=0.2:3", "batchnorm+fgsm=0.1+mixup=0.3", "batchnorm"]
    specs = [
        dataclasses.replace(s, arch=dataclasses.replace(s.arch, batch_norm=True))
        for s in (_spec(t, seed=i) for i, t in enumerate(texts))
    ]
    stacked = train_members(specs, {0: (x, y)}, device="cpu", backend="generic")
    for spec, together in zip(specs, stacked, strict=True):
        assert together.status == "ok", together.error
        (alone,) = train_members([spec], {0: (x, y)}, device="cpu", backend="generic")
        for k, v in alone.weights.items():  # running statistics included
            assert np.array_equal(v, together.weights[k]), (spec.strategy.name, k)
