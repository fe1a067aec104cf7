"""A study's results: the one analysis every presentation shows.

:func:`analyze` is a pure function of stored member records (no training code is imported; the
strategy grammar only for stores that lack the planned parts of each strategy) and
the only place where a study's facts are computed: per-strategy scores and intervals, epochs,
sparsity, failures, the comparisons, the combined-versus-parts verdicts, identical strategies,
notices, and the answer (:mod:`reglab.stats.answer`). The terminal table, ``--json``
(:meth:`StudyResult.to_dict`) and the HTML report only present a :class:`StudyResult`.

Epochs are counted from 1 wherever they are shown, as the engine counts them: a member's best
epoch is the one whose weights were restored, its stopped epoch the one at which early
stopping fired, ``None`` when it did not fire (a stored 0 means the same).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from reglab._outputs import check_output, write_atomic
from reglab.stats import (
    Answer,
    Comparison,
    ComparisonList,
    Ranked,
    StrategySummary,
    answer,
    rank,
    summarize,
    verdicts_with,
)
from reglab.stats.metrics import METRIC_DIRECTIONS, bounded, format_score
from reglab.stats.versus_reference import against_references
from reglab.store import Store
from reglab.store.records import MemberRecord
from reglab.study.reference import is_reference
from reglab.study.strength_curves import median_strengths

__all__ = [
    "BASELINE",
    "HIGHER_IS_BETTER",
    "NEAR_PERFECT",
    "PENALTY_SHARE",
    "SAME_PREDICTIONS",
    "SAME_SCORES",
    "Notice",
    "StrategyResult",
    "StudyLike",
    "StudyResult",
    "analyze",
    "analyze_study",
    "format_epoch",
    "load_result",
    "primary_metric",
]

HIGHER_IS_BETTER = METRIC_DIRECTIONS
"""Every metric reglab reports, with its direction (shared with the report)."""

BASELINE = "none"
"""The strategy without regularization that every other one is tested against."""

FEW_SPLITS = 5
"""Below this many splits (resamples) a study's tests have little power, and a notice says so."""

NEAR_PERFECT = 0.995
"""A mean test accuracy (or R²) at or above this raises the leakage notice."""

PENALTY_SHARE = 1e-3
"""A penalty that stays below this share of the data loss in every epoch barely acts."""

SAME_PREDICTIONS = 1e-4
"""Two members predict the same when no test prediction differs by more than this (times the
predictions' scale, at least 1): float noise of training, not an effect of the strategy."""

SAME_SCORES = 1e-5
"""Without stored predictions, two members count as the same when every test score agrees to
this relative tolerance."""

AT_CHANCE = 0.02
"""A member learned nothing when its test balanced accuracy is within this of chance (``1/K``
for ``K`` classes; a constant prediction scores exactly that), or its test R² at most this."""

LEARNS = 0.10
"""A strategy learns when its mean test balanced accuracy is at least this above chance (or its
mean R² at least this)."""

_PRIMARY_ORDER = ("accuracy", "balanced_accuracy", "rmse", "r2", "mae", "log_loss")


def primary_metric(task: str) -> str:
    """The metric strategies are ranked by: accuracy (classification) or RMSE (regression)."""
    return "rmse" if task == "regression" else "accuracy"


def format_epoch(value: float | None) -> str:
    """An epoch (or a mean of epochs) as shown: whole numbers plain, else one decimal.

    >>> format_epoch(5.0), format_epoch(12.4), format_epoch(None)
    ('5', '12.4', '–')
    """
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def member_best_epoch(r: MemberRecord) -> int | None:
    """The epoch whose weights the member kept, from 1 (``None`` when not recorded)."""
    return r.best_epoch if r.best_epoch else None


def member_stopped_epoch(r: MemberRecord) -> int | None:
    """The epoch at which early stopping fired, from 1; ``None`` when it did not fire."""
    return r.stopped_epoch if r.stopped_epoch else None


@dataclass(frozen=True)
class Notice:
    """Something the answer must not hide, in one line.

    ``kind`` is one of ``"failed"``, ``"learned-nothing"``, ``"low-power"``, ``"few-splits"``,
    ``"identical"``, ``"weak-penalty"``, ``"epoch-limit"``, ``"leakage"``, ``"optimistic"``;
    ``strategies`` are the ones it is about.
    """

    kind: str
    text: str
    strategies: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "strategies": list(self.strategies)}


