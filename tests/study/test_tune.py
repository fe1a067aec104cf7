"""``reglab.tune``: batched ask/tell ≡ Optuna's sequential loop for a batch of one, resume after
``kill -9``, the median pruner, the journal in the store, and the analysis of a real search."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import optuna
import pytest

from reglab.api import load_data
from reglab.store import Store
from reglab.store.journal import journal_storage
from reglab.study.tune import Tune, make_sampler
from reglab.study.tune_prune import MedianPruner, running_curve
from reglab.study.tune_space import round_strength

SMALL = {"n_splits": 3, "epochs": 3, "hidden": (8,), "batch_size": 64}


@pytest.fixture(scope="module")
def iris() -> object:
    return load_data("builtin:iris")


def test_batch_of_one_asks_the_trials_of_the_sequential_loop(iris: object) -> None:
    runner = Tune("dropout+l2", trials=12, batch_trials=1, pruner="none", **SMALL)
    with Store("sqlite://") as st:
        result = runner.run(iris, st)  # type: ignore[arg-type]
    values = {t.strategy: t.value for t in result.trials}
    assert len(result.trials) == 12 and result.count("complete") == 12
    space = runner.check()
    # Optuna's own sequential loop with the same sampler and seed, told the same scores
    sequential = optuna.create_study(
        direction="maximize",
        sampler=make_sampler("tpe", space, seed=0, batch_trials=1, trials=12),
    )

    def objective(trial: optuna.Trial) -> float:
        strategy, _ = space.suggest(trial)
        return values[strategy.name]

    sequential.optimize(objective, n_trials=12)
    asked = [{k: round_strength(v) for k, v in t.params.items()} for t in sequential.trials]
    assert asked == [dict(t.params) for t in result.trials]  # trials 10, 11: TPE's model


def test_rounds_train_every_trial_and_split_and_the_result_reads_them(iris: object) -> None:
    with Store("sqlite://") as st:
        result = Tune("dropout+l2", trials=6, batch_trials=3, pruner="none", **SMALL).run(
            iris,  # type: ignore[arg-type]
            st,
        )
        (info,) = st.list_studies()
        members = st.load_members(info.name, with_curves=False, with_details=False)
    assert len(members) == 6 * 3 and {m.status for m in members} == {"done"}
    for t in result.trials:
        own = [m.test_scores["accuracy"] for m in members if m.strategy == t.strategy]
        assert sorted(own) == sorted(t.scores) and math.isclose(t.value, np.mean(own))
    assert result.best is not None
    assert result.best.value == max(t.value for t in result.trials)
    lo, hi = result.ci
    assert 0.0 <= lo <= result.best.value <= hi <= 1.0
    assert result.best_command.startswith("reglab fit builtin:iris --strategy ")
    assert f'"{result.best.strategy}"' in result.best_command
    assert "--hidden 8 --epochs 3 --batch-size 64" in result.best_command
    assert any("optimistic" in w for w in result.warnings)


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import reglab.engine
    from reglab.api import load_data
    from reglab.store import Store
    from reglab.study.tune import Tune

    real = reglab.engine.train_members
    calls = []

    def train(members, data, *, on_result, **kw):
        calls.append(1)
        saved = []

        def save(result):
            on_result(result)
            saved.append(1)
            if len(calls) == 2 and len(saved) == 4:  # mid-way through the second round
                os.kill(os.getpid(), signal.SIGKILL)

        return real(members, data, on_result=save, **kw)

    reglab.engine.train_members = train
    with Store(sys.argv[1]) as st:
        Tune("dropout+l2", trials=6, batch_trials=3, n_splits=3, epochs=3, hidden=(8,),
             batch_size=64).run(load_data("builtin:iris"), st)
    """
)


