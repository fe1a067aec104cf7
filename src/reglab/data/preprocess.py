"""Per-split preprocessing: impute, one-hot encode and standardize, fit on training rows only.

:meth:`Preprocessor.fit` receives the whole table and the indices of the training rows, and
computes every statistic from those rows alone; the validation and test rows of a split never
influence what is learned (a leakage test pins this). :meth:`Preprocessor.transform` then maps
*all* rows with the fitted statistics:

* numeric column ``c``: missing → ``median_c`` (median of the training rows), then
  ``(x − mean_c) / scale_c`` with ``mean_c`` and ``scale_c`` the mean and population standard
  deviation (ddof=0) of the imputed training values; ``scale_c = 1`` for a constant column
  (variance within rounding error of zero: ``var <= n·ε·var + (n·mean·ε)²``, as scikit-learn). A
  column with no training values imputes 0 and is left unscaled.
* categorical column ``c``: missing → the most frequent training value (ties: the smallest
  label), then one 0/1 column ``c=v`` for every value ``v`` seen in the training rows, in sorted
  order (or a fixed vocabulary, see ``categories``). A value outside the vocabulary encodes as
  all zeros.

Image and sequence data (:mod:`reglab.data.arrays`) scale their numeric columns otherwise,
as ``scaling`` says, still from the training rows alone:

* ``"range"`` (pixels): one ``lo``, ``hi`` over every value of the training rows, then
  ``(x − lo) / (hi − lo)``, so the training pixels span [0, 1] (8-bit images: ``x / 255``);
* ``"channel"``: the mean and population standard deviation of each ``group`` (an image
  channel, or one feature over all time steps), pooled over its columns.

The statistics are kept per column (``means_``, ``scales_``), so a fitted preprocessor is
saved and applied the same way whatever its scaling.

For tables this equals scikit-learn's ``ColumnTransformer([SimpleImputer('median') + StandardScaler,
SimpleImputer('most_frequent') + OneHotEncoder(handle_unknown='ignore')])`` fit on the
training rows (numeric columns first, then categorical), which the tests use as an oracle.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reglab._validation import check_choice
from reglab.data._layout import SCALINGS, channel_groups
from reglab.errors import ConfigError, DataError

__all__ = ["Preprocessor", "check_encoded_size", "encoded_widths"]

_MIB = 2**20
_CELL_BYTES = 4
"""Per cell of an encoded table as kept: float32."""
_ENCODING_BYTES = 16
"""Per cell while one table is encoded: its float64 blocks and their float64 concatenation."""


class Preprocessor:
    """Impute, one-hot encode and standardize a table, learning only from given rows.

    Args:
        numeric_columns: Columns to impute with the median and standardize.
        categorical_columns: Columns to impute with the mode and one-hot encode.
        categories: Optional fixed one-hot vocabulary per categorical column (in output
            order) instead of the values seen in the training rows. The vocabulary is schema,
            like the column names: fixing it (e.g. from :meth:`vocabulary` over all rows) gives
            every split the same output columns, so members of different splits can share a
            stack. Imputation and scaling statistics still come from the training rows only.
        scaling: ``"column"`` (standardize each numeric column), ``"range"`` (min-max over all
            numeric values to [0, 1]) or ``"channel"`` (standardize each of ``groups``).
        groups: For ``"channel"``, the numeric columns that share one mean and scale; a
            column in no group is its own.

    Attributes (after :meth:`fit`):
        medians_, means_, scales_: Per numeric column, float64 arrays.
        modes_: Per categorical column, the imputed value.
        categories_: Per categorical column, the one-hot values in output order (the sorted
            training values unless ``categories`` fixes them).

    >>> X = pd.DataFrame({"h": [1.0, None, 3.0, 100.0], "c": ["a", "b", None, "z"]})
    >>> pre = Preprocessor(["h"], ["c"]).fit(X, rows=np.array([0, 1, 2]))
    >>> pre.feature_names_out
    ('h', 'c=a', 'c=b')
    >>> pre.medians_.tolist(), pre.modes_
    ([2.0], ['a'])
    >>> pre.transform(X).astype(float).round(3).tolist()
    [[-1.225, 1.0, 0.0], [0.0, 0.0, 1.0], [1.225, 1.0, 0.0], [120.025, 0.0, 0.0]]
    """

    def __init__(
        self,
        numeric_columns: Sequence[str] = (),
        categorical_columns: Sequence[str] = (),
        *,
        categories: Mapping[str, Sequence[str]] | None = None,
        scaling: str = "column",
        groups: Sequence[Sequence[str]] | None = None,
    ) -> None:
        self.numeric_columns = numeric_columns
        self.categorical_columns = categorical_columns
        self.categories = categories
        self.scaling = scaling
        self.groups = groups

    @classmethod
    def for_dataset(cls, dataset: Any, *, fixed_categories: bool = False) -> Preprocessor:
        """A preprocessor for the column types of a :class:`~reglab.data.load.Dataset`.

        With ``fixed_categories=True`` the one-hot vocabulary is every value of each
        categorical column over all rows (:meth:`vocabulary`), so the output columns do not
        depend on the split.
        """
        categories = None
        if fixed_categories:
            categories = cls.vocabulary(dataset.X, dataset.categorical_columns)
        scaling = getattr(dataset, "scaling", "column")
        groups = None
        if scaling == "channel":
            groups = channel_groups(dataset.kind, dataset.shape, dataset.feature_names)
        return cls(
            dataset.numeric_columns,
            dataset.categorical_columns,
            categories=categories,
            scaling=scaling,
            groups=groups,
        )

    @staticmethod
    def vocabulary(X: pd.DataFrame, columns: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The sorted distinct non-missing values of each column, as strings.

        >>> Preprocessor.vocabulary(pd.DataFrame({"c": ["b", None, "a", "b"]}), ["c"])
        {'c': ('a', 'b')}
        """
        return {str(c): tuple(sorted({str(v) for v in _as_labels(X[c]).dropna()})) for c in columns}

    def fit(self, X: pd.DataFrame, rows: np.ndarray) -> Preprocessor:
        """Learn imputation values, categories and scaling from ``X.iloc[rows]`` only.

        Args:
            X: The whole table (all rows); only ``rows`` are read.
            rows: Integer positions of the training rows (duplicates allowed, as in a
                bootstrap sample, and weigh as often as they occur).

        Returns:
            ``self``.
        """
        check_choice("Preprocessor", "scaling", self.scaling, SCALINGS)
        numeric = [str(c) for c in self.numeric_columns]
        categorical = [str(c) for c in self.categorical_columns]
        both = set(numeric) & set(categorical)
        if both:
            raise ConfigError(
                "Preprocessor: `numeric_columns` and `categorical_columns` must not overlap; "
                f"got {sorted(both)} in both."
            )
        fixed = {str(k): tuple(str(v) for v in vs) for k, vs in (self.categories or {}).items()}
        unknown = sorted(set(fixed) - set(categorical))
        if unknown:
            raise ConfigError(
                f"Preprocessor: `categories` must only name categorical columns; got {unknown}."
            )
        missing = [c for c in (*numeric, *categorical) if c not in X.columns]
        if missing:
            raise DataError(
                f"Preprocessor: `X` must have the columns it was given; got no {missing}."
            )
        idx = self._check_rows(rows, len(X))
        train = X.iloc[idx]

        self.medians_ = np.zeros(len(numeric))
        self.means_ = np.zeros(len(numeric))
        self.scales_ = np.ones(len(numeric))
        if self.scaling != "column" and numeric:
            self._pool(train, numeric)
        for j, col in enumerate(numeric if self.scaling == "column" else ()):
            values = pd.to_numeric(train[col], errors="coerce").to_numpy(dtype=np.float64)
            seen = values[~np.isnan(values)]
            if seen.size == 0:
                continue
            self.medians_[j] = np.median(seen)
            filled = np.where(np.isnan(values), self.medians_[j], values)
            self.means_[j] = filled.mean()
            var = filled.var()
            self.scales_[j] = 1.0 if _is_constant(var, self.means_[j], len(filled)) else var**0.5

        self.modes_: list[str | None] = []
        self.categories_: list[tuple[str, ...]] = []
        for col in categorical:
            counts = _as_labels(train[col]).dropna().value_counts()
            seen = tuple(sorted(str(v) for v in counts.index))
            self.categories_.append(fixed.get(col, seen))
            if counts.empty:
                self.modes_.append(None)
                continue
            top = counts.max()
            self.modes_.append(min(str(v) for v in counts.index[counts == top]))
        self.numeric_: tuple[str, ...] = tuple(numeric)
        self.categorical_: tuple[str, ...] = tuple(categorical)
        return self

    def _pool(self, train: pd.DataFrame, numeric: list[str]) -> None:
        """Medians per column; means and scales shared by groups of columns (``"range"``: all
        of them; ``"channel"``: each group)."""
        every = _numbers(train[numeric])
        seen = ~np.isnan(every).all(axis=0)
        self.medians_[seen] = np.nanmedian(every[:, seen], axis=0)
        position = {c: j for j, c in enumerate(numeric)}
        if self.scaling == "range":
            groups = [numeric]
        else:
            given = [[str(c) for c in g if str(c) in position] for g in self.groups or ()]
            grouped = {c for g in given for c in g}
            groups = [g for g in given if g] + [[c] for c in numeric if c not in grouped]
        for group in groups:
            cols = [position[c] for c in group]
            values = np.where(np.isnan(every[:, cols]), self.medians_[cols], every[:, cols])
            if self.scaling == "range":
                lo, hi = float(values.min()), float(values.max())
                self.means_[cols], self.scales_[cols] = lo, (hi - lo) or 1.0
                continue
            mean, var = float(values.mean()), float(values.var())
            self.means_[cols] = mean
            self.scales_[cols] = 1.0 if _is_constant(var, mean, values.size) else var**0.5

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Map every row of ``X`` with the fitted statistics; float32 ``[n_rows, n_out]``."""
        self._check_fitted()
        blocks: list[np.ndarray] = []
        if self.numeric_:
            values = _numbers(X[list(self.numeric_)])
            values = np.where(np.isnan(values), self.medians_, values)
            blocks.append((values - self.means_) / self.scales_)
        for col, mode, cats in zip(self.categorical_, self.modes_, self.categories_, strict=True):
            labels = _as_labels(X[col])
            if mode is not None:
                labels = labels.fillna(mode)
            onehot = np.zeros((len(X), len(cats)))
            pos = pd.Index(cats).get_indexer(pd.Index(labels.to_numpy(dtype=object)))
            hit = pos >= 0
            onehot[np.flatnonzero(hit), pos[hit]] = 1.0
            blocks.append(onehot)
        if not blocks:
            return np.zeros((len(X), 0), dtype=np.float32)
        return np.hstack(blocks).astype(np.float32)

    def fit_transform(self, X: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        """:meth:`fit` on ``rows``, then :meth:`transform` all rows."""
        return self.fit(X, rows).transform(X)

    @property
    def feature_names_out(self) -> tuple[str, ...]:
        """Output column names: ``"col"`` for numeric, ``"col=value"`` for one-hot columns."""
        self._check_fitted()
        names = list(self.numeric_)
        for col, cats in zip(self.categorical_, self.categories_, strict=True):
            names.extend(f"{col}={v}" for v in cats)
        return tuple(names)

    @property
    def feature_groups(self) -> tuple[str, ...]:
        """For every output column, the original column it came from (feature-selection reports)."""
        self._check_fitted()
        groups = list(self.numeric_)
        for col, cats in zip(self.categorical_, self.categories_, strict=True):
            groups.extend([col] * len(cats))
        return tuple(groups)

    @property
    def n_features_out(self) -> int:
        """Number of output columns."""
        return len(self.feature_names_out)

    @staticmethod
    def _check_rows(rows: np.ndarray, n: int) -> np.ndarray:
        idx = np.asarray(rows)
        if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
            raise DataError(
                "Preprocessor: `rows` must be a non-empty 1-D array of integer row positions; "
                f"got dtype {idx.dtype} and shape {idx.shape}."
            )
        if idx.min() < 0 or idx.max() >= n:
            raise DataError(
                f"Preprocessor: `rows` must lie in [0, {n}); got values from {idx.min()} "
                f"to {idx.max()}."
            )
        return idx.astype(np.int64)

    def _check_fitted(self) -> None:
        if not hasattr(self, "numeric_"):
            raise ConfigError(
                "Preprocessor: `fit` must be called before `transform`; got an unfitted one."
            )

    def __repr__(self) -> str:
        fixed = "" if self.categories is None else ", categories=..."
        return (
            f"Preprocessor(numeric_columns={list(self.numeric_columns)!r}, "
            f"categorical_columns={list(self.categorical_columns)!r}{fixed})"
        )


def _is_constant(var: float, mean: float, n: int) -> bool:
    """Variance within float rounding of zero (scikit-learn's ``StandardScaler`` rule)."""
    eps = np.finfo(np.float64).eps
    return bool(var <= n * eps * var + (n * mean * eps) ** 2)


def _numbers(frame: pd.DataFrame) -> np.ndarray:
    """The columns as float64 (text that is no number → NaN); numeric columns at once."""
    if all(dtype.kind in "fiub" for dtype in frame.dtypes):
        return frame.to_numpy(dtype=np.float64)
    return frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)


