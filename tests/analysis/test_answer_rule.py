"""Honest answers on constructed data: the exact first line and notices, in the terminal, the
JSON and the report alike (one analysis, three presentations)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from reglab.stats import compare

from .records import info, member, preds, present, scored, shows

BASE = [0.80, 0.82, 0.79, 0.81, 0.80]
NOISE = [0.012, -0.018, 0.015, -0.01, 0.001]


def shifted(by: float, noise: float = 0.0) -> list[float]:
    return [round(b + by + noise * e, 4) for b, e in zip(BASE, NOISE, strict=True)]


def test_all_tied_says_no_regularization_helped_and_recommends_none(tmp_path: Path) -> None:
    records = scored({"none": BASE, "l2": shifted(0.0, 1.0), "dropout": shifted(0.004, -1.0)})
    result, terminal, data, page = present(records, tmp_path)
    headline = (
        "No regularization helped significantly on this data; 2 strategies are statistically "
        "tied with none."
    )
    assert result.headline == data["headline"] == page.headline == headline
    assert terminal.splitlines()[terminal.splitlines().index(headline) + 1].startswith(
        "Recommended: none (no regularization, the simplest of the tied set), accuracy 80.4% "
        "(95% CI "
    )
    shows("Statistically tied with none: l2, dropout.", terminal, data, page)
    assert result.winner == data["recommended"] == "none"
    assert "winner" not in data  # a no-gain answer names no winner, only a recommendation
    assert data["decision"]["tied"] == ["l2", "dropout"]
    # every comparison says what it is: test, interval, degrees of freedom, family
    assert "Nadeau-Bengio" in data["tests"] and "Holm" in data["tests"]
    for c, comp in zip(data["comparisons_vs_none"], result.comparisons, strict=True):
        assert comp.test is not None
        assert c["ci"] == list(comp.test.ci) and c["ci"][0] <= c["mean_diff"] <= c["ci"][1]
        assert (c["df"], c["n_splits"], c["confidence"]) == (4, 5, 0.95)
        assert c["p_holm"] == comp.p_adjusted >= c["p_value"]
    assert "Use " not in page.text and "Runner-up" not in terminal + page.text


def test_one_clearly_better_is_named_with_its_computed_ties(tmp_path: Path) -> None:
    # l2 gains 10 points on every split; dropout 8 on every split (so it is significantly
    # worse than l2 though ranked second); l1 gains about 5 with a wide spread (tied with l2).
    spread = [0.06, -0.05, 0.07, -0.06, 0.05]
    scores = {
        "none": BASE,
        "l2": shifted(0.10, 0.2),  # nearly constant gains: a constant one is a sign test's
        "dropout": shifted(0.08, -0.2),
        "l1": [round(b + 0.05 + e, 4) for b, e in zip(BASE, spread, strict=True)],
    }
    result, terminal, data, page = present(scored(scores), tmp_path)
    sizes = {"n_train": 120, "n_test": 30}
    rest = {k: dict(enumerate(v)) for k, v in scores.items() if k != "none"}
    vs_best = {c.strategy: c.outcome for c in compare(rest, "l2", **sizes)}
    assert vs_best == {"dropout": "worse", "l1": "no difference"}  # the premise
    headline = (
        "Best: l2, significantly better than no regularization: accuracy 90.4% against 80.4% "
        "for none (higher by 10.0 points, Holm p<0.001); statistically tied with it: l1."
    )
    assert result.headline == data["headline"] == page.headline == headline
    assert headline in terminal.splitlines()
    assert [r.strategy for r in result.ranking][:2] == ["l2", "dropout"]  # rank is not a tie
    assert result.answer.case == "gain" and result.winner == "l2"


def test_a_significant_gain_below_one_test_row_is_said_to_be_that_small(tmp_path: Path) -> None:
    # 2 points on 30 test rows is 0.6 of a row, on every split: consistent, so significant
    records = scored({"none": BASE, "l2": shifted(0.02, 0.05)})
    result, terminal, data, page = present(records, tmp_path)
    assert result.answer.case == "gain" and result.winner == "l2"
    said = "The gain is smaller than one test row per split: 2.00 points, 0.60 of 30 test rows."
    assert said in " ".join(terminal.split()) and said in page.text
    assert any(said in line for line in data["answer"])
    # a gain of several rows per split says nothing of the kind
    (tmp_path / "big").mkdir()
    big, *_ = present(scored({"none": BASE, "l2": shifted(0.10, 0.2)}), tmp_path / "big")
    assert not any("smaller than one test row" in d for d in big.answer.details)


def test_fewer_than_five_splits_say_the_tests_have_little_power(tmp_path: Path) -> None:
    records = scored({"none": BASE[:3], "l2": shifted(0.01, 1.0)[:3]})
    result, terminal, _, page = present(records, tmp_path)
    (note,) = [n for n in result.notices if n.kind == "low-power"]
    assert note.text.startswith(
        "Only 3 splits: the tests have 2 degrees of freedom and wide intervals, and an "
        "identical difference on every split cannot get below p = 0.25 (the exact sign test it "
        "is judged by);"
    )
    assert note.text in " ".join(terminal.split()) and note.text in page.text
    (tmp_path / "five").mkdir()  # five splits: no such notice
    five, *_ = present(scored({"none": BASE, "l2": shifted(0.01, 1.0)}), tmp_path / "five")
    assert not [n for n in five.notices if n.kind == "low-power"]


def test_identical_strategies_and_an_inert_max_norm_are_called_out(tmp_path: Path) -> None:
    records = []
    for split, acc in enumerate(BASE):
        none_pred, l2_pred = preds(split), preds(100 + split)
        records += [
            member("none", split, acc, log_loss=0.40 + split / 100, pred=none_pred),
            member("maxnorm", split, acc, log_loss=0.40 + split / 100, pred=none_pred + 1e-7),
            member("l2", split, acc + NOISE[split], log_loss=0.38, pred=l2_pred),
            member("l2+maxnorm", split, acc + NOISE[split], log_loss=0.38, pred=l2_pred),
        ]
    result, terminal, data, page = present(records, tmp_path)
    assert result.headline == (
        "No regularization helped significantly on this data; 3 strategies are statistically "
        "tied with none."
    )
    for line in (
        "maxnorm never became active: identical to none on every split; try a stronger "
        "setting or tune it.",
        "l2+maxnorm is identical to l2 on every split: what it adds to l2 changed nothing.",
        "l2+maxnorm is identical to l2 on every split.",
    ):
        shows(line, terminal, data, page)
    verdicts = {(v.strategy, v.reference): v.outcome for v in result.verdicts}
    assert verdicts[("l2+maxnorm", "l2")] == "identical"
    outcomes = {c.strategy: c.outcome for c in result.compare()}
    assert outcomes["maxnorm"] == "identical"
    rows = {r["strategy"]: r for r in data["ranking"]}
    assert (rows["maxnorm"]["identical_to"], rows["maxnorm"]["identical_by"]) == (
        "none",
        "predictions",
    )
    assert "no significant gain" not in page.text
    assert "identical to l2: the combination changed nothing" in page.text


def test_predictions_that_differ_are_not_identical_even_with_equal_scores(
    tmp_path: Path,
) -> None:
    records = []
    for split, acc in enumerate(BASE):
        records += [
            member("none", split, acc, log_loss=0.4, pred=preds(split)),
            member("l2", split, acc, log_loss=0.4, pred=preds(split) * 0.99 + 0.0033),
        ]
    result, *_ = present(records, tmp_path)
    assert result.strategies["l2"].same_as is None
    assert [n.kind for n in result.notices] == []


def test_eight_strategies_with_the_same_score_name_no_winner(tmp_path: Path) -> None:
    names = ["none", "l1", "l2", "dropout", "maxnorm", "dropout+l2", "batchnorm", "gn"]
    records = [member(n, s, 0.687, log_loss=0.5) for n in names for s in range(5)]
    result, terminal, _, page = present(records, tmp_path)
    assert result.headline == (
        "No regularization helped significantly on this data; 7 strategies are statistically "
        "tied with none."
    )
    assert result.winner == "none"
    assert "Runner-up" not in terminal + page.text
    assert "0.0 points behind" not in terminal + page.text
    assert sum(n.kind == "identical" for n in result.notices) == 7


def test_members_that_hit_the_epoch_limit_get_a_notice(tmp_path: Path) -> None:
    records = scored({"none": BASE, "l2": shifted(0.0, 1.0)})
    records += [
        member("l1", s, a, log_loss=0.33, stopped=None if s < 3 else 40, epochs_run=100)
        for s, a in enumerate(shifted(0.0, -1.0))
    ]
    result, terminal, data, page = present(records, tmp_path)
    line = (
        "Early stopping never fired before the 100-epoch limit for 3 of 5 l1 members; they may "
        "not have finished learning: raise the limit (--epochs)."
    )
    shows(line, terminal, data, page)
    assert result.strategies["l1"].n_at_limit == 3
    assert result.strategies["l1"].epochs_text() == "8/76 (2 of 5)"


def test_fixed_epochs_raise_no_epoch_limit_notice(tmp_path: Path) -> None:
    records = [
        member(n, s, a, log_loss=0.3 + i / 10, stopped=None, epochs_run=100, best=100)
        for i, (n, v) in enumerate({"none": BASE, "l2": shifted(0, 1)}.items())
        for s, a in enumerate(v)
    ]
    result, terminal, *_ = present(records, tmp_path, study=info(["none", "l2"], patience=None))
    assert result.notices == ()
    assert result.strategies["none"].epochs_text() == "100/100"
    assert "100/100" in terminal


def test_perfect_scores_raise_a_leakage_notice(tmp_path: Path) -> None:
    records = scored({"none": [1.0] * 5, "l2": [1.0] * 5})
    result, terminal, data, page = present(records, tmp_path)
    line = (
        "Test accuracy is perfect on every split for none, l2: such scores are rare on real "
        "data. Check that no column leaks the target and leave any such column out (--drop "
        "COLUMN)."
    )
    shows(line, terminal, data, page)
    assert [n.kind for n in result.notices] == ["leakage"]


def test_leakage_flagged_at_loading_is_said_again_beside_an_ordinary_answer(
    tmp_path: Path,
) -> None:
    strongest = (
        "'a' alone predicts the target almost perfectly (balanced accuracy 100.0% on held-out rows)"
    )
    data = {
        "notices": f"{strongest} (possible target leakage); kept: leave it out (--drop a) if it "
        "is unknown at prediction time",
        "strongest column": strongest,
    }
    study = dataclasses.replace(info(["none", "l2"]), metadata={"data": data})
    result, terminal, out, page = present(
        scored({"none": BASE, "l2": shifted(0.0, 1.0)}), tmp_path, study=study
    )
    (note,) = [n for n in result.notices if n.kind == "leakage"]
    assert note.text.startswith(f"Loading flagged possible target leakage ({strongest}): ")
    assert note.text in " ".join(terminal.split()) and note.text in page.text
    assert note.text in [n["text"] for n in out["notices"]]
    # without the flag, ordinary scores raise nothing
    (tmp_path / "plain").mkdir()
    plain, *_ = present(scored({"none": BASE, "l2": shifted(0.0, 1.0)}), tmp_path / "plain")
    assert not [n for n in plain.notices if n.kind == "leakage"]


def test_a_negligible_penalty_is_said_to_barely_act(tmp_path: Path) -> None:
    curves = {"train_loss": [1.0, 0.6, 0.5], "penalty": [1e-6, 2e-6, 2e-6]}
    records = scored({"none": BASE})
    records += [
        member("l2=1e-7", s, a, log_loss=0.31, config={"l2": 1e-7}, curves=curves)
        for s, a in enumerate(shifted(0.0, 1.0))
    ]
    _, terminal, data, page = present(records, tmp_path)
    shows(
        "l2=1e-7: the penalty stayed below 0.1% of the training loss (at most 0.0004%), so it "
        "barely acted; try a stronger setting or tune it.",
        terminal,
        data,
        page,
    )


def test_without_none_the_best_and_its_ties_are_named(tmp_path: Path) -> None:
    records = scored({"l1": shifted(0.0, 1.0), "l2": shifted(0.1)})
    result, *_ = present(records, tmp_path)
    assert result.headline.startswith("Best: l2 with accuracy 90.4% (95% CI ")
    assert result.headline.endswith(
        "; no other strategy is statistically tied with it. No strategy named none was run, "
        "so nothing was tested against no regularization."
    )


def test_comparisons_and_verdicts_read_as_tables_and_the_repr_is_short(
    tmp_path: Path,
) -> None:
    records = scored({"none": BASE, "l2": shifted(0.1), "dropout": shifted(0.05, 1.0),
                      "dropout+l2": shifted(0.1, 1.0)})  # fmt: skip
    result, *_ = present(records, tmp_path)
    frame = result.compare().to_frame()
    assert list(frame["strategy"]) == ["l2", "dropout", "dropout+l2"]
    assert list(frame["p_holm"]) == [c.p_adjusted for c in result.comparisons]
    verdicts = result.verdicts.to_frame()
    assert list(zip(verdicts["strategy"], verdicts["reference"], strict=True)) == [
        ("dropout+l2", "dropout"),
        ("dropout+l2", "l2"),
    ]
    assert {c.strategy for c in result.compare()} == {"l2", "dropout", "dropout+l2"}  # a list
    text = repr(result)
    assert text.startswith("<StudyResult 'constructed': 4 strategies × 5 splits, 20 members")
    assert len(text) < 400 and result.headline in text
    assert str(result) == text


@pytest.mark.parametrize("seed", range(3))
def test_the_answer_never_names_a_best_that_is_not_better_than_none(
    seed: int, tmp_path: Path
) -> None:
    rng = np.random.default_rng(seed)
    scores = {n: list(np.clip(0.8 + rng.normal(0, 0.02, 5), 0, 1)) for n in ("none", "a", "b")}
    result, *_ = present(scored(scores), tmp_path)
    outcomes = {c.strategy: c.outcome for c in result.compare()}
    if "better" in outcomes.values():
        assert outcomes[result.answer.best or ""] == "better"
    else:
        assert result.headline.startswith("No regularization helped significantly")
        assert result.winner == "none"


def test_when_every_member_hit_the_limit_the_notice_says_so_once(tmp_path: Path) -> None:
    records = [
        member(n, s, a, log_loss=0.3 + i / 10, stopped=None, epochs_run=30, best=30)
        for i, (n, v) in enumerate({"none": BASE, "l2": shifted(0, 1)}.items())
        for s, a in enumerate(v)
    ]
    _, terminal, data, page = present(records, tmp_path, study=info(["none", "l2"], epochs=30))
    shows(
        "Early stopping never fired before the 30-epoch limit for any of the 10 members; they "
        "may not have finished learning: raise the limit (--epochs).",
        terminal,
        data,
        page,
    )


def test_one_part_rule_for_the_verdicts(tmp_path: Path) -> None:
    """The grammar's rule: ``proximal`` modifies elasticnet (one part, no verdict); the parts
    a run stored in its metadata win over the grammar."""
    scores = {"none": BASE, "elasticnet": shifted(0, 1), "elasticnet+proximal": shifted(0, -1),
              "dropout": shifted(0.01, 1), "dropout+l2": shifted(0.02, -1)}  # fmt: skip
    result, *_ = present(scored(scores), tmp_path)
    assert {(v.strategy, v.reference) for v in result.verdicts} == {("dropout+l2", "dropout")}
    study = info(list(scores))
    study = dataclasses.replace(
        study,
        metadata={
            "strategy_parts": {
                "dropout+l2": ["dropout"],
                "elasticnet+proximal": ["elasticnet", "proximal"],
            }
        },
    )
    planned, *_ = present(scored(scores), tmp_path, study=study)
    assert {(v.strategy, v.reference) for v in planned.verdicts} == {
        ("dropout+l2", "dropout"),
        ("elasticnet+proximal", "elasticnet"),
    }
