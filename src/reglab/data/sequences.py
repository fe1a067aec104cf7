"""Sequence data: ``seq:FILE`` sources and windowing for forecasting.

Two layouts, both giving a :class:`~reglab.data.load.Dataset` of kind ``"sequences"`` whose
``shape`` is ``(T, F)`` (time steps, features) and whose columns are the flattened values
``NAME[t]`` (``t = 0`` the oldest step):

* **Classification** — one labelled sequence per id.

  - ``seq:FILE.csv?id=COL&time=COL`` with ``--target LABEL``: a long-format table, one row per
    (id, time step); the rows of an id, sorted by ``time`` (numbers numerically, text as
    written, so ISO dates sort right; file order without ``time``), are its sequence; every id
    needs the same number of steps and one label throughout (its ``LABEL`` column).
  - ``seq:FILE.npz``: ``x`` (or ``X``) ``[N, T, F]`` (``[N, T]`` is one feature) and labels in
    ``y``; features are named ``f0, f1, …``.

* **Forecasting** — ``seq:FILE.csv?time=COL&window=W&horizon=H`` with ``--target SERIES``: each
  run of ``W`` consecutive steps is an input and the value of ``SERIES`` ``H`` steps after the
  run's last step (``H = 1``: the next value) its target; with ``id=COL`` the windows never
  cross from one id's series into another's. A regression task.

The value columns are ``values=a,b`` or every numeric column but the id, time and label
columns (a forecast series is one of its own inputs). Missing or non-numeric values are refused
in one line naming the column and the file line. Each feature is standardized over its time
steps on every training part (``scaling=channel``, the default; ``scaling=column``
standardizes every (step, feature) column on its own).

>>> series = np.arange(6.0)[:, None]
>>> X, y = windows(series, series[:, 0], window=3, horizon=1)
>>> X[:, :, 0].tolist(), y.tolist()
([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]], [3.0, 4.0, 5.0])
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reglab._validation import check_choice, suggest
from reglab.data._checks import Locator
from reglab.data._layout import sequence_columns
from reglab.data._read import read_path
from reglab.data.arrays import X_NAMES, Y_NAMES, build, pick, read_npz
from reglab.data.load import Dataset
from reglab.errors import ConfigError, DataError

__all__ = ["OVERLAP_NOTICE", "load_sequences", "windows"]

_WHO = "load_source"
OVERLAP_NOTICE = (
    "forecasting windows overlap: a random split puts neighbouring windows in the training and "
    "the test part, which flatters every strategy alike (compare strategies, not absolute scores)"
)


def windows(
    values: np.ndarray, target: np.ndarray, *, window: int, horizon: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows over one series: ``X[i] = values[i : i + window]`` and
    ``y[i] = target[i + window + horizon - 1]``.

    Args:
        values: ``[T, F]``, the inputs at every time step.
        target: ``[T]``, the series to forecast.
        window: Steps per input (W ≥ 1). horizon: Steps ahead (H ≥ 1).

    Returns:
        ``X`` ``[T − W − H + 1, W, F]`` and ``y`` ``[T − W − H + 1]`` (empty when the series is
        shorter than ``W + H``).
    """
    steps = len(values)
    n = max(steps - window - horizon + 1, 0)
    starts = np.arange(n)
    X = values[starts[:, None] + np.arange(window)[None, :]]
    return X.reshape(n, window, values.shape[1]), target[starts + window + horizon - 1]


def _positive(name: str, text: str | None, default: int | None) -> int | None:
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{_WHO}: `{name}` must be a whole number >= 1; got {text!r}.")
    return int(text)


