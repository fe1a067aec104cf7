"""``reglab advise`` on data with known truth: it names the right family, and says when the
target is noise instead of recommending a regularizer."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import reglab
from reglab.cli.main import app
from reglab.errors import DataError
from reglab.study.advise import Advice, Measurements, advise
from reglab.study.strategies import resolve_strategies

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def frame(X: np.ndarray, y: np.ndarray, names: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(X, columns=names)
    df["y"] = y
    return df


def families(advice: Advice) -> set[str]:
    return {term.split("=")[0] for s in advice.suggestions for term in s.strategy.split("+")}


@pytest.fixture(scope="module")
def irrelevant() -> Advice:
    """4 inputs drive a binary target, 16 are independent noise (n = 600)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 20))
    y = (X[:, :4] @ np.array([1.5, -1.2, 1.0, 0.8]) + 0.5 * rng.normal(size=600) > 0).astype(int)
    names = [f"sig_{i}" for i in range(4)] + [f"noise_{i}" for i in range(16)]
    return advise(frame(X, y, names), target="y")


@pytest.fixture(scope="module")
def grouped() -> Advice:
    """Regression on 3 latent factors, each measured 4 times (|ρ| ≈ 0.95), n = 3000."""
    rng = np.random.default_rng(2)
    z = rng.normal(size=(3000, 3))
    X = np.repeat(z, 4, axis=1) + 0.2 * rng.normal(size=(3000, 12))
    y = z @ np.array([2.0, -1.0, 1.5]) + rng.normal(size=3000)
    names = [f"f{k}_{j}" for k in range(3) for j in range(4)]
    return advise(frame(X, y, names), target="y")


def test_many_irrelevant_inputs_call_for_l1(irrelevant: Advice) -> None:
    m = irrelevant.measurements
    assert 0.6 <= m.irrelevant_share <= 0.9
    assert sum(n.startswith("noise") for n in m.irrelevant) >= 0.9 * len(m.irrelevant)
    assert "l1" in families(irrelevant)
    rule = next(s.rule for s in irrelevant.suggestions if s.strategy.startswith("l1="))
    assert "irrelevant" in rule
    assert m.signal in {"linear", "nonlinear"}


def test_correlated_groups_call_for_l2_and_are_found_exactly(grouped: Advice) -> None:
    m = grouped.measurements
    assert {frozenset(g) for g in m.groups} == {
        frozenset(f"f{k}_{j}" for j in range(4)) for k in range(3)
    }
    assert "l2" in families(grouped)
    assert "correlated" in next(s.rule for s in grouped.suggestions if s.strategy == "l2=1e-4")
    assert m.irrelevant_share <= 0.1
    assert "dropout" not in families(grouped)  # 3000 rows, 250 per input: not few
    assert m.signal == "linear"  # y is linear in the inputs: boosting does not beat ridge


def test_few_samples_call_for_dropout_l2_and_early_stopping() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 8))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + 0.3 * rng.normal(size=150) > 0).astype(int)
    advice = advise(frame(X, y, [f"x{i}" for i in range(8)]), target="y")
    assert {"dropout", "l2"} <= families(advice)
    assert "dropout=0.5+l2=1e-3" in advice.strategies
    assert any("Early stopping" in n for n in advice.notes)
    assert "--repeats 3" in advice.command


def test_p_much_larger_than_n_calls_for_elastic_net() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(80, 120))
    y = X[:, :5].sum(axis=1) + 0.3 * rng.normal(size=80)
    advice = advise(frame(X, y, [f"x{i}" for i in range(120)]), target="y")
    enet = next(s for s in advice.suggestions if s.strategy.startswith("elasticnet"))
    assert "p ≥ n" in enet.rule


def test_a_pure_noise_target_is_called_noise_not_regularized() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 10))
    y = rng.integers(0, 2, size=400)
    advice = advise(frame(X, y, [f"x{i}" for i in range(10)]), target="y")
    assert advice.measurements.signal == "none"
    assert any("looks like noise" in n for n in advice.notes)
    assert families(advice) <= {"none", "l2"}
    assert "no signal" in advice.suggestions[-1].rule


