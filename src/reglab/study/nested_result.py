"""The strengths a nested study chose, per outer split, and how much they vary: one analysis for
the terminal, ``--json`` and the report.

:func:`analyze_tuning` reads the ``tuning`` entry a tuned study keeps in its metadata
(:mod:`reglab.study.nested`) and, for each tuned family and each strength ``θ``, summarizes the
values ``θ̂_1 … θ̂_F`` chosen on the ``F`` outer splits:

* on a **log** scale (penalties): the geometric mean ``exp(mean log θ̂)`` and the geometric
  range ``max θ̂ / min θ̂`` (×1 when every split chose the same value);
* on a **linear** scale (rates): the mean and the range ``max θ̂ − min θ̂``;
* in both, the **share of the searched range** the choices cover, on the range's own scale
  (``log(max/min) / log(high/low)``, or ``(max − min) / (high − low)``). A share near 1 means the
  inner folds do not pin the strength down: the family's outer score is the score of the tuning
  procedure, not of one strength.

It also sets the mean **inner score** of the chosen trials (the best of ``N`` trials on the
inner folds, hence optimistic) beside the family's outer score, whose difference is the
selection optimism the nested protocol keeps out of the comparison.

>>> meta = {"trials": 8, "inner_folds": 3, "metric": "accuracy", "families": {"l2": {
...     "dims": [{"name": "l2", "low": 1e-6, "high": 1e-2, "scale": "log"}],
...     "splits": {"0": {"values": {"l2": 1e-4}, "inner_score": 0.9},
...                "1": {"values": {"l2": 1e-3}, "inner_score": 0.8}}}}}
>>> fam = analyze_tuning(meta)[0]
>>> s = fam.spread[0]
>>> round(s.center, 6), round(s.ratio, 3), round(s.share, 2)
(0.000316, 10.0, 0.25)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reglab._numbers import format_number
from reglab.study.tune_result import COMPARED, TIE_P

__all__ = [
    "SPREAD_SHARE",
    "TIED_SHARE",
    "Spread",
    "TunedFamily",
    "TunedSplit",
    "analyze_tuning",
    "tuned_notices",
    "tuning_notices",
]

SPREAD_SHARE = 0.5
"""Choices covering at least this share of the searched range are called undetermined."""
TIED_SHARE = 0.8
"""A search in which at least this share of the trials compared with the best were tied with it
(:data:`~reglab.study.tune_result.TIE_P`) could not tell its strengths apart."""


@dataclass(frozen=True)
class TunedSplit:
    """What one outer split's search chose for a family."""

    split_id: int
    values: Mapping[str, float]
    inner_score: float | None
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    edges: tuple[str, ...] = ()
    ties: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split_id,
            "values": dict(self.values),
            "inner_score": self.inner_score,
            "trials_complete": self.complete,
            "trials_pruned": self.pruned,
            "trials_failed": self.failed,
            "at_edge": list(self.edges),
            "ties_with_best": self.ties,
        }


@dataclass(frozen=True)
class Spread:
    """How one strength's choices vary over the outer splits (module docstring)."""

    name: str
    log: bool
    low: float
    high: float
    center: float
    share: float
    range_low: float
    range_high: float

    @property
    def ratio(self) -> float:
        """``max / min`` of the choices (log scale only; NaN otherwise)."""
        return self.high / self.low if self.log and self.low > 0 else math.nan

    @property
    def text(self) -> str:
        """``l2 ≈ 3.2e-4, ×10 (25% of the range)`` or ``dropout 0.21–0.35 (mean 0.28, …)``."""
        share = f"{100 * self.share:.0f}% of the searched range"
        if self.log:
            return (
                f"{self.name}: geometric mean {_short(self.center)}, from {_short(self.low)} to "
                f"{_short(self.high)} (×{self.ratio:.3g}; {share})"
            )
        return (
            f"{self.name}: mean {_short(self.center)}, from {_short(self.low)} to "
            f"{_short(self.high)} ({share})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scale": "log" if self.log else "linear",
            "min": self.low,
            "max": self.high,
            "center": self.center,
            "center_kind": "geometric mean" if self.log else "mean",
            "geometric_range": self.ratio if self.log else None,
            "share_of_range": self.share,
            "searched": [self.range_low, self.range_high],
        }


