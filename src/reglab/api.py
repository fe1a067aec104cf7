"""``reglab.bench``: the Python entry point of a study, the same one the CLI uses."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from reglab.data.builtin import load_source
from reglab.data.load import Dataset, from_arrays, load_table
from reglab.store import Store
from reglab.study.results import StudyResult
from reglab.study.run import Study

__all__ = ["bench", "load_data"]


def load_data(
    data: Any,
    y: Any = None,
    *,
    target: str | None = None,
    task: str | None = None,
    drop: Sequence[str] = (),
) -> Dataset:
    """A :class:`~reglab.data.load.Dataset` from a path, ``"builtin:NAME"``, a frame or arrays,
    without the feature columns named in ``drop``."""
    if isinstance(data, str | os.PathLike) and y is None:  # dropped before columns are checked
        return load_source(os.fspath(data), target, task=task, drop=drop)
    if isinstance(data, pd.DataFrame) and y is None:
        return load_table(data, target, task=task, drop=drop)
    if isinstance(data, Dataset):
        return data.without(list(drop)) if drop else data
    return from_arrays(data, y, task=task, drop=drop)


def bench(
    X: Any,
    y: Any = None,
    *,
    target: str | None = None,
    task: str | None = None,
    drop: Sequence[str] = (),
    strategies: Any = None,
    cv: int = 5,
    store: str | os.PathLike[str] | Store | None = None,
    **options: Any,
) -> StudyResult:
    """Cross-validate regularization strategies and compare them.

    Args:
        X: Features (array or DataFrame, with ``y``), or a DataFrame / file path /
            ``"builtin:NAME"`` holding the target column ``target``.
        y: Target values when ``X`` holds only features.
        target, task: Target column and task (inferred when ``None``).
        drop: Feature columns to leave out (e.g. ones that leak the target).
        strategies: Presets, grammar text (``"none,l2=1e-4,dropout=0.3+l2=1e-4"``), a strategy
            file, or :class:`~reglab.engine.spec.Strategy` objects; ``None`` → the defaults.
        cv: Number of outer folds (``n_splits=`` is the same option under Study's name).
        store: Where results are kept: a path, an SQLAlchemy URL or a Store; ``None`` keeps
            them in memory.
        **options: Any :class:`~reglab.study.run.Study` argument (``hidden``, ``epochs``,
            ``early_stopping``, ``seed``, ``device`` ...).

    Returns:
        The :class:`~reglab.study.results.StudyResult` (``.table()``, ``.compare()``,
        ``.report(path)``).
    """
    dataset = load_data(X, y, target=target, task=task, drop=drop)
    options.setdefault("n_splits", cv)
    study = Study(strategies, **options)
    if isinstance(store, Store):
        return study.run(dataset, store)
    with Store("sqlite://" if store is None else store) as st:
        return study.run(dataset, st)
