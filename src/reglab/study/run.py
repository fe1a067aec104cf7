"""Run a study: strategies × outer splits → members, trained by the engine, kept in the store.

A :class:`Study` is a runner with scikit-learn's contract: ``__init__`` stores its arguments
unchanged, :meth:`Study.run` validates them and does the work. The protocol (DESIGN §3):

* the outer splits give the test scores; early stopping uses an inner validation split carved
  from each outer training part, never the test part;
* imputation, one-hot encoding and standardization are fit on each outer training part only
  (the category vocabulary, i.e. which one-hot columns exist, comes from the whole table so all
  splits share one architecture);
* every seed derives from one root seed; all strategies on a split share its member seed
  (same initial weights and batch order), so paired comparisons see less noise;
* each finished member is written to the store at once, keyed by a content hash, so a re-run
  of an interrupted study trains only what is missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from reglab._device import resolve_device
from reglab._seeding import derive
from reglab._validation import (
    Problems,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    message,
)
from reglab.data.load import Dataset
from reglab.data.preprocess import Preprocessor, check_encoded_size
from reglab.engine._checks import task_problem
from reglab.engine._checks import validate as validate_members
from reglab.engine.plan import available_memory, check_budget, check_memory
from reglab.engine.spec import (
    ACTIVATIONS,
    BLOCK_ORDERS,
    Architecture,
    MemberSpec,
    Strategy,
    TrainConfig,
)
from reglab.engine.strengths import check_strategy
from reglab.errors import ConfigError, StoreError
from reglab.store import Store
from reglab.store.claims import DEFAULT_LEASE_S, new_owner
from reglab.store.records import MemberRecord
from reglab.study.executor import Executor, LocalExecutor
from reglab.study.reference import (
    ReferenceModel,
    parse_references,
    reference_models,
    store_references,
)
from reglab.study.results import StudyResult, load_result
from reglab.study.splits import Split, SplitPlace, SplitPlan
from reglab.study.strategies import parts, resolve_strategies

MODELS = ("auto", "mlp", "cnn", "rnn")
"""The model families a study builds (``auto``: the default for the data,
:mod:`reglab.study.models`; ``cnn``: images, or sequences with a 1-D convolution over time;
``rnn``, or ``rnn?cell=gru``: sequences only)."""

__all__ = ["Study", "StudyPlan", "default_study_name", "load_result", "to_record"]

Progress = Callable[[int, int], None]

MAX_EPOCHS = 100_000
"""The most ``epochs`` a study accepts (each member keeps a curve point per epoch)."""
MAX_SPLITS = 10_000
"""The most outer splits (``n_splits · n_repeats``): each gets its own encoded input table."""
MAX_MEMBERS = 100_000
"""The most members (strategies × splits) a study plans."""


def _model_family(model: Any) -> Any:
    """``"rnn?cell=gru"`` → ``"rnn"`` (options checked); other models as they are."""
    if isinstance(model, str) and model.startswith("rnn"):
        from reglab.engine.rnn import parse_model

        return parse_model(model)[0]
    return model


def default_study_name(dataset: Dataset, config: dict[str, Any]) -> str:
    """``<data name>-<6 hex of the config hash>``: the same command resumes the same study."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    return f"{dataset.name}-{digest.hexdigest()[:6]}"


