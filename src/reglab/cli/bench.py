"""``reglab bench`` and ``reglab demo``: run a study, print the answer, write JSON and HTML."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from reglab._outputs import check_output, check_outputs_differ, safe_filename
from reglab._validation import check_choice
from reglab.api import load_data
from reglab.cli.progress import TrainingProgress, planned_work
from reglab.cli.render import print_result, wide_console
from reglab.data.arrays import data_inputs
from reglab.errors import ConfigError, TrainingError
from reglab.report import write_report
from reglab.store import ON_CONFIG_CHANGE, Store
from reglab.store.connection import check_url, shown, store_file
from reglab.study.run import Study, StudyPlan

__all__ = ["DEMO_DATA", "parse_hidden", "run_bench", "run_demo"]

DEMO_DATA = "builtin:digits"


def parse_hidden(text: str, who: str = "bench") -> tuple[int, ...]:
    """``"50,25"`` → ``(50, 25)``; a bad value is one line naming the command ``who``.

    >>> parse_hidden("50, 25")
    (50, 25)
    """
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or any(s < 1 for s in sizes):
        raise ConfigError(
            f"{who}: `--hidden` must be comma-separated positive layer sizes like 50,25; "
            f"got {text!r}."
        )
    return sizes


def run_bench(
    data: str,
    *,
    target: str | None,
    task: str | None,
    strategies: str | None,
    drop: Sequence[str] = (),
    groups: str | None = None,
    strategy_file: Path | None,
    study_options: dict[str, Any],
    store: str,
    json_path: Path | None,
    report: Path | None,
    with_report: bool = True,
    on_config_change: str = "error",
    console: Console | None = None,
) -> None:
    """Validate everything, then train, print the answer and write the outputs.

    Nothing is written before every input is validated: the options, the output paths (never
    the store, the data or a directory, in a directory that accepts files), the data, the plan
    and its memory. Outputs are written atomically.
    """
    console = console or wide_console()
    if strategies is not None and strategy_file is not None:
        raise ConfigError(
            "bench: `--strategies` and `--strategy-file` must not be given together; got both."
        )
    if not with_report and report is not None:
        raise ConfigError(
            "bench: `--report` and `--no-report` must not be given together; got both."
        )
    options = dict(study_options)
    options["hidden"] = parse_hidden(str(options["hidden"]))
    check_choice("bench", "--on-config-change", on_config_change, ON_CONFIG_CHANGE)
    check_url(store)
    inputs = {
        "the store": store_file(store),
        **data_inputs(data),
        "the strategy file": strategy_file,
    }
    json_out = (
        None
        if json_path is None
        else check_output("--json", json_path, inputs=inputs, writes="json")
    )
    report_out = None
    if with_report and report is not None:
        report_out = check_output("--report", report, inputs=inputs, writes="html")
    check_outputs_differ({"--json": json_out, "--report": report_out})
    dataset = load_data(data, target=target, task=task, drop=drop, groups=groups)
    spec: Any = strategy_file if strategy_file is not None else strategies
    study = Study(spec, **options)
    plan = study.plan(dataset)
    if with_report and report_out is None:
        default = Path(f"{safe_filename(plan.name)}.html")
        report_out = check_output("--report", default, inputs=inputs, writes="html")
        check_outputs_differ({"--json": json_out, "--report": report_out})
    with Store(store) as st:
        result = _run(study, plan, st, shown(store), console, on_config_change)
        print_result(result, console)
        if json_out is not None:
            result.to_json(json_out)
            console.print(f"JSON written to {json_path}")
        if report_out is not None:
            wide_console(stderr=True).print("  drawing the report…")
            write_report(st, result.name, report_out)
            console.print(f"Report written to {report or report_out.name}")
    if result.all_failed:
        raise TrainingError(f"bench: {result.failure_summary}")


def _run(
    study: Study,
    plan: StudyPlan,
    store: Store,
    store_name: str,
    console: Console,
    on_config_change: str,
) -> Any:
    from reglab.study.ray_writes import writes_line

    err = wide_console(stderr=True)
    state: dict[str, Any] = {}

    def on_start(plan: StudyPlan, already: int) -> None:
        n = len(plan.members)
        ds = plan.dataset
        kind = f"{ds.task}, {ds.n_classes} classes" if ds.n_classes else ds.task
        inputs = len(plan.feature_names)
        encoded = f" → {inputs} inputs after encoding" if inputs != ds.n_features else ""
        err.print(
            f"reglab bench: {ds.name}: {ds.described_shape}{encoded} "
            f"({kind}); {len(plan.strategies)} strategies x {len(plan.splits)} splits = "
            f"{n} members",
        )
        for notice in (*ds.notices, *plan.notices):
            err.print(f"  note: {notice}")
        if study.tune is not None:
            from reglab.cli.render_nested import tuning_plan_line

            err.print(tuning_plan_line(plan))
        err.print(f"  study {plan.name!r} in {store_name}")
        writes = writes_line(study.executor, store, tuned=study.tune is not None)
        if writes is not None:
            err.print(f"  {writes}")
        if already:
            err.print(
                f"  resuming: {already} of {n} members already stored, training the other "
                f"{n - already}"
            )
        if study.tune is None:
            progress.expect(planned_work(plan, already), n - already)

    tuning = study.tune is not None  # progress counts tuning trials, not members
    progress = TrainingProgress(err, unit="trials" if tuning else "members")

    def on_wait(n: int) -> None:
        if not state.get("waiting"):
            err.print(f"  waiting for {n} members that another process is training")
            state["waiting"] = True

    def on_wait_units(n: int) -> None:
        if not state.get("waiting units"):
            err.print(f"  waiting for {n} units that another process is tuning")
            state["waiting units"] = True

    started = time.perf_counter()
    with progress:
        result = study.run(
            plan.dataset,
            store,
            plan=plan,
            progress=progress.members,
            on_start=on_start,
            on_wait=on_wait,
            on_wait_units=on_wait_units,
            on_config_change=on_config_change,
        )
    err.print(
        f"  trained {study.trained_} members in {time.perf_counter() - started:.1f} s"
        + (f"; {study.reused_} reused from the store" if study.reused_ else "")
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
