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
journal in the same database, so a re-run after a kill resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from reglab._device import resolve_device
from reglab._seeding import derive
from reglab._validation import message
from reglab.data.load import Dataset
from reglab.engine.spec import MemberSpec, Strategy
from reglab.errors import ConfigError
from reglab.stats.metrics import METRIC_DIRECTIONS
from reglab.store import Store
from reglab.store.records import MemberRecord
from reglab.study.splits import Split, SplitPlan
from reglab.study.tune_prune import MedianPruner
from reglab.study.tune_result import TrialRow, analyze_tune
from reglab.study.tune_space import SearchSpace, parse_space

__all__ = [
    "INNER_STRIDE",
    "MAX_TUNE_CV",
    "Family",
    "families",
    "inner_splits",
    "run_nested",
    "run_tuned",
    "tune_config",
]

INNER_STRIDE = 1000
"""Inner fold ``j`` of outer split ``s`` has the split id ``(s + 1) · INNER_STRIDE + j``, never an
outer split's id."""
MAX_TUNE_CV = 20
"""The most inner folds (``tune_cv``)."""
_SEED_BOUND = 2**32  # Optuna's samplers take seeds below 2**32


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


def describe(fams: Sequence[Family], trials: int, cv: int, batch: int, metric: str) -> dict:
    """The tuning settings, as they enter the study's configuration (and its name's hash)."""
    return {
        "trials": trials,
        "inner_folds": cv,
        "batch_trials": batch,
        "sampler": "tpe",
        "pruner": "median",
        "metric": metric,
        "families": {f.name: f.space.to_dict() for f in fams if f.space is not None},
    }


def inner_splits(
    split: Split,
    y: np.ndarray,
    task: str,
    *,
    cv: int,
    val_fraction: float,
    seed: int,
    class_names: Sequence[str] | None = None,
) -> list[Split]:
    """The inner folds of ``split``'s outer training part, as row indices of the whole table.

    Only the outer training part's distinct rows (``train_idx ∪ val_idx``) are split; the
    outer test rows are in none of the returned index sets.

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
    for j, inner in enumerate(plan.split(y[rows], task, class_names=class_names)):
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


@dataclasses.dataclass
class _Search:
    """One family's search on one outer split."""

    family: Family
    split: Split
    members: list[tuple[MemberSpec, Split]]
    optuna: Any
    done: int
    history: list[np.ndarray] = dataclasses.field(default_factory=list)

    @property
    def space(self) -> SearchSpace:
        return self.family.space  # type: ignore[return-value]  # only tuned families search

    def suggest(self, trial: Any) -> tuple[Strategy, dict[str, float]]:
        from reglab.study.strategies import strategy_to_text

        strategy, values = self.space.suggest(trial)
        combined = self.family.with_values(strategy.configs(), "trial")
        return self.family.with_values(strategy.configs(), strategy_to_text(combined)), values


class _Pruners:
    """One ``on_epoch_end`` hook over several searches' members: each search's
    :class:`~reglab.study.tune_prune.MedianPruner` sees only its own members."""

    def __init__(self, groups: Sequence[tuple[range, MedianPruner]]) -> None:
        self.groups = groups
        self.where = {i: (g, i - r.start) for g, (r, _) in enumerate(groups) for i in r}

    def __call__(
        self, ids: Sequence[int], curves: Sequence[Mapping[str, list[float]]]
    ) -> list[bool]:
        asked: dict[int, tuple[list[int], list[int], list[Mapping[str, list[float]]]]] = {}
        for pos, (i, c) in enumerate(zip(ids, curves, strict=True)):
            g, local = self.where[i]
            entry = asked.setdefault(g, ([], [], []))
            entry[0].append(pos)
            entry[1].append(local)
            entry[2].append(c)
        flags = [False] * len(ids)
        for g, (positions, members, cs) in asked.items():
            stop = self.groups[g][1](members, cs)
            if stop is not None:
                for pos, flag in zip(positions, stop, strict=True):
                    flags[pos] = flag
        return flags


