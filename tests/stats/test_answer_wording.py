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


def test_not_significant_is_not_said_to_be_equal_when_the_interval_favours_a_gain() -> None:
    # W1, 3 folds: l1 beats none on every split by 3-5 points, raw p 0.04, Holm over 3: 0.13
    scores = {
        "none": {0: 0.622, 1: 0.631, 2: 0.635},
        "l1": {0: 0.655, 1: 0.681, 2: 0.670},
        "dropout": {0: 0.640, 1: 0.610, 2: 0.650},
        "l1+dropout": {0: 0.600, 1: 0.660, 2: 0.640},
    }
    summaries = {k: summarize(v, 1333, 667) for k, v in scores.items()}
    a = answer(scores, summaries, metric="accuracy", n_train=1333, n_test=667,
               higher_is_better=True)  # fmt: skip
    assert a.case == "no-gain"
    (line,) = [d for d in a.details if d.startswith("Highest mean accuracy: l1 ")]
    assert "not significant (Holm p=" in line
    assert "the difference's own 95% interval is +" in line
    assert "on the better side of 0 before the Holm adjustment: 3 splits cannot settle it" in line
