"""Grouped splits (``--groups``): no group is ever in two of train, validation and test."""

from __future__ import annotations

import numpy as np
import pytest

from reglab.errors import DataError
from reglab.study.nested import inner_splits
from reglab.study.splits import SplitPlan, carve_groups, make_splits

# 40 subjects with 3 to 8 rows each; a subject's rows share its class (as a mouse's do).
_SIZES = np.random.default_rng(7).integers(3, 9, size=40)
GROUPS = np.repeat(np.arange(40), _SIZES)
Y_CLASS = np.repeat(np.arange(40) % 4, _SIZES)
Y_VALUE = np.random.default_rng(8).normal(size=len(GROUPS))


def _owners(groups: np.ndarray, idx: np.ndarray) -> set[int]:
    return set(groups[idx].tolist())


def _assert_disjoint(splits: list, groups: np.ndarray) -> None:
    for s in splits:
        train, val, test = (_owners(groups, s.train_idx), _owners(groups, s.val_idx),
                            _owners(groups, s.test_idx))  # fmt: skip
        assert not train & val, s.split_id
        assert not train & test, s.split_id
        assert not val & test, s.split_id
        assert len(s.train_idx) and len(s.test_idx)


@pytest.mark.parametrize(
    ("method", "task", "y"),
    [
        ("stratified-kfold", "multiclass", Y_CLASS),
        ("kfold", "multiclass", Y_CLASS),
        ("kfold", "regression", Y_VALUE),
        ("auto", "regression", Y_VALUE),
        ("shuffle", "multiclass", Y_CLASS),
        ("shuffle", "regression", Y_VALUE),
    ],
    ids=["stratified", "kfold-class", "kfold-regression", "auto-regression", "shuffle-class",
         "shuffle-regression"],
)  # fmt: skip
def test_every_split_keeps_each_group_in_one_part(method: str, task: str, y: np.ndarray) -> None:
    splits = make_splits(y, task, method=method, n_splits=5, n_repeats=2, seed=3, groups=GROUPS)
    assert len(splits) == 10
    _assert_disjoint(splits, GROUPS)


@pytest.mark.parametrize("method", ["stratified-kfold", "kfold"])
def test_grouped_kfold_tests_every_row_once_per_repeat_and_reshuffles(method: str) -> None:
    splits = make_splits(Y_CLASS, "multiclass", method=method, n_splits=4, n_repeats=2,
                         seed=1, groups=GROUPS)  # fmt: skip
    for r in (0, 1):
        tested = np.concatenate([s.test_idx for s in splits if s.repeat == r])
        assert np.array_equal(np.sort(tested), np.arange(len(GROUPS)))
    first = [frozenset(_owners(GROUPS, s.test_idx)) for s in splits if s.repeat == 0]
    second = [frozenset(_owners(GROUPS, s.test_idx)) for s in splits if s.repeat == 1]
    assert set(first) != set(second)  # a repeat assigns the groups afresh


def test_grouped_splits_are_reproducible_and_any_labels_give_the_same_splits() -> None:
    a = make_splits(Y_CLASS, "multiclass", n_splits=5, seed=11, groups=GROUPS)
    named = np.array([f"mouse-{g:03d}" for g in GROUPS])  # same order of distinct labels
    b = make_splits(Y_CLASS, "multiclass", n_splits=5, seed=11, groups=named)
    for s, t in zip(a, b, strict=True):
        assert np.array_equal(s.train_idx, t.train_idx)
        assert np.array_equal(s.val_idx, t.val_idx)
        assert np.array_equal(s.test_idx, t.test_idx)


def test_stratified_grouped_folds_keep_every_class_in_every_test_part() -> None:
    for s in make_splits(Y_CLASS, "multiclass", n_splits=5, seed=0, groups=GROUPS):
        assert set(Y_CLASS[s.test_idx].tolist()) == {0, 1, 2, 3}


def test_the_validation_carve_takes_whole_groups_near_the_fraction() -> None:
    rows = np.flatnonzero(GROUPS < 30)
    val = carve_groups(rows, GROUPS, 0.2, seed=5, where="the data")
    inside = _owners(GROUPS, val)
    assert inside and inside < set(range(30))
    for g in inside:
        assert set(np.flatnonzero(g == GROUPS).tolist()) <= set(val.tolist())
    # the smallest set of whole groups, in the carve's order, reaching ceil(0.2 · m) rows
    assert len(val) >= np.ceil(0.2 * len(rows)) and len(val) < np.ceil(0.2 * len(rows)) + 9


def test_nested_inner_folds_are_grouped_and_never_touch_the_outer_test_part() -> None:
    outer = make_splits(Y_CLASS, "multiclass", n_splits=4, seed=2, groups=GROUPS)
    for s in outer:
        inner = inner_splits(s, Y_CLASS, "multiclass", cv=3, val_fraction=0.2, seed=2,
                             groups=GROUPS)  # fmt: skip
        _assert_disjoint(inner, GROUPS)
        held = _owners(GROUPS, s.test_idx)
        for i in inner:
            parts = np.concatenate([i.train_idx, i.val_idx, i.test_idx])
            assert not _owners(GROUPS, parts) & held


def test_the_grouped_bootstrap_draws_whole_groups_and_tests_the_undrawn_ones() -> None:
    splits = make_splits(Y_CLASS, "multiclass", method="bootstrap", n_splits=4, n_repeats=2,
                         seed=9, groups=GROUPS)  # fmt: skip
    _assert_disjoint(splits, GROUPS)
    for s in splits:
        inbag = np.concatenate([s.train_idx, s.val_idx])
        # each drawn group comes whole, as often as it was drawn
        for g in _owners(GROUPS, s.train_idx):
            rows = np.flatnonzero(g == GROUPS)
            copies = np.isin(s.train_idx, rows).sum()
            assert copies % len(rows) == 0
        tested = _owners(GROUPS, s.test_idx)
        assert tested == set(range(40)) - _owners(GROUPS, inbag)
        assert s.n_train == len(inbag)
    assert not np.array_equal(splits[0].test_idx, splits[1].test_idx)


def test_fewer_groups_than_folds_is_refused_in_one_line() -> None:
    groups = np.repeat(np.arange(4), 10)
    y = np.tile([0, 1], 20)
    with pytest.raises(DataError, match=r"at most the number of groups \(4, --groups\); got 5"):
        make_splits(y, "binary", n_splits=5, groups=groups)


def test_groups_must_have_one_label_per_row() -> None:
    with pytest.raises(DataError, match="one label per row of `y` \\(10\\)"):
        SplitPlan(n_splits=2).split(np.arange(10) % 2, "binary", groups=np.arange(9))


def test_a_training_part_of_one_group_cannot_give_a_validation_part() -> None:
    with pytest.raises(DataError, match="at least 2 groups"):
        carve_groups(np.arange(5), np.zeros(10, dtype=np.int64), 0.2, 0, "split 0")