@dataclass(frozen=True)
class TunedFamily:
    """One tuned family: its choices per outer split, their spread and what they warn of."""

    name: str
    trials: int
    inner_folds: int
    metric: str
    splits: tuple[TunedSplit, ...]
    spread: tuple[Spread, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.spread)

    @property
    def mean_inner_score(self) -> float | None:
        scores = [s.inner_score for s in self.splits if s.inner_score is not None]
        return sum(scores) / len(scores) if scores else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "trials": self.trials,
            "inner_folds": self.inner_folds,
            "metric": self.metric,
            "mean_inner_score": self.mean_inner_score,
            "splits": [s.to_dict() for s in self.splits],
            "spread": [s.to_dict() for s in self.spread],
            "notes": list(self.notes),
        }


def _short(x: float) -> str:
    """Three significant digits, as :func:`~reglab._numbers.format_number` writes them."""
    return format_number(float(f"{x:.3g}"))


def _spread(dim: Mapping[str, Any], values: Sequence[float]) -> Spread | None:
    name, lo, hi = str(dim["name"]), float(dim["low"]), float(dim["high"])
    log = dim.get("scale") == "log"
    vals = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not vals:
        return None
    a, b = min(vals), max(vals)
    if log:
        center = math.exp(sum(math.log(v) for v in vals) / len(vals))
        share = math.log(b / a) / math.log(hi / lo) if hi > lo else 0.0
    else:
        center = sum(vals) / len(vals)
        share = (b - a) / (hi - lo) if hi > lo else 0.0
    return Spread(name, log, a, b, center, min(1.0, share), lo, hi)


def _side(value: float, sp: Spread) -> str:
    """Which end of the searched range ``value`` is nearer, on the range's scale."""
    lo, hi = sp.range_low, sp.range_high
    if sp.log:
        return "low" if math.log(value / lo) < math.log(hi / value) else "high"
    return "low" if value - lo < hi - value else "high"


def analyze_tuning(tuning: Mapping[str, Any] | None) -> tuple[TunedFamily, ...]:
    """Each tuned family's choices and spread (module docstring); ``()`` when not tuned."""
    if not isinstance(tuning, Mapping):
        return ()
    out = []
    trials = int(tuning.get("trials", 0))
    folds = int(tuning.get("inner_folds", 0))
    metric = str(tuning.get("metric", ""))
    for name, entry in (tuning.get("families") or {}).items():
        splits = tuple(
            TunedSplit(
                int(sid),
                {k: float(v) for k, v in (s.get("values") or {}).items()},
                s.get("inner_score"),
                int(s.get("complete", 0)),
                int(s.get("pruned", 0)),
                int(s.get("failed", 0)),
                tuple(s.get("edges", ())),
                int(s.get("ties", 0)),
            )
            for sid, s in sorted(entry.get("splits", {}).items(), key=lambda kv: int(kv[0]))
        )
        spread = []
        notes = []
        for dim in entry.get("dims", []):
            chosen = [s.values[dim["name"]] for s in splits if dim["name"] in s.values]
            sp = _spread(dim, chosen)
            if sp is None:
                continue
            spread.append(sp)
            if len(chosen) > 1 and sp.share >= SPREAD_SHARE:
                notes.append(
                    f"{name}: the {dim['name']} chosen on the {len(chosen)} outer splits covers "
                    f"{100 * sp.share:.0f}% of its searched range ({_short(sp.low)} to "
                    f"{_short(sp.high)}): the tuning does not pin it down (a flat optimum, too "
                    f"few trials, or both), so {name}'s score is that of tuning it, not of one "
                    "strength."
                )
            for side, bound in (("low", sp.range_low), ("high", sp.range_high)):
                at_edge = sum(
                    dim["name"] in s.edges and _side(s.values[dim["name"]], sp) == side
                    for s in splits
                )
                if at_edge and at_edge * 2 >= len(splits):
                    notes.append(
                        f"{name}: the chosen {dim['name']} lies at the {side} edge of its searched "
                        f"range [{_short(sp.range_low)}, {_short(sp.range_high)}] on {at_edge} "
                        f"of {len(splits)} outer splits; the best may lie "
                        f"{'below' if side == 'low' else 'above'} {_short(bound)} (widen it with "
                        f"--tune-range {dim['name']}=LO:HI)."
                    )
        flat = [s for s in splits if s.values and s.complete > 1
                and s.ties >= TIED_SHARE * min(COMPARED, s.complete - 1)]  # fmt: skip
        if flat and len(flat) * 2 >= len(splits):
            notes.append(
                f"{name}: on {len(flat)} of {len(splits)} outer splits, at least "
                f"{TIED_SHARE:.0%} of the trials compared with the chosen one were within noise "
                f"of it on the inner folds (corrected paired t-test, p ≥ {TIE_P}): the inner "
                "folds cannot tell those strengths apart, and which one was chosen is close to "
                "arbitrary."
            )
        unchosen = [s.split_id for s in splits if not s.values]
        if unchosen:
            notes.append(
                f"{name}: every tuning trial failed on outer split(s) "
                + ", ".join(str(i) for i in unchosen)
                + "; those splits have no score for it."
            )
        out.append(TunedFamily(name, trials, folds, metric, splits, tuple(spread), tuple(notes)))
    return tuple(out)


