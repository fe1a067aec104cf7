"""Outer splits and inner validation parts: scikit-learn oracles, partition properties, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import KFold, StratifiedKFold

from reglab._config import deserialize, serialize
from reglab._seeding import derive
from reglab.errors import ConfigError, DataError
from reglab.study.splits import METHODS, Split, SplitPlan, make_splits

Y3 = np.repeat([0, 1, 2], [30, 20, 10])  # 60 rows, unbalanced classes
Y_REG = np.linspace(-1.0, 1.0, 47)


def disjoint(*parts: np.ndarray) -> bool:
    sets = [set(p.tolist()) for p in parts]
    return all(not (a & b) for i, a in enumerate(sets) for b in sets[i + 1 :])


# --- k-fold against scikit-learn -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "task", "method", "oracle"),
    [
        pytest.param(Y3, "multiclass", "stratified-kfold", StratifiedKFold, id="stratified"),
        pytest.param(Y3, "multiclass", "auto", StratifiedKFold, id="auto-classification"),
        pytest.param(Y3, "multiclass", "kfold", KFold, id="kfold-on-classes"),
        pytest.param(Y_REG, "regression", "auto", KFold, id="auto-regression"),
        pytest.param(Y_REG, "regression", "repeated-kfold", KFold, id="repeated-kfold"),
    ],
)
def test_test_folds_equal_scikit_learns_with_the_documented_seed(
    y: np.ndarray, task: str, method: str, oracle: type
) -> None:
    splits = make_splits(y, task, method=method, n_splits=4, n_repeats=2, seed=7)
    assert len(splits) == 8
    for r in range(2):
        splitter = oracle(4, shuffle=True, random_state=derive(7, "outer", r) % 2**32)
        expected = list(splitter.split(np.zeros((len(y), 1)), y))
        for fold, (train, test) in enumerate(expected):
            s = splits[r * 4 + fold]
            assert (s.split_id, s.repeat, s.fold) == (r * 4 + fold, r, fold)
            np.testing.assert_array_equal(s.test_idx, np.sort(test))
            np.testing.assert_array_equal(np.union1d(s.train_idx, s.val_idx), np.sort(train))


@pytest.mark.parametrize("method", ["kfold", "stratified-kfold", "repeated-stratified-kfold"])
def test_every_row_is_tested_exactly_once_per_repeat(method: str) -> None:
    splits = make_splits(Y3, "multiclass", method=method, n_splits=5, n_repeats=3, seed=1)
    for r in range(3):
        tested = np.concatenate([s.test_idx for s in splits if s.repeat == r])
        assert sorted(tested.tolist()) == list(range(len(Y3)))
    first = [s.test_idx for s in splits if s.repeat == 0]
    second = [s.test_idx for s in splits if s.repeat == 1]
    assert any(not np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_stratified_folds_keep_class_proportions() -> None:
    for s in make_splits(Y3, "multiclass", n_splits=5, seed=3):
        assert np.bincount(Y3[s.test_idx], minlength=3).tolist() == [6, 4, 2]
        # the validation part is stratified too: 20% of the 48 training rows, ceil → 10
        assert len(s.val_idx) == math.ceil(0.2 * 48)
        counts = np.bincount(Y3[s.val_idx], minlength=3)
        np.testing.assert_allclose(counts / counts.sum(), [0.5, 1 / 3, 1 / 6], atol=0.1)


CASES = [(m, "multiclass") for m in METHODS] + [
    (m, "regression") for m in METHODS if "stratified" not in m
]


@pytest.mark.parametrize(("method", "task"), CASES, ids=[f"{m}-{t}" for m, t in CASES])
def test_train_val_test_are_disjoint_sorted_int64_and_read_only(method: str, task: str) -> None:
    y = Y3 if task == "multiclass" else Y_REG
    for s in make_splits(y, task, method=method, n_splits=3, seed=2):
        assert disjoint(np.unique(s.train_idx), s.val_idx, s.test_idx)
        for idx in (s.train_idx, s.val_idx, s.test_idx):
            assert idx.dtype == np.int64
            assert (np.diff(idx) >= 0).all()
            assert not idx.flags.writeable
        assert s.n_train == len(s.train_idx) + len(s.val_idx)
        assert s.n_test == len(s.test_idx) > 0
        if method != "bootstrap":
            assert len(s.train_idx) + len(s.val_idx) + len(s.test_idx) == len(y)


def test_zero_val_fraction_leaves_validation_empty() -> None:
    for s in make_splits(Y3, "multiclass", n_splits=3, val_fraction=0.0):
        assert s.val_idx.size == 0
        assert len(s.train_idx) == 40


def test_tiny_classes_fall_back_to_an_unstratified_validation_part() -> None:
    y = np.array([0] * 9 + [1] * 3)  # one class has 2 rows per training part: still possible
    for s in make_splits(y, "binary", n_splits=3, val_fraction=0.1, seed=0):
        assert len(s.val_idx) == 1  # ceil(0.1·8) = 1 < 2 classes: not stratifiable
        assert disjoint(s.train_idx, s.val_idx, s.test_idx)


# --- Monte-Carlo and bootstrap -------------------------------------------------------------------


def test_shuffle_draws_the_documented_test_size_with_stratification() -> None:
    splits = make_splits(Y3, "multiclass", method="shuffle", n_splits=6, test_size=0.25, seed=4)
    assert len(splits) == 6
    for s in splits:
        assert s.n_test == 15
        counts = np.bincount(Y3[s.test_idx], minlength=3)
        # 15 · (1/2, 1/3, 1/6) = (7.5, 5, 2.5): every class within one row of its share
        assert counts.sum() == 15
        assert (np.abs(counts - [7.5, 5.0, 2.5]) <= 1).all()
    assert len({tuple(s.test_idx.tolist()) for s in splits}) == 6


def test_shuffle_for_regression() -> None:
    splits = make_splits(Y_REG, "regression", method="shuffle", n_splits=3, test_size=0.3)
    assert [s.n_test for s in splits] == [math.ceil(0.3 * 47)] * 3


@pytest.mark.parametrize(
    ("y", "task"),
    [pytest.param(Y3, "multiclass", id="classification"), pytest.param(Y_REG, "regression",
                                                                       id="regression")],
)  # fmt: skip
def test_bootstrap_out_of_bag_rows_are_the_test_part(y: np.ndarray, task: str) -> None:
    splits = make_splits(y, task, method="bootstrap", n_splits=4, val_fraction=0.2, seed=5)
    for s in splits:
        in_bag = np.union1d(s.train_idx, s.val_idx)
        assert disjoint(in_bag, s.test_idx)
        assert sorted(np.union1d(in_bag, s.test_idx).tolist()) == list(range(len(y)))
        assert len(s.val_idx) == math.ceil(0.2 * len(in_bag))
        assert len(np.unique(s.train_idx)) < len(s.train_idx)  # draws repeat rows
    if task == "multiclass":
        no_val = make_splits(y, task, method="bootstrap", n_splits=4, val_fraction=0.0, seed=5)
        for s in no_val:  # drawn within each class: the class counts of the sample are kept
            assert np.bincount(y[s.train_idx]).tolist() == [30, 20, 10]


def test_bootstrap_out_of_bag_fraction_is_about_one_over_e() -> None:
    y = np.zeros(2000)
    splits = make_splits(y, "regression", method="bootstrap", n_splits=3, seed=0)
    for s in splits:
        assert abs(s.n_test / 2000 - math.exp(-1)) < 0.03


# --- seeds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["stratified-kfold", "shuffle", "bootstrap"])
def test_same_seed_same_splits_other_seed_other_splits(method: str) -> None:
    def flat(seed: int) -> list[list[int]]:
        splits = make_splits(Y3, "multiclass", method=method, n_splits=3, seed=seed)
        return [p.tolist() for s in splits for p in (s.train_idx, s.val_idx, s.test_idx)]

    assert flat(11) == flat(11)
    assert flat(11) != flat(12)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(10, 80),
    k=st.integers(2, 6),
    n_classes=st.integers(2, 4),
    val_fraction=st.sampled_from([0.0, 0.1, 0.25, 0.5]),
    seed=st.integers(0, 2**31),
)
def test_stratified_kfold_partition_property(
    n: int, k: int, n_classes: int, val_fraction: float, seed: int
) -> None:
    y = np.arange(n) % n_classes
    if np.bincount(y).min() < k:
        return
    splits = make_splits(y, "multiclass", n_splits=k, val_fraction=val_fraction, seed=seed)
    tested = np.concatenate([s.test_idx for s in splits])
    assert sorted(tested.tolist()) == list(range(n))
    for s in splits:
        m = n - s.n_test
        assert len(s.val_idx) == (math.ceil(val_fraction * m) if val_fraction else 0)
        assert disjoint(s.train_idx, s.val_idx, s.test_idx)
        assert len(s.train_idx) + len(s.val_idx) == m
        for c in range(n_classes):  # stratified: each class spread within one row per fold
            per_fold = (y == c).sum() / k
            assert abs((y[s.test_idx] == c).sum() - per_fold) < 1


# --- configuration and errors --------------------------------------------------------------------


def test_split_plan_round_trips_through_json() -> None:
    plan = SplitPlan("shuffle", n_splits=4, n_repeats=2, test_size=0.3, val_fraction=0.1, seed=9)
    again = deserialize(json.loads(json.dumps(serialize(plan))))
    assert again == plan
    a = plan.split(Y3, "multiclass")
    b = again.split(Y3, "multiclass")
    assert [s.test_idx.tolist() for s in a] == [s.test_idx.tolist() for s in b]


def test_resolved_method() -> None:
    assert SplitPlan().resolved_method("binary") == "stratified-kfold"
    assert SplitPlan().resolved_method("regression") == "kfold"
    assert SplitPlan("repeated-kfold").resolved_method("multiclass") == "kfold"


def test_split_direct_construction() -> None:
    s = Split(3, 1, 0, [1, 2], [], [0])
    assert (s.n_train, s.n_test, s.val_idx.dtype) == (2, 1, np.dtype(np.int64))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"method": "stratifed-kfold"}, r"`method` \(--split\) must be one of 'auto', "
                     r".*; got 'stratifed-kfold'\. Did you mean 'stratified-kfold'\?$",
                     id="unknown-method"),
        pytest.param({"n_splits": 1}, r"`n_splits` \(--cv\) must be an integer >= 2; got 1\.$",
                     id="one-split"),
        pytest.param({"n_repeats": 0},
                     r"`n_repeats` \(--repeats\) must be an integer >= 1; got 0\.$",
                     id="zero-repeats"),
        pytest.param({"val_fraction": 1.0}, r"`val_fraction` \(--val-fraction\) must be a float "
                     r"in \[0, 1\); got 1\.0\.$", id="val-fraction-one"),
        pytest.param({"val_fraction": -0.1},
                     r"`val_fraction` \(--val-fraction\) must be a float in \[0, 1\)",
                     id="val-fraction-negative"),
        pytest.param({"test_size": 0.0}, r"`test_size` \(--test-size\) must be a float in "
                     r"\(0, 1\); got 0\.0\.$", id="test-size-zero"),
        pytest.param({"seed": -1}, r"`seed` \(--seed\) must be an integer >= 0; got -1\.$",
                     id="seed"),
    ],
)  # fmt: skip
def test_bad_plans(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=r"^SplitPlan: " + match):
        make_splits(Y3, "multiclass", **kwargs)  # type: ignore[arg-type]


def test_all_plan_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError, match=r"`n_splits` .* `val_fraction` "):
        SplitPlan(n_splits=0, val_fraction=2.0)


@pytest.mark.parametrize(
    ("y", "task", "kwargs", "error", "match"),
    [
        pytest.param(np.arange(4) % 2, "binary", {"method": "kfold", "n_splits": 5}, DataError,
                     r"^make_splits: `n_splits` \(--cv\) must be at most the number of rows \(4\); "
                     r"got 5\.$",
                     id="more-folds-than-rows"),
        pytest.param(np.array([0] * 4 + [1] * 3), "binary", {"n_splits": 5}, DataError,
                     r"^make_splits: `n_splits` \(--cv\) must be at most the rows of the largest "
                     r"class \(4\) for stratified k-fold; got 5\. Use --cv 4, or --split kfold\.$",
                     id="largest-class-stratified"),
        pytest.param(np.zeros(10, dtype=int), "binary", {}, DataError,
                     r"^make_splits: `y` must have at least 2 classes; got only 'no'\.$",
                     id="one-class"),
        pytest.param(np.array([0] * 10 + [1]), "binary", {"method": "shuffle"}, DataError,
                     r"`y` must have at least 2 rows of every class for 'shuffle'; got class 'yes' "
                     r"with 1 row\.$", id="shuffle-singleton-class"),
        pytest.param(np.array([0, 1] * 3), "binary", {"method": "shuffle", "test_size": 0.1},
                     DataError, r"`test_size` must give at least one row per class \(2\) to both "
                     r"parts; got 1 test and 5 training rows\.$", id="shuffle-too-few-test"),
        pytest.param(Y_REG, "regression", {"method": "stratified-kfold"}, ConfigError,
                     r"^SplitPlan: `method` must not be stratified for task 'regression'; got "
                     r"'stratified-kfold'\. Use 'kfold'\.$", id="stratified-regression"),
        pytest.param(Y3, "multiclas", {}, ConfigError,
                     r"`task` must be one of .*; got 'multiclas'\. Did you mean 'multiclass'\?$",
                     id="unknown-task"),
        pytest.param(np.zeros((4, 2)), "regression", {}, DataError,
                     r"`y` must be a 1-D array with at least 2 rows; got shape \(4, 2\)\.$",
                     id="y-2d"),
        pytest.param(np.arange(4.0), "regression", {"n_splits": 4, "val_fraction": 0.9},
                     DataError, r"`val_fraction` must leave training rows in split 0 \(3 rows\); "
                     r"got 0\.9 \(3 validation rows\)\.$", id="val-takes-everything"),
    ],
)  # fmt: skip
def test_bad_data(
    y: np.ndarray, task: str, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match) as info:
        make_splits(y, task, class_names=["no", "yes"], **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_labels_without_names_are_named_by_value() -> None:
    y = np.array(["cat"] * 10 + ["dog"] * 2)
    (note,) = SplitPlan("auto", 3).small_class_notices(y, "binary")
    assert note.startswith("class 'dog' has 2 rows, fewer than the 3 folds")


@pytest.mark.parametrize("small", [1, 2])
def test_a_class_smaller_than_the_folds_runs_stratified_as_far_as_possible(small: int) -> None:
    y = np.array(["a"] * 30 + ["b"] * 25 + ["c"] * small)
    plan = SplitPlan("auto", 5, val_fraction=0.2, seed=3)
    splits = plan.split(y, "multiclass")
    assert len(splits) == 5
    tested = np.concatenate([s.test_idx for s in splits])
    assert sorted(tested.tolist()) == list(range(len(y)))  # every row tested once
    assert sum(int((y[s.test_idx] == "c").sum()) for s in splits) == small
    for s in splits:  # the large classes stay stratified
        assert abs(int((y[s.test_idx] == "a").sum()) - 6) <= 1
    (note,) = plan.small_class_notices(y, "multiclass")
    assert note.startswith(f"class 'c' has {small} row")
    assert f"in the test part of {small} of the 5 folds" in note