@dataclass(frozen=True)
class StrategyResult:
    """One strategy over all its splits.

    Attributes:
        name: the strategy's name.
        metrics: metric → corrected summary (mean, 95% interval) of the test scores.
        split_scores: metric → {split_id: test score}.
        train_gap: mean over members of how much better the primary score is on the training
            rows than on the test rows (positive: overfitting).
        mean_best_epoch: mean over finished members of the restored (best) epoch, from 1.
        mean_stopped_epoch: mean over the members where early stopping fired of the epoch it
            fired at, from 1; ``None`` when it fired for none of them.
        mean_last_epoch: mean over finished members of the last epoch they trained, from 1
            (where early stopping fired, or the limit): over the same members as
            ``mean_best_epoch``, so never below it. The tables show ``best/last``.
        sparsity: mean fraction of exactly-zero kernel weights (over layers and members).
        n_done, n_failed: members finished and failed (a crash, a divergence).
        n_chance: members that learned nothing (test score at chance level while other
            strategies learn): not counted as finished, but their test scores count.
        config: the strategy's settings.
        n_stopped: finished members where early stopping fired.
        n_at_limit: finished members (and those at chance level) that ran into the epoch limit
            with early stopping on.
        split_epochs: split_id → (best epoch, stopped epoch) of the split's member.
        layer_sparsity: layer → mean fraction of exact zeros.
        wall_s: the members' training time.
        same_as: the strategy whose results this one repeats on every split, if any;
            ``same_by`` how that was told: ``"predictions"`` (test predictions within
            :data:`SAME_PREDICTIONS`) or ``"scores"`` (no predictions loaded; every test score
            within :data:`SAME_SCORES`).
        errors: why its failed members failed.
        strengths: scheduled strengths' median value in effect per epoch, by curve name
            (:mod:`reglab.study.strength_curves`); empty for constant strategies.
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
    n_stopped: int = 0
    n_at_limit: int = 0
    split_epochs: dict[Hashable, tuple[int | None, int | None]] = field(default_factory=dict)
    layer_sparsity: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    same_as: str | None = None
    same_by: str | None = None
    errors: tuple[str, ...] = ()
    strengths: dict[str, tuple[float, ...]] = field(default_factory=dict)
    mean_last_epoch: float | None = None
    n_chance: int = 0

    @property
    def n_members(self) -> int:
        return self.n_done + self.n_failed + self.n_chance

    @property
    def n_scored(self) -> int:
        """Members whose test scores count: finished, or at chance level."""
        return self.n_done + self.n_chance

    @property
    def all_failed(self) -> bool:
        """Every member of this strategy failed."""
        return self.n_done == 0 and self.n_failed > 0

    def epochs_text(self) -> str:
        """``best/last`` as every table shows it, both means over the same members:
        ``"12/22"``, ``"83/96 (2 of 5)"`` (early stopping fired for 2 of the 5; the others
        trained to the limit)."""
        text = f"{format_epoch(self.mean_best_epoch)}/{format_epoch(self.mean_last_epoch)}"
        if 0 < self.n_stopped < self.n_done:
            text += f" ({self.n_stopped} of {self.n_done})"
        return text

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
            "mean_last_epoch": self.mean_last_epoch,
            "members_stopped_early": self.n_stopped,
            "members_at_epoch_limit": self.n_at_limit,
            "split_epochs": {
                str(s): {"best": b, "stopped": st} for s, (b, st) in self.split_epochs.items()
            },
            "sparsity": self.sparsity,
            "layer_sparsity": self.layer_sparsity,
            "members_done": self.n_done,
            "members_failed": self.n_failed,
            "members_at_chance": self.n_chance,
            "all_failed": self.all_failed,
            "identical_to": self.same_as,
            "identical_by": self.same_by,
            "wall_s": self.wall_s,
            "errors": list(self.errors),
            "config": self.config,
            **(
                {"strengths_in_effect": {k: list(v) for k, v in self.strengths.items()}}
                if self.strengths
                else {}
            ),
        }


@dataclass(frozen=True)
class StudyResult:
    """Everything a study concluded. Build it with :func:`analyze`.

    ``ranking`` orders the strategies scored on enough splits by the primary metric;
    ``unranked`` lists the others (too few finished splits, or every member failed).
    ``comparisons`` test each strategy against ``"none"`` and ``verdicts`` each combined
    strategy against its parts (Nadeau–Bengio corrected t-tests, Holm-adjusted within each
    family); ``answer`` is the rule's conclusion and ``notices`` what it must not hide.
    """

    name: str
    task: str
    primary: str
    ranking: list[Ranked]
    strategies: dict[str, StrategyResult]
    comparisons: ComparisonList
    verdicts: ComparisonList
    failures: list[tuple[str, int, str]]
    config: dict[str, Any]
    metadata: dict[str, Any]
    members: Sequence[MemberRecord] = field(repr=False, default=())
    answer: Answer = field(default_factory=lambda: Answer("empty", ""))
    notices: tuple[Notice, ...] = ()
    unranked: tuple[str, ...] = ()
    vs_best: ComparisonList = field(default_factory=ComparisonList)
    store_path: Path | None = field(default=None, repr=False)
    """The SQLite file the study was read from, when there is one (outputs must not be it)."""
    references: dict[str, StrategyResult] = field(default_factory=dict)
    """The reference rows (:mod:`reglab.study.reference`): classical models fit on the same
    splits, never ranked among the strategies nor recommended."""
    vs_reference: ComparisonList = field(default_factory=ComparisonList)
    """Each network strategy against the best reference (one Holm family)."""
    reference_sentence: str | None = None
    """Whether any network strategy beats the best reference, in words."""
    best_reference: str | None = None
    tuning: tuple[Any, ...] = ()
    """A nested study's tuned families (:class:`~reglab.study.nested_result.TunedFamily`)."""

    def __repr__(self) -> str:
        splits = {r.split_id for r in self.members}
        return (
            f"<StudyResult {self.name!r}: {len(self.strategies)} strategies × {len(splits)} "
            f"splits, {len(self.members)} members ({self.n_failed} failed); "
            f"{self.answer.headline}>"
        )

    @property
    def higher_is_better(self) -> bool:
        return HIGHER_IS_BETTER.get(self.primary, True)

    @property
    def headline(self) -> str:
        """The answer's first line."""
        return self.answer.headline

    @property
    def winner(self) -> str | None:
        """The recommended strategy (``None`` when the data cannot say)."""
        return self.answer.recommended

    @property
    def n_failed(self) -> int:
        """Members that failed."""
        return len(self.failures)

    @property
    def all_failed(self) -> bool:
        """Every member of the study failed (at least one was stored)."""
        return bool(self.members) and all(r.status == "failed" for r in self.members)

    @property
    def failure_summary(self) -> str | None:
        """One sentence on the failed members (``None`` when none failed): how many, and per
        strategy how many of its members with the most common reason."""
        if not self.failures:
            return None
        per = []
        for name, s in self.strategies.items():
            if not s.n_failed:
                continue
            reason = _common(e for e in s.errors if not e.startswith(LEARNED_NOTHING))
            per.append(
                f"{name} ({s.n_failed} of {s.n_members}" + (f": {reason})" if reason else ")")
            )
        n, total = len(self.failures), len(self.members)
        head = (
            f"All {total} members failed" if self.all_failed else f"{n} of {total} members failed"
        )
        return f"{head}: {'; '.join(per)}."

    def compare(self) -> ComparisonList:
        """Each strategy against no regularization (``"none"``); ``.to_frame()`` for a table."""
        return ComparisonList(self.comparisons)

    def table(self) -> Any:
        """The ranked table as a pandas DataFrame (one row per strategy, unranked ones last
        with rank ``None``)."""
        import pandas as pd

        p_vs_none = {c.strategy: c.p_adjusted for c in self.comparisons}
        rows = []
        ranks: list[tuple[int | None, str]] = [(r.rank, r.strategy) for r in self.ranking]
        ranks += [(None, name) for name in self.unranked]
        for place, name in ranks:
            s = self.strategies[name]
            row: dict[str, Any] = {"rank": place, "strategy": name}
            for metric, summary in s.metrics.items():
                row[metric] = summary.mean
                row[f"{metric}_ci_low"] = summary.ci_low
                row[f"{metric}_ci_high"] = summary.ci_high
            row["p_vs_none"] = p_vs_none.get(name, math.nan)
            row["train_gap"] = s.train_gap
            row["best_epoch"] = s.mean_best_epoch
            row["stopped_epoch"] = s.mean_stopped_epoch
            row["sparsity"] = s.sparsity
            row["members"] = s.n_done
            row["failed"] = s.n_failed
            row["identical_to"] = s.same_as
            row["reference"] = False
            rows.append(row)
        vs_ref = {c.strategy: c.p_adjusted for c in self.vs_reference}
        for name, s in self.references.items():
            row = {"rank": None, "strategy": name}
            for metric, summary in s.metrics.items():
                row[metric] = summary.mean
                row[f"{metric}_ci_low"] = summary.ci_low
                row[f"{metric}_ci_high"] = summary.ci_high
            row.update(members=s.n_done, failed=s.n_failed, reference=True)
            rows.append(row)
        for row in rows:
            row["p_vs_best_reference"] = vs_ref.get(row["strategy"], math.nan)
        return pd.DataFrame(rows).set_index("rank")

    def sentences(self) -> list[str]:
        """The answer in words: its first line and details, the notices, the verdicts."""
        lines = list(self.answer.lines)
        if self.reference_sentence:
            lines.append(self.reference_sentence)
        lines.extend(n.text for n in self.notices)
        lines.extend(f"{v.sentence}." for v in self.verdicts)
        return lines

    def to_dict(self) -> dict[str, Any]:
        places: list[tuple[int | None, str]] = [(r.rank, r.strategy) for r in self.ranking]
        places += [(None, name) for name in self.unranked]
        return {
            "study": self.name,
            "task": self.task,
            "primary_metric": self.primary,
            "headline": self.headline,
            "recommended": self.answer.recommended,
            "tests": TESTS,
            "answer": self.sentences(),
            "decision": self.answer.to_dict(),
            "notices": [n.to_dict() for n in self.notices],
            "members": len(self.members),
            "members_failed": self.n_failed,
            "all_failed": self.all_failed,
            "failure_summary": self.failure_summary,
            "wall_s": self.metadata.get("timings", {}).get("last run wall s"),
            "device": self.metadata.get("device"),
            "versions": self.metadata.get("environment", {}),
            "ranking": [
                {"rank": place, "strategy": name, **self.strategies[name].to_dict()}
                for place, name in places
            ],
            "comparisons_vs_none": [_comparison_dict(c) for c in self.comparisons],
            "comparisons_vs_best": [_comparison_dict(c) for c in self.vs_best],
            "references": [self.references[n].to_dict() for n in self.references],
            "best_reference": self.best_reference,
            "reference_answer": self.reference_sentence,
            "comparisons_vs_reference": [_comparison_dict(c) for c in self.vs_reference],
            "verdicts": [_comparison_dict(v) for v in self.verdicts],
            **({"tuning": [t.to_dict() for t in self.tuning]} if self.tuning else {}),
            "failures": [{"strategy": s, "split": i, "error": e} for s, i, e in self.failures],
            "config": self.config,
            "metadata": self.metadata,
        }

    def inputs(self) -> dict[str, Path | None]:
        """What the study read (its store and data file), which no output may replace."""
        source = str(self.config.get("data", {}).get("source") or "")
        data = Path(source) if source and Path(source).is_file() else None
        return {"the store": self.store_path, "the data file": data}

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON (NaN written as null), atomically.

        Refused with :class:`~reglab.errors.ConfigError`, before anything is written, when
        ``path`` is the study's store or data file, a directory or a special file.
        """
        out = check_output("path", path, inputs=self.inputs(), writes="json")
        text = json.dumps(_clean(self.to_dict()), indent=2, default=str) + "\n"
        return write_atomic(out, text)

    def report(self, path: str | Path) -> Path:
        """Write the self-contained HTML report of this study, atomically (``path`` is checked
        as in :meth:`to_json`)."""
        from reglab.report import render_report

        out = check_output("path", path, inputs=self.inputs(), writes="html")
        return write_atomic(out, render_report(self))


TESTS = (
    "Every comparison: the Nadeau-Bengio corrected resampled paired t-test, two-sided, over "
    "the splits both strategies finished (se = sd(d)·sqrt(1/n + n_test/n_train), df = n - 1); "
    "ci: its interval of the mean difference (a - b, in the metric's units). p_holm: "
    "Holm-adjusted within its list (comparisons_vs_none, comparisons_vs_best, "
    "comparisons_vs_reference, verdicts), each list one family; significant: p_holm < alpha."
)
"""What the ``--json`` output's comparisons are, said once at its top level."""


