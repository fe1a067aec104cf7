"""Per-split preprocessing: scikit-learn oracle, no leakage from held-out rows, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from reglab.data import Preprocessor, load_table
from reglab.errors import ConfigError, DataError

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def shared(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{name} is not in the shared data folder")
    return path


def sklearn_oracle(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            ),
        ]
    )


@pytest.mark.parametrize(
    ("file", "target"),
    [
        pytest.param("crx.csv", "a16", id="crx-categoricals-and-missing"),
        pytest.param("abalone.csv", "rings", id="abalone"),
        pytest.param("auto-mpg.csv", "mpg", id="auto-mpg-missing-horsepower"),
    ],
)
def test_matches_scikit_learn_column_transformer(file: str, target: str) -> None:
    ds = load_table(shared(file), target)
    rows = np.sort(
        np.random.default_rng(0).choice(ds.n_rows, size=ds.n_rows * 2 // 3, replace=False)
    )
    pre = Preprocessor.for_dataset(ds).fit(ds.X, rows)
    ours = pre.transform(ds.X)

    X = ds.X.copy()
    for col in ds.categorical_columns:  # scikit-learn's imputer wants NaN-free object columns
        X[col] = X[col].astype(object).where(X[col].notna(), np.nan)
    oracle = sklearn_oracle(list(ds.numeric_columns), list(ds.categorical_columns))
    oracle.fit(X.iloc[rows])
    expected = oracle.transform(X)

    assert ours.dtype == np.float32
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)
    names = [n.split("__", 1)[1].replace("_", "=", 1) if n.startswith("cat__") else
             n.split("__", 1)[1] for n in oracle.get_feature_names_out()]  # fmt: skip
    assert list(pre.feature_names_out) == names


def test_imputed_values_are_the_medians_of_the_training_rows() -> None:
    ds = load_table(shared("auto-mpg.csv"), "mpg")
    rows = np.arange(0, ds.n_rows, 2)
    pre = Preprocessor.for_dataset(ds).fit(ds.X, rows)
    train = ds.X.iloc[rows]
    assert pre.medians_.tolist() == [float(train[c].median()) for c in ds.numeric_columns]
    hp = ds.numeric_columns.index("horsepower")
    missing = np.flatnonzero(ds.X["horsepower"].isna().to_numpy())
    out = pre.transform(ds.X)
    expected = (train["horsepower"].median() - pre.means_[hp]) / pre.scales_[hp]
    np.testing.assert_allclose(out[missing, hp], expected, rtol=1e-6)


def test_held_out_rows_never_change_what_is_learned() -> None:
    ds = load_table(shared("crx.csv"), "a16")
    rows = np.arange(400)
    before = Preprocessor.for_dataset(ds).fit(ds.X, rows)
    out_before = before.transform(ds.X)

    tampered = ds.X.copy()
    held_out = np.arange(400, ds.n_rows)
    for col in ds.numeric_columns:
        tampered.loc[held_out, col] = 1e9
    for col in ds.categorical_columns:
        tampered.loc[held_out, col] = "never-seen"
    after = Preprocessor.for_dataset(ds).fit(tampered, rows)

    for attr in ("medians_", "means_", "scales_"):
        np.testing.assert_array_equal(getattr(before, attr), getattr(after, attr))
    assert before.modes_ == after.modes_
    assert before.categories_ == after.categories_
    assert before.feature_names_out == after.feature_names_out
    out_after = after.transform(tampered)
    np.testing.assert_array_equal(out_after[rows], out_before[rows])
    onehot = [i for i, g in enumerate(after.feature_groups) if g in ds.categorical_columns]
    assert not out_after[np.ix_(held_out, onehot)].any()  # unseen values: all zeros


def test_one_hot_names_groups_and_unseen_values() -> None:
    X = pd.DataFrame({"len": [1.0, 2.0, 3.0, 4.0, 5.0], "sex": ["M", "F", "I", "M", "X"]})
    pre = Preprocessor(["len"], ["sex"]).fit(X, np.arange(4))
    assert pre.feature_names_out == ("len", "sex=F", "sex=I", "sex=M")
    assert pre.feature_groups == ("len", "sex", "sex", "sex")
    assert pre.n_features_out == 4
    out = pre.transform(X)
    assert out[:4, 1:].tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert out[4, 1:].tolist() == [0, 0, 0]


def test_fixed_vocabulary_keeps_output_columns_equal_across_splits() -> None:
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "c", None]})
    vocab = Preprocessor.vocabulary(X, ["c"])
    assert vocab == {"c": ("a", "b", "c")}
    first = Preprocessor(["x"], ["c"], categories=vocab).fit(X, np.array([0, 1]))
    second = Preprocessor(["x"], ["c"], categories=vocab).fit(X, np.array([2, 3]))
    assert first.feature_names_out == second.feature_names_out == ("x", "c=a", "c=b", "c=c")
    # statistics still come from the training rows only
    assert (first.medians_.tolist(), second.medians_.tolist()) == ([1.5], [3.5])
    assert (first.modes_, second.modes_) == (["a"], ["c"])
    assert first.transform(X)[:, 1:].tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]
    assert second.transform(X)[3, 1:].tolist() == [0, 0, 1]  # missing → training mode 'c'


def test_for_dataset_with_fixed_categories() -> None:
    ds = load_table(shared("crx.csv"), "a16")
    pre = Preprocessor.for_dataset(ds, fixed_categories=True).fit(ds.X, np.arange(50))
    full = Preprocessor.for_dataset(ds).fit(ds.X, np.arange(ds.n_rows))
    assert pre.feature_names_out == full.feature_names_out
    assert Preprocessor.for_dataset(ds).fit(ds.X, np.arange(50)).n_features_out < pre.n_features_out


def test_fixed_vocabulary_must_name_categorical_columns() -> None:
    X = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ConfigError, match=r"`categories` must only name categorical columns; "
                       r"got \['x'\]\.$"):  # fmt: skip
        Preprocessor(["x"], [], categories={"x": ["a"]}).fit(X, np.arange(2))


def test_missing_categories_take_the_mode_with_ties_to_the_smallest_label() -> None:
    X = pd.DataFrame({"c": ["b", "a", "b", "a", None, "c"]})
    pre = Preprocessor([], ["c"]).fit(X, np.arange(6))
    assert pre.modes_ == ["a"]
    assert pre.transform(X)[4].tolist() == [1.0, 0.0, 0.0]


def test_numeric_labels_in_a_categorical_column_are_strings() -> None:
    X = pd.DataFrame({"c": [1, 2, 10, 2]})
    pre = Preprocessor([], ["c"]).fit(X, np.arange(4))
    assert pre.feature_names_out == ("c=1", "c=10", "c=2")


def test_constant_and_empty_training_columns() -> None:
    X = pd.DataFrame({"const": [3.0, 3.0, 3.0, 7.0], "empty": [np.nan, np.nan, np.nan, 5.0]})
    pre = Preprocessor(["const", "empty"], []).fit(X, np.arange(3))
    assert pre.scales_.tolist() == [1.0, 1.0]
    assert pre.medians_.tolist() == [3.0, 0.0]
    assert pre.transform(X).tolist() == [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [4.0, 5.0]]


def test_repeated_rows_weigh_as_often_as_they_occur() -> None:
    X = pd.DataFrame({"x": [0.0, 10.0]})
    pre = Preprocessor(["x"], []).fit(X, np.array([0, 0, 0, 1]))
    assert pre.means_.tolist() == [2.5]
    np.testing.assert_allclose(pre.scales_, [np.std([0, 0, 0, 10])])


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (12, 3), elements=st.integers(-(10**5), 10**5).map(lambda v: v / 100)),
    st.integers(0, 2**16),
)
def test_training_rows_come_out_standardized(values: np.ndarray, seed: int) -> None:
    X = pd.DataFrame(values, columns=["a", "b", "c"])
    rows = np.random.default_rng(seed).choice(12, size=8, replace=False)
    out = Preprocessor(["a", "b", "c"], []).fit(X, rows).transform(X).astype(np.float64)
    train = out[rows]
    scaler = StandardScaler().fit(values[rows])
    np.testing.assert_allclose(out, scaler.transform(values), rtol=1e-5, atol=1e-5)
    for j in range(3):
        if np.ptp(values[rows, j]) == 0:  # constant in training: centred, not scaled
            assert np.abs(train[:, j]).max() < 1e-6
        elif scaler.scale_[j] != 1.0:
            assert abs(train[:, j].mean()) < 1e-4
            assert abs(train[:, j].std() - 1.0) < 1e-4


@pytest.mark.parametrize(
    ("rows", "error", "match"),
    [
        pytest.param(np.array([], dtype=int), DataError, r"`rows` must be a non-empty 1-D array "
                     r"of integer row positions; got dtype int64 and shape \(0,\)\.", id="empty"),
        pytest.param(np.array([0.0, 1.0]), DataError,
                     r"`rows` must be .*; got dtype float64 and shape \(2,\)\.", id="float-rows"),
        pytest.param(np.array([0, 9]), DataError, r"`rows` must lie in \[0, 4\); got values from "
                     r"0 to 9\.", id="out-of-range"),
        pytest.param(np.array([-1, 0]), DataError, r"`rows` must lie in \[0, 4\)", id="negative"),
    ],
)  # fmt: skip
def test_bad_rows(rows: np.ndarray, error: type[Exception], match: str) -> None:
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(error, match=r"^Preprocessor: " + match):
        Preprocessor(["x"], []).fit(X, rows)


def test_bad_columns_and_unfitted_use() -> None:
    X = pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]})
    with pytest.raises(ConfigError, match=r"must not overlap; got \['x'\] in both\.$"):
        Preprocessor(["x"], ["x"]).fit(X, np.arange(2))
    with pytest.raises(DataError, match=r"`X` must have the columns it was given; got no \['z'\]"):
        Preprocessor(["z"], ["c"]).fit(X, np.arange(2))
    with pytest.raises(ConfigError, match=r"`fit` must be called before `transform`"):
        Preprocessor(["x"], []).transform(X)
    with pytest.raises(ConfigError, match=r"`fit` must be called before `transform`"):
        _ = Preprocessor(["x"], []).feature_names_out


def test_no_columns_gives_an_empty_matrix() -> None:
    X = pd.DataFrame({"x": [1.0, 2.0]})
    assert Preprocessor().fit_transform(X, np.arange(2)).shape == (2, 0)
