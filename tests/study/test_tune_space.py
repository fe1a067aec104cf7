"""The search space of ``reglab tune``: read from the registry, overridden by ranges, cocktail
switches and conditional strengths, and every bad space refused in one message."""

from __future__ import annotations

import math

import optuna
import pytest

from reglab.errors import ConfigError
from reglab.study.strategies import parse_strategy
from reglab.study.tune_result import TrialRow, analyze_tune
from reglab.study.tune_space import parse_space, round_strength
from reglab.techniques import builtins, get


@pytest.mark.parametrize("cls", [c for c in builtins() if c.params], ids=lambda c: c.key)
def test_each_builtin_space_is_its_registry_params(cls: type) -> None:
    space = parse_space(cls.key)
    assert space.techniques == (cls.key,)
    assert [(d.param, d.low, d.high, d.log) for d in space.dims] == [
        (q.name, q.low, q.high, q.scale == "log") for q in cls.params
    ]
    assert {d.source for d in space.dims} == {"registry"}


def test_ranges_override_the_registry_and_order_is_canonical() -> None:
    space = parse_space("l2+dropout", "dropout=0:0.6,l2=1e-6:1e-2")
    assert space.techniques == ("dropout", "l2")
    assert [(d.name, d.low, d.high, d.source) for d in space.dims] == [
        ("dropout", 0.0, 0.6, "--range"),
        ("l2", 1e-6, 1e-2, "--range"),
    ]
    en = parse_space("elasticnet", {"elasticnet.l1_ratio": (0.1, 0.9)})
    assert [(d.name, d.low, d.high) for d in en.dims] == [
        ("elasticnet", get("elasticnet").params[0].low, get("elasticnet").params[0].high),
        ("elasticnet.l1_ratio", 0.1, 0.9),
    ]


