"""Schema inference for :mod:`reglab.data.load`: column types, the task, id-like columns.

The rules are stated in :mod:`reglab.data.load`'s docstring; these helpers implement them.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reglab._validation import TASKS
from reglab.errors import DataError

__all__ = [
    "MISSING_TOKENS",
    "MOSTLY_NUMERIC",
    "TASKS",
    "LeakageHint",
    "column_scores",
    "encode_target",
    "id_like",
    "leakage_hint",
    "looks_formatted",
    "many_levels",
    "typed_column",
]

MISSING_TOKENS = frozenset({"", "NA", "?", "nan", "NaN", "null"})
MAX_CLASSES_FOR_INTEGER_TARGET = 20
MIN_ROWS_PER_CLASS = 5
MOSTLY_NUMERIC = 0.9
MAX_LEVELS = 1000
"""A categorical column with more distinct values than this is left out, with a notice."""
MIN_RELATIVE_SPREAD = 1e-5
"""A regression target's standard deviation must be at least this share of its largest
magnitude: float32 keeps about 7 significant digits, so a smaller spread is rounding noise."""
# A number as spreadsheets format it: "1,5", "1,234.5", "$1,200", "12%", "(1,000)", "-€3,50".
_FORMATTED = re.compile(r"\(?[+-]?[$€£¥]?[+-]?\d[\d.,]*([eE][+-]?\d+)?%?\)?")
ALONE_PREDICTS = 0.98
"""A column whose held-out score alone (balanced accuracy, or R²) reaches this is flagged."""
_SCORE_ROWS = 4000
"""At most this many rows (a seeded sample) decide how well each column predicts alone."""
_ID_TOKENS = frozenset({"id", "idx", "index", "row", "rowid", "rownum", "rownumber"})


_ADVICE = "drop them (--drop) if they are unknown at prediction time"


def typed_column(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The typed column and the positions of its stray cells.

    The column is float64 when every non-missing value is a number, else object strings (NaN =
    missing). It is *mostly numeric* when at least :data:`MOSTLY_NUMERIC` of its non-missing
    cells are numbers or formatted numbers (:func:`looks_formatted`); then the positions of
    the cells that do not parse are returned, to be refused, else an empty array.

    >>> col, stray = typed_column(pd.Series(["1", "2", "x", ""] + ["3"] * 8))
    >>> col.dtype.kind, stray.tolist()
    ('O', [2])
    """
    none = np.zeros(0, dtype=np.int64)
    if series.dtype.kind in "biuf":
        return series.astype("float64").reset_index(drop=True), none
    values = series.astype(object).reset_index(drop=True)
    absent = values.isna().to_numpy()
    text = values.map(lambda v: str(v).strip(), na_action="ignore").astype(object)
    missing = absent | text.isin(MISSING_TOKENS).to_numpy()
    strings = text.where(~missing, np.nan).astype(object)
    numbers = pd.to_numeric(strings, errors="coerce")
    n_filled = int((~missing).sum())
    parsed = numbers.notna().to_numpy()
    if parsed.sum() == n_filled:
        return numbers.astype("float64"), none
    stray = np.flatnonzero(~missing & ~parsed)
    misses_allowed = n_filled - MOSTLY_NUMERIC * n_filled  # cells neither number nor formatted
    misses = 0
    for value in strings.iloc[stray]:
        misses += not looks_formatted(value)
        if misses > misses_allowed:
            return strings, none
    return strings, stray


def looks_formatted(text: str) -> bool:
    """Whether ``text`` is a number with a comma, currency or percent sign, as spreadsheets
    format them; a version like ``1.2.3`` is not.

    >>> [looks_formatted(t) for t in ["1,5", "$1,200", "12%", "(1,000)", "1.2.3", "abc", "1.5"]]
    [True, True, True, True, False, False, False]
    """
    return _FORMATTED.fullmatch(text) is not None and any(c in text for c in ",$€£¥%")


