"""What the report presents of a study: its :class:`~reglab.study.results.StudyResult`, plus
presentation only (colours, display scale, the finished members grouped for the figures).

Every fact the report states — scores, intervals, tests, verdicts, epochs, sparsity, failures,
the answer and its notices — comes from :func:`reglab.study.results.analyze`, the one analysis
that the terminal table and ``--json`` present too. Nothing here computes a statistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reglab.report.analysis import Metric, by_strategy, metric_names, strategy_colors
from reglab.stats import Comparison, Ranked, StrategySummary
from reglab.store import MemberRecord
from reglab.study.results import (
    BASELINE,
    StrategyResult,
    StudyLike,
    StudyResult,
    scored_at_chance,
)

__all__ = ["BASELINE", "Digest", "StudyLike", "digest"]


@dataclass(frozen=True)
class Digest:
    """A study result as the report lays it out.

    ``strategies`` lists the ranked strategies best first, then the unranked ones (too few
    finished splits, or every member failed). ``members`` holds the finished members by
    strategy (for the figures), ``failed`` the failed ones, ``chance`` those that learned
    nothing (their scores count; :data:`~reglab.study.results.LEARNED_NOTHING`).
    """

    result: StudyResult
    info: StudyLike
    metric: Metric
    metrics: tuple[Metric, ...]
    strategies: tuple[str, ...]
    members: dict[str, list[MemberRecord]]
    failed: tuple[MemberRecord, ...]
    colors: dict[str, str]
    feature_names: tuple[str, ...] | None
    scale: float = 1.0
    unit: str = ""
    chance: tuple[MemberRecord, ...] = ()
    """Members that learned nothing (at chance level): their test scores count."""

    @property
    def name(self) -> str:
        return self.result.name

    @property
    def ranking(self) -> list[Ranked]:
        return self.result.ranking

    @property
    def facts(self) -> dict[str, StrategyResult]:
        """Every strategy's facts (scores, epochs, sparsity, failures)."""
        return self.result.strategies

    @property
    def configs(self) -> dict[str, dict[str, Any]]:
        """Every strategy's stored settings."""
        return {name: s.config for name, s in self.result.strategies.items()}

    @property
    def baseline(self) -> str | None:
        """``"none"`` when it was scored, else ``None``."""
        s = self.result.strategies.get(BASELINE)
        return BASELINE if s is not None and self.metric.name in s.split_scores else None

    @property
    def vs_baseline(self) -> dict[str, Comparison]:
        return {c.strategy: c for c in self.result.comparisons}

    @property
    def scores(self) -> dict[str, dict[str, dict[Any, float]]]:
        """metric → strategy → {split_id: score}."""
        out: dict[str, dict[str, dict[Any, float]]] = {}
        for name, s in self.result.strategies.items():
            for metric, values in s.split_scores.items():
                out.setdefault(metric, {})[name] = dict(values)
        return out

    @property
    def summaries(self) -> dict[str, dict[str, StrategySummary]]:
        """metric → strategy → summary (mean and corrected interval, as shown)."""
        out: dict[str, dict[str, StrategySummary]] = {}
        for name, s in self.result.strategies.items():
            for metric, summary in s.metrics.items():
                out.setdefault(metric, {})[name] = summary
        return out

    @property
    def n_train(self) -> dict[Any, int]:
        scored = [*(m for ms in self.members.values() for m in ms), *self.chance]
        return {m.split_id: m.n_train for m in scored}

    @property
    def n_test(self) -> dict[Any, int]:
        scored = [*(m for ms in self.members.values() for m in ms), *self.chance]
        return {m.split_id: m.n_test for m in scored}

    @property
    def splits(self) -> list[Any]:
        return sorted(self.n_train)


def _scale(result: StudyResult, metric: Metric) -> tuple[float, str]:
    values = [
        v for s in result.strategies.values() for v in s.split_scores.get(metric.name, {}).values()
    ]
    if metric.higher_is_better and values and all(0.0 <= v <= 1.0 for v in values):
        return 100.0, "points"
    return 1.0, ""


def digest(
    result: StudyResult,
    info: StudyLike | None = None,
    *,
    feature_names: Sequence[str] | None = None,
) -> Digest:
    """Lay out ``result`` for the report.

    Args:
        result: the study's analysis.
        info: the stored study (for its name, dates and configuration); default: ``result``.
        feature_names: input feature names; default: those in ``result.metadata``.
    """
    members = list(result.members)
    done = [m for m in members if m.status == "done" and m.test_scores]
    chance = tuple(m for m in members if scored_at_chance(m))
    at_chance = {id(m) for m in chance}
    failed = tuple(m for m in members if m.status != "done" and id(m) not in at_chance)
    metric = Metric.of(result.primary)
    metrics = (metric, *(Metric.of(n) for n in metric_names(done) if n != metric.name))
    ranked = [r.strategy for r in result.ranking]
    names = tuple(dict.fromkeys([*ranked, *result.unranked]))
    if feature_names is None:
        stored = result.metadata.get("feature_names")
        feature_names = [str(n) for n in stored] if stored else None
    scale, unit = _scale(result, metric)
    source: Any = info if info is not None else result
    return Digest(
        result=result,
        info=source,
        metric=metric,
        metrics=metrics,
        strategies=names,
        members=by_strategy(done),
        failed=failed,
        chance=chance,
        colors=strategy_colors(list(names), BASELINE),
        feature_names=tuple(feature_names) if feature_names else None,
        scale=scale,
        unit=unit,
    )
