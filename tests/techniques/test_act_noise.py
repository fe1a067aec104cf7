"""Issue 9's acceptance test: a technique defined here only runs through a whole study.

``act-noise=`` (additive Gaussian noise on hidden activations, per-member σ) is declared and
registered in this file; nothing under ``src/`` knows it. ``reglab.bench`` then parses it,
trains it on the generic backend, stores it, tabulates it and reports it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest
from torch import Tensor

import reglab
from reglab import techniques
from reglab.techniques import Param, Technique


class ActNoise(Technique):
    """``act-noise=σ``: add N(0, σ²) noise to every hidden output while training."""

    key = "act-noise"
    params = (Param("sigma", 1e-3, 1.0, "log"),)
    acts_on = "hidden-noise"
    label = "activation noise"

    @classmethod
    def perturb(cls, h: Tensor, noise: Tensor, values: Mapping[str, Tensor]) -> Tensor:
        return h + values["sigma"].view(-1, 1, 1) * noise


@pytest.fixture
def act_noise() -> Iterator[type[Technique]]:
    techniques.unregister("act-noise")
    techniques.register(ActNoise)
    yield ActNoise
    techniques.unregister("act-noise")


@pytest.mark.usefixtures("act_noise")
def test_a_technique_defined_in_a_test_runs_end_to_end(tmp_path: Path) -> None:
    result = reglab.bench(
        "builtin:iris",
        strategies="none,act-noise=0.1",
        cv=3,
        epochs=10,
        hidden=(16,),
        store=tmp_path / "s.db",
    )
    assert set(result.strategies) == {"none", "act-noise=0.1"}
    assert "act-noise=0.1" in result.table().to_string()
    report = result.report(tmp_path / "r.html")
    assert "act-noise=0.1" in Path(report).read_text(encoding="utf-8")
    by = {name: [m for m in result.members if m.strategy == name] for name in result.strategies}
    assert len(by["act-noise=0.1"]) == 3
    assert all(m.status == "done" for ms in by.values() for m in ms)
    for plain, noisy in zip(by["none"], by["act-noise=0.1"], strict=True):
        assert not np.array_equal(plain.curves["train_loss"], noisy.curves["train_loss"])
    # Resuming finds every member stored (the technique is part of each content key).
    again = reglab.bench(
        "builtin:iris",
        strategies="none,act-noise=0.1",
        cv=3,
        epochs=10,
        hidden=(16,),
        store=tmp_path / "s.db",
    )
    assert again.table().to_string() == result.table().to_string()


def test_activity_l2_through_bench_has_a_nonzero_penalty_curve(tmp_path: Path) -> None:
    result = reglab.bench(
        "builtin:iris", strategies="none,activity-l2=1e-3", cv=3, epochs=5, hidden=(16,)
    )
    members = [m for m in result.members if m.strategy == "activity-l2=1e-3"]
    assert members and all(m.status == "done" for m in members)
    assert all(min(m.curves["penalty"]) > 0 for m in members)
    assert "activity-l2=1e-3" in result.table().to_string()
