"""Neural feature selection: a group-L1 path finds the informative features of synthetic data
with known truth, the CLI writes the list, and bad input changes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from typer.testing import CliRunner

from reglab.cli.main import app
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
    clash = runner.invoke(app, [*args, "--max-features", "5", "-o", str(data)])
    assert clash.exit_code == 2 and not out.exists()
    assert pd.read_csv(data).shape == frame.shape  # the data file is untouched
    done = runner.invoke(app, [*args, "--max-features", "5", "-o", str(out)])
    assert done.exit_code == 0, done.output
    names = out.read_text().split()
    assert 1 <= len(names) <= 5 and set(names) <= set(frame.columns)
    assert "selected columns written to" in done.output
