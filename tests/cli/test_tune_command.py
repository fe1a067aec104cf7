"""``reglab tune`` from the command line: a small real search end to end, and every bad input
refused in one line (exit 2) before anything is written."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reglab.cli.main import app
from reglab.store import Store

from .cli_checks import assert_one_line_error, digest

runner = CliRunner()
SMALL = ["--cv", "3", "--epochs", "3", "--hidden", "8", "--batch-size", "64"]


def test_tune_end_to_end_prints_the_best_and_writes_json_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["tune", "builtin:breast_cancer", "--strategy", "dropout+l2", "--trials", "6",
            "--batch-trials", "3", "--range", "dropout=0:0.6", *SMALL, "--store", "runs.db",
            "--json", "tune.json", "--report", "tune.html"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "6 trials (6 complete" in out and "Best: dropout=" in out
    assert "95% interval [" in out and "Nadeau–Bengio corrected, 3 splits" in out
    line = next(x for x in out.splitlines() if x.startswith("Train the final model on all rows"))
    assert "(early stopping holds a validation part of them out, as in the search): " in line
    data = json.loads((tmp_path / "tune.json").read_text())
    best = data["best"]["strategy"]
    assert line.endswith(data["fit_command"]) and f'--strategy "{best}"' in line
    assert len(data["trials"]) == 6 and data["space"]["dims"][0]["high"] == 0.6
    assert data["metric"] == "accuracy" and data["ci"][0] <= data["best"]["value"]
    # 6 complete trials: importances are withheld in the JSON as in the words
    assert data["importances"] is None and "6 complete trials" in data["importances_note"]
    page = (tmp_path / "tune.html").read_text()
    assert 'id="curves"' in page and "data:image/png;base64," in page and "<script" not in page
    # the printed command trains the best strategy exactly
    fit = runner.invoke(app, [*shlex.split(data["fit_command"])[1:], "--store", "runs.db"])
    assert fit.exit_code == 0, fit.output
    assert (tmp_path / "model.reglab").exists()
    # the same command again resumes: nothing left to train
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "resuming: 6 of 6 trials already finished" in again.output
    assert "trained 0 members" in again.output
    # show says what the study is (a search whose best is optimistic), never "nested tuning"
    shown = runner.invoke(app, ["show", data["study"], "--store", "runs.db"])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "This study is a reglab tune search" in text and "optimistic" in text
    assert "Nested tuning" not in text and "None trials" not in text


def test_the_printed_fit_command_reads_the_data_as_the_search_did(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60),
                          "leak": np.arange(60) % 2, "subject": [f"s{i // 3}_{i % 3}"
                                                                  for i in range(60)]})  # fmt: skip
    frame["label"] = np.where(frame["a"] + frame["leak"] > 0.5, "y", "n")
    frame.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "t.json"
    args = ["tune", str(tmp_path / "d.csv"), "--target", "label", "--drop", "leak", "--groups",
            "subject:prefix=_", "--seed", "7", "--strategy", "dropout", "--trials", "2", *SMALL,
            "--store", str(tmp_path / "runs.db"), "--json", str(out), "--no-report"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    assert saved["protocol"]["groups"].startswith("grouped by subject prefix")
    assert saved["data"]["target"] == "label" and "leak (asked to drop)" in str(saved["data"])
    command = shlex.split(saved["fit_command"])
    for flag, value in (("--drop", "leak"), ("--groups", "subject:prefix=_"), ("--seed", "7")):
        assert command[command.index(flag) + 1] == value, command


BAD = {
    "inverted range": (["--range", "dropout=0.5:0.2"], r"`range dropout` must be LO < HI"),
    "empty range": (["--range", "l2=1e-3:1e-3"], r"empty"),
    "unknown technique": (["--strategy", "dropuot+l2"], r"Did you mean 'dropout'"),
    "zero trials": (["--trials", "0"], r"`trials` must be a whole number in \[1, "),
    "unknown sampler": (["--sampler", "tpee"], r"`sampler` must be one of.*Did you mean 'tpe'"),
    "grid cocktail": (["--strategy", "cocktail", "--sampler", "grid"], r"conditional"),
    "unknown pruner": (["--pruner", "hyperband"], r"`pruner` must be one of"),
    "metric for task": (["--metric", "rmse"], r"`metric` must be a classification score"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_is_one_line_and_leaves_the_store_unchanged(
    case: str, tmp_path: Path, store: Path
) -> None:
    extra, pattern = BAD[case]
    before = digest(store)
    out = tmp_path / "out.json"
    result = runner.invoke(
        app, ["tune", "builtin:iris", *SMALL, "--store", str(store), "--json", str(out), *extra]
    )
    assert_one_line_error(result, pattern)
    assert digest(store) == before and not out.exists()
    with Store(store) as st:
        assert [s.name for s in st.list_studies()] == ["kept"]


def test_an_swa_start_is_searched_in_whole_epochs_before_the_last(tmp_path: Path) -> None:
    args = ["tune", "builtin:breast_cancer", "--strategy", "swa", "--trials", "3", "--sampler",
            "grid", "--cv", "2", "--epochs", "8", "--hidden", "8", "--no-early-stopping",
            "--store", str(tmp_path / "runs.db"), "--json", str(tmp_path / "t.json")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "t.json").read_text())
    starts = sorted(t["params"]["swa"] for t in data["trials"])
    assert starts == [5.0, 6.0, 7.0]  # whole epochs, the latest before the 8th
    if data["best"]["params"]["swa"] == 7.0:
        assert "raise --epochs" in " ".join(result.output.split())


def test_a_searched_schedule_is_a_column_and_part_of_each_trials_strategy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["tune", "builtin:iris", "--strategy", "dropout@constant|cosine+l2@warmup:2",
            "--trials", "4", *SMALL, "--store", "runs.db", "--json", "tune.json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (
        "dropout@"
        in result.output.splitlines()[
            next(i for i, x in enumerate(result.output.splitlines()) if "trial" in x and "l2" in x)
        ]
    )
    data = json.loads((tmp_path / "tune.json").read_text())
    for trial in data["trials"]:
        choice = trial["params"]["dropout@"]
        assert choice in ("constant", "cosine")
        assert ("dropout=" in trial["strategy"]) and ("@warmup:2" in trial["strategy"])
        assert ("@cosine" in trial["strategy"]) == (choice == "cosine")


def test_more_trials_on_a_stored_search_draw_new_points(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    base = ["tune", "builtin:breast_cancer", "--strategy", "dropout+l2", *SMALL,
            "--store", str(tmp_path / "runs.db"), "--json", str(out), "--no-report"]  # fmt: skip
    for n in ("3", "5"):
        result = runner.invoke(app, [*base, "--trials", n])
        assert result.exit_code == 0, result.output
    strategies = [t["strategy"] for t in json.loads(out.read_text())["trials"]]
    assert len(strategies) == 5 and len(set(strategies)) == 5, strategies
