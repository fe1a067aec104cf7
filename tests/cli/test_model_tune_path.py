"""``reglab tune`` and ``reglab path`` on other model families: a CNN on 120 MNIST images, an
LSTM or GRU on sunspot windows, the cocktail each family searches, and the combinations refused
in one line before anything is written."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import reglab
from reglab.cli.main import app
from reglab.data import load_source
from reglab.engine.conv import ConvArchitecture
from reglab.engine.rnn import RecurrentArchitecture
from reglab.store import Store
from reglab.study.tune import Tune

from .cli_checks import assert_one_line_error

runner = CliRunner()
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
TINY = ["--cv", "2", "--epochs", "1", "--hidden", "8", "--device", "cpu", "--no-report"]
ROWS = 120


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 120 MNIST test images and labels, as a gzipped IDX pair."""
    folder = tmp_path_factory.mktemp("idx")
    for part, header, size in (("images-idx3", 16, ROWS * 784), ("labels-idx1", 8, ROWS)):
        raw = gzip.decompress((SHARED / f"mnist-t10k-{part}-ubyte.gz").read_bytes())
        head = bytearray(raw[:header])
        head[4:8] = ROWS.to_bytes(4, "big")
        blob = bytes(head) + raw[header : header + size]
        (folder / f"first-{part}-ubyte.gz").write_bytes(gzip.compress(blob))
    return folder / "first"


def _members(store: str) -> tuple[dict, list]:
    with Store(store, create=False) as st:
        (study,) = st.list_studies()
        return study.config, st.load_members(study.name, with_curves=False)


def test_tune_trains_cnn_trials_with_spatial_dropout(tmp_path: Path, images: Path) -> None:
    store = str(tmp_path / "cnn.db")
    result = runner.invoke(app, ["tune", f"idx:{images}", "--model", "cnn", "--strategy",
                                 "spatial-dropout+l2", "--trials", "2", "--batch-trials", "2",
                                 *TINY, "--store", store])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "trained 4 members" in " ".join(result.output.split())
    assert "--model cnn" in result.output  # the fit command trains the same family
    config, members = _members(store)
    assert config["model"]["family"] == "cnn"
    assert len(members) == 4
    assert all(m.status == "done" and "spatial-dropout=" in m.strategy for m in members)


def test_path_trains_lstm_members_on_sunspots(tmp_path: Path) -> None:
    store = str(tmp_path / "rnn.db")
    result = runner.invoke(app, ["path", "builtin:sunspots", "--model", "rnn", "--technique",
                                 "l2", "--grid", "1e-4,1e-2", *TINY, "--store", store])  # fmt: skip
    assert result.exit_code == 0, result.output
    config, members = _members(store)
    assert config["model"]["family"] == "rnn"
    assert sorted({m.strategy for m in members}) == ["l2=0.01", "l2=1e-4", "none"]
    assert all(m.status == "done" for m in members)


def test_python_path_varies_a_recurrent_only_technique_of_a_gru(tmp_path: Path) -> None:
    result = reglab.path("builtin:sunspots", model="rnn?cell=gru", technique="recurrent-dropout",
                         grid="0.1,0.3", cv=2, epochs=1, hidden=(4,), device="cpu",
                         store=str(tmp_path / "gru.db"))  # fmt: skip
    strengths = [p.strength for p in result.points if p.strength is not None]
    assert strengths == [0.1, 0.3]
    config, _ = _members(str(tmp_path / "gru.db"))
    assert config["model"]["family"] == "rnn?cell=gru"


def test_python_tune_plans_members_of_the_model_family(images: Path) -> None:
    gru = Tune("dropout+l2", model="rnn?cell=gru", hidden=(4,), epochs=2, n_splits=2)
    (spec, _), *_ = gru.plan(load_source("builtin:sunspots")).base.members
    assert isinstance(spec.arch, RecurrentArchitecture) and spec.arch.cell == "gru"
    cnn = Tune("dropout+l2", model="cnn", hidden=(8,), epochs=2, n_splits=2)
    (spec, _), *_ = cnn.plan(load_source(f"idx:{images}")).base.members
    assert isinstance(spec.arch, ConvArchitecture)


