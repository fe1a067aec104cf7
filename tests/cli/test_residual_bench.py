"""``residual`` and ``shake-drop`` in studies: ``reglab bench`` and ``reglab tune`` from the
command line, the cocktail's conditional ShakeDrop, and bad input refused in one line before
anything is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer
from typer.testing import CliRunner

import reglab
from reglab.cli.main import app
from reglab.layers import ResidualMLP
from reglab.store import Store
from reglab.study.model_techniques import space_for_model
from reglab.study.tune_space import parse_space

from .cli_checks import assert_one_line_error

runner = CliRunner()
TINY = ["--cv", "2", "--epochs", "3", "--hidden", "8,8", "--batch-size", "64"]


class _Trial:
    """An Optuna-like trial answering switches from ``on`` and each strength with its low end."""

    def __init__(self, on: dict[str, bool]) -> None:
        self.on = on
        self.asked: list[str] = []

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        self.asked.append(name)
        return self.on.get(name, False)

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
        self.asked.append(name)
        return low

    def suggest_int(self, name: str, low: int, high: int, log: bool = False) -> int:
        self.asked.append(name)
        return low


def test_the_cocktail_asks_for_shake_drop_only_with_residual_blocks() -> None:
    space = parse_space("cocktail").for_task("multiclass", "mlp")
    assert {"residual", "shake-drop"} <= set(space.techniques)
    assert "residual" not in parse_space("cocktail").for_task("multiclass", "cnn").techniques
    assert "residual" not in space_for_model(parse_space("cocktail"), "cnn").techniques

    both = _Trial({"residual:on": True, "shake-drop:on": True})
    strategy, values = space.suggest(both)
    assert strategy.name == "residual+shake-drop=0.1" and values == {"shake-drop": 0.1}
    alone = _Trial({"shake-drop:on": True})
    strategy, _ = space.suggest(alone)
    assert "shake-drop:on" not in alone.asked and strategy.name == "none"

    # residual blocks and the MLP-only parametrizations exclude each other
    vd = _Trial({"residual:on": True, "sparse-vd:on": True})
    assert space.suggest(vd)[0].name == "residual" and "sparse-vd:on" not in vd.asked
    learned = _Trial({"learned-dropout:on": True, "residual:on": True})
    assert "residual" not in space.suggest(learned)[0].name and "residual:on" not in learned.asked

    named = parse_space("residual+shake-drop")  # residual stays on; P is searched
    assert [d.name for d in named.dims] == ["shake-drop"]
    assert named.suggest(_Trial({}))[0].name == "residual+shake-drop=0.1"


def test_bench_compares_residual_networks_from_the_command_line(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    strategies = "none,residual,residual+shake-drop,residual+dropout=0.2"
    result = runner.invoke(app, ["bench", "builtin:breast_cancer", "--strategies", strategies,
                                 *TINY, "--no-report", "--store", str(store)])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "trained 8 members" in out and "residual+shake-drop" in out
    with Store(store, create=False) as st:
        (study,) = st.list_studies()
        names = {m.strategy for m in st.load_members(study.name)}
    assert set(strategies.split(",")) <= names


def test_tune_searches_shake_drop_on_residual_blocks(tmp_path: Path) -> None:
    out = tmp_path / "tune.json"
    result = runner.invoke(app, ["tune", "builtin:iris", "--strategy", "residual+shake-drop",
                                 "--trials", "2", "--batch-trials", "2", *TINY, "--store",
                                 str(tmp_path / "t.db"), "--json", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert all(t["strategy"].startswith("residual+shake-drop") for t in data["trials"])
    assert 0.1 <= data["best"]["params"]["shake-drop"] <= 0.9


def test_shake_drop_without_residual_blocks_is_one_line_and_writes_nothing(
    tmp_path: Path,
) -> None:
    store = tmp_path / "runs.db"
    result = runner.invoke(app, ["bench", "builtin:iris", "--strategies", "none,shake-drop=0.5",
                                 *TINY, "--store", str(store)])  # fmt: skip
    assert_one_line_error(result, r"`shake-drop` must be used with `residual`")
    assert not store.exists()
    result = runner.invoke(app, ["bench", "builtin:iris", "--strategies", "residual+sparse-vd",
                                 *TINY, "--store", str(store)])  # fmt: skip
    assert_one_line_error(
        result,
        r"^reglab: error: Study: strategy 'residual\+sparse-vd' \(--strategies\): `sparse-vd` "
        r"acts on mlp networks only, and this strategy makes a 'residual-mlp' one\.$",
    )
    assert not store.exists()


def test_fit_saves_and_loads_a_residual_model(tmp_path: Path) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    model = reglab.fit_final(frame, target="target", strategy="residual+shake-drop+batchnorm",
                             epochs=4, hidden=(16, 16), device="cpu")  # fmt: skip
    assert isinstance(model.module, ResidualMLP) and model.module.shake_drop == 0.5
    path = tmp_path / "m.reglab"
    model.save(path)
    again = reglab.load(path)
    assert isinstance(again.module, ResidualMLP)
    rows = frame.drop(columns="target").head(50)
    np.testing.assert_array_equal(
        np.asarray(model.predict_proba(rows)), np.asarray(again.predict_proba(rows))
    )
