"""``reglab tune``: search the strengths of a strategy with Optuna, trials trained as stacks."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from reglab._outputs import check_output, check_outputs_differ, safe_filename
from reglab._validation import check_choice
from reglab.api import load_data
from reglab.cli.bench import parse_hidden
from reglab.cli.progress import TrainingProgress
from reglab.cli.render import wide_console
from reglab.data.arrays import data_inputs
from reglab.errors import ConfigError, ReglabError, TrainingError
from reglab.store import ON_CONFIG_CHANGE, Store
from reglab.store.connection import store_file
from reglab.study.tune import Tune, TunePlan
from reglab.study.tune_result import TuneResult

__all__ = ["print_tune", "run_tune", "tune_table"]


def _optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError as err:
        raise ReglabError(
            "tune: Optuna is needed; install it with `pip install 'reglab[tune]'`."
        ) from err


def run_tune(
    data: str,
    *,
    target: str | None,
    task: str | None,
    drop: Sequence[str] = (),
    groups: str | None = None,
    tune_options: dict[str, Any],
    study_options: dict[str, Any],
    store: str,
    json_path: Path | None,
    report: Path | None,
    with_report: bool = True,
    on_config_change: str = "error",
    console: Console | None = None,
) -> None:
    """Validate everything, then search, print the answer and write the outputs.

    Nothing is written before every input is validated (the search space, the options, the
    output paths, the data and the plan), and no output may replace the store or the data.
    """
    console = console or wide_console()
    if not with_report and report is not None:
        raise ConfigError(
            "tune: `--report` and `--no-report` must not be given together; got both."
        )
    options = dict(study_options)
    options["hidden"] = parse_hidden(str(options["hidden"]), "tune")
    runner = Tune(**tune_options, **options)
    runner.check()
    check_choice("tune", "--on-config-change", on_config_change, ON_CONFIG_CHANGE)
    _optuna()
    inputs = {
        "the store": store_file(store),
        **data_inputs(data),
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
    planned = runner.plan(dataset)
    if with_report and report_out is None:
        report_out = check_output("--report", Path(f"{safe_filename(planned.name)}.html"),
                                  inputs=inputs)  # fmt: skip
        check_outputs_differ({"--json": json_out, "--report": report_out})
    err = wide_console(stderr=True)

    def on_start(plan: TunePlan, done: int) -> None:
        ds = plan.base.dataset
        err.print(
            f"reglab tune: {plan.space.text} on {ds.name}: {ds.n_rows} rows, "
            f"{len(plan.base.feature_names)} inputs ({ds.task}); {runner.trials} trials x "
            f"{len(plan.base.splits)} splits, {runner.batch_trials} trials per stack, "
            f"sampler {runner.sampler}, pruner {runner.pruner}"
        )
        for notice in (*ds.notices, *plan.base.notices):
            err.print(f"  note: {notice}")
        if runner.pruner == "median" and not plan.study.early_stopping:
            err.print("  note: no pruning: the median rule needs early stopping's validation rows")
        err.print(f"  study {plan.name!r} in {store}")
        if done:
            err.print(f"  resuming: {done} of {runner.trials} trials already finished")

    def on_round(done: int, total: int) -> None:
        progress.console.print(f"  {done}/{total} trials")
        progress.members(done, total)

    started = time.perf_counter()
    progress = TrainingProgress(err, unit="trials", shorten="--epochs, --trials or --cv")
    with Store(store) as st, progress:
        result = runner.run(
            dataset,
            st,
            planned=planned,
            on_start=on_start,
            on_round=on_round,
            on_config_change=on_config_change,
        )
    err.print(
        f"  trained {runner.trained_} members in {time.perf_counter() - started:.1f} s"
        + (f"; {runner.reused_} reused from the store" if runner.reused_ else "")
    )
    print_tune(result, console)
    if json_out is not None:
        result.to_json(json_out)
        console.print(f"JSON written to {json_path}")
    if report_out is not None:
        result.report(report_out)
        console.print(f"Report written to {report or report_out.name}")
    if result.best is None:
        raise TrainingError("tune: no trial completed; see the failed trials above.")


def tune_table(result: TuneResult, top: int = 10) -> Table:
    """The best trials: number, each strength, the test score and the split count."""
    table = Table(
        title=f"Tuning {result.study!r}: the best {min(top, len(result.trials))} trials by "
        f"test {result.metric} (mean "
        "over the splits)",
        title_justify="left",
    )
    table.add_column("trial", justify="right")
    for d in result.space.dims:
        table.add_column(d.name, justify="right")
    for key in result.searched_schedules:
        table.add_column(f"{key}@")
    table.add_column(result.metric, justify="right")
    table.add_column("", no_wrap=True)
    ties = {t.number for t in result.ties}
    frame = result.table()
    for _, row in frame[frame["state"] == "complete"].head(top).iterrows():
        number = int(row["trial"])
        cells = [str(number)]
        for d in result.space.dims:
            v = row[d.name]
            cells.append("–" if v is None or v != v else f"{float(v):.3g}")
        cells += [str(row[f"{key}@"] or "–") for key in result.searched_schedules]
        mark = "best" if result.best is not None and number == result.best.number else ""
        mark = mark or ("within noise" if number in ties else "")
        table.add_row(*cells, result.score(float(row[result.metric])), mark)
    return table


def print_tune(result: TuneResult, console: Console | None = None) -> None:
    """Print the best trials, then the answer: the best with its interval, the ``reglab fit``
    command, the importances and the warnings."""
    console = console or wide_console()
    console.print(tune_table(result))
    console.print()
    for line in result.lines():
        console.print(line, highlight=False, soft_wrap=True)
