"""The scikit-learn estimators: the estimator contract, GridSearchCV, every hyperparameter."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

from reglab.errors import ConfigError, DataError
from reglab.layers import AlphaDropout, Dropout, GaussianDropout
from reglab.layers.dropconnect import drop_connect_rates
from reglab.regularizers import L1L2, MaxNorm, iter_constrained, iter_regularized
from reglab.training.estimator import RegularizedMLPClassifier, RegularizedMLPRegressor

FAST: dict[str, Any] = {"hidden_layer_sizes": (8,), "epochs": 5, "random_state": 0}


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_init_stores_arguments_unchanged_and_validates_nothing() -> None:
    clf = RegularizedMLPClassifier(dropout=1.5, hidden_layer_sizes=[4, 4], l2="lots")
    params = clf.get_params()
    assert params["dropout"] == 1.5 and params["hidden_layer_sizes"] == [4, 4]
    assert params["l2"] == "lots"
    with pytest.raises(ConfigError, match=r"RegularizedMLPClassifier: `l2` must be a finite"):
        clf.fit(np.zeros((4, 2)), [0, 1, 0, 1])


@pytest.mark.parametrize("cls", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_clone_and_get_params_round_trip(cls: type) -> None:
    est = cls(hidden_layer_sizes=(5, 3), l1=1e-4, dropout=(0.1, 0.2), max_norm=3.0, patience=4)
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    again = cls(**est.get_params())
    assert again.get_params() == est.get_params()
    est.set_params(l2=0.5, batch_norm=True)
    assert est.get_params()["l2"] == 0.5 and clone(est).get_params()["batch_norm"] is True
    assert "l1=0.0001" in repr(twin)


def test_clone_of_a_fitted_estimator_is_unfitted(iris: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = iris
    clf = RegularizedMLPClassifier(**FAST).fit(X, y)
    fresh = clone(clf)
    assert not hasattr(fresh, "model_")
    with pytest.raises(NotFittedError):
        fresh.predict(X)


def test_grid_search_over_l2_and_dropout_on_iris(iris: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(),
        RegularizedMLPClassifier(
            hidden_layer_sizes=(16,), lr=0.02, epochs=15, batch_size=16, early_stopping=False,
            random_state=0,
        ),
    )  # fmt: skip
    grid = {
        "regularizedmlpclassifier__l2": [0.0, 1e-2],
        "regularizedmlpclassifier__dropout": [0.0, 0.3],
    }
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_score_ > 0.8
    best = search.best_estimator_[-1]
    assert best.l2 == search.best_params_["regularizedmlpclassifier__l2"]
    assert search.score(X, y) > 0.8


def test_classifier_learns_iris_with_early_stopping(iris: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = iris
    clf = RegularizedMLPClassifier(
        hidden_layer_sizes=(16,), l2=1e-3, lr=0.02, epochs=100, patience=5, random_state=0
    ).fit(X, y)
    assert clf.score(X, y) > 0.9
    assert clf.n_features_in_ == 4 and clf.classes_.tolist() == [0, 1, 2]
    assert clf.n_iter_ == len(clf.history_) <= 100
    assert clf.best_epoch_ == clf.history_.best_epoch >= 1
    # the validation curves exist: early stopping held out validation_fraction of the rows
    assert np.isfinite(clf.history_.val_loss).all()
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), proba.argmax(axis=1))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)
    assert not clf.model_.training


def test_binary_string_labels(iris: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = iris
    labels = np.where(y == 0, "setosa", "other")
    clf = RegularizedMLPClassifier(**{**FAST, "epochs": 20, "lr": 0.02}).fit(X, labels)
    assert clf.classes_.tolist() == ["other", "setosa"]
    assert clf.model_.output.out_features == 1  # one logit, binary cross-entropy
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 2)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, labels) > 0.95


def test_regressor_on_diabetes() -> None:
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = (y - y.mean()) / y.std()
    reg = RegularizedMLPRegressor(
        hidden_layer_sizes=(16,), l2=1e-3, lr=1e-2, epochs=60, random_state=0
    ).fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == (442,)
    assert reg.score(X, y) > 0.4
    two = RegularizedMLPRegressor(**FAST).fit(X, np.column_stack([y, -y]))
    assert two.predict(X).shape == (442, 2)


def test_random_state_reproduces_and_leaves_global_rng_alone(
    iris: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = iris
    params = {**FAST, "dropout": 0.3}
    state = torch.random.get_rng_state()
    a = RegularizedMLPClassifier(**params).fit(X, y)
    b = RegularizedMLPClassifier(**params).fit(X, y)
    c = RegularizedMLPClassifier(**{**params, "random_state": 1}).fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), state)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def modules_of(clf: Any, kind: type) -> list[nn.Module]:
    return [m for m in clf.model_.modules() if isinstance(m, kind)]


TECHNIQUES = [
    ("l1-l2", {"l1": 1e-3, "l2": 1e-2},
     lambda c: [(n, r) for n, _, r in iter_regularized(c.model_)]
     == [("dense0.weight", L1L2(1e-3, 1e-2))]),  # hidden kernels only, not the output
    ("l1-proximal-gives-zeros", {"l1": 0.05, "l1_mode": "proximal", "epochs": 30},
     lambda c: (c.model_.dense0.weight == 0).float().mean() > 0.3),
    ("dropout", {"dropout": 0.3}, lambda c: [m.p for m in modules_of(c, Dropout)] == [0.3]),
    ("input-dropout", {"input_dropout": 0.2},
     lambda c: c.model_.dropout_in.p == 0.2),
    ("gaussian-dropout", {"dropout": 0.3, "dropout_kind": "gaussian"},
     lambda c: len(modules_of(c, GaussianDropout)) == 1),
    ("alpha-dropout", {"dropout": 0.1, "dropout_kind": "alpha", "activation": "selu"},
     lambda c: len(modules_of(c, AlphaDropout)) == 1),
    ("per-layer-dropout", {"hidden_layer_sizes": (8, 8), "dropout": (0.1, 0.4)},
     lambda c: [m.p for m in modules_of(c, Dropout)] == [0.1, 0.4]),
    ("drop-connect", {"drop_connect": 0.25},
     lambda c: drop_connect_rates(c.model_.dense0) == {"weight": 0.25}),
    ("max-norm", {"max_norm": 0.5, "lr": 0.1},
     lambda c: all(isinstance(k, MaxNorm) for _, _, k in iter_constrained(c.model_))
     and c.model_.dense0.weight.norm(dim=1).max() <= 0.5 + 1e-5),
    ("batch-norm", {"batch_norm": True},
     lambda c: len(modules_of(c, nn.BatchNorm1d)) == 1),
    ("weight-decay-is-not-a-penalty", {"weight_decay": 0.1},
     lambda c: c.history_.penalty[-1] == 0.0 and not list(iter_regularized(c.model_))),
    ("no-early-stopping-runs-every-epoch", {"early_stopping": False},
     lambda c: c.n_iter_ == 5 and np.isnan(c.history_.val_loss).all()),
    ("activation", {"activation": "tanh"}, lambda c: c.model_.act0.name == "tanh"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "check"), [t[1:] for t in TECHNIQUES], ids=[t[0] for t in TECHNIQUES]
)
def test_every_technique_reaches_the_model(
    iris: tuple[np.ndarray, np.ndarray], params: dict[str, Any], check: Any
) -> None:
    X, y = iris
    clf = RegularizedMLPClassifier(**{**FAST, **params}).fit(X, y)
    assert check(clf)


def test_weight_decay_changes_the_result(iris: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = iris
    plain = RegularizedMLPClassifier(**{**FAST, "lr": 0.05}).fit(X, y)
    decayed = RegularizedMLPClassifier(**{**FAST, "weight_decay": 0.5, "lr": 0.05}).fit(X, y)
    assert decayed.model_.dense0.weight.norm() < plain.model_.dense0.weight.norm()


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"dropout": 1.0}, r"RegularizedMLPClassifier: `dropout` must be a float in \[0, 1\)"),
        ({"l1_mode": "prox"}, r"`l1_mode` must be one of 'penalty', 'proximal'; got 'prox'"),
        ({"hidden_layer_sizes": (8, 0)}, r"`hidden_layer_sizes` must be an integer >= 1; got 0"),
        ({"dropout": (0.1, 0.2)}, r"`dropout` must be a float or one rate per hidden layer"),
        ({"optimizer": "sgdd"}, r"`optimizer` .*got 'sgdd'\. Did you mean 'sgd'\?"),
        ({"validation_fraction": 0.0}, r"`validation_fraction` must be a float in \(0, 1\)"),
        ({"activation": "rleu"}, r"`activation` .*Did you mean 'relu'\?"),
        ({"max_norm": -1.0, "l2": -1.0}, r"`l2` must .*`max_norm` must"),
    ],
    ids=["dropout", "l1-mode", "hidden", "dropout-per-layer", "optimizer", "validation",
         "activation", "several"],
)  # fmt: skip
def test_invalid_hyperparameters_fail_in_fit(params: dict[str, Any], match: str) -> None:
    clf = RegularizedMLPClassifier(**params)  # constructing never fails
    with pytest.raises(ConfigError, match=match):
        clf.fit(np.zeros((6, 2)), [0, 1] * 3)


def test_data_errors(iris: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = iris
    with pytest.raises(DataError, match=r"`y` must hold at least 2 classes; got 1\."):
        RegularizedMLPClassifier(**FAST).fit(X, np.zeros(150))
    with pytest.raises(ValueError, match=r"NaN"):
        RegularizedMLPClassifier(**FAST).fit(np.where(X > 2, np.nan, X), y)
    clf = RegularizedMLPClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"X has 3 features, but RegularizedMLPClassifier is exp"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match=r"Unknown label type: .*continuous"):
        RegularizedMLPClassifier(**FAST).fit(X, X[:, 0])
    with pytest.raises(DataError, match=r"`X` must have at least 2 rows with early_stopping=True"):
        RegularizedMLPRegressor(**FAST).fit(X[:1], [1.0])
    with pytest.raises(NotFittedError):
        RegularizedMLPRegressor().predict(X)


@parametrize_with_checks(
    [
        RegularizedMLPClassifier((16,), lr=0.02, epochs=30, random_state=0, device="cpu"),
        RegularizedMLPRegressor((16,), lr=0.02, epochs=30, random_state=0, device="cpu"),
    ]
)
def test_scikit_learn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)
