"""Scheduled and per-layer strengths in the engine: members stay bit-identical alone, stacked,
chunked and without neighbours; the stored values in effect are the schedule's formula; a
schedule that never changes its strength trains exactly as the constant strategy."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from reglab.engine import MemberSpec, TrainConfig, train_members
from reglab.engine.spec import Architecture
from reglab.study.strategies import parse_strategy

from .test_independence import _assert_identical, _check, _data, _indices

SCHEDULED = [
    "none",
    "l2=1e-3@warmup:3",
    "dropout=0.2/0.4@cosine",
    "maxnorm=1/2/3@step:2:0.5",
    "dropout=0.1@adaptive:0.1:0.4",
    "dropconnect=0.1/0.3@warmup:2+l1=1e-3/1e-2",
    "l1=1e-3@cosine+proximal+input-dropout=0.1@step:3:0.5",
    "gaussian-dropout=0.3@warmup:4+weight-decay=0.05@cosine",
    "activity-l2=1e-3@cosine+dropout=0.2",
    "l2=1e-2/0/1e-3@warmup:2+penalty-layers=all",
    "auto-dropout+l2=1e-4",
]


def _members(texts: list[str], epochs: int = 8) -> tuple[list[MemberSpec], dict]:
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


@pytest.mark.usefixtures("small_budgets")
def test_scheduled_members_are_bit_identical_alone_chunked_and_resumed() -> None:
    specs, data = _members(SCHEDULED)
    _check(specs, data, budget_members=3)


def test_stored_values_in_effect_follow_the_formulas() -> None:
    specs, data = _members(
        ["l2=1e-3@warmup:3", "dropout=0.2/0.4@cosine", "maxnorm=1/2/3@step:2:0.5"], epochs=6
    )
    specs = [dataclasses.replace(s, train=TrainConfig(epochs=6, patience=None)) for s in specs]
    warm, cosine, step = train_members(specs, data, device="cpu")
    assert warm.curves["strength:l2"] == pytest.approx([1e-3 * min(1, t / 3) for t in range(1, 7)])
    for layer, rate in enumerate((0.2, 0.4)):
        expected = [rate * 0.5 * (1 + math.cos(math.pi * (t - 1) / 6)) for t in range(1, 7)]
        assert cosine.curves[f"strength:dropout[{layer}]"] == pytest.approx(expected)
    for layer, bound in enumerate((1.0, 2.0, 3.0)):
        expected = [bound / 0.5 ** ((t - 1) // 2) for t in range(1, 7)]
        assert step.curves[f"strength:maxnorm[{layer}]"] == pytest.approx(expected)
    # the penalty curve is the strength in effect times Σw² (l2 on the hidden kernels)
    assert warm.curves["penalty"][0] < warm.curves["penalty"][2]


def test_adaptive_dropout_follows_its_own_gap() -> None:
    data = _data("cancer")
    x, y = data[0]
    spec = MemberSpec(  # 60 training rows: the gap grows early
        Architecture(x.shape[1], 1, hidden=(32, 16), task="binary"),
        parse_strategy("dropout=0.1@adaptive:0.1:0.4"),
        TrainConfig(epochs=10, patience=None, batch_size=16, lr=1e-2),
        *_indices(len(y), 60, 100, 60, seed=0),
    )
    (result,) = train_members([spec], data, device="cpu")
    c = result.curves
    gaps = np.asarray(c["val_loss"]) - np.asarray(c["train_loss"])
    expected = [0.1]
    for t in range(2, 11):
        grew = t >= 3 and gaps[t - 2] > gaps[t - 3]
        expected.append(min(0.4, expected[-1] + (0.1 if grew else 0.0)))
    assert c["strength:dropout"] == pytest.approx(expected)
    assert len(set(np.round(expected, 6))) > 1  # the rule acted on this run


@pytest.mark.parametrize("backend", ["fused", "generic"])
def test_a_schedule_that_keeps_its_strength_trains_as_the_constant(backend: str) -> None:
    texts = ["dropout=0.3+l2=1e-3+maxnorm=2", "dropout=0.3@step:50:0.5+l2=1e-3@warmup:1+maxnorm=2"]
    specs, data = _members(texts)
    specs = [dataclasses.replace(s, seed=3, split_id=0, train_idx=specs[0].train_idx,
                                 val_idx=specs[0].val_idx, test_idx=specs[0].test_idx)
             for s in specs]  # fmt: skip
    constant, scheduled = train_members(specs, data, device="cpu", backend=backend)
    assert scheduled.curves.pop("strength:dropout") == [0.3] * scheduled.epochs_run
    assert scheduled.curves.pop("strength:l2") == [1e-3] * scheduled.epochs_run
    _assert_identical(
        dataclasses.replace(constant, key=scheduled.key), scheduled, "constant schedule"
    )
