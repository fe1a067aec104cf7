"""Tune strengths with Optuna: ask K trials, train K trials × splits as one stack, tell K.

:class:`Tune` is a runner with scikit-learn's contract (``__init__`` stores, :meth:`Tune.run`
validates and works). The protocol is a study's (:class:`~reglab.study.run.Study`): the same
outer splits, inner validation split and per-split preprocessing, planned and preprocessed
**once** for the whole search. A trial's objective is its mean test score over the outer
splits, as ``cross_val_score`` gives it; every trial on a split starts from that split's
initial weights and batch order, so trials differ only by their strengths.

Each round asks the sampler for ``batch_trials`` trials (a trial's parameters are suggested
right after its ``ask``), trains all their members — trials × splits — in one
:func:`~reglab.engine.train_members` call, so they share stacks, and tells the results back.
TPE runs with ``constant_liar`` (trials of a round see each other as pending) and at least
``batch_trials`` random start-up trials. The median pruner (:class:`MedianPruner`) stops, at
the end of an epoch, the trials whose mean validation loss over their splits is worse than
the median of the trials trained so far, which frees their places in the stack.

Everything is kept in one database: the members in the reglab store (a re-run skips the
members already stored), the search as Optuna's journal in a table of it
(:mod:`reglab.store.journal`). A run killed mid-round leaves its asked trials ``RUNNING``;
the next run of the same command marks them failed and asks their parameters again first,
so their members already stored are reused and the search goes on where it stopped. One
process runs a search at a time (:mod:`reglab.study.tune_lock`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, cast

import numpy as np

from reglab._device import resolve_device
from reglab._validation import Problems, message, suggest
from reglab.data.load import Dataset
from reglab.engine.spec import MemberSpec, Strategy
from reglab.errors import ConfigError
from reglab.stats.metrics import METRIC_DIRECTIONS
from reglab.store import Store
from reglab.store.claims import DEFAULT_LEASE_S, new_owner
from reglab.store.rows import changed_keys, json_dict
from reglab.study.executor import LocalExecutor
from reglab.study.model_techniques import family_of_model, model_problem, space_for_model
from reglab.study.path_study import METRICS
from reglab.study.run import Study, StudyPlan, environment, to_record
from reglab.study.splits import Split
from reglab.study.tune_lock import SearchLock
from reglab.study.tune_prune import RUNNING_CURVE, MedianPruner, running_curve
from reglab.study.tune_result import TrialRow, TuneResult, analyze_tune
from reglab.study.tune_space import SearchSpace, parse_space

__all__ = ["DEFAULT_BATCH_TRIALS", "PRUNERS", "SAMPLERS", "Tune", "TunePlan", "make_sampler"]

SAMPLERS = ("tpe", "random", "grid", "qmc", "cmaes")
PRUNERS = ("median", "none")
DEFAULT_BATCH_TRIALS = 16
"""Trials per round (``--batch-trials``). Measured on W1 at 32 trials (``docs/tune.md``): the
best score with 16 was within 0.4 points of 4 and 8 (fold noise is 2–4 points) in half the
time of 8; with 32, all trials were TPE's random start-up and the best was lower."""
MAX_TRIALS = 100_000


def make_sampler(name: str, space: SearchSpace, *, seed: int, batch_trials: int,
                 trials: int) -> Any:  # fmt: skip
    """The Optuna sampler ``name`` for ``space``."""
    import optuna

    samplers = optuna.samplers
    if name == "tpe":
        with warnings.catch_warnings():  # `group` is "experimental" since Optuna 2.8
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return samplers.TPESampler(
                multivariate=True,
                group=space.switches,
                constant_liar=True,
                n_startup_trials=max(10, batch_trials),
                seed=seed,
            )
    if name == "random":
        return samplers.RandomSampler(seed=seed)
    if name == "grid":
        points = max(2, math.ceil(trials ** (1 / max(1, len(space.dims)))))
        return _grid_sampler()(space.grid(points), seed=seed)
    if name == "qmc":
        with warnings.catch_warnings():  # "experimental" since Optuna 3.0, and still there
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return samplers.QMCSampler(scramble=True, seed=seed)
    return samplers.CmaEsSampler(seed=seed)


