"""Strength schedules and per-layer strengths: grammar, canonical text, maths, bad input."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest

from reglab.engine import MemberSpec, TrainConfig, train_members
from reglab.engine.spec import Architecture, Strategy
from reglab.engine.strengths import in_effect, values_in_effect
from reglab.errors import ConfigError
from reglab.study.strategies import describe, parse_strategy, parts, strategy_to_text
from reglab.techniques.schedule import Schedule, adaptive_steps

# --------------------------------------------------------------------------- grammar

ROUND_TRIP = [
    # (typed, canonical name, strategy_to_text, schedules)
    ("l2=0.0001@warmup:10", "l2=1e-4@warmup:10", "l2=1e-4@warmup:10", (("l2", "warmup:10"),)),
    ("L2=1e-4@Cosine", "l2=1e-4@cosine", "l2=1e-4@cosine", (("l2", "cosine"),)),
    ("dropout@step:5:0.50", "dropout@step:5:0.5", "dropout=0.3@step:5:0.5",
     (("dropout", "step:5:0.5"),)),
    ("l2=1e-3/1e-4/0+penalty-layers=all", "l2=1e-3/1e-4/0+penalty-layers=all",
     "l2=1e-3/1e-4/0+penalty-layers=all", ()),
    ("l2=1e-3/1e-4@warmup:10+dropout=0.1/0.5", "dropout=0.1/0.5+l2=1e-3/1e-4@warmup:10",
     "dropout=0.1/0.5+l2=1e-3/1e-4@warmup:10", (("l2", "warmup:10"),)),
    ("maxnorm=3/4/5@warmup:5", "maxnorm=3/4/5@warmup:5", "maxnorm=3/4/5@warmup:5",
     (("maxnorm", "warmup:5"),)),
    ("dropconnect=0.1/0.3", "dropconnect=0.1/0.3", "dropconnect=0.1/0.3", ()),
    ("elasticnet=1e-3:0.5@cosine", "elasticnet=1e-3:0.5@cosine",
     "l1=5e-4@cosine+l2=2.5e-4@cosine", (("l1", "cosine"), ("l2", "cosine"))),
    ("auto-dropout", "auto-dropout", "dropout=0.1@adaptive:0.05:0.5",
     (("dropout", "adaptive:0.05:0.5"),)),
    ("dropout=0.2@adaptive:0.1:0.4", "dropout=0.2@adaptive:0.1:0.4",
     "dropout=0.2@adaptive:0.1:0.4", (("dropout", "adaptive:0.1:0.4"),)),
    ("weight-decay=1e-2@cosine+input-dropout=0.1@warmup:3",
     "input-dropout=0.1@warmup:3+weight-decay=0.01@cosine",
     "input-dropout=0.1@warmup:3+weight-decay=0.01@cosine",
     (("input-dropout", "warmup:3"), ("weight-decay", "cosine"))),
    ("activity-l2=1e-4@step:2:0.1", "activity-l2=1e-4@step:2:0.1",
     "activity-l2=1e-4@step:2:0.1", (("activity-l2", "step:2:0.1"),)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("typed", "name", "text", "schedules"), ROUND_TRIP, ids=[r[1] for r in ROUND_TRIP]
)
def test_round_trip(typed: str, name: str, text: str, schedules: tuple) -> None:
    s = parse_strategy(typed)
    assert s.name == name
    assert s.schedules == schedules
    assert strategy_to_text(s) == text
    again = parse_strategy(text)
    assert dataclasses.replace(again, name="") == dataclasses.replace(s, name="")
    assert Strategy.from_dict(s.to_dict()) == s


def test_constant_strategies_keep_their_keys_and_text() -> None:
    s = parse_strategy("dropout=0.3+l2=1e-4")
    assert "schedules" not in s.to_dict()
    assert strategy_to_text(s) == "dropout=0.3+l2=1e-4"
    scheduled = parse_strategy("dropout=0.3+l2=1e-4@warmup:5")
    assert scheduled.to_dict()["schedules"] == [["l2", "warmup:5"]]
    assert scheduled.to_dict() != s.to_dict()


def test_parts_keep_each_terms_schedule() -> None:
    assert parts("dropout=0.3@cosine+l2=1e-4@warmup:5") == (
        "dropout=0.3@cosine",
        "l2=1e-4@warmup:5",
    )


def test_describe_names_the_schedule() -> None:
    assert describe(parse_strategy("l2=1e-4@warmup:5")) == "L2 1e-4 @warmup:5"


BAD = [
    ("warmup-zero", "l2=1e-4@warmup:0",
     "Strategy 'l2=1e-4@warmup:0': l2=1e-4: `@warmup` must be warmup:N (N ≥ 1 epochs); "
     "got 'warmup:0'."),
    ("cosine-argument", "l2=1e-4@cosine:3",
     "Strategy 'l2=1e-4@cosine:3': l2=1e-4: `@cosine` must be cosine (no arguments); "
     "got 'cosine:3'."),
    ("step-one-argument", "l2=1e-4@step:5",
     "Strategy 'l2=1e-4@step:5': l2=1e-4: `@step` must be step:N:F (every N ≥ 1 epochs, "
     "multiply by F > 0); got 'step:5'."),
    ("unknown-kind", "dropout=0.3@linear",
     "Strategy 'dropout=0.3@linear': dropout=0.3: `@` must be followed by a schedule: "),
    ("rate-growing", "dropout=0.3@step:2:2",
     "Strategy 'dropout=0.3@step:2:2': `dropout@step` must have a factor F ≤ 1 for a value "
     "bounded by 1; got 2."),
    ("switch", "batchnorm@cosine",
     "Strategy 'batchnorm@cosine': `batchnorm` must be constant (its strength cannot follow "
     "a schedule); got @cosine."),
    ("off", "l2=0@warmup:3",
     "Strategy 'l2=0@warmup:3': `l2@warmup:3` must schedule a strength that is on; got l2 off."),
    ("adaptive-bound", "maxnorm=3@adaptive",
     "Strategy 'maxnorm=3@adaptive': `maxnorm@adaptive` must be a strength that regularizes "
     "more when it grows; maxnorm is a bound (use warmup, cosine or step)."),
    ("adaptive-unstated", "l2=1e-4@adaptive",
     "Strategy 'l2=1e-4@adaptive': `l2@adaptive` must state STEP:CAP for a strength that is "
     "not a rate (such as @adaptive:1e-4:1e-3); got 'adaptive'."),
    ("adaptive-cap", "dropout=0.2@adaptive:0.1:1",
     "Strategy 'dropout=0.2@adaptive:0.1:1': `dropout@adaptive` must have CAP < 1; got 1."),
    ("not-a-technique", "lr=1e-3@cosine",
     "Strategy 'lr=1e-3@cosine': `@` must be after a technique's term (such as "
     "l2=1e-4@warmup:10); got 'lr=1e-3'."),
    ("per-layer-bad-number", "l2=1e-3/x",
     "Strategy 'l2=1e-3/x': `l2` must be a number such as 1e-4; got 'x'."),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_schedules_are_refused_in_one_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_strategy(text)
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(expected)


COUNTS = [
    # (strategy, hidden, message)
    (Strategy(l2=(1e-3, 1e-4, 0.0)), (8, 6),
     "`l2` must have one value per penalized layer (2); got 3 values."),
    (Strategy(l2=(1e-3, 1e-4), penalty_layers="all"), (8, 6),
     "`l2` must have one value per penalized layer (3); got 2 values."),
    (Strategy(max_norm=(3.0, 4.0)), (8, 6),
     "`max_norm` must have one value per Dense layer (the output layer last) (3); got 2 values."),
    (Strategy(drop_connect=(0.1, 0.2, 0.3)), (8, 6),
     "`drop_connect` must have one value per hidden layer (2); got 3 values."),
]  # fmt: skip


@pytest.mark.parametrize(("strategy", "hidden", "expected"), COUNTS, ids=["l2", "all", "mn", "dc"])
def test_per_layer_counts_must_match_the_layers(
    strategy: Strategy, hidden: tuple[int, ...], expected: str
) -> None:
    x = np.zeros((20, 3), dtype=np.float32)
    y = np.arange(20) % 2
    idx = np.arange(20)
    spec = MemberSpec(
        Architecture(3, 2, hidden=hidden), strategy, TrainConfig(epochs=1), idx, idx, idx
    )
    with pytest.raises(ConfigError, match=re.escape(expected)) as err:
        train_members([spec], {0: (x, y)}, device="cpu")
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- maths

FORMULAS = [
    # (schedule, epoch, epochs, expected factor)
    ("warmup:4", 1, 10, 1 / 4),
    ("warmup:4", 3, 10, 3 / 4),
    ("warmup:4", 4, 10, 1.0),
    ("warmup:4", 9, 10, 1.0),
    ("cosine", 1, 10, 1.0),
    ("cosine", 3, 10, 0.5 * (1 + math.cos(math.pi * 2 / 10))),
    ("cosine", 10, 10, 0.5 * (1 + math.cos(math.pi * 9 / 10))),
    ("step:3:0.5", 1, 10, 1.0),
    ("step:3:0.5", 3, 10, 1.0),
    ("step:3:0.5", 4, 10, 0.5),
    ("step:3:0.5", 10, 10, 0.125),
    ("step:1:2", 3, 10, 4.0),
]


@pytest.mark.parametrize(("text", "epoch", "epochs", "factor"), FORMULAS)
def test_schedule_factors_follow_the_formulas(
    text: str, epoch: int, epochs: int, factor: float
) -> None:
    s = Schedule.parse(text)
    assert s.factor(epoch, epochs) == pytest.approx(factor, rel=1e-15)
    assert s.value(2e-3, epoch, epochs) == pytest.approx(2e-3 * factor, rel=1e-15)
    assert s.value(3.0, epoch, epochs, inverse=True) == pytest.approx(3.0 / factor, rel=1e-15)
    assert Schedule.parse(s.text()) == s


def test_adaptive_rule_counts_the_epochs_whose_gap_grew() -> None:
    train = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5]
    val = [1.0, 1.0, 0.85, 0.9, 0.95, float("nan")]  # gaps 0, .1, .05, .2, .35, nan
    curves = {"train_loss": train, "val_loss": val}
    assert [adaptive_steps(curves, t) for t in range(1, 8)] == [0, 0, 1, 1, 2, 3, 3]
    s = Schedule.parse("adaptive:0.1:0.45")
    assert [s.value(0.2, t, 10, curves) for t in range(1, 8)] == pytest.approx(
        [0.2, 0.2, 0.3, 0.3, 0.4, 0.45, 0.45]
    )
    assert s.value(0.0, 7, 10, curves) == 0.0  # a layer that is off stays off


def test_in_effect_scales_every_layer_and_only_the_scheduled_term() -> None:
    s = parse_strategy("dropout=0.2/0.4@warmup:4+l2=1e-3+maxnorm=2/4/8@step:2:0.5")
    e = in_effect(s, 3, 10)
    assert e.dropout == pytest.approx((0.15, 0.3))
    assert e.l2 == 1e-3
    assert e.max_norm == pytest.approx((4.0, 8.0, 16.0))
    assert e.schedules == () and e.name == s.name
    assert values_in_effect(s, e) == pytest.approx(
        {
            "strength:dropout[0]": 0.15,
            "strength:dropout[1]": 0.3,
            "strength:maxnorm[0]": 4.0,
            "strength:maxnorm[1]": 8.0,
            "strength:maxnorm[2]": 16.0,
        }
    )
    constant = parse_strategy("dropout=0.2+l2=1e-3")
    assert in_effect(constant, 3, 10) is constant


def test_registry_strength_is_scheduled_through_its_first_parameter() -> None:
    s = parse_strategy("activity-l2=1e-3@warmup:2")
    (config,) = in_effect(s, 1, 10).techniques
    assert config.values["strength"] == pytest.approx(5e-4)


def test_strategy_files_set_schedules_and_per_layer_lists(tmp_path) -> None:
    from reglab.study.strategies import load_strategy_file

    path = tmp_path / "s.yaml"
    path.write_text(
        "- {l2: [1e-3, 1e-4], schedules: {l2: 'warmup:10'}}\n"
        "- {grammar: 'dropout=0.3', schedules: {dropout: cosine}}\n"
        "- {preset: auto-dropout}\n"
    )
    a, b, c = load_strategy_file(path)
    assert (a.name, a.l2, a.schedules) == ("l2=1e-3/1e-4@warmup:10", (1e-3, 1e-4),
                                           (("l2", "warmup:10"),))  # fmt: skip
    assert b.name == "dropout=0.3@cosine"
    assert c.schedules == (("dropout", "adaptive:0.05:0.5"),)
    path.write_text("- {l2: 1e-3, schedules: [warmup]}\n")
    with pytest.raises(ConfigError, match="`schedules` must be a mapping of technique to"):
        load_strategy_file(path)