def _comparison_dict(c: Comparison) -> dict[str, Any]:
    test = c.test
    return {
        "strategy": c.strategy,
        "reference": c.reference,
        "mean_diff": None if test is None else test.mean_diff,
        "ci": None if test is None else list(test.ci),
        "confidence": None if test is None else test.confidence,
        "se": None if test is None else test.se,
        "df": None if test is None else test.df,
        "n_splits": None if test is None else test.n,
        "p_value": None if test is None else test.p_value,
        "p_holm": c.p_adjusted,
        "significant": c.significant,
        "outcome": c.outcome,
        "sentence": c.sentence,
        **({"note": test.note} if test is not None and test.note else {}),
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


# -- the analysis ------------------------------------------------------------------------------


class StudyLike(Protocol):
    """What :func:`analyze_study` needs of a study: a :class:`~reglab.store.StudyInfo` has it.

    ``feature_names`` is read when present (else ``metadata["feature_names"]``).
    """

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> Mapping[str, Any]: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...


def load_result(store: Store, name: str) -> StudyResult:
    """The analysis of study ``name`` in ``store``: every member, with its test predictions
    (so identical strategies are told by what they predict). The terminal, ``--json`` and the
    report all read a stored study through here."""
    result = analyze_study(store.get_study(name), store.load_members(name, with_predictions=True))
    return dataclasses.replace(result, store_path=store.path)


def analyze_study(
    info: StudyLike, members: Sequence[MemberRecord], *, alpha: float = 0.05
) -> StudyResult:
    """:func:`analyze` of a stored study: task, strategy order and feature names from ``info``.

    Load the members with predictions (``Store.load_members(name, with_predictions=True)``) so
    that identical strategies are told by their test predictions, not only their scores.
    """
    config = dict(info.config) if isinstance(info.config, Mapping) else {}
    metadata = dict(info.metadata) if isinstance(info.metadata, Mapping) else {}
    names = getattr(info, "feature_names", None) or metadata.get("feature_names")
    data = config.get("data")
    task = data.get("task") if isinstance(data, Mapping) else None
    order = [
        s["name"]
        for s in config.get("strategies", [])
        if isinstance(s, Mapping) and isinstance(s.get("name"), str)
    ]
    result = analyze(
        info.name,
        members,
        task=str(task or "multiclass"),
        config=config,
        metadata={**metadata, "feature_names": [str(n) for n in names or ()]},
        strategy_order=order,
        parts=metadata.get("strategy_parts"),
        alpha=alpha,
    )
    if "tune" not in config:
        return result
    if not isinstance(config["tune"].get("families"), Mapping):  # a reglab tune search
        return dataclasses.replace(result, notices=(_search_notice(result), *result.notices))
    from reglab.study.nested_result import analyze_tuning, tuned_notices, tuning_notices

    tuned = analyze_tuning(metadata.get("tuning"))
    notices = (*tuning_notices(config, tuned), *tuned_notices(result.notices, tuned))
    return dataclasses.replace(result, tuning=tuned, notices=notices)


def analyze(
    name: str,
    records: Sequence[MemberRecord],
    *,
    task: str,
    config: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    strategy_order: Sequence[str] | None = None,
    parts: Mapping[str, Sequence[str]] | None = None,
    alpha: float = 0.05,
) -> StudyResult:
    """Everything a study concluded, from its stored member records (pure; no training code).

    Args:
        name: the study's name.
        records: its members, finished and failed (with ``test_pred`` when loaded with
            predictions, which decides identical strategies).
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        config: the study's configuration; ``config["metric"]`` picks the primary metric and
            ``config["train"]`` (``epochs``, ``patience``) tells the epoch limit.
        metadata: how it ran (kept as is).
        strategy_order: how to list strategies (the rest follow in order of appearance).
        parts: strategy → the strategies it combines, as planned (stored by the study run
            under ``metadata["strategy_parts"]``); a strategy not listed is split by the
            strategy grammar's own rule (:func:`reglab.study.strategies.parts`).
        alpha: family-wise significance level of every test.
    """
    config = dict(config or {})
    ref_records = [r for r in records if is_reference(r.strategy_config)]
    stored = [r for r in records if not is_reference(r.strategy_config)]
    stored, learned_nothing = _learned_nothing(stored, task, config)
    # The statistics count resamples: seed copies of a split are averaged there first.
    records = by_resample(stored, config)
    done = [r for r in records if r.status == "done" and r.test_scores]
    failures = [
        (r.strategy, r.split_id, r.error or "")
        for r in records
        if r.status == "failed" and not scored_at_chance(r)
    ]  # members at chance level are outcomes, counted in their strategies (_strategy)
    names = list(dict.fromkeys([*(strategy_order or []), *(r.strategy for r in records)]))
    names = [n for n in names if any(r.strategy == n for r in records)]
    primary = _primary(task, config, done)
    sized = [r for r in records if r.test_scores]  # finished, or at chance level
    n_train: dict[Hashable, int] = {r.split_id: max(1, r.n_train) for r in sized}
    n_test: dict[Hashable, int] = {r.split_id: max(1, r.n_test) for r in sized}
    limit = _epoch_limit(config)
    by_strategy = {n: [r for r in records if r.strategy == n] for n in names}
    results = {
        n: _strategy(n, ms, primary, n_train, n_test, limit) for n, ms in by_strategy.items()
    }

    higher = HIGHER_IS_BETTER.get(primary, True)
    scored = [n for n in names if results[n].split_scores.get(primary)]
    most = max((len(results[n].split_scores[primary]) for n in scored), default=0)
    enough = min(2, most)
    rankable = [n for n in scored if len(results[n].split_scores[primary]) >= enough]
    ranking = rank({n: results[n].metrics[primary] for n in rankable}, higher)
    unranked = tuple(n for n in names if n not in rankable)

    planned = {str(k): tuple(str(p) for p in v) for k, v in (parts or {}).items()}

    def parts_of(n: str) -> tuple[str, ...]:
        return planned[n] if n in planned else _parts(n)

    def simplicity(n: str) -> int:
        return 0 if n == BASELINE else len(parts_of(n))

    done_by = {n: [r for r in ms if r.status == "done" and r.test_scores]
               for n, ms in by_strategy.items()}  # fmt: skip
    same_as, evidence = _identical(scored, done_by, simplicity)
    results = {
        n: dataclasses.replace(s, same_as=same_as.get(n), same_by=evidence.get(n))
        for n, s in results.items()
    }
    scores = {n: results[n].split_scores[primary] for n in scored}
    summaries = {n: results[n].metrics[primary] for n in scored}
    kw: dict[str, Any] = {
        "n_train": n_train,
        "n_test": n_test,
        "higher_is_better": higher,
        "alpha": alpha,
    }
    decision = answer(
        scores,
        summaries,
        metric=primary,
        baseline=BASELINE,
        same_as=same_as,
        simplicity=simplicity,
        **kw,
    )
    testable = [n for n in scored if len(scores[n]) >= 2]
    combos = {n: [p for p in parts_of(n) if p in testable and p != n] for n in testable}
    combos = {n: p for n, p in combos.items() if p and parts_of(n) != (n,)}
    verdicts = (
        verdicts_with({n: scores[n] for n in testable}, combos, same_as=same_as, **kw)
        if combos
        else ComparisonList()
    )
    result = StudyResult(
        name=name,
        task=task,
        primary=primary,
        ranking=ranking,
        strategies=results,
        comparisons=decision.vs_baseline,
        verdicts=verdicts,
        failures=failures,
        config=config,
        metadata=dict(metadata or {}),
        members=tuple(stored),
        answer=decision,
        unranked=unranked,
        vs_best=decision.vs_best,
    )
    if learned_nothing is not None:
        result = dataclasses.replace(
            result, answer=learned_nothing, vs_best=ComparisonList(), verdicts=ComparisonList()
        )
    notices = _notices(result, scored, enough, same_as, limit, done_by)
    result = dataclasses.replace(result, notices=tuple(notices))
    return _with_references(result, ref_records, scores, summaries, kw) if ref_records else result


def _with_references(
    result: StudyResult,
    records: Sequence[MemberRecord],
    scores: Mapping[str, Mapping[Hashable, float]],
    summaries: Mapping[str, StrategySummary],
    kw: Mapping[str, Any],
) -> StudyResult:
    """The reference rows' results and the networks' comparison with the best of them
    (:func:`reglab.stats.versus_reference.against_references`)."""
    primary = result.primary
    n_train = {**{r.split_id: max(1, r.n_train) for r in records}, **kw["n_train"]}
    n_test = {**{r.split_id: max(1, r.n_test) for r in records}, **kw["n_test"]}
    names = list(dict.fromkeys(r.strategy for r in records))
    refs = {
        n: _strategy(n, [r for r in records if r.strategy == n], primary, n_train, n_test, None)
        for n in names
    }
    ref_scores = {n: s.split_scores.get(primary, {}) for n, s in refs.items()}
    sentence, comps, best = against_references(
        scores,
        ref_scores,
        {**summaries, **{n: s.metrics[primary] for n, s in refs.items() if primary in s.metrics}},
        metric=primary,
        n_train=n_train,
        n_test=n_test,
        higher_is_better=kw["higher_is_better"],
        alpha=kw["alpha"],
    )
    broken = {n: s for n, s in refs.items() if s.n_failed}
    failed = []
    if broken:
        first = next(iter(broken.values()))
        failed.append(Notice(
            "failed",
            "Reference rows failed on some splits: "
            + ", ".join(f"{n} ({s.n_failed} of {s.n_members})" for n, s in broken.items())
            + f", for example {_common(first.errors)}; their results are over the other splits.",
            tuple(broken),
        ))  # fmt: skip
    return dataclasses.replace(
        result,
        references=refs,
        vs_reference=comps,
        reference_sentence=sentence,
        best_reference=best,
        notices=(*result.notices, *failed),
    )


# -- members that learned nothing ----------------------------------------------------------------


def _chance(task: str, config: Mapping[str, Any]) -> tuple[str, float, str] | None:
    """``(metric, chance level, its words)``: balanced accuracy ``1/K`` for classification
    (``K`` from the study's data), R² 0 for regression; ``None`` when ``K`` is unknown."""
    if task == "regression":
        return "r2", 0.0, "R² 0, the score of predicting the mean"
    data = config.get("data")
    classes = data.get("classes") if isinstance(data, Mapping) else None
    k = len(classes) if isinstance(classes, Sequence) and not isinstance(classes, str) else 0
    if task == "binary":
        k = 2
    if k < 2:
        return None
    return "balanced_accuracy", 1.0 / k, f"chance for {k} classes, 1/{k}"


SELECTED_HERE = "the columns were selected on these same rows"
"""How a refit study's data notices say its columns were chosen on its own splits
(:func:`reglab.study.select.select_features`); its answer then says its scores are
optimistic."""

LEARNED_NOTHING = "learned nothing"
"""How the error of a member at chance level begins (:func:`_learned_nothing`)."""


def scored_at_chance(record: MemberRecord) -> bool:
    """Whether ``record`` is a member marked at chance level by :func:`analyze` (its test
    scores count in its strategy's; it is no failure)."""
    return record.status == "failed" and (record.error or "").startswith(LEARNED_NOTHING)


def _learned_nothing(
    records: Sequence[MemberRecord], task: str, config: Mapping[str, Any]
) -> tuple[list[MemberRecord], Answer | None]:
    """Members at chance level count as failed while other strategies learn; when no strategy
    learns, the answer says that instead of naming a strategy.

    A member is at chance when its test balanced accuracy is at most ``1/K +`` :data:`AT_CHANCE`
    (regression: R² at most :data:`AT_CHANCE`): it predicts (nearly) one class for every row, as
    after a learning rate or penalty far too large that did not make the loss explode. A
    strategy learns when its members' mean is at least :data:`LEARNS` above chance.
    """
    records = list(records)
    level = _chance(task, config)
    done = [r for r in records if r.status == "done" and r.test_scores]
    if level is None or not done:
        return records, None
    metric, chance, words = level

    def score(r: MemberRecord) -> float | None:
        v = r.test_scores.get(metric)
        return float(v) if v is not None and math.isfinite(v) else None

    at_chance = {id(r) for r in done if (v := score(r)) is not None and v <= chance + AT_CHANCE}
    if not at_chance:
        return records, None
    means: dict[str, list[float]] = {}
    for r in done:
        if (v := score(r)) is not None:
            means.setdefault(r.strategy, []).append(v)
    best_name, best = max(((n, float(np.mean(v))) for n, v in means.items()), key=lambda t: t[1])
    show = (lambda v: f"{100 * v:.1f}%") if metric != "r2" else (lambda v: f"{v:.2f}")
    label = "balanced accuracy" if metric != "r2" else "R²"
    if best < chance + LEARNS:
        if len(at_chance) < len(done):
            return records, None  # some learned a little: the ordinary rule speaks
        headline = (
            "No strategy learned anything: every finished member's test "
            f"{label} is at chance level ({words}), so this study cannot say which "
            "regularization helps; check the "
            "learning rate (--lr), the epochs and the target."
        )
        return records, Answer("nothing-learned", headline)
    out = []
    for r in records:
        if id(r) in at_chance:
            v = score(r)
            error = (
                f"{LEARNED_NOTHING}: test {label} {show(v or 0.0)} is at chance level ({words}) "
                f"while {best_name} reaches {show(best)}; try a smaller lr or penalty"
            )
            r = dataclasses.replace(r, status="failed", error=error)
        out.append(r)
    return out, None


def _primary(task: str, config: Mapping[str, Any], done: Sequence[MemberRecord]) -> str:
    stored = {m for r in done for m in r.test_scores}
    preferred = config.get("metric")
    if isinstance(preferred, str) and preferred in stored:
        return preferred
    default = primary_metric(task)
    if default in stored or not stored:
        return default
    return next((m for m in _PRIMARY_ORDER if m in stored), sorted(stored)[0])


def _epoch_limit(config: Mapping[str, Any]) -> int | None:
    """The epoch limit when early stopping was on (``None`` when off or unknown)."""
    train = config.get("train")
    if not isinstance(train, Mapping) or train.get("patience") is None:
        return None
    epochs = train.get("epochs")
    return int(epochs) if isinstance(epochs, int | float) else None


def resample_ids(records: Sequence[MemberRecord], config: Mapping[str, Any]) -> dict[int, int]:
    """Split id → the resample it repeats, for a study whose splits were trained with several
    member seeds (``config["member seeds"] = K``, :func:`reglab.study.select.select_features`):
    seed ``k`` of split ``s`` is stored under split id ``s + k·J``, and all ``K`` train and test
    on the same rows. Empty for every other study.

    The ``K`` scores of a split share its rows, so they are one observation of the resampling
    variance, not ``K``: the corrected t-test's ``1/J + n_test/n_train`` and every standard
    error count ``J`` splits, each scored by the mean of its seeds.

    >>> class R:  # the two fields read here
    ...     def __init__(self, s): self.split_id = s
    >>> resample_ids([R(s) for s in range(6)], {"member seeds": 2})
    {0: 0, 1: 1, 2: 2, 3: 0, 4: 1, 5: 2}
    >>> resample_ids([R(s) for s in range(6)], {})
    {}
    """
    seeds = config.get("member seeds")
    if not isinstance(seeds, int) or seeds < 2:
        return {}
    ids = sorted({int(r.split_id) for r in records})
    n, left = divmod(len(ids), seeds)
    if left or ids != list(range(n * seeds)):  # not the layout seed copies make
        return {}
    return {s: s % n for s in ids}


def by_resample(
    records: Sequence[MemberRecord],
    config: Mapping[str, Any],
    ids: Mapping[int, int] | None = None,
) -> list[MemberRecord]:
    """``records`` with every seed copy's split id replaced by its resample's (``ids``, by
    default :func:`resample_ids` of ``records``); the same list for one seed per split."""
    ids = resample_ids(records, config) if ids is None else ids
    if not ids:
        return list(records)
    return [
        r
        if ids.get(r.split_id, r.split_id) == r.split_id
        else dataclasses.replace(r, split_id=ids[r.split_id])
        for r in records
    ]


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def _strategy(
    name: str,
    members: Sequence[MemberRecord],
    primary: str,
    n_train: Mapping[Hashable, int],
    n_test: Mapping[Hashable, int],
    limit: int | None,
) -> StrategyResult:
    done = [r for r in members if r.status == "done" and r.test_scores]
    failed = [r for r in members if r.status == "failed"]
    # A member that learned nothing is an outcome of its strategy, not a missing one: its
    # test scores count (leaving them out would rank the strategy by its lucky splits).
    chance = [r for r in failed if r.test_scores and scored_at_chance(r)]
    scored = [*done, *chance]
    metrics = sorted({m for r in scored for m in r.test_scores})
    split_scores: dict[str, dict[Hashable, float]] = {}
    for m in metrics:
        per: dict[Hashable, list[float]] = {}
        for r in scored:
            v = r.test_scores.get(m)
            if v is not None and math.isfinite(v):
                per.setdefault(r.split_id, []).append(float(v))
        if per:
            split_scores[m] = {s: float(np.mean(v)) for s, v in sorted(per.items())}
    summaries = {
        m: _bounded(
            m,
            _no_variance(
                m,
                summarize(v, n_train, n_test, higher_is_better=METRIC_DIRECTIONS.get(m, True)),
                done,
            ),
        )
        for m, v in split_scores.items()
    }
    sign = 1.0 if HIGHER_IS_BETTER.get(primary, True) else -1.0
    gaps = [
        sign * (r.train_scores[primary] - r.test_scores[primary])
        for r in done
        if primary in r.train_scores and primary in r.test_scores
    ]
    layers: dict[str, list[float]] = {}
    for r in done:
        for layer, frac in r.sparsity.items():
            if math.isfinite(frac):
                layers.setdefault(layer, []).append(frac)
    per_member = [np.mean(list(r.sparsity.values())) for r in done if r.sparsity]
    stopped = [member_stopped_epoch(r) for r in done]
    at_limit = (
        sum(1 for r in scored if member_stopped_epoch(r) is None and r.epochs_run >= limit)
        if limit is not None
        else 0
    )
    return StrategyResult(
        name=name,
        metrics=summaries,
        split_scores=split_scores,
        train_gap=float(np.mean(gaps)) if gaps else math.nan,
        mean_best_epoch=_mean(member_best_epoch(r) for r in done),
        mean_stopped_epoch=_mean(stopped),
        mean_last_epoch=_mean(member_stopped_epoch(r) or r.epochs_run for r in done),
        sparsity=float(np.mean(per_member)) if per_member else 0.0,
        n_done=len(done),
        n_failed=len(failed) - len(chance),
        n_chance=len(chance),
        config=dict(members[0].strategy_config) if members else {},
        n_stopped=sum(1 for s in stopped if s is not None),
        n_at_limit=at_limit,
        split_epochs={r.split_id: (member_best_epoch(r), member_stopped_epoch(r)) for r in done},
        layer_sparsity={k: float(np.mean(v)) for k, v in layers.items()},
        wall_s=float(sum(r.wall_s for r in done)),
        errors=tuple(r.error or "unknown error" for r in failed),
        strengths=median_strengths(done),
    )


def _search_notice(result: StudyResult) -> Notice:
    """What a ``reglab tune`` study's members are, said before anything is read into them."""
    trials = len(result.strategies)
    return Notice(
        "tuning",
        f"This study is a reglab tune search: each of its {trials} strategies is one trial, "
        "and the search chose among them by their scores on these same test splits, so the "
        "best's score is optimistic (the best of many) and its tests are not a fair "
        "comparison. Re-run the reglab tune command that made it to print its own answer "
        "(nothing is retrained); for an unbiased comparison of tuned strategies use reglab "
        "bench --tune.",
        tuple(result.strategies),
    )


PROPORTIONS = ("accuracy", "robust_accuracy")
"""Metrics that are a share of test rows, whose uncertainty is at least binomial."""


def _no_variance(
    metric: str, summary: StrategySummary, done: Sequence[MemberRecord]
) -> StrategySummary:
    """A share of test rows that was the same on every split has a t interval of no width,
    which would claim certainty. Its interval is then Wilson's score interval for the share,
    on the test rows of one pass over the data (``Σ n_test / repeats``): 100% on 5 folds of
    216 rows gives [99.6%, 100%], not [100%, 100%].

    >>> from reglab.stats import summarize
    >>> class R:  # the fields read here
    ...     def __init__(self, s): self.split_id, self.repeat, self.n_test = s, 0, 216
    >>> s = _no_variance("accuracy", summarize([1.0] * 5, 864, 216), [R(s) for s in range(5)])
    >>> round(s.ci_low, 4), s.ci_high
    (0.9965, 1.0)
    """
    if metric not in PROPORTIONS or summary.n < 2 or summary.std != 0:
        return summary
    tests = {r.split_id: (r.repeat, r.n_test) for r in done}
    repeats = len({rep for rep, _ in tests.values()}) or 1
    rows = sum(n for _, n in tests.values()) / repeats
    if rows <= 0:
        return summary
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + summary.confidence / 2))
    p, z2 = summary.mean, z * z
    centre = (p + z2 / (2 * rows)) / (1 + z2 / rows)
    half = z * math.sqrt(p * (1 - p) / rows + z2 / (4 * rows * rows)) / (1 + z2 / rows)
    return dataclasses.replace(summary, ci_low=centre - half, ci_high=centre + half)


