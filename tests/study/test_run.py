"""The study runner end to end: protocol, storage, resume after kill -9, results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import reglab
from reglab.cli.main import app
from reglab.data.builtin import load_builtin
from reglab.store import Store
from reglab.study.reference import is_reference
from reglab.study.run import Study

FAST = {"hidden": (16,), "epochs": 15, "patience": 5, "n_splits": 3}


def test_bench_python_api_on_real_data() -> None:
    result = reglab.bench(
        "builtin:breast_cancer", strategies="none,l2=1e-3,dropout=0.2,dropout=0.2+l2=1e-3", **FAST
    )
    table = result.table()
    references = table[table["reference"]]
    table = table[~table["reference"]]
    assert list(references["strategy"]) == ["linear:l1", "linear:l2", "linear:elasticnet"]
    assert (references["members"] == 3).all()  # the linear reference rows are on by default
    assert list(table["strategy"]).count("none") == 1
    assert len(table) == 4
    assert result.winner in set(table["strategy"])
    assert (table["accuracy"] > 0.85).all()
    # every combined strategy gets a verdict against each of its parts
    pairs = {(v.strategy, v.reference) for v in result.verdicts}
    assert pairs == {("dropout=0.2+l2=1e-3", "dropout=0.2"), ("dropout=0.2+l2=1e-3", "l2=1e-3")}
    assert {c.strategy for c in result.compare()} == set(table["strategy"]) - {"none"}
    for s in result.strategies.values():
        assert s.n_done == 3
        assert s.mean_best_epoch is not None
        assert s.mean_stopped_epoch is None or s.mean_stopped_epoch >= 1


def test_early_stopping_never_sees_the_test_rows() -> None:
    ds = load_builtin("wine")
    plan = Study("none", **FAST).plan(ds)
    for spec, _ in plan.members:
        assert not set(spec.val_idx) & set(spec.test_idx)
        assert not set(spec.train_idx) & set(spec.test_idx)
        assert set(spec.val_idx) | set(spec.train_idx) | set(spec.test_idx) == set(range(178))


def test_preprocessing_is_fit_on_the_training_part_only() -> None:
    ds = load_builtin("wine")
    plan = Study("none", **FAST).plan(ds)
    for split in plan.splits:
        X, _ = plan.data[split.split_id]
        train = np.concatenate([split.train_idx, split.val_idx])
        np.testing.assert_allclose(X[train].mean(axis=0), 0.0, atol=1e-5)
        assert np.abs(X[split.test_idx].mean(axis=0)).max() > 1e-3


def test_strategies_share_the_split_seed() -> None:
    plan = Study("none,l2", **FAST).plan(load_builtin("iris"))
    seeds: dict[int, set[int]] = {}
    for spec, split in plan.members:
        seeds.setdefault(split.split_id, set()).add(spec.seed)
    assert all(len(s) == 1 for s in seeds.values())
    assert len({next(iter(s)) for s in seeds.values()}) == len(seeds)


def test_rerun_trains_nothing_and_extends_with_new_strategies(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    first = reglab.bench("builtin:iris", strategies="none,l2", store=db, name="iris", **FAST)
    again = reglab.bench("builtin:iris", strategies="none,l2", store=db, name="iris", **FAST)
    assert again.metadata["timings"]["members trained"] == 0
    assert first.table().equals(again.table())


def _bench_cmd(db: Path, json_path: Path) -> list[str]:
    return [
        sys.executable, "-m", "reglab.cli.main", "bench", "builtin:digits",
        "--strategies", "none,l2=1e-4,dropout=0.2,l1=1e-4", "--cv", "3", "--hidden", "32",
        "--epochs", "40", "--no-early-stopping", "--memory-budget-mb", "3",
        "--store", str(db), "--name", "killed", "--json", str(json_path), "--no-report",
    ]  # fmt: skip


def _done(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with Store(db, create=False) as st:
            return len(st.done_keys("killed"))
    except Exception:
        return 0


def test_kill_minus_9_then_resume_loses_nothing_and_trains_nothing_twice(tmp_path: Path) -> None:
    db, out = tmp_path / "k.db", tmp_path / "k.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_bench_cmd(db, out), env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while _done(db) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if proc.poll() is not None:
        pytest.fail(f"the study ended before it could be killed: {proc.stderr.read().decode()}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = _done(db)
    total = 4 * 3
    assert 1 <= stored < total

    result = subprocess.run(_bench_cmd(db, out), env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"resuming: {stored} of {total} members already stored" in result.stderr
    data = json.loads(out.read_text())
    assert data["metadata"]["timings"]["members trained"] == total - stored
    with Store(db, create=False) as st:
        members = st.load_members("killed")
    references = [m for m in members if is_reference(m.strategy_config)]
    assert len(references) == 3 * 3  # linear:l1, l2, elasticnet on every split, once
    members = [m for m in members if not is_reference(m.strategy_config)]
    assert len(members) == total
    assert len({m.key for m in members}) == total
    assert all(m.status == "done" for m in members)


def test_cli_bench_prints_table_writes_json_and_report(tmp_path: Path) -> None:
    runner = CliRunner()
    out, html = tmp_path / "r.json", tmp_path / "r.html"
    result = runner.invoke(
        app,
        ["bench", "builtin:wine", "--strategies", "none,l2,dropout+l2,dropout", "--cv", "3",
         "--hidden", "16", "--epochs", "20", "--store", str(tmp_path / "s.db"),
         "--json", str(out), "--report", str(html)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert " ".join(data["headline"].split()) in " ".join(result.output.split())
    assert "dropout+l2" in result.output
    assert {r["strategy"] for r in data["ranking"]} == {"none", "l2", "dropout+l2", "dropout"}
    for row in data["ranking"]:
        assert set(row["metrics"]) >= {"accuracy", "balanced_accuracy", "log_loss"}
        assert len(row["split_scores"]["accuracy"]) == 3
    assert data["metadata"]["environment"]["torch"]
    assert html.read_text().lower().startswith("<!doctype html>")
    shown = runner.invoke(app, ["show", data["study"], "--store", str(tmp_path / "s.db")])
    assert shown.exit_code == 0
    assert "dropout+l2" in shown.output


W1 = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "w1.csv"


@pytest.mark.skipif(not W1.exists(), reason="needs ../shared/data/w1.csv")
def test_a_learning_rate_far_too_large_gives_no_winner_on_w1() -> None:
    # SGD at lr 10 on W1: the members that do not blow up end at chance (one class for every
    # row, 1/7 balanced accuracy) without a NaN; the answer must not recommend one of them.
    result = reglab.bench(
        str(W1),
        target="y",
        strategies="none,l2,maxnorm,batchnorm",
        optimizer="sgd",
        lr=10.0,
        epochs=12,
        n_splits=3,
    )
    assert result.answer.case == "nothing-learned", result.headline
    assert result.winner is None
    assert result.headline.startswith("No strategy learned anything: every finished member's")
    done = [r for r in result.members if r.status == "done"]
    assert done and all(r.test_scores["balanced_accuracy"] < 1 / 7 + 0.02 for r in done)


def test_near_perfect_scores_name_the_column_that_leaks(tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    bc = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "diagnosis"})
    frame = bc.iloc[:, -8:]
    rng = np.random.default_rng(0)
    frame.insert(3, "biopsy score", frame["diagnosis"] * 10 + rng.normal(size=len(frame)))
    path = tmp_path / "bc.csv"
    frame.to_csv(path, index=False)
    fast = {**FAST, "epochs": 40, "patience": 10, "lr": 0.01}
    result = reglab.bench(str(path), target="diagnosis", strategies="none,l2", **fast)
    (notice,) = [n for n in result.notices if n.kind == "leakage"]
    assert notice.text.endswith(
        "(--drop COLUMN); 'biopsy score' alone predicts the target almost perfectly (balanced "
        "accuracy 100.0% on held-out rows). The data notices name columns that may leak it."
    ), notice.text
    assert "'biopsy score'" in result.metadata["data"]["notices"]


def test_an_in_memory_store_outlasts_many_heartbeats() -> None:
    """``sqlite://`` is one connection that the run and its heartbeat thread share; with a
    heartbeat every millisecond (the default lease beats every 20 s) a run that saves members
    while the heartbeat renews their leases must neither fail nor mix their transactions."""
    ds = load_builtin("breast_cancer")
    study = Study(
        "none,l2=1e-3,dropout=0.2", **{**FAST, "epochs": 4}, device="cpu", reference="none"
    )
    with Store("sqlite://") as store:
        result = study.run(ds, store, lease_s=0.003)
        assert study.trained_ == 9 and result.strategies["none"].n_done == 3
        info = store.get_study(study.plan(ds).name)
        assert info.status == "done"
        assert info.counts == {"running": 0, "done": 9, "failed": 0}
