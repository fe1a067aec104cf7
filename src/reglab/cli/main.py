"""The ``reglab`` command: a thin adapter over the Python API.

Usage and input errors exit 2 with one line, failures exit 1, tracebacks only with ``--debug``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from reglab.cli._errors import EXIT_USAGE, fail, guarded

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Which regularization should my neural network use? Evidence, fast.",
)

DEFAULT_STORE = "reglab.db"

StoreOpt = Annotated[
    str,
    typer.Option(
        "--store",
        help="SQLite file or SQLAlchemy URL; postgresql://user@host/db for a store that "
        "drivers on several machines share.",
    ),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
WarmStartOpt = Annotated[
    bool,
    typer.Option(
        "--warm-start", help="Start each strength from the previous one's weights (glmnet)."
    ),
]
WarmEpochsOpt = Annotated[
    int | None, typer.Option(help="Epochs of each warm-started strength (default: --epochs).")
]
ExecutorOpt = Annotated[
    str, typer.Option("--executor", help="Where members train: local, or ray (a Ray cluster).")
]
AddressOpt = Annotated[
    str | None,
    typer.Option("--address", help="HOST:PORT of the Ray cluster's head (--executor ray)."),
]
GroupsOpt = Annotated[
    str | None,
    typer.Option(
        "--groups",
        help="Rows that must stay together (repeated measures of one subject): COL, or "
        "COL:prefix=SEP for the part of COL's values before the last SEP (MouseID:prefix=_). "
        "No group is in two of train, validation and test; COL is not a feature.",
    ),
]
ModelOpt = Annotated[
    str,
    typer.Option(
        help="auto (cnn for images, rnn for sequences, else mlp); mlp; cnn (2-D on images, "
        "1-D over time on sequences); rnn (rnn?cell=gru a GRU), as for bench."
    ),
]


@app.command()
def bench(
    data: Annotated[str, typer.Argument(help=".csv/.parquet path or builtin:NAME")],
    target: Annotated[str | None, typer.Option(help="Target column.")] = None,
    task: Annotated[
        str | None, typer.Option(help="multiclass, binary, regression (default: inferred).")
    ] = None,
    drop: Annotated[
        str | None, typer.Option(help="Comma-separated feature columns to leave out.")
    ] = None,
    groups: GroupsOpt = None,
    strategies: Annotated[
        str | None,
        typer.Option(help="Comma-separated presets or terms, e.g. none,l2=1e-4,dropout=0.3+l2."),
    ] = None,
    strategy_file: Annotated[
        Path | None, typer.Option(help="YAML/JSON strategy file (full control).")
    ] = None,
    cv: Annotated[int, typer.Option(help="Outer folds (or draws for shuffle/bootstrap).")] = 5,
    repeats: Annotated[int, typer.Option(help="Repetitions of the outer splits.")] = 1,
    split: Annotated[
        str,
        typer.Option(
            help="auto, stratified-kfold, kfold, repeated-kfold, repeated-stratified-kfold, "
            "shuffle, bootstrap."
        ),
    ] = "auto",
    test_size: Annotated[float, typer.Option(help="Test fraction for shuffle splits.")] = 0.2,
    val_fraction: Annotated[
        float, typer.Option(help="Inner validation fraction for early stopping.")
    ] = 0.2,
    seed: Annotated[int, typer.Option(help="Root seed of every random choice.")] = 0,
    hidden: Annotated[str, typer.Option(help="Hidden layer sizes, e.g. 50,25.")] = "64,32",
    model: Annotated[
        str,
        typer.Option(
            help="auto: the data's default (cnn for images, rnn for sequences, mlp for "
            "tables); mlp; cnn (images: LeNet-5's conv blocks, then --hidden; sequences: 1-D "
            "conv blocks over time); rnn for sequences (an LSTM, rnn?cell=gru a GRU; --hidden "
            "gives its layers' units)."
        ),
    ] = "auto",
    activation: Annotated[str, typer.Option()] = "relu",
    block_order: Annotated[str, typer.Option(help="bn-act-drop or act-bn-drop.")] = "bn-act-drop",
    epochs: Annotated[int, typer.Option()] = 100,
    batch_size: Annotated[int, typer.Option()] = 32,
    lr: Annotated[float, typer.Option()] = 1e-3,
    optimizer: Annotated[str, typer.Option(help="adam, adamw or sgd.")] = "adam",
    early_stopping: Annotated[
        bool, typer.Option(help="Early stopping on the inner validation split.")
    ] = True,
    patience: Annotated[int, typer.Option()] = 10,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    memory_budget_mb: Annotated[
        float,
        typer.Option(help="Memory bound per stack in MiB (at least 1); checked before training."),
    ] = 1024.0,
    name: Annotated[str | None, typer.Option(help="Study name (default: derived).")] = None,
    tune: Annotated[
        int | None,
        typer.Option(
            help="Nested: tune each strategy family's strengths with N trials on inner folds "
            "of every outer training part, then compare the tuned families."
        ),
    ] = None,
    tune_cv: Annotated[int, typer.Option(help="Inner folds for --tune.")] = 3,
    tune_batch: Annotated[int, typer.Option(help="Trials per search per round (--tune).")] = 16,
    tune_range: Annotated[
        str | None, typer.Option(help="Search ranges for --tune, e.g. dropout=0:0.6,l2=1e-6:1e-2.")
    ] = None,
    tune_choose: Annotated[
        str,
        typer.Option(
            help="Trial retrained by --tune: best (best inner mean) or 1se (the most "
            "regularized within one standard error of it)."
        ),
    ] = "best",
    reference: Annotated[
        str,
        typer.Option(
            help="Reference rows fit on the same splits: linear (L1/L2/elastic-net logistic or "
            "linear regression, strengths by inner CV), boosting, both (linear,boosting) or "
            "none; auto: linear for tables, none for images and sequences."
        ),
    ] = "auto",
    robust_eps: Annotated[
        float,
        typer.Option(
            help="Also score test accuracy under a 10-step PGD attack of this ε on "
            "the numeric inputs (robust_accuracy); 0: off."
        ),
    ] = 0.0,
    store: StoreOpt = DEFAULT_STORE,
    on_config_change: Annotated[
        str,
        typer.Option(
            help="When --name names a stored study of another config: error, extend (keep its "
            "members, add the new ones) or replace (start it over)."
        ),
    ] = "error",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results as JSON.")] = None,
    report: Annotated[
        Path | None, typer.Option(help="HTML report path (default: <study>.html).")
    ] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Write no HTML report.")] = False,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Cross-validate regularization strategies on DATA and rank them."""
    from reglab.cli.bench import run_bench
    from reglab.study.ray_executor import executor_for

    guarded(
        lambda: run_bench(
            data,
            target=target,
            task=task,
            drop=[c.strip() for c in drop.split(",") if c.strip()] if drop else [],
            groups=groups,
            strategies=strategies,
            strategy_file=strategy_file,
            study_options={
                "n_splits": cv,
                "n_repeats": repeats,
                "method": split,
                "test_size": test_size,
                "val_fraction": val_fraction,
                "seed": seed,
                "hidden": hidden,
                "model": model,
                "activation": activation,
                "block_order": block_order,
                "epochs": epochs,
                "batch_size": batch_size,
                "lr": lr,
                "optimizer": optimizer,
                "early_stopping": early_stopping,
                "patience": patience,
                "device": device,
                "memory_budget_mb": memory_budget_mb,
                "executor": executor_for(executor, address, "bench"),
                "name": name,
                "reference": reference,
                **(
                    {
                        "tune": tune,
                        "tune_cv": tune_cv,
                        "tune_batch": tune_batch,
                        "tune_ranges": tune_range,
                        "tune_choose": tune_choose,
                    }
                    if tune is not None
                    else {}
                ),
                "robust_eps": robust_eps,
            },
            store=store,
            json_path=json_path,
            report=report,
            with_report=not no_report,
            on_config_change=on_config_change,
        ),
        debug=debug,
    )


