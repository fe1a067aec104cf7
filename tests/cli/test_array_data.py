"""Image and sequence data end to end: ``reglab bench idx:…`` (no --target), the report, a bad
IDX file as one line, ``reglab datasets``, fit and predict, and the Python entry point."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import reglab
from reglab.cli.main import app

from .cli_checks import assert_one_line_error

runner = CliRunner()
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
TINY = ["--cv", "2", "--epochs", "2", "--hidden", "16"]


@pytest.fixture(scope="module")
def idx_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 200 MNIST test images and labels, as a gzipped IDX pair."""
    folder = tmp_path_factory.mktemp("idx")
    for part, header, size in (("images-idx3", 16, 200 * 784), ("labels-idx1", 8, 200)):
        raw = gzip.decompress((SHARED / f"mnist-t10k-{part}-ubyte.gz").read_bytes())
        head = bytearray(raw[:header])
        head[4:8] = (200).to_bytes(4, "big")
        blob = bytes(head) + raw[header : header + size]
        (folder / f"first200-{part}-ubyte.gz").write_bytes(gzip.compress(blob))
    return folder / "first200"


def test_bench_on_idx_needs_no_target_and_reports_images(tmp_path: Path, idx_prefix) -> None:
    report = tmp_path / "r.html"
    result = runner.invoke(app, ["bench", f"idx:{idx_prefix}", "--strategies", "none,dropout",
                                 *TINY, "--store", str(tmp_path / "s.db"), "--report",
                                 str(report)])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "first200: 200 images 1×28×28 (multiclass, 10 classes); 2 strategies x 2 splits" in out
    page = report.read_text()
    assert "data set <b>first200</b> · 200 images 1×28×28 · multiclass" in page
    assert "<dt>kind</dt><dd>images</dd>" in page
    assert "<dt>shape</dt><dd>200 images 1×28×28</dd>" in page
    assert "values scaled to [0, 1]" in page
    shown = runner.invoke(app, ["show", out.split("study '")[1].split("'")[0], "--store",
                                str(tmp_path / "s.db")])  # fmt: skip
    assert "Data: first200: 200 images 1×28×28 (multiclass)" in shown.output


def test_a_truncated_idx_file_is_one_line_and_writes_nothing(tmp_path: Path, idx_prefix) -> None:
    for part in ("images-idx3", "labels-idx1"):
        blob = gzip.decompress(Path(f"{idx_prefix}-{part}-ubyte.gz").read_bytes())
        cut = blob[:-784] if part == "images-idx3" else blob
        (tmp_path / f"cut-{part}-ubyte").write_bytes(cut)
    store = tmp_path / "s.db"
    result = runner.invoke(app, ["bench", f"idx:{tmp_path / 'cut'}", *TINY, "--store", str(store)])
    assert_one_line_error(result, r"'.*cut-images-idx3-ubyte' must be an IDX file; got 156,"
                          r"016 data bytes .* need 156,800 \(truncated\)")  # fmt: skip
    assert not store.exists()


def test_datasets_lists_the_sequence_builtin() -> None:
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "sunspots" in x)
    assert "sequences 20×1" in line and "regression" in line and "289" in line


def test_fit_and_predict_on_images(tmp_path: Path, idx_prefix) -> None:
    model, out = tmp_path / "m.reglab", tmp_path / "p.csv"
    fitted = runner.invoke(app, ["fit", f"idx:{idx_prefix}", "--strategy", "dropout=0.2",
                                 "--epochs", "2", "--hidden", "16", "-o", str(model)])  # fmt: skip
    assert fitted.exit_code == 0, fitted.output
    predicted = runner.invoke(app, ["predict", str(model), f"idx:{idx_prefix}", "-o", str(out)])
    assert predicted.exit_code == 0, predicted.output
    table = pd.read_csv(out)
    assert len(table) == 200 and list(table.columns[1:3]) == ["proba_0", "proba_1"]


def test_python_bench_on_npz_sequences(tmp_path: Path) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(tmp_path / "rows.npz", x=digits.images[:300], y=digits.target[:300])
    result = reglab.bench(f"seq:{tmp_path / 'rows.npz'}", strategies="none,l2", cv=2, epochs=2,
                          hidden=(16,))  # fmt: skip
    data = result.config["data"]
    assert (data["kind"], data["shape"], data["scaling"], data["inputs"]) == (
        "sequences", [8, 8], "channel", 64
    )  # fmt: skip
    assert result.answer.lines and len(result.members) == 4


def test_bench_with_a_cnn_on_idx_images_and_refused_on_tables(tmp_path: Path, idx_prefix) -> None:
    store = str(tmp_path / "cnn.db")
    result = runner.invoke(app, ["bench", f"idx:{idx_prefix}", "--model", "cnn", "--strategies",
                                 "none,dropout", "--cv", "2", "--epochs", "2", "--hidden", "32",
                                 "--store", store, "--no-report"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "trained 4 members" in " ".join(result.output.split())
    from reglab.store import Store

    with Store(store, create=False) as st:
        (study,) = st.list_studies()
    assert study.config["model"]["family"] == "cnn"
    table = runner.invoke(app, ["bench", "builtin:iris", "--model", "cnn", *TINY, "--store",
                                str(tmp_path / "t.db"), "--no-report"])  # fmt: skip
    assert table.exit_code == 2
    assert "`model` must be 'mlp' for data that are not images or sequences; got 'cnn'" in " ".join(
        table.output.split()
    )
    assert not (tmp_path / "t.db").exists()