def _bounded(metric: str, summary: StrategySummary) -> StrategySummary:
    """Clip the interval of a metric that lives in [0, 1] (accuracy) to that range."""
    low, high = bounded(metric, summary.ci_low, summary.ci_high)
    return dataclasses.replace(summary, ci_low=low, ci_high=high)


def _parts(name: str) -> tuple[str, ...]:
    """The strategies a combination is made of, by the strategy grammar's own rule."""
    from reglab.study.strategies import parts

    try:
        return parts(name)
    except Exception:  # a name the grammar cannot read is one part
        return (name,)


# -- identical strategies ----------------------------------------------------------------------


def _signature(members: Sequence[MemberRecord]) -> dict[Hashable, list[MemberRecord]]:
    out: dict[Hashable, list[MemberRecord]] = {}
    for r in sorted(members, key=lambda r: (r.split_id, r.repeat, r.seed)):
        out.setdefault(r.split_id, []).append(r)
    return out


def _same_results(a: Sequence[MemberRecord], b: Sequence[MemberRecord]) -> str | None:
    """How ``a`` and ``b`` are known to be identical on every split: ``"predictions"``,
    ``"scores"``, or ``None`` when they are not."""
    sa, sb = _signature(a), _signature(b)
    if not sa or sa.keys() != sb.keys():
        return None
    if any(len(sa[s]) != len(sb[s]) for s in sa):
        return None
    pairs = [(x, y) for s in sa for x, y in zip(sa[s], sb[s], strict=True)]
    if all(x.test_pred is not None and y.test_pred is not None for x, y in pairs):
        for x, y in pairs:
            px = np.asarray(x.test_pred, dtype=float)
            py = np.asarray(y.test_pred, dtype=float)
            if px.shape != py.shape:
                return None
            scale = max(1.0, float(np.max(np.abs(px), initial=0.0)))
            if not np.all(np.abs(px - py) <= SAME_PREDICTIONS * scale):
                return None
        return "predictions"
    for x, y in pairs:
        if x.test_scores.keys() != y.test_scores.keys():
            return None
        for k, v in x.test_scores.items():
            if not math.isclose(v, y.test_scores[k], rel_tol=SAME_SCORES, abs_tol=1e-9):
                return None
    return "scores"


