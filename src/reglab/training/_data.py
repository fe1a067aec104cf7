"""Input checks and target encoding of the single-model trainer (one-line DataErrors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import Tensor

from reglab._seeding import derive
from reglab._validation import message
from reglab.errors import DataError

__all__ = [
    "Prepared",
    "Targets",
    "as_features",
    "as_targets",
    "encode_targets",
    "infer_task",
    "prepare",
    "split",
]


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def as_features(who: str, param: str, X: Any) -> np.ndarray:
    """``X`` as a finite float array with one row per sample (2-d or more)."""
    arr = _to_numpy(X)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{who}: `{param}` must be a numeric array; got dtype {arr.dtype}.")
    if arr.ndim < 2:
        raise DataError(
            f"{who}: `{param}` must be an array of shape (n_samples, n_features); "
            f"got shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise DataError(message(who, param, "an array with at least one row", "0 rows"))
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        cols = np.unique(np.nonzero(bad.reshape(arr.shape[0], -1))[1]).tolist()
        shown = cols[:10] + (["..."] if len(cols) > 10 else [])
        raise DataError(
            f"{who}: `{param}` must be free of NaN and infinite values; "
            f"got {int(bad.sum())} in columns {shown}."
        )
    return arr


def as_targets(who: str, param: str, y: Any, n_rows: int, x_param: str = "X") -> np.ndarray:
    """``y`` as a 1-d (or 2-d, for several regression outputs) array with ``n_rows`` rows."""
    arr = _to_numpy(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim not in (1, 2):
        raise DataError(message(who, param, "a 1-d array (or 2-d for regression)", arr.shape))
    if arr.shape[0] != n_rows:
        raise DataError(
            f"{who}: `{param}` must be an array with one entry per row of `{x_param}` "
            f"({n_rows}); got {arr.shape[0]}."
        )
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise DataError(
            f"{who}: `{param}` must be free of NaN and infinite values; "
            f"got {int((~np.isfinite(arr)).sum())} such values."
        )
    if arr.dtype.kind == "O" and any(v is None or v != v for v in arr.ravel()):
        raise DataError(message(who, param, "free of missing values", "None or NaN entries"))
    return arr


def _is_integral(arr: np.ndarray) -> bool:
    if arr.dtype.kind in "biu":
        return True
    return arr.dtype.kind == "f" and bool(np.all(np.mod(arr, 1) == 0))


def infer_task(who: str, y: np.ndarray) -> str:
    """Float targets with a non-integer value (or 2-d targets) → regression; else classes.

    Two distinct labels → ``"binary"``, more → ``"multiclass"``.
    """
    if y.ndim == 2 or (y.dtype.kind == "f" and not _is_integral(y)):
        return "regression"
    n_classes = len(np.unique(y))
    if n_classes < 2:
        raise DataError(
            f"{who}: `y` must be labels of at least 2 classes to infer the task (or pass "
            f"`task`); got {n_classes} class."
        )
    return "binary" if n_classes == 2 else "multiclass"


@dataclass(frozen=True)
class Targets:
    """Encoded targets: float values (regression) or class indices (classification)."""

    values: np.ndarray
    classes: np.ndarray | None  # the original labels of indices 0..K-1 (non-numeric labels)


def encode_targets(
    who: str, param: str, y: np.ndarray, task: str, classes: np.ndarray | None = None
) -> Targets:
    """Regression: float. Classification: integer labels are class indices as they are;
    other labels (strings) are numbered by their sorted order (``classes``)."""
    if task == "regression":
        if y.dtype.kind not in "biuf":
            raise DataError(message(who, param, "numeric for a regression task", str(y.dtype)))
        return Targets(y.astype(np.float64), None)
    if y.ndim != 1:
        raise DataError(message(who, param, f"a 1-d array of labels for task {task!r}", y.shape))
    if y.dtype.kind in "biuf":
        if not _is_integral(y):
            raise DataError(
                message(who, param, f"integer class indices for task {task!r}", "non-integers")
            )
        values = y.astype(np.int64)
        if values.min() < 0:
            raise DataError(message(who, param, "class indices >= 0", int(values.min())))
        if task == "binary" and values.max() > 1:
            labels = np.unique(values).tolist()
            raise DataError(
                message(who, param, "class indices 0 and 1 for task 'binary'", labels[:10])
            )
        return Targets(values, None)
    if classes is None:
        classes = np.unique(y)
    lookup = {label: i for i, label in enumerate(classes.tolist())}
    unknown = sorted({str(v) for v in y.tolist() if v not in lookup})
    if unknown:
        raise DataError(
            message(who, param, f"labels seen in training {classes.tolist()[:10]}", unknown[:10])
        )
    if task == "binary" and len(classes) > 2:
        raise DataError(message(who, param, "2 labels for task 'binary'", len(classes)))
    return Targets(np.array([lookup[v] for v in y.tolist()], dtype=np.int64), classes)


def last_rows(n: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Keras's ``validation_split``: the last ``fraction`` of the rows, before any shuffling.

    >>> [a.tolist() for a in last_rows(10, 0.2)]
    [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9]]
    """
    n_train = int(n * (1.0 - fraction))
    if n_train < 1 or n_train >= n:
        raise DataError(
            message(
                "fit",
                "validation_split",
                f"a fraction leaving at least one row on each side of {n} rows",
                fraction,
            )
        )
    return np.arange(n_train), np.arange(n_train, n)


