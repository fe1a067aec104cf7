"""``reglab bench`` runs ``lookahead`` and ``snapshot=K`` from the grammar, and refuses more
cycles than epochs, or an SWA start after the last epoch, in one line, before the store is
touched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from reglab.cli.main import app
from reglab.store import Store

from .cli_checks import assert_one_line_error, digest

runner = CliRunner()


def _data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["label"] = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "yes", "no")
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def test_bench_trains_lookahead_and_snapshot_members(tmp_path: Path) -> None:
    data, db, out = _data(tmp_path), tmp_path / "s.db", tmp_path / "out.json"
    result = runner.invoke(
        app,
        ["bench", str(data), "--target", "label", "--strategies",
         "none,lookahead=3:0.7,snapshot=2", "--epochs", "4", "--cv", "2",
         "--store", str(db), "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    names = json.dumps(json.loads(out.read_text()))
    assert "lookahead=3:0.7" in names and "snapshot=2" in names
    with Store(db) as store:
        (study,) = store.list_studies()
        members = store.load_members(study)
    snaps = [m for m in members if m.strategy == "snapshot=2"]
    assert len(snaps) == 2 and all(m.status == "done" for m in members)
    assert all(m.epochs_run == 4 for m in snaps)


@pytest.mark.parametrize(
    ("strategy", "epochs", "match"),
    [
        ("snapshot=5", "3", r"Study: strategy .snapshot=5. \(--strategies\): snapshot: "
         r"`snapshot` must be a number of cycles in \[1, 3\]"),
        ("swa=8", "5", r"Study: strategy .swa=8. \(--strategies\): `swa` starts averaging at "
         r"epoch 8, after the last of 5 epochs"),
    ],
    ids=["more cycles than epochs", "swa start after the last epoch"],
)  # fmt: skip
def test_a_strategy_that_cannot_run_the_epochs_is_one_line_and_writes_nothing(
    tmp_path: Path, store: Path, strategy: str, epochs: str, match: str
) -> None:
    data = _data(tmp_path)
    before = digest(store)
    result = runner.invoke(
        app,
        ["bench", str(data), "--target", "label", "--strategies", f"none,{strategy}",
         "--epochs", epochs, "--store", str(store)],
    )  # fmt: skip
    assert_one_line_error(result, match)
    assert digest(store) == before


def test_tune_searches_lookahead_and_snapshot_cycles_below_the_epochs(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    args = ["tune", "builtin:breast_cancer", "--strategy", "snapshot", "--trials", "3",
            "--sampler", "grid", "--cv", "2", "--epochs", "4", "--hidden", "8",
            "--store", str(tmp_path / "runs.db"), "--json", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    cycles = sorted(t["params"]["snapshot"] for t in json.loads(out.read_text())["trials"])
    assert set(cycles) == {2.0, 3.0}  # the grid of whole cycles below the 4 epochs
    args = ["tune", "builtin:breast_cancer", "--strategy", "lookahead", "--trials", "2",
            "--cv", "2", "--epochs", "3", "--hidden", "8", "--store", str(tmp_path / "runs.db"),
            "--json", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    trials = json.loads(out.read_text())["trials"]
    for t in trials:  # k (the strength) a whole number of steps, α in its range
        k, alpha = t["params"]["lookahead"], t["params"]["lookahead.alpha"]
        assert k == int(k) and 2 <= k <= 20 and 0.3 <= alpha <= 0.9