def _identical(
    names: Sequence[str],
    done_by: Mapping[str, Sequence[MemberRecord]],
    simplicity: Callable[[str], int],
) -> tuple[dict[str, str], dict[str, str]]:
    """Strategy → the strategy whose results it repeats (``none`` first, then by order), and
    strategy → the evidence (``"predictions"`` or ``"scores"``)."""
    order = sorted(names, key=lambda n: (n != BASELINE, simplicity(n), names.index(n)))
    reps: list[str] = []
    same_as: dict[str, str] = {}
    evidence: dict[str, str] = {}
    for n in order:
        for rep in reps:
            how = _same_results(done_by[n], done_by[rep])
            if how is not None:
                same_as[n] = rep
                evidence[n] = how
                break
        else:
            reps.append(n)
    return same_as, evidence


# -- notices -----------------------------------------------------------------------------------


def _penalty_share(members: Sequence[MemberRecord]) -> float | None:
    """The median over members of the largest share of the data loss the penalty reached."""
    shares = []
    for r in members:
        pen = np.asarray(r.curves.get("penalty", ()), dtype=float)
        loss = np.asarray(r.curves.get("train_loss", ()), dtype=float)
        n = min(pen.size, loss.size)
        ok = np.isfinite(pen[:n]) & np.isfinite(loss[:n]) & (loss[:n] > 0)
        if ok.any():
            shares.append(float(np.max(pen[:n][ok] / loss[:n][ok])))
    return float(np.median(shares)) if shares else None


