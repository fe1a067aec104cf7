"""The answer's words follow the metric's direction."""

from __future__ import annotations

from reglab.stats import summarize
from reglab.stats.answer import answer


def test_a_lower_is_better_metric_names_the_lowest_mean_not_the_highest() -> None:
    scores = {
        "none": {0: 2.90, 1: 2.70, 2: 2.95, 3: 2.80, 4: 2.85},
        "l2": {0: 2.85, 1: 2.75, 2: 2.88, 3: 2.79, 4: 2.83},
    }
    summaries = {k: summarize(v, 300, 75) for k, v in scores.items()}
    a = answer(scores, summaries, metric="rmse", n_train=300, n_test=75, higher_is_better=False)
    (line,) = [d for d in a.details if "mean rmse" in d]
    assert line.startswith("Lowest mean rmse: l2 ("), line
