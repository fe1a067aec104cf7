"""Recurrent studies end to end: ``reglab bench builtin:sunspots --model rnn``, a GRU from
Python on labelled sequences, and what is refused in one line before anything is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import reglab
from reglab.cli.main import app
from reglab.engine.rnn import RecurrentArchitecture

from .cli_checks import assert_one_line_error

runner = CliRunner()
TINY = ["--cv", "2", "--epochs", "2", "--hidden", "8", "--no-report"]


def test_bench_sunspots_with_an_lstm(tmp_path: Path) -> None:
    store = str(tmp_path / "rnn.db")
    result = runner.invoke(app, ["bench", "builtin:sunspots", "--model", "rnn", "--strategies",
                                 "none,dropout=0.2+recurrent-dropout=0.2,weight-drop=0.3,l2=1e-4",
                                 *TINY, "--store", store])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "trained 8 members" in out and "weight-drop=0.3" in out
    from reglab.store import Store

    with Store(store, create=False) as st:
        (study,) = st.list_studies()
    assert study.config["model"]["family"] == "rnn"


def test_python_bench_with_a_gru_on_labelled_sequences(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = np.arange(120) % 2
    t = np.arange(10)[None, :]
    x = np.sin(np.where(y == 0, 0.5, 1.5)[:, None] * t + rng.uniform(0, 6, (120, 1)))
    np.savez(tmp_path / "waves.npz", x=x, y=y)
    result = reglab.bench(f"seq:{tmp_path / 'waves.npz'}", model="rnn?cell=gru",
                          strategies="none,grad-clip=1", cv=2, epochs=10, lr=1e-2, hidden=(8,),
                          store=str(tmp_path / "s.db"))  # fmt: skip
    assert result.config["model"]["family"] == "rnn?cell=gru"
    assert len(result.members) == 4 and all(m.status == "done" for m in result.members)


@pytest.mark.parametrize(
    ("data", "args", "pattern"),
    [
        (
            "builtin:iris",
            ["--model", "rnn"],
            r"Study: `model` must be 'mlp' for data that are not sequences; got 'rnn'",
        ),
        (
            "builtin:sunspots",
            ["--model", "rnn?cell=tcn"],
            r"Study: `model option cell` must be lstm or gru; got 'tcn'",
        ),
        (
            "builtin:sunspots",
            ["--model", "rnn", "--strategies", "none,dropconnect=0.2"],
            r"Study: strategy 'dropconnect=0.2' must be free of `dropconnect` \(weight-drop=p is",
        ),
        (
            "builtin:sunspots",
            ["--model", "mlp", "--strategies", "none,weight-drop=0.2"],
            r"`strategies` \(--strategies\) must name techniques that mlp models train "
            r"\(model 'mlp'\); got `weight-drop` \(acts on rnn models only",
        ),
    ],
    ids=["table", "cell", "dropconnect", "mlp-weight-drop"],
)
def test_refused_in_one_line_before_anything_is_written(
    tmp_path: Path, data: str, args: list[str], pattern: str
) -> None:
    store = tmp_path / "s.db"
    result = runner.invoke(app, ["bench", data, *args, *TINY, "--store", str(store)])
    assert_one_line_error(result, pattern)
    assert not store.exists()


def test_architecture_units_come_from_hidden() -> None:
    from reglab.data import load_source
    from reglab.engine.rnn import recurrent_architecture
    from reglab.engine.spec import Strategy

    ds = load_source("builtin:sunspots")
    common = {"in_features": 20, "out_features": 1, "hidden": (16, 8), "activation": "relu",
              "batch_norm": False, "block_order": "bn-act-drop", "task": "regression"}  # fmt: skip
    arch = recurrent_architecture(ds, common, "rnn?cell=gru", Strategy())
    assert arch == RecurrentArchitecture(20, 1, units=(16, 8), cell="gru", steps=20, features=1,
                                         task="regression")  # fmt: skip


def test_default_strategies_of_a_recurrent_study_all_apply() -> None:
    from reglab.data import load_source
    from reglab.engine.rnn import DEFAULT_STRATEGIES
    from reglab.study.run import Study

    plan = Study(model="rnn", hidden=(8,), n_splits=2).plan(load_source("builtin:sunspots"))
    assert [s.name for s in plan.strategies] == list(DEFAULT_STRATEGIES)
    assert "batchnorm" not in DEFAULT_STRATEGIES and len(plan.members) == 20
