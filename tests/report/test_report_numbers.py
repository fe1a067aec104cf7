"""The report states the statistics module's numbers, ranks correctly and renders every shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from reglab.errors import ConfigError
from reglab.report import render_report
from reglab.report.analysis import overfitting_onset
from reglab.report.sections import SECTIONS
from reglab.stats import (
    combination_verdicts,
    compare,
    summarize,
)
from reglab.store import MemberRecord, StudyInfo
from reglab.study.results import analyze_study

from .conftest import FEATURES, INFORMATIVE, ONSET, build_study
from .pagecheck import parse

Study = tuple[StudyInfo, list[MemberRecord]]


def scores_of(members: list[MemberRecord], metric: str) -> dict[str, dict[int, float]]:
    """``{strategy: {split: score}}`` of the finished members (one member per split)."""
    out: dict[str, dict[int, float]] = {}
    for m in members:
        if m.status == "done" and metric in m.test_scores:
            out.setdefault(m.strategy, {})[m.split_id] = m.test_scores[metric]
    return out


def sizes_of(members: list[MemberRecord]) -> dict[str, dict[int, int]]:
    return {
        "n_train": {m.split_id: m.n_train for m in members},
        "n_test": {m.split_id: m.n_test for m in members},
    }


@pytest.fixture(scope="module")
def page_and_study() -> tuple[Any, Study]:
    study = build_study()
    return parse(render_report(*study)), study


def test_every_section_is_present_in_order(page_and_study: tuple[Any, Study]) -> None:
    page, _ = page_and_study
    expected = [sid for sid, _ in SECTIONS]
    expected.insert(expected.index("metadata"), "failures")
    sections = [i for i in page.ids if i in expected]
    assert sections == expected
    assert "features" in page.ids


def test_answer_numbers_equal_the_stats_module(page_and_study: tuple[Any, Study]) -> None:
    page, (info, members) = page_and_study
    scores = scores_of(members, "accuracy")
    sizes = sizes_of(members)
    summaries = {s: summarize(v, **sizes) for s, v in scores.items()}
    vs_none = compare(scores, "none", **sizes)
    better = [c.strategy for c in vs_none if c.outcome == "better"]
    best = max(better, key=lambda s: summaries[s].mean)
    assert page.rows["rank"][0] == best == "dropout+l2"
    # the first line names the best and the strategies tied with it by the test against it
    rest = {s: v for s, v in scores.items() if s != "none"}
    vs_best = compare(rest, best, **sizes)
    tied = [c.strategy for c in vs_best if c.outcome == "no difference"]
    assert page.headline.startswith(f"Best: {best}, significantly better than no regularization")
    assert page.headline.endswith(f"statistically tied with it: {', '.join(tied)}.")
    assert page.headline == analyze_study(info, members).headline
    # the tests table holds both families, in order, with the stats module's numbers
    assert page.stats["test-p"] == [c.p_adjusted for c in [*vs_none, *vs_best]]
    assert page.stats["test-diff"] == [
        c.test.mean_diff for c in [*vs_none, *vs_best] if c.test is not None
    ]
    assert page.rows["tests"] == [c.strategy for c in [*vs_none, *vs_best]]


def test_verdicts_are_the_stats_sentences(page_and_study: tuple[Any, Study]) -> None:
    page, (_, members) = page_and_study
    scores = scores_of(members, "accuracy")
    verdicts = combination_verdicts(scores, {"dropout+l2": ("dropout", "l2")}, **sizes_of(members))
    assert len(verdicts) == 2
    for v in verdicts:
        assert v.sentence + "." in page.text


def test_ranking_table_orders_and_tests_against_none(page_and_study: tuple[Any, Study]) -> None:
    page, (_, members) = page_and_study
    scores = scores_of(members, "accuracy")
    sizes = sizes_of(members)
    means = {s: float(np.mean(list(v.values()))) for s, v in scores.items()}
    order = sorted(means, key=lambda s: -means[s])
    assert page.rows["rank"] == order
    assert page.stats["mean-accuracy"] == pytest.approx([means[s] for s in order], rel=1e-12)
    holm = {c.strategy: c.p_adjusted for c in compare(scores, "none", **sizes)}
    assert page.stats["p-holm"] == [holm[s] for s in order if s != "none"]


def test_overfitting_onset_of_none_is_stated(page_and_study: tuple[Any, Study]) -> None:
    page, (_, members) = page_and_study
    none = [m for m in members if m.strategy == "none"]
    train = np.median([m.curves["train_loss"] for m in none], axis=0)
    val = np.median([m.curves["val_loss"] for m in none], axis=0)
    onset = overfitting_onset(train, val)
    assert onset is not None
    assert page.stat("overfit-onset") == onset + 1
    # The synthetic validation loss is lowest a couple of epochs after ONSET (its exponential
    # part still falls there); the stated onset must land in that neighbourhood.
    assert ONSET <= onset <= ONSET + 5


def test_feature_table_counts_survival_across_splits(page_and_study: tuple[Any, Study]) -> None:
    page, (_, members) = page_and_study
    norms = np.array([m.feature_norms for m in members if m.strategy == "l1"])
    survival = (norms > 1e-3 * norms.max(axis=1, keepdims=True)).mean(axis=0)
    expected = [FEATURES[i] for i in np.lexsort((np.arange(len(FEATURES)), survival))]
    assert page.rows["features"] == expected  # the dropped and unstable features first
    assert set(expected[-INFORMATIVE:]) == set(FEATURES[:INFORMATIVE])
    assert survival[INFORMATIVE] == 0.0  # a norm of 1e-9 is below the relative threshold
    n_dropped = int(np.sum(survival == 0))
    assert f"Of {len(FEATURES)} features, {n_dropped} were dropped" in page.text


def test_regression_ranks_by_rmse_lower_is_better() -> None:
    info, members = build_study(task="regression", failed=False)
    page = parse(render_report(info, members))
    rmse = scores_of(members, "rmse")
    means = {s: float(np.mean(list(v.values()))) for s, v in rmse.items()}
    assert page.rows["rank"] == sorted(means, key=lambda s: means[s])
    assert page.stats["mean-rmse"][0] == pytest.approx(min(means.values()), rel=1e-12)
    assert "ranked by test RMSE (lower is better)" in page.text
    assert page.stats["test-diff"][0] < 0  # every strategy has a lower RMSE than none
    assert page.headline.startswith("Best: dropout+l2, significantly better")
    assert "(lower by " in page.headline


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        pytest.param({"strategies": ("l2",)}, "Only one strategy was run, l2", id="single"),
        pytest.param({"strategies": ("l1", "l2")}, "No strategy named none was", id="no-baseline"),
        pytest.param({"n_splits": 1}, "Too few splits to test any difference", id="one-split"),
        pytest.param({"curves": False}, "No per-epoch curves were stored", id="no-curves"),
        pytest.param({"details": False}, "No weight histograms were stored", id="no-details"),
        pytest.param({"feature_names": None}, "x2", id="default-feature-names"),
        pytest.param({"strategies": ("none", "l2")}, "No combined strategy", id="no-combos"),
        pytest.param({"strategies": ("none",)}, "Only one strategy was run, none", id="only-none"),
    ],
)
def test_study_shapes_render(kwargs: dict[str, Any], phrase: str) -> None:
    page = parse(render_report(*build_study(**{"n_splits": 3, **kwargs})))
    for sid, _ in SECTIONS:
        assert sid in page.ids
    assert phrase.lower() in page.text.lower()


def test_all_members_failed_still_renders() -> None:
    info, members = build_study(strategies=("none", "l2"), n_splits=2)
    failed = [
        MemberRecord(
            m.key,
            m.strategy,
            m.split_id,
            m.seed,
            80,
            20,
            status="failed",
            error="CUDA out of memory",
        )
        for m in members
    ]
    page = parse(render_report(info, failed))
    assert page.headline == "No member finished, so there is nothing to compare."
    assert "All 4 members failed: none (2 of 2: CUDA out of memory); l2 (2 of 2: CUDA" in page.text
    assert page.rows["rank"] == ["none", "l2"]  # every strategy keeps its row
    assert page.text.count("all 2 failed") == 2
    assert "failures" in page.ids
    assert page.text.count("CUDA out of memory") == len(failed) + 2  # table + the summary
    assert page.tags["img"] == 0


def test_failed_member_is_listed_and_left_out(page_and_study: tuple[Any, Study]) -> None:
    page, (_, members) = page_and_study
    failed = [m for m in members if m.status == "failed"]
    assert len(failed) == 1
    assert "loss became NaN at epoch 7" in page.text
    assert "1 member failed" in page.text


def test_feature_names_argument_overrides_the_stored_ones() -> None:
    info, members = build_study(strategies=("none", "l1"), n_splits=3)
    names = [f"feat_{i}" for i in range(len(FEATURES))]
    page = parse(render_report(info, members, feature_names=names))
    assert sorted(page.rows["features"]) == sorted(names)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(
            lambda i, m: render_report(object(), m),
            r"render_report: `study_info` must "
            r"be a StudyInfo",
            id="not-a-study",
        ),
        pytest.param(
            lambda i, m: render_report(i, [{"key": "x"}]),
            r"render_report: `members` "
            r"must be a sequence of MemberRecord; got 'a dict'",
            id="dict-member",
        ),
        pytest.param(
            lambda i, m: render_report(i, "abc"),
            r"`members` must be a sequence of "
            r"MemberRecord; got 'str'",
            id="string-members",
        ),
        pytest.param(
            lambda i, m: render_report(i, m, feature_names="abc"),
            r"render_report: `feature_names` must be a sequence of strings; got 'abc'",
            id="string-feature-names",
        ),
        pytest.param(
            lambda i, m: render_report(i),
            r"`members` must be a sequence of "
            r"MemberRecord; got None",
            id="no-members",
        ),
    ],
)
def test_bad_arguments_raise_one_line(call: Callable[..., Any], match: str) -> None:
    info, members = build_study(strategies=("l2",), n_splits=2)
    with pytest.raises(ConfigError, match=match):
        call(info, members)


def test_an_object_carrying_its_members_is_accepted() -> None:
    """A study result carrying name, config, metadata (feature names inside) and members."""
    info, members = build_study(strategies=("none", "l1"), n_splits=3, feature_names=None)
    names = [f"f{i}" for i in range(len(FEATURES))]
    result = SimpleNamespace(
        name="carried", config=info.config, metadata={"feature_names": names}, members=members
    )
    page = parse(render_report(result))
    assert "Study carried" in page.text
    assert sorted(page.rows["features"]) == sorted(names)
    again = parse(render_report(info, members, feature_names=names)).stats
    assert {k: repr(v) for k, v in page.stats.items()} == {k: repr(v) for k, v in again.items()}


def test_identical_strategies_are_said_identical_not_tied() -> None:
    info, members = build_study(strategies=("none", "l2"), n_splits=3, failed=False)
    twins = [replace(m, key=m.key + "-twin", strategy="l2+maxnorm") for m in members
             if m.strategy == "l2"]  # fmt: skip
    inert = [replace(m, key=m.key + "-inert", strategy="maxnorm") for m in members
             if m.strategy == "none"]  # fmt: skip
    page = parse(render_report(info, members + twins + inert))
    assert "maxnorm never became active: identical to none on every split" in page.text
    assert "l2+maxnorm is identical to l2 on every split" in page.text
    assert "l2+maxnorm is identical to l2 on every split." in page.text  # the verdict
    assert "no significant gain" not in page.text


def test_accuracy_intervals_are_shown_clipped_to_one() -> None:
    info, members = build_study(strategies=("none", "l2"), n_splits=3, failed=False)
    near_one = [0.995, 0.96, 1.0]
    members = [
        replace(m, test_scores={"accuracy": near_one[m.split_id]}) if m.strategy == "l2" else m
        for m in members
    ]
    page = parse(render_report(info, members))
    raw = summarize(dict(enumerate(near_one)), **sizes_of(members))
    assert raw.ci_high > 1.0
    row = page.rows["rank"].index("l2")
    assert page.stats["ci-high-accuracy"][row] == 1.0
    assert page.stats["ci-low-accuracy"][row] == raw.ci_low
    assert "to 100.0%" in page.text
