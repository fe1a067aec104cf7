"""Load a table (file, DataFrame or arrays) into a :class:`Dataset`: typed columns, encoded target.

Rules, applied in this order and reported in ``Dataset.notices``:

* **Reading a file.** Only a regular file (after following links) is opened; its encoding (a
  byte-order mark, else UTF-8, else cp1252 with a notice), separator and decimal commas are
  detected as :mod:`reglab.data._text` states; header names lose surrounding spaces and
  byte-order marks.
* **Left out first.** The columns named in ``drop`` (``--drop``) are removed before any
  column is checked, so a column refused below can be left out instead of fixed.
* **Missing values.** Empty cells and the tokens ``NA``, ``?``, ``nan``, ``NaN``, ``null`` (after
  stripping surrounding whitespace) are missing.
* **Column types.** A column is *numeric* when every non-missing value parses as a number (so
  ``"00202"`` is 202); every other column is *categorical* (kept as strings). Booleans are
  numeric 0/1.
* **Refused** (:class:`~reglab.errors.DataError`, every column problem in one message, cells
  located by file line, the header being line 1, or by 0-based row index for a DataFrame or
  arrays):

  - duplicate column names, or a target that is not a column (with a did-you-mean);
  - fewer than ``MIN_ROWS = 4`` data rows with a target value (the smallest study, 2-fold
    cross-validation, trains on 2 rows per fold: one to fit, one to validate);
  - a *mostly numeric* column with stray text: at least 90 % of its non-missing cells are
    numbers or spreadsheet-formatted numbers (``1,5``, ``1,200.5``, ``$3``, ``12%``) but not
    all are plain numbers; the message names up to three of the other cells and where they
    are (such a column is a typo or a decimal comma away from numeric, and would otherwise be
    read as text, then usually dropped as id-like). The target is exempt when a
    classification task is asked for: its values are labels;
  - a number that is infinite or beyond float32's range (magnitude above 3.4e38), which
    training (in float32) would turn into infinities;
  - a column with no values at all;
  - a target with fewer than two classes, or a regression target with one value throughout
    or whose spread float32 (the precision of training) loses: a standard deviation below
    ``1e-5`` of its largest magnitude, like ``1e8`` and ``1e8 + 1``.
* **Target rows.** Rows whose target is missing are dropped.
* **Task.** With ``task=None`` a non-numeric target is classification; a numeric target whose
  values are all integers, with at most 20 distinct values and at least 5 rows per distinct value
  on average (``5·n_distinct <= n_rows``), is classification; any other numeric target is
  regression. Classification is ``"binary"`` with two classes and ``"multiclass"`` otherwise;
  ``task="classification"`` asks for classification and lets the class count decide.
* **Id-like columns are dropped.** A categorical column with more distinct values than half the
  rows (one-hot encoding would give mostly one-row columns: names, ids), and an integer column
  named like an id (``id``, ``index``, ``idx``, ``row``, ``…_id``, ``Unnamed: 0``) whose values
  are a permutation of a consecutive range.
* **Too many levels.** A categorical column with more than ``MAX_LEVELS = 1000`` distinct
  values is dropped too: one-hot encoding would give it an input per value.
* **Constant columns.** A column with one value in every row (and no missing value) is
  dropped: no model can learn from it, and an L1 study would report its weights, which only
  the penalty moves, as a feature kept or dropped by chance.
* **Leakage hint.** When categorical columns, alone or together, determine the target exactly
  (each combination of their values occurs with one class only), a notice says so; they are kept.

Classes are encoded ``0..C-1`` in sorted order (numerically for numeric labels), and
``Dataset.classes`` holds the original labels as strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reglab._validation import check_choice, suggest
from reglab.data._checks import MIN_ROWS, Locator, check_columns, check_rows
from reglab.data._layout import check_layout, describe_shape
from reglab.data._read import read_path
from reglab.data._schema import (
    MISSING_TOKENS,
    TASKS,
    LeakageHint,
    column_scores,
    constant,
    encode_target,
    id_like,
    id_suspect,
    leakage_hint,
    many_levels,
    typed_column,
)
from reglab.data.groups import GroupHint, Grouping, GroupSpec, group_hint, parse_groups
from reglab.errors import ConfigError, DataError

__all__ = [
    "MIN_ROWS",
    "MISSING_TOKENS",
    "TASKS",
    "Dataset",
    "from_arrays",
    "load_table",
    "with_groups",
]

TASK_CHOICES = (*TASKS, "classification")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded table: feature columns in their original form and an encoded target.

    Attributes:
        name: Short name (the file stem, the builtin name or ``"arrays"``).
        X: Feature columns, numeric ones as float64 (NaN = missing), categorical ones as
            strings (``None``/NaN = missing). Not yet imputed, encoded or scaled: that is fit
            per split by :class:`~reglab.data.preprocess.Preprocessor`.
        y: Class ids ``0..C-1`` (int64) for classification, float64 values for regression.
        task: ``"multiclass"``, ``"binary"`` or ``"regression"``.
        classes: Original class labels as strings, ``classes[k]`` for class id ``k``; ``()``
            for regression.
        feature_names: The columns of ``X``.
        numeric_columns: Numeric feature columns.
        categorical_columns: Categorical feature columns.
        dropped_columns: ``(column, reason)`` for every column left out.
        notices: Sentences describing what loading decided (dropped rows, inferred task …).
        source: Where the data came from (a path, ``"builtin:NAME"``, ``"DataFrame"``).
        target: Name of the target column.
        ground_truth: For synthetic data, the feature names by role (``"informative"``,
            ``"redundant"``, ``"noise"`` …); ``None`` when unknown.
        coefficients: For synthetic regression, the true coefficient of every feature in
            ``feature_names`` order; ``None`` otherwise.
        strongest_column: The column that alone predicts the target best on held-out rows,
            with its score (balanced accuracy, or R²; :func:`reglab.data._schema.column_scores`).
        kind: ``"table"``, ``"images"`` or ``"sequences"`` (:mod:`reglab.data.arrays`).
        shape: The shape of one sample, ``(C, H, W)`` for images or ``(T, F)`` for sequences,
            whose flattening (C-order) are the columns of ``X``; ``()`` for a table.
        scaling: How :class:`~reglab.data.preprocess.Preprocessor` scales the numeric columns:
            ``"column"`` (standardize each), ``"range"`` (one min-max to [0, 1]) or
            ``"channel"`` (standardize each image channel / sequence feature).
        grouping: The group of every row (:mod:`reglab.data.groups`, ``--groups``): splits
            keep each group whole in one of train, validation and test; ``None``: rows are
            independent.
        groups_hint: The first repeated-measures notice of ``notices`` with the ``--groups``
            spec it suggests (:func:`~reglab.data.groups.group_hint`); ``None`` without one.
        leakage: The possible-target-leakage notice of ``notices`` with the columns it flags
            (:func:`~reglab.data._schema.leakage_hint`); ``None`` without one.

    >>> ds = from_arrays([[1.0, 2.0], [3.0, 4.0]] * 5, ["a", "b"] * 5)
    >>> ds.task, ds.classes, ds.n_rows, ds.n_features, ds.y[:2].tolist()
    ('binary', ('a', 'b'), 10, 2, [0, 1])
    """

    name: str
    X: pd.DataFrame = field(repr=False)
    y: np.ndarray = field(repr=False)
    task: str
    classes: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()
    numeric_columns: tuple[str, ...] = ()
    categorical_columns: tuple[str, ...] = ()
    dropped_columns: tuple[tuple[str, str], ...] = ()
    notices: tuple[str, ...] = ()
    source: str = ""
    target: str = "y"
    ground_truth: Mapping[str, tuple[str, ...]] | None = None
    coefficients: tuple[float, ...] | None = None
    strongest_column: tuple[str, float] | None = None
    kind: str = "table"
    shape: tuple[int, ...] = ()
    scaling: str = "column"
    grouping: Grouping | None = None
    groups_hint: GroupHint | None = None
    leakage: LeakageHint | None = None

    def __post_init__(self) -> None:
        check_choice("Dataset", "task", self.task, TASKS)
        if self.grouping is not None and len(self.grouping.codes) != len(self.y):
            raise DataError(
                f"Dataset: `groups` must have one label per row ({len(self.y)}); got "
                f"{len(self.grouping.codes)}."
            )
        check_layout(self.kind, self.shape, self.scaling, len(self.feature_names))
        if len(self.y) != len(self.X):
            raise DataError(
                f"Dataset: `y` must have one value per row of `X` ({len(self.X)}); "
                f"got {len(self.y)}."
            )
        if tuple(self.X.columns) != tuple(self.feature_names):
            raise DataError(
                f"Dataset: `feature_names` must equal the columns of `X`; "
                f"got {list(self.feature_names)} for {list(self.X.columns)}."
            )
        if set(self.numeric_columns) | set(self.categorical_columns) != set(self.feature_names):
            raise DataError(
                "Dataset: `numeric_columns` and `categorical_columns` must together be "
                f"`feature_names`; got {list(self.numeric_columns)} and "
                f"{list(self.categorical_columns)}."
            )

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.y)

    @property
    def n_features(self) -> int:
        """Number of feature columns (before one-hot encoding)."""
        return len(self.feature_names)

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return len(self.classes)

    @property
    def is_classification(self) -> bool:
        """Whether the task is binary or multiclass classification."""
        return self.task != "regression"

    @property
    def described_shape(self) -> str:
        """The data's size in words: ``"150 rows x 4 columns"``, ``"10000 images 1×28×28"``."""
        return describe_shape(self.kind, self.shape, self.n_rows, self.n_features)

    def samples(self) -> np.ndarray:
        """The features in their own shape, ``[N, C, H, W]`` or ``[N, T, F]`` (float32, not
        preprocessed); ``[N, features]`` for a numeric table."""
        values = self.X.to_numpy(dtype=np.float32)
        return values.reshape(len(values), *self.shape) if self.shape else values

    @property
    def informative(self) -> tuple[str, ...] | None:
        """Names of the truly informative features, when known (synthetic data)."""
        return None if self.ground_truth is None else self.ground_truth.get("informative")

    def without(self, columns: Sequence[str]) -> Dataset:
        """This data set without the feature ``columns`` (each named with a did-you-mean).

        Columns reglab already left out (id-like, empty, ...) are accepted and stay out, so
        ``--drop id`` works whether or not ``id`` was dropped automatically.

        >>> ds = from_arrays([[1.0, 2.0, 3.0]] * 4, [0, 1, 0, 1])
        >>> ds.without(["x1"]).feature_names
        ('x0', 'x2')
        """
        if self.kind != "table" and columns:
            raise DataError(
                f"Dataset {self.name!r}: columns to drop (--drop) must be table columns; got "
                f"{next(iter(columns))!r} for {self.kind} ({self.described_shape}), whose "
                "pixels or time steps are kept together."
            )
        already = {c for c, _ in self.dropped_columns}
        columns = [c for c in dict.fromkeys(columns) if c not in already]
        unknown = [c for c in columns if c not in self.feature_names]
        if unknown:
            raise DataError(
                f"Dataset {self.name!r}: columns to drop must be feature columns; got "
                f"{unknown[0]!r}." + suggest(unknown[0], self.feature_names)
            )
        drop = set(columns)
        keep = tuple(c for c in self.feature_names if c not in drop)
        notices = tuple(n for n in self.notices if not any(repr(c) in n for c in columns))
        if not keep:
            raise DataError(
                f"Dataset {self.name!r}: at least one feature column must remain; got all "
                f"{len(self.feature_names)} dropped."
            )
        return replace(
            self,
            X=self.X[list(keep)],
            feature_names=keep,
            numeric_columns=tuple(c for c in self.numeric_columns if c not in drop),
            categorical_columns=tuple(c for c in self.categorical_columns if c not in drop),
            dropped_columns=(*self.dropped_columns, *((c, "asked to drop") for c in columns)),
            notices=notices,
            strongest_column=None
            if self.strongest_column is None or self.strongest_column[0] in drop
            else self.strongest_column,
            groups_hint=self.groups_hint
            if self.groups_hint is not None and self.groups_hint.notice in notices
            else None,
            leakage=self.leakage
            if self.leakage is not None and self.leakage.notice in notices
            else None,
        )