def _as_labels(series: pd.Series) -> pd.Series:
    """Strings with NaN for missing, so numbers and text compare as labels."""
    return (
        series.astype(object)
        .where(series.notna(), np.nan)
        .map(lambda v: v if isinstance(v, float) and np.isnan(v) else str(v))
    )


# --- size, before encoding -------------------------------------------------------------------


def encoded_widths(dataset: Any) -> dict[str, int]:
    """How many inputs each feature column of a :class:`~reglab.data.load.Dataset` becomes:
    1 for a numeric column, its number of distinct values (levels, over all rows) for a
    categorical one. Counted without encoding anything.

    >>> from reglab.data.load import load_table
    >>> frame = pd.DataFrame({"h": [1.0, 2.0] * 4, "c": list("abcd") * 2, "y": [0, 1] * 4})
    >>> encoded_widths(load_table(frame, "y", task="binary"))
    {'h': 1, 'c': 4}
    """
    widths = {str(c): 1 for c in dataset.numeric_columns}
    for col in dataset.categorical_columns:
        widths[str(col)] = int(_as_labels(dataset.X[col]).nunique(dropna=True))
    return {str(c): widths[str(c)] for c in dataset.feature_names}


def check_encoded_size(
    dataset: Any,
    n_tables: int,
    budget_bytes: float,
    available_bytes: int | None,
    *,
    who: str = "Study",
) -> int:
    """Refuse, before encoding, input tables too large for the budget or the machine.

    Every split gets its own encoded table of ``n_rows x width`` float32 cells, ``width`` the
    sum of :func:`encoded_widths`. One table must fit ``budget_bytes`` (a stack holds at least
    one); all ``n_tables`` of them, plus the float64 blocks of the one being encoded, must fit
    ``available_bytes`` (host memory; ``None`` when unknown). The message names the widest
    categorical columns with their level counts and how to leave them out (``--drop``).

    Returns:
        The encoded width (number of inputs).

    >>> frame = pd.DataFrame({"c": [f"k{i % 900}" for i in range(2000)], "y": [0, 1] * 1000})
    >>> from reglab.data.load import load_table
    >>> check_encoded_size(load_table(frame, "y"), 5, 2**20, None)
    Traceback (most recent call last):
    ...
    reglab.errors.DataError: Study: one split's encoded input table must fit the memory budget ...
    """
    widths = encoded_widths(dataset)
    width = sum(widths.values())
    n_rows = int(dataset.n_rows)
    table = n_rows * width * _CELL_BYTES
    if table > budget_bytes:
        raise DataError(
            f"{who}: one split's encoded input table must fit the memory budget "
            f"(--memory-budget-mb, {budget_bytes / _MIB:g} MiB); got {n_rows:,} rows x "
            f"{width:,} inputs{_widest(dataset, widths)}, ~{_mib(table)} MiB; "
            f"{_advice(dataset, widths, 'raise the budget')}."
        )
    peak = n_tables * table + n_rows * width * _ENCODING_BYTES
    if available_bytes is not None and peak > available_bytes:
        raise DataError(
            f"{who}: the encoded input tables of all {n_tables} splits must fit in the memory "
            f"available on this machine (~{_mib(available_bytes)} MiB); got {n_rows:,} rows x "
            f"{width:,} inputs{_widest(dataset, widths)}, ~{_mib(peak)} MiB while encoding; "
            f"{_advice(dataset, widths, 'use fewer splits (--cv, --repeats)')}."
        )
    return width


