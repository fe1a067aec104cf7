"""Outer resampling splits with an inner validation part, all seeded from one root seed.

Every :class:`Split` has three disjoint index sets: ``test_idx`` (the outer test part, scored
once), and ``train_idx`` / ``val_idx`` which partition the outer training part (``val_idx`` is
used for early stopping only, never the test part). Methods:

* ``"kfold"`` / ``"repeated-kfold"``: shuffled k-fold, ``n_repeats`` times with fresh shuffles;
  every row is tested exactly once per repeat.
* ``"stratified-kfold"`` / ``"repeated-stratified-kfold"``: the same with every fold keeping the
  class proportions (scikit-learn's ``StratifiedKFold``).
* ``"shuffle"``: Monte-Carlo cross-validation, ``n_splits`` random draws per repeat of a test
  part of ``ceil(test_size·n)`` rows (stratified for classification).
* ``"bootstrap"``: ``n_splits`` bootstrap samples per repeat; the sample (n rows drawn with
  replacement, drawn within each class for classification) trains, the out-of-bag rows test.
  The validation part is carved from the *distinct* in-bag rows, and every draw of those rows
  leaves ``train_idx``, which keeps its repeated rows (so ``train_idx`` may hold duplicates).
* ``"auto"``: ``"stratified-kfold"`` for classification, ``"kfold"`` for regression.

**Grouped splits** (``groups``: one code per row, ``--groups``; :mod:`reglab.data.groups`)
keep every group whole: no group has rows in two of train, validation and test. k-fold deals
the groups, in a random order drawn from ``derive(seed, "outer", r)``, each to the fold with the
fewest rows so far (``GroupKFold``'s balance, afresh in every repeat); stratified k-fold is
scikit-learn's ``StratifiedGroupKFold`` (shuffled). Both need at least ``n_splits`` groups.
``"shuffle"`` is ``GroupShuffleSplit`` (``test_size`` is then a fraction of the groups, not
stratified); ``"bootstrap"`` is a cluster bootstrap: ``G`` draws of the ``G`` groups with
replacement train (every row of a drawn group, once per draw) and the groups never drawn test
(seeded as the row bootstrap, not stratified).
The validation part is whole groups of the outer training part, drawn in a seeded random
order until they hold at least ``ceil(val_fraction·m)`` rows (at least one group stays to
train; not stratified). The corrected t-test still counts rows (``n_test/n_train``).

The k-fold names with and without ``repeated-`` are the same procedure; ``n_repeats`` decides.
The inner validation part is ``ceil(val_fraction·m)`` of the ``m`` outer training rows,
stratified for classification when every class there has at least 2 rows (else a plain random
draw); ``val_fraction=0`` leaves it empty. Seeds: repeat ``r`` of the outer splitter uses
``derive(seed, "outer", r)``, the validation carve of split ``s`` uses ``derive(seed, "val", s)``,
bootstrap draw ``s`` uses ``derive(seed, "bootstrap", s, 0)`` (a further draw replaces one
without out-of-bag rows). Indices are sorted int64 arrays.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reglab._config import Configurable
from reglab._seeding import derive, generator
from reglab._validation import (
    TASKS,
    Problems,
    check_choice,
    check_fraction,
    check_int,
    message,
)
from reglab.errors import ConfigError, DataError

__all__ = ["METHODS", "Split", "SplitPlace", "SplitPlan", "carve_groups", "make_splits"]

METHODS = (
    "auto",
    "kfold",
    "stratified-kfold",
    "repeated-kfold",
    "repeated-stratified-kfold",
    "shuffle",
    "bootstrap",
)
_SK_SEED = 2**32  # scikit-learn's random_state must fit in 32 bits


def _frozen(idx: Any) -> np.ndarray:
    arr = np.array(idx, dtype=np.int64).reshape(-1)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Split:
    """One outer split: the rows to train on, to early-stop on, and to test on.

    ``n_train`` (rows of the outer training part, ``len(train_idx) + len(val_idx)``, repeated
    bootstrap rows counted as often as drawn) and ``n_test`` are what the Nadeau–Bengio
    corrected t-test needs: its variance factor is ``1/J + n_test/n_train`` over ``J`` splits.

    >>> s = Split(0, 0, 0, np.array([0, 1, 2]), np.array([3]), np.array([4, 5]))
    >>> s.n_train, s.n_test
    (4, 2)
    """

    split_id: int
    repeat: int
    fold: int
    train_idx: np.ndarray = field(repr=False)
    val_idx: np.ndarray = field(repr=False)
    test_idx: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("train_idx", "val_idx", "test_idx"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def n_train(self) -> int:
        """Size of the outer training part (train + validation rows)."""
        return len(self.train_idx) + len(self.val_idx)

    @property
    def n_test(self) -> int:
        """Number of test rows."""
        return len(self.test_idx)

    def place(self) -> SplitPlace:
        """The split without its rows: what a member's stored record needs of it."""
        return SplitPlace(self.split_id, self.repeat, self.fold, self.n_train, self.n_test)


