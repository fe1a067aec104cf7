"""``reglab.bench``, ``reglab.path`` and ``reglab.tune``: the Python entry points of a study, a
strength path and a strength search, the same ones the CLI uses."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from reglab.data.builtin import load_source
from reglab.data.load import Dataset, from_arrays, load_table, with_groups
from reglab.store import Store
from reglab.study.path import PathResult
from reglab.study.path_study import PathStudy
from reglab.study.results import StudyResult
from reglab.study.run import Study

if TYPE_CHECKING:
    from reglab.study.tune_result import TuneResult

__all__ = ["bench", "load_data", "path", "tune"]


def load_data(
    data: Any,
    y: Any = None,
    *,
    target: str | None = None,
    task: str | None = None,
    drop: Sequence[str] = (),
    groups: Any = None,
) -> Dataset:
    """A :class:`~reglab.data.load.Dataset` from a path, ``"builtin:NAME"``, a frame or arrays,
    without the feature columns named in ``drop``, with the rows' ``groups``
    (:mod:`reglab.data.groups`: ``"COL"``, ``"COL:prefix=SEP"`` or one label per row)."""
    if isinstance(data, str | os.PathLike) and y is None:  # dropped before columns are checked
        return load_source(os.fspath(data), target, task=task, drop=drop, groups=groups)
    if isinstance(data, pd.DataFrame) and y is None:
        return load_table(data, target, task=task, drop=drop, groups=groups)
    if isinstance(data, Dataset):
        return with_groups(data.without(list(drop)) if drop else data, groups)
    return from_arrays(data, y, task=task, drop=drop, groups=groups)


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
    groups: Any = None,
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
        groups: Rows that must stay together, e.g. repeated measures of one subject
            (:mod:`reglab.data.groups`): ``"MouseID"``, ``"MouseID:prefix=_"`` (the part before
            the last ``_``) or one label per row. Every split keeps each group whole in one of
            train, validation and test.
        **options: Any :class:`~reglab.study.run.Study` argument (``hidden``, ``epochs``,
            ``early_stopping``, ``seed``, ``device`` ...); ``tune=N`` compares tuned families,
            each tuned by ``N`` trials on inner folds of every outer training part
            (:mod:`reglab.study.nested`).

    Returns:
        The :class:`~reglab.study.results.StudyResult` (``.table()``, ``.compare()``,
        ``.report(path)``; ``.tuning`` with ``tune``).
    """
    dataset = load_data(X, y, target=target, task=task, drop=drop, groups=groups)
    options.setdefault("n_splits", cv)
    study = Study(strategies, **options)
    if isinstance(store, Store):
        return study.run(dataset, store)
    with Store("sqlite://" if store is None else store) as st:
        return study.run(dataset, st)


def path(
    X: Any,
    y: Any = None,
    *,
    technique: str = "l2",
    grid: Any = None,
    target: str | None = None,
    task: str | None = None,
    drop: Sequence[str] = (),
    cv: int = 5,
    l1_ratio: float | None = None,
    proximal: bool = False,
    metric: str | None = None,
    store: str | os.PathLike[str] | Store | None = None,
    groups: Any = None,
    **options: Any,
) -> PathResult:
    """Cross-validate one technique at every strength of a grid, and choose its strength.

    One study trains ``none`` and the technique at each strength on every split, as stacks.

    Args:
        X, y, target, task, drop, cv, store, groups: As in :func:`bench`.
        technique: ``l1``, ``l2``, ``elasticnet``, ``weight-decay``, ``dropout``,
            ``gaussian-dropout``, ``input-dropout``, ``dropconnect`` or ``maxnorm`` (or a
            registered one-parameter technique).
        grid: ``"lo:hi:n"`` (log-spaced for penalties and max-norm, evenly spaced for rates),
            a comma list or a sequence of strengths; ``None``: the technique's default
            (``1e-6:1e-1:11`` for l2, ``0:0.7:8`` for dropout).
        l1_ratio: Elastic net's mix (default 0.5). proximal: L1 by soft-thresholding.
        metric: The test score to choose by (default: accuracy, or RMSE for regression).
        **options: Any :class:`~reglab.study.run.Study` argument (``hidden``, ``epochs``,
            ``model="cnn"`` or ``"rnn?cell=gru"`` …), or ``warm_start=True`` (each strength
            starts from the previous one's final weights, :mod:`reglab.study.path_warm`) and
            ``warm_epochs`` (the warm strengths' epochs).

    Returns:
        The :class:`~reglab.study.path.PathResult`: ``.points`` (mean ± SE per strength),
        ``.best``, ``.one_se`` (the strongest within one SE of the best), ``.warnings``,
        ``.table()``, ``.to_json(path)`` and ``.report(path)``.
    """
    options.setdefault("n_splits", cv)
    runner = PathStudy(
        technique, grid, l1_ratio=l1_ratio, proximal=proximal, metric=metric, **options
    )
    runner.check()  # the path's own options before the data are read
    dataset = load_data(X, y, target=target, task=task, drop=drop, groups=groups)
    if isinstance(store, Store):
        return runner.run(dataset, store)
    with Store("sqlite://" if store is None else store) as st:
        return runner.run(dataset, st)


def tune(
    X: Any,
    y: Any = None,
    *,
    strategy: str = "dropout+l2",
    trials: int = 100,
    ranges: Any = None,
    sampler: str = "tpe",
    pruner: str = "median",
    batch_trials: int | None = None,
    target: str | None = None,
    task: str | None = None,
    drop: Sequence[str] = (),
    cv: int = 5,
    metric: str | None = None,
    store: str | os.PathLike[str] | Store | None = None,
    groups: Any = None,
    **options: Any,
) -> TuneResult:
    """Search the strengths of ``strategy``'s techniques with Optuna, trials × splits as stacks.

    Args:
        X, y, target, task, drop, cv, store, groups: As in :func:`bench` (a ``store`` keeps
            the search for a resume: the same call continues it).
        strategy: Techniques joined by ``+`` (``"dropout+l2"``) or ``"cocktail"``.
        trials: Trials to finish. ranges: ``"dropout=0:0.6,l2=1e-6:1e-2"`` or a mapping.
        sampler: ``tpe``, ``random``, ``grid``, ``qmc`` or ``cmaes``. pruner: ``median`` or
            ``none``. batch_trials: Trials trained together per round (default 16).
        metric: The test score to optimize (default: accuracy, or RMSE for regression).
        **options: Any :class:`~reglab.study.run.Study` argument (``hidden``, ``epochs``,
            ``model="cnn"`` or ``"rnn?cell=gru"`` …).

    Returns:
        The :class:`~reglab.study.tune_result.TuneResult`: ``.best`` (strategy, mean, split
        scores), ``.ci``, ``.ties``, ``.warnings``, ``.importances``, ``.best_command``,
        ``.table()``, ``.to_json(path)`` and ``.report(path)``.
    """
    from reglab.study.tune import DEFAULT_BATCH_TRIALS, Tune

    options.setdefault("n_splits", cv)
    runner = Tune(
        strategy,
        ranges=ranges,
        trials=trials,
        batch_trials=DEFAULT_BATCH_TRIALS if batch_trials is None else batch_trials,
        sampler=sampler,
        pruner=pruner,
        metric=metric,
        **options,
    )
    runner.check()  # the search's own options before the data are read
    dataset = load_data(X, y, target=target, task=task, drop=drop, groups=groups)
    if isinstance(store, Store):
        return runner.run(dataset, store)
    with Store("sqlite://" if store is None else store) as st:
        return runner.run(dataset, st)