class Study:
    """Cross-validated comparison of regularization strategies on one data set.

    Args:
        strategies: Anything :func:`~reglab.study.strategies.resolve_strategies` accepts
            (``None`` → the default presets; grammar text; a file path; Strategy objects).
        name: Study name in the store (default: data name + config hash).
        hidden, activation, block_order: The MLP (batch norm comes from each strategy).
        model: ``"auto"`` (the data's default: ``cnn`` for images, ``rnn`` for sequences,
            ``mlp`` for tables; :mod:`reglab.study.models`), ``"mlp"``, ``"cnn"`` (LeNet-5's
            conv blocks on images, 1-D conv blocks over time on sequences, then ``hidden``)
            or ``"rnn"`` / ``"rnn?cell=gru"`` (sequences; ``hidden`` the recurrent units).
        epochs, batch_size, lr, optimizer: Training set-up.
        early_stopping, patience, min_delta: Early stopping on the inner validation split.
        method, n_splits, n_repeats, test_size, val_fraction, seed: The split protocol
            (:class:`~reglab.study.splits.SplitPlan`); without early stopping no validation
            rows are carved out.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        memory_budget_mb: Bound on one stack's memory; larger studies run in chunks.
        executor: Where the chunks train (:class:`~reglab.study.executor.Executor`; default
            :class:`~reglab.study.executor.LocalExecutor`, this process).
        reference: Reference rows fit on the same splits and inputs
            (:mod:`reglab.study.reference`): ``"linear"`` (default), ``"boosting"``, both
            (``"linear,boosting"``) or ``"none"``.
        tune: Trials per family and outer split for a nested comparison of tuned families
            (:mod:`reglab.study.nested`); ``None`` (default) trains the strengths given.
        tune_cv, tune_batch: The inner folds of each outer training part, and the trials of a
            search asked and trained together per round.
        tune_ranges: Ranges replacing the registry's (``"dropout=0:0.6,l2=1e-6:1e-2"``).
        tune_choose: Which trial of a search is retrained: ``"best"`` (default, the best inner
            mean) or ``"1se"`` (the most regularized within one standard error of it,
            :mod:`reglab.study.tune_choose`).
        robust_eps: When > 0, every classification member is also scored for
            ``robust_accuracy``: its test accuracy under a ``robust_steps``-step PGD attack of
            that ε on the numeric inputs (:mod:`reglab.engine.robust`). Off by default (it
            costs ``robust_steps`` forward and backward passes over the test rows).
    """

    def __init__(
        self,
        strategies: Any = None,
        *,
        name: str | None = None,
        hidden: Sequence[int] = (64, 32),
        activation: str = "relu",
        block_order: str = "bn-act-drop",
        epochs: int = 100,
        batch_size: int = 32,
        lr: float = 1e-3,
        optimizer: str = "adam",
        early_stopping: bool = True,
        patience: int = 10,
        min_delta: float = 0.0,
        method: str = "auto",
        n_splits: int = 5,
        n_repeats: int = 1,
        test_size: float = 0.2,
        val_fraction: float = 0.2,
        seed: int = 0,
        device: str = "auto",
        memory_budget_mb: float = 1024.0,
        executor: Executor | None = None,
        model: str = "auto",
        reference: Any = "auto",
        tune: int | None = None,
        tune_cv: int = 3,
        tune_batch: int = 16,
        tune_ranges: Any = None,
        tune_choose: str = "best",
        robust_eps: float = 0.0,
        robust_steps: int = 10,
    ) -> None:
        self.strategies = strategies
        self.model = model
        self.name = name
        self.hidden = hidden
        self.activation = activation
        self.block_order = block_order
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.early_stopping = early_stopping
        self.patience = patience
        self.min_delta = min_delta
        self.method = method
        self.n_splits = n_splits
        self.n_repeats = n_repeats
        self.test_size = test_size
        self.val_fraction = val_fraction
        self.seed = seed
        self.device = device
        self.memory_budget_mb = memory_budget_mb
        self.executor: Executor = LocalExecutor() if executor is None else executor
        self.reference = reference
        self.tune = tune
        self.tune_cv = tune_cv
        self.tune_batch = tune_batch
        self.tune_ranges = tune_ranges
        self.tune_choose = tune_choose
        self.robust_eps = robust_eps
        self.robust_steps = robust_steps

    # --- planning -------------------------------------------------------------------------

    def _validate(self) -> None:
        p = Problems()
        hidden = list(self.hidden)
        if not hidden:
            p.add("Study: `hidden` must list at least one layer size; got [].")
        for h in hidden:
            p.check(check_int, "Study", "hidden", h, minimum=1)
        p.check(check_choice, "Study", "activation", self.activation, ACTIVATIONS)
        try:
            family = _model_family(self.model)
        except ConfigError as exc:
            p.add(str(exc))
        else:
            p.check(check_choice, "Study", "model", family, MODELS)
        p.check(check_choice, "Study", "block_order", self.block_order, BLOCK_ORDERS)
        p.check(check_int, "Study", "seed", self.seed, minimum=0)
        if self.name is not None and (
            not isinstance(self.name, str)
            or not self.name.strip()
            or any(not ch.isprintable() for ch in self.name)
        ):
            p.add(message("Study", "name", "a non-empty name of printable characters", self.name))
        p.check(check_positive, "Study", "memory_budget_mb", self.memory_budget_mb)
        p.check(check_choice, "Study", "device", self.device, ("auto", "cpu", "cuda"))
        _check_sizes(p, self.epochs, self.n_splits, self.n_repeats)
        if self.tune is not None:
            from reglab.study.nested import check_tune

            for problem in check_tune(
                self.tune, self.tune_cv, self.tune_batch, choose=self.tune_choose
            ):
                p.add(problem)
        p.check(check_nonnegative, "Study", "robust_eps", self.robust_eps)
        p.check(check_int, "Study", "robust_steps", self.robust_steps, minimum=1)
        p.raise_if_any()

    def _architecture(
        self, dataset: Dataset, n_in: int, n_out: int, strategy: Strategy
    ) -> Architecture:
        """The member's network: an MLP, or for ``model="cnn"`` LeNet-5's conv blocks on the
        images' shape (1-D conv blocks over the time steps of sequences) with the dense
        ``hidden`` layers after them; ``"auto"`` picks the data's default model."""
        from reglab.study.models import resolve_model

        model = resolve_model(self.model, dataset)
        common: dict[str, Any] = {
            "in_features": n_in,
            "out_features": n_out,
            "hidden": tuple(int(h) for h in self.hidden),
            "activation": self.activation,
            "batch_norm": strategy.batch_norm,
            "block_order": self.block_order,
            "task": dataset.task,
        }
        if model == "mlp":
            from reglab.engine.skip import dense_architecture

            return dense_architecture(strategy, **common)
        if _model_family(model) == "rnn":
            from reglab.engine.rnn import recurrent_architecture

            return recurrent_architecture(dataset, common, model, strategy)
        from reglab.engine.conv import ConvArchitecture, image_blocks

        if dataset.kind == "sequences":
            from reglab.engine.conv1d import sequence_conv_architecture

            return sequence_conv_architecture(dataset, common, model)
        if dataset.kind != "images" or len(dataset.shape) != 3:
            raise ConfigError(
                message("Study", "model", "'mlp' for data that are not images or sequences",
                        model)
            )  # fmt: skip
        channels, height, width = dataset.shape
        return ConvArchitecture(**common, channels=channels, height=height, width=width,
                                conv=image_blocks(height, width))  # fmt: skip

    def plan(self, dataset: Dataset) -> StudyPlan:
        """Validate everything and lay out the members (no training)."""
        self._validate()
        resolve_device(self.device, "Study")
        from reglab.study.model_techniques import model_problem
        from reglab.study.models import resolve_model

        model = resolve_model(self.model, dataset)
        chosen_strategies = self.strategies
        if chosen_strategies is None and _model_family(model) == "rnn":
            from reglab.engine.rnn import DEFAULT_STRATEGIES

            chosen_strategies = ",".join(DEFAULT_STRATEGIES)
        strategies = resolve_strategies(chosen_strategies)
        if self.tune is not None:  # each strategy is a family whose strengths are tuned
            from reglab.study.nested import families

            fams = families(strategies, self.tune_ranges)
            strategies = [dataclasses.replace(f.strategy, name=f.name) for f in fams]
        for strategy in strategies:
            strategy.dropout_rates(len(self.hidden))
            check_strategy(strategy, len(self.hidden), validation=self.early_stopping, who="Study")
            refused = task_problem(strategy, dataset.task, "Study")
            if refused is not None:
                raise ConfigError(refused)
            keys = [c.key for c in strategy.techniques]
            refused = model_problem(keys, None, model, "Study", "strategies", flag="--strategies")
            if refused is not None:
                raise ConfigError(refused)
        if self.robust_eps and dataset.task == "regression":
            raise ConfigError(
                message("Study", "robust_eps", "0 for regression (robust accuracy is a "
                        "classification score)", self.robust_eps)
            )  # fmt: skip
        # "auto": the linear rows for tables; none for images and sequences, whose pixels or
        # time steps a linear model on raw inputs reads poorly and slowly.
        chosen = self.reference
        if isinstance(chosen, str) and chosen.strip().lower() == "auto":
            chosen = "linear" if dataset.kind == "table" else "none"
        references = reference_models(parse_references(chosen), dataset.task)
        clash = sorted({s.name for s in strategies} & {r.name for r in references})
        if clash:
            raise ConfigError(
                f"Study: strategy names must differ from the reference rows' names; got "
                f"{', '.join(repr(c) for c in clash)}. Rename the strategy or use "
                "--reference none."
            )
        split_plan = SplitPlan(
            self.method,
            self.n_splits,
            self.n_repeats,
            self.test_size,
            self.val_fraction if self.early_stopping else 0.0,
            self.seed,
        )
        if self.early_stopping and split_plan.val_fraction <= 0:
            raise ConfigError(
                "Study: `val_fraction` must be > 0 when early stopping is on (it needs "
                "validation rows); got 0. Use --no-early-stopping for fixed-epoch studies."
            )
        n_splits = split_plan.n_splits * split_plan.n_repeats
        if len(strategies) * n_splits > MAX_MEMBERS:
            raise ConfigError(
                f"Study: a study must have at most {MAX_MEMBERS:,} members (strategies x "
                f"splits); got {len(strategies)} x {n_splits:,} = "
                f"{len(strategies) * n_splits:,}. Use fewer strategies, --cv or --repeats."
            )
        grouping = dataset.grouping
        splits = split_plan.split(
            dataset.y,
            dataset.task,
            class_names=dataset.classes or None,
            groups=None if grouping is None else grouping.codes,
        )
        notices = (
            split_plan.small_class_notices(
                dataset.y, dataset.task, class_names=dataset.classes or None
            )
            if grouping is None
            else [f"splits {grouping.describe()}: no group is in two of train, validation "
                  "and test"]
        )  # fmt: skip
        if self.tune is not None and grouping is not None:
            _check_inner_groups(splits, grouping.codes, self.tune_cv)
        batch_size = self.batch_size
        largest = max(len(split.train_idx) for split in splits)
        if isinstance(batch_size, int) and batch_size > largest:
            notices.append(
                f"batch size {batch_size} is larger than any training part ({largest} rows): "
                f"clipped to {largest}, i.e. full-batch training."
            )
            batch_size = largest
        train = TrainConfig(
            epochs=self.epochs,
            batch_size=batch_size,
            lr=self.lr,
            optimizer=self.optimizer,
            patience=self.patience if self.early_stopping else None,
            min_delta=self.min_delta,
        )
        budget = check_budget(self.memory_budget_mb) * 2**20
        tables = len(splits) * (1 + (self.tune_cv if self.tune is not None else 0))
        check_encoded_size(dataset, tables, budget, available_memory("cpu"))
        data, feature_names = _preprocess(dataset, splits)
        numeric = len(dataset.numeric_columns)  # the Preprocessor writes them first
        n_out = dataset.n_classes if dataset.task == "multiclass" else 1
        members: list[tuple[MemberSpec, Split]] = []
        for split in splits:
            member_seed = derive(self.seed, "split", split.split_id)
            for strategy in strategies:
                arch = self._architecture(dataset, len(feature_names), n_out, strategy)
                spec = MemberSpec(
                    arch,
                    strategy,
                    train,
                    split.train_idx,
                    split.val_idx,
                    split.test_idx,
                    seed=member_seed,
                    split_id=split.split_id,
                    numeric_features=numeric,
                    robust_eps=float(self.robust_eps),
                    robust_steps=int(self.robust_steps),
                )
                members.append((spec, split))
        if dataset.kind != "table" and members:  # say which network runs on images/sequences
            from reglab.study.models import AUTO, describe_model

            chosen = self.model is None or str(self.model).strip().lower() == AUTO
            notices.insert(0, describe_model(model, members[0][0].arch, chosen, dataset.kind))
        config: dict[str, Any] = {
            "data": {
                "name": dataset.name,
                "source": dataset.source,
                "target": dataset.target,
                "task": dataset.task,
                "rows": dataset.n_rows,
                "columns": dataset.n_features,
                "classes": list(dataset.classes),
                "inputs": len(feature_names),
                **(
                    {"kind": dataset.kind, "shape": list(dataset.shape), "scaling": dataset.scaling}
                    if dataset.kind != "table"
                    else {}
                ),
            },
            "strategies": [s.to_dict() for s in strategies],
            "model": {
                "hidden": [int(h) for h in self.hidden],
                "activation": self.activation,
                "block_order": self.block_order,
                **({"family": model} if model != "mlp" else {}),
            },
            "train": dataclasses.asdict(train),
            "splits": split_plan.get_config(),
        }
        if grouping is not None:  # another grouping is another study, never a resume
            config["splits"]["groups"] = grouping.config()
        if references:
            config["references"] = [r.config() for r in references]
        if self.tune is not None:
            from reglab.study.nested import tune_config

            tune_config(config, strategies, self.tune, self.tune_cv, self.tune_batch,
                        self.tune_ranges, self.tune_choose)  # fmt: skip
        if self.robust_eps:
            config["robust"] = {"eps": float(self.robust_eps), "steps": int(self.robust_steps)}
        name = self.name or default_study_name(dataset, config)
        specs = [spec for spec, _ in members]
        _check_runs(specs)
        validate_members(specs, data, self.memory_budget_mb, None)
        check_memory(specs, data, self.memory_budget_mb, device=self.device)
        return StudyPlan(
            name,
            dataset,
            strategies,
            splits,
            members,
            data,
            feature_names,
            config,
            tuple(notices),
            tuple(references),
        )

    # --- running --------------------------------------------------------------------------

    def run(
        self,
        dataset: Dataset,
        store: Store,
        *,
        progress: Progress | None = None,
        on_config_change: str = "error",
        on_start: Callable[[StudyPlan, int], None] | None = None,
        on_wait: Callable[[int], None] | None = None,
        plan: StudyPlan | None = None,
        lease_s: float = DEFAULT_LEASE_S,
        poll_s: float = 1.0,
        on_wait_units: Callable[[int], None] | None = None,
    ) -> StudyResult:
        """Train every member not yet in ``store`` and return the study's results.

        Everything is validated before the store is touched. Each finished member is saved at
        once, so an interrupted run keeps what finished and a re-run (same study name and
        config) trains only what is missing. Members are claimed before they are trained
        (:mod:`reglab.store.claims`): several processes running the same study on one store
        divide the members between them, each member is trained once, and a member left
        ``running`` by a process that is gone is taken over. ``on_start`` is called with the
        plan and the number of members already stored before training; ``on_wait`` with the
        number of members that other processes are still training, while this one waits for
        them. ``plan`` is this study's :meth:`plan` for ``dataset`` when already made. Sets
        ``trained_`` (members this call trained) and ``reused_`` (already stored). On a Ray
        executor with a shared database (PostgreSQL), the Ray tasks claim and write their
        members themselves and this process only counts them (:mod:`reglab.study.ray_writes`).
        A nested study (``tune``) is shared the same way, by whole searches
        (:mod:`reglab.study.nested_claims`); ``on_wait_units`` gets the number of searches
        other processes hold while this one waits for them.
        """
        from reglab.engine.plan import plan_chunks

        started = now()
        if plan is None or plan.dataset is not dataset:
            plan = self.plan(dataset)
        device = resolve_device(self.device, "Study").type
        metadata = {
            "environment": environment(),
            "data": plan.describe_data(),
            "protocol": {
                "splits": len(plan.splits),
                "method": plan.config["splits"]["method"],
                "validation": "inner split of each outer training part"
                if self.early_stopping
                else "none (fixed epochs)",
                "root seed": self.seed,
                **(
                    {"groups": plan.dataset.grouping.describe()}
                    if plan.dataset.grouping is not None
                    else {}
                ),
            },
            "device": device,
            "strategy_parts": {s.name: list(parts(s)) for s in plan.strategies},
        }
        store.create_study(
            plan.name,
            plan.config,
            metadata,
            feature_names=plan.feature_names,
            on_config_change=on_config_change,
        )
        if self.tune is not None:
            from reglab.study.nested_run import run_tuned

            return run_tuned(self, plan, store, started, progress=progress, on_start=on_start,
                             on_config_change=on_config_change, on_wait=on_wait,
                             on_wait_units=on_wait_units, lease_s=lease_s,
                             poll_s=poll_s)  # fmt: skip
        finished = store.done_keys(plan.name, include_failed=True)
        by_key = {
            key: (spec, split)
            for spec, split in plan.members
            if (key := spec.key()) not in finished
        }
        todo = list(by_key)
        self.reused_ = len(plan.members) - len(todo)
        self.trained_ = 0
        if on_start is not None:
            on_start(plan, self.reused_)
        owner = new_owner()
        if todo:
            store.set_status(plan.name, "running")
        units = [
            [todo[i] for i in chunk]
            for chunk in plan_chunks(
                [spec for spec, _ in by_key.values()], plan.data, self.memory_budget_mb
            )
        ]

        counts = {"mine": 0, "others": 0}

        def save(result: Any) -> None:
            spec, split = by_key[result.key]
            store.save_member(plan.name, to_record(result, spec, split))
            counts["mine"] += 1
            self.trained_ = counts["mine"]
            if progress is not None:
                progress(counts["mine"] + counts["others"], len(todo))

        def claimed(units: list[list[str]]) -> Iterator[list[MemberSpec]]:
            """Each unit's members this process could claim, claimed as they are drawn; units
            other processes hold are retried every ``poll_s`` until they are finished."""
            while units:
                finished = store.done_keys(plan.name, include_failed=True)
                counts["others"] = len(finished & set(by_key)) - counts["mine"]
                waiting: list[list[str]] = []
                for unit in units:
                    keys = [k for k in unit if k not in finished]
                    mine = store.claim(plan.name, keys, owner, lease_s=lease_s) if keys else []
                    if mine:
                        yield [by_key[k][0] for k in mine]
                    held = set(mine)
                    if any(k not in held for k in keys):
                        waiting.append([k for k in keys if k not in held])
                units = waiting
                if units:
                    if on_wait is not None:
                        on_wait(sum(len(u) for u in units))
                    time.sleep(poll_s)

        from reglab.study.ray_writes import train_writing, workers_write

        try:
            if workers_write(self.executor, store):  # the workers claim, write and release
                self.trained_ = train_writing(
                    self.executor, store, plan, by_key, units, device=device,
                    memory_budget_mb=self.memory_budget_mb, lease_s=lease_s, poll_s=poll_s,
                    progress=progress, on_wait=on_wait,
                )  # fmt: skip
            else:
                with _Heartbeat(store, plan.name, owner, lease_s):
                    self.executor.run(
                        claimed(units),
                        plan.data,
                        device=device,
                        memory_budget_mb=self.memory_budget_mb,
                        on_result=save,
                    )
            store_references(plan, store, self.seed)
        except BaseException:
            store.release(plan.name, owner)
            store.set_status(plan.name, "interrupted")
            raise
        wall = now() - started
        store.update_metadata(
            plan.name,
            {
                "timings": {
                    "last run wall s": round(wall, 3),
                    "members trained": self.trained_,
                    "members reused from the store": self.reused_,
                    "last run": "planning, preprocessing, training and storing",
                }
            },
        )
        result = load_result(store, plan.name)
        store.set_status(plan.name, "failed" if result.all_failed else "done")
        return result


