"""What makes a loaded table unusable, each said in one line naming the column and the cells.

The rules are stated in :mod:`reglab.data.load`'s docstring. Cells are located by file line for
a delimited file (the header is line 1 of a plain file) and by 0-based row index otherwise.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from reglab._validation import Problems
from reglab.data._schema import MOSTLY_NUMERIC, looks_formatted
from reglab.errors import DataError

__all__ = ["FLOAT32_MAX", "MIN_ROWS", "Locator", "check_columns", "check_rows"]

FLOAT32_MAX = float(np.finfo(np.float32).max)
MIN_ROWS = 4
SHOWN = 3


class Locator:
    """Says where data row ``i`` is: ``"on line 7"`` in a file, ``"at row index 5"`` otherwise.

    ``lines()`` gives the file line of every data row; it is called once, when needed.

    >>> Locator(lambda: np.array([2, 3, 5]))(2), Locator(None)(2)
    ('on line 5', 'at row index 2')
    """

    def __init__(self, lines: Callable[[], np.ndarray] | None) -> None:
        self.lines = lines
        self._known: np.ndarray | None = None

    def __call__(self, i: int) -> str:
        if self.lines is None:
            return f"at row index {i}"
        if self._known is None:
            self._known = self.lines()
        return f"on line {int(self._known[i])}"

    def examples(self, positions: np.ndarray, values: list[str]) -> str:
        """Up to :data:`SHOWN` ``value location`` pairs, then how many more."""
        shown = ", ".join(
            f"{v} {self(int(i))}" for i, v in zip(positions[:SHOWN], values, strict=True)
        )
        more = len(positions) - SHOWN
        return shown + (f" and {more} more" if more > 0 else "")


def shown(column: str) -> str:
    """A column name as messages show it: in backticks, or quoted when it is not printable."""
    return f"`{column}`" if column.isprintable() else repr(column)


def check_columns(
    who: str,
    where: str,
    typed: Mapping[str, tuple[pd.Series, np.ndarray]],
    target: str,
    task: str | None,
    at: Locator,
) -> None:
    """Refuse, all together, stray text in mostly numeric columns, numbers outside float32's
    range and columns with no value.

    A classification ``task`` takes the target's values as labels, so stray text there is a
    class of its own, not a problem.
    """
    problems = Problems()
    labels = task not in (None, "regression")
    for col, (series, stray) in typed.items():
        role = "target" if col == target else "column"
        name = f"{role} {shown(col)} of {where}"
        if len(stray) and not (col == target and labels):
            advice = _advice(col, target, task, len(stray))
            problems.add(_stray(who, name, series, stray, at, advice))
        if series.dtype.kind == "f":
            values = series.to_numpy()
            bad = np.flatnonzero(np.isinf(values) | (np.abs(values) > FLOAT32_MAX))
            if len(bad):
                texts = [f"{values[i]:g}" for i in bad[:SHOWN]]
                problems.add(
                    f"{who}: {name} must hold finite numbers within float32's range (magnitude "
                    f"at most {FLOAT32_MAX:.1e}); got {len(bad)} outside it: "
                    f"{at.examples(bad, texts)}."
                    + _leave_out(col, target, "Correct or rescale them")
                )
        if series.isna().all():
            problems.add(
                f"{who}: {name} must have at least one value; got all {len(series)} values "
                "missing." + _leave_out(col, target, "Fill it in")
            )
    if problems.messages:
        raise DataError(" ".join(problems.messages))


def _stray(
    who: str, name: str, series: pd.Series, stray: np.ndarray, at: Locator, advice: str
) -> str:
    n_filled = int(series.notna().sum())
    values = [str(series.iloc[i]) for i in stray]
    k = len(stray)
    n_formatted = sum(1 for v in values if looks_formatted(v))
    formatted = (
        f" ({n_formatted} more {'are numbers' if n_formatted > 1 else 'is a number'} written "
        "with a comma, currency or percent sign)"
        if n_filled - k < MOSTLY_NUMERIC * n_filled  # the formatted ones make it numeric
        else ""
    )
    text = (
        f"{who}: {name} must hold only numbers, as {n_filled - k} of its {n_filled} filled "
        f"cells do{formatted}; got {k} other{'s' if k > 1 else ''}: "
        f"{at.examples(stray, [repr(v) for v in values[:SHOWN]])}."
    )
    if n_formatted:
        text += (
            " Write numbers with '.' as the decimal point, without thousands separators, "
            "currency or percent signs (decimal commas are read only in a file separated by "
            "';', tab or '|', in columns that use them throughout)."
        )
    return text + advice


def _leave_out(column: str, target: str, fix: str) -> str:
    """`` Fix it, or leave the column out (--drop COLUMN).`` for a feature column."""
    if column == target:
        return ""
    return f" {fix}, or leave the column out (--drop {shlex.quote(column)})."


def _advice(column: str, target: str, task: str | None, k: int) -> str:
    """What to do about ``k`` stray cells of ``column``."""
    them = "them" if k > 1 else "it"
    if column != target:
        return (
            f" Correct {them}, leave {them} empty (missing values are empty, NA or ?), or leave "
            f"the column out (--drop {shlex.quote(column)})."
        )
    text = f" Correct {them}, or leave {them} empty to drop the row{'s' * (k > 1)}"
    if task is None:
        return text + " (or, if the values are class labels, ask for --task classification)."
    return text + "."


def check_rows(who: str, where: str, n_kept: int, n_total: int, target: str) -> None:
    """Refuse fewer than :data:`MIN_ROWS` rows with a target value."""
    if n_kept >= MIN_ROWS:
        return
    dropped = n_total - n_kept
    extra = (
        f", after dropping {dropped} with no value for target {shown(target)}" if dropped else ""
    )
    raise DataError(
        f"{who}: {where} must have at least {MIN_ROWS} data rows (the smallest study, 2-fold "
        f"cross-validation, trains on 2 rows per fold: one to fit, one to validate); got "
        f"{n_kept}{extra}."
    )