@app.command()
def advise(
    data: Annotated[str, typer.Argument(help=".csv/.parquet path or builtin:NAME")],
    target: Annotated[str | None, typer.Option(help="Target column.")] = None,
    task: Annotated[
        str | None, typer.Option(help="multiclass, binary, regression (default: inferred).")
    ] = None,
    drop: Annotated[
        str | None, typer.Option(help="Comma-separated feature columns to leave out.")
    ] = None,
    groups: GroupsOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the samples, folds and permutations.")] = 0,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the advice as JSON.")
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Measure DATA (size, balance, correlated groups, irrelevant inputs, signal, missing
    values) and short-list the strategies to check, with the reglab bench command."""
    from reglab.cli.advise import run_advise

    guarded(
        lambda: run_advise(
            data,
            target=target,
            task=task,
            drop=[c.strip() for c in drop.split(",") if c.strip()] if drop else [],
            groups=groups,
            seed=seed,
            json_path=json_path,
        ),
        debug=debug,
    )


@app.command()
def path(
    data: Annotated[str, typer.Argument(help=".csv/.parquet path or builtin:NAME")],
    target: Annotated[str | None, typer.Option(help="Target column.")] = None,
    technique: Annotated[
        str,
        typer.Option(
            help="l1, l2, elasticnet, weight-decay, dropout, gaussian-dropout, input-dropout, "
            "dropconnect or maxnorm."
        ),
    ] = "l2",
    grid: Annotated[
        str | None,
        typer.Option(
            help="LO:HI:N (log-spaced for penalties and maxnorm, evenly spaced for rates) or a "
            "comma list; default per technique, e.g. 1e-6:1e-1:11 (l2), 0:0.7:8 (dropout)."
        ),
    ] = None,
    l1_ratio: Annotated[
        float | None, typer.Option(help="Elastic net's l1_ratio (default 0.5).")
    ] = None,
    proximal: Annotated[
        bool, typer.Option("--proximal", help="L1 by soft-thresholding (exact zeros).")
    ] = False,
    metric: Annotated[
        str | None,
        typer.Option(help="Score to choose by (default: accuracy, or rmse for regression)."),
    ] = None,
    warm_start: WarmStartOpt = False,
    warm_epochs: WarmEpochsOpt = None,
    task: Annotated[
        str | None, typer.Option(help="multiclass, binary, regression (default: inferred).")
    ] = None,
    drop: Annotated[
        str | None, typer.Option(help="Comma-separated feature columns to leave out.")
    ] = None,
    groups: GroupsOpt = None,
    cv: Annotated[int, typer.Option(help="Outer folds (or draws for shuffle/bootstrap).")] = 5,
    repeats: Annotated[int, typer.Option(help="Repetitions of the outer splits.")] = 1,
    split: Annotated[str, typer.Option(help="As for bench.")] = "auto",
    val_fraction: Annotated[
        float, typer.Option(help="Inner validation fraction for early stopping.")
    ] = 0.2,
    seed: Annotated[int, typer.Option(help="Root seed of every random choice.")] = 0,
    hidden: Annotated[str, typer.Option(help="Hidden layer sizes, e.g. 50,25.")] = "64,32",
    model: ModelOpt = "auto",
    epochs: Annotated[int, typer.Option()] = 100,
    batch_size: Annotated[int, typer.Option()] = 32,
    lr: Annotated[float, typer.Option()] = 1e-3,
    optimizer: Annotated[str, typer.Option(help="adam, adamw or sgd.")] = "adam",
    early_stopping: Annotated[
        bool, typer.Option(help="Early stopping on the inner validation split.")
    ] = True,
    patience: Annotated[int, typer.Option()] = 10,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    memory_budget_mb: Annotated[
        float, typer.Option(help="Memory bound per stack in MiB (at least 1).")
    ] = 1024.0,
    name: Annotated[str | None, typer.Option(help="Study name (default: derived).")] = None,
    store: StoreOpt = DEFAULT_STORE,
    on_config_change: Annotated[
        str, typer.Option(help="error, extend or replace (as for bench).")
    ] = "error",
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the path as JSON.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="HTML report path (default: <study>.html).")
    ] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Write no HTML report.")] = False,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Cross-validate one technique at every strength of a grid: the CV curve, the best
    strength and the one-standard-error choice."""
    from reglab.cli.path import run_path
    from reglab.study.ray_executor import executor_for

    guarded(
        lambda: run_path(
            data,
            target=target,
            task=task,
            drop=[c.strip() for c in drop.split(",") if c.strip()] if drop else [],
            groups=groups,
            technique=technique,
            grid=grid,
            l1_ratio=l1_ratio,
            proximal=proximal,
            metric=metric,
            study_options={
                **({"warm_start": True} if warm_start else {}),
                **({"warm_epochs": warm_epochs} if warm_epochs is not None else {}),
                "n_splits": cv,
                "n_repeats": repeats,
                "method": split,
                "val_fraction": val_fraction,
                "seed": seed,
                "hidden": hidden,
                "model": model,
                "epochs": epochs,
                "batch_size": batch_size,
                "lr": lr,
                "optimizer": optimizer,
                "early_stopping": early_stopping,
                "patience": patience,
                "device": device,
                "memory_budget_mb": memory_budget_mb,
                "executor": executor_for(executor, address, "path"),
                "name": name,
            },
            store=store,
            json_path=json_path,
            report=report,
            with_report=not no_report,
            on_config_change=on_config_change,
        ),
        debug=debug,
    )


