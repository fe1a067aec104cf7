"""Nested tuning (``Study(tune=N)``, ``reglab bench --tune N``): the outer test rows never choose
a strength, the verdicts compare tuned families, a killed run resumes to the same bits, and bad
settings are refused before anything is written."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from typer.testing import CliRunner

import reglab.engine
from reglab.api import load_data
from reglab.cli.main import app
from reglab.errors import ConfigError
from reglab.final.fit import strategy_of_study
from reglab.store import Store
from reglab.store.journal import journal_storage
from reglab.study.nested import INNER_STRIDE, families, inner_splits
from reglab.study.nested_result import analyze_tuning
from reglab.study.run import Study
from reglab.study.splits import SplitPlan
from reglab.study.strategies import resolve_strategies

SMALL: dict[str, Any] = {
    "n_splits": 3,
    "method": "kfold",
    "epochs": 4,
    "hidden": (8,),
    "batch_size": 32,
    "tune": 4,
    "tune_batch": 2,
    "reference": "none",
    "device": "cpu",
}


def _iris(y: np.ndarray | None = None) -> Any:
    x, target = load_iris(return_X_y=True)
    return load_data(x.astype(np.float32), target if y is None else y)


def _trials(store: Store, name: str) -> dict[str, list[dict[str, float]]]:
    """Each search's finished trials' parameters, in order."""
    import optuna

    out = {}
    for s in optuna.get_all_study_summaries(journal_storage(store)):
        if s.study_name.startswith(f"{name}/tune/"):
            search = optuna.load_study(study_name=s.study_name, storage=journal_storage(store))
            out[s.study_name] = [t.params for t in search.trials if t.state.is_finished()
                                 and t.state != optuna.trial.TrialState.FAIL]  # fmt: skip
    return out


def _choices(store: Store, name: str) -> dict[str, dict[str, Any]]:
    """family → outer split id (text) → what its search chose."""
    families = store.get_study(name).metadata["tuning"]["families"]
    return {name: entry["splits"] for name, entry in families.items()}


def test_inner_folds_split_only_the_outer_training_part() -> None:
    y = np.array([0, 1, 2] * 30)
    for split in SplitPlan("stratified-kfold", 5, 1, 0.2, 0.2, seed=3).split(y, "multiclass"):
        inner = inner_splits(split, y, "multiclass", cv=3, val_fraction=0.2, seed=3)
        outer_train = set(split.train_idx) | set(split.val_idx)
        assert len(inner) == 3
        for i in inner:
            seen = set(i.train_idx) | set(i.val_idx) | set(i.test_idx)
            assert seen <= outer_train and not seen & set(split.test_idx)
            assert i.split_id // INNER_STRIDE - 1 == split.split_id
        # the inner test folds partition the outer training part
        tested = np.sort(np.concatenate([i.test_idx for i in inner]))
        assert tested.tolist() == sorted(outer_train)


def test_tuning_members_never_see_the_outer_test_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    real = reglab.engine.train_members
    seen: list[Any] = []

    def recording(members: Any, data: Any, **kw: Any) -> Any:
        seen.extend(members)
        return real(members, data, **kw)

    monkeypatch.setattr(reglab.engine, "train_members", recording)
    dataset = _iris()
    study = Study("none,dropout,l2", **SMALL)
    with Store("sqlite://") as st:
        result = study.run(dataset, st)
    plan = study.plan(dataset)
    tests = {s.split_id: set(s.test_idx.tolist()) for s in plan.splits}
    inner = [m for m in seen if m.split_id >= INNER_STRIDE]
    outer = [m for m in seen if m.split_id < INNER_STRIDE]
    # 2 tuned families x 3 outer splits x 4 trials x 3 inner folds (no trial asked twice here
    # is possible, so at most that many), then 3 strategies x 3 splits retrained
    assert 0 < len(inner) <= 2 * 3 * 4 * 3 and len(outer) == 3 * 3
    for m in inner:
        rows = set(m.train_idx.tolist()) | set(m.val_idx.tolist()) | set(m.test_idx.tolist())
        assert not rows & tests[m.split_id // INNER_STRIDE - 1]
    for m in outer:  # the retrained members test on the outer fold and train on the rest
        assert set(m.test_idx.tolist()) == tests[m.split_id]
    assert {t.name for t in result.tuning} == {"dropout", "l2"}


def test_poisoned_outer_test_labels_leave_that_splits_choices_bit_identical() -> None:
    dataset = _iris()
    plan = Study("dropout,l2", **SMALL).plan(dataset)
    test0 = plan.splits[0].test_idx
    poisoned = dataset.y.copy()
    poisoned[test0] = (poisoned[test0] + 1) % 3  # every outer-test label of split 0 wrong
    results = []
    for y in (None, poisoned):
        with Store("sqlite://") as st:
            result = Study("dropout,l2", **SMALL).run(_iris(y), st)
            results.append((result, _choices(st, result.name)))
    (clean, clean_choice), (bad, bad_choice) = results
    for family in ("dropout", "l2"):
        # split 0 chose from rows whose labels did not change: the very same bits
        assert clean_choice[family]["0"] == bad_choice[family]["0"]
        # its outer score did see the poison (the test really changed what it could)
        accuracy = clean.strategies[family].split_scores["accuracy"][0]
        assert abs(bad.strategies[family].split_scores["accuracy"][0] - accuracy) > 0.3
    # the other splits' training parts hold the poisoned rows: their searches did change
    assert any(clean_choice[f][s] != bad_choice[f][s] for f in ("dropout", "l2") for s in "12")


def test_verdicts_compare_tuned_families_and_untuned_ones_run_as_given(tmp_path: Path) -> None:
    with Store("sqlite://") as st:
        learns = {**SMALL, "epochs": 25, "lr": 0.02}  # verdicts need a model that learned
        given = "none,batchnorm,dropout=0.5,l2,dropout+l2=1e-3"  # strengths given: replaced
        result = Study(given, **learns).run(_iris(), st)
        members = st.load_members(result.name, with_curves=False, with_details=False)
    assert set(result.strategies) == {"none", "batchnorm", "dropout", "l2", "dropout+l2"}
    by = {(m.strategy, m.split_id): m.strategy_config for m in members}
    tuned = {t.name: t for t in result.tuning}
    assert set(tuned) == {"dropout", "l2", "dropout+l2"}
    for split in (0, 1, 2):
        chosen = {s.split_id: s.values for s in tuned["dropout+l2"].splits}[split]
        config = by[("dropout+l2", split)]
        assert config["dropout"] == chosen["dropout"] and config["l2"] == chosen["l2"]
        assert by[("batchnorm", split)]["batch_norm"] is True
        assert by[("none", split)]["l2"] == 0 and by[("none", split)]["dropout"] == 0
    pairs = {(v.strategy, v.reference) for v in result.verdicts}
    assert pairs == {("dropout+l2", "dropout"), ("dropout+l2", "l2")}
    out = result.to_dict()
    assert [t["family"] for t in out["tuning"]] == ["dropout", "l2", "dropout+l2"]
    assert any(n.kind == "tuning" and "Nested tuning" in n.text for n in result.notices)
    page = result.report(tmp_path / "r.html").read_text(encoding="utf-8")
    section = page[page.index('<section id="tuning">') :]
    section = section[: section.index("</section>")]
    for family in tuned.values():  # every chosen strength, to the bit, in the report's table
        for split in family.splits:
            for value in split.values.values():
                assert f'data-value="{value!r}"' in section


def test_the_same_run_twice_gives_the_same_bits_and_trains_nothing_again(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    study = Study("dropout", **SMALL)
    with Store(db) as st:
        first = study.run(_iris(), st)
        choices = _choices(st, first.name)
    assert study.trained_ > 0
    again = Study("dropout", **SMALL)
    with Store(db) as st:
        second = again.run(_iris(), st)
        assert _choices(st, second.name) == choices
    assert again.trained_ == 0
    assert second.strategies["dropout"].split_scores == first.strategies["dropout"].split_scores


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import reglab.engine
    from sklearn.datasets import load_iris
    from reglab.api import load_data
    from reglab.store import Store
    from reglab.study.run import Study

    real = reglab.engine.train_members
    calls = []

    def train(members, data, *, on_result, **kw):
        calls.append(1)
        saved = []

        def save(result):
            on_result(result)
            saved.append(1)
            if len(calls) == 2 and len(saved) == 5:  # mid-way through the second round
                os.kill(os.getpid(), signal.SIGKILL)

        return real(members, data, on_result=save, **kw)

    reglab.engine.train_members = train
    x, y = load_iris(return_X_y=True)
    with Store(sys.argv[1]) as st:
        Study("dropout,l2", n_splits=3, method="kfold", epochs=4, hidden=(8,), batch_size=32,
              tune=6, tune_batch=2, reference="none", device="cpu").run(
            load_data(x.astype(np.float32), y), st)
    """
)