def tuning_notices(config: Mapping[str, Any], tuned: Sequence[TunedFamily]) -> list[Any]:
    """The protocol in one line, and one line naming the families with notes, as a study's
    notices (the notes themselves go with each family's table)."""
    from reglab.study.results import Notice

    tune = config.get("tune") or {}
    names = list(tune.get("families") or {})
    as_given = [
        str(s.get("name"))
        for s in config.get("strategies", [])
        if isinstance(s, Mapping) and "tuned" not in s and s.get("name") not in names
    ]
    text = (
        f"Nested tuning: on every outer split, the strengths of {', '.join(names)} were chosen "
        f"by {tune.get('trials')} trials on {tune.get('inner_folds')} inner folds of that "
        "split's training part"
        + (", starting at the strengths given" if tune.get("start") == "given" else "")
        + (
            " (retrained: the most regularized trial within one standard error of the best)"
            if tune.get("choose") == "1se"
            else ""
        )
        + " and retrained on it; the outer test rows never chose a strength, "
        "so the scores and verdicts compare tuned families"
        + (f" ({', '.join(as_given)} trained as given)" if as_given else "")
        + ". A family's score is that of tuning it, not of one strength; pick the final "
        "strengths on all the data with reglab tune."
    )
    out = [Notice("tuning", text, tuple(names))]
    noted = [t.name for t in tuned if t.notes]
    if noted:  # the details stay with each family's table
        out.append(Notice(
            "tuning",
            f"The tuned strengths of {', '.join(noted)} are poorly determined (their choices "
            "spread over the searched range, sit at its edge, or tie with other trials on the "
            "inner folds); the notes beside each family's table of chosen strengths say which.",
            tuple(noted),
        ))  # fmt: skip
    return out


TRY_STRONGER = "try a stronger setting or tune it."
"""How the study's notices end for an inert strategy (:mod:`reglab.study.results`)."""


def tuned_notices(notices: Sequence[Any], tuned: Sequence[TunedFamily]) -> tuple[Any, ...]:
    """The study's notices with the advice to tune removed where a family was tuned: there a
    strength that barely acts is what the tuning chose."""
    import dataclasses

    names = {t.name for t in tuned}
    out = []
    for n in notices:
        if n.text.endswith(TRY_STRONGER) and set(n.strategies) & names:
            text = n.text[: -len(TRY_STRONGER)] + (
                "the tuning chose it so on the inner folds, a sign that this technique does "
                "not help here."
            )
            n = dataclasses.replace(n, text=text)
        out.append(n)
    return tuple(out)