@app.command()
def tune(
    data: Annotated[str, typer.Argument(help=".csv/.parquet path or builtin:NAME")],
    target: Annotated[str | None, typer.Option(help="Target column.")] = None,
    strategy: Annotated[
        str, typer.Option(help="Techniques joined by '+' (dropout+l2), or cocktail (all).")
    ] = "dropout+l2",
    trials: Annotated[int, typer.Option(help="Trials to finish.")] = 100,
    range_: Annotated[
        str | None,
        typer.Option("--range", help="Ranges to search, e.g. dropout=0:0.6,l2=1e-6:1e-2."),
    ] = None,
    sampler: Annotated[str, typer.Option(help="tpe, random, grid, qmc or cmaes.")] = "tpe",
    pruner: Annotated[str, typer.Option(help="median or none.")] = "median",
    batch_trials: Annotated[int, typer.Option(help="Trials trained together per round.")] = 16,
    metric: Annotated[
        str | None, typer.Option(help="Score to optimize (default: accuracy, or rmse).")
    ] = None,
    task: Annotated[str | None, typer.Option(help="multiclass, binary, regression.")] = None,
    drop: Annotated[str | None, typer.Option(help="Comma-separated columns to leave out.")] = None,
    groups: GroupsOpt = None,
    cv: Annotated[int, typer.Option(help="Outer folds.")] = 5,
    split: Annotated[str, typer.Option(help="As for bench.")] = "auto",
    val_fraction: Annotated[float, typer.Option(help="Inner validation fraction.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Root seed (splits, weights, sampler).")] = 0,
    hidden: Annotated[str, typer.Option(help="Hidden layer sizes, e.g. 50,25.")] = "64,32",
    model: ModelOpt = "auto",
    epochs: Annotated[int, typer.Option()] = 100,
    batch_size: Annotated[int, typer.Option()] = 32,
    lr: Annotated[float, typer.Option()] = 1e-3,
    optimizer: Annotated[str, typer.Option(help="adam, adamw or sgd.")] = "adam",
    early_stopping: Annotated[bool, typer.Option(help="Early stopping (inner split).")] = True,
    patience: Annotated[int, typer.Option()] = 10,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    memory_budget_mb: Annotated[float, typer.Option(help="Memory bound per stack (MiB).")] = 1024.0,
    name: Annotated[str | None, typer.Option(help="Study name (default: derived).")] = None,
    store: StoreOpt = DEFAULT_STORE,
    on_config_change: Annotated[str, typer.Option(help="error, extend or replace.")] = "error",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write as JSON.")] = None,
    report: Annotated[Path | None, typer.Option(help="HTML page [<study>.html].")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Write no HTML page.")] = False,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Search the strengths of a strategy's techniques with Optuna (trials x folds trained as
    stacks): the best strengths with an interval and the `reglab fit` command to train them."""
    from reglab.cli.tune import run_tune
    from reglab.study.ray_executor import executor_for

    guarded(
        lambda: run_tune(
            data,
            target=target,
            task=task,
            drop=[c.strip() for c in drop.split(",") if c.strip()] if drop else [],
            groups=groups,
            tune_options={
                "strategy": strategy,
                "ranges": range_,
                "trials": trials,
                "batch_trials": batch_trials,
                "sampler": sampler,
                "pruner": pruner,
                "metric": metric,
                "name": name,
            },
            study_options={
                "n_splits": cv,
                "method": split,
                "val_fraction": val_fraction,
                "seed": seed,
                "hidden": hidden,
                "model": model,
                "epochs": epochs,
                "batch_size": batch_size,
                "lr": lr,
                "optimizer": optimizer,
                "early_stopping": early_stopping,
                "patience": patience,
                "device": device,
                "memory_budget_mb": memory_budget_mb,
                "executor": executor_for(executor, address, "tune"),
            },
            store=store,
            json_path=json_path,
            report=report,
            with_report=not no_report,
            on_config_change=on_config_change,
        ),
        debug=debug,
    )


@app.command()
def fit(
    data: Annotated[str, typer.Argument(help=".csv/.parquet path or builtin:NAME")],
    target: Annotated[str | None, typer.Option(help="Target column.")] = None,
    strategy: Annotated[
        str | None, typer.Option(help="One strategy, e.g. dropout=0.3+l2=1e-4.")
    ] = None,
    from_study: Annotated[
        str | None,
        typer.Option(help="Train the strategy this stored study recommends, with its settings."),
    ] = None,
    store: StoreOpt = DEFAULT_STORE,
    output: Annotated[Path, typer.Option("-o", "--output", help="Model file to write.")] = Path(
        "model.reglab"
    ),
    task: Annotated[
        str | None, typer.Option(help="multiclass, binary, regression (default: inferred).")
    ] = None,
    drop: Annotated[
        str | None, typer.Option(help="Comma-separated feature columns to leave out.")
    ] = None,
    groups: GroupsOpt = None,
    hidden: Annotated[str | None, typer.Option(help="Hidden layer sizes [64,32].")] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="auto, mlp, cnn (images; 1-D on sequences) or rnn / rnn?cell=gru (sequences) "
            "[auto: cnn for images, rnn for sequences, mlp for tables]."
        ),
    ] = None,
    activation: Annotated[str | None, typer.Option(help="[relu]")] = None,
    block_order: Annotated[str | None, typer.Option(help="[bn-act-drop]")] = None,
    epochs: Annotated[int | None, typer.Option(help="[100]")] = None,
    batch_size: Annotated[int | None, typer.Option(help="[32]")] = None,
    lr: Annotated[float | None, typer.Option(help="[1e-3]")] = None,
    optimizer: Annotated[str | None, typer.Option(help="adam, adamw or sgd [adam].")] = None,
    early_stopping: Annotated[
        bool | None, typer.Option(help="Early stopping on a validation part of the data [on].")
    ] = None,
    patience: Annotated[int | None, typer.Option(help="[10]")] = None,
    val_fraction: Annotated[
        float | None, typer.Option(help="Validation fraction for early stopping [0.2].")
    ] = None,
    seed: Annotated[int, typer.Option(help="Root seed of every random choice.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    memory_budget_mb: Annotated[float, typer.Option(help="Memory bound in MiB.")] = 1024.0,
    debug: DebugOpt = False,
) -> None:
    """Train one strategy on all of DATA and save the model (settings in [] are the defaults;
    with --from-study, the study's)."""
    from reglab.cli.fit import run_fit

    guarded(
        lambda: run_fit(
            data,
            target=target,
            task=task,
            drop=[c.strip() for c in drop.split(",") if c.strip()] if drop else [],
            groups=groups,
            strategy=strategy,
            from_study=from_study,
            store=store,
            options={
                "hidden": hidden,
                "model": model,
                "activation": activation,
                "block_order": block_order,
                "epochs": epochs,
                "batch_size": batch_size,
                "lr": lr,
                "optimizer": optimizer,
                "early_stopping": early_stopping,
                "patience": patience,
                "val_fraction": val_fraction,
            },
            output=output,
            seed=seed,
            device=device,
            memory_budget_mb=memory_budget_mb,
        ),
        debug=debug,
    )


@app.command()
def select(
    data: Annotated[str, typer.Argument(help=".csv/.parquet path or builtin:NAME")],
    max_features: Annotated[
        int, typer.Option("--max-features", help="The most input features to keep.")
    ],
    target: Annotated[str | None, typer.Option(help="Target column.")] = None,
    task: Annotated[
        str | None, typer.Option(help="multiclass, binary, regression (default: inferred).")
    ] = None,
    drop: Annotated[
        str | None, typer.Option(help="Comma-separated feature columns to leave out.")
    ] = None,
    groups: GroupsOpt = None,
    grid: Annotated[
        str | None,
        typer.Option(
            help="Strengths LO:HI:N (log-spaced) or a comma list (default: group-l1 "
            "0.5:30:12, lassonet 10:3000:12)."
        ),
    ] = None,
    method: Annotated[
        str,
        typer.Option(help="group-l1 (group lasso on the first layer) or lassonet (LassoNet)."),
    ] = "group-l1",
    refit: Annotated[
        bool, typer.Option(help="Cross-validate a dense network on the selected columns.")
    ] = True,
    cv: Annotated[int, typer.Option(help="Folds of the path (selection frequency).")] = 5,
    seeds: Annotated[
        int, typer.Option(help="Member seeds per fold: frequency over folds x seeds.")
    ] = 1,
    seed: Annotated[int, typer.Option(help="Root seed of every random choice.")] = 0,
    hidden: Annotated[str, typer.Option(help="Hidden layer sizes, e.g. 64,32.")] = "64,32",
    epochs: Annotated[int, typer.Option()] = 100,
    warm_start: WarmStartOpt = False,
    warm_epochs: WarmEpochsOpt = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    output: Annotated[
        Path, typer.Option("-o", "--output", help="File for the selected column names.")
    ] = Path("selected-features.txt"),
    table: Annotated[
        Path | None, typer.Option("--table", help="CSV of every input's path statistics.")
    ] = None,
    store: StoreOpt = DEFAULT_STORE,
    debug: DebugOpt = False,
) -> None:
    """Select at most --max-features input features: a group-L1 or LassoNet path, stable over
    the splits."""
    from reglab.cli.select import run_select

    guarded(
        lambda: run_select(
            data,
            target=target,
            task=task,
            drop=[c.strip() for c in drop.split(",") if c.strip()] if drop else [],
            groups=groups,
            max_features=max_features,
            grid=grid,
            method=method,
            refit=refit,
            seeds=seeds,
            output=output,
            table_path=table,
            store=store,
            options={
                **({"warm_start": True} if warm_start else {}),
                **({"warm_epochs": warm_epochs} if warm_epochs is not None else {}),
                "n_splits": cv,
                "seed": seed,
                "hidden": hidden,
                "epochs": epochs,
                "device": device,
            },
        ),
        debug=debug,
    )


@app.command()
def predict(
    model: Annotated[Path, typer.Argument(help="Model file written by reglab fit.")],
    data: Annotated[str, typer.Argument(help=".csv/.parquet path or builtin:NAME")],
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV file to write.")] = Path(
        "predictions.csv"
    ),
    mc_samples: Annotated[
        int | None,
        typer.Option(
            "--mc-samples",
            help="MC-dropout: average this many passes with dropout on (≥ 2) and write the "
            "spread (std_*) beside the means. The model must use dropout or DropConnect.",
        ),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Predict the rows of DATA with a saved model: labels and class probabilities, or values."""
    from reglab.cli.fit import run_predict

    guarded(lambda: run_predict(model, data, output=output, mc_samples=mc_samples), debug=debug)


@app.command()
def demo(
    store: StoreOpt = DEFAULT_STORE,
    report: Annotated[Path, typer.Option(help="HTML report path.")] = Path("reglab-demo.html"),
    debug: DebugOpt = False,
) -> None:
    """Run the default strategies on the built-in digits data and write a report."""
    # Loading PyTorch takes seconds: say what is coming before it.
    typer.echo("reglab demo: the default strategies on builtin:digits, 5-fold CV; loading…",
               err=True)  # fmt: skip
    from reglab.cli.bench import run_demo

    guarded(lambda: run_demo(store=store, report=report), debug=debug)


@app.command()
def show(
    study: Annotated[str | None, typer.Argument(help="Study name (default: list studies).")] = None,
    store: StoreOpt = DEFAULT_STORE,
    debug: DebugOpt = False,
) -> None:
    """List stored studies, or print one study's ranked table and verdicts."""
    from reglab.cli.show import run_show

    guarded(lambda: run_show(study, store=store), debug=debug)


@app.command("report")
def report_cmd(
    study: Annotated[str, typer.Argument(help="Study name.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write.")] = Path(
        "report.html"
    ),
    store: StoreOpt = DEFAULT_STORE,
    debug: DebugOpt = False,
) -> None:
    """Write the self-contained HTML report of a stored study."""
    from reglab.cli.show import run_report

    guarded(lambda: run_report(study, output, store=store), debug=debug)


@app.command()
def datasets(debug: DebugOpt = False) -> None:
    """List the built-in data sets (use them as builtin:NAME)."""
    from reglab.cli.show import run_datasets

    guarded(run_datasets, debug=debug)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: click's usage errors become one line and exit 2."""
    try:  # typer ships its own copy of click, and raises its errors even beside click
        from typer._click.exceptions import UsageError
    except ImportError:  # an older typer runs on click itself
        from click.exceptions import UsageError  # type: ignore[assignment,no-redef,unused-ignore]

    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="reglab", standalone_mode=False)
    except UsageError as err:
        if err.ctx is not None and not (argv if argv is not None else sys.argv[1:]):
            print(err.ctx.get_help())
            raise SystemExit(0) from None
        where = err.ctx.command_path if err.ctx is not None else "reglab"
        text = " ".join(err.format_message().split())
        fail(f"{where}: {text} (see '{where} --help')", EXIT_USAGE)
    except typer.Abort:
        print("reglab: interrupted.", file=sys.stderr)
        raise SystemExit(130) from None
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
