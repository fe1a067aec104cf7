"""Per-member randomness: batch order, noise multipliers, independence from the stack."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from reglab.engine import MemberSpec, stream_seeds
from reglab.engine.streams import MemberStreams, batch_pattern, noise_places

from .conftest import member


def _streams(specs: list[MemberSpec]) -> MemberStreams:
    return MemberStreams(specs, [np.asarray(s.train_idx) for s in specs], torch.device("cpu"))


def test_batches_follow_torch_randperm_of_the_members_order_seed() -> None:
    spec = member(seed=11, train={"batch_size": 16})
    streams = _streams([spec])
    gen = torch.Generator().manual_seed(stream_seeds(11)["order"])
    for _ in range(3):
        plan = streams.epoch()
        order = spec.train_idx[torch.randperm(len(spec.train_idx), generator=gen).numpy()]
        rows = plan.rows.reshape(plan.steps, 16)
        counts = plan.counts[0]
        assert np.array_equal(
            np.concatenate([rows[s, : counts[s]] for s in range(plan.steps)]), order
        )


PATTERNS = [
    ("exact", 64, 16, False, (4, 16)),
    ("short-last", 70, 16, False, (5, 6)),
    ("single-last", 65, 16, False, (5, 1)),
    ("single-last-bn-skipped", 65, 16, True, (4, 16)),
    ("one-batch", 10, 16, True, (1, 10)),
]


@pytest.mark.parametrize(
    ("case", "n", "batch", "bn", "expected"), PATTERNS, ids=[p[0] for p in PATTERNS]
)
def test_batch_pattern(case: str, n: int, batch: int, bn: bool, expected: tuple[int, int]) -> None:
    spec = member(train={"batch_size": batch}, arch={"batch_norm": bn})
    spec = dataclasses.replace(spec, train_idx=np.arange(n))
    assert batch_pattern(spec) == expected


def test_noise_places_are_where_some_member_draws() -> None:
    specs = [member(), member(input_dropout=0.1), member(dropout=(0.0, 0.3), drop_connect=0.2)]
    places = [(p.kind, p.layer, p.shape) for p in noise_places(specs)]
    assert places == [
        ("input", 0, (5, 16)),
        ("hidden", 1, (6, 16)),
        ("connect", 0, (8, 5)),
        ("connect", 1, (6, 8)),
    ]
    assert noise_places([member()]) == []


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_multipliers_are_inverted_bernoulli(p: float) -> None:
    spec = member(dropout=p, train={"batch_size": 16})
    plan = _streams([spec]).epoch()
    mult = plan.noise[0].numpy()  # hidden layer 0: [steps, 1, 8, B]
    values = np.unique(mult)
    assert len(values) == 2 and values[0] == 0.0
    assert values[1] == pytest.approx(1 / (1 - p), rel=1e-6)
    n = mult.size
    kept = float(np.mean(mult > 0))
    assert abs(kept - (1 - p)) < 4 * np.sqrt(p * (1 - p) / n)


def test_gaussian_multipliers_have_mean_one_and_variance_p_over_one_minus_p() -> None:
    p = 0.4
    spec = member(dropout=p, dropout_kind="gaussian", train={"batch_size": 16})
    streams = _streams([spec])
    mult = np.concatenate([streams.epoch().noise[0].numpy().ravel() for _ in range(20)])
    assert mult.mean() == pytest.approx(1.0, abs=4 * np.sqrt(p / (1 - p) / mult.size))
    assert mult.var() == pytest.approx(p / (1 - p), rel=0.05)


def test_a_members_plan_does_not_depend_on_its_stack() -> None:
    specs = [
        member(seed=1, dropout=0.3),
        member(seed=2),
        member(seed=3, drop_connect=0.5, input_dropout=0.2, dropout_kind="gaussian"),
    ]
    together = _streams(specs)
    alone = [_streams([s]) for s in specs]
    for _ in range(2):
        plan = together.epoch()
        rows = plan.rows.view(plan.steps, len(specs), -1)
        places = noise_places(specs)
        for i, solo in enumerate(alone):
            own = solo.epoch()
            assert torch.equal(rows[:, i], own.rows)
            own_places = noise_places([specs[i]])
            for place, noise in zip(places, plan.noise, strict=True):
                if place in own_places:
                    assert torch.equal(noise[:, i], own.noise[own_places.index(place)][:, 0])
                else:  # the member draws nothing here: neutral multiplier
                    assert bool((noise[:, i] == 1).all())


def test_selecting_members_of_a_plan() -> None:
    specs = [member(seed=s, dropout=0.2 * s) for s in range(3)]
    specs[2] = dataclasses.replace(specs[2], train_idx=specs[2].train_idx[:50])  # short last batch
    plan = _streams(specs).epoch()
    part = plan.select([2, 0])
    rows = plan.rows.view(plan.steps, 3, -1)
    assert torch.equal(part.rows.view(plan.steps, 2, -1), rows[:, [2, 0]])
    assert np.array_equal(part.counts, plan.counts[[2, 0]])
    assert torch.equal(part.noise[0], plan.noise[0][:, [2, 0]])
    assert part.full == [True, True, True, False] and plan.weights is not None
    assert part.weights is not None and torch.equal(part.weights, plan.weights[:, [2, 0]])