@dataclass(frozen=True)
class SplitPlace:
    """Where a member sits in the protocol, without the split's rows (a few integers to send
    to the process that stores the member, where a :class:`Split` carries its indices).

    >>> Split(3, 1, 0, np.array([0, 1, 2]), np.array([3]), np.array([4, 5])).place()
    SplitPlace(split_id=3, repeat=1, fold=0, n_train=4, n_test=2)
    """

    split_id: int
    repeat: int
    fold: int
    n_train: int
    n_test: int


@dataclass(frozen=True)
class SplitPlan(Configurable):
    """How to resample: the method and its sizes, validated on construction.

    Args:
        method: One of :data:`METHODS` (see the module docstring).
        n_splits: Folds for k-fold; draws per repeat for ``"shuffle"`` and ``"bootstrap"``.
        n_repeats: Repetitions with fresh shuffles.
        test_size: Test fraction for ``"shuffle"`` (ignored otherwise).
        val_fraction: Fraction of each outer training part held out for early stopping.
        seed: Root seed; every random choice derives from it.

    >>> plan = SplitPlan(n_splits=3, seed=1)
    >>> splits = plan.split(np.array([0, 1] * 6), "binary")
    >>> [(s.split_id, s.n_train, s.n_test, len(s.val_idx)) for s in splits]
    [(0, 8, 4, 2), (1, 8, 4, 2), (2, 8, 4, 2)]
    """

    method: str = "auto"
    n_splits: int = 5
    n_repeats: int = 1
    test_size: float = 0.2
    val_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        p = Problems()
        who = "SplitPlan"  # each setting named with the command-line option that sets it
        p.check(check_choice, who, "method", self.method, METHODS, flag="--split")
        p.check(check_int, who, "n_splits", self.n_splits, minimum=2, flag="--cv")
        p.check(check_int, who, "n_repeats", self.n_repeats, minimum=1, flag="--repeats")
        if not (isinstance(self.test_size, float) and 0 < self.test_size < 1):
            p.add(
                message(who, "test_size", "a float in (0, 1)", self.test_size, flag="--test-size")
            )
        p.check(check_fraction, who, "val_fraction", self.val_fraction, flag="--val-fraction")
        p.check(check_int, who, "seed", self.seed, minimum=0, flag="--seed")
        p.raise_if_any()

    def resolved_method(self, task: str) -> str:
        """The concrete method for ``task`` (``"auto"`` resolved, ``repeated-`` dropped)."""
        check_choice("SplitPlan", "task", task, TASKS)
        method = self.method.removeprefix("repeated-")
        if method == "auto":
            return "kfold" if task == "regression" else "stratified-kfold"
        if method == "stratified-kfold" and task == "regression":
            raise ConfigError(
                f"SplitPlan: `method` must not be stratified for task 'regression'; got "
                f"{self.method!r}. Use 'kfold'."
            )
        return method

    def split(
        self,
        y: Any,
        task: str,
        *,
        class_names: Sequence[str] | None = None,
        groups: Any = None,
    ) -> list[Split]:
        """The splits of a data set with target ``y`` (class ids or labels; values for regression).

        ``class_names[k]`` names class id ``k`` in error messages. ``groups`` (one int code per
        row, or ``None``) keeps each group whole in one of train, validation and test.
        """
        method = self.resolved_method(task)
        yy = np.asarray(y)
        if yy.ndim != 1 or len(yy) < 2:
            raise DataError(
                f"make_splits: `y` must be a 1-D array with at least 2 rows; got shape {yy.shape}."
            )
        classify = task != "regression"
        labels = _class_ids(yy, class_names) if classify else None
        codes = None if groups is None else _group_codes(groups, len(yy))
        if codes is None:
            outer = self._outer(method, yy, labels)
        else:
            outer = self._outer_grouped(method, labels, codes)
        splits = []
        for split_id, (repeat, fold, train, test) in enumerate(outer):
            fit_rows = np.unique(train)
            if codes is None:
                val = self._carve(fit_rows, labels, split_id)
            else:
                val = self._carve_groups(fit_rows, codes, split_id)
            train = train[~np.isin(train, val)]
            splits.append(Split(split_id, repeat, fold, np.sort(train), val, np.sort(test)))
        return splits

    # --- outer splits --------------------------------------------------------------------

    def _outer(
        self, method: str, y: np.ndarray, labels: _Labels | None
    ) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        from sklearn.model_selection import (
            KFold,
            ShuffleSplit,
            StratifiedKFold,
            StratifiedShuffleSplit,
        )

        n = len(y)
        k = self.n_splits
        if labels is not None:
            labels.require_two_classes()
        if method in ("kfold", "stratified-kfold") and k > n:
            raise DataError(
                f"make_splits: `n_splits` (--cv) must be at most the number of rows ({n}); got {k}."
            )
        if method == "stratified-kfold" and labels is not None:
            largest = int(labels.counts.max())
            if largest < k:
                raise DataError(
                    f"make_splits: `n_splits` (--cv) must be at most the rows of the largest "
                    f"class ({largest}) for stratified k-fold; got {k}. Use --cv {largest}, or "
                    "--split kfold."
                )
        if method == "shuffle":
            n_test = math.ceil(self.test_size * n)
            if n_test >= n:
                raise DataError(
                    f"make_splits: `test_size` must leave training rows out of {n}; got "
                    f"{self.test_size} ({n_test} test rows)."
                )
            if labels is not None:
                name, count = labels.smallest()
                if count < 2:
                    raise DataError(
                        f"make_splits: `y` must have at least 2 rows of every class for "
                        f"'shuffle'; got class {name!r} with {count} row."
                    )
                c = labels.n_classes
                if n_test < c or n - n_test < c:
                    raise DataError(
                        f"make_splits: `test_size` must give at least one row per class ({c}) "
                        f"to both parts; got {n_test} test and {n - n_test} training rows."
                    )
        for r in range(self.n_repeats):
            rs = derive(self.seed, "outer", r) % _SK_SEED
            if method == "bootstrap":
                for fold in range(k):
                    split_id = r * k + fold
                    train, test = _bootstrap(n, labels, self.seed, split_id)
                    yield r, fold, train, test
                continue
            splitter: Any
            if method == "kfold":
                splitter = KFold(k, shuffle=True, random_state=rs)
            elif method == "stratified-kfold":  # small classes: see small_class_notices
                splitter = StratifiedKFold(k, shuffle=True, random_state=rs)
            elif labels is None:
                splitter = ShuffleSplit(k, test_size=self.test_size, random_state=rs)
            else:
                splitter = StratifiedShuffleSplit(k, test_size=self.test_size, random_state=rs)
            target = labels.ids if labels is not None else np.zeros(n)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "The least populated class", UserWarning)
                folds = list(splitter.split(np.zeros((n, 1)), target))
            for fold, (train, test) in enumerate(folds):
                yield r, fold, train.astype(np.int64), test.astype(np.int64)

    def _outer_grouped(
        self, method: str, labels: _Labels | None, groups: np.ndarray
    ) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        """The outer splits when each group must be whole in the training or the test part."""
        from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

        n = len(groups)
        n_groups = int(groups.max()) + 1
        k = self.n_splits
        if labels is not None:
            labels.require_two_classes()
        if method == "bootstrap" and n_groups < 2:
            raise DataError(
                f"make_splits: `groups` must hold at least 2 groups for 'bootstrap'; got "
                f"{n_groups}."
            )
        if method in ("kfold", "stratified-kfold") and k > n_groups:
            raise DataError(
                f"make_splits: `n_splits` (--cv) must be at most the number of groups "
                f"({n_groups}, --groups); got {k}."
            )
        if method == "shuffle":
            n_test = math.ceil(self.test_size * n_groups)
            if n_test >= n_groups:
                raise DataError(
                    f"make_splits: `test_size` must leave training groups out of {n_groups} "
                    f"(--groups); got {self.test_size} ({n_test} test groups)."
                )
        x = np.zeros((n, 1))
        for r in range(self.n_repeats):
            rs = derive(self.seed, "outer", r) % _SK_SEED
            splitter: Any
            if method == "bootstrap":
                for fold in range(k):
                    train, test = _group_bootstrap(groups, self.seed, r * k + fold)
                    yield r, fold, train, test
                continue
            if method == "kfold":
                fold_of = _deal_groups(groups, k, derive(self.seed, "outer", r))
                for fold in range(k):
                    test = np.flatnonzero(fold_of[groups] == fold)
                    yield r, fold, np.flatnonzero(fold_of[groups] != fold), test
                continue
            if method == "stratified-kfold":
                splitter = StratifiedGroupKFold(k, shuffle=True, random_state=rs)
            else:
                splitter = GroupShuffleSplit(k, test_size=self.test_size, random_state=rs)
            target = labels.ids if labels is not None else np.zeros(n)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "The least populated class", UserWarning)
                folds = list(splitter.split(x, target, groups=groups))
            for fold, (train, test) in enumerate(folds):
                yield r, fold, train.astype(np.int64), test.astype(np.int64)

    def small_class_notices(
        self, y: Any, task: str, *, class_names: Sequence[str] | None = None
    ) -> list[str]:
        """What stratified k-fold did with classes that have fewer rows than folds.

        Such classes do not stop the protocol (scikit-learn's splitter warns and goes on): they
        are stratified as far as possible, so each of their rows is in exactly one fold's test
        part and the other folds test without them.

        >>> SplitPlan("auto", 5).small_class_notices(["a"] * 20 + ["b"] * 2, "binary")
        ["class 'b' has 2 rows, fewer than the 5 folds: stratified as far as possible, it is in the test part of 2 of the 5 folds (per repeat) and the other folds test without it."]
        """  # noqa: E501
        if task == "regression" or self.resolved_method(task) != "stratified-kfold":
            return []
        labels = _class_ids(np.asarray(y), class_names)
        notes = []
        for name, count in zip(labels.names, labels.counts.tolist(), strict=True):
            if count < self.n_splits:
                rows = "row" if count == 1 else "rows"
                notes.append(
                    f"class {name!r} has {count} {rows}, fewer than the {self.n_splits} folds: "
                    f"stratified as far as possible, it is in the test part of {count} of the "
                    f"{self.n_splits} folds (per repeat) and the other folds test without it"
                    + (
                        "; the fold that tests its one row trains without it, so no model "
                        "there can predict it."
                        if count == 1
                        else "."
                    )
                )
        return notes

    # --- inner validation part --------------------------------------------------------------

    def _carve(self, rows: np.ndarray, labels: _Labels | None, split_id: int) -> np.ndarray:
        """``ceil(val_fraction·m)`` of the ``m`` distinct training rows, sorted."""
        m = len(rows)
        n_val = math.ceil(self.val_fraction * m) if self.val_fraction > 0 else 0
        if n_val == 0:
            return np.zeros(0, dtype=np.int64)
        if n_val >= m:
            raise DataError(
                f"make_splits: `val_fraction` must leave training rows in split {split_id} "
                f"({m} rows); got {self.val_fraction} ({n_val} validation rows)."
            )
        rs = derive(self.seed, "val", split_id)
        if labels is not None:
            _, counts = np.unique(labels.ids[rows], return_counts=True)
            c = len(counts)
            if counts.min() >= 2 and c <= n_val <= m - c:
                from sklearn.model_selection import train_test_split

                _, val = train_test_split(
                    rows, test_size=n_val, stratify=labels.ids[rows], random_state=rs % _SK_SEED
                )
                return np.sort(val)
        return np.sort(generator(rs).choice(rows, size=n_val, replace=False))

    def _carve_groups(self, rows: np.ndarray, groups: np.ndarray, split_id: int) -> np.ndarray:
        return carve_groups(
            rows,
            groups,
            self.val_fraction,
            derive(self.seed, "val", split_id),
            f"the training part of split {split_id}",
        )


