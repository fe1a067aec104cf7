"""Model families plug in: the documented skip-path family trains as stacks with every contract.

The family is defined only in ``docs/architecture.md`` (run here as written); nothing under
``src/`` knows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer

from reglab.engine import MemberSpec, TrainConfig, train_members
from reglab.engine.family import MLP_FAMILY, family_of, register_family, unregister_family
from reglab.engine.plan import member_bytes
from reglab.engine.spec import Architecture
from reglab.errors import ConfigError
from reglab.study.strategies import parse_strategy

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


@pytest.fixture(scope="module")
def family() -> Iterator[dict[str, Any]]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    (block,) = [b for b in blocks if "register_family(" in b]
    namespace: dict[str, Any] = {}
    exec(compile(block, str(DOC), "exec"), namespace)
    yield namespace
    for f in {family_of(namespace["SkipArchitecture"](2, 2))}:
        unregister_family(f)


def _data() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    return x, y.astype(np.int64)


def _members(arch: Any, strategies: list[str], seeds: list[int]) -> list[MemberSpec]:
    idx = np.random.default_rng(0).permutation(569)
    return [
        MemberSpec(
            arch,
            parse_strategy(s),
            TrainConfig(epochs=4, patience=None, batch_size=64),
            idx[:400],
            idx[:0],
            idx[400:],
            seed=seed,
        )
        for s, seed in zip(strategies, seeds, strict=True)
    ]


def test_the_documented_family_trains_and_exports(family: dict[str, Any]) -> None:
    x, y = _data()
    arch = family["SkipArchitecture"](30, 2, hidden=(16,))
    assert family_of(arch).name == "linear-skip" and not family_of(arch).fused
    specs = _members(arch, ["none", "dropout=0.3+l2=1e-3", "maxnorm=1"], [1, 2, 3])
    results = train_members(specs, {0: (x, y)}, device="cpu")
    for spec, r in zip(specs, results, strict=True):
        assert r.status == "ok", r.error
        assert r.test_scores["accuracy"] > 0.9
        assert np.abs(r.weights["skip_weight"]).sum() > 0  # the skip path learned
        module = family_of(arch).export(arch, spec.strategy)
        module.load_state_dict({k: torch.from_numpy(v) for k, v in r.weights.items()})
        with torch.no_grad():
            logits = module.eval()(torch.from_numpy(x[spec.test_idx]))
        proba = torch.softmax(logits, 1).numpy()
        np.testing.assert_allclose(proba, r.test_pred, atol=1e-5)
    # the planner counts the skip block
    mlp = _members(Architecture(30, 2, hidden=(16,)), ["none"], [1])[0]
    assert member_bytes(specs[0]) > member_bytes(mlp)


def test_a_family_member_is_bit_identical_alone_and_stacked(family: dict[str, Any]) -> None:
    x, y = _data()
    arch = family["SkipArchitecture"](30, 2, hidden=(8, 8))
    stacked = _members(arch, ["none", "dropout=0.2", "l1=1e-3", "dropconnect=0.2"], [5, 6, 7, 8])
    together = train_members(stacked, {0: (x, y)}, device="cpu")
    (alone,) = train_members(stacked[1:2], {0: (x, y)}, device="cpu")
    for name, value in alone.weights.items():
        assert np.array_equal(value, together[1].weights[name]), name
    for name, curve in alone.curves.items():
        assert np.array_equal(curve, together[1].curves[name], equal_nan=True), name
    assert np.array_equal(alone.test_pred, together[1].test_pred)


def test_registration_is_checked(family: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="`architecture` must be free; got Architecture"):
        register_family(type(MLP_FAMILY)())
    with pytest.raises(ConfigError, match="must be the architecture of a registered"):
        family_of(object())