def _infer_task(target: str, y: pd.Series) -> tuple[str, str]:
    """``("regression" | "classification", why)`` for a target when no task is given."""
    if y.dtype.kind != "f":
        return "classification", ""
    values = y.to_numpy(dtype=np.float64)
    if not np.all(values == np.round(values)):
        return "regression", ""
    n_distinct = len(np.unique(values))
    if n_distinct > MAX_CLASSES_FOR_INTEGER_TARGET:
        return "regression", (
            f"inferred task 'regression': target {target!r} is numeric with {n_distinct} "
            f"distinct values (more than {MAX_CLASSES_FOR_INTEGER_TARGET})"
        )
    if MIN_ROWS_PER_CLASS * n_distinct > len(values):
        return "regression", (
            f"inferred task 'regression': target {target!r} has {n_distinct} distinct values "
            f"in {len(values)} rows (fewer than {MIN_ROWS_PER_CLASS} rows each)"
        )
    return "classification", (
        f"inferred classification: target {target!r} holds integers with {n_distinct} "
        "distinct values"
    )


def encode_target(
    who: str, where: str, target: str, y: pd.Series, task: str | None
) -> tuple[str, np.ndarray, tuple[str, ...], str]:
    numeric = y.dtype.kind == "f"
    why = ""
    if task is None:
        task, why = _infer_task(target, y)
    if task == "regression":
        if not numeric:
            examples = ", ".join(repr(v) for v in pd.unique(y)[:3])
            raise DataError(
                f"{who}: target `{target}` of {where} must be numeric for task 'regression'; "
                f"got text values such as {examples}."
            )
        values = y.to_numpy(dtype=np.float64)
        if len(values) and values.min() == values.max():
            raise DataError(
                f"{who}: target `{target}` of {where} must vary for task 'regression'; got "
                f"{_label(values[0])} in all {len(values)} rows."
            )
        _check_resolution(who, where, target, values)
        return "regression", values, (), why
    if numeric:
        uniq, codes = np.unique(y.to_numpy(dtype=np.float64), return_inverse=True)
        classes = tuple(_label(v) for v in uniq)
    else:
        uniq, codes = np.unique(y.to_numpy(dtype=object).astype(str), return_inverse=True)
        classes = tuple(str(v) for v in uniq)
    if len(classes) < 2:
        raise DataError(
            f"{who}: target `{target}` of {where} must have at least 2 classes; "
            f"got only {classes[0]!r}."
        )
    if task == "binary" and len(classes) != 2:
        shown = ", ".join(repr(c) for c in classes[:5]) + (", …" if len(classes) > 5 else "")
        raise DataError(
            f"{who}: target `{target}` of {where} must have exactly 2 classes for task "
            f"'binary'; got {len(classes)} ({shown})."
        )
    if task not in ("binary", "multiclass"):
        task = "binary" if len(classes) == 2 else "multiclass"
    return task, codes.astype(np.int64).reshape(-1), classes, why


def _check_resolution(who: str, where: str, target: str, values: np.ndarray) -> None:
    """Refuse a regression target whose spread is lost in float32, the precision of training.

    Training stores the target in float32 (about 7 significant digits) and standardizes it
    there, so a target varying by less than :data:`MIN_RELATIVE_SPREAD` of its magnitude
    (``1e8`` and ``1e8 + 1``, equal in float32), or whose spread float32 does not keep
    (values below its smallest normal number, ~1e-38), would be learnt from rounding noise.

    >>> _check_resolution("f", "the arrays", "t", np.array([1e8, 1e8 + 1] * 5))
    Traceback (most recent call last):
    ...
    reglab.errors.DataError: f: target `t` of the arrays must vary by more than float32 rounding ...
    """
    if not len(values):
        return
    std = float(values.std())
    largest = float(np.abs(values).max())
    with np.errstate(all="ignore"):  # values beyond float32's range are refused before this
        kept = float(values.astype(np.float32).astype(np.float64).std())  # below ~1e-38 too
    if std >= MIN_RELATIVE_SPREAD * largest and abs(kept - std) <= 0.01 * std:
        return
    lo, hi = _label(values.min()), _label(values.max())
    raise DataError(
        f"{who}: target `{target}` of {where} must vary by more than float32 rounding for task "
        f"'regression' (training runs in float32: its standard deviation must be at least "
        f"{MIN_RELATIVE_SPREAD:g} of its largest magnitude, {largest:.6g}); got values from {lo} "
        f"to {hi} with standard deviation {std:.3g}. Subtract a constant near "
        f"{float(values.mean()):.10g} from the target first."
    )


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def id_like(name: str, series: pd.Series) -> str:
    values = series.dropna()
    n_rows = len(series)
    if series.dtype.kind != "f":
        n_distinct = values.nunique()
        if n_distinct > n_rows / 2:
            return f"{n_distinct} distinct text values in {n_rows} rows"
        return ""
    if not _named_like_id(name) or len(values) != n_rows or n_rows < 2:
        return ""
    v = values.to_numpy()
    if not np.all(v == np.round(v)):
        return ""
    if len(np.unique(v)) == n_rows and v.max() - v.min() == n_rows - 1:
        return f"integer row numbers {int(v.min())}..{int(v.max())}"
    return ""


