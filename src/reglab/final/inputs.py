"""New rows for a final model: the training columns, typed as in training, and what was done.

:func:`read_rows` takes a DataFrame, a table file (read as ``reglab bench`` reads one),
``builtin:NAME`` or a 2-D array (columns in the model's order) and returns the model's feature
columns, typed as training typed them, with one-line notices:

* **missing feature columns** are refused, naming them (with a did-you-mean);
* **extra columns** are ignored with a notice (the target column by name);
* **missing cells** (empty, ``NA``, ``?``, ``nan``, ``NaN``, ``null``) are imputed with the
  training rows' median or most frequent value, with a notice counting them;
* **unseen categories** (a value of a categorical column that no training row had) encode as
  all zeros in that column's one-hot block, with a notice counting them per column;
* a cell of a numeric column that is not a number is refused, naming its column and line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reglab._validation import suggest
from reglab.data._read import read_path
from reglab.data._schema import MISSING_TOKENS
from reglab.data.arrays import is_array_source
from reglab.errors import DataError

__all__ = ["Rows", "read_rows"]

WHO = "predict"
Lines = Callable[[], np.ndarray] | None


@dataclass(frozen=True)
class Rows:
    """New rows as the model reads them: ``frame`` holds exactly the model's feature columns
    (numeric as float64 with NaN for missing, categorical as strings), ``notices`` says what
    was ignored, imputed or unseen."""

    frame: pd.DataFrame
    notices: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.frame)


def read_rows(
    data: Any,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    categories: Sequence[Sequence[str]],
    target: str,
) -> Rows:
    """The model's columns of ``data`` (a DataFrame, a file path or a 2-D array), typed.

    Args:
        data: The new rows (a :class:`Rows` is returned as it is).
        numeric, categorical: The model's feature columns by type.
        categories: Per categorical column, the values seen in training.
        target: The target column's name (ignored when present).

    >>> rows = read_rows(pd.DataFrame({"h": ["1.5", "?"], "c": ["a", "z"], "y": [0, 1]}),
    ...                  numeric=["h"], categorical=["c"], categories=[["a", "b"]], target="y")
    >>> rows.frame["h"].tolist(), rows.frame["c"].tolist()
    ([1.5, nan], ['a', 'z'])
    >>> rows.notices[0], rows.notices[2]
    ("ignored the target column 'y'", "values no training row had, encoded as all zeros in their column's one-hot block: 'c' 1 ('z')")
    """  # noqa: E501
    if isinstance(data, Rows):
        return data
    columns = [*numeric, *categorical]
    frame, where, lines = _frame(data, columns)
    names = [str(c) for c in frame.columns]
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise DataError(f"{WHO}: column names of {where} must be unique; got {dupes} repeated.")
    frame = frame.set_axis(names, axis=1)
    absent = [c for c in columns if c not in names]
    extra = [c for c in names if c not in set(columns)]
    if absent:
        shown = ", ".join(repr(c) for c in absent[:10]) + (", …" if len(absent) > 10 else "")
        raise DataError(
            f"{WHO}: {where} must have every feature column the model was trained on; got no "
            f"{shown} ({len(absent)} of {len(columns)} missing)."
            + suggest(absent[0], [c for c in extra if c != target])  # the target is no feature
        )
    notices: list[str] = []
    if target in extra:
        notices.append(f"ignored the target column {target!r}")
        extra.remove(target)
    if extra:
        shown = ", ".join(repr(c) for c in extra[:5]) + (", …" if len(extra) > 5 else "")
        notices.append(
            f"ignored {len(extra)} {'column' if len(extra) == 1 else 'columns'} the model does "
            f"not use: {shown}"
        )
    typed: dict[str, pd.Series] = {}
    for col in numeric:
        typed[col] = _numeric(frame[col].reset_index(drop=True), col, where, lines)
    unseen: list[str] = []
    for col, seen in zip(categorical, categories, strict=True):
        known = {str(v) for v in seen}
        typed[col] = _labels(frame[col].reset_index(drop=True), known)
        values = typed[col].dropna()
        new = values[~values.isin(known)]
        if len(new):
            kinds = sorted(set(new))
            listed = ", ".join(repr(v) for v in kinds[:3]) + (", …" if len(kinds) > 3 else "")
            unseen.append(f"{col!r} {len(new)} ({listed})")
    out = pd.DataFrame(typed, columns=columns)
    n_missing = int(out.isna().to_numpy().sum())
    if n_missing:
        notices.append(
            f"imputed {n_missing} missing {'cell' if n_missing == 1 else 'cells'} with the "
            "training rows' median or most frequent value"
        )
    if unseen:
        notices.append(
            "values no training row had, encoded as all zeros in their column's one-hot "
            f"block: {'; '.join(unseen)}"
        )
    return Rows(out, tuple(notices))


def _frame(data: Any, columns: list[str]) -> tuple[pd.DataFrame, str, Lines]:
    """``(frame, description, line numbers or None)`` of the rows ``data``."""
    if isinstance(data, pd.DataFrame):
        return data, "the DataFrame", None
    if isinstance(data, str) and (data.startswith("builtin:") or is_array_source(data)):
        from reglab.data.builtin import load_source

        return load_source(data).X, repr(data), None
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        raw = read_path(path)
        return raw.frame, repr(path.name), raw.lines
    arr = np.asarray(data, dtype=object)
    if arr.ndim != 2 or arr.shape[1] != len(columns):
        raise DataError(
            f"{WHO}: `data` must be a DataFrame, a table file or a 2-D array with one column "
            f"per feature column of the model ({len(columns)}); got shape {arr.shape}."
        )
    return pd.DataFrame(arr, columns=columns), "the array", None


def _missing(values: pd.Series) -> np.ndarray:
    text = values.astype(object).map(lambda v: str(v).strip(), na_action="ignore")
    return np.asarray(values.isna().to_numpy() | text.isin(MISSING_TOKENS).to_numpy(), dtype=bool)


def _numeric(values: pd.Series, col: str, where: str, lines: Lines) -> pd.Series:
    """A numeric column as float64 (NaN = missing); text that is not a number is refused."""
    if values.dtype.kind in "biuf":
        return values.astype("float64")
    missing = _missing(values)
    text = values.astype(object).map(lambda v: str(v).strip(), na_action="ignore")
    numbers = pd.to_numeric(text.where(~missing, None), errors="coerce")
    bad = np.flatnonzero(~missing & numbers.isna().to_numpy())
    if len(bad):
        at = lines() if lines is not None else None
        cells = ", ".join(
            f"{str(values.iloc[i])!r} at "
            + (f"line {int(at[i])}" if at is not None else f"row {i}")
            for i in bad[:3]
        )
        raise DataError(
            f"{WHO}: column {col!r} of {where} must hold numbers, as in training (or be empty "
            f"where unknown); got {len(bad)} other {'cell' if len(bad) == 1 else 'cells'}: "
            f"{cells}."
        )
    return numbers.astype("float64")


def _labels(values: pd.Series, seen: set[str]) -> pd.Series:
    """A categorical column as stripped strings (NaN = missing), as training read it; a whole
    float like ``3.0`` is the label ``3`` when training saw ``3`` and not ``3.0``."""

    def label(v: Any) -> str:
        text = str(v).strip()
        if isinstance(v, float) and v.is_integer() and text not in seen:
            whole = str(int(v))
            return whole if whole in seen else text
        return text

    missing = _missing(values)
    out = values.astype(object).map(label, na_action="ignore")
    return out.where(~missing, np.nan).astype(object)
