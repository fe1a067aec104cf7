"""The report's pure functions against independent numpy/scipy computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from reglab.report.analysis import (
    BASELINE_COLOR,
    Metric,
    choose_metric,
    curve_band,
    excess_kurtosis,
    feature_survival,
    is_l1_like,
    is_l2_like,
    overfitting_onset,
    rebin_density,
    split_scores,
    strategy_colors,
    weight_masses,
)
from reglab.store import MemberRecord


def rec(i: int, strategy: str = "l2", **kw: object) -> MemberRecord:
    return MemberRecord(f"k{i}-{strategy}", strategy, i, i, 80, 20, **kw)  # type: ignore[arg-type]


# -- metrics -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "preferred", "expected", "higher"),
    [
        pytest.param(["log_loss", "accuracy"], None, "accuracy", True, id="classification"),
        pytest.param(["r2", "mae", "rmse"], None, "rmse", False, id="regression-rmse"),
        pytest.param(["mae", "r2"], None, "r2", True, id="regression-r2"),
        pytest.param(["accuracy", "log_loss"], "log_loss", "log_loss", False, id="preferred"),
        pytest.param(["accuracy"], "auc", "accuracy", True, id="preferred-missing"),
        pytest.param(["custom"], None, "custom", True, id="unknown-higher"),
    ],
)
def test_choose_metric(
    names: list[str], preferred: str | None, expected: str, higher: bool
) -> None:
    m = choose_metric(names, preferred)
    assert (m.name, m.higher_is_better) == (expected, higher)


def test_metric_labels() -> None:
    assert Metric.of("r2").label == "R²"
    assert Metric.of("accuracy").label == "accuracy"


def test_split_scores_average_members_per_split_and_skip_nonfinite() -> None:
    members = [
        rec(0, test_scores={"accuracy": 0.8}),
        MemberRecord("b", "l2", 0, 9, 80, 20, test_scores={"accuracy": 0.6}),
        rec(1, test_scores={"accuracy": float("nan")}),
        rec(2, test_scores={"rmse": 3.0}, train_scores={"accuracy": 1.0}),
    ]
    assert split_scores(members, "accuracy") == {0: pytest.approx(0.7)}
    assert split_scores(members, "accuracy", which="train") == {2: 1.0}


@pytest.mark.parametrize(
    ("name", "config", "l1", "l2"),
    [
        pytest.param("l1", {"l1": 1e-4, "l2": 0.0}, True, False, id="l1-config"),
        pytest.param("custom", {"l1": 0.0, "l2": 1e-4}, False, True, id="l2-config"),
        pytest.param("en", {"l1": 5e-5, "l2": 5e-5}, True, False, id="elasticnet-is-l1"),
        pytest.param("adamw", {"l1": 0.0, "weight_decay": 1e-2}, False, True, id="decay"),
        pytest.param("dropout", {"l1": 0.0, "l2": 0.0}, False, False, id="neither"),
        pytest.param("dropout+elasticnet", {}, True, False, id="name-fallback-l1"),
        pytest.param("dropout+l2=1e-4", {}, False, True, id="name-fallback-l2"),
        pytest.param("l1", {"l1": 0.0}, False, False, id="config-wins-over-name"),
    ],
)
def test_l1_and_l2_like(name: str, config: dict[str, float], l1: bool, l2: bool) -> None:
    assert (is_l1_like(name, config), is_l2_like(name, config)) == (l1, l2)


def test_colors_are_stable_distinct_and_baseline_grey() -> None:
    names = [f"s{i}" for i in range(15)] + ["none"]
    colors = strategy_colors(names)
    assert colors["none"] == BASELINE_COLOR
    assert len({colors[n] for n in names}) == len(names)
    assert strategy_colors(names) == colors


# -- curves --------------------------------------------------------------------------------------


def test_curve_band_matches_numpy_percentiles_on_ragged_curves() -> None:
    rng = np.random.default_rng(0)
    curves = [rng.normal(size=n) for n in (10, 10, 8, 6, 4)]
    band = curve_band([rec(i, curves={"val_loss": c}) for i, c in enumerate(curves)], "val_loss")
    assert band is not None
    # Epochs reached by at least 3 of the 5 members (half, rounded up): the first 8.
    assert band.epochs.tolist() == list(range(1, 9))
    for e in range(8):
        column = [c[e] for c in curves if len(c) > e]
        assert band.median[e] == pytest.approx(np.median(column))
        assert band.q1[e] == pytest.approx(np.percentile(column, 25))
        assert band.q3[e] == pytest.approx(np.percentile(column, 75))
        assert band.n[e] == len(column)


def test_curve_band_absent_curve() -> None:
    assert curve_band([rec(0, curves={"train_loss": [1.0]})], "val_loss") is None


@pytest.mark.parametrize("true_onset", [10, 25, 40])
def test_overfitting_onset_finds_the_valley(true_onset: int) -> None:
    rng = np.random.default_rng(true_onset)
    t = np.arange(80)
    train = np.exp(-t / 15) + rng.normal(0, 0.004, t.size)
    val = 0.4 + 0.0008 * (t - true_onset) ** 2 + rng.normal(0, 0.004, t.size)
    onset = overfitting_onset(train, val)
    assert onset is not None and abs(onset - true_onset) <= 2


@pytest.mark.parametrize(
    ("train", "val"),
    [
        pytest.param(np.exp(-np.arange(50) / 9), 0.3 + np.exp(-np.arange(50) / 9), id="no-rise"),
        pytest.param(
            np.r_[np.linspace(1, 0.2, 20), np.linspace(0.2, 0.6, 30)],
            np.r_[np.linspace(1, 0.4, 20), np.linspace(0.4, 0.9, 30)],
            id="train-rises-too",
        ),
        pytest.param([1.0, 0.5, 0.7], [1.0, 0.5, 0.9], id="too-short"),
        pytest.param(np.ones(30), np.ones(30), id="flat"),
        pytest.param(np.linspace(1, 0, 30), np.r_[np.nan, np.linspace(1, 2, 29)], id="nan"),
    ],
)
def test_overfitting_onset_absent(train: np.ndarray, val: np.ndarray) -> None:
    assert overfitting_onset(train, val) is None


# -- histograms ----------------------------------------------------------------------------------


def test_rebin_onto_a_coarsening_equals_numpy_histogram() -> None:
    rng = np.random.default_rng(1)
    w = rng.laplace(0, 0.2, 5000)
    fine_counts, fine_edges = np.histogram(w, bins=120, range=(-2.4, 2.4))
    grid = fine_edges[::6]
    coarse_counts, _ = np.histogram(w, bins=grid)
    mass = rebin_density(fine_edges, fine_counts, grid)
    np.testing.assert_allclose(mass, coarse_counts / w.size, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 50), min_size=1, max_size=12),
    lo=st.floats(-5, 0, allow_nan=False),
    width=st.floats(0.01, 3, allow_nan=False),
)
def test_rebin_conserves_mass_inside_a_covering_grid(
    counts: list[int], lo: float, width: float
) -> None:
    edges = lo + width * np.arange(len(counts) + 1)
    grid = np.linspace(lo - 1, edges[-1] + 1, 17)
    mass = rebin_density(edges, counts, grid)
    assert np.all(mass >= -1e-12)
    assert mass.sum() == pytest.approx(1.0 if sum(counts) else 0.0, abs=1e-9)


def test_rebin_degenerate_histogram_puts_mass_in_one_bin() -> None:
    mass = rebin_density([0.0, 0.0], [7], np.linspace(-1, 1, 5))
    assert mass.tolist() == [0.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize(
    "draw",
    [
        pytest.param(lambda r: r.normal(size=200_000), id="gaussian"),
        pytest.param(lambda r: r.laplace(size=200_000), id="laplace"),
        pytest.param(lambda r: r.uniform(-1, 1, size=200_000), id="uniform"),
    ],
)
def test_excess_kurtosis_of_a_fine_histogram_matches_scipy(draw: object) -> None:
    x = draw(np.random.default_rng(2))  # type: ignore[operator]
    counts, edges = np.histogram(x, bins=2000)
    assert excess_kurtosis(edges, counts) == pytest.approx(sps.kurtosis(x), abs=0.02)


def test_excess_kurtosis_degenerate() -> None:
    assert math.isnan(excess_kurtosis([0, 1], [0]))
    assert math.isnan(excess_kurtosis([0, 1, 2], [5, 0]) + excess_kurtosis([0, 1], [3, 4]))


def test_weight_masses_average_members_on_a_shared_symmetric_grid() -> None:
    a = rec(0, weight_hist={"d0": ([-1.0, 0.0, 1.0], [1, 1])})
    b = rec(1, weight_hist={"d0": ([-2.0, 0.0, 2.0], [0, 4])})
    grids, masses = weight_masses({"l2": [a, b]}, bins=4)
    assert grids["d0"].tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]
    expected = (np.array([0, 0.5, 0.5, 0]) + np.array([0, 0, 0.5, 0.5])) / 2
    np.testing.assert_allclose(masses["d0"]["l2"], expected)


# -- features ------------------------------------------------------------------------------------


def test_feature_survival_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    norms = rng.uniform(0, 1, (6, 9))
    norms[rng.random((6, 9)) < 0.4] = 0.0
    norms[:, 0] = 1e-6  # tiny relative to the max: never survives
    members = [rec(i, "l1", feature_norms=n) for i, n in enumerate(norms)]
    members.append(rec(9, "l1", feature_norms=[1.0, 2.0]))  # a different length is left out
    result = feature_survival(members)
    assert result is not None
    frac, rel = result
    top = norms.max(axis=1, keepdims=True)
    np.testing.assert_allclose(frac, (norms > 1e-3 * top).mean(axis=0))
    np.testing.assert_allclose(rel, (norms / top).mean(axis=0))
    assert frac[0] == 0.0


def test_feature_survival_without_norms() -> None:
    assert feature_survival([rec(0)]) is None
