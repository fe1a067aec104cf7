"""The final model: fit → save → load → predict gives the in-memory model's predictions bit for
bit, and those are the engine member's (its stored scores recomputed from them)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import metrics
from sklearn.datasets import load_iris

import reglab
from reglab.data.builtin import load_source
from reglab.errors import ConfigError
from reglab.final import FinalModel
from reglab.final.fit import validation_rows
from reglab.stats.answer import Answer

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
CRX, MPG = SHARED / "crx.csv", SHARED / "auto-mpg.csv"
needs_data = pytest.mark.skipif(
    not (CRX.exists() and MPG.exists()), reason="../shared/data is not present"
)
FAST = {"epochs": 3, "hidden": (8,), "device": "cpu"}


@pytest.fixture(scope="module")
def crx() -> FinalModel:
    return reglab.fit_final(CRX, target="a16", strategy="dropout=0.3+l2=1e-4", **FAST)


@pytest.fixture(scope="module")
def mpg() -> FinalModel:
    return reglab.fit_final(MPG, target="mpg", drop=["name"], strategy="l2=1e-4", **FAST)


@needs_data
@pytest.mark.parametrize("which", ["crx", "mpg"])
def test_save_load_predict_round_trip_is_exact(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    model: FinalModel = request.getfixturevalue(which)
    data = CRX if which == "crx" else MPG
    path = model.save(tmp_path / "m.reglab")
    loaded = reglab.load(path)
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
    if model.task != "regression":
        np.testing.assert_array_equal(loaded.predict_proba(data), model.predict_proba(data))
    pd.testing.assert_frame_equal(loaded.predictions(data), model.predictions(data))
    assert loaded.to_bytes() == path.read_bytes()  # saving again writes the same bytes
    assert isinstance(loaded.module, torch.nn.Module) and not loaded.module.training
    for key, value in model.module.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[key], value), key
    assert (loaded.strategy, loaded.arch, loaded.train) == (model.strategy, model.arch, model.train)
    assert loaded.info == model.info and loaded.classes == model.classes


@needs_data
def test_classifier_predictions_are_the_engine_members(crx: FinalModel) -> None:
    """The engine scored the member on its training and validation rows; the exported module,
    preprocessing and target encoding give the same scores."""
    ds = load_source(str(CRX), "a16")
    train, val = validation_rows(ds.y, ds.task, 0.2, seed=0)
    proba = crx.predict_proba(ds.X)
    assert crx.classes == ("+", "-") and proba.shape == (690, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    for rows, name in ((train, "training scores"), (val, "validation scores")):
        scores = crx.info["training"][name]
        assert metrics.log_loss(ds.y[rows], proba[rows]) == pytest.approx(
            scores["log_loss"], abs=1e-5
        )
        labels = crx.predict(ds.X)[rows]
        assert np.mean(labels == np.asarray(crx.classes)[ds.y[rows]]) == pytest.approx(
            scores["accuracy"], abs=1e-9
        )


@needs_data
def test_regression_values_are_in_the_targets_units(mpg: FinalModel) -> None:
    ds = load_source(str(MPG), "mpg", drop=["name"])
    train, val = validation_rows(ds.y, ds.task, 0.2, seed=0)
    assert mpg.target_mean == pytest.approx(ds.y[train].mean())
    assert mpg.target_std == pytest.approx(ds.y[train].std())
    values = mpg.predict(ds.X)
    rmse = float(np.sqrt(np.mean((values[val] - ds.y[val]) ** 2)))
    assert rmse == pytest.approx(mpg.info["training"]["validation scores"]["rmse"], rel=1e-5)
    with pytest.raises(ConfigError, match="must be a classifier; got a regression model"):
        mpg.predict_proba(ds.X)


def test_arrays_and_a_multiclass_model(tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True)
    model = reglab.fit_final(X, y, strategy="none", early_stopping=False, **FAST)
    assert (
        model.columns == ("x0", "x1", "x2", "x3") and model.info["training"]["validation rows"] == 0
    )
    assert model.predict(X).shape == (150,) and set(model.predict(X)) <= {"0", "1", "2"}
    loaded = reglab.load(model.save(tmp_path / "iris.reglab"))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert "3 classes" in repr(model)


def test_a_study_result_gives_its_recommendation_and_settings() -> None:
    data = "builtin:breast_cancer"
    result = reglab.bench(data, strategies="l2=1e-3,dropout=0.1", cv=3, epochs=3, hidden=(6,),
                          patience=1, device="cpu")  # fmt: skip
    assert result.winner == "l2=1e-3"
    model = reglab.fit_final(data, strategy=result, device="cpu")
    assert model.strategy.name == result.winner and model.strategy.l2 == 1e-3
    assert model.arch.hidden == (6,) and model.train.epochs == 3 and model.train.patience == 1
    assert model.info["study"] == {"name": result.name, "answer": result.headline}
    override = reglab.fit_final(data, strategy=result, epochs=1, device="cpu")
    assert override.info["training"]["epochs run"] == 1

    undecided = dataclasses.replace(
        result, answer=Answer("nothing-learned", "No strategy learned anything.")
    )
    with pytest.raises(ConfigError, match=r"recommends no strategy .*choose one with --strategy"):
        reglab.fit_final(data, strategy=undecided)


@pytest.mark.parametrize(
    ("strategy", "match"),
    [
        ("none,l2", r"`strategy` \(--strategy\) must be one strategy; got 2 \(none, l2\)"),
        (None, "`strategy` must be one strategy"),
        ("dropuot", "Did you mean 'dropout'"),
    ],
    ids=["two", "missing", "unknown-term"],
)
def test_bad_strategies_are_refused_before_training(strategy: str | None, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        reglab.fit_final("builtin:iris", strategy=strategy, **FAST)


def test_bad_settings_are_refused_together() -> None:
    with pytest.raises(ConfigError, match=r"`hidden`.*`seed`"):
        reglab.fit_final("builtin:iris", strategy="none", hidden=(0,), seed=-1)
