"""``reglab select``: neural feature selection by a group-L1 or LassoNet path, with a dense
refit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from reglab._outputs import check_output, check_outputs_differ, write_atomic
from reglab._validation import check_choice, check_int
from reglab.cli.bench import parse_hidden
from reglab.cli.progress import TrainingProgress
from reglab.cli.render import wide_console
from reglab.data.arrays import data_inputs
from reglab.store.connection import store_file

__all__ = ["run_select"]

SHOWN = 30
"""Rows of the feature table printed (the CSV from ``--table`` has every input)."""


def run_select(
    data: str,
    *,
    target: str | None,
    task: str | None,
    drop: list[str],
    groups: str | None = None,
    max_features: int,
    grid: str | None,
    method: str,
    refit: bool,
    output: Path,
    seeds: int = 1,
    table_path: Path | None,
    store: str,
    options: dict[str, Any],
) -> None:
    """Validate everything, run the path, print the selection and write the feature list."""
    from reglab.study.path_study import PathStudy
    from reglab.study.select import GRIDS, METHODS, select_features

    check_int("select", "--max-features", max_features, minimum=1)
    check_choice("select", "--method", method, METHODS)
    check_int("select", "--seeds", seeds, minimum=1)
    grid = GRIDS[method] if grid is None else grid
    options = dict(options)
    options["hidden"] = parse_hidden(str(options["hidden"]), "select")
    PathStudy(method, grid, **options).check()  # the grid and options before the data
    inputs = {
        "the store": store_file(store),
        **data_inputs(data),
    }
    out = check_output("-o", output, inputs=inputs)
    table_out = None if table_path is None else check_output("--table", table_path, inputs=inputs)
    check_outputs_differ({"-o": out, "--table": table_out})
    console = wide_console()
    err = wide_console(stderr=True)
    by = f", {seeds} seeds per fold" if seeds > 1 else ""
    by += ", warm-started" if options.get("warm_start") else ""
    err.print(f"reglab select: at most {max_features} features by a {method} path ({grid}{by})")
    with TrainingProgress(err, shorten="--epochs, --cv or --grid"):  # opens the store once
        selection = select_features(  # the data and options are validated
            data, target=target, task=task, drop=drop, groups=groups,
            max_features=max_features, grid=grid,
            method=method, refit=refit, seeds=seeds, store=store, **options,
        )  # fmt: skip
    for notice in selection.notices:
        err.print(f"  note: {notice}", highlight=False)
    n_inputs = len(selection.table)
    top = f"top {SHOWN} of {n_inputs}" if n_inputs > SHOWN else f"all {n_inputs}"
    shown = Table(
        title=f"Inputs by stability ({top})",
        title_justify="left",
        caption="drops at: the weakest strength at which the input leaves the selection "
        "(never: kept along the whole path); kept in splits and relative norm (its mean "
        "first-layer weight norm over the largest input's) at the chosen strength",
        caption_justify="left",
    )
    kept = "kept in splits" if seeds == 1 else "kept in splits x seeds"
    for column in ("feature", f"drops at {method}", kept, "relative norm", ""):
        shown.add_column(column, justify="left" if column == "feature" else "right")
    for row in selection.table.head(SHOWN).to_dict("records"):
        at = float(row["drops_at"])
        drops = "never" if at != at else f"{at:.3g}"  # NaN: kept along the whole path
        mark = "selected" if row["selected"] else ""
        shown.add_row(
            str(row["feature"]), drops, f"{row['frequency']:.0%}", f"{row['norm']:.3f}", mark
        )
    console.print(shown)
    for line in selection.lines():
        console.print(line, highlight=False)
    write_atomic(out, "".join(f"{name}\n" for name in selection.features))
    console.print(f"{len(selection.features)} selected columns written to {output}")
    if table_out is not None:
        write_atomic(table_out, selection.table.to_csv(index=False))
        console.print(f"Feature table written to {table_path}")
