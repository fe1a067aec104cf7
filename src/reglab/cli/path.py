"""``reglab path``: one technique at every strength of a grid; the CV curve and the choice."""

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
from reglab.cli.progress import TrainingProgress, planned_work
from reglab.cli.render import wide_console
from reglab.data.arrays import data_inputs
from reglab.errors import ConfigError, TrainingError
from reglab.report import write_report
from reglab.store import ON_CONFIG_CHANGE, Store
from reglab.store.connection import check_url, shown, store_file
from reglab.study.path import PathResult, format_strength
from reglab.study.path_study import PathStudy
from reglab.study.run import StudyPlan

__all__ = ["path_table", "print_path", "run_path"]


def run_path(
    data: str,
    *,
    target: str | None,
    task: str | None,
    drop: Sequence[str] = (),
    groups: str | None = None,
    technique: str,
    grid: str | None,
    l1_ratio: float | None,
    proximal: bool,
    metric: str | None,
    study_options: dict[str, Any],
    store: str,
    json_path: Path | None,
    report: Path | None,
    with_report: bool = True,
    on_config_change: str = "error",
    console: Console | None = None,
) -> None:
    """Validate everything, then train the path, print its curve and write the outputs.

    As for ``reglab bench``, nothing is written before every input is validated (the path's
    technique and grid, the options, the output paths, the data, the plan and its memory), and
    no output may replace the store or the data file.
    """
    console = console or wide_console()
    if not with_report and report is not None:
        raise ConfigError(
            "path: `--report` and `--no-report` must not be given together; got both."
        )
    options = dict(study_options)
    options["hidden"] = parse_hidden(str(options["hidden"]), "path")
    runner = PathStudy(
        technique, grid, l1_ratio=l1_ratio, proximal=proximal, metric=metric, **options
    )
    runner.check()
    check_choice("path", "--on-config-change", on_config_change, ON_CONFIG_CHANGE)
    check_url(store)
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
        default = Path(f"{safe_filename(planned[1].name)}.html")
        report_out = check_output("--report", default, inputs=inputs, writes="html")
        check_outputs_differ({"--json": json_out, "--report": report_out})
    with Store(store) as st:
        result = _run(runner, planned, st, shown(store), on_config_change)
        print_path(result, console)
        if json_out is not None:
            result.to_json(json_out)
            console.print(f"JSON written to {json_path}")
        if report_out is not None:
            wide_console(stderr=True).print("  drawing the report…")
            write_report(st, result.study, report_out)
            console.print(f"Report written to {report or report_out.name}")
    if result.result is not None and result.result.all_failed:
        raise TrainingError(f"path: {result.result.failure_summary}")


def _run(
    runner: PathStudy,
    planned: tuple[Any, StudyPlan, dict[str, Any]],
    store: Store,
    store_name: str,
    on_config_change: str,
) -> PathResult:
    from reglab.study.ray_writes import writes_line

    err = wide_console(stderr=True)
    _, plan, described = planned

    def on_start(plan: StudyPlan, already: int) -> None:
        ds = plan.dataset
        n = len(plan.members)
        strengths = len(plan.strategies) - 1
        err.print(
            f"reglab path: {described['technique']} on {ds.name}: {ds.described_shape}, "
            f"{len(plan.feature_names)} inputs ({ds.task}); none + {strengths} strengths x "
            f"{len(plan.splits)} splits = {n} members"
        )
        if described.get("warm_start"):
            epochs = described.get("warm_epochs")
            err.print(
                "  warm start: each strength from the previous one's final weights on its fold"
                + (f", {epochs} epochs each" if epochs else "")
            )
        for notice in (*ds.notices, *plan.notices):
            err.print(f"  note: {notice}")
        err.print(f"  study {plan.name!r} in {store_name}")
        writes = writes_line(runner.study_options.get("executor"), store)
        if writes is not None:
            err.print(f"  {writes}")
        if already:
            err.print(f"  resuming: {already} of {n} members already stored")
        progress.expect(planned_work(plan, already), n - already)

    progress = TrainingProgress(err, shorten="--epochs, --cv or --grid")
    started = time.perf_counter()
    with progress:
        result = runner.run(
            plan.dataset,
            store,
            planned=planned,
            progress=progress.members,
            on_start=on_start,
            on_wait=lambda n: None,
            on_config_change=on_config_change,
        )
    study = runner.study_
    err.print(
        f"  trained {study.trained_} members in {time.perf_counter() - started:.1f} s"
        + (f"; {study.reused_} reused from the store" if study.reused_ else "")
    )
    return result


def path_table(result: PathResult) -> Table:
    """The CV curve, weakest first: strength, mean ± SE, splits, surviving features, marks."""
    tech = result.technique
    table = Table(
        title=f"Strength path {result.study!r}: {tech.label} ({result.direction}), "
        f"test {result.metric}, mean ± standard error over the splits (sd/√splits, not "
        "corrected for overlapping training sets, as cv.glmnet; the tests against none below "
        "are corrected)",
        title_justify="left",
    )
    table.add_column(tech.key, justify="right", no_wrap=True)
    table.add_column(result.metric, justify="right")
    table.add_column("± SE", justify="right")
    table.add_column("splits", justify="right")
    if tech.features:
        of = f" of {result.n_inputs}" if result.n_inputs else ""
        table.add_column(f"features{of}", justify="right")
    table.add_column("", no_wrap=True)
    for p in result.points:
        marks = []
        if p is result.best:
            marks.append("best")
        if p is result.one_se:
            marks.append("1-SE choice")
        row = [
            "none" if p.is_reference else format_strength(p.strength),
            result.score(p.mean),
            result.score(p.se),
            f"{p.n_splits}" + (f" ({p.n_failed} failed)" if p.n_failed else ""),
        ]
        if tech.features:
            row.append("–" if p.features is None else f"{p.features:.1f}")
        table.add_row(*row, ", ".join(marks))
    return table


def print_path(result: PathResult, console: Console | None = None) -> None:
    """Print the curve, then the best strength, the 1-SE choice, the warnings and the study's
    answer against none."""
    console = console or wide_console()
    console.print(path_table(result))
    console.print()
    for line in result.lines():
        console.print(line, highlight=False)
