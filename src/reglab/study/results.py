"""A study's results: per-strategy statistics, comparisons and verdicts, from stored members.

:func:`analyze` is a pure function of stored records (it imports no training code), used by
``reglab bench``/``show``/``report`` and :func:`reglab.bench` alike, so the terminal table,
the JSON and the HTML report always agree.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reglab.stats import (
    Comparison,
    Ranked,
    StrategySummary,
    Verdict,
    combination_verdicts,
    compare,
    rank,
    summarize,
)
from reglab.stats.metrics import METRIC_DIRECTIONS, bounded
from reglab.store.records import MemberRecord
from reglab.study.strategies import parts as strategy_parts

__all__ = [
    "HIGHER_IS_BETTER",
    "StrategyResult",
    "StudyResult",
    "analyze",
    "primary_metric",
]

HIGHER_IS_BETTER = METRIC_DIRECTIONS
"""Every metric reglab reports, with its direction (shared with the report)."""

BASELINE = "none"


def primary_metric(task: str) -> str:
    """The metric strategies are ranked by: accuracy (classification) or RMSE (regression)."""
    return "rmse" if task == "regression" else "accuracy"


@dataclass(frozen=True)
class StrategyResult:
    """One strategy over all its splits.

    Attributes:
        name: the strategy's name.
        metrics: metric → corrected summary (mean, 95% interval) of the test scores.
        split_scores: metric → {split_id: test score}.
        train_gap: mean over splits of how much better the primary score is on the training
            rows than on the test rows (positive: overfitting).
        mean_best_epoch, mean_stopped_epoch: mean over splits (None when unknown).
        sparsity: mean fraction of exactly-zero kernel weights.
        n_done, n_failed: members finished and failed.
        config: the strategy's settings.
    """

    name: str
    metrics: dict[str, StrategySummary]
    split_scores: dict[str, dict[Hashable, float]]
    train_gap: float
    mean_best_epoch: float | None
    mean_stopped_epoch: float | None
    sparsity: float
    n_done: int
    n_failed: int
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "split_scores": {
                k: {str(s): v for s, v in d.items()} for k, d in self.split_scores.items()
            },
            "train_gap": self.train_gap,
            "mean_best_epoch": self.mean_best_epoch,
            "mean_stopped_epoch": self.mean_stopped_epoch,
            "sparsity": self.sparsity,
            "members_done": self.n_done,
            "members_failed": self.n_failed,
            "config": self.config,
        }


@dataclass(frozen=True)
class StudyResult:
    """Everything a study concluded. Build it with :func:`analyze`.

    ``ranking`` orders strategies by the primary metric; ``comparisons`` test each strategy
    against ``"none"`` and ``verdicts`` each combined strategy against its parts (Nadeau–Bengio
    corrected t-tests, Holm-adjusted within each family).
    """

    name: str
    task: str
    primary: str
    ranking: list[Ranked]
    strategies: dict[str, StrategyResult]
    comparisons: list[Comparison]
    verdicts: list[Verdict]
    failures: list[tuple[str, int, str]]
    config: dict[str, Any]
    metadata: dict[str, Any]
    members: Sequence[MemberRecord] = field(repr=False, default=())

    @property
    def higher_is_better(self) -> bool:
        return HIGHER_IS_BETTER[self.primary]

    @property
    def winner(self) -> str | None:
        """The best-ranked strategy (None when nothing finished)."""
        return self.ranking[0].strategy if self.ranking else None

    def compare(self) -> list[Comparison]:
        """Each strategy against no regularization (``"none"``)."""
        return list(self.comparisons)

    def table(self) -> Any:
        """The ranked table as a pandas DataFrame (one row per strategy)."""
        import pandas as pd

        p_vs_none = {c.strategy: c.p_adjusted for c in self.comparisons}
        rows = []
        for r in self.ranking:
            s = self.strategies[r.strategy]
            row: dict[str, Any] = {"rank": r.rank, "strategy": r.strategy}
            for metric, summary in s.metrics.items():
                row[metric] = summary.mean
                row[f"{metric}_ci_low"] = summary.ci_low
                row[f"{metric}_ci_high"] = summary.ci_high
            row["p_vs_none"] = p_vs_none.get(r.strategy, math.nan)
            row["train_gap"] = s.train_gap
            row["stopped_epoch"] = s.mean_stopped_epoch
            row["sparsity"] = s.sparsity
            row["members"] = s.n_done
            row["failed"] = s.n_failed
            rows.append(row)
        return pd.DataFrame(rows).set_index("rank")

    def sentences(self) -> list[str]:
        """The answer in words: the winner (and ties), its margin over none and the runner-up,
        whether any strategy beats no regularization, and the combination verdicts."""
        if not self.ranking:
            return ["No member finished, so there is nothing to compare."]
        best = self.ranking[0]
        summary = best.summary
        tied = [r.strategy for r in self.ranking[1:] if r.rank == best.rank]
        m = self.primary
        lines = [
            f"Best: {best.strategy} with {m} {_fmt(m, summary.mean)} (95% CI "
            f"{_fmt(m, summary.ci_low)} to {_fmt(m, summary.ci_high)})"
            + (f", tied with {', '.join(tied)}." if tied else ".")
        ]
        comparisons = {c.strategy: c for c in self.comparisons}
        if best.strategy in comparisons:
            lines.append(f"Against no regularization: {comparisons[best.strategy].sentence}.")
        runner = next((r for r in self.ranking if r.rank != best.rank), None)
        if runner is not None:
            diff = summary.mean - runner.summary.mean
            lines.append(
                f"Runner-up: {runner.strategy} ({_fmt(m, runner.summary.mean)}, "
                f"{_fmt_diff(m, diff)} behind)."
            )
        if self.comparisons:
            better = [c.strategy for c in self.comparisons if c.outcome == "better"]
            worse = [c.strategy for c in self.comparisons if c.outcome == "worse"]
            if better:
                lines.append(
                    "Significantly better than no regularization: " + ", ".join(better) + "."
                )
            else:
                lines.append(
                    "No strategy is significantly better than no regularization on this data "
                    "(Holm-adjusted p ≥ 0.05 for every comparison)."
                )
            if worse:
                lines.append(
                    "Significantly worse than no regularization: " + ", ".join(worse) + "."
                )
        lines.extend(f"{v.sentence}." for v in self.verdicts)
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.name,
            "task": self.task,
            "primary_metric": self.primary,
            "winner": self.winner,
            "answer": self.sentences(),
            "members": len(self.members),
            "members_failed": len(self.failures),
            "wall_s": self.metadata.get("timings", {}).get("last run wall s"),
            "device": self.metadata.get("device"),
            "versions": self.metadata.get("environment", {}),
            "ranking": [
                {"rank": r.rank, "strategy": r.strategy, **self.strategies[r.strategy].to_dict()}
                for r in self.ranking
            ],
            "comparisons_vs_none": [_comparison_dict(c) for c in self.comparisons],
            "verdicts": [_comparison_dict(v) for v in self.verdicts],
            "failures": [{"strategy": s, "split": i, "error": e} for s, i, e in self.failures],
            "config": self.config,
            "metadata": self.metadata,
        }

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON (NaN written as null)."""
        out = Path(path)
        out.write_text(json.dumps(_clean(self.to_dict()), indent=2, default=str) + "\n")
        return out

    def report(self, path: str | Path) -> Path:
        """Write the self-contained HTML report of this study."""
        from reglab.report import render_report

        out = Path(path)
        out.write_text(render_report(self), encoding="utf-8")
        return out


