"""MC-dropout prediction: only the dropout family is active, batch norm stays in evaluation
mode, the mean and spread are those of the passes, and the CLI writes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import reglab
from reglab.cli.main import app
from reglab.errors import ConfigError
from reglab.final import FinalModel
from reglab.layers import MLP, GaussianNoise, drop_connect
from reglab.layers.mc_dropout import has_dropout, mc_dropout, mc_samples

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
CRX = SHARED / "crx.csv"
needs_data = pytest.mark.skipif(not CRX.exists(), reason="../shared/data is not present")


def test_only_the_dropout_family_is_switched_on() -> None:
    net = MLP(4, 3, hidden=(8, 8), dropout=0.3, batch_norm=True)
    noise = GaussianNoise(0.5)
    model = torch.nn.Sequential(noise, net)
    model.train()
    with mc_dropout(model):
        modes = {type(m).__name__: m.training for m in model.modules()}
    assert modes["Dropout"] and not modes["BatchNorm1d"] and not modes["GaussianNoise"]
    assert not modes["Sequential"] and not modes["Dense"]
    assert all(m.training for m in model.modules())  # restored


def test_batch_norm_statistics_are_untouched_and_draws_reproducible() -> None:
    net = MLP(4, 2, hidden=(8,), dropout=0.5, batch_norm=True)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    a = mc_samples(net, x, samples=5, seed=3)
    b = mc_samples(net, x, samples=5, seed=3)
    assert torch.equal(a, b) and not torch.equal(a[0], a[1])
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k  # running statistics not updated
    state = torch.random.get_rng_state()
    mc_samples(net, x, samples=2, seed=9)
    assert torch.equal(state, torch.random.get_rng_state())


def test_dropconnect_counts_as_dropout() -> None:
    plain = torch.nn.Linear(3, 2)
    assert not has_dropout(plain)
    assert has_dropout(drop_connect(torch.nn.Linear(3, 2), p=0.2))
    assert not has_dropout(MLP(3, 2, hidden=(4,)))


@needs_data
def test_mc_prediction_of_a_final_model(tmp_path: Path) -> None:
    model = reglab.fit_final(
        CRX, target="a16", strategy="dropout=0.3", epochs=4, hidden=(16,), device="cpu"
    )
    frame = pd.read_csv(CRX, na_values="?").head(60)
    mc = model.predict_mc(frame, samples=20, seed=1)
    assert mc.mean.shape == (60, 2) and mc.std.shape == (60, 2)
    np.testing.assert_allclose(mc.mean.sum(1), 1.0, atol=1e-9)
    assert (mc.std > 0).any() and (mc.std < 0.5).all()
    assert list(mc.labels) == [model.classes[k] for k in mc.mean.argmax(1)]
    # the mean of the passes, recomputed by hand
    x = torch.from_numpy(model._inputs(frame))
    draws = mc_samples(model.module, x, samples=20, seed=1).double()
    p1 = torch.sigmoid(draws[..., 0])  # a binary model has one output
    by_hand = torch.stack([1 - p1, p1], -1)
    np.testing.assert_allclose(mc.mean, by_hand.mean(0).numpy(), atol=1e-6)
    np.testing.assert_allclose(mc.std, by_hand.std(0, unbiased=False).numpy(), atol=1e-6)
    # the deterministic prediction is unaffected
    assert model.module.training is False
    np.testing.assert_array_equal(model.predict_proba(frame), model.predict_proba(frame))

    saved = model.save(tmp_path / "crx.reglab")
    out = tmp_path / "mc.csv"
    data = tmp_path / "rows.csv"
    frame.to_csv(data, index=False)
    result = CliRunner().invoke(
        app, ["predict", str(saved), str(data), "-o", str(out), "--mc-samples", "20"]
    )
    assert result.exit_code == 0, result.output
    assert "MC-dropout means over 20 passes" in result.output
    written = pd.read_csv(out)
    assert list(written.columns) == ["prediction", "proba_+", "proba_-", "std_+", "std_-"]
    again = model.predict_mc(frame, samples=20)  # the command's seed, 0
    np.testing.assert_allclose(written[["proba_+", "proba_-"]].to_numpy(), again.mean, atol=1e-6)


@needs_data
def test_models_without_dropout_and_bad_sample_counts_are_refused(tmp_path: Path) -> None:
    model: FinalModel = reglab.fit_final(
        CRX, target="a16", strategy="l2=1e-4", epochs=2, hidden=(8,), device="cpu"
    )
    with pytest.raises(ConfigError, match="must use dropout, Gaussian dropout or DropConnect"):
        model.predict_mc(pd.read_csv(CRX, na_values="?").head(5), samples=10)
    with pytest.raises(ConfigError, match="`samples` must be an integer >= 2; got 1"):
        model.predict_mc(pd.read_csv(CRX, na_values="?").head(5), samples=1)
    saved = model.save(tmp_path / "l2.reglab")
    out = tmp_path / "p.csv"
    result = CliRunner().invoke(
        app, ["predict", str(saved), str(CRX), "-o", str(out), "--mc-samples", "1"]
    )
    assert result.exit_code == 2 and "`--mc-samples` must be an integer >= 2" in result.output
    assert not out.exists()