def test_short_list_parses_and_the_command_checks_it(irrelevant: Advice, grouped: Advice) -> None:
    for advice in (irrelevant, grouped):
        assert [s.name for s in resolve_strategies(advice.strategies)] == [
            s.strategy for s in advice.suggestions
        ]
        assert f"--strategies {advice.strategies}" in advice.command
        assert advice.command.startswith("reglab bench ")
    data = json.loads(json.dumps(grouped.to_dict()))
    assert data["measurements"]["signal"] == "linear"
    assert len(data["measurements"]["groups"]) == 3


def test_cli_prints_advice_and_writes_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 6))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    data = tmp_path / "d.csv"
    df = frame(X, y, [f"x{i}" for i in range(6)])
    df.loc[:29, "x5"] = np.nan
    df.to_csv(data, index=False)
    out = tmp_path / "a.json"
    runner = CliRunner()
    result = runner.invoke(app, ["advise", str(data), "--target", "y", "--json", str(out)])
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    assert saved["command"] in " ".join(result.output.split())
    assert saved["measurements"]["missing_columns"] == {"x5": pytest.approx(0.1)}
    assert "missing" in " ".join(saved["notes"])
    bad = runner.invoke(app, ["advise", str(data), "--target", "z"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output and "got 'z'" in bad.output
    clobber = runner.invoke(app, ["advise", str(data), "--target", "y", "--json", str(data)])
    assert clobber.exit_code == 2 and "--json" in clobber.output


def test_python_entry_point() -> None:
    assert reglab.advise is advise


# -- the rules past the classic list: ample rows with a noisy target; a skewed target ----------


def _regression(n: int, p: int, noise: float, seed: int, *, lognormal: bool = False) -> Advice:
    """``y = x0 − x1 + 0.5·x2 + ε`` (the other inputs also matter a little, so none is
    irrelevant), with ``ε ~ N(0, noise²)``; ``lognormal``: ``exp`` of a scaled target."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + 0.3 * X[:, 3:].sum(axis=1)
    y = y + noise * rng.normal(size=n)
    if lognormal:
        y = np.exp(0.6 * y / y.std())
    return advise(frame(X, y, [f"x{i}" for i in range(p)]), target="y")


@pytest.fixture(scope="module")
def ample_noisy() -> Advice:
    """3000 rows, 6 inputs (500 per input), about half the variance noise."""
    return _regression(3000, 6, noise=1.6, seed=7)


def test_ample_rows_and_a_noisy_target_call_for_weight_decay_and_light_dropout(
    ample_noisy: Advice,
) -> None:
    m = ample_noisy.measurements
    assert 0.35 <= m.noise_share <= 0.65 and m.rows_per_input == 500
    assert {"weight-decay", "dropout"} <= families(ample_noisy)
    assert "dropout=0.15+weight-decay=2e-2" in ample_noisy.strategies
    rule = next(s.rule for s in ample_noisy.suggestions if s.strategy == "weight-decay=2e-2")
    assert "ample rows" in rule and "noisy target" in rule
    assert not any("skewed" in n for n in ample_noisy.notes)  # a normal target


@pytest.mark.parametrize(
    ("n", "p", "noise", "why"),
    [
        (3000, 6, 0.3, "little noise"),
        (800, 6, 1.6, "few rows"),
        (3000, 40, 3.0, "few rows per input"),
    ],
    ids=["quiet", "small", "wide"],
)
def test_the_ample_and_noisy_rule_holds_back(n: int, p: int, noise: float, why: str) -> None:
    advice = _regression(n, p, noise, seed=8)
    assert "weight-decay" not in families(advice), why
    m = advice.measurements
    assert m.noise_share < 0.3 or m.n_rows < 2000 or m.rows_per_input < 100


def test_grouped_low_noise_data_get_no_damping(grouped: Advice) -> None:
    assert grouped.measurements.noise_share < 0.3
    assert "weight-decay" not in families(grouped)


def test_a_skewed_target_gets_a_note_not_a_strategy() -> None:
    skewed = _regression(600, 5, noise=0.5, seed=9, lognormal=True)
    assert skewed.measurements.target_skew >= 1.0
    assert any("skewed" in n and "MAE" in n for n in skewed.notes)
    plain = _regression(600, 5, noise=0.5, seed=9)
    assert abs(plain.measurements.target_skew) < 0.3
    assert not any("skewed" in n for n in plain.notes)
    assert families(skewed) == families(plain)  # the note adds no strategy


# -- the command follows the notes; every option named exists; lists say when they are cut -----


def options(command: str) -> set[str]:
    """The option names ``reglab COMMAND`` accepts."""
    group = typer.main.get_command(app)
    return {o for p in group.commands[command].params for o in p.opts}  # type: ignore[attr-defined]


def flags(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))


def value(command: str, option: str) -> str:
    tokens = shlex.split(command)
    return tokens[tokens.index(option) + 1]


def check_options(advice: Advice) -> None:
    """The command parses as ``reglab bench``; an option a note names belongs to bench, or to
    the command the note names."""
    bench = typer.main.get_command(app).commands["bench"]  # type: ignore[attr-defined]
    bench.make_context("bench", shlex.split(advice.command)[2:])  # raises on an unknown option
    for note in (*advice.notes, *advice.command_notes):
        allowed = options("bench") | (options("tune") if "reglab tune" in note else set())
        assert flags(note) <= allowed, note


def _repeated(tmp_path: Path) -> Path:
    """40 subjects of 6 rows each, named ``m07_3`` (subject 7, replicate 3), and a column
    ``arm`` that is the label under another name."""
    rng = np.random.default_rng(11)
    subject = np.repeat(np.arange(40), 6)
    label = subject % 2
    x = rng.normal(size=(40, 3))[subject] + 1.5 * label[:, None] + rng.normal(size=(240, 3))
    df = pd.DataFrame(x, columns=["x0", "x1", "x2"])
    df.insert(0, "sample", [f"m{s:02d}_{r}" for s in range(40) for r in range(1, 7)])
    df["arm"] = np.where(label == 1, "treated", "control")
    df["label"] = label
    path = tmp_path / "repeated.csv"
    df.to_csv(path, index=False)
    return path


def test_the_command_adds_the_groups_and_drops_the_leak_its_notes_name(tmp_path: Path) -> None:
    data = _repeated(tmp_path)
    advice = advise(str(data), target="label")
    assert any("--groups sample:prefix=_" in n for n in advice.notes)
    assert any("'arm' determines the target" in n for n in advice.notes)
    assert value(advice.command, "--groups") == "sample:prefix=_"
    assert value(advice.command, "--drop") == "arm"
    assert advice.command_notes == (
        "added --drop arm: it was flagged as possible target leakage in a note above; take it "
        "out of --drop if known at prediction time",
        "added --groups sample:prefix=_: the repeated-measures note above suggests it; take it "
        "out if the rows are independent",
        "the measurements and the short-list above are of the data as given (flagged columns "
        f"kept, rows split freely); to measure them as this command runs: reglab advise {data} "
        "--target label --drop arm --groups sample:prefix=_",
    )
    assert advice.lines()[-3:] == [f"  {n}" for n in advice.command_notes]
    check_options(advice)


def test_the_users_drop_and_groups_are_kept_and_the_command_runs(tmp_path: Path) -> None:
    data = _repeated(tmp_path)
    runner = CliRunner()
    out = tmp_path / "a.json"
    asked = ["--drop", "x2", "--groups", "sample:prefix=_", "--task", "binary"]
    result = runner.invoke(
        app, ["advise", str(data), "--target", "label", *asked, "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    command = saved["command"]
    assert value(command, "--drop") == "x2,arm"  # the user's, then the flagged one
    assert value(command, "--groups") == "sample:prefix=_"
    assert value(command, "--task") == "binary"
    assert [n.split(": ")[0] for n in saved["command_notes"]] == [
        "added --drop arm",
        "the measurements and the short-list above are of the data as given (flagged columns "
        "kept); to measure them as this command runs",
    ]
    assert saved["command_notes"][-1].endswith(
        "--target label --task binary --drop x2,arm --groups sample:prefix=_"
    )
    fast = ["--epochs", "2", "--cv", "3", "--hidden", "8", "--device", "cpu", "--no-report"]
    store = ["--store", str(tmp_path / "s.db")]
    bench = runner.invoke(app, [*shlex.split(command)[1:], *fast, *store])
    assert bench.exit_code == 0, bench.output
    assert "grouped by sample prefix (40 groups)" in bench.output


@pytest.fixture(scope="module")
def mice() -> Advice:
    path = DATA / "mice-protein.csv"
    if not path.exists():
        pytest.skip("mice-protein.csv is not in the shared data folder")
    return advise(str(path), target="class")


def test_mice_protein_command_splits_by_mouse_and_drops_the_leaking_columns(mice: Advice) -> None:
    assert value(mice.command, "--groups") == "MouseID:prefix=_"
    assert value(mice.command, "--drop") == "Genotype,Treatment,Behavior"
    assert [n.split(": ")[0] for n in mice.command_notes] == [
        "added --drop Genotype,Treatment,Behavior",
        "added --groups MouseID:prefix=_",
        "the measurements and the short-list above are of the data as given (flagged columns "
        "kept, rows split freely); to measure them as this command runs",
    ]
    assert mice.command_notes[-1].endswith(
        "to measure them as this command runs: reglab advise "
        f"{DATA / 'mice-protein.csv'} --target class --drop Genotype,Treatment,Behavior "
        "--groups MouseID:prefix=_"
    )
    check_options(mice)


def test_mice_protein_signal_line_reads_a_sign_test_as_one(mice: Advice) -> None:
    m = mice.measurements
    assert m.simple_exact and m.simple_p == pytest.approx(0.5**5)  # 100% on every split
    assert not m.flexible_exact and m.flexible_p < 0.001
    signal = next(line for line in mice.lines() if line.startswith("  signal:"))
    assert "p=<" not in signal
    assert (
        "linear 100.0% (vs chance p=0.031, exact sign test: the same margin on every split, "
        "the smallest p 5 splits allow), boosting 99.9% (p<0.001)"
    ) in signal


def _measured(**changes: object) -> Measurements:
    base = Measurements(
        task="multiclass", n_rows=600, n_columns=12, n_inputs=12, sampled=None,
        class_counts={"a": 200, "b": 200, "c": 200}, missing_share=0.0, missing_columns={},
        groups=(), irrelevant=(), irrelevant_l1=0.0, metric="balanced_accuracy",
        chance=1 / 3, simple=0.9, flexible=0.9, simple_p=1e-4, flexible_p=1e-4, gap_p=0.5,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _lines(m: Measurements) -> list[str]:
    return Advice("d.csv", "y", m, (), "reglab bench d.csv --target y").lines()


def test_two_perfect_models_are_signal_although_each_sign_test_stops_at_0_031() -> None:
    perfect = _measured(simple=1.0, flexible=1.0, simple_p=0.5**5, flexible_p=0.5**5,
                        simple_exact=True, flexible_exact=True, gap_p=1.0)  # fmt: skip
    assert perfect.signal == "linear"
    assert _measured(simple_p=0.5**5, flexible_p=0.5**5).signal == "none"  # t-tests: doubled


def test_cut_lists_say_how_much_is_left_out() -> None:
    names = [f"x{i}" for i in range(12)]
    groups = (tuple(names[:6]), *(tuple(names[i : i + 2]) for i in range(6, 12, 2)), ("a", "b"))
    line = next(x for x in _lines(_measured(groups=groups)) if "correlated groups" in x)
    assert line.endswith(": 5: x0, x1, x2, x3 and 2 more; x6, x7; x8, x9; and 2 more groups")
    line = next(x for x in _lines(_measured(groups=groups[:2])) if "correlated groups" in x)
    assert line.endswith(": 2: x0, x1, x2, x3 and 2 more; x6, x7")


def test_crx_correlated_groups_line_says_it_is_cut() -> None:
    path = DATA / "crx.csv"
    if not path.exists():
        pytest.skip("crx.csv is not in the shared data folder")
    advice = advise(str(path), target="a16")
    line = next(x for x in advice.lines() if "correlated groups" in x)
    assert len(advice.measurements.groups) == 5 and line.endswith("; and 2 more groups")


def test_the_skew_note_names_only_options_that_exist() -> None:
    skewed = _regression(600, 5, noise=0.5, seed=9, lognormal=True)
    note = next(n for n in skewed.notes if "skewed" in n)
    assert "--metric" not in options("bench") and "--metric mae" in note
    assert "reglab tune" in note and "--metric" in options("tune")
    check_options(skewed)


def test_too_few_rows_are_refused_in_one_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=8), "b": rng.normal(size=8), "y": [0, 1] * 4})
    frame.to_csv(tmp_path / "t8.csv", index=False)
    with pytest.raises(DataError, match=r"^advise: the data must have at least 20 rows .*got 8\.$"):
        advise(str(tmp_path / "t8.csv"), target="y")
