"""Group L1 on input features: the proximal operator's maths, exact zeros, the grammar, and a
strength path that counts the surviving features on real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer

from reglab.engine import Architecture, MemberSpec, TrainConfig, train_members
from reglab.errors import ConfigError
from reglab.study.strategies import describe, parse_strategy
from reglab.techniques import GroupL1


def test_prox_is_the_group_soft_threshold_and_minimizes_its_objective() -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(2, 5, 4, generator=g, dtype=torch.float64)
    strength = torch.tensor([0.7, 2.5], dtype=torch.float64)
    lr = torch.tensor([1.0, 0.5], dtype=torch.float64)
    out = GroupL1.project(w, {"strength": strength, "lr": lr, "within": torch.zeros(2)})
    for m in range(2):
        t = float(lr[m] * strength[m])
        for j in range(4):
            col = w[m, :, j]
            norm = float(col.norm())
            expected = col * max(0.0, 1 - t / norm)
            torch.testing.assert_close(out[m, :, j], expected)

        # the prox minimizes ½‖v − w‖² + t·Σ_j‖v_j‖: no random nearby point does better
        def objective(v: torch.Tensor, w0: torch.Tensor = w[m], t: float = t) -> float:
            return float(0.5 * ((v - w0) ** 2).sum() + t * v.norm(dim=0).sum())

        best = objective(out[m])
        for _ in range(200):
            assert (
                objective(out[m] + 1e-3 * torch.randn(5, 4, generator=g, dtype=torch.float64))
                >= best - 1e-12
            )


def test_grammar_and_bad_strengths() -> None:
    s = parse_strategy("group-l1=3+dropout")
    assert s.name == "dropout+group-l1=3"
    assert describe(s) == "dropout 0.3 + group L1 on inputs 3"
    assert parse_strategy("group-l1=3:0.01").techniques[0].values == {
        "strength": 3.0,
        "within": 0.01,
    }
    with pytest.raises(ConfigError, match=r"`strength` must be a finite number ≥ 0; got -1\.0"):
        parse_strategy("group-l1=-1")
    with pytest.raises(ConfigError, match=r"2 value\(s\), as group-l1=STRENGTH:WITHIN"):
        parse_strategy("group-l1=1:2:3")


def test_strong_group_l1_removes_whole_features_and_keeps_the_informative() -> None:
    x, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(len(y), 20))  # 20 pure-noise columns after the 30 real ones
    x = np.hstack([(x - x.mean(0)) / x.std(0), noise]).astype(np.float32)
    idx = rng.permutation(len(y))
    specs = [
        MemberSpec(Architecture(50, 2, hidden=(16,)), parse_strategy(s),
                   TrainConfig(epochs=30, patience=None), idx[:400], idx[:0], idx[400:], seed=1)
        for s in ("none", "group-l1=4")
    ]  # fmt: skip
    plain, sparse = train_members(specs, {0: (x, y.astype(np.int64))}, device="cpu")
    assert np.count_nonzero(np.asarray(plain.feature_norms)) == 50
    norms = np.asarray(sparse.feature_norms)
    kept = np.flatnonzero(norms)
    assert 0 < len(kept) < 25  # exact zeros: whole features left the network
    assert (kept < 30).mean() >= 0.9  # real features, hardly any of the 20 noise columns
    assert sparse.test_scores["accuracy"] > 0.9
    assert not np.any(sparse.weights["dense0.weight"][:, norms == 0])