def test_the_cocktail_holds_the_techniques_of_the_family(images: Path) -> None:
    def cocktail(model: str, data: str) -> set[str]:
        tune = Tune("cocktail", model=model, hidden=(4,), epochs=3, n_splits=2)
        return set(tune.plan(load_source(data)).space.techniques)

    gru = cocktail("rnn?cell=gru", "builtin:sunspots")  # the family, not the model text
    assert {"recurrent-dropout", "weight-drop", "grad-clip", "dropout", "l2"} <= gru
    assert not gru & {"dropconnect", "gaussian-dropout", "batchnorm", "spatial-dropout"}
    cnn = cocktail("cnn", f"idx:{images}")
    assert {"spatial-dropout", "dropconnect", "batchnorm"} <= cnn
    assert not cnn & {"recurrent-dropout", "weight-drop", "lassonet"}
    mlp = cocktail("mlp", "builtin:iris")
    assert not mlp & {"spatial-dropout", "recurrent-dropout"}


def test_a_gru_cocktail_trains_every_trial(tmp_path: Path) -> None:
    store = str(tmp_path / "gru.db")
    result = runner.invoke(app, ["tune", "builtin:sunspots", "--model", "rnn?cell=gru",
                                 "--strategy", "cocktail", "--trials", "6", "--batch-trials", "6",
                                 *TINY, "--store", store])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "6 trials (6 complete, 0 pruned, 0 failed)" in " ".join(result.output.split())
    assert "--model 'rnn?cell=gru'" in result.output
    _, members = _members(store)
    assert len(members) == 12 and all(m.status == "done" for m in members)


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["tune", "builtin:iris", "--model", "cnn"],
         r"`model` must be 'mlp' for data that are not images or sequences; got 'cnn'"),
        (["path", "builtin:iris", "--model", "rnn"],
         r"`model` must be 'mlp' for data that are not sequences; got 'rnn'"),
        (["tune", "builtin:sunspots", "--model", "rnn", "--strategy", "dropconnect+l2"],
         r"tune: `strategy` must name techniques that rnn models train \(model 'rnn'\); "
         r"got `dropconnect`"),
        (["tune", "builtin:iris", "--strategy", "dropout+spatial-dropout"],
         r"tune: `strategy` must .* mlp models .* `spatial-dropout` \(acts on cnn or cnn1d "
         r"models only: it needs --model cnn, the default for images, on "
         r"image or sequence data\)"),
        (["path", "IMAGES", "--model", "cnn", "--technique", "recurrent-dropout"],
         r"path: `technique` \(--technique\) must .* cnn models .* `recurrent-dropout` \(acts "
         r"on rnn models"),
        (["path", "builtin:sunspots", "--model", "rnn?cell=gru", "--technique", "l1",
          "--proximal"], r"path: `technique` \(--technique\) must .* rnn models .* got `proximal`"),
        (["path", "builtin:iris", "--technique", "spatial-dropout"],
         r"^reglab: error: path: `technique` \(--technique\) must name techniques that mlp "
         r"models train \(model 'mlp'\); got `spatial-dropout` \(acts on cnn or cnn1d models "
         r"only: it needs --model cnn, the default for images, on "
         r"image or sequence data\)\.$"),
        (["path", "builtin:sunspots", "--technique", "spatial-dropout"],
         r"path: `technique` \(--technique\) must .* rnn models .* \(model 'rnn'\); got "
         r"`spatial-dropout` .* --model cnn, .*\)\.$"),
        (["bench", "builtin:iris", "--strategies", "none,spatial-dropout=0.1"],
         r"^reglab: error: Study: `strategies` \(--strategies\) must name techniques that mlp "
         r"models train \(model 'mlp'\); got `spatial-dropout` \(acts on cnn or cnn1d models "
         r"only: it needs --model cnn, the default for images, on "
         r"image or sequence data\)\.$"),
        (["tune", "builtin:sunspots", "--model", "rnn?cell=tcn"],
         r"`model option cell` must be lstm or gru; got 'tcn'"),
    ],
    ids=["tune-cnn-table", "path-rnn-table", "tune-rnn-dropconnect", "tune-mlp-spatial",
         "path-cnn-recurrent", "path-gru-proximal", "path-auto-table-spatial",
         "path-auto-sequences-spatial", "bench-table-spatial", "tune-bad-cell"],
)  # fmt: skip
def test_refused_in_one_line_before_anything_is_written(
    tmp_path: Path, images: Path, args: list[str], pattern: str
) -> None:
    store = tmp_path / "s.db"
    args = [f"idx:{images}" if a == "IMAGES" else a for a in args]
    result = runner.invoke(app, [*args, *TINY, "--store", str(store), "--json",
                                 str(tmp_path / "out.json")])  # fmt: skip
    assert_one_line_error(result, pattern)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("model", "strategy", "family"),
    [("cnn", "spatial-dropout=0.2+l2=1e-4", ConvArchitecture),
     ("rnn?cell=gru", "recurrent-dropout=0.2", RecurrentArchitecture)],
    ids=["cnn", "gru"],
)  # fmt: skip
def test_fit_saves_and_loads_the_model_family(
    tmp_path: Path, images: Path, model: str, strategy: str, family: type
) -> None:
    from reglab.final import load

    data = f"idx:{images}" if model == "cnn" else "builtin:sunspots"
    fitted = reglab.fit_final(
        data, strategy=strategy, model=model, hidden=(8,), epochs=1, device="cpu"
    )
    assert isinstance(fitted.arch, family)
    fitted.save(tmp_path / "m.reglab")
    loaded = load(tmp_path / "m.reglab")
    assert loaded.arch == fitted.arch and type(loaded.module) is type(fitted.module)
    rows = load_source(data).X[:50]
    assert np.array_equal(loaded.predict(rows), fitted.predict(rows))


