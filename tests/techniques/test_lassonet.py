"""LassoNet's hierarchical proximal operator: its maths against a direct transcription of the
paper's Algorithm 2, its properties, the skip-path family's contracts (alone ≡ stacked, the
exported ``SkipMLP`` predicts what the member predicted), and selection on data with known truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, make_classification
from typer.testing import CliRunner

import reglab
from reglab.cli.main import app
from reglab.engine import Architecture, MemberSpec, TrainConfig, train_members
from reglab.engine.family import family_of
from reglab.engine.skip import SkipArchitecture
from reglab.errors import ConfigError
from reglab.layers.skip import SkipMLP
from reglab.study.select import select_features
from reglab.study.strategies import describe, parse_strategy
from reglab.techniques.lassonet import LassoNet, hier_prox


def _algorithm_2(theta: np.ndarray, w: np.ndarray, lam: float, bound: float) -> tuple:
    """Lemhadri et al. (2021), Algorithm 2, one feature at a time, in plain numpy."""
    theta, w = theta.copy(), w.copy()
    for j in range(w.shape[1]):
        v, u = theta[:, j], w[:, j]
        norm = np.linalg.norm(v)
        if norm == 0:  # θ_j's direction is undefined: the feature stays out (as LassoNet's code)
            w[:, j] = 0.0
            continue
        s = np.sort(np.abs(u))[::-1]
        k = len(s)
        for m in range(k + 1):
            wm = bound / (1 + m * bound**2) * max(0.0, norm + bound * s[:m].sum() - lam)
            upper = np.inf if m == 0 else s[m - 1]
            lower = 0.0 if m == k else s[m]
            if lower <= wm <= upper:
                break
        theta[:, j] = wm / (bound * norm) * v
        w[:, j] = np.sign(u) * np.minimum(np.abs(u), wm)
    return theta, w


@pytest.mark.parametrize(
    ("out", "hidden", "lam", "bound"),
    [(1, 4, 0.1, 10.0), (3, 6, 0.8, 10.0), (2, 5, 2.0, 1.0), (1, 8, 0.0, 3.0)],
    ids=["binary", "multiclass", "small-M", "hierarchy-only"],
)
def test_hier_prox_is_algorithm_2(out: int, hidden: int, lam: float, bound: float) -> None:
    g = np.random.default_rng(hidden)
    theta = g.normal(size=(out, 7)) * g.uniform(0, 1, size=7)
    theta[:, 0] = 0.0  # a feature without skip weights
    w = g.normal(size=(hidden, 7))
    got_t, got_w = hier_prox(
        torch.from_numpy(theta)[None],
        torch.from_numpy(w)[None],
        torch.tensor([lam], dtype=torch.float64),
        torch.tensor([bound], dtype=torch.float64),
    )
    want_t, want_w = _algorithm_2(theta, w, lam, bound)
    np.testing.assert_allclose(got_t[0].numpy(), want_t, atol=1e-12)
    np.testing.assert_allclose(got_w[0].numpy(), want_w, atol=1e-12)
    # the hierarchy holds after the step: ‖W_j‖∞ ≤ M·‖θ_j‖₂, so θ_j = 0 ⇒ W_j = 0
    norms = np.linalg.norm(got_t[0].numpy(), axis=0)
    assert np.all(np.abs(got_w[0].numpy()).max(axis=0) <= bound * norms + 1e-12)
    assert not np.any(got_w[0].numpy()[:, 0])


def test_members_are_independent_and_a_feasible_point_is_fixed_at_zero_strength() -> None:
    g = torch.Generator().manual_seed(1)
    theta = torch.randn(3, 2, 5, generator=g, dtype=torch.float64)
    w = 0.05 * torch.randn(3, 8, 5, generator=g, dtype=torch.float64)  # inside the bound
    lam = torch.tensor([0.0, 0.5, 3.0], dtype=torch.float64)
    bound = torch.tensor([10.0, 10.0, 2.0], dtype=torch.float64)
    t_all, w_all = hier_prox(theta, w, lam, bound)
    for i in range(3):
        t_i, w_i = hier_prox(theta[i : i + 1], w[i : i + 1], lam[i : i + 1], bound[i : i + 1])
        assert torch.equal(t_i[0], t_all[i]) and torch.equal(w_i[0], w_all[i])
    torch.testing.assert_close(t_all[0], theta[0])  # λ = 0, constraint met: nothing moves
    torch.testing.assert_close(w_all[0], w[0])
    # a stronger threshold leaves no more features than a weaker one
    kept = [int((t_all[i].norm(dim=0) > 0).sum()) for i in range(3)]
    assert kept[0] >= kept[1] >= kept[2]


def test_grammar_family_and_bad_strengths() -> None:
    s = parse_strategy("lassonet=50")
    assert s.techniques[0].values == {"strength": 50.0, "hierarchy": 10.0}
    assert describe(s) == "LassoNet on inputs 50"
    assert parse_strategy("lassonet=50:3").techniques[0].values["hierarchy"] == 3.0
    with pytest.raises(ConfigError, match=r"`strength` must be a finite number ≥ 0; got -1\.0"):
        parse_strategy("lassonet=-1")
    x, y = load_breast_cancer(return_X_y=True)
    spec = MemberSpec(
        Architecture(30, 2, hidden=(8,)), s, TrainConfig(epochs=1), np.arange(300),
        np.arange(0), np.arange(300, 400), seed=0,
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"acts on skip-mlp members only"):
        train_members([spec], {0: (x.astype(np.float32), y)}, device="cpu")
    assert LassoNet.families == ("skip-mlp",)


def _specs(strategies: list[str], seeds: list[int]) -> tuple[list[MemberSpec], dict]:
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    idx = np.random.default_rng(0).permutation(len(y))
    specs = [
        MemberSpec(
            SkipArchitecture(30, 2, hidden=(16,)), parse_strategy(s),
            TrainConfig(epochs=12, patience=None, batch_size=64),
            idx[:400], idx[:0], idx[400:], seed=seed,
        )
        for s, seed in zip(strategies, seeds, strict=True)
    ]  # fmt: skip
    return specs, {0: (x, y.astype(np.int64))}


def test_skip_members_stacked_equal_alone_and_export_predicts_the_same() -> None:
    specs, data = _specs(["lassonet=0:5", "lassonet=300", "lassonet=3000:2"], [3, 4, 5])
    together = train_members(specs, data, device="cpu")
    alone = train_members(specs[1:2], data, device="cpu")[0]
    for name, value in alone.weights.items():
        assert np.array_equal(value, together[1].weights[name]), name
    assert family_of(specs[0].arch).name == "skip-mlp"
    # the strongest drops whole features from both paths, exactly
    strong = together[2].weights
    gone = ~np.any(strong["skip_weight"], axis=0)
    assert gone.sum() > together[0].weights["skip_weight"].shape[1] // 2
    assert not np.any(strong["dense0.weight"][:, gone])
    assert np.count_nonzero(together[2].feature_norms) == (~gone).sum()
    # the exported single model (an MLP plus the skip kernel) predicts what the member did
    module = family_of(specs[1].arch).export(specs[1].arch, specs[1].strategy)
    assert isinstance(module, SkipMLP)
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in alone.weights.items()})
    module.eval()
    x = torch.from_numpy(data[0][0][specs[1].test_idx])
    with torch.no_grad():
        proba = torch.softmax(module(x), 1).numpy()
    np.testing.assert_allclose(proba, alone.test_pred, atol=1e-5)


def test_fit_saves_and_loads_a_lassonet_model(tmp_path: Path) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    model = reglab.fit_final(frame, target="target", strategy="lassonet=100", epochs=8,
                             hidden=(16,), device="cpu")  # fmt: skip
    assert isinstance(model.module, SkipMLP)
    path = tmp_path / "m.reglab"
    model.save(path)
    again = reglab.load(path)
    assert isinstance(again.module, SkipMLP)
    rows = frame.drop(columns="target").head(50)
    np.testing.assert_array_equal(
        np.asarray(model.predict_proba(rows)), np.asarray(again.predict_proba(rows))
    )


@pytest.fixture(scope="module")
def known() -> pd.DataFrame:
    x, y = make_classification(
        n_samples=500, n_features=30, n_informative=6, n_redundant=0, n_repeated=0,
        shuffle=False, class_sep=1.5, random_state=0,
    )  # fmt: skip
    table = pd.DataFrame(x, columns=[f"f{i}" for i in range(30)])
    table["y"] = y
    return table


def test_lassonet_selection_finds_the_informative_features(known: pd.DataFrame) -> None:
    sel = select_features(known, target="y", max_features=8, method="lassonet",
                          grid="30:3000:6", cv=3, epochs=25, hidden=(32,), device="cpu",
                          refit=False)  # fmt: skip
    assert sel.method == "lassonet" and sel.strength is not None
    assert 1 <= len(sel.features) <= 8
    hits = len(set(sel.features) & {f"f{i}" for i in range(6)})
    assert hits / len(sel.features) >= 0.75 and hits / 6 >= 0.5, sel.features
    assert any("lassonet=" in line for line in sel.lines())


def test_select_command_refuses_an_unknown_method(known: pd.DataFrame, tmp_path: Path) -> None:
    data = tmp_path / "known.csv"
    known.to_csv(data, index=False)
    out = tmp_path / "features.txt"
    bad = CliRunner().invoke(
        app,
        ["select", str(data), "--target", "y", "--max-features", "5", "--method", "lasso",
         "--store", str(tmp_path / "s.db"), "-o", str(out)],
    )  # fmt: skip
    assert bad.exit_code == 2, bad.output
    assert "`--method` must be one of 'group-l1', 'lassonet'" in bad.output
    assert not out.exists() and not (tmp_path / "s.db").exists()
