"""Terminal rendering of study results (rich tables and plain sentences)."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from reglab.study.results import HIGHER_IS_BETTER, StudyResult

__all__ = ["print_result", "results_table"]

PERCENT = ("accuracy", "balanced_accuracy")


def _value(metric: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if metric in PERCENT:
        return f"{100 * value:.1f}"
    return f"{value:.3g}"


def _interval(metric: str, summary: Any) -> str:
    return f"{_value(metric, summary.mean)} [{_value(metric, summary.ci_low)}, " + (
        f"{_value(metric, summary.ci_high)}]"
    )


def results_table(result: StudyResult) -> Table:
    """The ranked table: metrics with 95% intervals, p vs none, gap, epochs, sparsity."""
    metrics = (
        ["accuracy", "balanced_accuracy", "log_loss"]
        if result.task != "regression"
        else ["rmse", "mae", "r2"]
    )
    unit = " (%)" if result.task != "regression" else ""
    table = Table(title=f"Study {result.name!r}: ranked by {result.primary}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("strategy")
    for m in metrics:
        arrow = "↑" if HIGHER_IS_BETTER[m] else "↓"
        table.add_column(f"{m}{unit if m in PERCENT else ''} {arrow} [95% CI]", justify="right")
    table.add_column("p vs none (Holm)", justify="right")
    table.add_column("train–test gap", justify="right")
    table.add_column("epochs", justify="right")
    table.add_column("zeros", justify="right")
    table.add_column("n", justify="right")
    p_vs_none = {c.strategy: c for c in result.comparisons}
    for r in result.ranking:
        s = result.strategies[r.strategy]
        comp = p_vs_none.get(r.strategy)
        if comp is None:
            p_text = "baseline" if r.strategy == "none" else "–"
        else:
            mark = " *" if comp.significant else ""
            p_text = f"{comp.p_adjusted:.3f}{mark}"
        epochs = s.mean_stopped_epoch if s.mean_stopped_epoch is not None else s.mean_best_epoch
        n_text = f"{s.n_done}" + (f" ({s.n_failed} failed)" if s.n_failed else "")
        table.add_row(
            str(r.rank),
            r.strategy,
            *[_interval(m, s.metrics[m]) if m in s.metrics else "–" for m in metrics],
            p_text,
            _value(result.primary, s.train_gap),
            "–" if epochs is None else f"{epochs + 1:.0f}",
            f"{100 * s.sparsity:.0f}%",
            n_text,
        )
    return table


def print_result(result: StudyResult, console: Console | None = None) -> None:
    """Print the ranked table, then the answer and the verdicts in words."""
    console = console or Console()
    console.print(results_table(result))
    console.print("* significant after Holm correction (Nadeau–Bengio corrected t-test, α=0.05)")
    console.print()
    for line in result.sentences():
        console.print(line, highlight=False)
    for strategy, split, error in result.failures:
        console.print(f"failed: {strategy} on split {split}: {error}", highlight=False)
