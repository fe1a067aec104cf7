"""``reglab bench`` and ``reglab demo``: run a study, print the answer, write JSON and HTML."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from reglab.api import load_data
from reglab.cli.render import print_result, wide_console
from reglab.errors import ConfigError
from reglab.report import write_report
from reglab.store import Store
from reglab.study.run import Study, StudyPlan

__all__ = ["DEMO_DATA", "parse_hidden", "run_bench", "run_demo"]

DEMO_DATA = "builtin:digits"


def parse_hidden(text: str) -> tuple[int, ...]:
    """``"50,25"`` → ``(50, 25)``.

    >>> parse_hidden("50, 25")
    (50, 25)
    """
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or any(s < 1 for s in sizes):
        raise ConfigError(
            f"bench: `--hidden` must be comma-separated positive layer sizes like 50,25; "
            f"got {text!r}."
        )
    return sizes


def _check_writable(option: str, path: Path | None) -> None:
    if path is None:
        return
    parent = path.resolve().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ConfigError(
            f"bench: `{option}` must be a path in a writable directory; got {str(path)!r}."
        )


def run_bench(
    data: str,
    *,
    target: str | None,
    task: str | None,
    strategies: str | None,
    drop: Sequence[str] = (),
    strategy_file: Path | None,
    study_options: dict[str, Any],
    store: str,
    json_path: Path | None,
    report: Path | None,
    with_report: bool = True,
    console: Console | None = None,
) -> None:
    console = console or wide_console()
    if strategies is not None and strategy_file is not None:
        raise ConfigError(
            "bench: `--strategies` and `--strategy-file` must not be given together; got both."
        )
    options = dict(study_options)
    options["hidden"] = parse_hidden(str(options["hidden"]))
    _check_writable("--json", json_path)
    _check_writable("--report", report)
    dataset = load_data(data, target=target, task=task, drop=drop)
    spec: Any = strategy_file if strategy_file is not None else strategies
    study = Study(spec, **options)
    study.plan(dataset)  # validate every option before touching the store
    with Store(store) as st:
        result = _run(study, dataset, st, store, console)
        print_result(result, console)
        if json_path is not None:
            result.to_json(json_path)
            console.print(f"JSON written to {json_path}", highlight=False)
        if with_report:
            out = report or Path(f"{result.name}.html")
            _check_writable("--report", out)
            write_report(st, result.name, out)
            console.print(f"Report written to {out}", highlight=False)


def _run(study: Study, dataset: Any, store: Store, store_name: str, console: Console) -> Any:
    err = wide_console(stderr=True)
    state: dict[str, Any] = {}

    def on_start(plan: StudyPlan, already: int) -> None:
        n = len(plan.members)
        ds = plan.dataset
        kind = f"{ds.task}, {ds.n_classes} classes" if ds.n_classes else ds.task
        err.print(
            f"reglab bench: {ds.name}: {ds.n_rows} rows x {ds.n_features} columns ({kind}); "
            f"{len(plan.strategies)} strategies x {len(plan.splits)} splits = {n} members",
            highlight=False,
        )
        for notice in ds.notices:
            err.print(f"  note: {notice}", highlight=False)
        err.print(f"  study {plan.name!r} in {store_name}", highlight=False)
        if already:
            err.print(
                f"  resuming: {already} of {n} members already stored, training {n - already}",
                highlight=False,
            )
        state["total"] = n - already

    progress = Progress(
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("members"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task_id = progress.add_task("members", total=None)

    def on_progress(done: int, total: int) -> None:
        progress.update(task_id, completed=done, total=total)

    started = time.perf_counter()
    with progress:
        result = study.run(dataset, store, progress=on_progress, on_start=on_start)
    err.print(
        f"  trained {state.get('total', 0)} members in {time.perf_counter() - started:.1f} s",
        highlight=False,
    )
    return result


def run_demo(*, store: str, report: Path) -> None:
    """The default presets on the built-in digits data (5-fold CV), with a report."""
    run_bench(
        DEMO_DATA,
        target=None,
        task=None,
        strategies=None,
        strategy_file=None,
        study_options={"hidden": "64,32", "epochs": 100, "patience": 10},
        store=store,
        json_path=None,
        report=report,
    )
