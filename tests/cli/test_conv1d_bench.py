"""1-D convolutions on sequences and the default model per data kind, end to end:
``reglab bench builtin:sunspots --model cnn``, ``fit``/``predict`` and ``path`` with it, which
network a study builds without ``--model`` (and the line saying so), and what is refused in one
line before anything is written."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from reglab.cli.main import app
from reglab.data import load_source
from reglab.engine.conv import ConvArchitecture
from reglab.engine.conv1d import Conv1dArchitecture
from reglab.engine.rnn import RecurrentArchitecture
from reglab.engine.spec import Architecture
from reglab.final import load
from reglab.store import Store
from reglab.study.run import Study

from .cli_checks import assert_one_line_error

runner = CliRunner()
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
TINY = ["--cv", "2", "--epochs", "2", "--hidden", "8", "--device", "cpu", "--no-report"]
ROWS = 60


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 60 MNIST test images and labels, as a gzipped IDX pair."""
    folder = tmp_path_factory.mktemp("idx")
    for part, header, size in (("images-idx3", 16, ROWS * 784), ("labels-idx1", 8, ROWS)):
        raw = gzip.decompress((SHARED / f"mnist-t10k-{part}-ubyte.gz").read_bytes())
        head = bytearray(raw[:header])
        head[4:8] = ROWS.to_bytes(4, "big")
        blob = bytes(head) + raw[header : header + size]
        (folder / f"first-{part}-ubyte.gz").write_bytes(gzip.compress(blob))
    return folder / "first"


def test_bench_sunspots_with_a_1d_cnn(tmp_path: Path) -> None:
    store, report = str(tmp_path / "c.db"), tmp_path / "c.html"
    result = runner.invoke(app, ["bench", "builtin:sunspots", "--model", "cnn", "--strategies",
                                 "none,spatial-dropout=0.2+l2=1e-4,batchnorm", *TINY[:-1],
                                 "--store", store, "--report", str(report)])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "model: cnn, 1-D convolution over time (16@3, 32@3), then dense 8" in out
    assert "default for" not in out and "trained 6 members" in out
    with Store(store, create=False) as st:
        (study,) = st.list_studies()
        members = st.load_members(study.name, with_curves=False)
    assert study.config["model"]["family"] == "cnn"
    assert {m.status for m in members} == {"done"} and len(members) == 6
    for m in members:  # 8 of the first block's 16 filters (1 feature × 3 steps), as report tiles
        assert m.filters is not None and m.filters.shape == (8, 1, 1, 3)
    assert 'alt="first-layer conv filters per strategy"' in report.read_text()


def _arch(data: str, model: str | None = None) -> object:
    options = {} if model is None else {"model": model}
    plan = Study(["none"], hidden=(8,), n_splits=2, epochs=1, device="cpu", **options).plan(
        load_source(data)
    )
    return plan.members[0][0].arch, plan.notices


@pytest.mark.parametrize(
    ("data", "model", "expected", "line"),
    [
        ("builtin:iris", None, Architecture, None),
        (
            "IMAGES",
            None,
            ConvArchitecture,
            "model: cnn, 2-D convolution (6@5x5, 16@5x5), then "
            "dense 8 (the default for images; --model mlp for a dense network)",
        ),
        (
            "builtin:sunspots",
            None,
            RecurrentArchitecture,
            "model: rnn, LSTM of 8 units (the "
            "default for sequences; --model mlp for a dense network)",
        ),
        ("builtin:sunspots", "auto", RecurrentArchitecture, "model: rnn, LSTM of 8 units"),
        ("builtin:sunspots", "cnn", Conv1dArchitecture, "model: cnn, 1-D convolution"),
        ("builtin:sunspots", "mlp", Architecture, "model: mlp, dense 8"),
        ("IMAGES", "mlp", Architecture, "model: mlp, dense 8"),
    ],
    ids=["table", "images", "sequences", "auto", "sequences-cnn", "sequences-mlp", "images-mlp"],
)
def test_the_default_model_follows_the_kind_of_data(
    images: Path, data: str, model: str | None, expected: type, line: str | None
) -> None:
    arch, notices = _arch(f"idx:{images}" if data == "IMAGES" else data, model)
    assert type(arch) is expected
    if line is None:
        assert not any(n.startswith("model:") for n in notices)
    else:
        assert notices[0].startswith(line), notices[0]


