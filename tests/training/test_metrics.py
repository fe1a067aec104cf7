"""Validation metrics against scikit-learn's, on random data (Hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import accuracy_score, mean_absolute_error, mean_squared_error, r2_score

from reglab.errors import ConfigError
from reglab.training.metrics import default_metric, get_metric, predict_labels

floats = st.floats(-100, 100, allow_nan=False, width=64)


@settings(max_examples=50, deadline=None)
@given(
    out=arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 3)), elements=floats),
    data=st.data(),
)
def test_regression_metrics_match_sklearn(out: np.ndarray, data: st.DataObject) -> None:
    y = data.draw(arrays(np.float64, out.shape, elements=floats))
    o, t = torch.tensor(out), torch.tensor(y)
    assert get_metric("mse", "regression")(o, t) == pytest.approx(mean_squared_error(y, out))
    assert get_metric("rmse", "regression")(o, t) == pytest.approx(
        np.sqrt(mean_squared_error(y, out))
    )
    assert get_metric("mae", "regression")(o, t) == pytest.approx(mean_absolute_error(y, out))
    if np.all(y.std(axis=0) > 1e-3):  # R² is defined when every target varies
        assert get_metric("r2", "regression")(o, t) == pytest.approx(
            r2_score(y, out), rel=1e-9, abs=1e-9
        )


@settings(max_examples=50, deadline=None)
@given(
    logits=arrays(np.float64, st.tuples(st.integers(1, 30), st.integers(1, 4)), elements=floats),
    data=st.data(),
)
def test_accuracy_matches_sklearn(logits: np.ndarray, data: st.DataObject) -> None:
    k = max(logits.shape[1], 2)
    y = np.array(
        data.draw(st.lists(st.integers(0, k - 1), min_size=len(logits), max_size=len(logits)))
    )
    pred = (logits[:, 0] > 0).astype(int) if logits.shape[1] == 1 else logits.argmax(1)
    o, t = torch.tensor(logits), torch.tensor(y)
    assert predict_labels(o).tolist() == pred.tolist()
    assert get_metric("accuracy", "multiclass")(o, t) == pytest.approx(accuracy_score(y, pred))
    assert get_metric("error_rate", "binary")(o, t) == pytest.approx(1 - accuracy_score(y, pred))


def test_r2_of_a_constant_target() -> None:
    r2 = get_metric("r2", "regression")
    t = torch.ones(4, 1)
    assert r2(t.clone(), t) == 1.0
    assert r2(t * 2, t) == 0.0


@pytest.mark.parametrize(
    ("task", "name", "higher"),
    [("regression", "r2", True), ("binary", "accuracy", True), ("multiclass", "accuracy", True)],
)
def test_defaults_and_directions(task: str, name: str, higher: bool) -> None:
    metric = default_metric(task)
    assert (metric.name, metric.higher_is_better) == (name, higher)
    assert not get_metric("mse", "regression").higher_is_better
    assert not get_metric("error_rate", "multiclass").higher_is_better


def test_unknown_metric_suggests_a_name() -> None:
    with pytest.raises(
        ConfigError, match=r"fit: `metric` must be one of .*Did you mean 'accuracy'"
    ):
        get_metric("acuracy", "binary")
