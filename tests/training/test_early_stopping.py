"""EarlyStopping: Keras's patience rule and Prechelt's criteria on hand-made curves."""

from __future__ import annotations

import io
import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from reglab._config import deserialize, serialize
from reglab.errors import ConfigError
from reglab.training.early_stopping import (
    EarlyStopping,
    generalization_loss,
    training_progress,
)

NAN = math.nan


@dataclass
class Case:
    id: str
    curve: list[float]
    kwargs: dict[str, Any]
    stop: int | None  # epoch (from 1) at which step() first returns True
    best: int  # best_epoch_ at the end
    train: list[float] = field(default_factory=list)


def run(es: EarlyStopping, curve: list[float], train: list[float] | None = None) -> int | None:
    """Feed ``curve`` until the first stop; return that epoch (None if never)."""
    for t, value in enumerate(curve, start=1):
        tl = train[t - 1] if train else None
        if es.step(value, train_loss=tl):
            return t
    return None


CASES = [
    Case("patience-3", [1.0, 0.9, 0.8, 0.85, 0.82, 0.81, 0.9], {"patience": 3}, 6, 3),
    Case("patience-0-first-non-improvement", [1.0, 0.9, 0.95, 0.5], {"patience": 0}, 3, 2),
    Case("steady-improvement-never-stops", [5.0, 4.0, 3.0, 2.0, 1.0], {"patience": 1}, None, 5),
    Case("tie-is-not-improvement", [1.0, 1.0, 1.0], {"patience": 2}, 3, 1),
    Case(
        "min-delta-absolute-small-steps-not-improvements",
        [1.0, 0.97, 0.965, 0.92],
        {"patience": 2, "min_delta": 0.04},
        3,
        1,
    ),
    Case(
        "min-delta-absolute-0.05-each-step-0.3",
        [10.0, 9.7, 9.4, 9.1, 8.8, 8.5],
        {"patience": 1, "min_delta": 0.05},
        None,
        6,
    ),
    Case(
        "min-delta-relative-5pct-of-10",
        [10.0, 9.7, 9.4, 9.1, 8.8, 8.5],
        {"patience": 1, "min_delta": 0.05, "min_delta_mode": "relative"},
        2,
        1,
    ),
    Case(
        "min-delta-relative-patience-2",
        [10.0, 9.7, 9.4, 9.1, 8.8, 8.5],
        {"patience": 2, "min_delta": 0.05, "min_delta_mode": "relative"},
        None,
        5,
    ),
    Case("mode-max", [0.5, 0.6, 0.7, 0.65, 0.68, 0.9], {"patience": 2, "mode": "max"}, 5, 3),
    Case(
        "mode-max-min-delta",
        [0.5, 0.52, 0.54, 0.9],
        {"patience": 2, "mode": "max", "min_delta": 0.05},
        3,
        1,
    ),
    Case(
        "baseline-never-beaten",
        [0.9, 0.8, 0.7, 0.6, 0.55],
        {"patience": 3, "baseline": 0.5},
        3,
        3,
    ),
    Case(
        "baseline-beaten-then-plateau",
        [0.9, 0.6, 0.45, 0.5, 0.5, 0.5, 0.1],
        {"patience": 3, "baseline": 0.5},
        6,
        3,
    ),
    Case(
        "baseline-mode-max",
        [0.6, 0.7, 0.75, 0.79],
        {"patience": 4, "baseline": 0.8, "mode": "max"},
        4,
        4,
    ),
    Case(
        "start-from-epoch-3",
        [5.0, 4.0, 3.0, 3.5, 3.6, 3.7, 3.8],
        {"patience": 2, "start_from_epoch": 3},
        6,
        4,
    ),
    Case(
        "without-start-from-epoch",
        [5.0, 4.0, 3.0, 3.5, 3.6, 3.7, 3.8],
        {"patience": 2},
        5,
        3,
    ),
    Case("nan-is-no-improvement", [1.0, NAN, NAN, 0.1], {"patience": 2}, 3, 1),
    # GL_5: 100·(0.72/0.7 − 1) = 2.86, 100·(0.74/0.7 − 1) = 5.71 > 5.
    Case("GL-5", [1.0, 0.8, 0.7, 0.72, 0.74, 0.6], {"criterion": "GL", "alpha": 5.0}, 5, 3),
    Case("GL-never", [1.0, 0.8, 0.7, 0.72, 0.73, 0.6], {"criterion": "GL", "alpha": 5.0}, None, 6),
    # PQ_0.5 with strips of 3: at t=6 GL=10, P=1000·(1.83/1.74−1)=51.7, ratio 0.19;
    # at t=9 GL=5, P=1000·(1.695/1.68−1)=8.93, ratio 0.56 > 0.5.
    Case(
        "PQ-0.5-strip-3",
        [1.0, 0.9, 0.8, 0.85, 0.86, 0.88, 0.83, 0.83, 0.84, 0.5],
        {"criterion": "PQ", "alpha": 0.5, "strip": 3},
        9,
        3,
        train=[1.0, 0.8, 0.7, 0.65, 0.6, 0.58, 0.57, 0.565, 0.56, 0.555],
    ),
    # GL alone with the same threshold fires at the first rise (t=4, GL=6.25).
    Case(
        "GL-0.5-same-curve",
        [1.0, 0.9, 0.8, 0.85, 0.86, 0.88, 0.83, 0.83, 0.84, 0.5],
        {"criterion": "GL", "alpha": 0.5},
        4,
        3,
    ),
    # UP_2 with strips of 2: strip ends t=2,4,6,8 hold 0.9, 0.7, 0.8 (up), 0.85 (up) → stop at 8.
    Case(
        "UP-2-strip-2",
        [1.0, 0.9, 0.8, 0.7, 0.75, 0.8, 0.78, 0.85, 0.9, 0.95],
        {"criterion": "UP", "strip": 2, "successive": 2},
        8,
        4,
    ),
    # A rise between strip ends that is undone by the next strip end resets the count.
    Case(
        "UP-2-interrupted",
        [1.0, 0.9, 0.8, 0.95, 0.7, 0.9, 0.6, 1.0, 0.9, 1.1],
        {"criterion": "UP", "strip": 2, "successive": 2},
        10,
        7,
    ),
    Case(
        "UP-1-strip-3",
        [1.0, 0.9, 0.8, 0.7, 0.75, 0.81, 0.6],
        {"criterion": "UP", "strip": 3, "successive": 1},
        6,
        4,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_stops_at_the_expected_epoch(case: Case) -> None:
    kwargs = {"mode": "min", **case.kwargs}
    es = EarlyStopping(**kwargs)
    stop = run(es, case.curve, case.train or None)
    assert stop == case.stop
    if stop is None:
        assert es.stopped_epoch_ == 0
    else:
        assert es.stopped_epoch_ == stop
        # keep feeding the rest of the curve: the first stop stays recorded
        for t in range(stop, len(case.curve)):
            es.step(case.curve[t], train_loss=case.train[t] if case.train else None)
        assert es.stopped_epoch_ == stop
    es2 = EarlyStopping(**kwargs)
    run(es2, case.curve[: stop or len(case.curve)], case.train or None)
    assert es2.best_epoch_ == case.best


def test_wait_counts_epochs_since_the_best() -> None:
    es = EarlyStopping(mode="min", patience=5)
    waits = []
    for v in [3.0, 2.0, 2.5, 2.6, 1.0, 1.5]:
        es.step(v)
        waits.append(es.wait_)
    assert waits == [0, 0, 1, 2, 0, 1]
    assert es.best_value == 1.0


# ------------------------------------------------------------------------- direction
def test_auto_without_direction_is_an_error() -> None:
    es = EarlyStopping()  # mode="auto"
    with pytest.raises(ConfigError, match=r"EarlyStopping: `mode` must be 'min' or 'max' when"):
        es.step(1.0)


@pytest.mark.parametrize(
    ("higher_is_better", "curve", "stop"),
    [(False, [1.0, 0.5, 0.6, 0.7], 4), (True, [1.0, 0.5, 0.6, 0.7], 3)],
    ids=["loss-lower-is-better", "score-higher-is-better"],
)
def test_auto_takes_the_direction_from_the_metric(
    higher_is_better: bool, curve: list[float], stop: int
) -> None:
    es = EarlyStopping(monitor="val_metric", patience=2)
    assert es.resolve(higher_is_better) == ("max" if higher_is_better else "min")
    assert run(es, curve) == stop


def test_explicit_mode_wins_over_the_metric_direction() -> None:
    es = EarlyStopping(mode="min")
    assert es.resolve(higher_is_better=True) == "min"


def test_prechelt_criteria_need_errors() -> None:
    with pytest.raises(ConfigError, match=r"`mode` must be 'min' or 'auto' with criterion 'GL'"):
        EarlyStopping(criterion="GL", mode="max")
    es = EarlyStopping(criterion="UP", monitor="val_metric")
    with pytest.raises(ConfigError, match=r"`mode` must be 'min' with criterion 'UP'"):
        es.resolve(higher_is_better=True)


def test_pq_needs_the_training_loss() -> None:
    es = EarlyStopping(criterion="PQ", mode="min")
    with pytest.raises(ConfigError, match=r"`train_loss` must be a float with criterion 'PQ'"):
        es.step(1.0)


# ------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"patience": -1}, r"EarlyStopping: `patience` must be an integer >= 0; got -1\."),
        ({"patience": 2.5}, r"`patience` must be an integer >= 0; got 2\.5\."),
        ({"mode": "minimum"}, r"`mode` must be one of 'auto', 'min', 'max'; got 'minimum'"),
        ({"criterion": "GLL"}, r"`criterion` must be one of .*; got 'GLL'\. Did you mean 'GL'\?"),
        ({"min_delta": -0.1}, r"`min_delta` must be a finite float >= 0; got -0\.1\."),
        ({"min_delta_mode": "rel"}, r"`min_delta_mode` must be one of 'absolute', 'relative'"),
        ({"baseline": "low"}, r"`baseline` must be a float or None; got 'low'\."),
        ({"baseline": math.inf}, r"`baseline` must be a finite float or None; got inf\."),
        ({"start_from_epoch": -2}, r"`start_from_epoch` must be an integer >= 0; got -2\."),
        ({"alpha": 0.0}, r"`alpha` must be a finite float > 0; got 0\.0\."),
        ({"strip": 0}, r"`strip` must be an integer >= 1; got 0\."),
        ({"successive": 0}, r"`successive` must be an integer >= 1; got 0\."),
        ({"monitor": ""}, r"`monitor` must be a non-empty string; got ''\."),
        ({"criterion": "GL", "baseline": 0.5}, r"`baseline` must be None with criterion 'GL'"),
    ],
    ids=lambda v: str(v) if isinstance(v, dict) else "",
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        EarlyStopping(**kwargs)


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError, match=r"`patience`.*`min_delta`"):
        EarlyStopping(patience=-1, min_delta=-1.0)