def load_sequences(
    path: Path,
    target: str | None,
    *,
    task: str | None = None,
    id: str | None = None,
    time: str | None = None,
    values: str | None = None,
    window: str | None = None,
    horizon: str | None = None,
    scaling: str = "channel",
) -> Dataset:
    """Load ``seq:FILE`` with its options (the text after ``?``; see the module docstring)."""
    check_choice(_WHO, "scaling", scaling, ("channel", "column"))
    size = _positive("window", window, None)
    ahead = _positive("horizon", horizon, 1)
    if ahead != 1 and size is None:
        raise ConfigError(f"{_WHO}: `horizon` needs `window` (forecasting); got only horizon.")
    source = f"seq:{path}"
    if path.suffix.lower() == ".npz":
        given = [k for k, v in (("window", size), ("id", id), ("time", time),
                                ("values", values)) if v]  # fmt: skip
        if given:
            raise ConfigError(
                f"{_WHO}: a seq:FILE.npz takes only the option scaling; got {', '.join(given)}."
            )
        return _npz(path, source, scaling, task)
    raw = read_path(path)
    frame, at = raw.frame, Locator(raw.lines)
    columns = [str(c) for c in frame.columns]
    if target is None:
        what = "the series to forecast" if size else "the label of each sequence"
        raise ConfigError(
            f"{_WHO}: `target` (--target) must name {what} in {path.name!r} "
            f"({', '.join(columns[:12])}); got none."
        )
    for name, col in (("id", id), ("time", time), ("target", target)):
        if col is not None and col not in columns:
            raise DataError(
                f"{_WHO}: `{name}` must be a column of {path.name!r} ({', '.join(columns[:12])}); "
                f"got {col!r}." + suggest(col, columns)
            )
    keys = {c for c in (id, time) if c}
    chosen = _value_columns(frame, values, keys | ({target} if size is None else set()), path)
    ids = frame[id].astype(str).to_numpy() if id else np.zeros(len(frame), dtype=object)
    order = _order(frame, ids, time)
    numbers = {c: _numeric(frame, c, at, path) for c in dict.fromkeys([*chosen])}
    notices = list(raw.notices)
    if size is None:
        X, labels = _by_id(frame, ids, order, numbers, chosen, target, path, id, at)
        kind_task = task
    else:
        if task not in (None, "regression"):
            raise ConfigError(
                f"{_WHO}: `task` must be omitted or 'regression' for forecasting (window=); got "
                f"{task!r}."
            )
        series = numbers.get(target)
        if series is None:
            series = _numeric(frame, target, at, path)
        X, labels = _windows_by_id(ids, order, numbers, chosen, series, size, ahead or 1, path)
        notices.append(OVERLAP_NOTICE)
        kind_task = "regression"
    return build(
        _WHO, X, labels, kind="sequences", where=repr(path.name), name=path.stem, source=source,
        scaling=scaling, columns=sequence_columns(X.shape[1], chosen), task=kind_task,
        target=target, notices=notices,
    )  # fmt: skip


def _value_columns(
    frame: pd.DataFrame, values: str | None, exclude: set[str], path: Path
) -> list[str]:
    columns = [str(c) for c in frame.columns]
    if values:
        chosen = [v.strip() for v in values.split(",") if v.strip()]
        for col in chosen:
            if col not in columns:
                raise DataError(
                    f"{_WHO}: `values` must name columns of {path.name!r}; got {col!r}."
                    + suggest(col, columns)
                )
        return chosen
    chosen = [
        c for c in columns
        if c not in exclude and pd.to_numeric(frame[c], errors="coerce").notna().all()
    ]  # fmt: skip
    if not chosen:
        raise DataError(
            f"{_WHO}: {path.name!r} must have a numeric value column besides "
            f"{', '.join(sorted(exclude))}; got none (name them with values=a,b)."
        )
    return chosen


def _numeric(frame: pd.DataFrame, column: str, at: Locator, path: Path) -> np.ndarray:
    text = frame[column]
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(numbers))
    if len(bad):
        shown = [repr(str(text.iloc[i])) for i in bad[:3]]
        raise DataError(
            f"{_WHO}: column `{column}` of {path.name!r} must hold a number in every row of a "
            f"sequence; got {len(bad)} others: {at.examples(bad, shown)}. Fill them in "
            "(e.g. interpolate) or leave the column out of values=."
        )
    return numbers


