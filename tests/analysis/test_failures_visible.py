"""Failed members stay visible: a strategy whose members all failed keeps its row with its
count of failures, one surviving member is not ranked as if comparable, and a study whose
members all failed says so (``StudyResult.all_failed`` and ``failure_summary``)."""

from __future__ import annotations

from pathlib import Path

from reglab.study.results import analyze

from .records import failed, member, present, scored

BASE = [0.80, 0.82, 0.79, 0.81, 0.80]
OTHER = [0.81, 0.80, 0.80, 0.82, 0.79]


def test_a_strategy_whose_members_all_failed_keeps_its_row(tmp_path: Path) -> None:
    records = scored({"none": BASE, "l2": OTHER}) + [failed("l2=1e6", s) for s in range(5)]
    result, terminal, data, page = present(records, tmp_path)
    row = next(line for line in terminal.splitlines() if "l2=1e6" in line and "│" in line)
    assert "l2=1e6 (all 5 failed)" in row
    assert row.split("│")[1].strip() == "–"  # unnumbered: not ranked
    rows = {r["strategy"]: r for r in data["ranking"]}
    assert rows["l2=1e6"]["rank"] is None
    assert rows["l2=1e6"]["all_failed"] is True
    assert rows["l2=1e6"]["members_failed"] == 5
    assert sorted(page.rows["rank"][:2]) == ["l2", "none"] and page.rows["rank"][2] == "l2=1e6"
    assert "all 5 failed" in page.text
    summary = "5 of 15 members failed: l2=1e6 (5 of 5: loss became NaN at epoch 3)."
    assert result.failure_summary == data["failure_summary"] == summary
    assert f"note: {summary}" in terminal.splitlines()
    assert summary in page.text
    assert not result.all_failed and data["all_failed"] is False
    assert result.unranked == ("l2=1e6",)
    assert "l2=1e6" in set(result.table()["strategy"])


def test_one_surviving_member_is_not_ranked_or_called_runner_up(tmp_path: Path) -> None:
    records = scored({"none": BASE, "l2": OTHER})
    records += [member("l1", 0, 0.95, log_loss=0.2)] + [failed("l1", s) for s in range(1, 5)]
    result, terminal, data, page = present(records, tmp_path)
    assert sorted(r.strategy for r in result.ranking) == ["l2", "none"]
    assert result.unranked == ("l1",)
    line = (
        "l1: only 1 of 5 members finished (4 failed); a score from fewer than 2 splits has no "
        "interval, so it is neither ranked nor compared."
    )
    lines = [t.strip() for t in terminal.splitlines()]
    assert f"note: {line}" in lines
    assert line in data["answer"] and line in page.text
    for text in (terminal, page.text, " ".join(data["answer"])):
        assert "Runner-up" not in text and "runner-up" not in text
    assert result.headline.startswith("No regularization helped significantly")
    assert {c.strategy for c in result.compare()} == {"l2"}  # l1 is not compared
    assert result.strategies["l1"].metrics["accuracy"].n == 1  # what is known is kept


def test_a_study_whose_members_all_failed_says_so(tmp_path: Path) -> None:
    records = [failed(n, s, "CUDA out of memory") for n in ("none", "l2") for s in range(3)]
    result, terminal, data, page = present(records, tmp_path)
    assert result.all_failed and data["all_failed"] is True
    summary = (
        "All 6 members failed: none (3 of 3: CUDA out of memory); l2 (3 of 3: CUDA out of memory)."
    )
    assert result.failure_summary == summary
    assert result.headline == "No member finished, so there is nothing to compare."
    assert page.headline == result.headline
    assert summary in page.text and f"note: {summary}" in terminal.splitlines()
    assert [r["strategy"] for r in data["ranking"]] == ["none", "l2"]


def test_no_failures_no_summary() -> None:
    result = analyze("s", [member("none", 0, 0.8), member("none", 1, 0.82)], task="multiclass")
    assert result.failure_summary is None
    assert not result.all_failed
    assert analyze("s", [], task="multiclass").all_failed is False