def _penalized(config: Mapping[str, Any]) -> bool:
    def positive(key: str) -> bool:
        try:
            return float(config.get(key) or 0.0) > 0
        except (TypeError, ValueError):
            return False

    return positive("l1") or positive("l2")


def _common(errors: Iterable[str], cut_at: int = 200) -> str:
    """The most common of ``errors``, cut after a whole word to at most ``cut_at`` characters
    ('' when there is none).

    >>> _common(["a b c", "d", "a b c"]), _common(["one two three"], cut_at=10)
    ('a b c', 'one two…')
    """
    counted = Counter(errors).most_common(1)
    reason = counted[0][0] if counted else ""
    if len(reason) <= cut_at:
        return reason
    head = reason[: cut_at - 1]
    return (head.rsplit(" ", 1)[0] if " " in head else head).rstrip(",;:(") + "…"


def _notices(
    result: StudyResult,
    scored: Sequence[str],
    enough: int,
    same_as: Mapping[str, str],
    limit: int | None,
    done_by: Mapping[str, Sequence[MemberRecord]],
) -> list[Notice]:
    out: list[Notice] = []
    strategies = result.strategies
    summary = result.failure_summary
    if summary is not None:
        failed = tuple(n for n, s in strategies.items() if s.n_failed)
        out.append(Notice("failed", summary, failed))
    chance = {n: s for n, s in strategies.items() if s.n_chance}
    if chance:
        k = sum(s.n_chance for s in chance.values())
        per = ", ".join(f"{n} ({s.n_chance} of {s.n_members})" for n, s in chance.items())
        first = next(iter(chance.values()))
        reason = _common((e for e in first.errors if e.startswith(LEARNED_NOTHING)), 240)
        reason = reason.removeprefix(f"{LEARNED_NOTHING}: ")
        out.append(Notice(
            "learned-nothing",
            f"{k} member{'s' if k != 1 else ''} learned nothing: {per}. For example, "
            f"{reason}. Their scores count in their strategies' means and intervals.",
            tuple(chance),
        ))  # fmt: skip
    data = result.metadata.get("data")
    if isinstance(data, Mapping) and SELECTED_HERE in str(data.get("notices")):
        out.append(Notice(
            "optimistic",
            "The columns of this study were selected (reglab select) on these same rows, its "
            "test folds included: its scores are optimistic, not an estimate for new data "
            "(benchmarks/select_mice.py measures selection nested in the splits).",
        ))  # fmt: skip
    resamples = max((len(strategies[n].split_scores.get(result.primary, {})) for n in scored),
                    default=0)  # fmt: skip
    if 2 <= resamples < FEW_SPLITS and len(scored) >= 2:
        out.append(Notice(
            "low-power",
            f"Only {resamples} splits: the tests have {resamples - 1} degree"
            f"{'s' if resamples != 2 else ''} of freedom and wide intervals, and an identical "
            f"difference on every split cannot get below p = {2 * 0.5**resamples:.2g} (the "
            "exact sign test it is judged by); \"statistically tied\" here means undetermined, "
            "not equal. More splits (--cv, --repeats) give the tests power.",
        ))  # fmt: skip
    for n in result.unranked:
        s = strategies[n]
        if n in scored:
            out.append(Notice(
                "few-splits",
                f"{n}: only {s.n_done} of {s.n_members} members finished ({s.n_failed} "
                f"failed); a score from fewer than {enough} splits has no interval, so it is "
                "neither ranked nor compared.",
                (n,),
            ))  # fmt: skip
    for n, rep in same_as.items():
        if rep == BASELINE:
            text = (
                f"{n} never became active: identical to {BASELINE} on every split; "
                "try a stronger setting or tune it."
            )
        else:
            text = (
                f"{n} is identical to {rep} on every split: what it adds to {rep} changed nothing."
            )
        out.append(Notice("identical", text, (n, rep)))
    for n in scored:
        if n in same_as or not _penalized(strategies[n].config):
            continue
        share = _penalty_share(done_by[n])
        if share is not None and share < PENALTY_SHARE:
            out.append(Notice(
                "weak-penalty",
                f"{n}: the penalty stayed below {PENALTY_SHARE:.1%} of the training loss (at "
                f"most {100 * share:.2g}%), so it barely acted; try a stronger setting or tune it.",
                (n,),
            ))  # fmt: skip
    hit = [n for n in scored if strategies[n].n_at_limit]
    if hit and limit is not None:
        n_hit = sum(strategies[n].n_at_limit for n in hit)
        n_done = sum(strategies[n].n_scored for n in scored)
        if n_hit == n_done:
            which = f"any of the {n_done} members"
        elif len(hit) <= 3:
            which = ", ".join(
                f"{strategies[n].n_at_limit} of {strategies[n].n_scored} {n} members" for n in hit
            )
        else:
            which = f"{n_hit} of {n_done} members, in {', '.join(hit)}"
        out.append(Notice(
            "epoch-limit",
            f"Early stopping never fired before the {limit}-epoch limit for {which}; they may "
            "not have finished learning: raise the limit (--epochs).",
            tuple(hit),
        ))  # fmt: skip
    out.extend(_leakage(result, scored))
    return out


