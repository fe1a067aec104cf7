"""Sparse variational dropout and learned Gaussian dropout: maths, layers and grammar.

The KL approximations are checked against numerical integration of the true KL of the
log-uniform prior, ``−KL(α) = ½·log α − E[log|ε|] + C`` with ``ε ~ N(1, α)`` (Molchanov et al.
2017, eq. 8; Kingma et al. 2015, §3.3), the local reparameterization trick against sampling the
weights (or the input noise) directly, and pruning for exact zeros.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import integrate, stats
from torch import nn

from reglab.errors import ConfigError
from reglab.layers import LearnedDropoutLinear, SparseVDLinear, learned_dropout, sparse_vd
from reglab.layers import variational as vf
from reglab.regularizers import L2, regularization_loss
from reglab.study.strategies import PRESETS, describe, parse_strategy


def expected_log_abs(alpha: float) -> float:
    """``E[log|1 + √α·z|]``, ``z ~ N(0, 1)``, by quadrature split at the singularity."""
    s = math.sqrt(alpha)

    def f(z: float) -> float:
        return math.log(abs(1 + s * z)) * stats.norm.pdf(z)

    left = integrate.quad(f, -np.inf, -1 / s, limit=500)[0]
    right = integrate.quad(f, -1 / s, np.inf, limit=500)[0]
    return left + right


# As α → ∞, ½·log α − E[log|ε|] → −E[log|z|] = (γ + log 2)/2: the constant that makes the
# true −KL vanish there, as the approximation does.
LIMIT = (np.euler_gamma + math.log(2)) / 2


def test_sparse_vd_kl_matches_numerical_integration_within_0_01() -> None:
    log_alphas = np.linspace(-8, 8, 81)
    true = np.array([0.5 * la - expected_log_abs(math.exp(la)) - LIMIT for la in log_alphas])
    approx = vf.sparse_vd_neg_kl(torch.tensor(log_alphas)).numpy()
    assert np.abs(approx - true).max() < 0.01  # the paper: error below 0.009


def test_learned_dropout_kl_matches_numerical_integration_up_to_its_constant() -> None:
    # Kingma et al.'s polynomial holds up to a constant for α ≤ 1; it was fitted away from
    # α → 0 (there it departs by up to 0.04, with a negligible gradient difference).
    alphas = np.linspace(0.1, 1.0, 46)
    true = np.array([0.5 * math.log(a) - expected_log_abs(a) for a in alphas])
    approx = vf.learned_dropout_neg_kl(torch.tensor(np.log(alphas))).numpy()
    gap = approx - true
    assert gap.max() - gap.min() < 0.01


def test_sparse_vd_kl_is_zero_for_pure_noise_weights_and_grows_as_alpha_shrinks() -> None:
    theta = torch.ones(1, 1, 3)
    kl = [vf.sparse_vd_kl(theta, torch.full_like(theta, s)).item() for s in (8.0, 0.0, -8.0)]
    assert kl[0] == pytest.approx(3 * -vf.sparse_vd_neg_kl(torch.tensor(8.0)).item())
    assert 0 <= kl[0] < 1e-3 < kl[1] < kl[2]


def _direct_and_lrt(seed: int, learned: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = torch.Generator().manual_seed(seed)
    out, inp, n = 3, 4, 40_000
    theta = torch.randn(1, out, inp, generator=g)
    bias = torch.randn(1, out, 1, generator=g)
    x = torch.randn(inp, generator=g)
    h = x.view(1, inp, 1).expand(1, inp, n)
    noise = torch.randn(1, out, n, generator=g)
    if learned:
        log_alpha = torch.log(torch.rand(1, 1, inp, generator=g) * 0.9 + 0.05)
        lrt = vf.learned_dropout_dense(h, theta, bias, log_alpha, noise)[0]
        xi = 1 + torch.exp(0.5 * log_alpha[0, 0]) * torch.randn(n, inp, generator=g)
        direct = (x * xi) @ theta[0].T + bias[0, :, 0]  # noise on the input units
        var = (theta[0] ** 2 * torch.exp(log_alpha[0])) @ x**2
    else:
        log_sigma2 = torch.randn(1, out, inp, generator=g) - 1.0
        lrt = vf.sparse_vd_dense(h, theta, bias, log_sigma2, noise)[0]
        std = torch.sqrt(vf.sparse_vd_variance(theta, log_sigma2)[0])
        w = theta[0] + std * torch.randn(n, out, inp, generator=g)  # weights sampled directly
        direct = torch.einsum("noi,i->no", w, x) + bias[0, :, 0]
        var = vf.sparse_vd_variance(theta, log_sigma2)[0] @ x**2
    mean = theta[0] @ x + bias[0, :, 0]
    stats_of = [
        torch.stack([lrt.mean(1), lrt.var(1)]).numpy(),
        torch.stack([direct.mean(0), direct.var(0)]).numpy(),
    ]
    return stats_of[0], stats_of[1], torch.stack([mean, var]).numpy()


@pytest.mark.parametrize("learned", [False, True], ids=["sparse-vd", "learned-dropout"])
def test_local_reparameterization_has_the_mean_and_variance_of_sampled_weights(
    learned: bool,
) -> None:
    lrt, direct, exact = _direct_and_lrt(0, learned)
    n = 40_000
    se_mean = np.sqrt(exact[1] / n)
    for sample in (lrt, direct):
        assert np.all(np.abs(sample[0] - exact[0]) < 5 * se_mean + 1e-6)
        assert np.allclose(sample[1], exact[1], rtol=0.05)  # var's relative error ~ √(2/n)
    assert np.allclose(lrt[1], direct[1], rtol=0.06)


def test_pruning_gives_exact_zeros_at_evaluation() -> None:
    torch.manual_seed(0)
    layer = SparseVDLinear(6, 5, n_train=100)
    with torch.no_grad():
        layer.log_sigma2.copy_(torch.randn(5, 6) * 4)
    pruned = layer.log_alpha() > 3.0
    assert 0 < int(pruned.sum()) < 30
    w = layer.pruned_weight()
    assert torch.all(w[pruned] == 0) and torch.equal(w[~pruned], layer.weight[~pruned])
    x = torch.randn(7, 6)
    expected = F.linear(x, torch.where(pruned, 0.0, layer.weight), layer.bias)
    assert torch.equal(layer.eval()(x), expected)
    assert layer.sparsity().item() == pytest.approx(float(pruned.float().mean()))
    assert layer.activity_loss is None


def test_kl_warmup_rises_linearly_to_one() -> None:
    epochs = torch.arange(6.0)
    assert vf.kl_warmup(epochs, torch.full((6,), 4.0)).tolist() == [0, 0.25, 0.5, 0.75, 1, 1]
    assert vf.kl_warmup(epochs, torch.zeros(6)).tolist() == [1.0] * 6


def test_the_layer_counts_epochs_in_rows_for_its_warmup() -> None:
    layer = SparseVDLinear(3, 2, n_train=4, warmup=2.0).train()
    weights = []
    for _ in range(6):  # batches of 2 rows: two per epoch
        layer(torch.ones(2, 3))
        weights.append(layer.activity_loss.item() / (layer.kl().item() / 4))
    assert weights == pytest.approx([0, 0, 0.5, 0.5, 1, 1])


def test_layers_put_kl_per_training_example_in_the_loss() -> None:
    layer = SparseVDLinear(3, 2, n_train=50, generator=torch.Generator().manual_seed(0))
    layer.train()(torch.ones(4, 3))
    assert layer.activity_loss is not None
    assert layer.activity_loss.item() == pytest.approx(layer.kl().item() / 50)
    dropout = LearnedDropoutLinear(3, 2, n_train=10, alpha=0.5, per_layer=True)
    dropout.train()(torch.ones(4, 3))
    assert dropout.log_alpha.shape == (1, 1)
    expected = -vf.learned_dropout_neg_kl(torch.tensor(math.log(0.5))).item() / 10
    assert dropout.activity_loss.item() == pytest.approx(expected)


def test_converters_keep_weights_and_regularizers_and_train_with_fit() -> None:
    import reglab

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    reglab.regularizers.add_regularizer(model, L2(1e-3))
    before = model[0].weight.detach().clone()
    sparse_vd(model, n_train=60)
    assert isinstance(model[0], SparseVDLinear) and torch.equal(model[0].weight, before)
    assert regularization_loss(model).item() > 0  # L2 kept
    x = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    history = reglab.fit(model, x, y, epochs=3, batch_size=20, device="cpu")
    assert len(history) == 3 and history.running_loss[-1] > 0
    other = learned_dropout(nn.Sequential(nn.Linear(4, 2)), n_train=60, alpha=0.1)
    assert isinstance(other[0], LearnedDropoutLinear)


def test_training_without_n_train_is_refused_with_one_line() -> None:
    layer = SparseVDLinear(3, 2)
    layer.eval()(torch.ones(1, 3))  # predicting needs no n_train
    with pytest.raises(ConfigError, match=r"^SparseVDLinear: `n_train` must be set"):
        layer.train()(torch.ones(1, 3))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("sparse-vd=0", r"`threshold` must be a log α in \(0, 8\]"),
        ("sparse-vd=0:0", r"`sparse-vd` must be a value that turns it on"),
        ("sparse-vd=9", r"`threshold` must be a log α in \(0, 8\]"),
        ("sparse-vd=-1", r"`threshold` must be a log α in \(0, 8\]"),
        ("learned-dropout=0", r"`learned-dropout` must be a value that turns it on"),
        ("learned-dropout=1.5", r"`alpha` must be an initial α in \(0, 1\]"),
        ("learned-dropout=0.2:0.5", r"`per_layer` must be 0 \(an α per unit\) or 1"),
        ("sparse-vd=3:1:1", r"`sparse-vd` must be 2 value\(s\)"),
        ("sparse-vd=3:-1", r"`warmup` must be a number of epochs in \[0, 10000\]"),
    ],
)
def test_bad_strengths_are_refused_with_one_line(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        parse_strategy(text)
    assert "\n" not in str(err.value) and str(err.value).startswith(f"Strategy {text!r}")


@pytest.mark.parametrize(
    ("layer", "kwargs", "match"),
    [
        (SparseVDLinear, {"n_train": 0}, "`n_train` must be"),
        (SparseVDLinear, {"threshold": 9.0}, "`threshold` must be"),
        (LearnedDropoutLinear, {"alpha": 0.0}, "`alpha` must be"),
        (LearnedDropoutLinear, {"generator": 3}, "`generator` must be"),
    ],
)
def test_layers_refuse_bad_arguments(layer: type, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        layer(3, 2, **kwargs)


def test_grammar_names_presets_and_descriptions() -> None:
    s = parse_strategy("sparse-vd")
    assert s.name == "sparse-vd" and s.techniques[0].values == {"threshold": 3.0, "warmup": 10.0}
    assert parse_strategy("sparse-vd=3").name == "sparse-vd"
    assert parse_strategy("sparse-vd=3:0").techniques[0].values["warmup"] == 0.0
    assert parse_strategy("sparse-vd=2.5+dropout").name == "dropout+sparse-vd=2.5"
    assert parse_strategy("learned-dropout=0.1:1").techniques[0].values == {
        "alpha": 0.1,
        "per_layer": 1.0,
    }
    assert parse_strategy("learned-dropout=0.25:0").name == "learned-dropout"
    assert PRESETS["sparse-vd"].strategy.techniques == s.techniques
    assert describe(s) == "sparse variational dropout"


def test_cocktail_switches_them_on_one_at_a_time() -> None:
    optuna = pytest.importorskip("optuna")
    from reglab.study.tune_space import parse_space

    space = parse_space("cocktail")
    assert {"sparse-vd", "learned-dropout"} <= set(space.techniques)
    seen = set()
    for seed in range(40):
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
        strategy, _ = space.suggest(trial)
        keys = {c.key for c in strategy.techniques} & {"sparse-vd", "learned-dropout"}
        assert len(keys) <= 1
        seen |= keys
        parsed = parse_strategy(strategy.name)  # every trial's text is the strategy it trains
        assert set(parsed.techniques) == set(strategy.techniques), strategy.name
    assert seen == {"sparse-vd", "learned-dropout"}


def test_the_single_model_form_is_parametrize_not_a_module() -> None:
    from reglab.techniques import LearnedDropout, SparseVD

    with pytest.raises(NotImplementedError, match="parametrize"):
        SparseVD().module()
    model = SparseVD(threshold=2.0, warmup=3.0).parametrize(nn.Sequential(nn.Linear(3, 2)), 10)
    assert isinstance(model[0], SparseVDLinear)
    assert (model[0].threshold, model[0].warmup, model[0].n_train) == (2.0, 3.0, 10)
    other = LearnedDropout(alpha=0.5, per_layer=1.0).parametrize(nn.Sequential(nn.Linear(3, 2)), 5)
    assert other[0].log_alpha.shape == (1, 1) and other[0].alpha().item() == pytest.approx(0.5)


def test_sparse_vd_runs_through_bench_into_the_report(tmp_path: Path) -> None:
    import reglab

    result = reglab.bench(
        "builtin:iris", strategies="none,sparse-vd=3:1", cv=3, epochs=4, hidden=(16,)
    )
    members = [m for m in result.members if m.strategy == "sparse-vd=3:1"]
    assert len(members) == 3 and all(m.status == "done" for m in members)
    assert all("dense0.log_alpha" in m.weight_hist for m in members)
    html = Path(result.report(tmp_path / "r.html")).read_text(encoding="utf-8")
    assert 'id="log-alpha"' in html and "sparse-vd=3:1" in html


def test_converters_refuse_a_layer_with_its_own_activation() -> None:
    from reglab.layers import Dense

    with pytest.raises(ConfigError, match=r"^sparse_vd: `model.0` must be a linear layer"):
        sparse_vd(nn.Sequential(Dense(3, 2, activation="relu")), n_train=10)
    model = sparse_vd(nn.Sequential(Dense(3, 2), nn.ReLU()), n_train=10)
    assert isinstance(model[0], SparseVDLinear)


def test_the_report_states_a_layers_compression_beside_its_sparsity() -> None:
    from reglab.report.diagnostics import _compression

    assert _compression(0.985) == ' <span class="muted">· 66.7×</span>'
    assert _compression(0.3) == "" and _compression(float("nan")) == ""
    assert _compression(1.0) == " · all zero"