def load_table(
    source: str | Path | pd.DataFrame,
    target: str | None,
    *,
    task: str | None = None,
    drop: Sequence[str] = (),
    groups: Any = None,
) -> Dataset:
    """Load a ``.csv``/``.tsv``/``.txt`` (separator sniffed) or ``.parquet`` file, or a DataFrame.

    Args:
        source: Path of the file, or a DataFrame holding features and target.
        target: Name of the target column (``None`` is refused with the columns listed).
        task: ``"multiclass"``, ``"binary"``, ``"regression"``, ``"classification"`` (binary or
            multiclass by class count) or ``None`` to infer it (see the module docstring).
        drop: Feature columns to leave out (``--drop``). They are removed before any column
            is checked, so a column refused for its content can be left out instead of fixed.
        groups: The rows' groups (``--groups``, :mod:`reglab.data.groups`): ``"COL"``,
            ``"COL:prefix=SEP"`` or one label per row; the group column is not a feature.

    Returns:
        The :class:`Dataset`.

    Raises:
        DataError: The file or a column is unusable (one line naming it).
        ConfigError: ``task`` is not a known task.

    >>> frame = pd.DataFrame({"x": [1.0, 2.0, None, 4.0] * 3, "y": ["a", "b", "a", "b"] * 3})
    >>> ds = load_table(frame, "y")
    >>> ds.task, ds.classes, ds.numeric_columns, int(ds.X["x"].isna().sum())
    ('binary', ('a', 'b'), ('x',), 3)
    """
    if task is not None:
        check_choice("load_table", "task", task, TASK_CHOICES)
    if isinstance(source, pd.DataFrame):
        return _build("load_table", source, target, task, where="the DataFrame",
                      name="DataFrame", source="DataFrame", drop=drop,
                      groups=groups)  # fmt: skip
    path = Path(source)
    raw = read_path(path)
    return _build("load_table", raw.frame, target, task, where=repr(path.name), name=path.stem,
                  source=str(path), notices=raw.notices, lines=raw.lines,
                  drop=drop, groups=groups)  # fmt: skip


