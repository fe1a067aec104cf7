"""Comparisons against a baseline, combination verdicts, ranking and direction handling."""

from __future__ import annotations

import json

import pytest

from reglab.errors import ConfigError
from reglab.stats import (
    Verdict,
    combination_verdicts,
    compare,
    corrected_resampled_ttest,
    holm,
    rank,
    strategy_parts,
    summarize,
    summarize_all,
)

SIZES = {"n_train": 800, "n_test": 200}

ACCURACY = {
    "none": {0: 0.80, 1: 0.82, 2: 0.81, 3: 0.79, 4: 0.80},
    "dropout": {0: 0.84, 1: 0.86, 2: 0.85, 3: 0.83, 4: 0.84},
    "l2": {0: 0.80, 1: 0.83, 2: 0.80, 3: 0.80, 4: 0.81},
    "dropout+l2": {0: 0.844, 1: 0.866, 2: 0.846, 3: 0.832, 4: 0.842},
    "dropout+l1": {0: 0.760, 1: 0.782, 2: 0.770, 3: 0.751, 4: 0.760},
}


def test_verdict_sentences_better_worse_and_no_difference() -> None:
    parts = {name: strategy_parts(name) for name in ACCURACY if "+" in name}
    parts["dropout+l1"] = ("dropout",)  # "l1" is not in this study
    verdicts = combination_verdicts(ACCURACY, parts, **SIZES)
    assert [(v.combination, v.part) for v in verdicts] == [
        ("dropout+l2", "dropout"),
        ("dropout+l2", "l2"),
        ("dropout+l1", "dropout"),
    ]
    assert [v.outcome for v in verdicts] == ["no difference", "better", "worse"]
    assert [v.sentence for v in verdicts] == [
        "dropout+l2 shows no significant difference from dropout (Holm p=0.47)",
        "dropout+l2 beats l2 by 3.8 points (Holm p=0.0021, significant)",
        "dropout+l1 is worse than dropout by 7.94 points (Holm p<0.001, significant)",
    ]
    assert all(isinstance(v, Verdict) for v in verdicts)


def test_holm_is_applied_across_the_family() -> None:
    # each combination alone beats "base" at p < 0.05 (raw p 0.033 and 0.028) ...
    scores = {
        "base": [0.80, 0.82, 0.81, 0.79, 0.80],
        "base+x": [0.82, 0.83, 0.84, 0.80, 0.82],
        "base+y": [0.821, 0.83, 0.84, 0.802, 0.817],
    }
    parts = {"base+x": ("base",), "base+y": ("base",)}
    verdicts = combination_verdicts(scores, parts, **SIZES)
    raw = {
        str(i): corrected_resampled_ttest(scores[v.strategy], scores[v.reference], **SIZES).p_value
        for i, v in enumerate(verdicts)
    }
    assert all(p < 0.05 for p in raw.values())
    expected = holm(raw)
    for i, v in enumerate(verdicts):
        assert v.test is not None and v.test.p_value == pytest.approx(raw[str(i)])
        assert v.p_adjusted == pytest.approx(expected[str(i)])
    # ... but as a family of two neither survives Holm's adjustment
    assert [v.significant for v in verdicts] == [False, False]
    assert [v.outcome for v in verdicts] == ["no difference", "no difference"]


RMSE = {
    "none": [3.10, 3.30, 3.00, 3.20, 3.15],
    "l2": [2.90, 3.12, 2.79, 3.01, 2.95],
    "dropout": [3.50, 3.72, 3.41, 3.60, 3.56],
}


def test_lower_is_better_metric_flips_the_verdict() -> None:
    comparisons = compare(RMSE, "none", higher_is_better=False, **SIZES)
    assert [(c.strategy, c.outcome) for c in comparisons] == [
        ("l2", "better"),
        ("dropout", "worse"),
    ]
    assert comparisons[0].sentence == "l2 beats none by 0.196 (Holm p<0.001, significant)"
    assert comparisons[1].sentence.startswith("dropout is worse than none by 0.408 (Holm p")
    # the same numbers read as higher-is-better reverse both outcomes
    flipped = compare(RMSE, "none", higher_is_better=True, scale=1, unit="", **SIZES)
    assert [c.outcome for c in flipped] == ["worse", "better"]


def test_explicit_scale_and_unit() -> None:
    (c,) = compare(
        {"a": RMSE["none"], "b": RMSE["l2"]},
        "a",
        higher_is_better=False,
        scale=1000,
        unit="mm",
        **SIZES,
    )
    assert "beats a by 196 mm" in c.sentence


