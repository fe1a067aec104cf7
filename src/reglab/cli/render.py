"""Terminal rendering of study results (rich tables and plain sentences)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the table only reads a result: importing the analysis here would cost
    from reglab.study.results import StudyResult  # every command its start-up time

__all__ = ["print_result", "results_table", "wide_console"]

PERCENT = ("accuracy", "balanced_accuracy", "robust_accuracy")
LABELS = {
    "accuracy": "accuracy",
    "robust_accuracy": "robust acc",
    "balanced_accuracy": "bal. acc",
    "log_loss": "log loss",
    "ece": "ECE",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
}


def _third(result: StudyResult) -> str:
    """The third classification column: robust accuracy when the study measured it (log
    loss then stays in --json, table() and the report), else log loss."""
    measured = any("robust_accuracy" in s.metrics for s in result.strategies.values())
    return "robust_accuracy" if measured else "log_loss"


def _value(metric: str, value: float, decimals: int | None = None) -> str:
    """A score as the table shows it: percent with one decimal for accuracies, else
    ``decimals`` fixed decimals (three significant digits when not given)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if metric in PERCENT:
        return f"{100 * value:.1f}"
    if decimals is not None:
        return f"{value:.{decimals}f}"
    return f"{value:.3g}"


def _decimals(result: StudyResult) -> int | None:
    """Fixed decimals for the primary metric's column, interval, difference and gap: three
    significant digits of its typical size (``2.11``, ``2.00–2.23``, ``+0.05``), so that
    every number of a column has the same precision. ``None`` for accuracies (percent)."""
    if result.primary in PERCENT:
        return None
    means = [s.metrics[result.primary].mean for s in result.strategies.values()
             if result.primary in s.metrics]  # fmt: skip
    sizes = [abs(m) for m in means if math.isfinite(m)]
    typical = sorted(sizes)[len(sizes) // 2] if sizes else 0.0
    if typical <= 0:
        return 3
    return min(6, max(0, 2 - math.floor(math.log10(typical))))


def _vs_none(result: StudyResult, name: str) -> tuple[str, str]:
    """The difference from ``none`` and its Holm-adjusted p, as the table shows them."""
    primary = result.primary
    comp = {c.strategy: c for c in result.comparisons}.get(name)
    baseline = result.strategies.get("none")
    if name == "none" and result.comparisons:
        return "baseline", ""
    if comp is None or comp.test is None or baseline is None or primary not in baseline.metrics:
        return "–", "–"
    if comp.outcome == "identical":
        return "same", "–"
    diff = result.strategies[name].metrics[primary].mean - baseline.metrics[primary].mean
    places = _decimals(result)
    diff_text = f"{100 * diff:+.1f}" if places is None else f"{diff:+.{places}f}"
    if diff_text.strip("+-0.") == "":
        diff_text = "±0"
    from reglab.stats.compare import format_p_column

    return diff_text, format_p_column(comp.p_adjusted) + (" *" if comp.significant else "")


OPTIONAL = ("zeros", "third", "second", "gap")
"""The columns a narrow terminal loses first, in this order (``second``/``third``: the
secondary metrics); the strategy, its score, interval, difference and p always stay."""


def results_table(result: StudyResult, *, leave_out: tuple[str, ...] = ()) -> Table:
    """The ranked table: primary metric with its 95% interval, difference and p vs none,
    secondary metrics, train–test gap, epochs and sparsity. Strategies that could not be
    ranked (too few finished splits, or every member failed) follow, unnumbered.
    ``leave_out`` names :data:`OPTIONAL` columns to leave out."""
    primary = result.primary
    others = [m for m, place in _others(result) if place not in leave_out]
    show_gap, show_zeros = "gap" not in leave_out, "zeros" not in leave_out
    pct = " %" if primary in PERCENT else ""
    places = _decimals(result)
    from reglab.stats.metrics import METRIC_DIRECTIONS

    direction = "higher" if METRIC_DIRECTIONS.get(primary, True) else "lower"
    n = len(result.ranking)
    title = (
        f"Study {result.name!r}: {n} strateg{'y' if n == 1 else 'ies'} ranked by {primary} "
        f"({direction} is better)"
    )
    if result.unranked:
        title += f", {len(result.unranked)} not ranked"
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    names = [*result.strategies, *result.references]
    shortest = min(max((len(n) for n in names), default=8), 16)
    table.add_column("strategy", overflow="fold", min_width=shortest)  # may wrap, alone
    numbers = [f"{LABELS.get(primary, primary)}{pct}", "95% CI", "vs none", "p (Holm)"]
    numbers += [f"{LABELS[m]}{' %' if m in PERCENT else ''}" for m in others]
    numbers += ["gap"] * show_gap + ["epochs"] + ["zeros"] * show_zeros
    for header in numbers:
        table.add_column(header, justify="right", no_wrap=True)
    rows = [(str(r.rank), r.strategy) for r in result.ranking]
    rows += [("–", name) for name in result.unranked]
    for place, name in rows:
        s = result.strategies[name]
        if s.all_failed:
            label = f"{name} (all {s.n_failed} failed)"
        else:
            lost = [f"{s.n_failed} failed"] * bool(s.n_failed)
            lost += [f"{s.n_chance} learned nothing"] * bool(s.n_chance)
            label = name + (f" ({', '.join(lost)})" if lost else "")
        summary = s.metrics.get(primary)
        diff_text, p_text = _vs_none(result, name)
        table.add_row(
            place,
            label,
            "–" if summary is None else _value(primary, summary.mean, places),
            "–"
            if summary is None or math.isnan(summary.ci_low)
            else f"{_value(primary, summary.ci_low, places)}–"
            f"{_value(primary, summary.ci_high, places)}",
            diff_text,
            p_text,
            *[_value(m, s.metrics[m].mean) if m in s.metrics else "–" for m in others],
            *[_value(primary, s.train_gap, places)] * show_gap,
            "–" if s.n_done == 0 else s.epochs_text(),
            *["–" if s.n_done == 0 else f"{100 * s.sparsity:.0f}%"] * show_zeros,
        )
    _reference_rows(result, table, others, show_gap=show_gap, show_zeros=show_zeros)
    return table


def fitted_table(result: StudyResult, console: Console) -> tuple[Table, tuple[str, ...]]:
    """The results table and the optional columns left out so that no number is cut.

    Not on a terminal (a log, a pipe) the console widens to the whole table. On a terminal,
    optional columns go in the order of :data:`OPTIONAL` until the table fits the width;
    what is still too wide then wraps the strategy names, never a number."""
    unbounded = console.options.update_width(10_000)

    def width(table: Table) -> int:
        return console.measure(table, options=unbounded).maximum

    table = results_table(result)
    if not console.is_terminal:
        console.width = max(console.width, width(table))
        return table, ()
    left: tuple[str, ...] = ()
    for column in OPTIONAL:
        if width(table) <= console.width:
            break
        left = (*left, column)
        table = results_table(result, leave_out=left)
    return table, left


def _reference_rows(
    result: StudyResult, table: Table, others: list[str], *, show_gap: bool, show_zeros: bool
) -> None:
    """The reference rows, in their own section after the strategies: labelled *reference*,
    unnumbered, their difference and p against the best reference left blank (the networks'
    own test against it is said in words)."""
    if not result.references:
        return
    primary = result.primary
    places = _decimals(result)
    table.add_section()
    for name, s in result.references.items():
        summary = s.metrics.get(primary)
        notes = (["best"] if name == result.best_reference else []) + (
            [f"{s.n_failed} failed"] if s.n_failed else []
        )
        label = name + (f" ({', '.join(notes)})" if notes else "")  # "ref" marks the row
        table.add_row(
            "ref",
            label,
            "–" if summary is None else _value(primary, summary.mean, places),
            "–"
            if summary is None or math.isnan(summary.ci_low)
            else f"{_value(primary, summary.ci_low, places)}–"
            f"{_value(primary, summary.ci_high, places)}",
            "",
            "",
            *[_value(m, s.metrics[m].mean) if m in s.metrics else "–" for m in others],
            *[_value(primary, s.train_gap, places)] * show_gap,
            "",
            *[""] * show_zeros,
            style="italic",
        )


def _others(result: StudyResult) -> list[tuple[str, str]]:
    """The secondary metrics the table shows, each with its place (``second``, ``third``)."""
    metrics = (
        ("accuracy", "balanced_accuracy", _third(result))  # ECE: --json, report, table()
        if result.task != "regression"
        else ("rmse", "mae", "r2")
    )
    others = [m for m in metrics if m != result.primary]
    return list(zip(others, ("second", "third"), strict=False))


def _names(result: StudyResult, columns: tuple[str, ...]) -> list[str]:
    """The headers of left-out :data:`OPTIONAL` columns, as the table would show them."""
    label = {place: LABELS.get(m, m) for m, place in _others(result)}
    return [label.get(c, c) for c in columns if c in label or c in ("gap", "zeros")]


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
    """Print the ranked table, then the answer (its first line first), the notices and the
    verdicts in words."""
    console = console or wide_console()
    table, left = fitted_table(result, console)
    console.print(table)
    if left:
        console.print(
            f"(left out at this terminal's width: {', '.join(_names(result, left))}; "
            "a wider terminal, --json or the report shows them)",
            highlight=False,
        )
    console.print(
        "vs none: difference in mean; p: Nadeau–Bengio corrected t-test, Holm-adjusted "
        "(* significant at 0.05); gap: how much better on training than test data; epochs: "
        "mean best (restored) epoch / mean last epoch trained, over the same members, from 1 "
        "((k of n): early stopping fired for k of n members, the others ran to the limit); "
        "zeros: exact-zero weights"
        + (
            "; ref: classical reference models on the same splits, never recommended"
            if result.references
            else ""
        ),
        highlight=False,
    )
    scheduled = {n: s.strengths for n, s in result.strategies.items() if s.strengths}
    if scheduled:
        from reglab.study.strength_curves import strength_phrase

        console.print("Strengths in effect (median over splits, first → last epoch):",
                      highlight=False)  # fmt: skip
        for name, strengths in scheduled.items():
            console.print(f"  {name}: {strength_phrase(strengths)}", highlight=False)
    if result.tuning:
        from reglab.cli.render_nested import print_tuning

        print_tuning(result, console)
    console.print()
    for line in result.answer.lines:
        console.print(line, highlight=False)
    if result.reference_sentence:
        console.print(result.reference_sentence, highlight=False)
    for notice in result.notices:
        console.print(f"note: {notice.text}", highlight=False)
    if result.verdicts:
        console.print("Combined versus parts:", highlight=False)
        for v in result.verdicts:
            console.print(f"  {v.sentence}.", highlight=False)
    if 0 < len(result.failures) <= 5:
        for strategy, split, error in result.failures:
            console.print(f"failed: {strategy} on split {split}: {error}", highlight=False)
