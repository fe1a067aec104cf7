"""reglab.fit on linear models reproduces scikit-learn's Elastic Net and L1 logistic regression.

Full-batch SGD with proximal L1 is ISTA, the proximal-gradient method: with a step size
``lr < 2/L`` (``L`` the Lipschitz constant of the smooth part's gradient) it converges to the
exact penalized minimizer, zeros included, so the coefficients must match scikit-learn's
coordinate-descent / SAGA solutions.
"""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import reglab
from reglab.regularizers import L1, ElasticNet, add_regularizer


def linear(n_features: int) -> torch.nn.Linear:
    model = torch.nn.Linear(n_features, 1, dtype=torch.float64)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    return model


def assert_same_solution(w: np.ndarray, coef: np.ndarray, rtol: float = 1e-3) -> None:
    scale = np.abs(coef).max()
    np.testing.assert_allclose(w, coef, rtol=0, atol=rtol * scale)
    np.testing.assert_array_equal(w == 0, coef == 0, err_msg="zero patterns differ")


@pytest.fixture(scope="module")
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), y - y.mean()


# (scikit-learn alpha, l1_ratio, number of exact zeros in its solution)
ELASTIC_NET = [
    pytest.param(1.0, 1.0, 3, id="lasso-alpha1"),
    pytest.param(5.0, 1.0, 5, id="lasso-alpha5"),
    pytest.param(2.0, 0.9, 2, id="enet-alpha2-l1ratio0.9"),
    pytest.param(0.5, 0.5, 0, id="enet-alpha0.5-l1ratio0.5"),
]


@pytest.mark.parametrize(("alpha", "l1_ratio", "n_zeros"), ELASTIC_NET)
def test_elastic_net_matches_sklearn(
    diabetes: tuple[np.ndarray, np.ndarray], alpha: float, l1_ratio: float, n_zeros: int
) -> None:
    X, y = diabetes
    n = len(y)
    ref = SkElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000).fit(X, y)
    assert int((ref.coef_ == 0).sum()) == n_zeros

    # scikit-learn minimizes ½·MSE + P_alpha; reglab trains MSE + P, i.e. twice ½·MSE + P/2,
    # so reglab's alpha is twice scikit-learn's (ElasticNet.from_sklearn does the conversion).
    reg = ElasticNet.from_sklearn(alpha, l1_ratio, mode="proximal")
    assert reg.alpha == pytest.approx(2 * alpha)
    model = linear(X.shape[1])
    add_regularizer(model, reg)

    # Smooth part MSE + l2·‖w‖²: Hessian 2·[XᵀX/n, 0; 0, 1] + 2·l2 (X standardized: the
    # intercept's column of ones is orthogonal to X's columns).
    lipschitz = 2 * max(np.linalg.eigvalsh(X.T @ X / n).max(), 1.0) + 2 * reg.l2
    history = reglab.fit(
        model, X, y, task="regression", optimizer="sgd", lr=1.0 / lipschitz,
        epochs=600, batch_size=None, shuffle=False, device="cpu",
    )  # fmt: skip
    w = model.weight.detach().numpy()[0]
    assert_same_solution(w, ref.coef_)
    assert model.bias.item() == pytest.approx(ref.intercept_, abs=1e-6)
    # the recorded penalty is the full Elastic Net term, proximal L1 part included
    expected_penalty = reg.l1 * np.abs(w).sum() + reg.l2 * (w**2).sum()
    assert history.penalty[-1] == pytest.approx(expected_penalty, rel=1e-9)


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def sklearn_l1_logistic(C: float) -> LogisticRegression:
    major, minor = (int(v) for v in sklearn.__version__.split(".")[:2])
    kind = {"l1_ratio": 1.0} if (major, minor) >= (1, 8) else {"penalty": "l1"}
    return LogisticRegression(C=C, solver="saga", tol=1e-12, max_iter=1_000_000, **kind)


@pytest.mark.parametrize(
    ("C", "n_nonzero", "epochs"),
    [pytest.param(0.02, 4, 3000, id="C0.02"), pytest.param(0.05, 5, 4500, id="C0.05")],
)
def test_l1_logistic_regression_matches_sklearn(
    breast_cancer: tuple[np.ndarray, np.ndarray], C: float, n_nonzero: int, epochs: int
) -> None:
    X, y = breast_cancer
    n = len(y)
    ref = sklearn_l1_logistic(C).fit(X, y)
    assert int((ref.coef_ != 0).sum()) == n_nonzero

    # scikit-learn: C·Σ logloss + ‖w‖₁ = C·n·(mean logloss + ‖w‖₁/(C·n)); intercept unpenalized.
    model = linear(X.shape[1])
    add_regularizer(model, L1(1.0 / (C * n), mode="proximal"))
    # mean logloss has Hessian Xᵀ·diag(s(1−s))·X/n ≤ X̃ᵀX̃/(4n) (X̃ = X with a column of ones);
    # proximal gradient converges for any step below 2/L.
    X1 = np.c_[X, np.ones(n)]
    lipschitz = np.linalg.eigvalsh(X1.T @ X1 / n).max() / 4
    history = reglab.fit(
        model, X, y, task="binary", optimizer="sgd", lr=1.9 / lipschitz,
        epochs=epochs, batch_size="full", shuffle=False, device="cpu",
    )  # fmt: skip
    assert_same_solution(model.weight.detach().numpy()[0], ref.coef_[0])
    assert model.bias.item() == pytest.approx(ref.intercept_[0], abs=1e-3)
    assert history.train_loss[-1] <= history.train_loss[0]
