"""Scheduled strengths as a study presents them: the median path per strategy in the result,
in ``--json``, in ``reglab show`` and in the report's curves section (one small real study)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import reglab
from reglab.cli.main import app
from reglab.store import MemberRecord
from reglab.study.strength_curves import median_strengths, strength_phrase


def test_median_strengths_take_each_epoch_over_the_members_that_trained_it() -> None:
    records = [
        MemberRecord(str(i), "s", i, i, 10, 5, curves={"strength:l2": c, "val_loss": [1.0] * 3})
        for i, c in enumerate([[1.0, 2.0, 6.0], [3.0, 4.0], [5.0, 9.0]])
    ]
    assert median_strengths(records) == {"strength:l2": (3.0, 4.0, 6.0)}
    assert median_strengths(records[:0]) == {}
    assert strength_phrase({"strength:l2[1]": (1e-4, 5e-4)}) == "l2[1] 1e-4 → 5e-4 (epochs 1–2)"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, reglab.StudyResult]:
    store = tmp_path_factory.mktemp("sched") / "runs.db"
    result = reglab.bench(
        "builtin:iris", strategies="none,dropout=0.2@warmup:2,l2=1e-3/1e-4@cosine", cv=3,
        epochs=4, hidden=(8, 6), patience=10, store=str(store), name="sched",
    )  # fmt: skip
    return store, result


def test_the_result_and_json_hold_the_median_paths(study) -> None:
    _, result = study
    warm = result.strategies["dropout=0.2@warmup:2"].strengths
    assert warm == {"strength:dropout": pytest.approx((0.1, 0.2, 0.2, 0.2))}
    cosine = result.strategies["l2=1e-3/1e-4@cosine"].strengths
    assert set(cosine) == {"strength:l2[0]", "strength:l2[1]"}
    assert cosine["strength:l2[0]"][0] == pytest.approx(1e-3)
    assert result.strategies["none"].strengths == {}
    ranking = {r["strategy"]: r for r in result.to_dict()["ranking"]}
    assert ranking["dropout=0.2@warmup:2"]["strengths_in_effect"] == {
        "strength:dropout": pytest.approx([0.1, 0.2, 0.2, 0.2])
    }
    assert "strengths_in_effect" not in ranking["none"]
    json.dumps(ranking["l2=1e-3/1e-4@cosine"])


def test_show_and_the_report_present_them(study, tmp_path: Path) -> None:
    store, _ = study
    shown = CliRunner().invoke(app, ["show", "sched", "--store", str(store)])
    assert shown.exit_code == 0, shown.output
    assert "Strengths in effect" in shown.output
    assert "dropout=0.2@warmup:2: dropout 0.1 → 0.2 (epochs 1–4)" in shown.output
    out = tmp_path / "r.html"
    made = CliRunner().invoke(app, ["report", "sched", "--store", str(store), "-o", str(out)])
    assert made.exit_code == 0, made.output
    html = out.read_text()
    section = html[html.index('id="curves"') :]
    assert "Strengths in effect: each scheduled strength" in section
    assert 'alt="strengths in effect per epoch"' in section