def test_npz_images_and_sequences_get_their_defaults(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "img.npz", x=rng.random((40, 8, 8)), y=np.arange(40) % 2)
    assert type(_arch(f"npz:{tmp_path / 'img.npz'}")[0]) is ConvArchitecture
    np.savez(tmp_path / "seq.npz", x=rng.random((40, 10, 2)), y=np.arange(40) % 2)
    assert type(_arch(f"seq:{tmp_path / 'seq.npz'}")[0]) is RecurrentArchitecture


def test_fit_and_predict_with_a_1d_cnn(tmp_path: Path) -> None:
    model, out = tmp_path / "m.reglab", tmp_path / "p.csv"
    fitted = runner.invoke(app, ["fit", "builtin:sunspots", "--model", "cnn", "--strategy",
                                 "spatial-dropout=0.1+l2=1e-4", "--epochs", "2", "--hidden", "8",
                                 "--device", "cpu", "-o", str(model)])  # fmt: skip
    assert fitted.exit_code == 0, fitted.output
    assert "conv1d 16,32, hidden 8" in " ".join(fitted.output.split())
    final = load(model)
    assert type(final.arch) is Conv1dArchitecture and final.arch.steps == 20
    predicted = runner.invoke(app, ["predict", str(model), "builtin:sunspots", "-o", str(out)])
    assert predicted.exit_code == 0, predicted.output
    table = pd.read_csv(out)
    assert len(table) == 289 and np.isfinite(table.iloc[:, -1]).all()


def test_path_trains_1d_cnn_members(tmp_path: Path) -> None:
    store = str(tmp_path / "p.db")
    result = runner.invoke(app, ["path", "builtin:sunspots", "--model", "cnn", "--technique",
                                 "spatial-dropout", "--grid", "0.1,0.3", "--cv", "2", "--epochs",
                                 "1", "--hidden", "8", "--device", "cpu", "--no-report",
                                 "--store", store])  # fmt: skip
    assert result.exit_code == 0, result.output
    with Store(store, create=False) as st:
        (study,) = st.list_studies()
    assert study.config["model"]["family"] == "cnn"


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (
            ["--model", "cnn", "--strategies", "none,recurrent-dropout=0.2"],
            r"^reglab: error: Study: `strategies` \(--strategies\) must name techniques that cnn "
            r"models train \(model 'cnn'\); got `recurrent-dropout` \(acts on rnn models only: "
            r"it needs --model rnn, the default for sequences, on sequence data\)\.$",
        ),
        (["--model", "cnn?filters=8"], r"`model` must be one of .*; got 'cnn\?filters=8'"),
        (
            ["--model", "mlp", "--strategies", "none,weight-drop=0.2"],
            r"`strategies` \(--strategies\) must name techniques that mlp models train "
            r"\(model 'mlp'\); got `weight-drop` \(acts on rnn models only",
        ),
        (
            ["--strategies", "none,spatial-dropout=0.2"],
            r"`strategies` \(--strategies\) must name techniques that rnn models train \(model "
            r"'rnn'\); got `spatial-dropout` \(acts on cnn or cnn1d models only: it needs "
            r"--model cnn, the default for images, on image or sequence data\)",
        ),
    ],
    ids=["recurrent-term", "model-option", "mlp-weight-drop", "default-rnn"],
)
def test_refused_in_one_line_before_anything_is_written(
    tmp_path: Path, args: list[str], pattern: str
) -> None:
    store = tmp_path / "s.db"
    result = runner.invoke(app, ["bench", "builtin:sunspots", *args, *TINY, "--store", str(store)])
    assert_one_line_error(result, pattern)
    assert not store.exists()


def test_tune_refuses_a_recurrent_technique_for_a_1d_cnn(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    result = runner.invoke(app, ["tune", "builtin:sunspots", "--model", "cnn", "--strategy",
                                 "recurrent-dropout+l2", "--trials", "2", *TINY, "--store",
                                 str(store)])  # fmt: skip
    assert_one_line_error(
        result,
        r"tune: `strategy` must name techniques that cnn models train "
        r"\(model 'cnn'\); got `recurrent-dropout` \(acts on rnn models only: it needs --model "
        r"rnn, the default for sequences, on sequence data\)",
    )
    assert not store.exists()