def test_kill_9_then_the_same_run_resumes_and_leaves_no_trial_running(
    iris: object, tmp_path: Path
) -> None:
    db = tmp_path / "tune.db"
    done = subprocess.run([sys.executable, "-c", KILLER, str(db)], capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    with Store(db) as st:
        (info,) = st.list_studies()
        stored = len(st.load_members(info.name, with_curves=False, with_details=False))
        killed = optuna.load_study(study_name=info.name, storage=journal_storage(st))
        states = [t.state for t in killed.trials]
    assert stored == 3 * 3 + 4 and states.count(optuna.trial.TrialState.RUNNING) == 3
    runner = Tune("dropout+l2", trials=6, batch_trials=3, **SMALL)
    with Store(db) as st:
        result = runner.run(iris, st)  # type: ignore[arg-type]
        search = optuna.load_study(study_name=info.name, storage=journal_storage(st))
    by_state = {s: [t for t in search.trials if t.state == s] for s in optuna.trial.TrialState}
    assert not by_state[optuna.trial.TrialState.RUNNING]
    failed = by_state[optuna.trial.TrialState.FAIL]
    assert len(failed) == 3  # the killed round, asked again with the same parameters
    rerun = [t for t in search.trials if "rerun_of" in t.user_attrs]
    assert sorted(t.user_attrs["rerun_of"] for t in rerun) == sorted(t.number for t in failed)
    assert [t.params for t in rerun] == [t.params for t in failed]
    assert runner.reused_ == 4 and runner.trained_ == 3 * 3 - 4
    assert result.count("complete") == 6 and len(result.trials) == 9


def test_median_pruner_stops_the_worse_half_after_warmup() -> None:
    history = [np.linspace(1.0, 0.5, 10)] * 5
    pruner = MedianPruner([0, 0, 1, 1], history, warmup=3)
    good = {"val_loss": [0.9, 0.7, 0.5]}
    bad = {"val_loss": [1.2, 1.1, 1.0]}
    assert pruner([0, 1, 2, 3], [{"val_loss": [1.0]}] * 4) is None  # warm-up
    assert pruner([0, 1, 2, 3], [good, good, bad, bad]) == [False, False, True, True]
    assert pruner.pruned == {1: 3}
    few = MedianPruner([0, 1], history[:4], warmup=1)  # too few finished trials to judge
    assert few([0, 1], [good, bad]) is None
    assert running_curve([[1.0, 0.4, 0.6], [0.8]]).tolist() == pytest.approx([0.9, 0.6, 0.6])


def test_pruning_frees_members_early_and_prunes_only_with_validation(iris: object) -> None:
    runner = Tune("dropout+l2", trials=12, batch_trials=6, n_splits=3, epochs=30, hidden=(8,),
                  batch_size=64, patience=30)  # fmt: skip
    with Store("sqlite://") as st:
        result = runner.run(iris, st)  # type: ignore[arg-type]
        (info,) = st.list_studies()
        members = st.load_members(info.name, with_curves=False, with_details=False)
    pruned = [t for t in result.trials if t.state == "pruned"]
    assert pruned and all(t.pruned_epoch is not None for t in pruned)
    for t in pruned:  # every split of a pruned trial stopped at the pruning epoch
        assert {m.epochs_run for m in members if m.strategy == t.strategy} == {t.pruned_epoch}
    assert result.count("complete") + len(pruned) == 12


def test_journal_keeps_the_search_in_the_store_database(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Store(db) as st:
        study = optuna.create_study(study_name="j", storage=journal_storage(st))
        study.tell(study.ask({"x": optuna.distributions.FloatDistribution(0, 1)}), 0.5)
    with Store(db) as st:
        again = optuna.load_study(study_name="j", storage=journal_storage(st))
        assert [t.value for t in again.trials] == [0.5]
    assert os.path.getsize(db) > 0 and not list(tmp_path.glob("*.log"))


@pytest.mark.parametrize("sampler", ["random", "grid", "qmc", "cmaes"])
def test_every_sampler_runs_rounds_within_the_ranges(iris: object, sampler: str) -> None:
    runner = Tune("dropout+l2", ranges="dropout=0:0.5,l2=1e-5:1e-3", trials=4, batch_trials=2,
                  sampler=sampler, pruner="none", n_splits=2, epochs=2, hidden=(4,),
                  batch_size=64)  # fmt: skip
    with Store("sqlite://") as st:
        result = runner.run(iris, st)  # type: ignore[arg-type]
    assert result.count("complete") == 4 and result.sampler == sampler
    for t in result.trials:
        assert 0 <= t.params["dropout"] <= 0.5 and 1e-5 <= t.params["l2"] <= 1e-3


def test_replace_starts_the_search_over_and_the_same_settings_resume(
    iris: object, tmp_path: Path
) -> None:
    options = {"trials": 2, "batch_trials": 2, "pruner": "none", "n_splits": 2, "epochs": 2,
               "hidden": (4,), "batch_size": 64, "name": "r"}  # fmt: skip
    with Store(tmp_path / "r.db") as st:
        Tune("l2", **options).run(iris, st)  # type: ignore[arg-type]
        same = Tune("l2", **options)
        assert len(same.run(iris, st, on_config_change="replace").trials) == 2  # type: ignore[arg-type]
        assert same.trained_ == 0
        other = Tune("l2", ranges="l2=1e-5:1e-4", **options)
        result = other.run(iris, st, on_config_change="replace")  # type: ignore[arg-type]
        assert len(st.load_members("r", with_curves=False, with_details=False)) == 2 * 2
    assert len(result.trials) == 2 and other.trained_ == 2 * 2
    assert all(1e-5 <= t.params["l2"] <= 1e-4 for t in result.trials)
