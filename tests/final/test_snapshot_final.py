"""A final model trained with ``snapshot=K`` is its snapshot ensemble: saved and loaded, it
predicts the same probabilities, and those are the mean of its snapshots'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import reglab
from reglab.layers.snapshot import SnapshotEnsemble

CRX = Path(__file__).resolve().parents[3] / "shared" / "data" / "crx.csv"


@pytest.mark.skipif(not CRX.exists(), reason="../shared/data is not present")
def test_a_snapshot_final_model_saves_loads_and_predicts_its_mean(tmp_path: Path) -> None:
    model = reglab.fit_final(
        CRX, target="a16", strategy="snapshot=3", epochs=4, hidden=(8,), device="cpu"
    )
    assert isinstance(model.module, SnapshotEnsemble) and len(model.module.models) == 3
    loaded = reglab.load(model.save(tmp_path / "m.reglab"))
    np.testing.assert_array_equal(loaded.predict_proba(CRX), model.predict_proba(CRX))

    x = torch.as_tensor(model.preprocessor.transform(model.read(CRX).frame))
    with torch.no_grad():
        mean = torch.stack([torch.sigmoid(m.eval()(x)[:, 0]) for m in model.module.models]).mean(0)
    np.testing.assert_allclose(model.predict_proba(CRX)[:, 1], mean.numpy(), rtol=1e-5, atol=1e-6)