def test_compare_all_against_baseline_in_input_order() -> None:
    out = compare(ACCURACY, "none", **SIZES)
    assert [c.strategy for c in out] == ["dropout", "l2", "dropout+l2", "dropout+l1"]
    assert {c.reference for c in out} == {"none"}
    family = holm({c.strategy: c.test.p_value for c in out if c.test is not None})
    assert [c.p_adjusted for c in out] == pytest.approx([family[c.strategy] for c in out])


def test_too_few_paired_splits_are_reported_not_tested() -> None:
    scores = {"none": {0: 0.8, 1: 0.82, 2: 0.81}, "l2": {0: 0.85}, "l1": {0: 0.9, 1: 0.7, 2: 0.8}}
    out = compare(scores, "none", **SIZES)
    assert out[0].outcome == "untestable" and out[0].test is None
    assert out[0].sentence == "l2 vs none: too few paired splits to test"
    assert out[1].test is not None
    assert out[1].p_adjusted == pytest.approx(out[1].test.p_value)  # a family of one


ERRORS = {
    "baseline": (
        lambda: compare(ACCURACY, "nnoe", **SIZES),
        r"compare: `baseline` must be one of 'none', .*; got 'nnoe'\. Did you mean 'none'\?",
    ),
    "part": (
        lambda: combination_verdicts(ACCURACY, {"dropout+l2": ("dropuot",)}, **SIZES),
        r"combination_verdicts: `parts` must be one of .*got 'dropuot'\. Did you mean 'dropout'\?",
    ),
    "parts-string": (
        lambda: combination_verdicts(ACCURACY, {"dropout+l2": "dropout"}, **SIZES),
        r"combination_verdicts: `parts` must be a sequence of part names; got 'dropout'\.",
    ),
    "alpha": (
        lambda: compare(ACCURACY, "none", alpha=5, **SIZES),
        r"compare: `alpha` must be a float in \(0, 1\); got 5\.",
    ),
    "empty-part": (
        lambda: strategy_parts("dropout+"),
        r"strategy_parts: `name` must be parts joined by '\+'; got 'dropout\+'\.",
    ),
}


@pytest.mark.parametrize(("call", "match"), ERRORS.values(), ids=ERRORS.keys())
def test_errors(call, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("dropout+l2", ("dropout", "l2")),
        ("l1", ("l1",)),
        ("bn + dropout + en", ("bn", "dropout", "en")),
    ],
    ids=["pair", "single", "spaces"],
)
def test_strategy_parts(name: str, parts: tuple[str, ...]) -> None:
    assert strategy_parts(name) == parts


def test_rank_orders_by_direction_and_shares_ties() -> None:
    summaries = summarize_all(
        {"a": [0.5, 0.75], "b": [1.0, 0.5], "c": [0.625, 0.625], "d": [0.75, 0.75]}, 80, 20
    )
    ranked = rank(summaries)
    assert [(r.rank, r.strategy) for r in ranked] == [(1, "b"), (1, "d"), (3, "a"), (3, "c")]
    low = rank(summaries, higher_is_better=False)
    assert [r.strategy for r in low] == ["a", "c", "b", "d"]
    losses = summarize_all({"x": [0.3, 0.4], "y": [0.2, 0.3]}, 80, 20, higher_is_better=False)
    assert [r.strategy for r in rank(losses)] == ["y", "x"]


def test_rank_refuses_mixed_directions() -> None:
    mixed = {
        "a": summarize([1.0, 2.0], 8, 2),
        "b": summarize([1.0, 2.0], 8, 2, higher_is_better=False),
    }
    with pytest.raises(ConfigError, match=r"rank: `summaries` must be summaries of one metric"):
        rank(mixed)


def test_results_are_frozen_and_serialize_to_json() -> None:
    verdicts = combination_verdicts(ACCURACY, {"dropout+l2": ("dropout", "l2")}, **SIZES)
    with pytest.raises(AttributeError):
        verdicts[0].outcome = "better"  # type: ignore[misc]
    data = json.loads(json.dumps([v.to_dict() for v in verdicts]))
    assert data[1]["strategy"] == "dropout+l2" and data[1]["reference"] == "l2"
    assert data[1]["test"]["df"] == 4
    ranked = rank(summarize_all(ACCURACY, **SIZES))
    assert json.loads(json.dumps(ranked[0].to_dict()))["summary"]["n"] == 5
