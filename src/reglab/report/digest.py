"""A study's results digested for the report: scores, intervals, tests, verdicts, facts.

:func:`digest` is where the report meets :mod:`reglab.stats`. Scores are paired by split id;
split sizes come from the members (the Nadeau–Bengio correction needs ``n_test/n_train``).
Strategies are ranked by their mean primary score; each is compared with the baseline
``"none"`` (one Holm family), every combined strategy with each of its parts present in the
study (another family), and the best with the runner-up (a single corrected test).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np

from reglab.errors import ConfigError
from reglab.report.analysis import (
    Metric,
    by_strategy,
    choose_metric,
    metric_names,
    split_scores,
    split_sizes,
    strategy_colors,
)
from reglab.stats import (
    Comparison,
    Ranked,
    StrategySummary,
    TTestResult,
    Verdict,
    combination_verdicts,
    compare,
    corrected_resampled_ttest,
    rank,
    strategy_parts,
    summarize_all,
)
from reglab.stats.ttest import Scores, SplitSizes
from reglab.store import MemberRecord

__all__ = ["BASELINE", "Digest", "StrategyFacts", "StudyLike", "digest"]

BASELINE = "none"


class StudyLike(Protocol):
    """What the report needs of a study: a :class:`~reglab.store.StudyInfo` has it.

    ``feature_names``, ``created_at`` and ``status`` are read when present; feature names are
    also looked up under ``metadata["feature_names"]``.
    """

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> Mapping[str, Any]: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class StrategyFacts:
    """Per-strategy facts beyond the scores (means over finished members).

    Attributes:
        gap: how much worse the primary metric is on test than on train (positive: overfit).
        stopped_epoch: epochs trained, counted from 1 (the early-stopping epoch, or all).
        best_epoch: median restored (best) epoch, counted from 1; NaN when not recorded.
        sparsity: layer → mean fraction of exactly-zero weights.
        wall_s: total training time of the strategy's members.
    """

    gap: float
    stopped_epoch: float
    best_epoch: float
    sparsity: dict[str, float]
    wall_s: float

    @property
    def mean_sparsity(self) -> float:
        """Unweighted mean over layers (NaN when no sparsity was stored)."""
        return float(np.mean(list(self.sparsity.values()))) if self.sparsity else math.nan


@dataclass(frozen=True)
class Digest:
    """Everything the report states about one study.

    ``strategies`` lists the ranked strategies best first, then those without a primary score
    (all members failed). ``scores``/``summaries`` are keyed by metric name then strategy.
    ``vs_baseline`` holds each strategy's Holm-adjusted comparison with ``baseline`` (empty
    without one); ``vs_runner_up`` the corrected test of best − runner-up.
    """

    name: str
    info: StudyLike
    metric: Metric
    metrics: tuple[Metric, ...]
    strategies: tuple[str, ...]
    members: dict[str, list[MemberRecord]]
    failed: tuple[MemberRecord, ...]
    scores: dict[str, dict[str, dict[int, float]]]
    summaries: dict[str, dict[str, StrategySummary]]
    ranking: tuple[Ranked, ...]
    baseline: str | None
    vs_baseline: dict[str, Comparison]
    verdicts: tuple[Verdict, ...]
    vs_runner_up: TTestResult | None
    n_train: dict[int, int]
    n_test: dict[int, int]
    facts: dict[str, StrategyFacts]
    configs: dict[str, dict[str, Any]]
    colors: dict[str, str]
    feature_names: tuple[str, ...] | None
    scale: float = 1.0
    unit: str = ""

    @property
    def best(self) -> str | None:
        return self.ranking[0].strategy if self.ranking else None

    @property
    def runner_up(self) -> str | None:
        return self.ranking[1].strategy if len(self.ranking) > 1 else None

    @property
    def splits(self) -> list[int]:
        return sorted(self.n_train)


def _facts(members: Sequence[MemberRecord], metric: Metric) -> StrategyFacts:
    train = split_scores(members, metric.name, which="train")
    test = split_scores(members, metric.name)
    common = [s for s in test if s in train]
    diffs = [train[s] - test[s] for s in common]
    gap = float(np.mean(diffs)) * (1 if metric.higher_is_better else -1) if diffs else math.nan
    stopped = [
        m.stopped_epoch + 1 if m.stopped_epoch is not None else m.epochs_run
        for m in members
        if m.stopped_epoch is not None or m.epochs_run > 0
    ]
    best = [m.best_epoch + 1 for m in members if m.best_epoch is not None]
    layers: dict[str, list[float]] = {}
    for m in members:
        for layer, frac in m.sparsity.items():
            if math.isfinite(frac):
                layers.setdefault(layer, []).append(frac)
    return StrategyFacts(
        gap=gap,
        stopped_epoch=float(np.mean(stopped)) if stopped else math.nan,
        best_epoch=float(np.median(best)) if best else math.nan,
        sparsity={k: float(np.mean(v)) for k, v in layers.items()},
        wall_s=float(sum(m.wall_s for m in members)),
    )


def _combinations(names: Sequence[str]) -> dict[str, tuple[str, ...]]:
    present = set(names)
    combos: dict[str, tuple[str, ...]] = {}
    for name in names:
        if "+" not in name:
            continue
        try:
            parts = strategy_parts(name)
        except ConfigError:
            continue
        kept = tuple(p for p in parts if p in present and p != name)
        if kept:
            combos[name] = kept
    return combos


def _scale(scores: Mapping[str, Mapping[int, float]], metric: Metric) -> tuple[float, str]:
    values = [v for s in scores.values() for v in s.values()]
    if metric.higher_is_better and values and all(0.0 <= v <= 1.0 for v in values):
        return 100.0, "points"
    return 1.0, ""


def digest(
    info: StudyLike,
    members: Sequence[MemberRecord],
    *,
    feature_names: Sequence[str] | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> Digest:
    """Digest a study's stored members for the report.

    Args:
        info: the stored study.
        members: its member records (finished and failed).
        feature_names: input feature names; default: the study's, then ``x0, x1, …``.
        alpha: family-wise significance level of the comparisons.
        confidence: coverage of every interval.
    """
    done = [m for m in members if m.status == "done"]
    failed = tuple(m for m in members if m.status != "done")
    groups = by_strategy(done)
    preferred = info.config.get("metric") if isinstance(info.config, Mapping) else None
    names = metric_names(done)
    metric = choose_metric(names, preferred if isinstance(preferred, str) else None)
    metrics = (metric, *(Metric.of(n) for n in names if n != metric.name))
    n_train, n_test = split_sizes(done)

    scores: dict[str, dict[str, dict[int, float]]] = {}
    summaries: dict[str, dict[str, StrategySummary]] = {}
    for mt in metrics:
        per = {s: split_scores(ms, mt.name) for s, ms in groups.items()}
        per = {s: v for s, v in per.items() if v}
        scores[mt.name] = per
        summaries[mt.name] = summarize_all(
            cast(Mapping[str, Scores], per),
            cast(SplitSizes, n_train),
            cast(SplitSizes, n_test),
            confidence=confidence,
            higher_is_better=mt.higher_is_better,
        )
    primary = cast(Mapping[str, Scores], scores.get(metric.name, {}))
    ranking = tuple(rank(summaries.get(metric.name, {}), metric.higher_is_better))
    ranked = [r.strategy for r in ranking]
    all_names = list(dict.fromkeys([*ranked, *groups, *(m.strategy for m in failed)]))

    kw: dict[str, Any] = {
        "n_train": n_train,
        "n_test": n_test,
        "higher_is_better": metric.higher_is_better,
        "alpha": alpha,
        "confidence": confidence,
    }
    baseline = BASELINE if BASELINE in primary else None
    vs_baseline: dict[str, Comparison] = {}
    if baseline is not None and len(primary) > 1:
        vs_baseline = {c.strategy: c for c in compare(primary, baseline, **kw)}
    combos = _combinations(ranked)
    verdicts = tuple(combination_verdicts(primary, combos, **kw)) if combos else ()
    vs_runner_up = None
    if len(ranking) > 1:
        a, b = primary[ranking[0].strategy], primary[ranking[1].strategy]
        if len(set(a) & set(b)) >= 2:
            vs_runner_up = corrected_resampled_ttest(
                a, b, kw["n_train"], kw["n_test"], confidence=confidence
            )

    configs = {s: dict(ms[0].strategy_config) for s, ms in by_strategy(members).items()}
    names_out = feature_names if feature_names is not None else getattr(info, "feature_names", None)
    scale, unit = _scale(scores.get(metric.name, {}), metric)
    return Digest(
        name=info.name,
        info=info,
        metric=metric,
        metrics=metrics,
        strategies=tuple(all_names),
        members=groups,
        failed=failed,
        scores=scores,
        summaries=summaries,
        ranking=ranking,
        baseline=baseline,
        vs_baseline=vs_baseline,
        verdicts=verdicts,
        vs_runner_up=vs_runner_up,
        n_train=n_train,
        n_test=n_test,
        facts={s: _facts(ms, metric) for s, ms in groups.items()},
        configs=configs,
        colors=strategy_colors(all_names, BASELINE),
        feature_names=None if names_out is None else tuple(str(n) for n in names_out),
        scale=scale,
        unit=unit,
    )