def _comparison_dict(c: Comparison) -> dict[str, Any]:
    test = c.test
    return {
        "strategy": c.strategy,
        "reference": c.reference,
        "mean_diff": None if test is None else test.mean_diff,
        "p_value": None if test is None else test.p_value,
        "p_holm": c.p_adjusted,
        "significant": c.significant,
        "outcome": c.outcome,
        "sentence": c.sentence,
    }


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def _fmt(metric: str, value: float) -> str:
    if metric in ("accuracy", "balanced_accuracy"):
        return f"{100 * value:.1f}%"
    return f"{value:.4g}"


def _fmt_diff(metric: str, diff: float) -> str:
    if metric in ("accuracy", "balanced_accuracy"):
        return f"{100 * abs(diff):.1f} points"
    return f"{abs(diff):.4g}"


def analyze(
    name: str,
    records: Sequence[MemberRecord],
    *,
    task: str,
    config: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    strategy_order: Sequence[str] | None = None,
) -> StudyResult:
    """Statistics of a study from its stored member records (pure; no training code)."""
    primary = primary_metric(task)
    done = [r for r in records if r.status == "done" and r.test_scores]
    failures = [(r.strategy, r.split_id, r.error or "") for r in records if r.status == "failed"]
    names = list(strategy_order or [])
    for r in records:
        if r.strategy not in names:
            names.append(r.strategy)
    n_train: dict[Hashable, int] = {r.split_id: r.n_train for r in done}
    n_test: dict[Hashable, int] = {r.split_id: r.n_test for r in done}
    by_strategy: dict[str, list[MemberRecord]] = {n: [] for n in names}
    for r in done:
        by_strategy[r.strategy].append(r)

    results: dict[str, StrategyResult] = {}
    for strategy in names:
        members = by_strategy[strategy]
        n_failed = sum(1 for f in failures if f[0] == strategy)
        if not members:
            continue
        metrics = sorted({m for r in members for m in r.test_scores})
        split_scores: dict[str, dict[Hashable, float]] = {
            m: {
                r.split_id: float(r.test_scores[m])
                for r in members
                if m in r.test_scores and math.isfinite(r.test_scores[m])
            }
            for m in metrics
        }
        split_scores = {m: v for m, v in split_scores.items() if v}
        summaries = {
            m: _bounded(
                m,
                summarize(
                    split_scores[m],
                    n_train,
                    n_test,
                    higher_is_better=HIGHER_IS_BETTER.get(m, True),
                ),
            )
            for m in split_scores
        }
        sign = 1.0 if HIGHER_IS_BETTER[primary] else -1.0
        gaps = [
            sign * (r.train_scores[primary] - r.test_scores[primary])
            for r in members
            if primary in r.train_scores and primary in r.test_scores
        ]
        results[strategy] = StrategyResult(
            name=strategy,
            metrics=summaries,
            split_scores=split_scores,
            train_gap=float(np.mean(gaps)) if gaps else math.nan,
            mean_best_epoch=_mean_or_none(r.best_epoch for r in members),
            mean_stopped_epoch=_mean_or_none(r.stopped_epoch for r in members),
            sparsity=float(
                np.mean([np.mean(list(r.sparsity.values())) for r in members if r.sparsity])
            )
            if any(r.sparsity for r in members)
            else 0.0,
            n_done=len(members),
            n_failed=n_failed,
            config=dict(members[0].strategy_config),
        )

    primary_scores = {
        s: res.split_scores[primary] for s, res in results.items() if primary in res.split_scores
    }
    higher = HIGHER_IS_BETTER[primary]
    ranking = rank({s: results[s].metrics[primary] for s in primary_scores}, higher)
    comparisons: list[Comparison] = []
    verdicts: list[Verdict] = []
    usable: dict[str, Mapping[Hashable, float]] = {
        s: v for s, v in primary_scores.items() if len(v) >= 2
    }
    if BASELINE in usable and len(usable) > 1:
        comparisons = compare(
            usable, BASELINE, n_train=n_train, n_test=n_test, higher_is_better=higher
        )
    combos = {
        s: [p for p in strategy_parts(s) if p in usable]
        for s in usable
        if len(strategy_parts(s)) > 1
    }
    combos = {s: p for s, p in combos.items() if p}
    if combos:
        verdicts = combination_verdicts(
            usable, combos, n_train=n_train, n_test=n_test, higher_is_better=higher
        )
    return StudyResult(
        name=name,
        task=task,
        primary=primary,
        ranking=ranking,
        strategies=results,
        comparisons=comparisons,
        verdicts=verdicts,
        failures=failures,
        config=dict(config or {}),
        metadata=dict(metadata or {}),
        members=tuple(records),
    )


def _bounded(metric: str, summary: StrategySummary) -> StrategySummary:
    """Clip the interval of a metric that lives in [0, 1] (accuracy) to that range."""
    low, high = bounded(metric, summary.ci_low, summary.ci_high)
    return dataclasses.replace(summary, ci_low=low, ci_high=high)


def _mean_or_none(values: Any) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None
