"""The networks against the best reference: the sentence claims only what the tests show."""

from __future__ import annotations

import pytest

from reglab.stats import summarize
from reglab.stats.versus_reference import against_references

REF = {"linear:l2": [0.80, 0.82, 0.81, 0.79, 0.80], "boosting": [0.70, 0.72, 0.71, 0.69, 0.70]}


def run(nets: dict[str, list[float]]) -> tuple[str | None, list[str], str | None]:
    summaries = {k: summarize(v, 80, 20) for k, v in {**nets, **REF}.items()}
    text, comps, best = against_references(
        nets, REF, summaries, metric="accuracy", n_train=80, n_test=20, higher_is_better=True
    )
    return text, [c.outcome for c in comps], best


@pytest.mark.parametrize(
    ("nets", "outcomes", "start"),
    [
        (
            {"none": [0.90, 0.93, 0.91, 0.92, 0.90], "l2": [0.81, 0.80, 0.83, 0.80, 0.79]},
            ["better", "no difference"],
            "Against the reference rows: none beats the best reference, linear:l2",
        ),
        (
            {"none": [0.80, 0.84, 0.79, 0.83, 0.80]},
            ["no difference"],
            "No network strategy beats the best reference, linear:l2 (accuracy 80.4%), "
            "significantly: the best network strategy, none, shows no significant difference",
        ),
        (
            {"none": [0.60, 0.62, 0.61, 0.59, 0.63], "l2": [0.50, 0.52, 0.51, 0.50, 0.53]},
            ["worse", "worse"],
            "No network strategy beats the best reference, linear:l2 (accuracy 80.4%), "
            "significantly: every network strategy is significantly worse",
        ),
    ],
    ids=["a network wins", "tied", "every network loses"],
)
def test_sentence_follows_the_corrected_tests(
    nets: dict[str, list[float]], outcomes: list[str], start: str
) -> None:
    text, got, best = run(nets)
    assert best == "linear:l2"  # the best mean of the references
    assert got == outcomes
    assert text is not None and text.startswith(start)
    holm = f"Holm-adjusted over the {len(nets)} network strategies." if len(nets) > 1 else ""
    assert text.endswith(holm or "p: corrected resampled t-test."), text


def test_nothing_to_say_without_two_splits() -> None:
    assert run({"none": [0.9]})[0] is None
    summaries = {"none": summarize([0.9, 0.8], 80, 20)}
    assert against_references(
        {"none": [0.9, 0.8]}, {}, summaries, metric="accuracy", n_train=80, n_test=20,
        higher_is_better=True,
    ) == (None, [], None)  # fmt: skip


def test_the_best_reference_is_one_scored_on_the_most_splits() -> None:
    nets = {"none": {0: 0.90, 1: 0.93, 2: 0.91}}
    refs = {"linear:l1": {0: 1.0, 1: 1.0}, "linear:l2": {0: 0.85, 1: 0.86, 2: 0.84}}
    summaries = {k: summarize(v, 80, 20) for k, v in {**nets, **refs}.items()}
    kw = {"metric": "accuracy", "n_train": 80, "n_test": 20, "higher_is_better": True}
    text, _, best = against_references(nets, refs, summaries, **kw)
    assert best == "linear:l2"  # linear:l1's 100% is over the 2 splits where it did not fail
    only = {"linear:l1": refs["linear:l1"]}
    text, _, best = against_references(nets, only, summaries, **kw)
    assert best == "linear:l1" and "linear:l1 (accuracy 100.0%" in str(text)
    assert ", on 2 of 3 splits)" in str(text)
