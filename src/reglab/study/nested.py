"""Nested tuning: a study whose strategy families are each tuned inside every outer training part.

``Study(strategies, tune=N)`` (``reglab bench --tune N``) compares **tuned families** instead
of strengths someone guessed. For every outer split ``s`` and every family ``f`` with a
strength (``dropout``, ``l2``, ``dropout+l2`` …):

1. the outer training part ``T_s`` (its training and validation rows, never its test rows) is
   split again into ``tune_cv`` inner folds, each with its own inner early-stopping part, and
   the inputs of each inner fold are preprocessed on that fold's training rows only;
2. ``N`` trials of Optuna's TPE search ``f``'s strengths (the registry's search space,
   :func:`~reglab.study.tune_space.parse_space`); a trial's objective is its mean score over
   the inner test folds. Trials are asked in rounds of ``tune_batch``, and the trials × inner
   folds of **every** family and outer split of a round train as one
   :func:`~reglab.engine.train_members` call, so they share stacks (:mod:`reglab.study.tune`
   does the asking, the telling and the pruning);
3. the best trial's strengths ``θ̂_{f,s}`` are retrained on the whole of ``T_s`` with the
   outer split's own early-stopping part, and scored on the outer test fold.

The outer scores are thus scores of the procedure "tune ``f`` by inner CV, then retrain", and
the verdicts (corrected resampled t-test, combined against parts) compare tuned families
(Cawley & Talbot 2010, *On over-fitting in model selection*: selection on the test folds
biases the estimate upward). Strategies with nothing to tune (``none``, ``batchnorm``) train
as they are. The chosen strengths per outer split are kept in the study's metadata
(``tuning``) and analyzed by :mod:`reglab.study.nested_result`.

Seeds: inner folds of split ``s`` from ``derive(seed, "inner", s)``, inner members from
``derive(seed, "inner", s, j)``; each round of the search of ``(f, s)`` asks from a sampler
seeded ``derive(seed, "tune", f, s, d)`` after ``d`` finished trials, so the trials depend on the
search's history only, never on how many runs it took.
Every inner member is stored (in the study ``<name>/inner``) and every search in Optuna's
journal in the same database, so a re-run after a kill resumes where it stopped, and several
processes on one store share the searches (:mod:`reglab.study.nested_claims`). This module
defines the protocol (families, inner folds, configuration); :mod:`reglab.study.nested_run`
runs it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from reglab._seeding import derive
from reglab._validation import message
from reglab.engine.spec import Strategy
from reglab.errors import ConfigError
from reglab.study.splits import Split, SplitPlan
from reglab.study.tune_space import SearchSpace, parse_space

__all__ = [
    "INNER_STRIDE",
    "MAX_TUNE_CV",
    "SEED_BOUND",
    "Family",
    "check_tune",
    "describe",
    "families",
    "inner_splits",
    "search_config",
    "strategy_parts_of",
    "tune_config",
]

INNER_STRIDE = 1000
"""Inner fold ``j`` of outer split ``s`` has the split id ``(s + 1) · INNER_STRIDE + j``, never an
outer split's id."""
MAX_TUNE_CV = 20
"""The most inner folds (``tune_cv``)."""
SEED_BOUND = 2**32
"""Optuna's samplers take seeds below this."""


@dataclasses.dataclass(frozen=True)
class Family:
    """A strategy as ``--tune`` reads it: its techniques, searched or kept as they are.

    Attributes:
        name: The family's name, its techniques as typed alone (``dropout+l2``).
        strategy: The strategy given (its strengths are replaced by the tuned ones).
        space: The strengths searched; ``None`` for a strategy with nothing to tune.
        fixed: Techniques without a strength (``batchnorm``), kept in every trial.
    """

    name: str
    strategy: Strategy
    space: SearchSpace | None
    fixed: tuple[Any, ...] = ()

    @property
    def tuned(self) -> bool:
        return self.space is not None

    def with_values(self, configs: Sequence[Any], name: str) -> Strategy:
        """The family at the strengths ``configs`` (its switches and learning rate kept)."""
        return Strategy.of(name, *configs, *self.fixed, lr=self.strategy.lr)


