"""The start point and the choice rule of nested searches (``reglab.study.tune_choose``): the
given strengths are every search's first trial, ``1se`` retrains the most regularized trial
within one standard error of the best, and a study that changes only the rule reuses the
searches of the one before it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from typer.testing import CliRunner

from reglab.api import load_data
from reglab.cli.main import app
from reglab.errors import ConfigError
from reglab.store import Store
from reglab.store.journal import journal_storage
from reglab.study.run import Study
from reglab.study.strategies import resolve_strategies
from reglab.study.tune_choose import (
    choose_trial,
    one_se_band,
    regularization_index,
    start_params,
)
from reglab.study.tune_result import TrialRow
from reglab.study.tune_space import parse_space

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


def _iris() -> Any:
    x, y = load_iris(return_X_y=True)
    return load_data(x.astype(np.float32), y)


def _row(number: int, params: dict[str, float], scores: tuple[float, ...],
         state: str = "complete") -> TrialRow:  # fmt: skip
    value = float(np.mean(scores)) if state == "complete" else math.nan
    return TrialRow(number, state, "t", params, value, scores)


# Inner RMSE of l2 trials: the best (trial 1) has fold scores 2.0 ± 0.1 (se = 0.1/√3 ≈ 0.0577),
# so the band reaches 2.0577: trials 2 (2.05, l2 1e-3) and 3 (2.03, l2 3e-4) are in it, trial 4
# (2.06, l2 1e-2) just outside, trial 5 (l2 1e-1, pruned) is never chosen.
L2_RMSE = [
    _row(0, {"l2": 1e-5}, (2.05, 2.10, 2.15)),
    _row(1, {"l2": 1e-4}, (1.90, 2.00, 2.10)),
    _row(2, {"l2": 1e-3}, (2.00, 2.05, 2.10)),
    _row(3, {"l2": 3e-4}, (2.00, 2.03, 2.06)),
    _row(4, {"l2": 1e-2}, (2.01, 2.06, 2.11)),
    _row(5, {"l2": 1e-2}, (), state="pruned"),
]


@pytest.mark.parametrize(
    ("rule", "metric", "rows", "want"),
    [
        ("best", "rmse", L2_RMSE, 1),
        ("1se", "rmse", L2_RMSE, 2),
        # accuracy: higher is better, the band reaches down; the same order of strengths
        ("best", "accuracy", [_row(0, {"l2": 1e-5}, (0.80, 0.90, 1.00)),
                              _row(1, {"l2": 1e-3}, (0.84, 0.85, 0.86)),
                              _row(2, {"l2": 1e-2}, (0.83, 0.84, 0.85))], 0),
        ("1se", "accuracy", [_row(0, {"l2": 1e-5}, (0.80, 0.90, 1.00)),
                             _row(1, {"l2": 1e-3}, (0.84, 0.85, 0.86)),
                             _row(2, {"l2": 1e-2}, (0.80, 0.81, 0.82))], 1),
    ],
    ids=["best-rmse", "1se-rmse", "best-accuracy", "1se-accuracy"],
)  # fmt: skip
def test_the_rule_picks_the_most_regularized_trial_within_one_se(
    rule: str, metric: str, rows: list[TrialRow], want: int
) -> None:
    picked = choose_trial(rows, parse_space("l2"), metric=metric, rule=rule)
    assert picked is not None and picked.number == want


def test_one_se_band_is_the_best_mean_plus_its_standard_error() -> None:
    best = L2_RMSE[1]
    se = float(np.std(best.scores, ddof=1)) / math.sqrt(3)
    assert one_se_band(best, higher_is_better=False) == pytest.approx(2.0 + se)
    assert one_se_band(best, higher_is_better=True) == pytest.approx(2.0 - se)
    alone = _row(9, {"l2": 1e-3}, (0.7,))
    assert one_se_band(alone, higher_is_better=True) == 0.7  # no spread from one fold


def test_no_complete_trial_chooses_nothing_and_pruned_trials_are_never_chosen() -> None:
    space = parse_space("l2")
    assert choose_trial([L2_RMSE[5]], space, metric="rmse", rule="1se") is None
    assert choose_trial(L2_RMSE, space, metric="rmse", rule="1se").number != 5  # type: ignore[union-attr]
    with pytest.raises(ValueError, match=r"`rule` must be one of best, 1se; got 'mean'"):
        choose_trial(L2_RMSE, space, metric="rmse", rule="mean")


@pytest.mark.parametrize(
    ("strategy", "ranges", "weaker", "stronger"),
    [
        ("l2", None, {"l2": 1e-5}, {"l2": 1e-3}),
        ("dropout", None, {"dropout": 0.1}, {"dropout": 0.5}),
        ("maxnorm", None, {"maxnorm": 8.0}, {"maxnorm": 1.0}),  # a smaller bound damps more
        ("dropout+weight-decay", None, {"dropout": 0.15, "weight-decay": 1e-3},
         {"dropout": 0.15, "weight-decay": 2e-2}),
        ("elasticnet", None, {"elasticnet": 1e-5, "elasticnet.l1_ratio": 0.9},
         {"elasticnet": 1e-3, "elasticnet.l1_ratio": 0.1}),  # the ratio has no direction
    ],
    ids=["l2", "dropout", "maxnorm-inverse", "two-strengths", "ratio-ignored"],
)  # fmt: skip
def test_regularization_index_orders_strengths(
    strategy: str, ranges: Any, weaker: dict[str, float], stronger: dict[str, float]
) -> None:
    space = parse_space(strategy, ranges)
    low, high = regularization_index(weaker, space), regularization_index(stronger, space)
    assert 0.0 <= low < high <= 1.0


def test_regularization_index_is_the_mean_position_on_each_scale() -> None:
    space = parse_space("dropout+weight-decay", "dropout=0:0.6,weight-decay=1e-5:1e-1")
    got = regularization_index({"dropout": 0.15, "weight-decay": 2e-2}, space)
    want = (0.25 + math.log(2e-2 / 1e-5) / math.log(1e-1 / 1e-5)) / 2
    assert got == pytest.approx(want)


@pytest.mark.parametrize(
    ("strategy", "ranges", "want"),
    [
        ("weight-decay=2e-2", None, {"weight-decay": 2e-2}),
        ("dropout=0.15+weight-decay=2e-2", None, {"dropout": 0.15, "weight-decay": 2e-2}),
        ("dropout", None, {"dropout": 0.3}),  # a bare technique starts at its preset
        ("l2=1e-1", None, None),  # outside the searched range: no start point
        ("dropout=0.5", "dropout=0.05:0.4", None),
    ],
    ids=["one", "two", "preset", "outside-range", "narrowed-away"],
)  # fmt: skip
def test_start_params_are_the_given_strengths(
    strategy: str, ranges: Any, want: dict[str, float] | None
) -> None:
    (s,) = resolve_strategies(strategy)
    text = "+".join(c.key for c in s.configs())
    assert start_params(s, parse_space(text, ranges)) == want


def _first_trials(store: Store, name: str) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    import optuna

    out = {}
    storage = journal_storage(store)
    for summary in optuna.get_all_study_summaries(storage):
        if summary.study_name.startswith(f"{name}/tune/"):
            first = optuna.load_study(study_name=summary.study_name, storage=storage).trials[0]
            out[summary.study_name] = (first.params, first.user_attrs)
    return out


def test_every_search_starts_at_the_given_strengths() -> None:
    with Store("sqlite://") as st:
        result = Study("dropout=0.15+l2=1e-4,l2=3e-3", **SMALL).run(_iris(), st)
        first = _first_trials(st, result.name)
    assert len(first) == 2 * 3
    for name, (params, attrs) in first.items():
        want = {"dropout": 0.15, "l2": 1e-4} if "/dropout+l2/" in name else {"l2": 3e-3}
        assert params == want and attrs.get("start") is True


def test_1se_reuses_the_searches_of_best_and_retrains_its_own_choice(tmp_path: Any) -> None:
    db = tmp_path / "n.db"
    with Store(db) as st:
        best = Study("dropout", **SMALL).run(_iris(), st)
    one_se = Study("dropout", **SMALL, tune_choose="1se")
    with Store(db) as st:
        result = one_se.run(_iris(), st)
        meta = st.get_study(result.name).metadata["tuning"]
        import optuna

        from reglab.study.tune import trial_rows

        storage = journal_storage(st)
        searches = {
            split: optuna.load_study(study_name=f"{best.name}/tune/dropout/{split}",
                                     storage=storage)
            for split in range(3)
        }  # fmt: skip
        rows = {split: trial_rows(search) for split, search in searches.items()}
    assert result.name != best.name and meta["choose"] == "1se"
    assert one_se.trained_ == 3  # its 3 outer members; no inner member trains again
    space = parse_space("dropout")
    for split, chosen in meta["families"]["dropout"]["splits"].items():
        want = choose_trial(rows[int(split)], space, metric="accuracy", rule="1se")
        top = choose_trial(rows[int(split)], space, metric="accuracy", rule="best")
        assert want is not None and top is not None
        assert chosen["trial"] == want.number and chosen["values"] == dict(want.params)
        assert regularization_index(want.params, space) >= regularization_index(top.params, space)


def test_bad_tune_choose_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"Study: `tune_choose` must be one of 'best', '1se' "
                       r"\(--tune-choose\); got '1-se'\. Did you mean '1se'\?"):  # fmt: skip
        Study("dropout", **SMALL, tune_choose="1-se").plan(_iris())


def test_cli_refuses_bad_tune_choose_and_writes_nothing(tmp_path: Any) -> None:
    store = tmp_path / "s.db"
    args = ["bench", "builtin:iris", "--strategies", "dropout", "--tune", "2",
            "--tune-choose", "median", "--store", str(store), "--no-report"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "`tune_choose` must be one of 'best', '1se'" in lines[0]
    assert not store.exists()