BAD = {
    "inverted": ("dropout+l2", "dropout=0.5:0.2", r"`range dropout` must be LO < HI.*inverted"),
    "empty": ("l2", "l2=1e-3:1e-3", r"`range l2` must be LO < HI.*empty"),
    "log-zero": ("l2", "l2=0:1e-2", r"LO > 0 \(l2 is searched on a log scale\)"),
    "rate-one": ("dropout", "dropout=0:1", r"`range dropout` must be bounds within \[0, below 1\]"),
    "not-numbers": ("l2", "l2=a:b", r"`range l2` must be LO:HI with two numbers"),
    "no-equals": ("l2", "l2", r"`range` must be KEY=LO:HI"),
    "not-searched": ("l2", "l1=1e-6:1e-2", r"`range` must be a searched parameter.*'l1'"),
    "unknown": ("dropuot+l2", None, r"`strategy` must be registered.*Did you mean 'dropout'"),
    "values": ("l2=1e-4", None, r"`strategy` must be technique names without values"),
    "twice": ("l2+l2", None, r"`strategy` must be each technique once"),
    "switch-only": ("batchnorm", None, r"techniques with a strength.*'batchnorm'"),
    "blank": ("  ", None, r"`strategy` must be techniques joined by"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_space_is_refused_in_one_message(case: str) -> None:
    strategy, ranges, pattern = BAD[case]
    with pytest.raises(ConfigError, match=pattern):
        parse_space(strategy, ranges)


def test_every_problem_is_reported_together() -> None:
    with pytest.raises(ConfigError) as err:
        parse_space("dropuot+l2", "l2=1e-2:1e-3")
    assert "dropuot" in str(err.value) and "inverted" in str(err.value)


def _cocktail_params(seed: int) -> dict[str, object]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    trial = study.ask()
    strategy, values = parse_space("cocktail").suggest(trial)
    return {**trial.params, "_strategy": strategy, "_values": values}


def test_cocktail_switches_every_technique_and_asks_strengths_only_when_on() -> None:
    space = parse_space("cocktail")
    assert space.switches and set(space.techniques) >= {c.key for c in builtins()}
    seen_on: set[str] = set()
    for seed in range(25):
        params = _cocktail_params(seed)
        strategy = params["_strategy"]
        for d in space.dims:
            on = params.get(f"{d.technique}:on") is True
            assert (d.name in params) == on, (seed, d.name)  # a strength only when switched on
            if on:
                seen_on.add(d.technique)
        # techniques that set one field exclude each other: the earlier one wins
        if params.get("elasticnet:on"):
            assert "l1:on" not in params and "l2:on" not in params
        if params.get("dropout:on"):
            assert "gaussian-dropout:on" not in params
        assert strategy.batch_norm == (params.get("batchnorm:on") is True)
        # the strategy trains exactly the rounded values it reports
        for name, value in params["_values"].items():
            assert value == round_strength(float(params[name]))
    assert {"dropout", "l2", "maxnorm", "weight-decay"} <= seen_on
    # the MLP a tuning study trains has no conv or recurrent layers for these
    mlp = set(space.for_task("binary", "mlp").techniques)
    assert not {"spatial-dropout", "recurrent-dropout", "weight-drop", "lassonet"} & mlp


def test_trial_strategy_text_is_its_rounded_grammar() -> None:
    trial = optuna.trial.FixedTrial({"dropout": 0.312345, "l2": 4.1234e-5})
    strategy, values = parse_space("dropout+l2").suggest(trial)
    assert values == {"dropout": 0.312, "l2": 4.12e-5}
    assert strategy.name == "dropout=0.312+l2=4.12e-5"
    assert (strategy.dropout, strategy.l2) == (0.312, 4.12e-5)


def test_edges_are_measured_on_the_scale_of_the_range() -> None:
    (d,) = parse_space("l2", "l2=1e-6:1e-2").dims
    assert d.at_edge(9e-3) == "high" and d.at_edge(1.2e-6) == "low"
    assert d.at_edge(1e-4) is None and d.at_edge(1e-3) is None
    assert math.isclose(d.high, 1e-2)


def test_an_epoch_parameter_is_searched_as_whole_epochs_within_the_study() -> None:
    space = parse_space("swa").within_epochs(12)
    (dim,) = space.dims
    assert (dim.low, dim.high) == (5.0, 11.0)  # a start after the last epoch would be inert
    assert parse_space("swa").within_epochs(200).dims[0].high == 50.0
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        strategy, values = space.suggest(study.ask())
        assert values["swa"] == int(values["swa"]) and 5 <= values["swa"] <= 11
        assert strategy.techniques[0].values["start"] == values["swa"]
    assert space.grid(4)["swa"] == [5.0, 7.0, 9.0, 11.0]


def test_scheduled_techniques_search_their_strength_and_schedule() -> None:
    space = parse_space("dropout@constant|cosine|warmup:5+l2@warmup:3")
    assert [d.name for d in space.dims] == ["dropout", "l2"]
    assert space.schedules == (
        ("dropout", ("constant", "cosine", "warmup:5")),
        ("l2", ("warmup:3",)),
    )
    assert space.text == "dropout@constant|cosine|warmup:5+l2@warmup:3"
    assert space.grid(2)["dropout@"] == ["constant", "cosine", "warmup:5"]
    for choice, name in (
        ("cosine", "dropout=0.3@cosine+l2=1e-4@warmup:3"),
        ("constant", "dropout=0.3+l2=1e-4@warmup:3"),
    ):
        trial = optuna.trial.FixedTrial({"dropout": 0.3, "l2": 1e-4, "dropout@": choice})
        strategy, values = space.suggest(trial)
        assert strategy.name == name
        assert values == {"dropout": 0.3, "l2": 1e-4}
        assert parse_strategy(name).schedules == strategy.schedules


def test_a_bad_schedule_in_a_search_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^tune: `strategy` 'l2@warmup:0': `@warmup` must be "):
        parse_space("dropout+l2@warmup:0")
    with pytest.raises(ConfigError, match=r"`strategy` must be schedules of strengths that may "):
        parse_space("batchnorm@cosine+dropout")


def _trials(best: dict[str, float], n: int) -> list[TrialRow]:
    rows = [TrialRow(0, "complete", "best", best, 0.9, (0.88, 0.9, 0.92))]
    for i in range(1, n):  # clearly worse, so no tie hides the warning
        rows.append(TrialRow(i, "complete", f"t{i}", {"dropout": 0.5, "l2": 1e-3}, 0.5,
                             (0.49, 0.5, 0.51)))  # fmt: skip
    return rows


def test_a_best_near_off_in_every_strength_is_said_to_favour_no_regularization() -> None:
    space = parse_space("dropout+l2", "dropout=0.05:0.7,l2=1e-6:1e-2")
    near_off = {"dropout": 0.0962, "l2": 2.23e-6}  # 7% and 9% of the ranges, from off
    result = analyze_tune("s", space, _trials(near_off, 8), metric="accuracy", n_train=80,
                          n_test=40, importances={"dropout": 0.49, "l2": 0.51})  # fmt: skip
    (weak,) = [w for w in result.warnings if "weakest tenth" in w]
    assert "dropout 0.0962, l2 2.23e-6" in weak and '--strategies "none,best"' in weak
    assert "not shown with 8 complete trials" in " ".join(result.lines())
    one_strong = analyze_tune("s", space, _trials({"dropout": 0.4, "l2": 2.23e-6}, 30),
                              metric="accuracy", n_train=80, n_test=40,
                              importances={"dropout": 0.6, "l2": 0.4})  # fmt: skip
    assert not [w for w in one_strong.warnings if "weakest tenth" in w]
    assert "Parameter importances (Optuna): dropout 0.60, l2 0.40." in one_strong.lines()