def from_arrays(
    X: Any,
    y: Any,
    *,
    feature_names: Sequence[str] | None = None,
    task: str | None = None,
    name: str = "arrays",
    drop: Sequence[str] = (),
    groups: Any = None,
) -> Dataset:
    """Build a :class:`Dataset` from a 2-D array or DataFrame ``X`` and a 1-D target ``y``.

    Columns are named ``feature_names``, else the DataFrame's columns, else ``x0, x1, …``.
    Missing values, column types, the task, id-like columns, ``drop`` and ``groups`` follow the
    same rules as :func:`load_table`; constant columns are dropped only when named (columns
    known by position keep their places, so that arrays of the same width predict).

    >>> ds = from_arrays(np.arange(20.0).reshape(10, 2), np.linspace(0, 1, 10))
    >>> ds.task, ds.feature_names, ds.y.dtype
    ('regression', ('x0', 'x1'), dtype('float64'))
    """
    who = "from_arrays"
    if task is not None:
        check_choice(who, "task", task, TASK_CHOICES)
    if isinstance(X, pd.DataFrame):
        frame = X.reset_index(drop=True)
    else:
        arr = np.asarray(X, dtype=object if _is_text_array(X) else None)
        if arr.ndim != 2:
            raise DataError(f"{who}: `X` must be a 2-D array; got shape {arr.shape}.")
        frame = pd.DataFrame(arr, columns=[f"x{j}" for j in range(arr.shape[1])])
    if feature_names is not None:
        names = [str(n) for n in feature_names]
        if len(names) != frame.shape[1]:
            raise DataError(
                f"{who}: `feature_names` must have one name per column of `X` "
                f"({frame.shape[1]}); got {len(names)}."
            )
        frame.columns = pd.Index(names, dtype=object)
    if np.ndim(y) != 1:
        raise DataError(f"{who}: `y` must be 1-D; got shape {np.shape(y)}.")
    yy = y.reset_index(drop=True) if isinstance(y, pd.Series) else pd.Series(np.asarray(y))
    if len(yy) != len(frame):
        raise DataError(
            f"{who}: `y` must have one value per row of `X` ({len(frame)}); got {len(yy)}."
        )
    target = str(yy.name) if yy.name is not None else "target"
    while target in frame.columns:
        target = f"_{target}"
    frame = frame.copy()
    frame[target] = yy.to_numpy()
    # Columns known only by position keep their places, so that a model fit on them predicts
    # from arrays of the same width: a constant column is kept (its inputs are all 0 after
    # scaling, so no model uses it).
    positional = not isinstance(X, pd.DataFrame) and feature_names is None
    return _build(
        who, frame, target, task, where="the arrays", name=name, source="arrays", drop=drop,
        groups=groups, drop_constant=not positional,
    )  # fmt: skip


