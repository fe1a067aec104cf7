"""``reglab fit`` and ``reglab predict`` end to end on the shared data, and every bad input
refused in one line (exit 2) with nothing overwritten."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import reglab
from reglab.cli.main import app

from .cli_checks import assert_one_line_error, digest

runner = CliRunner()
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
CRX, MPG = SHARED / "crx.csv", SHARED / "auto-mpg.csv"
pytestmark = pytest.mark.skipif(
    not (CRX.exists() and MPG.exists()), reason="../shared/data is not present"
)
FAST = ["--epochs", "3", "--hidden", "8", "--device", "cpu"]


@pytest.fixture(scope="module")
def crx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crx")
    out = folder / "crx.reglab"
    args = ["fit", str(CRX), "--target", "a16", "--strategy", "dropout=0.3+l2=1e-4", "-o", str(out)]
    result = runner.invoke(app, [*args, *FAST])
    assert result.exit_code == 0, result.output
    assert "crx: 690 rows x 15 columns → 46 inputs (binary, 2 classes)" in result.output
    assert "Model written to" in result.output
    return out


def test_crx_fit_and_predict(crx_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "predictions.csv"
    result = runner.invoke(app, ["predict", str(crx_model), str(CRX), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "note: ignored the target column 'a16'" in result.output
    assert "note: imputed 67 missing cells" in result.output
    table = pd.read_csv(out, dtype={"prediction": str})
    assert list(table.columns) == ["prediction", "proba_+", "proba_-"] and len(table) == 690
    model = reglab.load(crx_model)
    np.testing.assert_array_equal(table[["proba_+", "proba_-"]].to_numpy(),
                                  model.predict_proba(CRX))  # fmt: skip
    assert (table["prediction"].to_numpy() == model.predict(CRX)).all()


def test_crx_unseen_categories_are_counted(crx_model: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(CRX, dtype=str, keep_default_na=False).head(5)
    frame.loc[[0, 3], "a4"] = "zz"
    frame.drop(columns="a16").to_csv(tmp_path / "new.csv", index=False)
    result = runner.invoke(app, ["predict", str(crx_model), str(tmp_path / "new.csv"),
                                 "-o", str(tmp_path / "p.csv")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "encoded as all zeros in their column's one-hot block: 'a4' 2 ('zz')" in result.output
    assert len(pd.read_csv(tmp_path / "p.csv")) == 5


def test_auto_mpg_regression(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fit = runner.invoke(app, ["fit", str(MPG), "--target", "mpg", "--drop", "name",
                              "--strategy", "l2=1e-4", "--no-early-stopping", *FAST])  # fmt: skip
    assert fit.exit_code == 0, fit.output
    assert "(regression)" in fit.output and "no early stopping" in fit.output
    result = runner.invoke(app, ["predict", "model.reglab", str(MPG)])
    assert result.exit_code == 0, result.output
    assert "ignored 1 column the model does not use: 'name'" in result.output
    table = pd.read_csv(tmp_path / "predictions.csv")
    assert list(table.columns) == ["prediction"] and len(table) == 398
    assert 5 < table["prediction"].mean() < 50  # miles per gallon, not standardized units


def test_from_study_after_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    bench = runner.invoke(app, ["bench", "builtin:breast_cancer", "--strategies",
                                "l2=1e-3,dropout=0.1", "--cv", "3", "--epochs", "3", "--hidden",
                                "6", "--patience", "1", "--name", "s1", "--store", "runs.db",
                                "--no-report", "--device", "cpu"])  # fmt: skip
    assert bench.exit_code == 0, bench.output
    before = digest(tmp_path / "runs.db")
    result = runner.invoke(app, ["fit", "builtin:breast_cancer", "--from-study", "s1",
                                 "--store", "runs.db", "--device", "cpu"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "study 's1' recommends 'l2=1e-3'" in result.output
    model = reglab.load(tmp_path / "model.reglab")
    assert model.strategy.name == "l2=1e-3" and model.arch.hidden == (6,)
    assert model.info["study"]["name"] == "s1"
    assert digest(tmp_path / "runs.db") == before
    refused = runner.invoke(app, ["fit", "builtin:breast_cancer", "--from-study", "s1",
                                  "--store", "runs.db", "-o", "runs.db"])  # fmt: skip
    assert_one_line_error(refused, "not the store")
    assert digest(tmp_path / "runs.db") == before
    # other data than the study's: refused naming what differs, nothing written
    other = runner.invoke(app, ["fit", "builtin:iris", "--from-study", "s1", "--store",
                                "runs.db", "-o", "other.reglab"])  # fmt: skip
    assert_one_line_error(
        other,
        r"fit_final: the data must be the study's \('s1', made on 'breast_cancer'\) to train its "
        r"recommendation; got task 'multiclass' where the study had 'binary'",
    )
    assert not (tmp_path / "other.reglab").exists()


def test_from_study_takes_the_studys_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bench = runner.invoke(app, ["bench", str(CRX), "--target", "a16", "--strategies", "none",
                                "--cv", "2", "--name", "c", "--store", "runs.db", "--no-report",
                                *FAST])  # fmt: skip
    assert bench.exit_code == 0, bench.output
    result = runner.invoke(app, ["fit", str(CRX), "--from-study", "c", "--store", "runs.db"])
    assert result.exit_code == 0, result.output
    assert reglab.load(tmp_path / "model.reglab").target == "a16"


def test_from_study_without_a_recommendation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feature constant but for one missing cell (kept: missingness may inform): every
    member predicts one class, so no strategy learned anything."""
    monkeypatch.chdir(tmp_path)
    rows = "".join(f"{'' if i == 0 else 1},{i % 2}\n" for i in range(40))
    (tmp_path / "const.csv").write_text("x,y\n" + rows)
    bench = runner.invoke(app, ["bench", "const.csv", "--target", "y", "--strategies", "none,l2",
                                "--cv", "2", "--epochs", "2", "--name", "c", "--store", "c.db",
                                "--no-report", "--device", "cpu"])  # fmt: skip
    assert bench.exit_code == 0 and "No strategy learned anything" in bench.output, bench.output
    result = runner.invoke(app, ["fit", "const.csv", "--target", "y", "--from-study", "c",
                                 "--store", "c.db"])  # fmt: skip
    assert_one_line_error(
        result, r"study 'c' recommends no strategy \(No strategy learned anything.*--strategy"
    )
    assert not (tmp_path / "model.reglab").exists()


