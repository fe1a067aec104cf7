"""The chosen strengths of a nested study in the terminal: one small table per tuned family."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from reglab._numbers import format_number
from reglab.stats.metrics import format_score
from reglab.study.results import StudyResult

__all__ = ["print_tuning", "tuning_plan_line", "tuning_table"]


def tuning_plan_line(plan: Any) -> str:
    """The size of the tuning, in one line, before it starts."""
    tune = plan.config["tune"]
    fams = len(tune["families"])
    splits = len(plan.splits)
    inner = fams * splits * tune["trials"] * tune["inner_folds"]
    return (
        f"  nested tuning: {fams} famil{'y' if fams == 1 else 'ies'} x {splits} outer splits x "
        f"{tune['trials']} trials x {tune['inner_folds']} inner folds = up to {inner} inner "
        f"members, then {len(plan.members)} outer members at the chosen strengths"
    )


def _value(x: float) -> str:
    return format_number(float(f"{x:.3g}"))


def tuning_table(result: StudyResult, family: Any) -> Table:
    """Outer split → chosen strengths, the chosen trial's inner score and the outer score; a
    last row with each strength's spread."""
    metric = result.primary
    table = Table(
        title=f"{family.name}: strengths chosen per outer split ({family.trials} trials x "
        f"{family.inner_folds} inner folds each)",
        title_justify="left",
    )
    table.add_column("outer split", justify="right")
    for name in family.dims:
        table.add_column(name, justify="right")
    table.add_column(f"inner {metric} (chosen)", justify="right")
    table.add_column(f"outer test {metric}", justify="right")
    table.add_column("trials done/pruned/tied", justify="right")
    outer = result.strategies.get(family.name)
    scores = outer.split_scores.get(metric, {}) if outer is not None else {}
    for s in family.splits:
        cells = [
            (_value(s.values[n]) + (" (edge)" if n in s.edges else "")) if n in s.values else "–"
            for n in family.dims
        ]  # a choice at the edge of its range: the range may cut off a better one
        inner = format_score(metric, s.inner_score) if s.inner_score is not None else "–"
        table.add_row(
            str(s.split_id), *cells, inner, format_score(metric, scores.get(s.split_id)),
            f"{s.complete}/{s.pruned}/{s.ties}",
        )  # fmt: skip
    spread = []
    for sp in family.spread:
        if sp.log:
            spread.append(f"×{sp.ratio:.3g} (gm {_value(sp.center)})")
        else:
            spread.append(f"{_value(sp.low)}–{_value(sp.high)}")
    mean_inner = family.mean_inner_score
    mean_outer = (
        outer.metrics[metric].mean if outer is not None and metric in outer.metrics else None
    )
    table.add_row(
        "spread", *spread, f"mean {format_score(metric, mean_inner)}",
        f"mean {format_score(metric, mean_outer)}", "", style="bold",
    )  # fmt: skip
    return table


def print_tuning(result: StudyResult, console: Console) -> None:
    """Every tuned family's table, and what the columns mean."""
    for family in result.tuning:
        console.print(tuning_table(result, family))
        for note in family.notes:
            console.print(f"note: {note}", highlight=False)
    console.print(
        "spread: ×r = largest / smallest choice (log-scale strengths; ×1: every split chose "
        "the same), gm = geometric mean; lo–hi: smallest to largest choice (linear strengths). "
        "The inner score is the best trial's mean over the inner folds: raised by choosing the "
        "best of the trials, lowered by the inner folds' smaller training parts; the outer test "
        "score is the unbiased one. tied: trials within noise of the chosen one on the inner "
        "folds (corrected paired t-test, p ≥ 0.05; up to 10 compared). (edge): the choice "
        "lies at the edge of its search range, which may cut off a better one (--tune-range).",
        highlight=False,
    )
