"""Penalties: values against numpy formulas, converters, scikit-learn oracles, validation."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.neural_network import MLPRegressor
from torch import nn

from reglab._config import deserialize, serialize
from reglab.errors import ConfigError
from reglab.regularizers import (
    L1,
    L1L2,
    L2,
    ElasticNet,
    Regularizer,
    add_regularizer,
    as_regularizer,
    proximal_step,
    regularization_loss,
    sklearn_elasticnet_alpha,
    sklearn_mlp_l2,
)
from reglab.regularizers import functional as F

W = np.array([[0.5, -1.5, 0.0], [2.0, -0.25, 3.0]])

NumpyPenalty = Callable[[np.ndarray], float]

PENALTY_TABLE: list[tuple[str, Regularizer, NumpyPenalty]] = [
    ("L1", L1(0.3), lambda w: 0.3 * np.abs(w).sum()),
    ("L1-default", L1(), lambda w: 0.01 * np.abs(w).sum()),
    ("L2", L2(0.7), lambda w: 0.7 * (w**2).sum()),
    ("L2-zero", L2(0.0), lambda w: 0.0),
    ("L1L2", L1L2(l1=0.2, l2=0.05), lambda w: 0.2 * np.abs(w).sum() + 0.05 * (w**2).sum()),
    (
        "ElasticNet-sklearn",
        ElasticNet(alpha=0.4, l1_ratio=0.3),
        lambda w: 0.4 * 0.3 * np.abs(w).sum() + 0.5 * 0.4 * 0.7 * (w**2).sum(),
    ),
    ("ElasticNet-lasso", ElasticNet(alpha=0.4, l1_ratio=1.0), lambda w: 0.4 * np.abs(w).sum()),
    ("ElasticNet-ridge", ElasticNet(alpha=0.4, l1_ratio=0.0), lambda w: 0.2 * (w**2).sum()),
    ("L1-proximal", L1(0.3, mode="proximal"), lambda w: 0.0),
    ("L1L2-proximal", L1L2(0.2, 0.05, mode="proximal"), lambda w: 0.05 * (w**2).sum()),
    (
        "ElasticNet-proximal",
        ElasticNet(alpha=0.4, l1_ratio=0.3, mode="proximal"),
        lambda w: 0.5 * 0.4 * 0.7 * (w**2).sum(),
    ),
]


@pytest.mark.parametrize(
    ("reg", "formula"), [c[1:] for c in PENALTY_TABLE], ids=[c[0] for c in PENALTY_TABLE]
)
def test_penalty_equals_numpy_formula(reg: Regularizer, formula: NumpyPenalty) -> None:
    got = reg(torch.tensor(W, dtype=torch.float64))
    assert got.dim() == 0
    assert got.item() == pytest.approx(formula(W), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("reg", "formula"), [c[1:] for c in PENALTY_TABLE], ids=[c[0] for c in PENALTY_TABLE]
)
def test_grad_equals_autograd_of_the_penalty(reg: Regularizer, formula: NumpyPenalty) -> None:
    w = torch.tensor(W, dtype=torch.float64, requires_grad=True)
    reg(w).backward()
    assert w.grad is not None
    mask = w.detach() != 0  # the subgradient at 0 is sign(0) = 0 in both
    torch.testing.assert_close(reg.grad(w.detach())[mask], w.grad[mask])


def test_proximal_mode_keeps_l1_out_of_the_loss_but_exposes_it() -> None:
    reg = L1L2(l1=0.2, l2=0.05, mode="proximal")
    assert reg.proximal and reg.l1 == 0.2 and reg.loss_l1 == 0.0
    assert not L1L2(l1=0.0, l2=0.05, mode="proximal").proximal  # nothing to threshold
    assert not L1(0.2).proximal


finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(
    w=arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=finite),
    c=st.floats(-50, 50, allow_nan=False),
    strength=st.floats(0, 10, allow_nan=False),
)
def test_homogeneity(w: np.ndarray, c: float, strength: float) -> None:
    t = torch.tensor(w)
    l1, l2 = L1(strength), L2(strength)
    assert l1(c * t).item() == pytest.approx(abs(c) * l1(t).item(), rel=1e-9, abs=1e-9)
    assert l2(c * t).item() == pytest.approx(c * c * l2(t).item(), rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    w=arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 4)),
             elements=finite),
    data=st.data(),
)  # fmt: skip
def test_member_stack_equals_single_penalties(w: np.ndarray, data: st.DataObject) -> None:
    m = w.shape[0]
    l1s = np.array(data.draw(st.lists(st.floats(0, 5), min_size=m, max_size=m)))
    l2s = np.array(data.draw(st.lists(st.floats(0, 5), min_size=m, max_size=m)))
    stacked = F.l1l2_penalty(torch.tensor(w), torch.tensor(l1s), torch.tensor(l2s))
    assert stacked.shape == (m,)
    for i in range(m):
        single = L1L2(l1=float(l1s[i]), l2=float(l2s[i]))(torch.tensor(w[i]))
        assert stacked[i].item() == pytest.approx(single.item(), rel=1e-9, abs=1e-9)


def test_member_penalty_of_a_regularizer_is_one_value_per_member() -> None:
    w = torch.tensor(np.stack([W, 2 * W, np.zeros_like(W)]))
    got = ElasticNet(alpha=0.4, l1_ratio=0.3).member_penalty(w)
    expected = [ElasticNet(alpha=0.4, l1_ratio=0.3)(w[i]).item() for i in range(3)]
    assert got.tolist() == pytest.approx(expected)
    assert got[2].item() == 0.0


# --- converters -----------------------------------------------------------------------------

strengths = st.one_of(st.just(0.0), st.floats(1e-12, 100))  # no subnormals: they underflow


@settings(max_examples=80, deadline=None)
@given(l1=strengths, l2=strengths)
def test_keras_to_elasticnet_round_trip_and_same_penalty(l1: float, l2: float) -> None:
    en = ElasticNet.from_keras(l1, l2)
    assert (en.l1, en.l2) == (pytest.approx(l1, abs=1e-12), pytest.approx(l2, abs=1e-12))
    back = en.to_keras()
    assert isinstance(back, L1L2)
    assert back.l1 == pytest.approx(l1, abs=1e-12) and back.l2 == pytest.approx(l2, abs=1e-12)
    w = torch.tensor(W)
    assert en(w).item() == pytest.approx(L1L2(l1, l2)(w).item(), rel=1e-9, abs=1e-12)


@settings(max_examples=80, deadline=None)
@given(alpha=strengths, l1_ratio=st.floats(0, 1))
def test_elasticnet_to_keras_to_elasticnet(alpha: float, l1_ratio: float) -> None:
    en = ElasticNet(alpha, l1_ratio)
    back = en.to_keras().to_elasticnet()
    assert back.alpha == pytest.approx(alpha, rel=1e-9)
    if alpha > 0:
        assert back.l1_ratio == pytest.approx(l1_ratio, rel=1e-9, abs=1e-12)
    w = torch.tensor(W)
    assert back(w).item() == pytest.approx(en(w).item(), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("l1", "l2", "alpha", "l1_ratio"),
    [(0.3, 0.1, 0.5, 0.6), (1.0, 0.0, 1.0, 1.0), (0.0, 0.5, 1.0, 0.0), (0.0, 0.0, 0.0, 0.5)],
    ids=["mixed", "pure-l1", "pure-l2", "zero"],
)
def test_keras_to_elasticnet_table(l1: float, l2: float, alpha: float, l1_ratio: float) -> None:
    en = ElasticNet.from_keras(l1, l2, mode="proximal")
    assert en.alpha == pytest.approx(alpha) and en.l1_ratio == pytest.approx(l1_ratio)
    assert en.mode == "proximal" and en.to_keras().mode == "proximal"


def test_glmnet_round_trip() -> None:
    en = ElasticNet.from_glmnet(lambda_=0.2, alpha=0.75)
    assert en == ElasticNet(alpha=0.2, l1_ratio=0.75)
    assert en.to_glmnet() == (0.2, 0.75)
    # glmnet's bracket: λ·[(1−α)/2·‖β‖² + α·‖β‖₁]
    expected = 0.2 * (0.25 / 2 * (W**2).sum() + 0.75 * np.abs(W).sum())
    assert en(torch.tensor(W)).item() == pytest.approx(expected)


@pytest.mark.parametrize(
    ("data_loss", "factor"), [("mse", 0.5), ("half_mse", 1.0)], ids=["mse", "half_mse"]
)
def test_sklearn_elasticnet_alpha_inverts_from_sklearn(data_loss: str, factor: float) -> None:
    assert sklearn_elasticnet_alpha(0.3, data_loss=data_loss) == pytest.approx(0.3 * factor)
    en = ElasticNet.from_sklearn(0.3 * factor, 0.4, data_loss=data_loss)
    assert en.alpha == pytest.approx(0.3) and en.l1_ratio == 0.4


def _fit_linear_ista(
    X: np.ndarray, y: np.ndarray, reg: Regularizer, *, steps: int = 4000
) -> np.ndarray:
    """Full-batch proximal gradient on MSE + reg (L1 part by soft-thresholding)."""
    torch.manual_seed(0)
    model = nn.Linear(X.shape[1], 1).double()
    add_regularizer(model, reg)
    Xt, yt = torch.tensor(X), torch.tensor(y).unsqueeze(1)
    design = np.hstack([X, np.ones((len(X), 1))])
    lipschitz = 2 * np.linalg.eigvalsh(design.T @ design / len(X)).max() + 2 * reg.l2
    opt = torch.optim.SGD(model.parameters(), lr=1.0 / lipschitz)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(Xt), yt) + regularization_loss(model)
        loss.backward()
        opt.step()
        proximal_step(model, opt)
    return model.weight.detach().numpy().ravel()


def test_reglab_elasticnet_with_mse_has_minimizer_of_sklearn_alpha_over_two() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    y = X @ np.array([2.0, -1.0, 0.0, 0.0, 0.5, 0.0]) + 0.3 * rng.normal(size=120)
    en = ElasticNet(alpha=0.3, l1_ratio=0.7, mode="proximal")
    ours = _fit_linear_ista(X, y, en)
    sk = SkElasticNet(
        alpha=sklearn_elasticnet_alpha(en.alpha), l1_ratio=en.l1_ratio, tol=1e-12, max_iter=100_000
    ).fit(X, y)
    np.testing.assert_allclose(ours, sk.coef_, atol=1e-6)
    assert (ours == 0).sum() == (sk.coef_ == 0).sum() > 0  # the same exact zeros
    # with sklearn's own alpha the solution differs: the factor 2 matters
    wrong = SkElasticNet(alpha=en.alpha, l1_ratio=en.l1_ratio, tol=1e-12).fit(X, y)
    assert np.abs(ours - wrong.coef_).max() > 1e-2


def test_l2_from_sklearn_mlp_matches_one_sklearn_sgd_step() -> None:
    """scikit-learn's MLPRegressor SGD step == torch SGD on ½·MSE + L2(alpha/(2·n))."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    alpha, lr = 0.7, 0.05
    sk = MLPRegressor(
        hidden_layer_sizes=(4,),
        activation="tanh",
        solver="sgd",
        alpha=alpha,
        batch_size=len(X),
        learning_rate_init=lr,
        momentum=0.0,
        shuffle=False,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.partial_fit(X, y)  # initializes (and takes a first step)
        before = [c.copy() for c in sk.coefs_], [b.copy() for b in sk.intercepts_]
        sk.partial_fit(X, y)

    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    with torch.no_grad():
        for layer, coef, bias in zip((model[0], model[2]), *before, strict=True):
            layer.weight.copy_(torch.tensor(coef.T))
            layer.bias.copy_(torch.tensor(bias))
    add_regularizer(model, L2.from_sklearn_mlp(alpha, batch_size=len(X)))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    pred = model(torch.tensor(X)).squeeze(1)
    loss = 0.5 * ((pred - torch.tensor(y)) ** 2).mean() + regularization_loss(model)
    loss.backward()
    opt.step()
    for layer, coef, bias in zip((model[0], model[2]), sk.coefs_, sk.intercepts_, strict=True):
        np.testing.assert_allclose(layer.weight.detach().numpy(), coef.T, atol=1e-12)
        np.testing.assert_allclose(layer.bias.detach().numpy(), bias, atol=1e-12)


@pytest.mark.parametrize(
    ("data_loss", "expected"), [("sklearn", 1e-4 / 64), ("mse", 2e-4 / 64)], ids=["same", "mse"]
)
def test_sklearn_mlp_l2_table(data_loss: str, expected: float) -> None:
    assert sklearn_mlp_l2(1e-4, 32, data_loss=data_loss) == pytest.approx(expected)


# --- configs, equality, coercion --------------------------------------------------------------


@pytest.mark.parametrize(
    "reg",
    [L1(0.2, mode="proximal"), L2(0.3), L1L2(0.1, 0.2), ElasticNet(0.5, 0.1, mode="proximal")],
    ids=["L1", "L2", "L1L2", "ElasticNet"],
)
def test_config_round_trip_and_equality(reg: Regularizer) -> None:
    rebuilt = deserialize(serialize(reg))
    assert rebuilt == reg and hash(rebuilt) == hash(reg)
    assert (rebuilt.l1, rebuilt.l2, rebuilt.mode) == (reg.l1, reg.l2, reg.mode)
    assert reg != L1L2(reg.l1 + 1.0, reg.l2)


def test_regularizers_of_different_types_are_not_equal() -> None:
    assert L1(0.1) != L1L2(l1=0.1)
    assert L1(0.1) == L1(0.1) and L1(0.1) != L1(0.1, mode="proximal")


def test_as_regularizer_accepts_objects_configs_and_none() -> None:
    assert as_regularizer(None, "Dense", "kernel_regularizer") is None
    assert as_regularizer(L2(0.1), "Dense", "kernel_regularizer") == L2(0.1)
    assert as_regularizer(serialize(L1(0.2)), "Dense", "kernel_regularizer") == L1(0.2)
    with pytest.raises(ConfigError, match=r"^Dense: `kernel_regularizer` must be a Regularizer"):
        as_regularizer("l2", "Dense", "kernel_regularizer")


# --- validation -------------------------------------------------------------------------------

BAD: list[tuple[str, Callable[[], Any], str]] = [
    ("L1-negative", lambda: L1(-1.0), r"^L1: `l1` must be a finite float >= 0; got -1\.0\.$"),
    ("L1-nan", lambda: L1(math.nan), r"^L1: `l1` must be a finite float >= 0; got nan\.$"),
    ("L1-inf", lambda: L1(math.inf), r"^L1: `l1` must be a finite float >= 0; got inf\.$"),
    ("L1-str", lambda: L1("0.1"), r"^L1: `l1` must be a finite float >= 0; got '0\.1'\.$"),  # type: ignore[arg-type]
    (
        "L1-mode",
        lambda: L1(0.1, mode="proximl"),
        r"^L1: `mode` must be one of 'penalty', 'proximal'; got 'proximl'\. "
        r"Did you mean 'proximal'\?$",
    ),
    ("L2-negative", lambda: L2(-0.5), r"^L2: `l2` must be a finite float >= 0; got -0\.5\.$"),
    (
        "L1L2-both",
        lambda: L1L2(l1=-1, l2=math.nan),
        r"^L1L2: `l1` must be a finite float >= 0; got -1\. "
        r"L1L2: `l2` must be a finite float >= 0; got nan\.$",
    ),
    (
        "ElasticNet-ratio",
        lambda: ElasticNet(1.0, l1_ratio=1.5),
        r"^ElasticNet: `l1_ratio` must be a float in \[0, 1\]; got 1\.5\.$",
    ),
    (
        "ElasticNet-alpha",
        lambda: ElasticNet(alpha=-0.1),
        r"^ElasticNet: `alpha` must be a finite float >= 0; got -0\.1\.$",
    ),
    (
        "ElasticNet-mode",
        lambda: ElasticNet(mode="l1"),
        r"^ElasticNet: `mode` must be one of 'penalty', 'proximal'; got 'l1'\.$",
    ),
    (
        "from_keras",
        lambda: ElasticNet.from_keras(-1.0, 0.0),
        r"^ElasticNet\.from_keras: `l1` must be a finite float >= 0; got -1\.0\.$",
    ),
    (
        "from_glmnet",
        lambda: ElasticNet.from_glmnet(0.1, alpha=2.0),
        r"^ElasticNet\.from_glmnet: `alpha` must be a float in \[0, 1\]; got 2\.0\.$",
    ),
    (
        "sklearn_alpha-loss",
        lambda: sklearn_elasticnet_alpha(0.1, data_loss="msee"),
        r"^sklearn_elasticnet_alpha: `data_loss` must be one of 'mse', 'half_mse'; got 'msee'\. "
        r"Did you mean 'mse'\?$",
    ),
    (
        "sklearn_mlp-batch",
        lambda: sklearn_mlp_l2(1e-4, 0),
        r"^sklearn_mlp_l2: `batch_size` must be an integer >= 1; got 0\.$",
    ),
]


@pytest.mark.parametrize(("make", "pattern"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_message(make: Callable[[], Any], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        make()


def test_penalty_gradient_with_a_scratch_buffer_is_the_same_bits() -> None:
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(3, 4, 5, generator=gen)
    w[0, 0, :2] = 0.0  # sign(0) = 0: no l1 pull on exact zeros
    grad = torch.randn(3, 4, 5, generator=gen)
    l1, l2 = torch.tensor([1e-3, 0.0, 0.5]), torch.tensor([0.0, 2e-3, 0.25])
    scratch = torch.full_like(w, float("nan"))
    with_scratch = F.add_penalty_grad_(grad.clone(), w, l1, l2, scratch=scratch)
    assert torch.equal(with_scratch, F.add_penalty_grad_(grad.clone(), w, l1, l2))
    assert torch.equal(scratch, torch.sign(w))
    expected = grad + l1.view(3, 1, 1) * torch.sign(w) + 2 * l2.view(3, 1, 1) * w
    torch.testing.assert_close(with_scratch, expected)
