"""Scores over resampled splits: corrected confidence intervals and the corrected paired t-test.

Why a correction is needed. Cross-validation, repeated cross-validation and repeated hold-out
give ``J`` test scores whose training sets overlap (in 5-fold CV any two training sets share
three quarters of their rows), so the scores are positively correlated. The textbook standard
error ``σ/√J`` assumes independent scores; it is too small, and the naive paired t-test on
resampled scores rejects far more often than its nominal level (Dietterich, 1998). Nadeau and
Bengio (2003, *Inference for the Generalization Error*) replace the variance factor ``1/J`` by

    1/J + n_test/n_train,

which accounts for the correlation induced by the overlap; Bouckaert and Frank (2004) showed the
same corrected statistic, with ``J = k·r`` splits, behaves well for ``r``-times repeated
``k``-fold cross-validation. The t statistic keeps ``J − 1`` degrees of freedom.

When split sizes differ slightly (k-fold with a remainder), ``n_test/n_train`` is the mean of
the per-split ratios.

Grouped splits (``--groups``, :mod:`reglab.data.groups`) count rows too: ``n_test/n_train`` is
the ratio of the parts' rows, not of their groups. With groups of one size (Mice Protein: 15
rows per mouse) the two ratios are equal. The correction does not model the correlation of
rows within a group; grouped splits keep each group in one part so that the test scores do not
rest on it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from reglab._validation import message
from reglab.errors import ConfigError
from reglab.stats.student_t import t_ppf, t_sf

__all__ = [
    "Scores",
    "SplitSizes",
    "StrategySummary",
    "TTestResult",
    "as_split_scores",
    "corrected_resampled_ttest",
    "summarize",
]

Scores = Mapping[Hashable, float] | Sequence[float]
"""Per-split scores: ``{split_id: score}``, or a sequence indexed by split position."""

SplitSizes = int | Mapping[Hashable, int] | Sequence[int]
"""Training or test set size: one for every split, or one per split id."""


@dataclass(frozen=True)
class StrategySummary:
    """One strategy's scores over the splits.

    Attributes:
        mean: mean score over the ``n`` splits.
        std: sample standard deviation of the scores (``ddof=1``; NaN when ``n == 1``).
        se: corrected standard error ``std·√(1/n + n_test/n_train)``.
        ci_low, ci_high: ``mean ∓ t_{n−1, (1+confidence)/2}·se``.
        n: number of splits.
        confidence: coverage of the interval.
        higher_is_better: the metric's direction (used by :func:`~reglab.stats.rank`).
    """

    mean: float
    std: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    confidence: float
    higher_is_better: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TTestResult:
    """The corrected resampled paired t-test of ``a − b``.

    Attributes:
        mean_diff: mean over splits of ``a_j − b_j``.
        t: ``mean_diff / se`` (±inf for a constant non-zero difference, 0 for identical scores).
        p_value: two-sided p-value from Student's t with ``df`` degrees of freedom.
        df: ``n − 1``.
        ci: confidence interval of the mean difference.
        se: corrected standard error ``sd(d)·√(1/n + n_test/n_train)``.
        n: number of paired splits.
        confidence: coverage of ``ci``.
        note: why the result is degenerate (zero variance), else ``""``.
    """

    mean_diff: float
    t: float
    p_value: float
    df: int
    ci: tuple[float, float]
    se: float
    n: int
    confidence: float
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_split_scores(who: str, param: str, scores: Scores) -> dict[Hashable, float]:
    """``{split_id: score}`` as floats (a sequence is indexed by position); all finite.

    >>> as_split_scores("demo", "scores", [0.5, 0.75])
    {0: 0.5, 1: 0.75}
    """
    if isinstance(scores, Mapping):
        items = dict(scores)
    elif isinstance(scores, Sequence | np.ndarray) and not isinstance(scores, str):
        items = dict(enumerate(scores))
    else:
        raise ConfigError(message(who, param, "a mapping split_id -> score", scores))
    bad = {k: v for k, v in items.items() if not _finite(v)}
    if bad:
        raise ConfigError(message(who, param, "finite scores", bad))
    return {k: float(v) for k, v in items.items()}


def _finite(value: Any) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _check_confidence(who: str, confidence: Any) -> float:
    if not _finite(confidence) or not 0 < confidence < 1:
        raise ConfigError(message(who, "confidence", "a float in (0, 1)", confidence))
    return float(confidence)


def _size(who: str, param: str, sizes: SplitSizes, split: Hashable, position: int) -> int:
    if isinstance(sizes, Mapping):
        if split not in sizes:
            raise ConfigError(
                message(who, param, f"a size for every split (missing {split!r})", sizes)
            )
        value = sizes[split]
    elif isinstance(sizes, Sequence | np.ndarray):
        if position >= len(sizes):
            raise ConfigError(message(who, param, "one size per split", sizes))
        value = sizes[position]
    else:
        value = sizes
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(message(who, param, "a positive integer per split", value))
    return int(value)


def correction_ratio(
    who: str, splits: Sequence[Hashable], n_train: SplitSizes, n_test: SplitSizes
) -> float:
    """Mean over ``splits`` of ``n_test/n_train`` (the Nadeau–Bengio correction term).

    >>> correction_ratio("demo", [0, 1], n_train=80, n_test={0: 20, 1: 20})
    0.25
    """
    ratios = [
        _size(who, "n_test", n_test, s, i) / _size(who, "n_train", n_train, s, i)
        for i, s in enumerate(splits)
    ]
    return float(np.mean(ratios))


def _same_rows(who: str, d: np.ndarray, splits: Sequence[Hashable], n_test: SplitSizes) -> bool:
    """Whether differences of a score that counts test rows (an accuracy: ``d_j·n_test_j``
    whole numbers) are the same number of rows on every split. On folds of unequal size
    (667, 667, 666 rows) two more correct rows give differences that disagree in the sixth
    digit: a variance of 1e-11 that is no evidence, and a constant difference all the same.

    >>> _same_rows("demo", np.array([2 / 667, 2 / 667, 2 / 666]), [0, 1, 2], [667, 667, 666])
    True
    >>> _same_rows("demo", np.array([2 / 667, 3 / 667, 2 / 666]), [0, 1, 2], [667, 667, 666])
    False
    """
    rows = np.array([d[i] * _size(who, "n_test", n_test, s, i) for i, s in enumerate(splits)])
    whole = np.round(rows)
    return bool(np.all(np.abs(rows - whole) < 1e-3) and np.ptp(whole) == 0 and whole[0] != 0)


def _t_quantile(confidence: float, df: int) -> float:
    return t_ppf(0.5 + confidence / 2, df)


def summarize(
    scores: Scores,
    n_train: SplitSizes,
    n_test: SplitSizes,
    *,
    confidence: float = 0.95,
    higher_is_better: bool = True,
) -> StrategySummary:
    """Mean score with a t-interval that uses the Nadeau–Bengio corrected variance.

    With ``J`` split scores ``s_j``, mean ``m`` and sample variance ``σ²``, the interval is
    ``m ± t_{J−1, (1+confidence)/2} · √((1/J + n_test/n_train)·σ²)``. It is wider than the
    naive ``σ/√J`` interval by ``√((1/J + n_test/n_train)/(1/J))`` because overlapping training
    sets make the split scores correlated (see the module docstring).

    Args:
        scores: ``{split_id: score}`` (or a sequence, one score per split).
        n_train: training-set size, one for all splits or per split id.
        n_test: test-set size, likewise.
        confidence: coverage of the interval, in (0, 1).
        higher_is_better: the metric's direction, kept for ranking.

    >>> s = summarize({0: 0.80, 1: 0.84, 2: 0.82, 3: 0.86, 4: 0.78}, n_train=800, n_test=200)
    >>> round(s.mean, 4), round(s.std, 4), round(s.ci_low, 3), round(s.ci_high, 3)
    (0.82, 0.0316, 0.761, 0.879)
    """
    who = "summarize"
    values = as_split_scores(who, "scores", scores)
    if not values:
        raise ConfigError(message(who, "scores", "at least one score", scores))
    confidence = _check_confidence(who, confidence)
    ratio = correction_ratio(who, list(values), n_train, n_test)
    x = np.fromiter(values.values(), dtype=np.float64)
    n = x.size
    mean = float(x.mean())
    if n < 2:
        nan = float("nan")
        return StrategySummary(mean, nan, nan, nan, nan, n, confidence, bool(higher_is_better))
    std = float(x.std(ddof=1))
    se = std * math.sqrt(1.0 / n + ratio)
    half = _t_quantile(confidence, n - 1) * se
    return StrategySummary(
        mean, std, se, mean - half, mean + half, n, confidence, bool(higher_is_better)
    )


def corrected_resampled_ttest(
    a: Scores,
    b: Scores,
    n_train: SplitSizes,
    n_test: SplitSizes,
    *,
    confidence: float = 0.95,
) -> TTestResult:
    """Nadeau–Bengio corrected resampled paired t-test of ``a`` against ``b`` (two-sided).

    On the splits both score, ``d_j = a_j − b_j``, ``J`` pairs, mean ``d̄`` and sample variance
    ``σ̂²``: ``t = d̄ / √((1/J + n_test/n_train)·σ̂²)`` with ``J − 1`` degrees of freedom,
    ``p = 2·P(T_{J−1} > |t|)``. Zero variance is decided, not divided: identical scores give
    ``t = 0, p = 1``. A constant non-zero difference (one more correct test row on every
    equal-sized fold, say) has ``t = ±inf`` and no t distribution to read; its p is then the
    exact two-sided sign test's, ``min(1, 2·0.5^J)`` (all ``J`` differences on one side), with
    a ``note``: 5 splits that agree give 0.0625, never 0. The same number of test rows on every
    split counts as constant when fold sizes differ (:func:`_same_rows`).

    Args:
        a, b: per-split scores of two strategies, ``{split_id: score}``; paired by split id.
        n_train, n_test: split sizes, one for all splits or per split id.
        confidence: coverage of the interval of the mean difference.

    >>> r = corrected_resampled_ttest(
    ...     [0.82, 0.81, 0.83, 0.80, 0.84], [0.80, 0.80, 0.80, 0.80, 0.80], 800, 200
    ... )
    >>> round(r.mean_diff, 4), round(r.t, 4), r.df, round(r.p_value, 4)
    (0.02, 1.8856, 4, 0.1324)
    """
    who = "corrected_resampled_ttest"
    da = as_split_scores(who, "a", a)
    db = as_split_scores(who, "b", b)
    if not isinstance(a, Mapping) and not isinstance(b, Mapping) and len(da) != len(db):
        raise ConfigError(message(who, "b", f"as many scores as `a` ({len(da)})", len(db)))
    splits = [s for s in da if s in db]
    if len(splits) < 2:
        raise ConfigError(
            message(who, "b", "scored on at least 2 of the splits of `a`", len(splits))
        )
    confidence = _check_confidence(who, confidence)
    ratio = correction_ratio(who, splits, n_train, n_test)
    d = np.array([da[s] - db[s] for s in splits], dtype=np.float64)
    n = d.size
    df = n - 1
    mean = float(d.mean())
    if not np.any(d):
        return TTestResult(
            0.0, 0.0, 1.0, df, (0.0, 0.0), 0.0, n, confidence, "identical scores on every split"
        )
    if np.ptp(d) <= 1e-12 * float(np.max(np.abs(d))) or _same_rows(who, d, splits, n_test):
        return TTestResult(
            mean,
            math.copysign(math.inf, mean),
            min(1.0, 2.0 * 0.5**n),
            df,
            (mean, mean),
            0.0,
            n,
            confidence,
            "constant difference on every split (zero variance): p of the exact sign test",
        )
    se = float(d.std(ddof=1)) * math.sqrt(1.0 / n + ratio)
    t = mean / se
    p = min(1.0, 2.0 * t_sf(abs(t), df))
    half = _t_quantile(confidence, df) * se
    return TTestResult(mean, t, p, df, (mean - half, mean + half), se, n, confidence)
