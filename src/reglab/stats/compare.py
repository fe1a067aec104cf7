"""Paired comparisons of strategies, Holm-adjusted, with verdicts in plain words.

Every comparison pairs two strategies on the splits both were scored on and applies the
Nadeau–Bengio corrected resampled t-test (:func:`~reglab.stats.corrected_resampled_ttest`).
Comparisons made together form one family whose p-values are adjusted with Holm's step-down
method, so "significant" holds at level ``alpha`` for the family as a whole.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from reglab._validation import message, suggest
from reglab.errors import ConfigError
from reglab.stats.ttest import (
    Scores,
    SplitSizes,
    StrategySummary,
    TTestResult,
    as_split_scores,
    corrected_resampled_ttest,
    summarize,
)

__all__ = [
    "OUTCOMES",
    "Comparison",
    "ComparisonList",
    "Ranked",
    "Verdict",
    "combination_verdicts",
    "compare",
    "format_p",
    "format_p_column",
    "holm",
    "rank",
    "strategy_parts",
    "summarize_all",
]

ALPHA = 0.05
"""The significance level every test of a study uses (and p-values are shown against)."""

OUTCOMES = ("better", "worse", "no difference", "identical", "untestable")
"""How a comparison came out, from the first strategy's side. ``"identical"`` is decided
before any test: the two strategies gave the same results on every split."""


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values.

    With the ``m`` p-values sorted ascending, ``p_(1) ≤ … ≤ p_(m)``, the adjusted value of the
    ``i``-th is ``max_{j ≤ i} min(1, (m − j + 1)·p_(j))``: monotone in ``p``, never below the
    raw value, capped at 1. Rejecting every hypothesis whose adjusted value is ``≤ α`` is
    exactly Holm's procedure at family-wise level ``α``.

    >>> holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005})
    {'a': 0.03, 'b': 0.06, 'c': 0.06, 'd': 0.02}
    """
    bad = {k: p for k, p in p_values.items() if not _is_p(p)}
    if bad:
        raise ConfigError(message("holm", "p_values", "p-values in [0, 1]", bad))
    order = sorted(p_values, key=lambda k: p_values[k])
    m = len(order)
    adjusted: dict[str, float] = {}
    running = 0.0
    for i, key in enumerate(order):
        running = max(running, min(1.0, (m - i) * float(p_values[key])))
        adjusted[key] = running
    return {key: adjusted[key] for key in p_values}


def _is_p(p: Any) -> bool:
    return isinstance(p, int | float) and not isinstance(p, bool) and 0.0 <= p <= 1.0


def strategy_parts(name: str) -> tuple[str, ...]:
    """The parts of a combined preset name, split on ``+``.

    >>> strategy_parts("dropout+l2")
    ('dropout', 'l2')
    >>> strategy_parts("l1")
    ('l1',)
    """
    parts = tuple(p.strip() for p in str(name).split("+"))
    if not all(parts):
        raise ConfigError(message("strategy_parts", "name", "parts joined by '+'", name))
    return parts


def format_p(p: float) -> str:
    """A p-value as a sentence shows it: two significant digits, ``<0.001`` below that.

    >>> format_p(0.0123), format_p(0.41), format_p(1.0), format_p(0.0004)
    ('0.012', '0.41', '1', '<0.001')

    Next to the 0.05 level one more digit is kept, so that a significant p never reads
    "0.05" (which the rule ``p < 0.05`` would call not significant):

    >>> format_p(0.04994), format_p(0.0502)
    ('0.0499', '0.0502')
    """
    return _p_text(p, "g")


def format_p_column(p: float) -> str:
    """A p-value in a table column: two decimals, three next to the 0.05 level (0.048, never
    a significant "0.05"), ``<0.001`` below that.

    >>> format_p_column(0.3), format_p_column(0.0478), format_p_column(0.0002)
    ('0.30', '0.048', '<0.001')
    """
    return _p_text(p, "f")