def _damaged(model: Path, tmp_path: Path, how: str) -> Path:
    blob = bytearray(model.read_bytes())
    if how == "flipped":
        blob[len(blob) // 2] ^= 0xFF
    else:
        blob = blob[: len(blob) // 2]
    path = tmp_path / f"{how}.reglab"
    path.write_bytes(bytes(blob))
    return path


@pytest.mark.parametrize(
    ("how", "pattern"),
    [
        ("flipped", "changed or damaged since it was written"),
        ("truncated", "truncated, or not a reglab model file"),
        ("missing", r"\(no such file\)"),
    ],
)
def test_a_bad_model_file_is_one_line(
    crx_model: Path, tmp_path: Path, how: str, pattern: str
) -> None:
    path = tmp_path / "gone.reglab" if how == "missing" else _damaged(crx_model, tmp_path, how)
    result = runner.invoke(app, ["predict", str(path), str(CRX), "-o", str(tmp_path / "p.csv")])
    assert_one_line_error(result, pattern)
    assert not (tmp_path / "p.csv").exists()


def test_missing_columns_are_one_line(crx_model: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["predict", str(crx_model), str(MPG), "-o", str(tmp_path / "p.csv")]
    )
    assert_one_line_error(result, r"must have every feature column .*got no 'a2', 's3'")
    assert not (tmp_path / "p.csv").exists()


def test_a_missing_feature_is_never_taken_for_the_target(crx_model: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(CRX, dtype=str, keep_default_na=False).drop(columns="a1")
    frame.to_csv(tmp_path / "no-a1.csv", index=False)  # a16, the target, is close to 'a1'
    result = runner.invoke(app, ["predict", str(crx_model), str(tmp_path / "no-a1.csv"),
                                 "-o", str(tmp_path / "p.csv")])  # fmt: skip
    line = assert_one_line_error(result, r"got no 'a1' \(1 of 15 missing\)\.$")
    assert "a16" not in line
    assert not (tmp_path / "p.csv").exists()


def test_outputs_never_replace_inputs(crx_model: Path, store: Path, tmp_path: Path) -> None:
    data = shutil.copy(CRX, tmp_path / "data.csv")
    kept = {p: digest(Path(p)) for p in (crx_model, data, store)}
    cases = [
        (["predict", str(crx_model), str(data), "-o", str(crx_model)], "not the model file"),
        (["predict", str(crx_model), str(data), "-o", str(data)], "not the data file"),
        (["predict", str(crx_model), str(data), "-o", str(store)], "not an SQLite database"),
        (["fit", str(data), "--target", "a16", "--strategy", "l2", "-o", str(data)],
         "not the data file"),
        (["fit", str(data), "--target", "a16", "--strategy", "l2", "-o", str(store)],
         "not an SQLite database"),
        (["fit", str(data), "--target", "a16", "--strategy", "l2", "--store", str(store), "-o",
          str(store)], "not the store"),
        (["predict", str(crx_model), str(data), "-o", str(tmp_path)], "not a directory"),
    ]  # fmt: skip
    for argv, pattern in cases:
        assert_one_line_error(runner.invoke(app, argv), pattern)
    assert {p: digest(Path(p)) for p in kept} == kept
    other = tmp_path / "other.reglab"
    shutil.copy(crx_model, other)
    result = runner.invoke(app, ["predict", str(crx_model), str(data), "-o", str(other)])
    assert_one_line_error(result, "not a reglab model file")


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["--strategy", "l2", "--from-study", "s"], "give one of `--strategy` and `--from-study`"),
        ([], "got neither"),
        (["--strategy", "l2,dropout"], "must be one strategy; got 2"),
        (["--strategy", "l2", "--hidden", "0"], "`--hidden` must be comma-separated"),
        (["--strategy", "l2", "--val-fraction", "0"], "`val_fraction` must be > 0"),
        (["--strategy", "l2", "--target", "nope"], "`target` must be a column"),
    ],
    ids=["both", "neither", "two-strategies", "hidden", "val-fraction", "target"],
)
def test_bad_fit_options_are_one_line(argv: list[str], pattern: str, tmp_path: Path) -> None:
    args = ["fit", str(CRX), *(["--target", "a16"] if "--target" not in argv else []), *argv]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "m.reglab")])
    assert_one_line_error(result, pattern)
    assert not (tmp_path / "m.reglab").exists()