def run_nested(
    study: Any,
    dataset: Dataset,
    store: Store,
    plan: Any,
    *,
    on_round: Callable[[int, int], None] | None = None,
    on_config_change: str = "error",
) -> dict[str, Any]:
    """Tune every family on every outer split, then train the outer members (module docstring).

    Stores the inner members in ``<plan.name>/inner``, the outer members in ``plan.name``
    (each tuned family under its family name, at its split's chosen strengths) and the choices
    in the study's metadata under ``tuning``, which is also returned. ``on_round`` gets the
    trials finished and the trials asked for over all searches after each round. Sets
    ``study.trained_`` and ``study.reused_`` (outer and inner members).
    """
    import optuna

    from reglab.engine import train_members
    from reglab.store.journal import journal_storage
    from reglab.study.results import primary_metric
    from reglab.study.run import _preprocess, to_record
    from reglab.study.tune import (
        Outcome,
        collect_round,
        make_sampler,
        requeue_stale,
        tell_trial,
        trial_rows,
    )

    fams = families(plan.strategies, study.tune_ranges)
    tune = plan.config["tune"]
    trials, cv, batch = int(tune["trials"]), int(tune["inner_folds"]), int(tune["batch_trials"])
    metric = primary_metric(dataset.task)
    device = resolve_device(study.device, "Study").type
    val_fraction = study.val_fraction if study.early_stopping else 0.0
    inner_name = f"{plan.name}/inner"
    # -- the inner folds and their preprocessing -------------------------------------------
    folds = {
        s.split_id: inner_splits(
            s,
            dataset.y,
            dataset.task,
            cv=cv,
            val_fraction=val_fraction,
            seed=study.seed,
            class_names=dataset.classes or None,
        )
        for s in plan.splits
    }
    data, _ = _preprocess(dataset, [i for fs in folds.values() for i in fs])
    template = {s.split_id: spec for spec, s in plan.members}  # any member: arch and training
    base: dict[int, list[tuple[MemberSpec, Split]]] = {}
    for sid, fs in folds.items():
        base[sid] = []
        for i in fs:
            spec = dataclasses.replace(
                template[sid],
                strategy=Strategy(),
                train_idx=i.train_idx,
                val_idx=i.val_idx,
                test_idx=i.test_idx,
                seed=derive(study.seed, "inner", sid, i.fold),
                split_id=i.split_id,
            )
            base[sid].append((spec, i))
    # -- the searches ----------------------------------------------------------------------
    stored = {s.name: s for s in store.list_studies()}.get(inner_name)
    inner_config = {
        "nested in": plan.name,
        "data": plan.config["data"],
        "tune": tune,
        "model": plan.config["model"],
        "train": plan.config["train"],
        "splits": plan.config["splits"],
    }
    replaced = stored is not None and dict(stored.config) != inner_config
    store.create_study(
        inner_name,
        inner_config,
        {"nested in": plan.name},
        feature_names=plan.feature_names,
        on_config_change=on_config_change,
    )
    storage = journal_storage(store)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    existing = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    states = optuna.trial.TrialState
    searches: list[_Search] = []
    for split in plan.splits:
        for fam in fams:
            if fam.space is None:
                continue
            sname = f"{plan.name}/tune/{fam.name}/{split.split_id}"
            if replaced and on_config_change == "replace" and sname in existing:
                optuna.delete_study(study_name=sname, storage=storage)
            seed = derive(study.seed, "tune", fam.name, split.split_id) % _SEED_BOUND
            search = optuna.create_study(
                study_name=sname,
                storage=storage,
                load_if_exists=True,
                sampler=make_sampler(
                    "tpe", fam.space, seed=seed, batch_trials=batch, trials=trials
                ),
                direction="maximize" if METRIC_DIRECTIONS[metric] else "minimize",
            )
            requeue_stale(search)
            done = len(search.get_trials(deepcopy=False, states=(states.COMPLETE, states.PRUNED)))
            searches.append(_Search(fam, split, base[split.split_id], search, done))
    known = {
        r.key: Outcome(r.status, dict(r.test_scores), [])
        for r in store.load_members(inner_name, with_curves=False, with_details=False)
    }
    counts = {"trained": 0, "reused": 0}
    target = trials * len(searches)
    warmup = max(5, study.epochs // 10)
    while active := [x for x in searches if x.done < trials]:
        todo: dict[str, tuple[MemberSpec, Split]] = {}
        rounds = []
        groups = []
        for x in active:
            # A sampler seeded by the trials finished so far: a round's trials depend on the
            # search's history only, so a run resumed after a kill asks what an unbroken run asks.
            x.optuna.sampler = make_sampler(
                "tpe",
                x.space,
                seed=derive(study.seed, "tune", x.family.name, x.split.split_id, x.done)
                % _SEED_BOUND,
                batch_trials=batch,
                trials=trials,
            )
            asked = []
            for _ in range(min(batch, trials - x.done)):
                trial = x.optuna.ask()
                asked.append((trial, *x.suggest(trial)))
            start, owners = len(todo), list[int]()
            keys, reused = collect_round(x.members, [s for _, s, _ in asked], known, todo, owners)
            counts["reused"] += reused
            pruner = MedianPruner(owners, x.history, warmup=warmup)
            groups.append((range(start, len(todo)), pruner))
            rounds.append((x, asked, keys, pruner))

        def save(result: Any, todo: Mapping[str, tuple[MemberSpec, Split]] = todo) -> None:
            spec, split = todo[result.key]
            store.save_member(inner_name, to_record(result, spec, split))
            status = "done" if result.status == "ok" else "failed"
            val_loss = list(result.curves.get("val_loss", []))
            known[result.key] = Outcome(status, dict(result.test_scores), val_loss)
            counts["trained"] += 1

        if todo:
            train_members(
                [spec for spec, _ in todo.values()],
                data,
                device=device,
                memory_budget_mb=study.memory_budget_mb,
                on_result=save,
                on_epoch_end=_Pruners(groups) if study.early_stopping else None,
            )
        for x, asked, keys, pruner in rounds:
            for pos, (trial, strategy, values) in enumerate(asked):
                outcomes = [known[k] for k in keys[pos]]
                x.done += tell_trial(
                    x.optuna,
                    trial,
                    strategy,
                    values,
                    outcomes,
                    pruner.pruned.get(pos),
                    metric,
                    x.history,
                )
        if on_round is not None:
            on_round(sum(min(x.done, trials) for x in searches), target)
    # -- the choices and the outer members ----------------------------------------------------
    chosen: dict[tuple[str, int], Strategy | None] = {}
    tuning: dict[str, dict[str, Any]] = {}
    for x in searches:
        rows = trial_rows(x.optuna)
        inner = folds[x.split.split_id]
        found = analyze_tune(
            x.optuna.study_name,
            x.space,
            rows,
            metric=metric,
            n_train=[i.n_train for i in inner],
            n_test=[i.n_test for i in inner],
        )
        entry = _choice(rows, found.best, found.edges, len(found.ties))
        tuning.setdefault(x.family.name, {})[str(x.split.split_id)] = entry
        best = found.best
        if best is None:
            chosen[(x.family.name, x.split.split_id)] = None
            continue
        strategy, _ = x.suggest(optuna.trial.FixedTrial(dict(best.params)))
        chosen[(x.family.name, x.split.split_id)] = x.family.with_values(
            strategy.configs(), x.family.name
        )
    outer: dict[str, tuple[MemberSpec, Split]] = {}
    finished = store.done_keys(plan.name, include_failed=True)
    failed: list[MemberRecord] = []
    for spec, split in plan.members:
        fam = next(f for f in fams if f.name == spec.strategy.name)
        picked = spec.strategy if not fam.tuned else chosen[(fam.name, split.split_id)]
        if picked is None:
            failed.append(
                MemberRecord(
                    f"untuned-{fam.name}-{split.split_id}",
                    fam.name,
                    split_id=split.split_id,
                    seed=spec.seed,
                    n_train=split.n_train,
                    n_test=split.n_test,
                    status="failed",
                    error=f"every tuning trial of {fam.name} failed on this outer split",
                    repeat=split.repeat,
                    fold=split.fold,
                )
            )
            continue
        arch = dataclasses.replace(spec.arch, batch_norm=picked.batch_norm)
        member = dataclasses.replace(spec, arch=arch, strategy=picked)
        if member.key() in finished:
            counts["reused"] += 1
        else:
            outer[member.key()] = (member, split)
    for record in failed:
        if record.key not in finished:
            store.save_member(plan.name, record)

    def save_outer(result: Any) -> None:
        spec, split = outer[result.key]
        store.save_member(plan.name, to_record(result, spec, split))
        counts["trained"] += 1

    if outer:
        train_members(
            [spec for spec, _ in outer.values()],
            plan.data,
            device=device,
            memory_budget_mb=study.memory_budget_mb,
            on_result=save_outer,
        )
    study.trained_, study.reused_ = counts["trained"], counts["reused"]
    summary = {
        "trials": trials,
        "inner_folds": cv,
        "metric": metric,
        "families": {
            name: {
                "dims": [d.to_dict() | {"name": d.name} for d in f.space.dims],
                "splits": tuning.get(name, {}),
            }
            for f in fams
            if f.space is not None and (name := f.name)
        },
    }
    return summary


def _choice(
    rows: Sequence[TrialRow], best: TrialRow | None, edges: Sequence[str], ties: int
) -> dict[str, Any]:
    """What one search chose, as stored in the study's metadata."""
    return {
        "values": {}
        if best is None
        else {
            k: float(v)
            for k, v in best.params.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        },
        "inner_score": None if best is None or not math.isfinite(best.value) else best.value,
        "trial": None if best is None else best.number,
        "complete": sum(r.state == "complete" for r in rows),
        "pruned": sum(r.state == "pruned" for r in rows),
        "failed": sum(r.state == "fail" for r in rows),
        "edges": list(edges),
        "ties": ties,
    }


def check_tune(trials: Any, cv: Any, batch: Any, who: str = "Study") -> list[str]:
    """The problems with the tuning sizes (empty when they are fine)."""
    from reglab.study.tune import MAX_TRIALS

    out = []
    for param, value, low, high, flag in (
        ("tune", trials, 1, MAX_TRIALS, "--tune"),
        ("tune_cv", cv, 2, MAX_TUNE_CV, "--tune-cv"),
        ("tune_batch", batch, 1, MAX_TRIALS, "--tune-batch"),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            out.append(message(who, param, f"a whole number in [{low}, {high:,}] ({flag})", value))
    return out


def tune_config(
    config: dict[str, Any],
    strategies: Sequence[Strategy],
    trials: int,
    cv: int,
    batch: int,
    ranges: Any = None,
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
    config["tune"] = describe(fams, trials, cv, batch, primary_metric(config["data"]["task"]))


def run_tuned(
    study: Any,
    plan: Any,
    store: Store,
    started: float,
    *,
    progress: Callable[[int, int], None] | None = None,
    on_start: Callable[[Any, int], None] | None = None,
    on_config_change: str = "error",
) -> Any:
    """:meth:`Study.run <reglab.study.run.Study.run>` for a tuned study: :func:`run_nested`,
    the reference rows, the timings; returns the analyzed :class:`StudyResult`. ``progress``
    gets the trials finished over all searches and their target after each round."""
    import time

    from reglab.study.reference import store_references
    from reglab.study.results import load_result

    if on_start is not None:  # the network members stored (not the reference rows)
        names = {s.name for s in plan.strategies}
        stored = store.load_members(plan.name, with_curves=False, with_details=False)
        on_start(plan, sum(r.strategy in names for r in stored))
    store.set_status(plan.name, "running")
    try:
        tuning = run_nested(
            study, plan.dataset, store, plan, on_round=progress, on_config_change=on_config_change
        )
        store_references(plan, store, study.seed)
    except BaseException:
        store.set_status(plan.name, "interrupted")
        raise
    store.update_metadata(
        plan.name,
        {
            "tuning": tuning,
            "strategy_parts": _parts(plan.strategies, study.tune_ranges),
            "timings": {
                "last run wall s": round(time.perf_counter() - started, 3),
                "members trained": study.trained_,
                "members reused from the store": study.reused_,
                "last run": "planning, preprocessing, tuning, retraining and storing",
            },
        },
    )
    result = load_result(store, plan.name)
    store.set_status(plan.name, "failed" if result.all_failed else "done")
    return result


def _parts(strategies: Sequence[Strategy], ranges: Any) -> dict[str, list[str]]:
    """Each strategy's parts for the combined-versus-parts verdicts: a tuned family's parts are
    the families of its techniques (``dropout+l2`` → ``dropout``, ``l2``), whatever strengths
    the strategy was given."""
    from reglab.study.strategies import parts

    return {
        f.name: list(parts(f.name if f.tuned else f.strategy)) for f in families(strategies, ranges)
    }