def carve_groups(
    rows: np.ndarray, groups: np.ndarray, fraction: float, seed: int, where: str
) -> np.ndarray:
    """A validation part of whole groups: the groups of ``rows`` in a random order (seeded by
    ``seed``) until they hold at least ``ceil(fraction·m)`` of the ``m`` rows, leaving at least
    one group to train. Returns the chosen rows, sorted.

    >>> groups = np.repeat(np.arange(5), 4)  # 5 groups of 4 rows
    >>> val = carve_groups(np.arange(20), groups, 0.2, seed=0, where="the data")
    >>> len(val), len(np.unique(groups[val]))
    (4, 1)
    """
    m = len(rows)
    n_val = math.ceil(fraction * m) if fraction > 0 else 0
    if n_val == 0:
        return np.zeros(0, dtype=np.int64)
    owners = np.unique(groups[rows])
    if len(owners) < 2:
        raise DataError(
            f"make_splits: {where} must hold at least 2 groups (--groups) to carve a "
            f"validation part from; got {len(owners)}. Use fewer folds (--cv) or "
            "--no-early-stopping."
        )
    order = generator(seed).permutation(owners)
    sizes = np.bincount(groups[rows], minlength=int(groups.max()) + 1)[order]
    take = min(int(np.searchsorted(np.cumsum(sizes), n_val)) + 1, len(order) - 1)
    return np.sort(rows[np.isin(groups[rows], order[:take])])


