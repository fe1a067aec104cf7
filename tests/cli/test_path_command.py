"""``reglab path`` from the command line: a small real path, and every bad input refused in
one line (exit 2) before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reglab.cli.main import app
from reglab.store import Store

from .cli_checks import assert_one_line_error, digest

runner = CliRunner()
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "auto-mpg.csv"


@pytest.mark.skipif(not DATA.exists(), reason="../shared/data/auto-mpg.csv is not present")
def test_regression_path_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = [
        "path",
        str(DATA),
        "--target",
        "mpg",
        "--drop",
        "name",
        "--technique",
        "l2",
        "--grid",
        "1e-5:1e-1:5",
        "--cv",
        "3",
        "--epochs",
        "4",
        "--hidden",
        "16",
        "--store",
        "runs.db",
        "--json",
        "path.json",
        "--report",
        "path.html",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Strength path" in out and "test rmse" in out and "Best: " in out
    assert "1-SE choice: " in out and "smaller is better" not in out
    assert "note: Only 3 splits: the tests have 2 degrees of freedom" in out  # the study's notes
    data = json.loads((tmp_path / "path.json").read_text())
    assert data["technique"] == "l2" and data["metric"] == "rmse"
    assert data["higher_is_better"] is False
    assert [p["strength"] for p in data["points"]] == [None, 1e-5, 1e-4, 1e-3, 1e-2, 0.1]
    assert data["best"]["strategy"] in [p["strategy"] for p in data["points"]]
    page = (tmp_path / "path.html").read_text()
    assert 'id="path"' in page and "Strength path" in page
    with Store(tmp_path / "runs.db") as st:
        (info,) = st.list_studies()
        assert info.name == data["study"]
    report = runner.invoke(app, ["report", data["study"], "--store", "runs.db", "-o", "r.html"])
    assert report.exit_code == 0 and 'id="path"' in (tmp_path / "r.html").read_text()


def test_dropout_path_with_features_column_absent(tmp_path: Path) -> None:
    args = [
        "path",
        "builtin:iris",
        "--technique",
        "dropout",
        "--grid",
        "0,0.3",
        "--cv",
        "2",
        "--epochs",
        "2",
        "--hidden",
        "8",
        "--store",
        str(tmp_path / "s.db"),
        "--no-report",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "features" not in result.output.split("Best:")[0]
    assert "larger dropout is stronger" in result.output


BAD = {
    "unknown technique": (["--technique", "dropuot"], r"`technique` \(--technique\).*'dropout'"),
    "inverted range": (["--grid", "1e-1:1e-6:5"], r"`grid` \(--grid\).*LO < HI"),
    "one point": (["--grid", "1e-3"], r"`grid` \(--grid\) must be at least 2 strengths"),
    "n below 2": (["--grid", "1e-6:1e-1:1"], r"2 to 200 strengths"),
    "log from 0": (["--grid", "0:1e-1:5"], r"LO > 0"),
    "rate 1": (["--technique", "dropout", "--grid", "0:1:5"], r"dropout rates in \[0, 1\)"),
    "maxnorm 0": (["--technique", "maxnorm", "--grid", "0,2"], r"maxnorm strengths > 0"),
    "ratio without elasticnet": (["--l1-ratio", "0.5"], r"`l1_ratio` \(--l1-ratio\)"),
    "ratio out of range": (
        ["--technique", "elasticnet", "--l1-ratio", "1.5"],
        r"`l1_ratio` \(--l1-ratio\) must be a float in \[0, 1\]",
    ),
    "proximal with dropout": (
        ["--technique", "dropout", "--proximal"],
        r"`proximal` \(--proximal\) must be given for l1 or elasticnet only",
    ),
    "unknown metric": (["--metric", "acc"], r"`metric` \(--metric\) must be one of"),
    "regression metric on classes": (["--metric", "rmse"], r"classification score"),
    "bad hidden": (["--hidden", "0"], r"`--hidden`"),
    "no epochs": (["--epochs", "0"], r"epochs"),
    "missing target": ([], r"target"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input(case: str, tmp_path: Path, store: Path) -> None:
    extra, pattern = BAD[case]
    target = [] if case == "missing target" else ["--target", "label"]
    data = tmp_path / "d.csv"
    data.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(40)))
    before = digest(store)
    result = runner.invoke(
        app,
        [
            "path",
            str(data),
            *target,
            "--store",
            str(store),
            "--epochs",
            "2",
            *extra,
            "--json",
            str(tmp_path / "out.json"),
        ],
    )
    assert_one_line_error(result, pattern)
    assert digest(store) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "existing.db"]


@pytest.mark.parametrize("option", ["--json", "--report"])
@pytest.mark.parametrize("victim", ["store", "data"])
def test_outputs_never_replace_inputs(
    option: str, victim: str, tmp_path: Path, store: Path
) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(40)))
    path = store if victim == "store" else data
    before = {p: digest(p) for p in (store, data)}
    result = runner.invoke(
        app,
        [
            "path",
            str(data),
            "--target",
            "label",
            "--store",
            str(store),
            "--epochs",
            "2",
            option,
            str(path),
        ],
    )
    assert_one_line_error(result, rf"`{option}` must be a new file .*not the (store|data file)")
    assert {p: digest(p) for p in (store, data)} == before