def _grid_sampler() -> Any:
    from optuna.samplers import GridSampler

    class Grid(GridSampler):
        """Optuna's grid sampler without its ``study.stop()`` when the grid is done (allowed
        only inside ``optimize``): later trials repeat grid points, whose members are known."""

        def after_trial(self, *args: Any, **kwargs: Any) -> None:
            return None

    return Grid


class Outcome(NamedTuple):
    """One member of a trial: its status, test scores and validation-loss curve."""

    status: str
    scores: dict[str, float]
    val_loss: list[float]


@dataclasses.dataclass(frozen=True)
class TunePlan:
    """What a tuning run needs, computed before anything is stored."""

    name: str
    study: Study
    base: StudyPlan
    space: SearchSpace
    metric: str
    described: dict[str, Any]


class Tune:
    """Tune the strengths of a strategy's techniques by cross-validation.

    Args:
        strategy: Techniques joined by ``+`` (``"dropout+l2"``) or ``"cocktail"`` (every
            registered technique with an on/off switch).
        ranges: Overrides of the registry's ranges, ``"dropout=0:0.6,l2=1e-6:1e-2"``.
        trials: Trials to finish (complete or pruned); a re-run with more continues.
        batch_trials: Trials asked and trained together per round (default
            :data:`DEFAULT_BATCH_TRIALS`).
        sampler: ``tpe`` (default), ``random``, ``grid``, ``qmc`` or ``cmaes``.
        pruner: ``median`` (default; needs early stopping's validation rows) or ``none``.
        metric: The test score to optimize (default: accuracy, or RMSE for regression).
        name: The study's name (default: data name, ``tune`` and a hash of the settings).
        **study_options: Any other :class:`~reglab.study.run.Study` argument; with
            ``model="cnn"`` or ``"rnn"`` a technique of another family in ``strategy`` is
            refused, and ``cocktail`` holds only the techniques the family trains.
    """

    def __init__(
        self,
        strategy: str = "dropout+l2",
        *,
        ranges: str | Mapping[str, Any] | None = None,
        trials: int = 100,
        batch_trials: int = DEFAULT_BATCH_TRIALS,
        sampler: str = "tpe",
        pruner: str = "median",
        metric: str | None = None,
        name: str | None = None,
        **study_options: Any,
    ) -> None:
        self.strategy = strategy
        self.ranges = ranges
        self.trials = trials
        self.batch_trials = batch_trials
        self.sampler = sampler
        self.pruner = pruner
        self.metric = metric
        self.name = name
        self.study_options = study_options

    def check(self) -> SearchSpace:
        """Validate the tuning options (no data needed); every problem in one message."""
        p = Problems()
        space = None
        try:
            space = parse_space(self.strategy, self.ranges)
        except ConfigError as err:
            p.add(str(err))
        if space is not None and not space.switches:  # named: refused, not left out
            model = self.study_options.get("model", "auto")  # auto: checked in plan
            refused = model_problem(space.techniques, None, model, "tune", "strategy")
            if refused is not None:
                p.add(refused)
        sizes = (("trials", self.trials, "--trials"),
                 ("batch_trials", self.batch_trials, "--batch-trials"))  # fmt: skip
        for param, value, flag in sizes:
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not (1 <= value <= MAX_TRIALS)
            ):
                expected = f"a whole number in [1, {MAX_TRIALS:,}] ({flag})"
                p.add(message("tune", param, expected, value))
        choices = (("sampler", self.sampler, SAMPLERS), ("pruner", self.pruner, PRUNERS))
        for option, given, allowed in choices:
            if given not in allowed:
                expected = "one of " + ", ".join(repr(c) for c in allowed)
                p.add(message("tune", option, expected, given) + suggest(str(given), allowed))
        known = [m for ms in METRICS.values() for m in ms]
        if self.metric is not None and self.metric not in known:
            p.add(message("tune", "metric", "one of " + ", ".join(known), self.metric))
        if space is not None and space.switches and self.sampler == "grid":
            p.add(message("tune", "sampler", "not 'grid' with 'cocktail' (its parameters are "
                          "conditional); use tpe, random, qmc or cmaes", self.sampler))  # fmt: skip
        p.raise_if_any()
        return cast(SearchSpace, space)  # parsed: raise_if_any raised otherwise

    def plan(self, dataset: Dataset) -> TunePlan:
        """Validate everything and plan the splits and preprocessing (nothing stored)."""
        from reglab.study.models import resolve_model

        model = resolve_model(self.study_options.get("model"), dataset)
        study = Study(["none"], **self.study_options)
        named = self.check()
        if not named.switches:  # the data's default model, now that the data are read
            refused = model_problem(named.techniques, None, model, "tune", "strategy")
            if refused is not None:
                raise ConfigError(refused)
        space = named.for_task(dataset.task, family_of_model(model) or str(model))
        space = space_for_model(space, model).within_epochs(int(study.epochs))
        kind = "regression" if dataset.task == "regression" else "classification"
        metric = self.metric or ("rmse" if kind == "regression" else "accuracy")
        if metric not in METRICS[kind]:
            expected = f"a {kind} score: one of " + ", ".join(METRICS[kind])
            raise ConfigError(message("tune", "metric", expected, metric))
        base = study.plan(dataset)
        described = {
            "space": space.to_dict(),
            "sampler": self.sampler,
            "pruner": self.pruner,
            "metric": metric,
            "seed": study.seed,
        }
        config = {**base.config, "strategies": [], "tune": described}
        name = self.name
        if name is None:
            text = json.dumps(config, sort_keys=True, default=str)
            name = f"{dataset.name}-tune-{hashlib.sha256(text.encode()).hexdigest()[:6]}"
        base = dataclasses.replace(base, name=name, config=config)
        return TunePlan(name, study, base, space, metric, described)

    def run(
        self,
        dataset: Dataset,
        store: Store,
        *,
        planned: TunePlan | None = None,
        on_start: Callable[[TunePlan, int], None] | None = None,
        on_round: Callable[[int, int], None] | None = None,
        on_config_change: str = "error",
        lease_s: float = DEFAULT_LEASE_S,
    ) -> TuneResult:
        """Run trials until ``trials`` are finished; return the analyzed search.

        ``on_start`` gets the plan and the number of trials already finished; ``on_round``
        the trials finished and the target after each round. Sets ``trained_`` and
        ``reused_`` (members trained by this call, and found in the store). One process
        runs a search at a time (:mod:`reglab.study.tune_lock`): another one already on it
        raises a :class:`~reglab.errors.StoreError` naming it; its claim lapses ``lease_s``
        seconds after it died.
        """
        plan = planned if planned is not None and planned.base.dataset is dataset else None
        plan = plan or self.plan(dataset)
        search = self._open(plan, store, on_config_change)
        with SearchLock(store, plan.name, new_owner(), lease_s):
            return self._search(plan, store, search, on_start, on_round)

    def _search(
        self,
        plan: TunePlan,
        store: Store,
        search: Any,
        on_start: Callable[[TunePlan, int], None] | None,
        on_round: Callable[[int, int], None] | None,
    ) -> TuneResult:
        """:meth:`run`'s rounds, while this process holds the search."""
        import optuna

        states = optuna.trial.TrialState
        requeue_stale(search)
        known = {  # every member's outcome, stored before this run or trained in it
            r.key: Outcome(r.status, dict(r.test_scores), [])
            for r in store.load_members(plan.name, with_curves=False, with_details=False)
        }
        done = len(search.get_trials(deepcopy=False, states=(states.COMPLETE, states.PRUNED)))
        if on_start is not None:
            on_start(plan, done)
        store.set_status(plan.name, "running")
        self.trained_, self.reused_ = 0, 0
        history: list[np.ndarray] = []
        started = time.perf_counter()
        try:
            while done < self.trials:
                asked = []
                for _ in range(min(self.batch_trials, self.trials - done)):
                    trial = search.ask()
                    asked.append((trial, *plan.space.suggest(trial)))
                outcomes, pruned = self._train_round(plan, store, [s for _, s, _ in asked],
                                                     known, history)  # fmt: skip
                for pos, (trial, strategy, values) in enumerate(asked):
                    done += tell_trial(search, trial, strategy, values, outcomes[pos],
                                      pruned.get(pos), plan.metric, history)  # fmt: skip
                if on_round is not None:
                    on_round(done, self.trials)
        except BaseException:
            store.set_status(plan.name, "interrupted")
            raise
        store.update_metadata(plan.name, {"timings": {
            "last run wall s": round(time.perf_counter() - started, 3),
            "members trained": self.trained_,
            "members reused from the store": self.reused_,
        }})  # fmt: skip
        store.set_status(plan.name, "done")
        return self.result(plan, search)

    def _open(self, plan: TunePlan, store: Store, on_config_change: str) -> Any:
        """Create (or find) the study in the store and the Optuna study in its journal."""
        import optuna

        from reglab.store.journal import journal_storage

        study, base = plan.study, plan.base
        metadata = {
            "environment": environment(),
            "data": base.describe_data(),
            "protocol": {"splits": len(base.splits), "root seed": study.seed},
            "device": resolve_device(study.device, "tune").type,
            "tune": plan.described,
        }
        stored = {s.name: s for s in store.list_studies()}.get(plan.name)
        changed = stored is not None and bool(
            changed_keys(stored.config, json_dict("tune", "config", base.config))
        )
        store.create_study(plan.name, base.config, metadata, feature_names=base.feature_names,
                           on_config_change=on_config_change)  # fmt: skip
        storage = journal_storage(store)
        if changed and on_config_change == "replace":  # the store started over: so does Optuna
            names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
            if plan.name in names:
                optuna.delete_study(study_name=plan.name, storage=storage)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        asked = next((s.n_trials for s in optuna.get_all_study_summaries(storage)
                      if s.study_name == plan.name), 0)  # fmt: skip
        seed = study.seed
        if asked and self.sampler not in ("grid", "qmc"):
            # a search continued (more --trials): a sampler seeded as at the start would draw
            # its first points again; seeded by how many are stored, it draws new ones, and
            # the same continuation draws the same ones. Grid and QMC go on by trial number.
            from reglab._seeding import derive

            seed = derive(study.seed, "tune", "continued", asked) % 2**31
        sampler = make_sampler(self.sampler, plan.space, seed=seed,
                               batch_trials=self.batch_trials, trials=self.trials)  # fmt: skip
        return optuna.create_study(
            study_name=plan.name,
            storage=storage,
            sampler=sampler,
            direction="maximize" if METRIC_DIRECTIONS[plan.metric] else "minimize",
            load_if_exists=True,
        )

    def _train_round(
        self,
        plan: TunePlan,
        store: Store,
        strategies: Sequence[Strategy],
        known: dict[str, Outcome],
        history: Sequence[np.ndarray],
    ) -> tuple[list[list[Outcome]], dict[int, int]]:
        """Train every trial × split of a round not yet ``known``, in one ``train_members``
        call (a member asked again, in this round or another, is trained once).

        Returns each trial's outcome per split and the epoch at which each pruned trial (by
        position) was stopped.
        """
        from reglab.engine import train_members

        study, base = plan.study, plan.base
        todo: dict[str, tuple[MemberSpec, Split]] = {}
        owners: list[int] = []  # each trained member's trial position in the round
        keys, reused = collect_round(base.members, strategies, known, todo, owners)
        self.reused_ += reused

        def save(result: Any) -> None:
            spec, split = todo[result.key]
            store.save_member(plan.name, to_record(result, spec, split))
            status = "done" if result.status == "ok" else "failed"
            val_loss = list(result.curves.get("val_loss", []))
            known[result.key] = Outcome(status, dict(result.test_scores), val_loss)
            self.trained_ += 1

        pruner = MedianPruner(owners, history, warmup=max(5, study.epochs // 10))
        prune = self.pruner == "median" and study.early_stopping
        device = resolve_device(study.device, "tune").type
        if todo and isinstance(study.executor, LocalExecutor):
            train_members(
                [spec for spec, _ in todo.values()],
                base.data,
                device=device,
                memory_budget_mb=study.memory_budget_mb,
                on_result=save,
                on_epoch_end=pruner if prune else None,
            )
        elif todo:  # another executor (a cluster): the round's members as one chunk
            hook = {"on_epoch_end": pruner} if prune else {}
            study.executor.run([[spec for spec, _ in todo.values()]], base.data, device=device,
                               memory_budget_mb=study.memory_budget_mb, on_result=save,
                               **hook)  # fmt: skip
        return [[known[k] for k in ks] for ks in keys], dict(pruner.pruned)

    def result(self, plan: TunePlan, search: Any) -> TuneResult:
        """The analyzed search (:func:`~reglab.study.tune_result.analyze_tune`)."""
        import optuna

        rows = trial_rows(search)
        importances: dict[str, float] = {}
        complete = [r for r in rows if r.state == "complete"]
        if len(complete) >= 4 and len(plan.space.dims) > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "importances will be equal" on flat searches
                importances = {
                    k: float(v) for k, v in optuna.importance.get_param_importances(search).items()
                }
        splits = plan.base.splits
        result = analyze_tune(
            plan.name,
            plan.space,
            rows,
            metric=plan.metric,
            n_train=[s.n_train for s in splits],
            n_test=[s.n_test for s in splits],
            importances=importances,
            fit_command=fit_command(plan, self.study_options),
            sampler=self.sampler,
        )
        study = plan.study
        protocol: dict[str, Any] = {
            "splits": len(splits),
            "method": plan.base.config["splits"]["method"],
            "epochs": study.epochs,
            "early stopping": study.early_stopping,
            "root seed": study.seed,
        }
        if plan.base.dataset.grouping is not None:
            protocol["groups"] = plan.base.dataset.grouping.describe()
        described = {"data": plan.base.describe_data(), "protocol": protocol}
        return dataclasses.replace(result, described=described)


def requeue_stale(search: Any) -> None:
    """Mark the trials a killed run left ``RUNNING`` failed and ask their parameters again
    first, so their members already stored are reused."""
    import optuna

    states = optuna.trial.TrialState
    for stale in search.get_trials(deepcopy=False, states=(states.RUNNING,)):
        search.tell(stale.number, state=states.FAIL)
        search.enqueue_trial(stale.params, user_attrs={"rerun_of": stale.number})


def collect_round(
    members: Sequence[tuple[MemberSpec, Split]],
    strategies: Sequence[Strategy],
    known: Mapping[str, Outcome],
    todo: dict[str, tuple[MemberSpec, Split]],
    owners: list[int],
    offset: int = 0,
) -> tuple[list[list[str]], int]:
    """Each trial's members: ``members`` (one per split) with the trial's strategy.

    Members not ``known`` and not yet in ``todo`` are added to it (a trial asked twice, in
    this round or another, trains once), with their trial's position plus ``offset`` appended
    to ``owners``. Returns each trial's member keys and how many were already known.
    """
    from reglab.engine.skip import for_strategy

    keys: list[list[str]] = []
    reused = 0
    for pos, strategy in enumerate(strategies):
        keys.append([])
        for spec, split in members:
            arch = for_strategy(spec.arch, strategy)
            member = dataclasses.replace(spec, arch=arch, strategy=strategy)
            key = member.key()
            keys[pos].append(key)
            if key in known:
                reused += 1
            elif key not in todo:
                todo[key] = (member, split)
                owners.append(pos + offset)
    return keys, reused


def trial_rows(search: Any) -> list[TrialRow]:
    """Every finished trial of an Optuna study told by :func:`tell_trial`."""
    import optuna

    states = optuna.trial.TrialState
    rows = []
    for t in search.get_trials(deepcopy=False):
        if t.state == states.RUNNING or t.state == states.WAITING:
            continue
        rows.append(TrialRow(
            number=t.number,
            state=t.state.name.lower(),
            strategy=str(t.user_attrs.get("strategy", "")),
            params={**t.params, **t.user_attrs.get("values", {})},
            value=_mean(t.user_attrs.get("scores", ())),
            scores=tuple(float(s) for s in t.user_attrs.get("scores", ())),
            pruned_epoch=t.user_attrs.get("pruned_epoch"),
        ))  # fmt: skip
    return rows


def tell_trial(
    search: Any,
    trial: Any,
    strategy: Strategy,
    values: Mapping[str, float],
    outcomes: Sequence[Outcome],
    pruned_epoch: int | None,
    metric: str,
    history: list[np.ndarray],
) -> int:
    """Tell one trial's result; 1 when it counts as finished (complete or pruned).

    A complete trial whose members all have validation curves keeps its running curve in
    the user attribute :data:`~reglab.study.tune_prune.RUNNING_CURVE` (and ``history``), so
    that the process that continues its search reads the same pruning history back."""
    import optuna

    states = optuna.trial.TrialState
    scores = [o.scores.get(metric, math.nan) for o in outcomes]
    trial.set_user_attr("strategy", strategy.name)
    trial.set_user_attr("scores", [float(s) for s in scores])
    trial.set_user_attr("values", dict(values))
    if any(o.status != "done" for o in outcomes) or not all(map(math.isfinite, scores)):
        search.tell(trial, state=states.FAIL)
        return 0
    if pruned_epoch is not None:
        trial.set_user_attr("pruned_epoch", pruned_epoch)
        search.tell(trial, state=states.PRUNED)
        return 1
    curve = None
    if all(o.val_loss for o in outcomes):
        curve = running_curve([o.val_loss for o in outcomes])
        trial.set_user_attr(RUNNING_CURVE, [float(v) for v in curve])
    search.tell(trial, float(np.mean(scores)))
    if curve is not None:
        history.append(curve)
    return 1


def _mean(scores: Sequence[float]) -> float:
    values = [float(s) for s in scores]
    return float(np.mean(values)) if values and all(map(math.isfinite, values)) else math.nan


def fit_command(plan: TunePlan, options: Mapping[str, Any]) -> str:
    """The ``reglab fit`` command line that trains the best strategy (``{strategy}`` left to
    fill), with the data and the model and training settings of the search."""
    ds = plan.base.dataset
    study = plan.study
    source = ds.source
    parts = ["reglab fit", _quote(source)]
    if ds.target and not source.startswith("builtin:"):
        parts.append(f"--target {_quote(ds.target)}")
    # the data as the search read them: the columns left out, the groups
    asked = [c for c, why in ds.dropped_columns if why == "asked to drop"]
    if asked:
        parts.append(f"--drop {_quote(','.join(asked))}")
    if ds.grouping is not None and ds.grouping.by != "array":
        parts.append(f"--groups {_quote(ds.grouping.by)}")
    parts.append('--strategy "{strategy}"')
    parts.append("--hidden " + ",".join(str(int(h)) for h in study.hidden))
    from reglab.study.models import resolve_model

    model = resolve_model(study.model, ds)  # named even when it is the data's default
    if model != "mlp":
        parts.append(f"--model {_quote(str(model))}")
    for flag, value, default in (("--epochs", study.epochs, 100),
                                 ("--batch-size", study.batch_size, 32),
                                 ("--lr", study.lr, 1e-3),
                                 ("--optimizer", study.optimizer, "adam"),
                                 ("--activation", study.activation, "relu"),
                                 ("--block-order", study.block_order, "bn-act-drop"),
                                 ("--val-fraction", study.val_fraction if study.early_stopping
                                  else 0.2, 0.2),
                                 ("--seed", study.seed, 0)):  # fmt: skip
        if value != default:
            parts.append(f"{flag} {value}")
    if not study.early_stopping:
        parts.append("--no-early-stopping")
    elif study.patience != 10:
        parts.append(f"--patience {study.patience}")
    parts.append("-o model.reglab")
    return " ".join(parts)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