class _Heartbeat:
    """Renews ``owner``'s claims every third of the lease, in a background thread."""

    def __init__(self, store: Store, study: str, owner: str, lease_s: float) -> None:
        self._args = (store, study, owner, lease_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="reglab-heartbeat", daemon=True)

    def _beat(self) -> None:
        store, study, owner, lease_s = self._args
        while not self._stop.wait(lease_s / 3):
            with contextlib.suppress(StoreError):  # a busy store: the next beat retries
                store.heartbeat(study, owner, lease_s=lease_s)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def to_record(result: Any, spec: MemberSpec, split: Split | SplitPlace) -> MemberRecord:
    """An engine result plus the member's place in the study → a stored record."""
    return MemberRecord(
        key=result.key,
        strategy=spec.strategy.name,
        split_id=split.split_id,
        seed=spec.seed,
        n_train=split.n_train,
        n_test=split.n_test,
        status="done" if result.status == "ok" else "failed",
        error=result.error,
        strategy_config=spec.strategy.to_dict(),
        config={"arch": dataclasses.asdict(spec.arch), "lr": spec.lr},
        repeat=split.repeat,
        fold=split.fold,
        curves=dict(result.curves),
        best_epoch=result.best_epoch,
        stopped_epoch=result.stopped_epoch,
        epochs_run=result.epochs_run,
        test_scores=dict(result.test_scores),
        train_scores=dict(result.train_scores),
        sparsity=dict(result.sparsity),
        weight_hist=dict(result.weight_hist),
        feature_norms=None if result.feature_norms is None else tuple(result.feature_norms),
        filters=result.filters,
        test_pred=result.test_pred,
        wall_s=float(result.wall_s),
    )