def _is_text_array(X: Any) -> bool:
    try:
        arr = np.asarray(X)
    except ValueError:
        return True
    return arr.dtype.kind in "OUS"


# --- building --------------------------------------------------------------------------------


def _build(
    who: str,
    frame: pd.DataFrame,
    target: str | None,
    task: str | None,
    *,
    where: str,
    name: str,
    source: str,
    notices: list[str] | None = None,
    lines: Callable[[], np.ndarray] | None = None,
    drop: Sequence[str] = (),
    groups: Any = None,
    drop_constant: bool = True,
) -> Dataset:
    notices = list(notices or [])
    columns = [str(c) for c in frame.columns]
    counts = pd.Series(columns).value_counts()
    dupes = counts[counts > 1]
    if len(dupes):
        listed = ", ".join(f"{c!r} {n} times" for c, n in dupes.items())
        raise DataError(f"{who}: column names of {where} must be unique; got {listed}.")
    shown = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")
    if target is None:
        raise ConfigError(
            f"{who}: `target` (--target) must name the target column of {where} ({shown}); "
            "got none."
        )
    if target not in columns:
        raise DataError(
            f"{who}: `target` must be a column of {where} ({shown}); got {target!r}."
            + suggest(target, columns)
            + _headerless_hint(columns)
        )
    asked = _check_drop(who, where, columns, target, drop)
    check_rows(who, where, len(frame), len(frame), target)
    frame = frame.set_axis(columns, axis=1)
    grouping, group_column = _group_rows(where, frame, columns, target, asked, groups)
    removed = [*asked, *([group_column] if group_column is not None else [])]
    if removed:
        frame = frame.drop(columns=removed)
        columns = [c for c in columns if c not in set(removed)]
    checked = {c: typed_column(frame[c]) for c in columns}
    check_columns(who, where, checked, target, task, Locator(lines))
    typed = {c: series for c, (series, _) in checked.items()}

    y_raw = typed[target]
    keep = y_raw.notna().to_numpy()
    check_rows(who, where, int(keep.sum()), len(keep), target)
    if not keep.all():
        n_missing = int((~keep).sum())
        notices.append(
            f"dropped {n_missing} of {len(keep)} rows whose target {target!r} is missing"
        )
    y_raw = y_raw[keep].reset_index(drop=True)
    if grouping is not None and not keep.all():
        grouping = grouping.subset(keep)
    task, y, classes, why = encode_target(who, where, target, y_raw, task)
    if why:
        notices.append(why)

    features = {c: s[keep].reset_index(drop=True) for c, s in typed.items() if c != target}
    dropped: list[tuple[str, str]] = [(c, "asked to drop") for c in asked]
    hints: list[GroupHint] = []
    if group_column is not None:
        dropped.append((group_column, "the groups (--groups)"))
    for col, series in list(features.items()):
        reason = id_like(col, series)
        if reason:
            dropped.append((col, reason))
            notices.append(f"dropped id-like column {col!r} ({reason})")
            hint = None if grouping is not None else group_hint(col, series, dropped=True)
            if hint:
                hints.append(hint)
                notices.append(hint.notice)
            del features[col]
            continue
        reason = many_levels(series)
        if reason:
            dropped.append((col, reason))
            notices.append(
                f"dropped column {col!r} ({reason}); fold its rare values together to keep it"
            )
            del features[col]
            continue
        reason = constant(series) if drop_constant else ""
        if reason:
            dropped.append((col, reason))
            notices.append(f"dropped constant column {col!r} ({reason}: it carries no information)")
            del features[col]
            continue
        suspect = id_suspect(col, series)
        if suspect:
            notices.append(suspect)
        hint = None if grouping is not None else group_hint(col, series, dropped=False)
        if hint:
            hints.append(hint)
            notices.append(hint.notice)
    if not features:
        raise DataError(
            f"{who}: {where} must have at least one usable feature column besides the target "
            f"{target!r}; got none" + (f" (dropped {[c for c, _ in dropped]})." if dropped else ".")
        )
    X = pd.DataFrame(features)
    missing = missing_notice(X)
    if missing:
        notices.append(missing)
    numeric = tuple(c for c in X.columns if X[c].dtype.kind == "f")
    categorical = tuple(c for c in X.columns if X[c].dtype.kind != "f")
    scores = column_scores(X, categorical, y, task)
    leakage = leakage_hint(X, categorical, y, scores, task)
    if leakage:
        notices.append(leakage.notice)
    return Dataset(
        name=name, X=X, y=y, task=task, classes=classes, feature_names=tuple(X.columns),
        numeric_columns=numeric, categorical_columns=categorical, dropped_columns=tuple(dropped),
        notices=tuple(notices), source=source, target=target,
        strongest_column=scores[0] if scores else None, grouping=grouping,
        groups_hint=hints[0] if hints else None, leakage=leakage,
    )  # fmt: skip


