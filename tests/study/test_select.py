"""Neural feature selection: a group-L1 path finds the informative features of synthetic data
with known truth, the CLI writes the list, and bad input changes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from typer.testing import CliRunner

from reglab.api import path
from reglab.cli.main import app
from reglab.errors import ConfigError
from reglab.study.select import select_features

FAST = {"epochs": 25, "hidden": (32,), "device": "cpu"}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    # 6 informative features (columns f0..f5, shuffle=False) and 24 of pure noise
    x, y = make_classification(
        n_samples=500, n_features=30, n_informative=6, n_redundant=0, n_repeated=0,
        shuffle=False, class_sep=1.5, random_state=0,
    )  # fmt: skip
    table = pd.DataFrame(x, columns=[f"f{i}" for i in range(30)])
    table["y"] = y
    return table


def test_the_selection_finds_the_informative_features(frame: pd.DataFrame) -> None:
    sel = select_features(frame, target="y", max_features=8, grid="1:12:5", cv=3, **FAST)
    assert sel.strength is not None and 1 <= len(sel.features) <= 8
    informative = {f"f{i}" for i in range(6)}
    precision = len(set(sel.features) & informative) / len(sel.features)
    recall = len(set(sel.features) & informative) / 6
    assert precision >= 0.75 and recall >= 0.5, sel.features
    table = sel.table
    assert list(table.columns) == ["feature", "column", "drops_at", "frequency", "norm", "selected"]
    assert table["selected"].sum() == len(sel.inputs) and len(table) == 30
    # noise columns drop at weaker strengths than the informative ones, on average
    drops = table.set_index("feature")["drops_at"].fillna(np.inf)
    assert drops[list(informative)].median() >= drops.drop(list(informative)).median()
    refit, dense = sel.score("selected"), sel.score("all")
    assert refit is not None and dense is not None and refit[0] > 0.8
    assert any("optimistic" in line for line in sel.lines())
    # the refit study says so itself, wherever it is shown (show, report, --json)
    assert sel.refit is not None
    assert [n.kind for n in sel.refit.notices if n.kind == "optimistic"] == ["optimistic"]


def test_the_command_writes_the_list_and_refuses_bad_input(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    data = tmp_path / "synthetic.csv"
    frame.to_csv(data, index=False)
    out, store = tmp_path / "features.txt", tmp_path / "runs.db"
    runner = CliRunner()
    args = ["select", str(data), "--target", "y", "--store", str(store), "--epochs", "10",
            "--cv", "3", "--hidden", "16", "--grid", "1:12:4", "--no-refit"]  # fmt: skip
    bad = runner.invoke(app, [*args, "--max-features", "0", "-o", str(out)])
    assert bad.exit_code == 2 and "`--max-features` must be" in bad.output
    seeds = runner.invoke(app, [*args, "--max-features", "5", "--seeds", "0", "-o", str(out)])
    assert seeds.exit_code == 2 and "`--seeds` must be" in seeds.output and not out.exists()
    clash = runner.invoke(app, [*args, "--max-features", "5", "-o", str(data)])
    assert clash.exit_code == 2 and not out.exists()
    # bad data or options are refused before the store is created
    for more in (["--target", "nope"], ["--cv", "1"], ["--max-features", "99"]):
        refused = runner.invoke(app, [*args, "--max-features", "5", *more, "-o", str(out)])
        assert refused.exit_code == 2 and not store.exists(), refused.output
    assert pd.read_csv(data).shape == frame.shape  # the data file is untouched
    done = runner.invoke(app, [*args, "--max-features", "5", "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert "Inputs by stability (all 30)" in done.output
    assert "drops at: the weakest strength at which the input leaves" in done.output
    names = out.read_text().split()
    assert 1 <= len(names) <= 5 and set(names) <= set(frame.columns)
    assert "selected columns written to" in done.output


def test_seeds_multiply_the_runs_and_one_seed_is_the_plain_path(frame: pd.DataFrame) -> None:
    options = {"grid": "1:12:5", "cv": 3, "refit": False, **FAST}
    one = select_features(frame, target="y", max_features=8, **options)
    two = select_features(frame, target="y", max_features=8, seeds=2, **options)
    # seeds=1 is the path exactly as it ran before seeds existed
    fast = {**FAST, "early_stopping": False}
    plain = path(frame, target="y", technique="group-l1", grid="1:12:5", cv=3, **fast)
    assert [p.mean for p in one.path.points] == [p.mean for p in plain.points]
    assert one.path.result is not None and plain.result is not None
    norms = {(m.strategy, m.split_id): m.feature_norms for m in plain.result.members}
    assert norms == {(m.strategy, m.split_id): m.feature_norms for m in one.path.result.members}
    # seed 0 of every split is that same member, bit for bit; seed 1 trains on the same rows
    assert two.path.result is not None
    members = {(m.strategy, m.split_id): m for m in two.path.result.members}
    assert len(members) == 2 * len(norms)
    for (strategy, split), m in members.items():
        if split < 3:
            assert m.feature_norms == norms[(strategy, split)]
        else:
            twin = members[(strategy, split - 3)]
            assert (m.n_train, m.n_test) == (twin.n_train, twin.n_test)
            assert m.seed != twin.seed
            # another seed, other weights (unless the penalty zeroed every input of both)
            assert m.feature_norms != twin.feature_norms or not any(m.feature_norms)
            assert strategy != "none" or m.feature_norms != twin.feature_norms
    assert two.seeds == 2 and "3 splits × 2 seeds" in " ".join(two.lines())
    for sel, runs in ((one, 3), (two, 6)):
        freq = sel.table["frequency"].to_numpy() * runs
        assert np.allclose(freq, np.round(freq)), freq  # multiples of 1/(splits x seeds)
    assert set(two.table["frequency"] * 6) - {0.0, 3.0, 6.0}  # some land between the 3-fold steps
    # the statistics count the 3 splits, each scored by the mean of its 2 seeds, not 6 splits
    result = two.path.result
    for point in two.path.points:
        per_split: dict[int, list[float]] = {}
        for m in result.members:
            score = m.test_scores.get(result.primary) if m.strategy == point.strategy else None
            if score is not None:  # done, or failed at chance level (a point of the path)
                per_split.setdefault(m.split_id % 3, []).append(score)
        means = np.array([np.mean(v) for _, v in sorted(per_split.items())])
        assert point.n_splits == 3 and len(means) == 3
        assert point.mean == pytest.approx(means.mean(), rel=1e-12)
        assert point.se == pytest.approx(means.std(ddof=1) / np.sqrt(3), rel=1e-12)
        scores = result.strategies[point.strategy].split_scores.get(result.primary)
        assert scores is None or sorted(scores) == [0, 1, 2]


def test_seeds_must_be_a_positive_integer(frame: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="`seeds` must be"):
        select_features(frame, target="y", max_features=8, seeds=0, cv=3, **FAST)