@dataclasses.dataclass(frozen=True)
class StudyPlan:
    """Everything a run needs, computed before training starts."""

    name: str
    dataset: Dataset
    strategies: list[Any]
    splits: list[Split]
    members: list[tuple[MemberSpec, Split]]
    data: dict[int, tuple[np.ndarray, np.ndarray]]
    feature_names: tuple[str, ...]
    config: dict[str, Any]
    notices: tuple[str, ...] = ()
    references: tuple[ReferenceModel, ...] = ()

    def describe_data(self) -> dict[str, Any]:
        ds = self.dataset
        return {
            "data set": ds.name,
            "source": ds.source,
            "target": ds.target,
            "task": ds.task,
            **({"kind": ds.kind} if ds.kind != "table" else {}),
            "shape": ds.described_shape,
            "inputs after encoding": len(self.feature_names),
            "classes": ", ".join(ds.classes) if ds.classes else "(regression)",
            "dropped columns": ", ".join(f"{c} ({why})" for c, why in ds.dropped_columns) or "none",
            "notices": " ".join((*ds.notices, *self.notices)) or "none",
            **(
                {"strongest column": _strongest(ds.strongest_column, ds.task)}
                if ds.strongest_column is not None
                else {}
            ),
            "preprocessing": _PREPROCESSING[ds.scaling],
        }