def test_fit_command_of_a_cnn_search_trains_a_cnn(tmp_path: Path, images: Path) -> None:
    out = tmp_path / "cnn.reglab"
    result = runner.invoke(app, ["fit", f"idx:{images}", "--model", "cnn", "--strategy",
                                 "dropout=0.2", "--hidden", "8", "--epochs", "1", "--device",
                                 "cpu", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "conv 6,16, hidden 8" in " ".join(result.output.split())
    predicted = runner.invoke(app, ["predict", str(out), f"idx:{images}", "-o",
                                    str(tmp_path / "p.csv")])  # fmt: skip
    assert predicted.exit_code == 0, predicted.output
    assert len((tmp_path / "p.csv").read_text().splitlines()) == ROWS + 1
    refused = runner.invoke(app, ["fit", "builtin:iris", "--model", "cnn", "--strategy", "l2",
                                  "-o", str(tmp_path / "t.reglab")])  # fmt: skip
    assert_one_line_error(refused, r"`model` must be 'mlp' for data that are not images or seq")
    assert not (tmp_path / "t.reglab").exists()


def test_fit_from_a_recurrent_study_trains_its_family(tmp_path: Path) -> None:
    from reglab.final import load

    store = str(tmp_path / "s.db")
    bench = runner.invoke(app, ["bench", "builtin:sunspots", "--model", "rnn?cell=gru",
                                "--strategies", "none,l2=1e-4", *TINY,
                                "--store", store])  # fmt: skip
    assert bench.exit_code == 0, bench.output
    with Store(store, create=False) as st:
        (study,) = st.list_studies()
    out = tmp_path / "m.reglab"
    fitted = runner.invoke(app, ["fit", "builtin:sunspots", "--from-study", study.name,
                                 "--store", store, "--device", "cpu", "-o", str(out)])  # fmt: skip
    assert fitted.exit_code == 0, fitted.output
    arch = load(out).arch
    assert isinstance(arch, RecurrentArchitecture) and arch.cell == "gru" and arch.units == (8,)