def _group_rows(
    where: str,
    frame: pd.DataFrame,
    columns: list[str],
    target: str,
    asked: Sequence[str],
    groups: Any,
) -> tuple[Grouping | None, str | None]:
    """The grouping of every row of ``frame`` (before any row is dropped) and the column it
    came from, which is then no feature; ``(None, None)`` without ``groups``."""
    if groups is None:
        return None, None
    if isinstance(groups, str | GroupSpec):
        spec = parse_groups(groups) if isinstance(groups, str) else groups
        if spec.column == target:
            raise DataError(
                f"groups: column {spec.column!r} (--groups) of {where} must not be the target."
            )
        if spec.column not in columns or spec.column in asked:
            features = [c for c in columns if c != target and c not in asked]
            shown = ", ".join(features[:12]) + (", …" if len(features) > 12 else "")
            raise DataError(
                f"groups: `--groups` must name a column of {where} ({shown}); got "
                f"{spec.column!r}." + suggest(spec.column, features)
            )
        labels = spec.labels(frame[spec.column], where)
        return Grouping.of(labels, spec.text, spec.phrase), spec.column
    arr = np.asarray(groups)
    if arr.ndim != 1 or len(arr) != len(frame):
        raise DataError(
            f"groups: `groups` must be a column name or one label per row of {where} "
            f"({len(frame)}); got an array of shape {arr.shape}."
        )
    return Grouping.of(arr, "array", "the given groups"), None


