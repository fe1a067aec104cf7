"""Constructed studies for the analysis tests: member records with chosen scores, and the three
presentations of one analysis (terminal text, JSON, report page)."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from reglab.cli.render import print_result
from reglab.report import render_report
from reglab.store import MemberRecord, StudyInfo
from reglab.study.results import StudyResult, analyze_study
from report.pagecheck import Page, parse


def member(
    strategy: str,
    split: int,
    accuracy: float,
    *,
    log_loss: float | None = None,
    pred: Any = None,
    best: int = 8,
    stopped: int | None = 18,
    epochs_run: int | None = None,
    config: Mapping[str, Any] | None = None,
    curves: Mapping[str, Sequence[float]] | None = None,
) -> MemberRecord:
    """A finished member on ``split`` (epochs from 1; ``stopped=None``: did not stop)."""
    return MemberRecord(
        f"{strategy}-{split}",
        strategy,
        split,
        7 + split,
        120,
        30,
        strategy_config={"name": strategy, **(config or {})},
        test_scores={
            "accuracy": accuracy,
            "log_loss": 1.2 * (1 - accuracy) + 0.05 if log_loss is None else log_loss,
        },
        train_scores={"accuracy": min(1.0, accuracy + 0.05)},
        best_epoch=best,
        stopped_epoch=stopped,
        epochs_run=epochs_run if epochs_run is not None else (stopped or 100),
        test_pred=pred,
        curves=dict(curves or {}),
    )


def failed(strategy: str, split: int, error: str = "loss became NaN at epoch 3") -> MemberRecord:
    return MemberRecord(
        f"{strategy}-{split}", strategy, split, 7 + split, 120, 30, status="failed", error=error
    )


def scored(scores: Mapping[str, Sequence[float]], **kw: Any) -> list[MemberRecord]:
    """One finished member per strategy and split, with these accuracies; a strategy's log
    loss differs from every other's (so no two are identical by chance)."""
    out = []
    for i, (name, values) in enumerate(scores.items()):
        for split, acc in enumerate(values):
            out.append(member(name, split, acc, log_loss=0.3 + 0.01 * i + 0.001 * split, **kw))
    return out


def info(strategies: Sequence[str], *, epochs: int = 100, patience: int | None = 10) -> StudyInfo:
    return StudyInfo(
        name="constructed",
        created_at=datetime(2024, 5, 1, tzinfo=UTC),
        status="done",
        config={
            "data": {"name": "constructed", "task": "multiclass"},
            "strategies": [{"name": s} for s in strategies],
            "train": {"epochs": epochs, "patience": patience},
        },
        metadata={},
        feature_names=None,
        counts={},
        strategies=tuple(strategies),
    )


def preds(seed: int, n: int = 30, classes: int = 3) -> np.ndarray:
    p = np.random.default_rng(seed).random((n, classes))
    return p / p.sum(axis=1, keepdims=True)


def present(
    records: Sequence[MemberRecord], tmp_path: Path, *, study: StudyInfo | None = None
) -> tuple[StudyResult, str, dict[str, Any], Page]:
    """The analysis, and how the terminal, ``--json`` and the report show it."""
    names = list(dict.fromkeys(r.strategy for r in records))
    study = study or info(names)
    result = analyze_study(study, records)
    buffer = io.StringIO()
    print_result(result, Console(file=buffer, width=400, markup=False, highlight=False))
    data = json.loads(result.to_json(tmp_path / "result.json").read_text())
    page = parse(render_report(study, records))
    return result, buffer.getvalue(), data, page


def shows(line: str, terminal: str, data: dict[str, Any], page: Page) -> None:
    """``line`` is in all three presentations."""
    lines = [t.strip() for t in terminal.splitlines()]
    assert line in lines or f"note: {line}" in lines, terminal
    assert line in data["answer"], data["answer"]
    assert line in page.text, line