def _p_text(p: float, kind: str) -> str:
    """``p`` with 2 digits (``kind``: ``"g"`` significant, ``"f"`` decimal), 3 where 2 would
    read as the 0.05 level, ``<0.001`` below that."""
    if math.isnan(p):
        return "nan"
    if p < 0.001:
        return "<0.001"
    shown = f"{p:.2{kind}}"
    return f"{p:.3{kind}}" if float(shown) == ALPHA and p != ALPHA else shown


@dataclass(frozen=True)
class Comparison:
    """``strategy`` against ``reference`` on their common splits.

    Attributes:
        strategy, reference: the two strategy names (the difference is ``strategy − reference``).
        test: the corrected t-test, or ``None`` when fewer than two splits pair up.
        p_adjusted: Holm-adjusted p-value within the family (NaN when untestable).
        significant: ``p_adjusted < alpha``.
        outcome: one of ``"better"``, ``"worse"``, ``"no difference"``, ``"untestable"``,
            from ``strategy``'s side and the metric's direction.
        sentence: the outcome in plain words, e.g.
            ``"dropout+l2 beats dropout by 1.2 points (Holm p=0.01, significant)"``.
    """

    strategy: str
    reference: str
    test: TTestResult | None
    p_adjusted: float
    significant: bool
    outcome: str
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ComparisonList(list[Comparison]):
    """A list of comparisons that also reads as a table (:meth:`to_frame`).

    >>> scores = {"none": [0.80, 0.81, 0.79, 0.80], "l2": [0.85, 0.86, 0.84, 0.86]}
    >>> cs = compare(scores, "none", n_train=800, n_test=200)
    >>> cs[0].outcome, list(cs.to_frame().columns[:3])
    ('better', ['strategy', 'reference', 'mean_diff'])
    """

    COLUMNS = (
        "strategy", "reference", "mean_diff", "ci_low", "ci_high", "p_value", "p_holm",
        "significant", "outcome", "sentence",
    )  # fmt: skip

    def to_frame(self) -> Any:
        """One row per comparison: the difference with its interval, raw and Holm p-values,
        the outcome and its sentence (a :class:`pandas.DataFrame`)."""
        import pandas as pd

        rows = []
        for c in self:
            t = c.test
            rows.append(
                {
                    "strategy": c.strategy,
                    "reference": c.reference,
                    "mean_diff": math.nan if t is None else t.mean_diff,
                    "ci_low": math.nan if t is None else t.ci[0],
                    "ci_high": math.nan if t is None else t.ci[1],
                    "p_value": math.nan if t is None else t.p_value,
                    "p_holm": c.p_adjusted,
                    "significant": c.significant,
                    "outcome": c.outcome,
                    "sentence": c.sentence,
                }
            )
        return pd.DataFrame(rows, columns=list(self.COLUMNS))


@dataclass(frozen=True)
class Verdict(Comparison):
    """A combined strategy against one of its parts (``combination`` vs ``part``)."""

    @property
    def combination(self) -> str:
        return self.strategy

    @property
    def part(self) -> str:
        return self.reference


@dataclass(frozen=True)
class Ranked:
    """A strategy's place in a ranking (1 is best; exact ties share a rank)."""

    rank: int
    strategy: str
    summary: StrategySummary

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize_all(
    scores: Mapping[str, Scores],
    n_train: SplitSizes,
    n_test: SplitSizes,
    *,
    confidence: float = 0.95,
    higher_is_better: bool = True,
) -> dict[str, StrategySummary]:
    """:func:`~reglab.stats.summarize` for every strategy of ``{strategy: {split_id: score}}``."""
    return {
        name: summarize(
            s, n_train, n_test, confidence=confidence, higher_is_better=higher_is_better
        )
        for name, s in scores.items()
    }