def with_groups(dataset: Dataset, groups: Any) -> Dataset:
    """``dataset`` with the rows' groups: a feature column (``"COL"``, ``"COL:prefix=SEP"``,
    which then stops being a feature) or one label per row. For data already loaded (built-in
    sets, arrays); files take ``groups`` in :func:`load_table`, before id-like columns go.

    >>> ds = from_arrays([[0.0, 1.0], [0.0, 2.0], [1.0, 3.0], [1.0, 4.0]] * 3, [0, 1] * 6)
    >>> g = with_groups(ds, "x0")
    >>> g.feature_names, g.grouping.describe()
    (('x1',), 'grouped by x0 (2 groups)')
    """
    if groups is None:
        return dataset
    if dataset.kind != "table" and isinstance(groups, str | GroupSpec):
        raise DataError(
            f"groups: `--groups` must name a table column; {dataset.name!r} is "
            f"{dataset.kind} ({dataset.described_shape}): give one label per row instead."
        )
    where = f"data set {dataset.name!r}"
    grouping, column = _group_rows(
        where, dataset.X, list(dataset.feature_names), dataset.target, (), groups
    )
    if column is None:
        return replace(dataset, grouping=grouping, groups_hint=None)
    keep = tuple(c for c in dataset.feature_names if c != column)
    if not keep:
        raise DataError(
            f"groups: {where} must keep at least one feature column besides the groups "
            f"{column!r}; got none."
        )
    return replace(
        dataset,
        X=dataset.X[list(keep)],
        feature_names=keep,
        numeric_columns=tuple(c for c in dataset.numeric_columns if c != column),
        categorical_columns=tuple(c for c in dataset.categorical_columns if c != column),
        dropped_columns=(*dataset.dropped_columns, (column, "the groups (--groups)")),
        strongest_column=None
        if dataset.strongest_column is not None and dataset.strongest_column[0] == column
        else dataset.strongest_column,
        grouping=grouping,
        groups_hint=None,
    )


