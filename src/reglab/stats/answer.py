"""The answer rule: which strategy to use, decided once and said in plain words.

The rule, on the primary metric's split scores (strategies scored on fewer than two splits
take no part: one score has no interval and no paired test):

1. Every strategy is compared with the baseline ``none`` on the splits both finished
   (Nadeau–Bengio corrected resampled t-test, Holm-adjusted across these comparisons).
2. **No gain.** When no strategy is significantly better than ``none``, the answer says so
   first — *"No regularization helped significantly on this data; N strategies are
   statistically tied with none."* — and recommends the simplest strategy of the tied set
   (``none`` and every strategy not significantly different from it), which is ``none``.
3. **Gain.** Otherwise the best is the strategy with the best mean among those significantly
   better than ``none``. Every other strategy (``none`` aside, already decided) is compared
   with the best in one more Holm family; those not significantly different from it are
   statistically tied with it. Ties are computed, never read off the ranking.
4. **No baseline.** Without ``none`` the best is the best mean, with its tied set as in 3.
5. **Nothing learned.** The study's analysis (:mod:`reglab.study.results`) replaces the answer
   when every member scored at chance level: no strategy is named.
6. **Identical strategies** (the same results on every split, as the caller decides from
   predictions or scores, ``same_as``) are not tested against each other: their comparison's
   outcome is ``"identical"``, it is kept out of the Holm family, and they count as tied.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reglab.stats.compare import (
    Comparison,
    ComparisonList,
    Verdict,
    combination_verdicts,
    compare,
    format_p,
)
from reglab.stats.metrics import format_diff, format_score
from reglab.stats.ttest import (
    Scores,
    SplitSizes,
    StrategySummary,
    as_split_scores,
    corrected_resampled_ttest,
)

__all__ = [
    "ANSWER_CASES",
    "Answer",
    "answer",
    "compare_with",
    "verdicts_with",
]

ANSWER_CASES = (
    "empty",
    "single",
    "untestable",
    "no-gain",
    "gain",
    "no-baseline",
    "nothing-learned",
)
"""Which branch of the rule gave the answer."""

_TIED = ("no difference", "identical")


@dataclass(frozen=True)
class Answer:
    """What the rule concluded.

    Attributes:
        case: one of :data:`ANSWER_CASES`.
        headline: the first line of the answer, as every presentation shows it.
        details: the lines that follow it.
        recommended: the strategy to use (``None`` when the data cannot say).
        best: the strategy named best (``"gain"`` and ``"no-baseline"`` cases), else ``None``.
        tied: the strategies statistically tied with ``none`` (``"no-gain"``) or with the best
            (``"gain"``, ``"no-baseline"``), the reference itself not included.
        better, worse: strategies significantly better / worse than ``none``.
        vs_baseline: every tested strategy against ``none`` (one Holm family).
        vs_best: every tested strategy but ``none`` against the best (another Holm family).
    """

    case: str
    headline: str
    details: tuple[str, ...] = ()
    recommended: str | None = None
    best: str | None = None
    tied: tuple[str, ...] = ()
    better: tuple[str, ...] = ()
    worse: tuple[str, ...] = ()
    vs_baseline: ComparisonList = field(default_factory=ComparisonList)
    vs_best: ComparisonList = field(default_factory=ComparisonList)

    @property
    def lines(self) -> tuple[str, ...]:
        """The headline followed by the details."""
        return (self.headline, *self.details)

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "headline": self.headline,
            "details": list(self.details),
            "recommended": self.recommended,
            "best": self.best,
            "tied": list(self.tied),
            "better_than_none": list(self.better),
            "worse_than_none": list(self.worse),
        }


def _same(same_as: Mapping[str, str], a: str, b: str) -> bool:
    return same_as.get(a, a) == same_as.get(b, b)


def _identical(
    cls: type[Comparison],
    strategy: str,
    reference: str,
    scores: Mapping[str, Scores],
    n_train: SplitSizes,
    n_test: SplitSizes,
    confidence: float,
) -> Comparison:
    a = as_split_scores("compare_with", "scores", scores[strategy])
    b = as_split_scores("compare_with", "scores", scores[reference])
    test = (
        corrected_resampled_ttest(a, b, n_train, n_test, confidence=confidence)
        if len(a.keys() & b.keys()) >= 2
        else None
    )
    p = 1.0 if test is None else test.p_value
    sentence = f"{strategy} is identical to {reference} on every split"
    return cls(strategy, reference, test, p, False, "identical", sentence)


def compare_with(
    scores: Mapping[str, Scores],
    reference: str,
    *,
    same_as: Mapping[str, str] | None = None,
    n_train: SplitSizes,
    n_test: SplitSizes,
    higher_is_better: bool,
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> ComparisonList:
    """Every strategy of ``scores`` against ``reference`` (one Holm family).

    Strategies identical to ``reference`` (``same_as`` maps each strategy to the one whose
    results it repeats) get the outcome ``"identical"`` and stay out of the family.

    >>> s = {"none": [0.8, 0.81, 0.79], "maxnorm": [0.8, 0.81, 0.79], "l2": [0.85, 0.87, 0.84]}
    >>> cs = compare_with(s, "none", same_as={"maxnorm": "none"}, n_train=80, n_test=20,
    ...                   higher_is_better=True)
    >>> [(c.strategy, c.outcome) for c in cs]
    [('maxnorm', 'identical'), ('l2', 'better')]
    """
    same_as = same_as or {}
    kw: dict[str, Any] = {"n_train": n_train, "n_test": n_test, "confidence": confidence}
    others = [s for s in scores if s != reference]
    same = {s for s in others if _same(same_as, s, reference)}
    tested = {s: v for s, v in scores.items() if s not in same}
    found: dict[str, Comparison] = {}
    if len(tested) > 1:
        found = {
            c.strategy: c
            for c in compare(
                tested, reference, higher_is_better=higher_is_better, alpha=alpha, **kw
            )
        }
    for s in same:
        found[s] = _identical(Comparison, s, reference, scores, **kw)
    return ComparisonList(found[s] for s in others)


def verdicts_with(
    scores: Mapping[str, Scores],
    parts: Mapping[str, Sequence[str]],
    *,
    same_as: Mapping[str, str] | None = None,
    n_train: SplitSizes,
    n_test: SplitSizes,
    higher_is_better: bool,
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> ComparisonList:
    """:func:`~reglab.stats.combination_verdicts`, where a combination identical to one of its
    parts is said to be identical (and kept out of the Holm family) instead of tested."""
    same_as = same_as or {}
    kw: dict[str, Any] = {"n_train": n_train, "n_test": n_test, "confidence": confidence}
    pairs = [(c, p) for c, ps in parts.items() for p in dict.fromkeys(ps) if p != c]
    tested: dict[str, list[str]] = {}
    for c, p in pairs:
        if not _same(same_as, c, p):
            tested.setdefault(c, []).append(p)
    found: dict[tuple[str, str], Comparison] = {}
    if tested:
        for v in combination_verdicts(
            scores, tested, higher_is_better=higher_is_better, alpha=alpha, **kw
        ):
            found[(v.strategy, v.reference)] = v
    for c, p in pairs:
        if (c, p) not in found:
            found[(c, p)] = _identical(Verdict, c, p, scores, **kw)
    return ComparisonList(found[pair] for pair in pairs)


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _names(names: Sequence[str]) -> str:
    return ", ".join(names)


def _score(metric: str, s: StrategySummary) -> str:
    text = f"{metric} {format_score(metric, s.mean)}"
    if math.isfinite(s.ci_low):
        text += f" (95% CI {format_score(metric, s.ci_low)} to {format_score(metric, s.ci_high)})"
    return text


def _by(metric: str, diff: float) -> str:
    if diff == 0:
        return "the same on average"
    return f"{'higher' if diff > 0 else 'lower'} by {format_diff(metric, diff)}"


def _apart(metric: str, diff: float) -> str:
    if diff == 0:
        return "level with"
    return f"{format_diff(metric, diff)} {'above' if diff > 0 else 'below'}"


def _undecided(metric: str, c: Comparison, higher_is_better: bool) -> str:
    """Why "not significant" need not mean "no gain": the difference's own interval, and,
    when that interval (not adjusted for the other comparisons) lies on the better side of 0,
    that more splits may settle it. Not significant is not shown equal."""
    t = c.test
    if t is None or t.note or not all(math.isfinite(x) for x in t.ci):
        return ""
    low, high = t.ci
    signed = lambda d: ("+" if d >= 0 else "−") + format_diff(metric, d)  # noqa: E731
    text = f"; the difference's own 95% interval is {signed(low)} to {signed(high)}"
    better_side = low > 0 if higher_is_better else high < 0
    if better_side:
        text += (
            f", on the better side of 0 before the Holm adjustment: {t.n} splits cannot "
            "settle it, and more (--repeats) may"
        )
    return text


ROW_METRICS = ("accuracy", "balanced_accuracy")
"""Metrics that move in steps of about one test row, ``1/n_test``."""


def _below_one_row(metric: str, diff: float, n_test: SplitSizes) -> str | None:
    """The sentence for a significant gain smaller than one test row per split, or ``None``.

    Members of one split share their seeds (initial weights, batch order), so paired
    differences can be tiny yet consistent, and significant; a gain that changes less than
    one prediction per split is said to be that small.

    >>> _below_one_row("accuracy", 0.003, 200)[:62]
    'The gain is smaller than one test row per split: 0.30 points, '
    >>> _below_one_row("accuracy", 0.01, 200) is None
    True
    """
    if metric not in ROW_METRICS:
        return None
    if isinstance(n_test, int):
        sizes = [n_test]
    elif isinstance(n_test, Mapping):
        sizes = [int(v) for v in n_test.values()]
    else:
        sizes = [int(v) for v in n_test]
    rows = sorted(sizes)[len(sizes) // 2] if sizes else 0
    if rows <= 0 or abs(diff) * rows >= 1.0:
        return None
    return (
        f"The gain is smaller than one test row per split: {100 * abs(diff):.2f} points, "
        f"{abs(diff) * rows:.2f} of {rows} test rows. It is significant because it is "
        "consistent across splits (the strategies share each split's seeds), but it changes "
        "less than one prediction per split: weigh it against the strategy's cost."
    )


def _p(c: Comparison) -> str:
    p = format_p(c.p_adjusted)
    return f"Holm p{p if p.startswith('<') else '=' + p}"


def answer(
    scores: Mapping[str, Scores],
    summaries: Mapping[str, StrategySummary],
    *,
    metric: str,
    n_train: SplitSizes,
    n_test: SplitSizes,
    higher_is_better: bool,
    baseline: str = "none",
    same_as: Mapping[str, str] | None = None,
    simplicity: Callable[[str], int] | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> Answer:
    """Apply the rule of this module.

    Args:
        scores: ``{strategy: {split_id: primary score}}`` of every strategy that finished, in
            the order strategies are listed.
        summaries: the primary metric's summary of each of them (as shown in the tables).
        metric: the primary metric's name (for the words).
        n_train, n_test: split sizes for the corrected tests.
        higher_is_better: the primary metric's direction.
        baseline: the strategy without regularization.
        same_as: strategy → the strategy whose results it repeats exactly (identical ones).
        simplicity: how complex a strategy is (fewer is simpler); default: its ``+`` parts,
            ``baseline`` 0.
        alpha: family-wise significance level; confidence: coverage of every interval.

    >>> s = {"none": {0: .80, 1: .82, 2: .79, 3: .81, 4: .80},
    ...      "l2": {0: .81, 1: .82, 2: .80, 3: .80, 4: .81}}
    >>> from reglab.stats import summarize
    >>> sm = {k: summarize(v, 800, 200) for k, v in s.items()}
    >>> a = answer(s, sm, metric="accuracy", n_train=800, n_test=200, higher_is_better=True)
    >>> a.headline
    'No regularization helped significantly on this data; 1 strategy is statistically tied with none.'
    >>> a.recommended, a.tied
    ('none', ('l2',))
    """  # noqa: E501
    same_as = dict(same_as or {})
    sign = 1.0 if higher_is_better else -1.0

    def simple(name: str) -> int:
        if simplicity is not None:
            return simplicity(name)
        return 0 if name == baseline else len(name.split("+"))

    def top(names: Sequence[str]) -> str:
        return max(names, key=lambda n: sign * summaries[n].mean)

    kw: dict[str, Any] = {
        "same_as": same_as,
        "n_train": n_train,
        "n_test": n_test,
        "higher_is_better": higher_is_better,
        "alpha": alpha,
        "confidence": confidence,
    }
    finished = [s for s in scores if scores[s]]
    if not finished:
        return Answer("empty", "No member finished, so there is nothing to compare.")
    if len(finished) == 1:
        only = finished[0]
        what = "was run" if len(scores) == 1 else "finished"
        return Answer(
            "single",
            f"Only one strategy {what}, {only}, so there is nothing to compare it with: "
            f"{_score(metric, summaries[only])}.",
            recommended=only,
        )
    testable = [s for s in finished if len(scores[s]) >= 2]
    if len(testable) < 2:
        highest = top(finished)
        return Answer(
            "untestable",
            "Too few splits to test any difference: no two strategies were scored on two or "
            f"more splits. Highest {metric}: {highest} ({format_score(metric, summaries[highest].mean)}).",  # noqa: E501
        )
    tested = {s: scores[s] for s in testable}
    if baseline not in tested:
        best = top(testable)
        vs_best = compare_with(tested, best, **kw)
        tied = tuple(c.strategy for c in vs_best if c.outcome in _TIED)
        why = "was run" if baseline not in scores else "was scored on two or more splits"
        headline = (
            f"Best: {best} with {_score(metric, summaries[best])}; "
            + (
                f"statistically tied with it: {_names(tied)}"
                if tied
                else "no other strategy is statistically tied with it"
            )
            + f". No strategy named {baseline} {why}, so nothing was tested against no "
            "regularization."
        )
        return Answer(
            "no-baseline", headline, recommended=best, best=best, tied=tied, vs_best=vs_best
        )

    vs_base = compare_with(tested, baseline, **kw)
    by = {c.strategy: c for c in vs_base}
    better = tuple(c.strategy for c in vs_base if c.outcome == "better")
    worse = tuple(c.strategy for c in vs_base if c.outcome == "worse")
    details: list[str] = []
    if not better:
        tied = tuple(c.strategy for c in vs_base if c.outcome in _TIED)
        recommended = min([baseline, *tied], key=simple)
        n = len(tied)
        headline = "No regularization helped significantly on this data; " + (
            f"{n} {_plural(n, 'strategy is', 'strategies are')} statistically tied with {baseline}."
            if n
            else f"no strategy is statistically tied with {baseline}."
        )
        what = "no regularization" if recommended == baseline else "its simplest member"
        details.append(
            f"Recommended: {recommended} ({what}"
            + (", the simplest of the tied set" if n and recommended == baseline else "")
            + f"), {_score(metric, summaries[recommended])}."
        )
        if tied:
            details.append(f"Statistically tied with {baseline}: {_names(tied)}.")
        highest = top(testable)
        if highest != baseline and highest in tied and by[highest].outcome != "identical":
            c = by[highest]
            diff = c.test.mean_diff if c.test is not None else 0.0
            details.append(
                f"{'Highest' if higher_is_better else 'Lowest'} mean {metric}: {highest} "
                f"({format_score(metric, summaries[highest].mean)}"
                f"), {_apart(metric, diff)} {baseline}, not significant ({_p(c)})"
                + _undecided(metric, c, higher_is_better)
                + "."
            )
        if worse:
            details.append(f"Significantly worse than {baseline}: {_names(worse)}.")
        return Answer(
            "no-gain",
            headline,
            tuple(details),
            recommended=recommended,
            tied=tied,
            worse=worse,
            vs_baseline=vs_base,
        )

    best = top(list(better))
    rest = {s: v for s, v in tested.items() if s != baseline}
    vs_best = compare_with(rest, best, **kw) if len(rest) > 1 else ComparisonList()
    tied = tuple(c.strategy for c in vs_best if c.outcome in _TIED)
    c = by[best]
    diff = c.test.mean_diff if c.test is not None else 0.0
    headline = (
        f"Best: {best}, significantly better than no regularization: {metric} "
        f"{format_score(metric, summaries[best].mean)} against "
        f"{format_score(metric, summaries[baseline].mean)} for {baseline} "
        f"({_by(metric, diff)}, {_p(c)}); "
        + (
            f"statistically tied with it: {_names(tied)}."
            if tied
            else "no other strategy is statistically tied with it."
        )
    )
    details.append(f"{best}: {_score(metric, summaries[best])}.")
    small = _below_one_row(metric, diff, n_test)
    if small:
        details.append(small)
    also = [s for s in better if s != best]
    if also:
        details.append(f"Also significantly better than {baseline}: {_names(also)}.")
    if worse:
        details.append(f"Significantly worse than {baseline}: {_names(worse)}.")
    return Answer(
        "gain",
        headline,
        tuple(details),
        recommended=best,
        best=best,
        tied=tied,
        better=better,
        worse=worse,
        vs_baseline=vs_base,
        vs_best=vs_best,
    )
