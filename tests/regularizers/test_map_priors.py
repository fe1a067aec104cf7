"""The MAP equivalences with reglab's exact scaling, checked numerically on linear models.

A Gaussian prior N(0, σ²) is ``L2(1/(2σ²N))`` and a Laplace prior of scale b is ``L1(1/(bN))``
on reglab's batch-mean loss (regression: ``L2(s²/(σ²N))``, ``L1(2s²/(bN))`` with noise
variance s²).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from reglab.errors import ConfigError
from reglab.regularizers import L1, L2


def _data() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(x)[:, :8], y


def _mean_ce(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray) -> float:
    z = x @ w + b
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
def test_log_posterior_is_n_times_reglabs_objective_plus_a_constant(prior: str) -> None:
    x, y = _data()
    n = len(y)
    if prior == "gaussian":
        variance = 0.7
        reg = L2.from_gaussian_prior(variance, n)
        log_prior = stats.norm(scale=np.sqrt(variance)).logpdf
    else:
        scale = 0.3
        reg = L1.from_laplace_prior(scale, n)
        log_prior = stats.laplace(scale=scale).logpdf
    rng = np.random.default_rng(0)
    gaps = []
    for _ in range(5):
        w, b = rng.normal(size=x.shape[1]), float(rng.normal())
        neg_log_post = n * _mean_ce(w, b, x, y) - log_prior(w).sum()
        objective = _mean_ce(w, b, x, y) + float(reg(torch.from_numpy(w)))
        gaps.append(neg_log_post - n * objective)
    assert np.ptp(gaps) < 1e-8 * abs(gaps[0]) + 1e-8  # the same constant for every w


def test_l2_map_fit_equals_scikit_learns_logistic_regression() -> None:
    # scikit-learn minimizes ½‖w‖² + C·Σ CE_i: the MAP under N(0, C), intercept unpenalized.
    x, y = _data()
    variance = 0.05
    reg = L2.from_gaussian_prior(variance, len(y))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).double()
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=500, tolerance_grad=1e-12,
                            tolerance_change=1e-14, line_search_fn="strong_wolfe")  # fmt: skip

    def closure() -> torch.Tensor:
        opt.zero_grad()
        z = xt @ w + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, yt) + reg(w)
        loss.backward()
        return loss

    opt.step(closure)
    sk = LogisticRegression(C=variance, tol=1e-12, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(w.detach().numpy(), sk.coef_[0], atol=1e-6)
    assert float(b.detach()) == pytest.approx(float(sk.intercept_[0]), abs=1e-6)


def test_regression_scaling_and_bad_priors() -> None:
    assert L2.from_gaussian_prior(2.0, 100, noise_variance=0.5).l2 == pytest.approx(0.5 / 200)
    assert L1.from_laplace_prior(0.5, 100, noise_variance=0.25).l1 == pytest.approx(0.5 / 50)
    with pytest.raises(ConfigError, match=r"L2\.from_gaussian_prior: `variance` must be"):
        L2.from_gaussian_prior(0.0, 100)
    with pytest.raises(ConfigError, match=r"L1\.from_laplace_prior: `n_train` must be"):
        L1.from_laplace_prior(1.0, 0)