def many_levels(series: pd.Series) -> str:
    """Why a categorical column with more than :data:`MAX_LEVELS` distinct values is left out
    ('' to keep it): one-hot encoding would give it that many inputs, nearly all rare.

    >>> many_levels(pd.Series([f"k{i % 1500}" for i in range(4000)], dtype=object))
    '1500 distinct values, more than 1000: one-hot encoding would add an input for each'
    """
    if series.dtype.kind == "f":
        return ""
    n_levels = series.dropna().nunique()
    if n_levels <= MAX_LEVELS:
        return ""
    return (
        f"{n_levels} distinct values, more than {MAX_LEVELS}: one-hot encoding would add an "
        "input for each"
    )


def constant(series: pd.Series) -> str:
    """Why a column with one value in every row is left out ('' to keep it): no model can
    learn from it, and an L1 study would report its weights, which only the penalty moves, as
    a feature it keeps or drops by chance. A column with missing values is kept (whether a
    value is missing may carry information).

    >>> constant(pd.Series([3.0, 3.0, 3.0]))
    'the same value, 3, in every row'
    >>> constant(pd.Series([3.0, None, 3.0]))
    ''
    """
    if series.isna().any() or series.nunique() != 1:
        return ""
    value = series.iloc[0]
    shown = f"{value:g}" if isinstance(value, float | np.floating) else repr(str(value))
    return f"the same value, {shown}, in every row"


def id_suspect(name: str, series: pd.Series) -> str | None:
    """A notice for a kept numeric column whose content looks like an identifier.

    Nearly all values (at least 90%) distinct integers: a record or patient number is like
    that, but so is a precise integer measurement, so the column is kept and the notice says
    how to leave it out.

    >>> id_suspect("hospital", pd.Series(np.arange(100.0) * 7 + 3))
    "column 'hospital' looks like an identifier (100 distinct integers in 100 rows); it is kept as a feature: if it identifies records, leave it out with --drop hospital"
    """  # noqa: E501
    if series.dtype.kind != "f":
        return None
    values = series.dropna().to_numpy()
    n = len(series)
    if n < 20 or len(values) < 0.95 * n or not np.all(values == np.round(values)):
        return None
    distinct = len(np.unique(values))
    if distinct < 0.9 * n:
        return None
    return (
        f"column {name!r} looks like an identifier ({distinct} distinct integers in {n} rows); "
        "it is kept as a feature: if it identifies records, leave it out with "
        f"--drop {shlex.quote(name)}"
    )


def _named_like_id(name: str) -> bool:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    tokens = [t.lower() for t in re.split(r"[^A-Za-z0-9]+", spaced) if t]
    if not tokens:
        return True
    if name.lower().startswith("unnamed"):
        return True
    return "".join(tokens) in _ID_TOKENS or tokens[-1] in {"id", "idx", "index"}