def rank(
    summaries: Mapping[str, StrategySummary], higher_is_better: bool | None = None
) -> list[Ranked]:
    """Strategies from best to worst mean score.

    ``higher_is_better=None`` takes the direction the summaries carry (they must agree).

    >>> s = {"a": summarize([1.0, 2.0], 4, 1), "b": summarize([3.0, 4.0], 4, 1)}
    >>> [(r.rank, r.strategy) for r in rank(s)]
    [(1, 'b'), (2, 'a')]
    >>> [(r.rank, r.strategy) for r in rank(s, higher_is_better=False)]
    [(1, 'a'), (2, 'b')]
    """
    if higher_is_better is None:
        directions = {s.higher_is_better for s in summaries.values()}
        if len(directions) > 1:
            raise ConfigError(
                message("rank", "summaries", "summaries of one metric direction", directions)
            )
        higher_is_better = directions.pop() if directions else True
    sign = -1.0 if higher_is_better else 1.0
    order = sorted(summaries, key=lambda k: sign * summaries[k].mean)
    ranked: list[Ranked] = []
    for i, name in enumerate(order):
        tied = ranked and summaries[name].mean == ranked[-1].summary.mean
        ranked.append(Ranked(ranked[-1].rank if tied else i + 1, name, summaries[name]))
    return ranked


def _unit(
    scores: Mapping[str, Mapping[Hashable, float]], higher_is_better: bool
) -> tuple[float, str]:
    values = [v for split_scores in scores.values() for v in split_scores.values()]
    if higher_is_better and all(0.0 <= v <= 1.0 for v in values):
        return 100.0, "points"
    return 1.0, ""


def _sentence(
    strategy: str,
    reference: str,
    test: TTestResult | None,
    p_adjusted: float,
    outcome: str,
    scale: float,
    unit: str,
) -> str:
    if test is None:
        return f"{strategy} vs {reference}: too few paired splits to test"
    p = format_p(p_adjusted)
    p = p if p.startswith("<") else f"={p}"
    if outcome == "no difference":
        return f"{strategy} shows no significant difference from {reference} (Holm p{p})"
    by = f"{abs(test.mean_diff) * scale:.3g}" + (f" {unit}" if unit else "")
    verb = "beats" if outcome == "better" else "is worse than"
    return f"{strategy} {verb} {reference} by {by} (Holm p{p}, significant)"


def _check_names(who: str, param: str, names: Sequence[str], known: Mapping[str, Any]) -> None:
    for name in names:
        if name not in known:
            expected = "one of " + ", ".join(repr(k) for k in known)
            raise ConfigError(message(who, param, expected, name) + suggest(name, known))


def _family(
    who: str,
    pairs: Sequence[tuple[str, str]],
    scores: Mapping[str, Scores],
    n_train: SplitSizes,
    n_test: SplitSizes,
    *,
    higher_is_better: bool,
    alpha: float,
    confidence: float,
    scale: float | None,
    unit: str | None,
    cls: type[Comparison],
) -> ComparisonList:
    if not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise ConfigError(message(who, "alpha", "a float in (0, 1)", alpha))
    used = {name: as_split_scores(who, "scores", scores[name]) for pair in pairs for name in pair}
    auto_scale, auto_unit = _unit(used, higher_is_better)
    scale = auto_scale if scale is None else scale
    unit = auto_unit if unit is None else unit
    tests = [
        corrected_resampled_ttest(used[s], used[r], n_train, n_test, confidence=confidence)
        if len(used[s].keys() & used[r].keys()) >= 2
        else None
        for s, r in pairs
    ]
    adjusted = holm({str(i): t.p_value for i, t in enumerate(tests) if t is not None})
    out = ComparisonList()
    for i, ((s, r), test) in enumerate(zip(pairs, tests, strict=True)):
        p_adj = adjusted.get(str(i), math.nan)
        significant = bool(p_adj < alpha)
        if test is None:
            outcome = "untestable"
        elif not significant:
            outcome = "no difference"
        else:
            outcome = "better" if (test.mean_diff > 0) == higher_is_better else "worse"
        sentence = _sentence(s, r, test, p_adj, outcome, scale, unit)
        out.append(cls(s, r, test, p_adj, significant, outcome, sentence))
    return out