_PREPROCESSING = {
    "column": "fit on each outer training part: median imputation + standardization "
    "(numeric), mode imputation + one-hot (categorical)",
    "range": "fit on each outer training part: values scaled to [0, 1] by the part's minimum "
    "and maximum",
    "channel": "fit on each outer training part: standardization per image channel or "
    "sequence feature",
}


def _strongest(column: tuple[str, float], task: str) -> str:
    """How well the best single column predicts the target alone, in words (balanced accuracy,
    or R² for regression, on held-out rows; :func:`reglab.data._schema.column_scores`)."""
    from reglab.data._schema import ALONE_PREDICTS

    name, score = column
    shown = f"R² {score:.2f}" if task == "regression" else f"balanced accuracy {score:.1%}"
    if score >= ALONE_PREDICTS:
        return f"{name!r} alone predicts the target almost perfectly ({shown} on held-out rows)"
    return (
        f"no single column predicts the target alone (the strongest, {name!r}, reaches {shown} "
        "on held-out rows)"
    )


def _check_sizes(p: Problems, epochs: Any, n_splits: Any, n_repeats: Any) -> None:
    """Refuse sizes that would exhaust memory or time before any is allocated (the types and
    lower bounds are checked where the values are used)."""

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if whole(epochs) and epochs > MAX_EPOCHS:
        p.add(f"Study: `epochs` (--epochs) must be at most {MAX_EPOCHS:,}; got {epochs:,}.")
    if whole(n_splits) and whole(n_repeats) and n_splits * n_repeats > MAX_SPLITS:
        p.add(
            f"Study: `n_splits` x `n_repeats` (--cv x --repeats) must be at most "
            f"{MAX_SPLITS:,} splits; got {n_splits:,} x {n_repeats:,} = {n_splits * n_repeats:,}."
        )