def _check_drop(
    who: str, where: str, columns: list[str], target: str, drop: Sequence[str]
) -> list[str]:
    """The columns of ``drop`` (each once), each a feature column of the table."""
    asked = list(dict.fromkeys(str(c) for c in drop))
    for column in asked:
        if column == target:
            raise DataError(
                f"{who}: columns to drop (--drop) must be feature columns of {where}; got "
                f"{column!r}, the target."
            )
        if column not in columns:
            features = [c for c in columns if c != target]
            shown = ", ".join(features[:12]) + (", …" if len(features) > 12 else "")
            raise DataError(
                f"{who}: columns to drop (--drop) must be feature columns of {where} ({shown}); "
                f"got {column!r}." + suggest(column, features)
            )
    if asked and len(asked) >= len(columns) - 1:
        raise DataError(
            f"{who}: at least one feature column of {where} must remain; got all "
            f"{len(columns) - 1} dropped (--drop)."
        )
    return asked


def missing_notice(X: pd.DataFrame, shown: int = 5) -> str | None:
    """How many feature cells are missing and will be imputed, by column (most first).

    >>> missing_notice(pd.DataFrame({"a": [1.0, None, None], "b": ["x", None, "y"], "c": [1, 2, 3]}))
    "3 missing cells in 2 columns will be imputed (median or most frequent value of each training part): 'a' 2, 'b' 1"
    """  # noqa: E501
    counts = X.isna().sum()
    counts = counts[counts > 0].sort_values(ascending=False, kind="stable")
    if counts.empty:
        return None
    listed = ", ".join(f"{c!r} {int(n)}" for c, n in counts.iloc[:shown].items())
    more = f" and {len(counts) - shown} more columns" if len(counts) > shown else ""
    total, cols = int(counts.sum()), len(counts)
    return (
        f"{total} missing {'cell' if total == 1 else 'cells'} in {cols} "
        f"{'column' if cols == 1 else 'columns'} will be imputed (median or most frequent value "
        f"of each training part): {listed}{more}"
    )


def _headerless_hint(columns: list[str]) -> str:
    """A hint when every column name is a number: the file has no header row."""
    if len(pd.to_numeric(pd.Series(columns), errors="coerce").dropna()) < len(columns):
        return ""
    return " Its first line holds only numbers: is the header row missing?"
