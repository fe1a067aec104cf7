"""Terminal rendering of study results (rich tables and plain sentences)."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from reglab.study.results import StudyResult

__all__ = ["print_result", "results_table", "wide_console"]

PERCENT = ("accuracy", "balanced_accuracy")
LABELS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "bal. acc",
    "log_loss": "log loss",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
}


def _value(metric: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if metric in PERCENT:
        return f"{100 * value:.1f}"
    return f"{value:.3g}"


def results_table(result: StudyResult) -> Table:
    """The ranked table: primary metric with its 95% interval, difference and p vs none,
    secondary metrics, train–test gap, epochs and sparsity."""
    primary = result.primary
    others = [
        m
        for m in (
            ("accuracy", "balanced_accuracy", "log_loss")
            if result.task != "regression"
            else ("rmse", "mae", "r2")
        )
        if m != primary
    ]
    pct = " %" if primary in PERCENT else ""
    table = Table(
        title=f"Study {result.name!r}: {len(result.ranking)} strategies ranked by {primary}",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("strategy", no_wrap=True)
    table.add_column(f"{LABELS[primary]}{pct}", justify="right")
    table.add_column("95% CI", justify="right", no_wrap=True)
    table.add_column("vs none", justify="right")
    table.add_column("p (Holm)", justify="right")
    for m in others:
        table.add_column(f"{LABELS[m]}{' %' if m in PERCENT else ''}", justify="right")
    table.add_column("gap", justify="right")
    table.add_column("epochs", justify="right")
    table.add_column("zeros", justify="right")
    by_strategy = {c.strategy: c for c in result.comparisons}
    baseline = result.strategies.get("none")
    for r in result.ranking:
        s = result.strategies[r.strategy]
        summary = s.metrics[primary]
        comp = by_strategy.get(r.strategy)
        if r.strategy == "none":
            diff_text, p_text = "baseline", ""
        elif comp is None or baseline is None:
            diff_text, p_text = "–", "–"
        else:
            diff = summary.mean - baseline.metrics[primary].mean
            scale = 100 if primary in PERCENT else 1
            diff_text = f"{scale * diff:+.1f}" if scale == 100 else f"{diff:+.3g}"
            if diff_text.strip("+-0.") == "":
                diff_text = "±0"
            p_text = f"{comp.p_adjusted:.2f}" + (" *" if comp.significant else "")
        epochs = s.mean_stopped_epoch if s.mean_stopped_epoch is not None else s.mean_best_epoch
        name = r.strategy + (f" ({s.n_failed} failed)" if s.n_failed else "")
        table.add_row(
            str(r.rank),
            name,
            _value(primary, summary.mean),
            f"{_value(primary, summary.ci_low)}–{_value(primary, summary.ci_high)}",
            diff_text,
            p_text,
            *[_value(m, s.metrics[m].mean) if m in s.metrics else "–" for m in others],
            _value(primary, s.train_gap),
            "–" if epochs is None else f"{epochs:.0f}",
            f"{100 * s.sparsity:.0f}%",
        )
    return table


def wide_console(*, stderr: bool = False) -> Console:
    """A console that is at least 120 columns wide when output is not a terminal.

    Markup and highlighting are off: every string reglab prints may hold what a user typed
    (study names, columns, paths, categories), and those are data, never rich markup.
    """
    console = Console(stderr=stderr, markup=False, highlight=False)
    if not console.is_terminal:
        console = Console(
            stderr=stderr, markup=False, highlight=False, width=max(console.width, 120)
        )
    return console


def print_result(result: StudyResult, console: Console | None = None) -> None:
    """Print the ranked table, then the answer and the verdicts in words."""
    console = console or wide_console()
    console.print(results_table(result))
    console.print(
        "vs none: difference in mean; p: Nadeau–Bengio corrected t-test, Holm-adjusted "
        "(* significant at 0.05); gap: how much better on training than test data; epochs: "
        "mean stopped epoch; zeros: "
        "exact-zero weights",
        highlight=False,
    )
    console.print()
    for line in result.sentences():
        console.print(line, highlight=False)
    for strategy, split, error in result.failures:
        console.print(f"failed: {strategy} on split {split}: {error}", highlight=False)