def _check_inner_groups(splits: Sequence[Split], codes: np.ndarray, tune_cv: int) -> None:
    """Refuse grouped nested tuning whose inner folds would outnumber an outer training
    part's groups, before anything is stored."""
    fewest = min(len(np.unique(codes[np.concatenate([s.train_idx, s.val_idx])])) for s in splits)
    if fewest < tune_cv:
        raise ConfigError(
            f"Study: `tune_cv` (--tune-cv) must be at most the groups of every outer training "
            f"part (fewest {fewest}, --groups); got {tune_cv}."
        )


def _check_runs(specs: Sequence[MemberSpec]) -> None:
    """A strategy that cannot run the study's epochs (an SWA start after the last epoch, more
    snapshot cycles than epochs) or whose technique does not act on its network
    (``residual+sparse-vd``) is refused naming the strategy and the option, before the
    engine's own check would name member indices."""
    from reglab.engine.family import family_of
    from reglab.engine.streams import batch_pattern
    from reglab.techniques.registry import get

    seen: set[str] = set()
    for spec in specs:
        if spec.strategy.name in seen:
            continue
        seen.add(spec.strategy.name)
        family = family_of(spec.arch).name
        for config in spec.strategy.techniques:
            families = get(config.key).families
            if families and family not in families:
                raise ConfigError(
                    f"Study: strategy {spec.strategy.name!r} (--strategies): `{config.key}` acts "
                    f"on {' or '.join(families)} networks only, and this strategy makes a "
                    f"{family!r} one."
                )
            run = get(config.key).run_problem(
                config.values, spec.train.epochs, batch_pattern(spec)[0]
            )
            if run is not None:
                raise ConfigError(
                    f"Study: strategy {spec.strategy.name!r} (--strategies): {run.rstrip('.')}."
                )


def _preprocess(
    dataset: Dataset, splits: Sequence[Split]
) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], tuple[str, ...]]:
    """Per split: fit on the outer training part (train + validation rows), transform all rows.

    The one-hot vocabulary is fixed over all rows so every split has the same input columns
    (and the members of all splits can share one stack); every statistic is fit per split.
    """
    data: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    names: tuple[str, ...] = ()
    for split in splits:
        rows = np.concatenate([split.train_idx, split.val_idx])
        pre = Preprocessor.for_dataset(dataset, fixed_categories=True).fit(dataset.X, rows)
        data[split.split_id] = (np.ascontiguousarray(pre.transform(dataset.X)), dataset.y)
        names = pre.feature_names_out
    return data, names


def environment() -> dict[str, Any]:
    """Versions and hardware, for the study's metadata."""
    import sklearn
    import torch

    from reglab._version import VERSION

    return {
        "reglab": VERSION,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
        "cpu count": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }


def now() -> float:
    return time.perf_counter()