def compare(
    scores: Mapping[str, Scores],
    baseline: str = "none",
    *,
    n_train: SplitSizes,
    n_test: SplitSizes,
    higher_is_better: bool = True,
    alpha: float = ALPHA,
    confidence: float = 0.95,
    scale: float | None = None,
    unit: str | None = None,
) -> ComparisonList:
    """Every strategy against ``baseline``, Holm-adjusted across these comparisons.

    Args:
        scores: ``{strategy: {split_id: score}}``; strategies are paired on common split ids.
        baseline: the reference strategy.
        n_train, n_test: split sizes, one for all splits or ``{split_id: size}``.
        higher_is_better: the metric's direction (False for log loss, RMSE, MAE, ...).
        alpha: family-wise significance level.
        confidence: coverage of each mean-difference interval.
        scale, unit: how differences read in sentences; by default percentage ``points``
            (×100) when higher is better and every score lies in [0, 1], else raw values.

    >>> scores = {
    ...     "none": {0: 0.80, 1: 0.81, 2: 0.79, 3: 0.80, 4: 0.80},
    ...     "l2": {0: 0.85, 1: 0.86, 2: 0.84, 3: 0.86, 4: 0.85},
    ... }
    >>> [c.sentence for c in compare(scores, "none", n_train=800, n_test=200)]
    ['l2 beats none by 5.2 points (Holm p<0.001, significant)']
    """
    _check_names("compare", "baseline", [baseline], scores)
    pairs = [(name, baseline) for name in scores if name != baseline]
    return _family(
        "compare",
        pairs,
        scores,
        n_train,
        n_test,
        higher_is_better=higher_is_better,
        alpha=alpha,
        confidence=confidence,
        scale=scale,
        unit=unit,
        cls=Comparison,
    )


def combination_verdicts(
    scores: Mapping[str, Scores],
    parts: Mapping[str, Sequence[str]],
    *,
    n_train: SplitSizes,
    n_test: SplitSizes,
    higher_is_better: bool = True,
    alpha: float = ALPHA,
    confidence: float = 0.95,
    scale: float | None = None,
    unit: str | None = None,
) -> ComparisonList:
    """A verdict for every combined strategy against each of its parts.

    All (combination, part) comparisons form one family for Holm's adjustment. Arguments are as
    in :func:`compare`; ``parts`` maps each combined strategy to the strategies it combines
    (:func:`strategy_parts` splits preset names such as ``"dropout+l2"``).

    >>> scores = {
    ...     "dropout": [0.80, 0.82, 0.81, 0.79, 0.80],
    ...     "l2": [0.84, 0.86, 0.85, 0.83, 0.84],
    ...     "dropout+l2": [0.84, 0.85, 0.85, 0.84, 0.83],
    ... }
    >>> for v in combination_verdicts(scores, {"dropout+l2": ("dropout", "l2")},
    ...                               n_train=800, n_test=200):
    ...     print(v.sentence)
    dropout+l2 beats dropout by 3.8 points (Holm p=0.005, significant)
    dropout+l2 shows no significant difference from l2 (Holm p=0.74)
    """
    who = "combination_verdicts"
    _check_names(who, "parts", list(parts), scores)
    pairs: list[tuple[str, str]] = []
    for combo, its_parts in parts.items():
        if isinstance(its_parts, str):
            raise ConfigError(message(who, "parts", "a sequence of part names", its_parts))
        _check_names(who, "parts", list(its_parts), scores)
        pairs.extend((combo, part) for part in dict.fromkeys(its_parts) if part != combo)
    return _family(
        who,
        pairs,
        scores,
        n_train,
        n_test,
        higher_is_better=higher_is_better,
        alpha=alpha,
        confidence=confidence,
        scale=scale,
        unit=unit,
        cls=Verdict,
    )