def _order(frame: pd.DataFrame, ids: np.ndarray, time: str | None) -> np.ndarray:
    """Row positions grouped by id (first appearance order), each group sorted by time."""
    first = pd.Series(ids).drop_duplicates()
    rank = pd.Series(np.arange(len(first)), index=first.to_numpy())[ids].to_numpy()
    if time is None:
        return np.lexsort((np.arange(len(ids)), rank))
    stamps = pd.to_numeric(frame[time], errors="coerce")
    key = stamps.to_numpy() if stamps.notna().all() else frame[time].to_numpy(dtype=str)
    return np.lexsort((np.arange(len(ids)), key, rank))


def _by_id(
    frame: pd.DataFrame,
    ids: np.ndarray,
    order: np.ndarray,
    numbers: dict[str, np.ndarray],
    chosen: Sequence[str],
    target: str,
    path: Path,
    id: str | None,
    at: Locator,
) -> tuple[np.ndarray, np.ndarray]:
    if id is None:
        raise ConfigError(
            f"{_WHO}: a labelled seq:FILE.csv needs `id` (?id=COL), the column naming each "
            "sequence, or `window` (?window=W) to forecast its target; got neither."
        )
    values = np.stack([numbers[c] for c in chosen], axis=1)[order]
    sorted_ids = ids[order]
    labels = frame[target].astype(str).to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    lengths = np.diff(np.r_[starts, len(order)])
    if (lengths != lengths[0]).any():
        odd = int(np.flatnonzero(lengths != lengths[0])[0])
        raise DataError(
            f"{_WHO}: every sequence of {path.name!r} must have the same number of steps; got "
            f"{lengths[0]} for id {sorted_ids[starts[0]]!r} and {lengths[odd]} for id "
            f"{sorted_ids[starts[odd]]!r}."
        )
    for k, start in enumerate(starts):
        block = labels[start : start + lengths[k]]
        if (block != block[0]).any():
            row = int(order[start + int(np.flatnonzero(block != block[0])[0])])
            raise DataError(
                f"{_WHO}: target `{target}` of {path.name!r} must be one label per sequence; got "
                f"{block[0]!r} and {labels[start + int(np.flatnonzero(block != block[0])[0])]!r} "
                f"for id {sorted_ids[start]!r} ({at(row)})."
            )
    X = values.reshape(len(starts), int(lengths[0]), len(chosen))
    firsts = pd.Series(labels[starts])
    as_numbers = pd.to_numeric(firsts, errors="coerce")
    return X, (as_numbers if as_numbers.notna().all() else firsts).to_numpy()


def _windows_by_id(
    ids: np.ndarray,
    order: np.ndarray,
    numbers: dict[str, np.ndarray],
    chosen: Sequence[str],
    series: np.ndarray,
    window: int,
    horizon: int,
    path: Path,
) -> tuple[np.ndarray, np.ndarray]:
    values = np.stack([numbers[c] for c in chosen], axis=1)[order]
    target = series[order]
    sorted_ids = ids[order]
    bounds = np.r_[np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]]), len(order)]
    parts = [
        windows(values[a:b], target[a:b], window=window, horizon=horizon)
        for a, b in itertools.pairwise(bounds)
    ]
    X = np.concatenate([x for x, _ in parts])
    y = np.concatenate([t for _, t in parts])
    if len(y) == 0:
        longest = int(np.diff(bounds).max())
        raise DataError(
            f"{_WHO}: the series of {path.name!r} must be longer than window + horizon "
            f"({window} + {horizon}); got at most {longest} steps."
        )
    return X, y


def _npz(path: Path, source: str, scaling: str, task: str | None) -> Dataset:
    arrays = read_npz(path)
    x = pick(arrays, X_NAMES, path, "sequences")
    labels = pick(arrays, Y_NAMES, path, "labels").reshape(-1)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise DataError(
            f"{_WHO}: the sequences of {path.name!r} must be [N, T, F] or [N, T]; got shape "
            f"{list(x.shape)}."
        )
    names = [f"f{j}" for j in range(x.shape[2])]
    return build(
        _WHO, x, labels, kind="sequences", where=repr(path.name), name=path.stem, source=source,
        scaling=scaling, columns=sequence_columns(x.shape[1], names),
        task=task or "classification",
    )  # fmt: skip
