"""Scheduled strengths as a study shows them: each strategy's median value in effect per epoch.

A member with a scheduled strength stores its value in effect per epoch as curves named
``strength:KEY`` (``strength:KEY[i]`` per layer, :mod:`reglab.engine.strengths`). The median
over a strategy's members, epoch by epoch, counts the members that trained that epoch (those
that stopped early have shorter curves); the terminal table, ``--json`` and the report all
present these same medians.

>>> from reglab.store import MemberRecord
>>> ms = [MemberRecord(str(i), "x", i, i, 10, 5, curves={"strength:l2": c})
...       for i, c in enumerate([[1.0, 2.0, 3.0], [1.0, 4.0]])]
>>> median_strengths(ms)
{'strength:l2': (1.0, 3.0, 3.0)}
>>> strength_phrase({'strength:dropout': (0.1, 0.2, 0.4)})
'dropout 0.1 → 0.4 (epochs 1–3)'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from reglab._numbers import format_number

__all__ = ["PREFIX", "median_strengths", "strength_phrase"]

PREFIX = "strength:"


def median_strengths(records: Iterable[object]) -> dict[str, tuple[float, ...]]:
    """Per ``strength:`` curve name, the median over ``records`` of each epoch's value."""
    by_name: dict[str, list[np.ndarray]] = {}
    for r in records:
        curves = getattr(r, "curves", {}) or {}
        for name, values in curves.items():
            if name.startswith(PREFIX) and len(values):
                by_name.setdefault(name, []).append(np.asarray(values, dtype=float))
    out: dict[str, tuple[float, ...]] = {}
    for name, series in sorted(by_name.items()):
        length = max(len(s) for s in series)
        table = np.full((len(series), length), np.nan)
        for i, s in enumerate(series):
            table[i, : len(s)] = s
        medians = [float(np.nanmedian(col)) for col in table.T if not np.isnan(col).all()]
        out[name] = tuple(medians)
    return out


def strength_phrase(strengths: Mapping[str, tuple[float, ...]]) -> str:
    """``dropout 0.1 → 0.4 (epochs 1–30)`` per curve, first and last epoch's median."""
    parts = []
    for name, values in strengths.items():
        if not values:
            continue
        first, last = format_number(round(values[0], 6)), format_number(round(values[-1], 6))
        parts.append(f"{name[len(PREFIX) :]} {first} → {last} (epochs 1–{len(values)})")
    return "; ".join(parts)