def _categorical_widths(dataset: Any, widths: Mapping[str, int]) -> list[tuple[str, int]]:
    """The categorical columns that widen the table most (levels > 1), widest first, up to 3."""
    cats = [(str(c), widths[str(c)]) for c in dataset.categorical_columns if widths[str(c)] > 1]
    return sorted(cats, key=lambda cw: -cw[1])[:3]


def _widest(dataset: Any, widths: Mapping[str, int]) -> str:
    cats = _categorical_widths(dataset, widths)
    if not cats:
        return ""
    listed = ", ".join(f"`{c}` has {n:,} levels" for c, n in cats)
    return f" ({'column' if len(cats) == 1 else 'columns'} {listed})"


def _advice(dataset: Any, widths: Mapping[str, int], otherwise: str) -> str:
    """Leave out the widest categorical columns when they make most of the width."""
    cats = _categorical_widths(dataset, widths)
    if cats and sum(n for _, n in cats) * 2 >= sum(widths.values()):
        names = ",".join(c for c, _ in cats)
        them = "the column" if len(cats) == 1 else "those columns"
        return f"leave {them} out (--drop {shlex.quote(names)}) or {otherwise}"
    return f"{otherwise} or leave columns out (--drop)"


def _mib(n_bytes: float) -> str:
    mib = n_bytes / _MIB
    return f"{mib:,.0f}" if mib >= 10 else f"{mib:.2g}"