def test_config_round_trips_through_json() -> None:
    es = EarlyStopping(monitor="val_metric", mode="max", patience=4, min_delta=0.01, baseline=0.7)
    again = deserialize(json.loads(json.dumps(serialize(es))))
    assert isinstance(again, EarlyStopping)
    assert again.get_config() == es.get_config()
    assert "patience=4" in repr(es)


# --------------------------------------------------------------------- best weights
class Scalar(nn.Module):
    """A model whose single weight records the epoch it was set at."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.register_buffer("seen", torch.zeros(1))


def run_with_model(
    es: EarlyStopping, curve: list[float], model: Scalar, train: list[float] | None = None
) -> list[bool]:
    decisions = []
    for t, value in enumerate(curve, start=1):
        with torch.no_grad():
            model.w.fill_(float(t))  # in place: the snapshot must be a copy
            model.seen.fill_(float(t))
        decisions.append(es.step(value, model=model, train_loss=train[t - 1] if train else None))
    return decisions


@pytest.mark.parametrize(
    ("curve", "kwargs", "best"),
    [
        ([3.0, 2.0, 1.0, 1.5, 1.7], {"patience": 10}, 3),
        ([3.0, 2.0, 1.0, 1.5, 1.7, 1.8], {"patience": 2}, 3),
        ([0.1, 0.3, 0.2], {"patience": 10, "mode": "max"}, 2),
        ([1.0, 0.5, 2.0, 0.7], {"patience": 10, "start_from_epoch": 2}, 4),
    ],
    ids=["restore-without-trigger", "restore-after-trigger", "mode-max", "start-from-epoch"],
)
def test_restore_loads_the_best_weights(
    curve: list[float], kwargs: dict[str, Any], best: int
) -> None:
    es = EarlyStopping(mode=kwargs.pop("mode", "min"), **kwargs)
    model = Scalar()
    run_with_model(es, curve, model)
    assert es.best_epoch_ == best
    assert es.restore(model) is True
    assert model.w.item() == best
    assert model.seen.item() == best  # buffers are restored too


def test_restore_without_any_monitored_epoch_keeps_the_weights() -> None:
    es = EarlyStopping(mode="min", start_from_epoch=5)
    model = Scalar()
    run_with_model(es, [1.0, 0.5], model)
    assert es.restore(model) is False
    assert model.w.item() == 2.0


def test_restore_best_false_keeps_no_weights() -> None:
    es = EarlyStopping(mode="min", restore_best=False)
    model = Scalar()
    run_with_model(es, [1.0, 2.0], model)
    assert es.best_weights_ is None
    assert es.restore(model) is False


def test_first_epoch_is_snapshotted_even_when_nan() -> None:
    es = EarlyStopping(mode="min", patience=1)
    model = Scalar()
    assert run_with_model(es, [NAN, NAN], model) == [True, True]
    assert es.restore(model)
    assert model.w.item() == 1.0


# --------------------------------------------------------------------------- resume
RESUME = [
    ("patience", {"patience": 3, "min_delta": 0.01}, None),
    ("baseline", {"patience": 3, "baseline": 0.6}, None),
    ("GL", {"criterion": "GL", "alpha": 8.0}, None),
    ("PQ", {"criterion": "PQ", "alpha": 0.5, "strip": 3}, "train"),
    ("UP", {"criterion": "UP", "strip": 2, "successive": 2}, None),
]


@pytest.mark.parametrize(("name", "kwargs", "train"), RESUME, ids=[r[0] for r in RESUME])
@pytest.mark.parametrize("cut", [1, 4, 7])
def test_resume_from_state_dict_gives_identical_decisions(
    name: str, kwargs: dict[str, Any], train: str | None, cut: int
) -> None:
    t = np.arange(1, 13)
    curve = list(0.4 + 1.0 / t + 0.04 * t + 0.02 * np.sin(3 * t))  # falls, then rises
    tr = list(0.3 + 1.0 / t) if train else None
    full = EarlyStopping(mode="min", **kwargs)
    model = Scalar()
    expected = run_with_model(full, curve, model, tr)
    full.restore(model)

    first = EarlyStopping(mode="min", **kwargs)
    model2 = Scalar()
    decisions = run_with_model(first, curve[:cut], model2, tr[:cut] if tr else None)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    second = EarlyStopping(mode="min", **kwargs)
    second.load_state_dict(state)
    for t in range(cut, len(curve)):
        with torch.no_grad():
            model2.w.fill_(float(t + 1))
            model2.seen.fill_(float(t + 1))
        decisions.append(second.step(curve[t], model=model2, train_loss=tr[t] if tr else None))
    assert decisions == expected
    assert any(expected), "the curve should make every criterion fire"
    for attr in ("best_epoch_", "stopped_epoch_", "wait_", "best_value", "epoch_"):
        assert getattr(second, attr) == getattr(full, attr)
    second.restore(model2)
    assert model2.w.item() == model.w.item()


def test_load_state_dict_rejects_another_config() -> None:
    es = EarlyStopping(mode="min", patience=3)
    es.step(1.0)
    other = EarlyStopping(mode="min", patience=4)
    with pytest.raises(ConfigError, match=r"EarlyStopping.load_state_dict: `state` must be saved"):
        other.load_state_dict(es.state_dict())
    with pytest.raises(ConfigError, match=r"`state` must be a dict from EarlyStopping"):
        other.load_state_dict({"wait_": 0})


def test_reset_forgets_the_run() -> None:
    es = EarlyStopping(mode="min", patience=1)
    run(es, [1.0, 2.0])
    es.reset()
    assert (es.epoch_, es.best_epoch_, es.stopped_epoch_, es.best_value) == (0, 0, 0, math.inf)


# ------------------------------------------------------------- Prechelt, by definition
def prechelt_reference(
    val: np.ndarray, train: np.ndarray, criterion: str, alpha: float, k: int, s: int
) -> int | None:
    """The stop epoch straight from Prechelt (1998), computed on whole arrays."""
    n = len(val)
    e_opt = np.minimum.accumulate(val)
    gl = 100.0 * (val / e_opt - 1.0)
    for t in range(1, n + 1):
        i = t - 1
        if criterion == "GL" and gl[i] > alpha:
            return t
        if t % k:
            continue
        if criterion == "PQ":
            strip = train[t - k : t]
            p = 1000.0 * (strip.sum() / (k * strip.min()) - 1.0)
            if gl[i] > 0 and (p == 0 or gl[i] / p > alpha):
                return t
        if criterion == "UP":
            ends = [u for u in range(t, 0, -k)][: s + 1]  # t, t−k, …, t−s·k
            if len(ends) == s + 1 and all(
                val[a - 1] > val[b - 1] for a, b in itertools.pairwise(ends)
            ):
                return t
    return None


curves = st.lists(st.floats(0.05, 2.0), min_size=2, max_size=30)


@settings(max_examples=60, deadline=None)
@given(
    val=curves,
    criterion=st.sampled_from(["GL", "PQ", "UP"]),
    alpha=st.sampled_from([0.5, 2.0, 5.0]),
    k=st.integers(1, 5),
    s=st.integers(1, 3),
)
def test_prechelt_criteria_match_their_definition(
    val: list[float], criterion: str, alpha: float, k: int, s: int
) -> None:
    train = np.linspace(1.0, 0.2, len(val)) ** 2
    es = EarlyStopping(mode="min", criterion=criterion, alpha=alpha, strip=k, successive=s)
    got = run(es, val, list(train))
    assert got == prechelt_reference(np.array(val), train, criterion, alpha, k, s)


@settings(max_examples=60, deadline=None)
@given(val=curves, patience=st.integers(1, 5))
def test_patience_stops_exactly_patience_epochs_after_the_best(
    val: list[float], patience: int
) -> None:
    es = EarlyStopping(mode="min", patience=patience)
    stop = run(es, val)
    seen = val[: stop or len(val)]
    assert es.best_epoch_ == int(np.argmin(seen)) + 1  # first minimum (strict improvement)
    if stop is not None:
        assert stop - es.best_epoch_ == patience
    else:
        assert len(val) - es.best_epoch_ < patience


def test_prechelt_helpers() -> None:
    assert generalization_loss(1.2, 1.0) == pytest.approx(20.0)
    assert generalization_loss(0.0, 0.0) == 0.0
    assert generalization_loss(0.1, 0.0) == math.inf
    assert training_progress([0.6, 0.55, 0.5]) == pytest.approx(1000 * (1.65 / 1.5 - 1))