def split(
    n: int, fraction: float, seed: int, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/validation row indices; stratified when every class has 2 rows or more."""
    from sklearn.model_selection import train_test_split

    stratify = None
    if labels is not None:
        _, counts = np.unique(labels, return_counts=True)
        if counts.min() >= 2:
            stratify = labels
    n_val = n - int(n * (1.0 - fraction))
    if n_val < 1 or n_val >= n:
        raise DataError(
            message(
                "fit",
                "validation_split",
                f"a fraction leaving at least one row on each side of {n} rows",
                fraction,
            )
        )
    if stratify is not None:
        n_classes = len(np.unique(stratify))
        if n_val < n_classes or n - n_val < n_classes:
            stratify = None
    idx = np.arange(n)
    train_idx, val_idx = train_test_split(
        idx, test_size=n_val, random_state=seed % (2**32), stratify=stratify
    )
    return np.sort(train_idx), np.sort(val_idx)


@dataclass(frozen=True)
class Prepared:
    """Training and validation rows, targets encoded (no validation: ``None``)."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_val: np.ndarray | None
    t_val: np.ndarray | None


def prepare(
    who: str,
    X: Any,
    y: Any,
    task: str | None,
    validation_data: tuple[Any, Any] | None,
    validation_split: float,
    seed: int,
    validation_mode: str = "last",
) -> tuple[str, Prepared]:
    """Check the data, infer the task when ``None``, encode targets and carve the validation
    rows (``validation_data``, or ``validation_split``: the last rows as Keras takes them with
    ``validation_mode="last"``, a seeded stratified share with ``"stratified"``); returns
    ``(task, data)``."""
    x_np = as_features(who, "X", X)
    y_np = as_targets(who, "y", y, x_np.shape[0])
    if task is None:
        task = infer_task(who, y_np)
    targets = encode_targets(who, "y", y_np, task)
    if validation_data is not None:
        xv = as_features(who, "validation_data[0]", validation_data[0])
        if xv.shape[1:] != x_np.shape[1:]:
            raise DataError(
                message(
                    who,
                    "validation_data[0]",
                    f"rows shaped like those of `X` {x_np.shape[1:]}",
                    xv.shape[1:],
                )
            )
        yv = as_targets(
            who, "validation_data[1]", validation_data[1], xv.shape[0], "validation_data[0]"
        )
        tv = encode_targets(who, "validation_data[1]", yv, task, targets.classes)
        return task, Prepared(x_np, targets.values, xv, tv.values)
    if validation_split > 0:
        labels = None if task == "regression" else targets.values
        if validation_mode == "last":
            tr, va = last_rows(x_np.shape[0], validation_split)
        else:
            tr, va = split(x_np.shape[0], validation_split, derive(seed, "validation"), labels)
        return task, Prepared(x_np[tr], targets.values[tr], x_np[va], targets.values[va])
    return task, Prepared(x_np, targets.values, None, None)