def make_splits(
    y: Any,
    task: str,
    *,
    method: str = "auto",
    n_splits: int = 5,
    n_repeats: int = 1,
    test_size: float = 0.2,
    val_fraction: float = 0.2,
    seed: int = 0,
    class_names: Sequence[str] | None = None,
    groups: Any = None,
) -> list[Split]:
    """The outer splits for target ``y``: ``SplitPlan(...).split(y, task)``.

    Args:
        y: Class ids (or labels) for classification, values for regression.
        task: ``"multiclass"``, ``"binary"`` or ``"regression"``.
        method, n_splits, n_repeats, test_size, val_fraction, seed: See :class:`SplitPlan`.
        class_names: ``class_names[k]`` names class id ``k`` in error messages.
        groups: One label per row; each group is whole in one of train, validation and test.

    Returns:
        ``n_splits · n_repeats`` splits; ``split_id = repeat · n_splits + fold``.

    >>> y = np.array([0] * 6 + [1] * 4)
    >>> splits = make_splits(y, "binary", n_splits=2, val_fraction=0.0)
    >>> sorted(np.concatenate([s.test_idx for s in splits]).tolist()) == list(range(10))
    True
    >>> [np.bincount(y[s.test_idx]).tolist() for s in splits]
    [[3, 2], [3, 2]]
    """
    plan = SplitPlan(method, n_splits, n_repeats, test_size, val_fraction, seed)
    return plan.split(y, task, class_names=class_names, groups=groups)


