"""Running a nested study: the rounds of every search, the choices, the retrained members.

:func:`run_nested` carries out the protocol of :mod:`reglab.study.nested` for a planned study:
it opens one Optuna search per tuned family and outer split (in the store's journal), asks each
for ``tune_batch`` trials per round, trains all their trials × inner folds in one
:func:`~reglab.engine.train_members` call, or as one chunk on the study's executor (each search
pruned by its own median rule), tells the results, and once every search has ``tune`` finished
trials retrains each family at its split's best trial on the whole outer training part.
:func:`run_tuned` wraps it for :meth:`Study.run <reglab.study.run.Study.run>`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from reglab._device import resolve_device
from reglab._seeding import derive
from reglab.data.load import Dataset
from reglab.engine.spec import MemberSpec, Strategy
from reglab.stats.metrics import METRIC_DIRECTIONS
from reglab.store import Store
from reglab.store.claims import DEFAULT_LEASE_S, new_owner
from reglab.store.records import MemberRecord
from reglab.study.nested import (
    SEED_BOUND,
    Family,
    families,
    inner_splits,
    search_config,
    strategy_parts_of,
)
from reglab.study.nested_claims import UnitClaims, claim_up_to, unit_key, units_config
from reglab.study.splits import Split
from reglab.study.tune_prune import RUNNING_CURVE, MedianPruner
from reglab.study.tune_result import TrialRow, analyze_tune
from reglab.study.tune_space import SearchSpace

__all__ = ["run_nested", "run_tuned"]


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
    on_wait: Callable[[int], None] | None = None,
    on_wait_units: Callable[[int], None] | None = None,
    lease_s: float = DEFAULT_LEASE_S,
    poll_s: float = 1.0,
) -> dict[str, Any]:
    """Tune every family on every outer split, then train the outer members (module docstring).

    Stores the inner members in ``<plan.name>/inner``, the outer members in ``plan.name``
    (each tuned family under its family name, at its split's chosen strengths) and returns the
    choices, which the study keeps in its metadata under ``tuning``. ``on_round`` gets the
    trials finished and the trials asked for over all searches after each round. Sets
    ``study.trained_`` and ``study.reused_`` (outer and inner members).

    Several processes may run the same study on one store: they share the searches (claimed
    whole, :mod:`reglab.study.nested_claims`) and then the outer members (claimed as a plain
    study's), and each ends with the same choices and scores. ``on_wait_units(n)`` is called
    while this process waits for ``n`` searches other processes hold, ``on_wait(n)`` while it
    waits for ``n`` outer members; ``lease_s`` is the claims' lease, ``poll_s`` the wait
    between two looks at the store.
    """
    from reglab.study.results import primary_metric

    fams = families(plan.strategies, study.tune_ranges)
    tune = plan.config["tune"]
    metric = primary_metric(dataset.task)
    folds, data, base = _inner(study, dataset, plan, int(tune["inner_folds"]))
    searches = _open(study, store, plan, fams, base, metric, on_config_change)
    counts = {"trained": 0, "reused": 0}
    owner = new_owner()
    units = UnitClaims(
        store,
        f"{_search_base(study, plan)}/units",
        list(searches),
        owner,
        lease_s,
        studies=(plan.name,),
    )
    with units:
        _rounds(study, store, plan, searches, data, metric, counts, on_round, units,
                on_wait_units, poll_s)  # fmt: skip
        chosen, tuning = _choose(list(searches.values()), folds, metric, study.tune_choose)
        _retrain(study, store, plan, fams, chosen, counts, units, on_wait, poll_s)
    study.trained_, study.reused_ = counts["trained"], counts["reused"]
    return {
        "trials": int(tune["trials"]),
        "inner_folds": int(tune["inner_folds"]),
        "choose": study.tune_choose,
        "metric": metric,
        "families": {
            f.name: {
                "dims": [d.to_dict() | {"name": d.name} for d in f.space.dims],
                "splits": tuning.get(f.name, {}),
            }
            for f in fams
            if f.space is not None
        },
    }


def _search_base(study: Any, plan: Any) -> str:
    """The name under which the inner members and searches are kept: the study's own, except
    for a study named by default with a choice rule other than ``best``, whose searches are
    those of the same study chosen by ``best`` (:func:`~reglab.study.nested.search_config`):
    changing only the rule reuses every inner member and trial."""
    from reglab.study.run import default_study_name

    if study.name is not None or "choose" not in plan.config["tune"]:
        return str(plan.name)
    return default_study_name(plan.dataset, search_config(plan.config))


def _inner(
    study: Any, dataset: Dataset, plan: Any, cv: int
) -> tuple[dict[int, list[Split]], dict[int, Any], dict[int, list[tuple[MemberSpec, Split]]]]:
    """Each outer split's inner folds, their preprocessed inputs, and one member per fold
    (strategy left to each trial; architecture and training set-up the study's)."""
    from reglab.study.run import _preprocess

    val_fraction = study.val_fraction if study.early_stopping else 0.0
    folds = {
        s.split_id: inner_splits(
            s,
            dataset.y,
            dataset.task,
            cv=cv,
            val_fraction=val_fraction,
            seed=study.seed,
            class_names=dataset.classes or None,
            groups=None if dataset.grouping is None else dataset.grouping.codes,
        )
        for s in plan.splits
    }
    data, _ = _preprocess(dataset, [i for fs in folds.values() for i in fs])
    template = {s.split_id: spec for spec, s in plan.members}
    base: dict[int, list[tuple[MemberSpec, Split]]] = {}
    for sid, fs in folds.items():
        base[sid] = [
            (
                dataclasses.replace(
                    template[sid],
                    strategy=Strategy(),
                    train_idx=i.train_idx,
                    val_idx=i.val_idx,
                    test_idx=i.test_idx,
                    seed=derive(study.seed, "inner", sid, i.fold),
                    split_id=i.split_id,
                ),
                i,
            )
            for i in fs
        ]
    return folds, data, base


def _open(
    study: Any,
    store: Store,
    plan: Any,
    fams: Sequence[Family],
    base: Mapping[int, list[tuple[MemberSpec, Split]]],
    metric: str,
    on_config_change: str,
) -> dict[str, _Search]:
    """The inner members' study and the units' study in the store, and one Optuna search per
    tuned family and outer split in its journal (found again on a re-run), by unit key. A
    search gets the family's given strengths as its first trial when it is first taken
    (:func:`_take`)."""
    import optuna

    from reglab.store.journal import journal_storage
    from reglab.study.tune import make_sampler

    tune = plan.config["tune"]
    base_name = _search_base(study, plan)
    inner_name = f"{base_name}/inner"
    searched = search_config(plan.config)
    stored = {s.name: s for s in store.list_studies()}.get(inner_name)
    inner_config = {
        "nested in": base_name,
        **{k: searched[k] for k in ("data", "tune", "model", "train", "splits")},
    }
    replaced = stored is not None and dict(stored.config) != inner_config
    for name, config in ((inner_name, inner_config),
                         (f"{base_name}/units", units_config(inner_config))):  # fmt: skip
        store.create_study(
            name,
            config,
            {"nested in": base_name},
            feature_names=plan.feature_names,
            on_config_change=on_config_change,
        )
    storage = journal_storage(store)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    existing = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    searches: dict[str, _Search] = {}
    for split in plan.splits:
        for fam in fams:
            if fam.space is None:
                continue
            name = f"{base_name}/tune/{fam.name}/{split.split_id}"
            if replaced and on_config_change == "replace" and name in existing:
                optuna.delete_study(study_name=name, storage=storage)
            seed = derive(study.seed, "tune", fam.name, split.split_id) % SEED_BOUND
            search = optuna.create_study(
                study_name=name,
                storage=storage,
                load_if_exists=True,
                sampler=make_sampler(
                    "tpe",
                    fam.space,
                    seed=seed,
                    batch_trials=int(tune["batch_trials"]),
                    trials=int(tune["trials"]),
                ),
                direction="maximize" if METRIC_DIRECTIONS[metric] else "minimize",
            )
            key = unit_key(fam.name, split.split_id)
            searches[key] = _Search(fam, split, base[split.split_id], search, _finished(search))
    return searches


def _finished(search: Any) -> int:
    """The trials of ``search`` that count as finished (complete or pruned)."""
    import optuna

    states = optuna.trial.TrialState
    return len(search.get_trials(deepcopy=False, states=(states.COMPLETE, states.PRUNED)))


def _take(x: _Search) -> None:
    """Make a search just claimed ready for its next round: the trials a dead process left
    ``RUNNING`` re-queued, its finished trials counted, the pruner's history read back."""
    import optuna

    from reglab.study.tune import requeue_stale
    from reglab.study.tune_choose import start_params

    requeue_stale(x.optuna)
    start = start_params(x.family.strategy, x.space)
    if start is not None and not x.optuna.get_trials(deepcopy=False):
        x.optuna.enqueue_trial(start, user_attrs={"start": True})
    x.done = _finished(x.optuna)
    complete = x.optuna.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    x.history = [
        np.asarray(t.user_attrs[RUNNING_CURVE], dtype=float)
        for t in sorted(complete, key=lambda t: t.number)
        if RUNNING_CURVE in t.user_attrs
    ]


def _rounds(
    study: Any,
    store: Store,
    plan: Any,
    searches: Mapping[str, _Search],
    data: Mapping[int, Any],
    metric: str,
    counts: dict[str, int],
    on_round: Callable[[int, int], None] | None,
    units: UnitClaims,
    on_wait: Callable[[int], None] | None,
    poll_s: float,
) -> None:
    """Ask, train (the trials × inner folds of every search this process holds, in one engine
    call) and tell, round after round, until every search has its trials; before each round
    the searches are shared out again (:meth:`UnitClaims.balance`)."""
    from reglab.study.run import to_record
    from reglab.study.tune import Outcome, collect_round, make_sampler, tell_trial

    tune = plan.config["tune"]
    trials, batch = int(tune["trials"]), int(tune["batch_trials"])
    inner_name = f"{_search_base(study, plan)}/inner"
    known: dict[str, Outcome] = {}

    def read_known() -> None:  # members stored by anyone (kept: curves of those trained here)
        for r in store.load_members(inner_name, with_curves=False, with_details=False):
            known.setdefault(r.key, Outcome(r.status, dict(r.test_scores), []))

    warmup = max(5, study.epochs // 10)
    device = resolve_device(study.device, "Study").type
    held: list[str] = []
    while True:
        taken = set(held)
        held, _ = units.balance(held)
        if not held:
            waiting = units.unfinished()
            if not waiting:
                break
            if on_wait is not None:
                on_wait(len(waiting))
            time.sleep(poll_s)
            continue
        if any(k not in taken for k in held):
            read_known()
        for key in held:
            if key not in taken:
                _take(searches[key])
        for key in [k for k in held if searches[k].done >= trials]:
            x = searches[key]
            units.finish(key, x.family.name, x.split.split_id, x.done)
            held.remove(key)
        active = {k: searches[k] for k in held}
        if not active:
            continue
        todo: dict[str, tuple[MemberSpec, Split]] = {}
        rounds = []
        groups = []
        for key, x in active.items():
            # A sampler seeded by the trials finished so far: a round's trials depend on the
            # search's history only, so a run resumed after a kill asks what an unbroken run asks.
            x.optuna.sampler = make_sampler(
                "tpe",
                x.space,
                seed=derive(study.seed, "tune", x.family.name, x.split.split_id, x.done)
                % SEED_BOUND,
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
            rounds.append((key, x, asked, keys, pruner))

        def save(result: Any, todo: Mapping[str, tuple[MemberSpec, Split]] = todo) -> None:
            spec, split = todo[result.key]
            store.save_member(inner_name, to_record(result, spec, split))
            status = "done" if result.status == "ok" else "failed"
            val_loss = list(result.curves.get("val_loss", []))
            known[result.key] = Outcome(status, dict(result.test_scores), val_loss)
            counts["trained"] += 1

        if todo:
            hook = _Pruners(groups) if study.early_stopping else None
            _train(study, [spec for spec, _ in todo.values()], data, device, save, hook)
            if hook is not None and hook.groups is not groups:  # state back from a cluster
                for (_, mine), (_, theirs) in zip(groups, hook.groups, strict=True):
                    vars(mine).update(vars(theirs))
        still = set(units.keep(held))  # a search taken over meanwhile is told by its new holder
        for key, x, asked, keys, pruner in rounds:
            if key not in still:
                continue
            for pos, (trial, strategy, values) in enumerate(asked):
                outcomes = [known[k] for k in keys[pos]]
                x.done += tell_trial(x.optuna, trial, strategy, values, outcomes,
                                     pruner.pruned.get(pos), metric, x.history)  # fmt: skip
            if x.done >= trials:
                units.finish(key, x.family.name, x.split.split_id, x.done)
        held = [k for k in held if k in still and searches[k].done < trials]
        if on_round is not None:
            for key, x in searches.items():
                if key not in still:
                    x.done = _finished(x.optuna)
            on_round(sum(min(x.done, trials) for x in searches.values()), trials * len(searches))


def _choose(
    searches: Sequence[_Search], folds: Mapping[int, list[Split]], metric: str, rule: str
) -> tuple[dict[tuple[str, int], Strategy | None], dict[str, dict[str, Any]]]:
    """Each search's trial chosen by ``rule`` (:func:`~reglab.study.tune_choose.choose_trial`;
    the ties and edges from :func:`~reglab.study.tune_result.analyze_tune` on the inner folds)
    as the family's strategy for that split (``None`` when every trial failed), and what was
    chosen, for the metadata."""
    import optuna

    from reglab.study.tune import trial_rows
    from reglab.study.tune_choose import choose_trial

    chosen: dict[tuple[str, int], Strategy | None] = {}
    tuning: dict[str, dict[str, Any]] = {}
    for x in searches:
        rows = trial_rows(x.optuna)
        inner = folds[x.split.split_id]
        found = analyze_tune(x.optuna.study_name, x.space, rows, metric=metric,
                             n_train=[i.n_train for i in inner],
                             n_test=[i.n_test for i in inner])  # fmt: skip
        picked = choose_trial(rows, x.space, metric=metric, rule=rule)
        tuning.setdefault(x.family.name, {})[str(x.split.split_id)] = _choice(
            rows, picked, found.edges, len(found.ties), found.best
        )
        key = (x.family.name, x.split.split_id)
        if picked is None:
            chosen[key] = None
            continue
        strategy, _ = x.suggest(optuna.trial.FixedTrial(dict(picked.params)))
        chosen[key] = x.family.with_values(strategy.configs(), x.family.name)
    return chosen, tuning


def _retrain(
    study: Any,
    store: Store,
    plan: Any,
    fams: Sequence[Family],
    chosen: Mapping[tuple[str, int], Strategy | None],
    counts: dict[str, int],
    units: UnitClaims,
    on_wait: Callable[[int], None] | None,
    poll_s: float,
) -> None:
    """Train every outer member not yet stored: a tuned family at its split's choice (a failed
    record when every trial failed), an untuned strategy as it is. The members are claimed as
    a plain study's: each process takes its share (``⌈left / processes⌉``) of those no one
    holds, and waits for those others hold."""
    from reglab.engine.skip import for_strategy
    from reglab.study.run import to_record

    outer: dict[str, tuple[MemberSpec, Split]] = {}
    finished = store.done_keys(plan.name, include_failed=True)
    for spec, split in plan.members:
        fam = next(f for f in fams if f.name == spec.strategy.name)
        picked = spec.strategy if not fam.tuned else chosen[(fam.name, split.split_id)]
        if picked is None:
            record = MemberRecord(
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
            if record.key not in finished:
                store.save_member(plan.name, record)
            continue
        member = dataclasses.replace(spec, arch=for_strategy(spec.arch, picked), strategy=picked)
        if member.key() in finished:
            counts["reused"] += 1
        else:
            outer[member.key()] = (member, split)

    def save(result: Any) -> None:
        spec, split = outer[result.key]
        store.save_member(plan.name, to_record(result, spec, split))
        counts["trained"] += 1

    device = resolve_device(study.device, "Study").type
    owner = units.owner
    while left := [k for k in outer if k not in store.done_keys(plan.name, include_failed=True)]:
        share = math.ceil(len(left) / units.drivers())
        mine = claim_up_to(store, plan.name, left, owner, share, units.lease_s)
        if mine:
            _train(study, [outer[k][0] for k in mine], plan.data, device, save)
            continue
        if on_wait is not None:
            on_wait(len(left))
        time.sleep(poll_s)


def _train(
    study: Any,
    members: list[MemberSpec],
    data: Mapping[int, Any],
    device: str,
    on_result: Callable[[Any], None],
    on_epoch_end: Any = None,
) -> None:
    """Train ``members`` in this process, or as one chunk on the study's executor (a Ray
    cluster: the results come back here, this process writes them; ``on_epoch_end`` then runs
    in an actor and its attributes are copied back when the chunk is done)."""
    from reglab.engine import train_members
    from reglab.study.executor import LocalExecutor

    if isinstance(study.executor, LocalExecutor):
        train_members(members, data, device=device, memory_budget_mb=study.memory_budget_mb,
                      on_result=on_result, on_epoch_end=on_epoch_end)  # fmt: skip
        return
    hook = {} if on_epoch_end is None else {"on_epoch_end": on_epoch_end}
    study.executor.run([members], data, device=device, memory_budget_mb=study.memory_budget_mb,
                       on_result=on_result, **hook)  # fmt: skip


def _choice(
    rows: Sequence[TrialRow],
    best: TrialRow | None,
    edges: Sequence[str],
    ties: int,
    top: TrialRow | None = None,
) -> dict[str, Any]:
    """What one search chose (``best``: the trial retrained), as stored in the study's
    metadata; ``top``, the trial with the best inner mean, is named too when it differs."""
    other = {}
    if top is not None and best is not None and top.number != best.number:
        other = {"best_trial": top.number, "best_inner_score": top.value}
    return other | {
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


def run_tuned(
    study: Any,
    plan: Any,
    store: Store,
    started: float,
    *,
    progress: Callable[[int, int], None] | None = None,
    on_start: Callable[[Any, int], None] | None = None,
    on_config_change: str = "error",
    on_wait: Callable[[int], None] | None = None,
    on_wait_units: Callable[[int], None] | None = None,
    lease_s: float = DEFAULT_LEASE_S,
    poll_s: float = 1.0,
) -> Any:
    """:meth:`Study.run <reglab.study.run.Study.run>` for a tuned study: :func:`run_nested`,
    the reference rows, the timings; returns the analyzed :class:`StudyResult`. ``progress``
    gets the trials finished over all searches and their target after each round; the waits,
    the lease and the polling are :func:`run_nested`'s."""
    import time

    from reglab.study.reference import store_references
    from reglab.study.results import load_result

    if on_start is not None:  # the network members stored (not the reference rows)
        names = {s.name for s in plan.strategies}
        stored = store.load_members(plan.name, with_curves=False, with_details=False)
        on_start(plan, sum(r.strategy in names for r in stored))
    store.set_status(plan.name, "running")
    try:
        tuning = run_nested(study, plan.dataset, store, plan, on_round=progress,
                            on_config_change=on_config_change, on_wait=on_wait,
                            on_wait_units=on_wait_units, lease_s=lease_s,
                            poll_s=poll_s)  # fmt: skip
        store_references(plan, store, study.seed)
    except BaseException:
        store.set_status(plan.name, "interrupted")
        raise
    store.update_metadata(
        plan.name,
        {
            "tuning": tuning,
            "strategy_parts": strategy_parts_of(plan.strategies, study.tune_ranges),
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