def families(
    strategies: Sequence[Strategy], ranges: Any = None, who: str = "Study"
) -> list[Family]:
    """Read each strategy as a family (module docstring); every problem in one message.

    ``ranges`` (``"dropout=0:0.6,l2=1e-6:1e-2"`` or a mapping) narrows or widens the registry's
    ranges of every family that searches the named strength.

    Refused: a strategy with settings that are not technique strengths (``proximal``,
    ``penalty-layers``, per-layer rates), two strategies of the same family, a list with
    nothing to tune, and a range that no family searches.
    """
    from reglab._validation import Problems
    from reglab.study.tune_space import _ranges
    from reglab.techniques import get

    p = Problems()
    given = _ranges(ranges, p)
    p.raise_if_any()
    used: set[str] = set()

    out: list[Family] = []
    problems: list[str] = []
    for s in strategies:
        configs = s.configs()
        rebuilt = Strategy.of(s.name, *configs, lr=s.lr)
        if rebuilt != s:
            problems.append(
                message(
                    who,
                    "tune",
                    f"strategies made of technique strengths only; {s.name!r} "
                    "also sets a modifier (proximal, penalty-layers or per-layer rates)",
                    s.name,
                )
            )
            continue
        tunable = [c.key for c in configs if get(c.key).params]
        fixed = tuple(c for c in configs if not get(c.key).params)
        if not tunable:
            out.append(Family(s.name, s, None))
            continue
        name = "+".join([*tunable, *(c.key for c in fixed)])
        if s.lr is not None:
            name += f"+lr={s.lr:g}"
        dims = {d.name for d in parse_space("+".join(tunable)).dims}
        used |= dims & set(given)
        own = {k: v for k, v in given.items() if k in dims}
        out.append(Family(name, s, parse_space("+".join(tunable), own or None), fixed))
    names = [f.name for f in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        problems.append(
            message(
                who,
                "strategies",
                "one strategy per family with --tune (their strengths are tuned)",
                ", ".join(twice) + " more than once",
            )
        )
    if out and not any(f.tuned for f in out) and not problems:
        problems.append(
            message(
                who,
                "tune",
                "at least one strategy with a strength to tune (dropout, l2 …)",
                ", ".join(names) + " (nothing to tune)",
            )
        )
    for name in sorted(set(given) - used):
        problems.append(
            message(who, "tune_ranges", "a strength some strategy searches (--tune-range)", name)
        )
    if problems:
        raise ConfigError(" ".join(problems))
    return out


def describe(
    fams: Sequence[Family], trials: int, cv: int, batch: int, metric: str, choose: str = "best"
) -> dict:
    """The tuning settings, as they enter the study's configuration (and its name's hash).

    ``start`` records that every search's first trial is the family's given strengths
    (:func:`~reglab.study.tune_choose.start_params`); ``choose`` is written only when it is not
    ``"best"``, so that :func:`search_config` (the settings without it) is the configuration of
    the same searches chosen by ``"best"``: the searches do not depend on the rule.
    """
    out = {
        "trials": trials,
        "inner_folds": cv,
        "batch_trials": batch,
        "sampler": "tpe",
        "pruner": "median",
        "start": "given",
        "metric": metric,
        "families": {f.name: f.space.to_dict() for f in fams if f.space is not None},
    }
    if choose != "best":
        out["choose"] = choose
    return out


def search_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A nested study's configuration without its choice rule: what its inner searches depend
    on. Studies that differ only by ``tune_choose`` share their inner members and searches."""
    tune = {k: v for k, v in config["tune"].items() if k != "choose"}
    return {**config, "tune": tune}


def inner_splits(
    split: Split,
    y: np.ndarray,
    task: str,
    *,
    cv: int,
    val_fraction: float,
    seed: int,
    class_names: Sequence[str] | None = None,
    groups: np.ndarray | None = None,
) -> list[Split]:
    """The inner folds of ``split``'s outer training part, as row indices of the whole table.

    Only the outer training part's distinct rows (``train_idx ∪ val_idx``) are split; the
    outer test rows are in none of the returned index sets. With ``groups`` (one code per row
    of the whole table) the inner folds are grouped too (:mod:`reglab.study.splits`).

    >>> s = Split(3, 0, 3, np.arange(0, 8), np.arange(8, 10), np.arange(10, 14))
    >>> inner = inner_splits(s, np.array([0, 1] * 7), "binary", cv=2, val_fraction=0.25, seed=0)
    >>> [(i.split_id, i.n_train, i.n_test) for i in inner]
    [(4000, 5, 5), (4001, 5, 5)]
    >>> np.unique(np.concatenate([i.test_idx for i in inner])).tolist()  # never 10 to 13
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    rows = np.unique(np.concatenate([split.train_idx, split.val_idx]))
    method = "kfold" if task == "regression" else "stratified-kfold"
    plan = SplitPlan(method, cv, 1, 0.2, val_fraction, derive(seed, "inner", split.split_id))
    out = []
    inner_groups = None if groups is None else groups[rows]
    for j, inner in enumerate(
        plan.split(y[rows], task, class_names=class_names, groups=inner_groups)
    ):
        out.append(
            Split(
                (split.split_id + 1) * INNER_STRIDE + j,
                split.split_id,
                j,
                rows[inner.train_idx],
                rows[inner.val_idx],
                rows[inner.test_idx],
            )
        )
    return out


def check_tune(
    trials: Any, cv: Any, batch: Any, who: str = "Study", choose: Any = "best"
) -> list[str]:
    """The problems with the tuning sizes and choice rule (empty when they are fine)."""
    from reglab._validation import suggest
    from reglab.study.tune import MAX_TRIALS
    from reglab.study.tune_choose import CHOICES

    out = []
    for param, value, low, high, flag in (
        ("tune", trials, 1, MAX_TRIALS, "--tune"),
        ("tune_cv", cv, 2, MAX_TUNE_CV, "--tune-cv"),
        ("tune_batch", batch, 1, MAX_TRIALS, "--tune-batch"),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            out.append(message(who, param, f"a whole number in [{low}, {high:,}] ({flag})", value))
    if choose not in CHOICES:
        expected = "one of " + ", ".join(repr(c) for c in CHOICES) + " (--tune-choose)"
        out.append(message(who, "tune_choose", expected, choose) + suggest(str(choose), CHOICES))
    return out


def tune_config(
    config: dict[str, Any],
    strategies: Sequence[Strategy],
    trials: int,
    cv: int,
    batch: int,
    ranges: Any = None,
    choose: str = "best",
) -> None:
    """Enter the tuning into a study's ``config``: a tuned family is listed by its name and
    search space (its given strengths are not what trains), and ``config["tune"]`` holds the
    settings (:func:`describe`)."""
    from reglab.study.results import primary_metric

    fams = families(strategies, ranges)
    config["strategies"] = [
        {"name": f.name, "tuned": f.space.to_dict()} if f.space is not None else s.to_dict()
        for f, s in zip(fams, strategies, strict=True)
    ]
    metric = primary_metric(config["data"]["task"])
    config["tune"] = describe(fams, trials, cv, batch, metric, choose)


def strategy_parts_of(strategies: Sequence[Strategy], ranges: Any) -> dict[str, list[str]]:
    """Each strategy's parts for the combined-versus-parts verdicts: a tuned family's parts are
    the families of its techniques (``dropout+l2`` → ``dropout``, ``l2``), whatever strengths
    the strategy was given."""
    from reglab.study.strategies import parts

    return {
        f.name: list(parts(f.name if f.tuned else f.strategy)) for f in families(strategies, ranges)
    }