def _leakage(result: StudyResult, scored: Sequence[str]) -> list[Notice]:
    metric = next(
        (m for m in ("accuracy", "balanced_accuracy", "r2")
         if any(m in result.strategies[n].split_scores for n in scored)),
        None,
    )  # fmt: skip
    if metric is None:
        return []
    perfect, near = [], []
    for n in scored:
        values = list(result.strategies[n].split_scores.get(metric, {}).values())
        if not values:
            continue
        if all(v >= 1.0 for v in values):
            perfect.append(n)
        elif float(np.mean(values)) >= NEAR_PERFECT:
            near.append(n)
    data = result.metadata.get("data")
    strongest = data.get("strongest column") if isinstance(data, Mapping) else None
    flagged = isinstance(data, Mapping) and "possible target leakage" in str(data.get("notices"))
    if not perfect and not near:
        if not flagged:
            return []
        alone = f" ({strongest})" if strongest and "almost perfectly" in strongest else ""
        return [  # said again beside the answer: the loading notices are far above it
            Notice(
                "leakage",
                f"Loading flagged possible target leakage{alone}: if a flagged column is not "
                "known when predicting, every score here is optimistic; leave it out (--drop "
                "COLUMN) and run again.",
            )
        ]
    what = []
    if perfect:
        what.append(f"perfect on every split for {', '.join(perfect)}")
    if near:
        what.append(f"{format_score(metric, NEAR_PERFECT)} or more for {', '.join(near)}")
    return [
        Notice(
            "leakage",
            f"Test {metric} is {' and '.join(what)}: such scores are rare on real data. Check "
            "that no column leaks the target and leave any such column out (--drop COLUMN)"
            + (f"; {strongest}." if strongest else ".")
            + (" The data notices name columns that may leak it." if flagged else ""),
            (*perfect, *near),
        )
    ]
