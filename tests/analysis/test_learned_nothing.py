"""Members at chance level: failed with the reason while other strategies learn, and an answer
that names no strategy when none learned (terminal, JSON and report alike)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from reglab.store import MemberRecord

from .records import info, present, scored, shows

BASE = [0.80, 0.82, 0.79, 0.81, 0.80]


def with_balanced(
    records: list[MemberRecord], balanced: dict[str, list[float]]
) -> list[MemberRecord]:
    """The records with a test balanced accuracy per strategy and split."""
    return [
        dataclasses.replace(
            r,
            test_scores={**r.test_scores, "balanced_accuracy": balanced[r.strategy][r.split_id]},
        )
        for r in records
    ]


def three_classes(names: list[str]):  # type: ignore[no-untyped-def]
    study = info(names)
    config = {**study.config, "data": {**study.config["data"], "classes": ["a", "b", "c"]}}
    return dataclasses.replace(study, config=config)


def test_members_at_chance_fail_with_the_reason_while_others_learn(tmp_path: Path) -> None:
    chance = [0.3333, 0.3333, 0.34, 0.3333, 0.3333]
    accuracy = {"none": BASE, "l2": BASE, "sgd-huge": [0.34, 0.33, 0.35, 0.34, 0.33]}
    balanced = {"none": BASE, "l2": BASE, "sgd-huge": chance}
    records = with_balanced(scored(accuracy), balanced)
    result, terminal, data, page = present(records, tmp_path, study=three_classes(list(accuracy)))
    s = result.strategies["sgd-huge"]
    assert (s.n_done, s.n_failed, s.n_chance) == (0, 0, 5)
    # learning nothing is the strategy's outcome: its scores count, and it is ranked last,
    # significantly worse than none, rather than left out as if it had no score
    assert "sgd-huge" not in result.unranked and result.ranking[-1].strategy == "sgd-huge"
    assert {c.strategy: c.outcome for c in result.comparisons}["sgd-huge"] == "worse"
    assert "sgd-huge (5 learned nothing)" in terminal
    reason = (
        "learned nothing: test balanced accuracy 33.3% is at chance level (chance for 3 classes, "
        "1/3) while none reaches 80.4%; try a smaller lr or penalty"
    )
    assert set(s.errors) >= {reason}
    assert reason in page.text  # the failed members' table
    said = reason.removeprefix("learned nothing: ")  # the notice gives one as its example
    assert said in " ".join(terminal.split()) and said in json.dumps(data)
    assert result.answer.case == "no-gain"
    # at chance is not a failure: no "members failed" line, one line of its own instead
    assert result.failure_summary is None and result.failures == []
    (note,) = [n for n in result.notices if n.kind == "learned-nothing"]
    assert note.text.startswith("5 members learned nothing: sgd-huge (5 of 5). For example, ")
    assert "members failed" not in terminal
    # the report counts them apart from failures, and says that their scores count
    assert "15 members, 5 learned nothing" in page.text and "failed" not in page.headline
    assert "Members that learned nothing" in page.text and "failures" in page.ids
    assert "5 members learned nothing (test score at chance level while other" in page.text


def test_a_study_where_nothing_learned_names_no_strategy(tmp_path: Path) -> None:
    flat = [0.3333, 0.34, 0.3333, 0.3333, 0.335]
    accuracy = {"none": [0.34, 0.35, 0.33, 0.34, 0.34], "l2": [0.33, 0.34, 0.35, 0.33, 0.34]}
    records = with_balanced(scored(accuracy), {"none": flat, "l2": flat})
    result, terminal, data, page = present(records, tmp_path, study=three_classes(list(accuracy)))
    headline = (
        "No strategy learned anything: every finished member's test balanced accuracy is at "
        "chance level (chance for 3 classes, 1/3), so this study cannot say which "
        "regularization helps; check the learning rate (--lr), the epochs and the target."
    )
    assert result.headline == data["headline"] == page.headline == headline
    assert result.winner is None and data["recommended"] is None
    assert result.answer.case == "nothing-learned"
    assert "Recommended" not in terminal
    shows(headline, terminal, data, page)


def test_a_weak_but_learning_study_keeps_the_ordinary_rule(tmp_path: Path) -> None:
    # Balanced accuracy a few points above chance on every member: no strategy clears chance by
    # LEARNS, but none sits at chance either, so nothing is failed and the rule speaks.
    weak = [0.40, 0.41, 0.39, 0.40, 0.42]
    accuracy = {"none": weak, "l2": weak}
    records = with_balanced(scored(accuracy), {"none": weak, "l2": weak})
    result, *_ = present(records, tmp_path, study=three_classes(list(accuracy)))
    assert result.n_failed == 0
    assert result.answer.case == "no-gain"


def test_a_split_where_every_member_learned_nothing_still_counts(tmp_path: Path) -> None:
    chance = 0.3333
    accuracy = {"none": [chance, *BASE[1:]], "l2": [chance, *BASE[1:]]}
    records = with_balanced(scored(accuracy), accuracy)
    result, *_ = present(records, tmp_path, study=three_classes(list(accuracy)))
    for name in accuracy:
        s = result.strategies[name]
        assert (s.n_done, s.n_chance) == (4, 1)
        assert sorted(s.split_scores["balanced_accuracy"]) == [0, 1, 2, 3, 4]