# --- helpers ---------------------------------------------------------------------------------


class _Labels:
    """Class ids ``0..C-1`` of ``y`` and readable names for messages."""

    def __init__(self, ids: np.ndarray, names: list[str]) -> None:
        self.ids = ids
        self.names = names
        self.counts = np.bincount(ids, minlength=len(names))

    @property
    def n_classes(self) -> int:
        return len(self.names)

    def require_two_classes(self) -> None:
        if self.n_classes < 2:
            raise DataError(
                f"make_splits: `y` must have at least 2 classes; got only {self.names[0]!r}."
            )

    def smallest(self) -> tuple[str, int]:
        """The name and row count of the least populated class."""
        k = int(np.argmin(self.counts))
        return self.names[k], int(self.counts[k])


def _class_ids(y: np.ndarray, class_names: Sequence[str] | None) -> _Labels:
    uniq, ids = np.unique(y, return_inverse=True)
    if class_names is not None and y.dtype.kind in "iu":
        names = [
            str(class_names[int(u)]) if 0 <= int(u) < len(class_names) else str(u) for u in uniq
        ]
    else:
        names = [str(u) for u in uniq]
    return _Labels(ids.reshape(-1).astype(np.int64), names)


def _deal_groups(groups: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The fold of every group: the groups in a random order, each dealt to the fold with the
    fewest rows so far (the first ``k`` fill the ``k`` folds), as ``GroupKFold`` balances
    sizes but afresh for every seed.

    >>> _deal_groups(np.repeat(np.arange(6), 2), 3, seed=0).tolist()
    [1, 2, 1, 0, 0, 2]
    """
    sizes = np.bincount(groups)
    fold_of = np.empty(len(sizes), dtype=np.int64)
    load = np.zeros(k, dtype=np.int64)
    for g in generator(seed).permutation(len(sizes)):
        f = int(np.argmin(load))
        fold_of[g] = f
        load[f] += sizes[g]
    return fold_of


def _group_bootstrap(groups: np.ndarray, seed: int, split_id: int) -> tuple[np.ndarray, np.ndarray]:
    """A cluster bootstrap: ``G`` groups drawn with replacement train (each drawn group's rows
    once per draw), the rows of the groups never drawn test."""
    n_groups = int(groups.max()) + 1
    order = np.argsort(groups, kind="stable")
    starts = np.searchsorted(groups[order], np.arange(n_groups + 1))
    for attempt in range(100):
        drawn = generator(derive(seed, "bootstrap", split_id, attempt)).integers(
            0, n_groups, n_groups
        )
        if len(np.unique(drawn)) < n_groups:
            train = np.concatenate([order[starts[g] : starts[g + 1]] for g in drawn])
            return train.astype(np.int64), np.flatnonzero(~np.isin(groups, drawn))
    raise DataError(
        f"make_splits: `groups` must be many enough for out-of-bag groups in a bootstrap; got "
        f"{n_groups} groups and no out-of-bag group in 100 draws."
    )


def _group_codes(groups: Any, n: int) -> np.ndarray:
    """Codes ``0..G-1`` for one group label per row (any labels; int codes stay in order)."""
    arr = np.asarray(groups)
    if arr.ndim != 1 or len(arr) != n:
        raise DataError(
            f"make_splits: `groups` must have one label per row of `y` ({n}); got shape "
            f"{arr.shape}."
        )
    _, codes = np.unique(arr, return_inverse=True)
    return codes.reshape(-1).astype(np.int64)


def _bootstrap(
    n: int, labels: _Labels | None, seed: int, split_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws with replacement (within each class) and the out-of-bag rows."""
    for attempt in range(100):
        rng = generator(derive(seed, "bootstrap", split_id, attempt))
        if labels is None:
            draws = rng.integers(0, n, size=n)
        else:
            parts = []
            for c in range(labels.n_classes):
                members = np.flatnonzero(labels.ids == c)
                parts.append(rng.choice(members, size=len(members), replace=True))
            draws = np.concatenate(parts)
        oob = np.setdiff1d(np.arange(n), draws)
        if len(oob):
            return draws.astype(np.int64), oob.astype(np.int64)
    raise DataError(
        f"make_splits: `y` must have enough rows for out-of-bag test rows in a bootstrap; "
        f"got {n} rows and no out-of-bag row in 100 draws."
    )
