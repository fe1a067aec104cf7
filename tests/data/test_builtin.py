"""Built-in data sets: documented shapes, scikit-learn equality, ground truth, W1 reproduction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

from reglab.data import BUILTIN, list_builtin, load_builtin, load_source
from reglab.errors import ConfigError, DataError

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

DOCUMENTED = [
    ("breast_cancer", "binary", 569, 30, 2),
    ("digits", "multiclass", 1797, 64, 10),
    ("wine", "multiclass", 178, 13, 3),
    ("iris", "multiclass", 150, 4, 3),
    ("diabetes", "regression", 442, 10, 0),
    ("synthetic-classification", "multiclass", 1000, 20, 3),
    ("synthetic-regression", "regression", 1000, 20, 0),
    ("w1", "multiclass", 2000, 50, 7),
    ("sunspots", "regression", 289, 20, 0),
]


def test_list_builtin_is_the_documented_table() -> None:
    infos = list_builtin()
    assert [(i.name, i.task, i.n_rows, i.n_features, i.n_classes) for i in infos] == DOCUMENTED
    assert all(i.description for i in infos)
    assert list(BUILTIN) == [i.name for i in infos]


@pytest.mark.parametrize(("name", "task", "n_rows", "n_features", "n_classes"), DOCUMENTED,
                         ids=[row[0] for row in DOCUMENTED])  # fmt: skip
def test_builtin_loads_with_documented_shape(
    name: str, task: str, n_rows: int, n_features: int, n_classes: int
) -> None:
    ds = load_builtin(name)
    assert (ds.task, ds.n_rows, ds.n_features, ds.n_classes) == (
        task,
        n_rows,
        n_features,
        n_classes,
    )
    assert ds.X.shape == (n_rows, n_features)
    assert ds.numeric_columns == ds.feature_names
    assert ds.categorical_columns == ()
    assert ds.source == f"builtin:{name}"
    assert ds.target == BUILTIN[name].target
    assert not ds.X.isna().to_numpy().any()
    if task == "regression":
        assert ds.y.dtype == np.float64
    else:
        assert ds.y.dtype == np.int64
        assert sorted(np.unique(ds.y).tolist()) == list(range(n_classes))


@pytest.mark.parametrize(
    ("name", "loader"),
    [
        pytest.param("breast_cancer", datasets.load_breast_cancer, id="breast_cancer"),
        pytest.param("digits", datasets.load_digits, id="digits"),
        pytest.param("wine", datasets.load_wine, id="wine"),
        pytest.param("iris", datasets.load_iris, id="iris"),
        pytest.param("diabetes", datasets.load_diabetes, id="diabetes"),
    ],
)
def test_scikit_learn_tables_are_unchanged(name: str, loader: object) -> None:
    bunch = loader()  # type: ignore[operator]
    ds = load_builtin(name)
    np.testing.assert_array_equal(ds.X.to_numpy(), bunch.data)
    np.testing.assert_array_equal(ds.y, bunch.target)
    assert list(ds.feature_names) == list(bunch.feature_names)
    if hasattr(bunch, "target_names"):
        assert ds.classes == tuple(str(c) for c in bunch.target_names)


def test_w1_matches_the_reference_file() -> None:
    path = DATA / "w1.csv"
    if not path.exists():
        pytest.skip("w1.csv is not in the shared data folder")
    ref = pd.read_csv(path)
    ds = load_builtin("w1")
    assert list(ds.feature_names) == [f"x{j}" for j in range(50)]
    np.testing.assert_allclose(ds.X.to_numpy(), ref[list(ds.feature_names)].to_numpy(), atol=1e-5)
    np.testing.assert_array_equal(ds.y, ref["y"].to_numpy())


def test_w1_is_standardized() -> None:
    X = load_builtin("w1").X.to_numpy()
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1.0, atol=1e-12)


def test_synthetic_classification_ground_truth() -> None:
    ds = load_builtin("synthetic-classification")
    truth = ds.ground_truth
    assert truth is not None
    assert {k: len(v) for k, v in truth.items()} == {
        "informative": 5, "redundant": 3, "repeated": 2, "noise": 10,
    }  # fmt: skip
    assert ds.informative == ("inf_0", "inf_1", "inf_2", "inf_3", "inf_4")
    assert [n for group in truth.values() for n in group] == list(ds.feature_names)
    X = ds.X
    inf = X[list(truth["informative"])].to_numpy()
    # redundant = linear combinations of the informative features: least squares is exact
    red = X[list(truth["redundant"])].to_numpy()
    coef, *_ = np.linalg.lstsq(inf, red, rcond=None)
    np.testing.assert_allclose(inf @ coef, red, atol=1e-8)
    # repeated = copies of informative or redundant columns
    pool = X[[*truth["informative"], *truth["redundant"]]].to_numpy()
    for name in truth["repeated"]:
        col = X[name].to_numpy()[:, None]
        assert np.isclose(pool, col).all(axis=0).any()
    # noise columns are not linear combinations of the informative ones
    noise = X[list(truth["noise"])].to_numpy()
    coef, *_ = np.linalg.lstsq(inf, noise, rcond=None)
    assert np.abs(inf @ coef - noise).mean() > 0.5
    # rows are shuffled: the classes are interleaved, not in blocks
    assert len(np.flatnonzero(np.diff(ds.y))) > 300


def test_synthetic_regression_ground_truth() -> None:
    ds = load_builtin("synthetic-regression")
    assert ds.coefficients is not None
    coef = np.array(ds.coefficients)
    assert ds.informative == tuple(f"inf_{i}" for i in range(5))
    assert (coef[:5] != 0).all() and (coef[5:] == 0).all()
    residual = ds.y - ds.X.to_numpy() @ coef
    assert 9.0 < residual.std() < 11.0  # noise=10.0


def test_builtins_load_the_same_every_time() -> None:
    a, b = load_builtin("synthetic-classification"), load_builtin("synthetic-classification")
    pd.testing.assert_frame_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)


def test_unknown_builtin_suggests_the_close_name() -> None:
    with pytest.raises(ConfigError, match=r"^load_builtin: `name` must be one of 'breast_cancer', "
                       r".*; got 'irs'\. Did you mean 'iris'\?$"):  # fmt: skip
        load_builtin("irs")


# --- load_source ---------------------------------------------------------------------------------


def test_load_source_builtin_with_implied_or_matching_target() -> None:
    assert load_source("builtin:iris").name == "iris"
    assert load_source("builtin:w1", "y", task="multiclass").n_rows == 2000


def test_load_source_file(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x,y\n1,a\n2,b\n3,a\n4,b\n")
    ds = load_source(str(path), "y")
    assert (ds.name, ds.task, ds.source) == ("t", "binary", str(path))


@pytest.mark.parametrize(
    ("spec", "target", "task", "error", "match"),
    [
        pytest.param("builtin:iris", "species", None, ConfigError,
                     r"`target` must be omitted or 'target' for 'builtin:iris' \(its target is "
                     r"implied\); got 'species'\.$", id="builtin-wrong-target"),
        pytest.param("builtin:iris", None, "regression", ConfigError,
                     r"`task` must be omitted or 'multiclass' for 'builtin:iris'; got "
                     r"'regression'\.$", id="builtin-wrong-task"),
        pytest.param("builtin:wines", None, None, ConfigError, r"Did you mean 'wine'\?$",
                     id="builtin-unknown"),
        pytest.param("iris", None, None, DataError,
                     r"got 'iris' \(no such file\)\. Did you mean 'builtin:iris'\?$",
                     id="bare-builtin-name"),
    ],
)  # fmt: skip
def test_load_source_errors(
    spec: str, target: str | None, task: str | None, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        load_source(spec, target, task=task)


def test_load_source_file_needs_a_target(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x,y\n1,a\n")
    with pytest.raises(ConfigError, match=r"^load_table: `target` \(--target\) must name the "
                       r"target column of 't\.csv' \(x, y\); got none\.$"):  # fmt: skip
        load_source(path)
