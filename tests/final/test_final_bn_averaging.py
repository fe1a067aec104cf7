"""A final model with batch norm and SWA or Lookahead carries the statistics recomputed for
its averaged or slow weights through save and load, and predicts with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris

import reglab
from reglab.final.model import load

FAST = {"epochs": 4, "hidden": (8,), "device": "cpu", "early_stopping": False, "seed": 3}


@pytest.mark.parametrize("technique", ["swa=2", "lookahead=3:0.5"])
def test_fit_save_load_predict_carries_the_recomputed_statistics(
    technique: str, tmp_path: Path
) -> None:
    table = load_iris(as_frame=True).frame
    fitted = reglab.fit_final(table, target="target", strategy=f"batchnorm+{technique}", **FAST)
    plain = reglab.fit_final(table, target="target", strategy="batchnorm", **FAST)
    stats = {k: v for k, v in fitted.module.state_dict().items() if ".running_" in k}
    assert stats
    # the same seed trains the same iterate: its statistics are not the ones kept
    iterate = plain.module.state_dict()
    assert all(not torch.allclose(v, iterate[k], atol=1e-4) for k, v in stats.items())
    path = fitted.save(tmp_path / "model.reglab")
    loaded = load(path)
    for k, v in stats.items():
        assert torch.equal(loaded.module.state_dict()[k], v), k
    rows = table.drop(columns="target")
    np.testing.assert_array_equal(loaded.predict_proba(rows), fitted.predict_proba(rows))
