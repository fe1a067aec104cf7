"""Scores against scikit-learn, and the weight summaries' edges and clipping."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics

from reglab.engine import Architecture
from reglab.engine.result import (
    HISTOGRAM_BINS,
    classification_scores,
    histogram_edges,
    regression_scores,
    weight_summary,
)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 40),
    k=st.integers(2, 5),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_classification_scores_are_sklearns(n: int, k: int, seed: int, dtype: type) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)  # some classes may be missing from y, or from the predictions
    proba = rng.random((n, k)) ** 4 + 1e-3  # some near 0 and 1, so the clipping matters
    proba = (proba / proba.sum(1, keepdims=True)).astype(dtype)
    proba[0, y[0]] = 1.0  # clipped to 1 − ε
    scores = classification_scores(y, proba)
    pred = proba.argmax(1)
    assert scores["accuracy"] == metrics.accuracy_score(y, pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true", sums ≠ 1
        expected_bal = metrics.balanced_accuracy_score(y, pred)
        expected_loss = metrics.log_loss(y, proba, labels=np.arange(k))
    assert scores["balanced_accuracy"] == expected_bal
    assert scores["log_loss"] == expected_loss


def test_regression_scores_are_sklearns() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=30)
    pred = y + rng.normal(scale=0.3, size=30)
    scores = regression_scores(y, pred)
    assert scores["rmse"] == pytest.approx(math.sqrt(metrics.mean_squared_error(y, pred)))
    assert scores["mae"] == pytest.approx(metrics.mean_absolute_error(y, pred))
    assert scores["r2"] == pytest.approx(metrics.r2_score(y, pred))


def test_no_rows_no_scores() -> None:
    assert classification_scores(np.zeros(0, int), np.zeros((0, 3))) == {}
    assert regression_scores(np.zeros(0), np.zeros(0)) == {}


def test_histogram_edges_are_symmetric_with_a_bin_centred_on_zero() -> None:
    edges = histogram_edges(25)
    assert len(edges) == HISTOGRAM_BINS + 1
    np.testing.assert_allclose(edges, -edges[::-1], atol=1e-12)
    middle = HISTOGRAM_BINS // 2
    assert edges[middle] == pytest.approx(-edges[middle + 1])
    assert edges[-1] == pytest.approx(8 / 5)


def test_weight_summary_counts_outliers_in_the_outer_bins() -> None:
    arch = Architecture(2, 1, hidden=(3,))
    weights = {
        "dense0.weight": np.array([[0.0, 100.0], [-100.0, 1e-4], [0.5, 0.0]]),  # [out, in]
        "output.weight": np.array([[1.0, -1.0, 0.0]]),
    }
    sparsity, near_zero, hist, norms = weight_summary(arch, weights)
    assert sparsity == {"dense0": pytest.approx(2 / 6), "output": pytest.approx(1 / 3)}
    assert near_zero == {"dense0": pytest.approx(3 / 6), "output": pytest.approx(1 / 3)}
    _, counts = hist["dense0"]
    assert counts[0] == 1 and counts[-1] == 1 and sum(counts) == 6
    assert counts[HISTOGRAM_BINS // 2] == 3  # 0, 0 and 1e-4
    np.testing.assert_allclose(norms, [math.hypot(0.0, 100.0, 0.5), math.hypot(100.0, 1e-4)])
