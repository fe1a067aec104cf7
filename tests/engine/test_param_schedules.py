"""Schedules on any numeric parameter of a registry technique (``KEY=…@PARAM=SCHEDULE``): the
values in effect follow the formulas, the stored curves name each scheduled parameter,
members stay bit-identical alone, stacked and chunked, a schedule that keeps its value trains
as the constant strategy, and bad clauses are refused in one line (exit 2 from the CLI)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reglab.cli.main import app
from reglab.engine import MemberSpec, TrainConfig, train_members
from reglab.engine.spec import Architecture
from reglab.engine.strengths import in_effect, values_in_effect
from reglab.errors import ConfigError
from reglab.study.strategies import parse_strategy, strategy_to_text
from reglab.techniques import get

from .test_independence import _assert_identical, _check, _data, _indices


def _members(texts: list[str], epochs: int = 6) -> tuple[list[MemberSpec], dict]:
    data = _data("cancer")
    x, y = data[0]
    specs = [
        MemberSpec(
            Architecture(x.shape[1], 1, hidden=(16, 8), task="binary"),
            parse_strategy(text),
            TrainConfig(epochs=epochs, patience=3, batch_size=32),
            *_indices(len(y), 300, 90 + 10 * (i % 2), 60, seed=i % 2),
            seed=i,
            split_id=i % 2,
        )
        for i, text in enumerate(texts)
    ]
    return specs, data


@pytest.mark.parametrize(
    ("text", "curve", "formula"),
    [
        ("group-l1=0.5:1e-3@within=warmup:4", "strength:group-l1.within",
         lambda t: 1e-3 * min(1.0, t / 4)),
        ("group-l1=0.5:1e-3@cosine@within=step:2:0.5", "strength:group-l1.within",
         lambda t: 1e-3 * 0.5 ** ((t - 1) // 2)),
        ("group-l1=0.5:1e-3@cosine@within=step:2:0.5", "strength:group-l1",
         lambda t: 0.5 * 0.5 * (1 + math.cos(math.pi * (t - 1) / 10))),
        ("lassonet=30:10@hierarchy=warmup:5", "strength:lassonet.hierarchy",  # a bound: M/f
         lambda t: 10.0 / min(1.0, t / 5)),
    ],
    ids=["warmup", "step-second", "cosine-first", "inverse-bound"],
)  # fmt: skip
def test_the_values_in_effect_follow_the_formulas(text: str, curve: str, formula: object) -> None:
    strategy = parse_strategy(text)
    for t in range(1, 11):
        values = values_in_effect(strategy, in_effect(strategy, t, 10))
        assert values[curve] == pytest.approx(formula(t), rel=1e-12), (t, values)  # type: ignore[operator]


def test_the_text_round_trips_and_names_each_parameter_once() -> None:
    s = parse_strategy("GROUP-L1=0.5:1e-3@Within=cosine@strength=warmup:3")
    assert s.name == "group-l1=0.5:1e-3@warmup:3@within=cosine"
    assert s.schedules == (("group-l1", "warmup:3"), ("group-l1.within", "cosine"))
    assert parse_strategy(strategy_to_text(s)).schedules == s.schedules
    assert get("group-l1").scheduled_params() == ("strength", "within")
    assert get("pgd").scheduled_params() == ("eps",)  # its steps are a count


def test_the_stored_curves_follow_the_schedule_in_the_engine() -> None:
    specs, data = _members(["group-l1=0.5:1e-3@within=warmup:3"])
    spec = dataclasses.replace(specs[0], train=TrainConfig(epochs=5, patience=None))
    (result,) = train_members([spec], data, device="cpu")
    assert result.curves["strength:group-l1.within"] == pytest.approx(
        [1e-3 * min(1, t / 3) for t in range(1, 6)]
    )
    assert "strength:group-l1" not in result.curves  # the strength itself is constant


@pytest.mark.usefixtures("small_budgets")
def test_members_are_bit_identical_alone_chunked_and_stacked() -> None:
    texts = [
        "none",
        "group-l1=0.5:1e-3@within=warmup:3",
        "group-l1=0.5:1e-3@cosine@within=step:2:0.5+dropout=0.2",
        "group-l1=0.5:2e-3",
        "activity-l2=1e-3@cosine+l2=1e-4@warmup:2",
    ]
    specs, data = _members(texts)
    _check(specs, data, budget_members=2)


def test_a_schedule_that_keeps_the_parameter_trains_as_the_constant() -> None:
    specs, data = _members(["group-l1=0.5:1e-3", "group-l1=0.5:1e-3@within=step:50:0.5",
                            "group-l1=0.5:1e-3@within=warmup:3"])  # fmt: skip
    first = specs[0]
    specs = [dataclasses.replace(s, seed=3, split_id=0, train_idx=first.train_idx,
                                 val_idx=first.val_idx, test_idx=first.test_idx)
             for s in specs]  # fmt: skip
    constant, kept, warm = train_members(specs, data, device="cpu")
    assert kept.curves.pop("strength:group-l1.within") == [1e-3] * kept.epochs_run
    _assert_identical(dataclasses.replace(constant, key=kept.key), kept, "constant schedule")
    assert any(  # a schedule that changes the value changes the member
        (warm.weights[k] != constant.weights[k]).any() for k in constant.weights
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("group-l1=0.5:1e-3@foo=cosine",
         r"`group-l1@PARAM=…` must name one of its parameters \(strength, within\); got 'foo'"),
        ("group-l1=0.5@within=cosine",
         r"`group-l1@within=cosine` must schedule a strength that is on; got within at 0"),
        ("pgd=0.1:3@steps=cosine",
         r"`pgd` parameter `steps` must be constant \(a count or an epoch; schedulable: eps\)"),
        ("group-l1=0.5:1e-3@within=cosine@within=warmup:2",
         r"`group-l1.within` must have one schedule; got two"),
        ("lassonet=30:10@hierarchy=adaptive:1:2",
         r"`lassonet@hierarchy=adaptive` must be a strength that regularizes more when it grows"),
        ("group-l1=0.5:1e-3@within=adaptive", r"must state STEP:CAP for a strength that is not"),
        ("elasticnet=1e-3:0.5@l1_ratio=cosine", r"`elasticnet@PARAM=…` must be a bare schedule"),
        ("lookahead@alpha=cosine", r"`lookahead` must be constant .*; got @alpha=cosine"),
    ],
    ids=["unknown", "zero", "count", "twice", "adaptive-bound", "bare-adaptive", "builtin",
         "trajectory"],
)  # fmt: skip
def test_bad_clauses_are_refused_in_one_line(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        parse_strategy(text)
    assert "\n" not in str(err.value)


def test_the_cli_refuses_a_bad_clause_with_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    from tests.cli.cli_checks import assert_one_line_error

    store = tmp_path / "runs.db"
    result = CliRunner().invoke(app, [
        "bench", "builtin:iris", "--strategies", "none,group-l1=0.5:1e-3@foo=cosine",
        "--store", str(store), "--epochs", "2",
    ])  # fmt: skip
    assert_one_line_error(result, r"`group-l1@PARAM=…` must name one of its parameters")
    assert not store.exists()


def test_a_strategy_file_names_a_parameters_schedule_as_key_dot_param(tmp_path: Path) -> None:
    from reglab.study.strategies import load_strategy_file

    path = tmp_path / "strategies.yaml"
    path.write_text(
        "- name: gl\n  grammar: group-l1=0.5:1e-3\n"
        "  schedules: {GROUP_L1.Within: 'warmup:5', group-l1: cosine}\n"
    )
    (s,) = load_strategy_file(path)
    assert s.schedules == (("group-l1", "cosine"), ("group-l1.within", "warmup:5"))
    assert s == dataclasses.replace(parse_strategy("group-l1=0.5:1e-3@cosine@within=warmup:5"),
                                    name="gl")  # fmt: skip