def column_scores(
    X: pd.DataFrame, categorical: Sequence[str], y: np.ndarray, task: str
) -> list[tuple[str, float]]:
    """How well each column alone predicts the target on held-out rows, best first.

    Half the rows (a seeded shuffle of at most :data:`_SCORE_ROWS`) fit a one-column rule, the
    other half score it: a categorical column predicts each level's majority class (regression:
    mean), a numeric one through a depth-4 decision tree (missing values as the fitted half's
    median). The score is balanced accuracy (regression: R²).

    >>> x = pd.DataFrame({"leak": np.arange(200.0) % 2, "noise": np.random.default_rng(0).random(200)})
    >>> [(c, round(v, 2)) for c, v in column_scores(x, [], (np.arange(200) % 2), "binary")][0]
    ('leak', 1.0)
    """  # noqa: E501
    from sklearn.metrics import balanced_accuracy_score, r2_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    n = len(y)
    if n < 40:
        return []
    order = np.random.default_rng(0).permutation(n)[:_SCORE_ROWS]
    fit, held = order[: len(order) // 2], order[len(order) // 2 :]
    regression = task == "regression"
    score = r2_score if regression else balanced_accuracy_score
    y_fit, y_held = y[fit], y[held]
    if not regression and len(np.unique(y_held)) < 2:
        return []
    out = []
    for col in X.columns:
        values = X[col].to_numpy()
        if col in categorical:
            keys = pd.Series(values).astype(str)
            table = pd.Series(y_fit).groupby(keys.iloc[fit].to_numpy())
            rule = table.mean() if regression else table.agg(_majority)
            fallback = float(np.mean(y_fit)) if regression else pd.Series(y_fit).mode()[0]
            pred = keys.iloc[held].map(rule).fillna(fallback).to_numpy()
        else:
            raw = values.astype(np.float64)
            fill = np.nanmedian(raw[fit]) if np.isfinite(raw[fit]).any() else 0.0
            x = np.where(np.isnan(raw), fill, raw).reshape(-1, 1)
            tree = (DecisionTreeRegressor if regression else DecisionTreeClassifier)(
                max_depth=4, random_state=0
            )
            pred = tree.fit(x[fit], y_fit).predict(x[held])
        out.append((str(col), float(score(y_held, pred))))
    return sorted(out, key=lambda t: -t[1])


def _majority(values: pd.Series) -> Any:
    return values.value_counts().idxmax()


@dataclass(frozen=True)
class LeakageHint:
    """A possible-target-leakage notice and the columns it flags (kept, for ``--drop``)."""

    columns: tuple[str, ...]
    notice: str


def leakage_hint(
    X: pd.DataFrame,
    categorical: Sequence[str],
    y: np.ndarray,
    scores: Sequence[tuple[str, float]] = (),
    task: str = "multiclass",
) -> LeakageHint | None:
    """A notice when categorical columns (alone, else all together) fix the target exactly,
    or when columns alone predict it almost perfectly on held-out rows (``scores``, from
    :func:`column_scores`: at least :data:`ALONE_PREDICTS`), with the columns it flags.

    >>> x = pd.DataFrame({"g": list("ab") * 20, "n": np.arange(40.0)})
    >>> hint = leakage_hint(x, ["g"], np.arange(40) % 2)
    >>> hint.columns, hint.notice
    (('g',), "'g' determines the target exactly (possible target leakage); kept: drop them (--drop) if they are unknown at prediction time")
    """  # noqa: E501
    codes = pd.Series(y)

    def determines(cols: list[str]) -> bool:
        keys = X[cols].astype(str)
        groups = codes.groupby([keys[c] for c in cols]).nunique()
        return bool(len(groups) < len(codes) / 2 and (groups == 1).all())

    if task != "regression" and categorical:
        single = [c for c in categorical if determines([c])]
        if single:
            verb = "each determine" if len(single) > 1 else "determines"
            cols = ", ".join(repr(c) for c in single)
            return LeakageHint(
                tuple(single),
                f"{cols} {verb} the target exactly (possible target leakage); kept: {_ADVICE}",
            )
        if len(categorical) > 1 and determines(list(categorical)):
            cols = ", ".join(repr(c) for c in categorical)
            return LeakageHint(
                tuple(categorical),
                f"columns {cols} together determine the target exactly (possible target "
                f"leakage); kept: {_ADVICE}",
            )
    strong = [(c, v) for c, v in scores if v >= ALONE_PREDICTS]
    if strong:
        metric = "R²" if task == "regression" else "balanced accuracy"
        shown = ", ".join(
            f"{c!r} ({metric} {v:.2f})" if task == "regression" else f"{c!r} ({metric} {v:.1%})"
            for c, v in strong[:3]
        ) + (f" and {len(strong) - 3} more" if len(strong) > 3 else "")
        names = ",".join(c for c, _ in strong)
        verb, them, they = (
            ("each predict", "them", "they are") if len(strong) > 1 else ("predicts", "it", "it is")
        )
        return LeakageHint(
            tuple(c for c, _ in strong),
            f"{shown} alone {verb} the target almost perfectly on held-out rows (possible "
            f"target leakage); kept: leave {them} out (--drop {shlex.quote(names)}) if {they} "
            "unknown at prediction time",
        )
    return None