def test_kill_9_then_the_same_run_resumes_to_the_unbroken_runs_bits(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    done = subprocess.run([sys.executable, "-c", KILLER, str(db)], capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    three_rounds = {**SMALL, "tune": 6}  # the kill is in round 2; round 3 asks afresh
    resumed = Study("dropout,l2", **three_rounds)
    with Store(db) as st:
        names = [s.name for s in st.list_studies()]
        assert any(n.endswith("/inner") for n in names)
        stored = sum(len(st.load_members(n, with_curves=False, with_details=False)) for n in names)
        assert stored > 0
        result = resumed.run(_iris(), st)
        after_kill = _choices(st, result.name)
        trials_after_kill = _trials(st, result.name)
    assert resumed.reused_ > 0
    with Store("sqlite://") as st:
        unbroken = Study("dropout,l2", **three_rounds).run(_iris(), st)
        choices = _choices(st, unbroken.name)
        trials = _trials(st, unbroken.name)
    assert len(trials) == 2 * 3 and all(len(t) == 6 for t in trials.values())
    assert trials_after_kill == trials  # every search asked the same trials in the same order
    for family in ("dropout", "l2"):
        for split in "012":
            got, want = after_kill[family][split], choices[family][split]
            assert got["values"] == want["values"] and got["inner_score"] == want["inner_score"]
        scores = result.strategies[family].split_scores
        assert scores == unbroken.strategies[family].split_scores


@pytest.mark.parametrize(
    ("strategies", "options", "match"),
    [
        ("dropout", {"tune": 0}, r"Study: `tune` must be a whole number in \[1, 100,000\] "
         r"\(--tune\); got 0\."),
        ("dropout", {"tune": 2, "tune_cv": 1}, r"`tune_cv` must be a whole number in \[2, 20\]"),
        ("none,batchnorm", {"tune": 2}, r"at least one strategy with a strength to tune.*"
         r"none, batchnorm \(nothing to tune\)"),
        ("l1+proximal", {"tune": 2}, r"technique strengths only; 'l1\+proximal'"),
        ("dropout,dropout=0.5", {"tune": 2}, r"one strategy per family.*dropout more than once"),
    ],
    ids=["tune-0", "tune-cv-1", "nothing-to-tune", "modifier", "same-family"],
)  # fmt: skip
def test_bad_tuning_settings_are_refused_before_training(
    strategies: str, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        Study(strategies, **{**SMALL, **options}).plan(_iris())


@pytest.mark.parametrize(
    ("strategies", "tune", "needle"),
    [("dropout", "0", "`tune` must be a whole number"),
     ("none,batchnorm", "3", "at least one strategy with a strength to tune")],
    ids=["tune-0", "nothing-to-tune"],
)  # fmt: skip
def test_cli_refuses_bad_tune_in_one_line_and_writes_nothing(
    tmp_path: Path, strategies: str, tune: str, needle: str
) -> None:
    store, out = tmp_path / "s.db", tmp_path / "r.json"
    args = ["bench", "builtin:iris", "--strategies", strategies, "--tune", tune,
            "--store", str(store), "--json", str(out), "--no-report"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0]
    assert not store.exists() and not out.exists()


def test_tune_ranges_reach_every_family_searching_that_strength() -> None:
    fams = families(resolve_strategies("dropout,l2,dropout+l2"), "l2=1e-5:1e-3")
    spaces = {f.name: {d.name: (d.low, d.high) for d in f.space.dims} for f in fams}  # type: ignore[union-attr]
    assert spaces["l2"]["l2"] == spaces["dropout+l2"]["l2"] == (1e-5, 1e-3)
    assert spaces["dropout"]["dropout"] == spaces["dropout+l2"]["dropout"] == (0.05, 0.7)
    with pytest.raises(ConfigError, match=r"`tune_ranges` must be a strength some strategy "
                       r"searches \(--tune-range\); got 'maxnorm'"):  # fmt: skip
        families(resolve_strategies("dropout"), "maxnorm=1:3")


def test_families_name_each_strategy_by_its_techniques() -> None:
    fams = families(resolve_strategies("none,dropout=0.5,l2=1e-4+dropout,batchnorm+dropout"))
    assert [f.name for f in fams] == ["none", "dropout", "dropout+l2", "dropout+batchnorm"]
    assert [f.tuned for f in fams] == [False, True, True, True]
    assert [d.name for d in fams[3].space.dims] == ["dropout"]  # type: ignore[union-attr]


def test_spread_is_geometric_for_log_strengths_and_warns_when_undetermined() -> None:
    dims = [{"name": "l2", "low": 1e-6, "high": 1e-2, "scale": "log"},
            {"name": "dropout", "low": 0.0, "high": 0.6, "scale": "linear"}]  # fmt: skip
    splits = {
        "0": {
            "values": {"l2": 1e-6, "dropout": 0.1},
            "inner_score": 0.8,
            "edges": ["l2"],
            "complete": 5,
            "ties": 4,
        },
        "1": {"values": {"l2": 1e-3, "dropout": 0.2}, "inner_score": 0.9, "complete": 5, "ties": 4},
        "2": {"values": {"l2": 1e-5, "dropout": 0.4}, "inner_score": 0.7, "edges": ["l2"]},
    }
    families = {"dropout+l2": {"dims": dims, "splits": splits}}
    (fam,) = analyze_tuning(
        {"trials": 5, "inner_folds": 3, "metric": "accuracy", "families": families}
    )
    l2, dropout = fam.spread
    assert l2.ratio == pytest.approx(1000) and l2.share == pytest.approx(0.75)
    assert l2.center == pytest.approx(1e-14 ** (1 / 3))  # the geometric mean
    assert dropout.low == 0.1 and dropout.high == 0.4 and dropout.share == pytest.approx(0.5)
    assert dropout.center == pytest.approx(0.7 / 3) and fam.mean_inner_score == pytest.approx(0.8)
    assert any("covers 75% of its searched range" in n for n in fam.notes)
    assert any("on 2 of 3 outer splits" in n and "cannot tell" in n for n in fam.notes)
    assert any("at the low edge" in n and "2 of 3" in n and "below 1e-6" in n for n in fam.notes)
    assert json.loads(json.dumps(fam.to_dict()))["spread"][0]["geometric_range"] == pytest.approx(
        1000
    )


def test_fit_from_a_nested_study_asks_to_tune_the_winner_on_all_data() -> None:
    result = SimpleNamespace(
        winner="dropout+l2",
        name="s",
        headline="",
        config={"tune": {"trials": 20, "families": {"dropout+l2": {}}}},
    )
    with pytest.raises(ConfigError, match=r"reglab tune DATA --strategy dropout\+l2 --trials 20"):
        strategy_of_study(result)


def test_cli_bench_tune_prints_and_writes_the_chosen_strengths(tmp_path: Path) -> None:
    store, out = tmp_path / "s.db", tmp_path / "r.json"
    args = ["bench", "builtin:iris", "--strategies", "none,dropout", "--tune", "2",
            "--tune-batch", "2", "--tune-range", "dropout=0.1:0.5", "--cv", "3", "--epochs", "3",
            "--hidden", "8", "--reference", "none", "--device", "cpu", "--store", str(store),
            "--json", str(out), "--no-report"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "dropout: strengths chosen per outer split (2 trials x 3 inner folds each)" in (
        result.output
    )
    (family,) = json.loads(out.read_text())["tuning"]
    assert family["family"] == "dropout" and len(family["splits"]) == 3
    assert all(0.1 <= s["values"]["dropout"] <= 0.5 for s in family["splits"])
    assert family["spread"][0]["searched"] == [0.1, 0.5]
    # a choice at the edge of its range is flagged in the terminal, as in the JSON
    lines = result.output.splitlines()
    after = next(i for i, line in enumerate(lines) if "strengths chosen per outer split" in line)
    rows = [line for line in lines[after:] if re.match(r"^│\s+\d+\s+│", line)]
    assert len(rows) == 3, result.output
    for s, row in zip(family["splits"], rows, strict=True):
        assert ("(edge)" in row) == bool(s["at_edge"]), row
