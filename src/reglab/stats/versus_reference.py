"""Do the network strategies beat a classical reference model? Said once, in plain words.

The rule, on the primary metric's split scores:

1. The **best reference** is the reference row with the best mean score (scored on at least
   two splits). Choosing it by its mean favours the reference, so a network win below is, if
   anything, understated.
2. Every network strategy scored on at least two splits is compared with it on the splits both
   finished (Nadeau–Bengio corrected resampled t-test), in one Holm family.
3. The sentence names the strategies significantly better than the best reference; when there
   are none it says so first — *"No network strategy beats the best reference, …"* — and
   then how the best network strategy compares (not significantly different, or significantly
   worse). Nothing is claimed that the tests do not show, and the sentence ends by naming the
   test and its adjustment, as every p-value it quotes is Holm-adjusted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from reglab.stats.compare import Comparison, ComparisonList, compare
from reglab.stats.metrics import format_score
from reglab.stats.ttest import Scores, SplitSizes, StrategySummary

__all__ = ["against_references"]


def _score(metric: str, s: StrategySummary) -> str:
    return f"{metric} {format_score(metric, s.mean)}"


def against_references(
    networks: Mapping[str, Scores],
    references: Mapping[str, Scores],
    summaries: Mapping[str, StrategySummary],
    *,
    metric: str,
    n_train: SplitSizes,
    n_test: SplitSizes,
    higher_is_better: bool,
    alpha: float = 0.05,
) -> tuple[str | None, ComparisonList, str | None]:
    """``(sentence, comparisons, best reference)`` of the networks against the best reference.

    Args:
        networks, references: ``{name: {split_id: score}}`` of the network strategies and of
            the reference rows; only those scored on two splits or more take part.
        summaries: ``{name: summary}`` of both (their means decide the best of each).
        metric, n_train, n_test, higher_is_better, alpha: as in :func:`~reglab.stats.compare`.

    Returns ``(None, [], None)`` when no reference or no network strategy can be tested.

    >>> from reglab.stats import summarize
    >>> nets = {"l2": [0.90, 0.91, 0.92], "none": [0.85, 0.87, 0.84]}
    >>> refs = {"linear:l2": [0.80, 0.81, 0.80]}
    >>> sums = {k: summarize(v, 80, 20) for k, v in {**nets, **refs}.items()}
    >>> text, comps, best = against_references(nets, refs, sums, metric="accuracy",
    ...     n_train=80, n_test=20, higher_is_better=True)
    >>> best, [c.outcome for c in comps]
    ('linear:l2', ['better', 'better'])
    """
    refs = [n for n, v in references.items() if len(_values(v)) >= 2 and n in summaries]
    nets = [n for n, v in networks.items() if len(_values(v)) >= 2 and n in summaries]
    if not refs or not nets:
        return None, ComparisonList(), None
    sign = 1.0 if higher_is_better else -1.0
    # the best of the references scored on the most splits: a mean over the splits where a
    # reference did not fail is no match for the networks' over all of them
    most = max(len(_values(references[n])) for n in refs)
    best_ref = max((n for n in refs if len(_values(references[n])) == most),
                   key=lambda n: sign * summaries[n].mean)  # fmt: skip
    splits = max(len(_values(networks[n])) for n in nets)
    scores: dict[str, Scores] = {n: networks[n] for n in nets}
    scores[best_ref] = references[best_ref]
    comps = compare(
        scores,
        best_ref,
        n_train=n_train,
        n_test=n_test,
        higher_is_better=higher_is_better,
        alpha=alpha,
    )
    by_name = {c.strategy: c for c in comps}
    k = len(comps)
    tests = (
        f" p: corrected resampled t-test, Holm-adjusted over the {k} network strategies."
        if k > 1
        else " p: corrected resampled t-test."
    )
    best_net = max(nets, key=lambda n: sign * summaries[n].mean)
    partial = f", on {most} of {splits} splits" if most < splits else ""
    ref_text = f"{best_ref} ({_score(metric, summaries[best_ref])}{partial})"
    better = [c.strategy for c in comps if c.outcome == "better"]
    if better:
        text = (
            f"Against the reference rows: {_list(better)} "
            f"{'beats' if len(better) == 1 else 'beat'} the best reference, {ref_text}, "
            f"significantly; {by_name[better[0]].sentence}."
        )
        return text + tests, comps, best_ref
    worse = [c.strategy for c in comps if c.outcome == "worse"]
    head = f"No network strategy beats the best reference, {ref_text}, significantly"
    best = by_name[best_net]
    if len(worse) == len(comps):
        text = (
            f"{head}: every network strategy is significantly worse ({best.sentence}); on this "
            "data the reference model is the better choice."
        )
    else:
        text = f"{head}: the best network strategy, {best_net}, {_relation(best)}."
    return text + tests, comps, best_ref


def _values(scores: Scores) -> Sequence[float]:
    values = scores.values() if isinstance(scores, Mapping) else scores
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _relation(c: Comparison) -> str:
    sentence = c.sentence
    return sentence[len(c.strategy) + 1 :] if sentence.startswith(c.strategy + " ") else sentence


def _list(names: Sequence[str]) -> str:
    return ", ".join(names)
