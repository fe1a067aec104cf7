"""The worked example of docs/architecture.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from reglab import techniques
from reglab.engine import Architecture, MemberSpec, TrainConfig, train_members
from reglab.study.strategies import parse_strategy

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    (block,) = [b for b in blocks if "register(" in b]
    return block


def test_the_documented_technique_registers_and_trains() -> None:
    techniques.unregister("act-noise")
    namespace: dict[str, object] = {}
    try:
        exec(compile(_example(), str(DOC), "exec"), namespace)
        cls = techniques.get("act-noise")
        strategy = parse_strategy("act-noise=0.1")
        assert strategy.techniques[0].values == {"sigma": 0.1}
        rng = np.random.default_rng(0)
        x = rng.normal(size=(60, 4)).astype(np.float32)
        y = (x[:, 0] > 0).astype(np.int64)
        idx = np.arange(60)
        specs = [
            MemberSpec(
                Architecture(4, 2, hidden=(8,)),
                s,
                TrainConfig(epochs=3, patience=None),
                idx[:40],
                idx[:0],
                idx[40:],
            )
            for s in (parse_strategy("none"), strategy)
        ]
        plain, act = train_members(specs, {0: (x, y)}, device="cpu")
        assert not np.array_equal(plain.curves["train_loss"], act.curves["train_loss"])
        module = cls(sigma=0.5).module(seed=0)
        z = torch.zeros(4, 3)
        assert not torch.equal(module(z), z)
        assert torch.equal(module.eval()(z), z)
    finally:
        techniques.unregister("act-noise")


def test_the_documented_strategy_of_configurations_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    (block,) = [b for b in blocks if "Strategy.of(" in b]
    exec(compile(block, str(DOC), "exec"), {})
