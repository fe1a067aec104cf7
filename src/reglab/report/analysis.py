"""What the report shows, computed from stored member records (pure numpy; no plotting).

Every number of the report comes from here or from :mod:`reglab.stats`; :mod:`.figures` draws
and :mod:`.html` lays them out. Members are grouped by strategy; a strategy's score on a split is
the mean over its finished members on that split (one per split in the usual protocol), and
strategies are compared on the splits they share with the corrected resampled t-test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from reglab.stats.metrics import BOUNDED_METRICS, METRIC_DIRECTIONS, bounded
from reglab.store import MemberRecord

__all__ = [
    "BOUNDED_METRICS",
    "METRIC_DIRECTIONS",
    "CurveAxes",
    "CurveBand",
    "Metric",
    "bounded",
    "by_strategy",
    "choose_metric",
    "curve_axes",
    "curve_band",
    "excess_kurtosis",
    "feature_survival",
    "is_l1_like",
    "is_l2_like",
    "overfitting_onset",
    "rebin_density",
    "split_scores",
    "split_sizes",
    "strategy_colors",
    "weight_masses",
]

_PRIMARY_ORDER = ("accuracy", "balanced_accuracy", "rmse", "r2", "mae", "mse", "roc_auc", "f1")
_LABELS = {"rmse": "RMSE", "mse": "MSE", "mae": "MAE", "r2": "R²", "roc_auc": "ROC AUC",
           "balanced_accuracy": "balanced accuracy", "log_loss": "log loss",
           "ece": "expected calibration error",
           "robust_accuracy": "robust accuracy (PGD)"}  # fmt: skip

# Tableau-like, colour-blind-friendly first; "none" is always the neutral dark grey.
_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#393b79", "#637939", "#ad494a", "#7b4173", "#f3c300", "#0f766e", "#a16207",
    "#be185d", "#4d7c0f", "#1e3a8a", "#f97316",
)  # fmt: skip
BASELINE_COLOR = "#4b5563"


@dataclass(frozen=True)
class Metric:
    """A score name with its direction and a display label.

    >>> choose_metric(["r2", "rmse"]).label, choose_metric(["r2", "rmse"]).higher_is_better
    ('RMSE', False)
    """

    name: str
    higher_is_better: bool
    label: str

    @classmethod
    def of(cls, name: str) -> Metric:
        """The metric called ``name`` (unknown names count as higher-is-better)."""
        return cls(name, METRIC_DIRECTIONS.get(name, True), _LABELS.get(name, name))


def choose_metric(names: Sequence[str], preferred: str | None = None) -> Metric:
    """The primary metric among stored score names.

    ``preferred`` (the study's own choice) wins when stored; otherwise accuracy for
    classification, then RMSE (lower is better), then R², then the first name.

    >>> choose_metric(["log_loss", "accuracy"]).name
    'accuracy'
    """
    if preferred in names:
        return Metric.of(str(preferred))
    for name in _PRIMARY_ORDER:
        if name in names:
            return Metric.of(name)
    return Metric.of(names[0]) if names else Metric.of("score")


def metric_names(members: Sequence[MemberRecord]) -> list[str]:
    """Every test-score name of ``members``, primary-order first, then alphabetical."""
    seen = {name for m in members for name in m.test_scores}
    first = [n for n in _PRIMARY_ORDER if n in seen]
    return first + sorted(seen - set(first))


def by_strategy(members: Sequence[MemberRecord]) -> dict[str, list[MemberRecord]]:
    """Members grouped by strategy name, in order of first appearance."""
    groups: dict[str, list[MemberRecord]] = {}
    for m in members:
        groups.setdefault(m.strategy, []).append(m)
    return groups


def split_scores(
    members: Sequence[MemberRecord], metric: str, *, which: str = "test"
) -> dict[int, float]:
    """``{split_id: score}``: the mean of the members' finite scores on each split.

    >>> ms = [MemberRecord("a", "l2", 0, 1, 80, 20, test_scores={"accuracy": 0.8}),
    ...       MemberRecord("b", "l2", 0, 2, 80, 20, test_scores={"accuracy": 0.9}),
    ...       MemberRecord("c", "l2", 1, 3, 80, 20, test_scores={"accuracy": 0.7})]
    >>> split_scores(ms, "accuracy")
    {0: 0.85, 1: 0.7}
    """
    values: dict[int, list[float]] = {}
    for m in members:
        scores = m.test_scores if which == "test" else m.train_scores
        v = scores.get(metric)
        if v is not None and math.isfinite(v):
            values.setdefault(m.split_id, []).append(v)
    return {k: float(np.mean(v)) for k, v in sorted(values.items())}


def split_sizes(members: Sequence[MemberRecord]) -> tuple[dict[int, int], dict[int, int]]:
    """``({split_id: n_train}, {split_id: n_test})`` from the first member seen on each split."""
    n_train: dict[int, int] = {}
    n_test: dict[int, int] = {}
    for m in members:
        n_train.setdefault(m.split_id, max(1, m.n_train))
        n_test.setdefault(m.split_id, max(1, m.n_test))
    return n_train, n_test


def _strength(config: Mapping[str, Any], key: str) -> float:
    try:
        return float(config.get(key) or 0.0)
    except (TypeError, ValueError):
        return 0.0


_L1_NAMES = ("l1", "elasticnet", "lasso")


def _name_terms(name: str) -> list[str]:
    return [t.split("=")[0].strip().lower() for t in name.split("+")]


def is_l1_like(name: str, config: Mapping[str, Any]) -> bool:
    """A strategy with an L1 term (``l1 > 0``): it can select features.

    Decided from the stored strategy config; from the name's terms when no config was stored.

    >>> is_l1_like("dropout+elasticnet", {}), is_l1_like("x", {"l1": 1e-4}), is_l1_like("l2", {})
    (True, True, False)
    """
    if "l1" in config:
        return _strength(config, "l1") > 0
    return any(t in _L1_NAMES for t in _name_terms(name))


def is_l2_like(name: str, config: Mapping[str, Any]) -> bool:
    """A pure weight-shrinking strategy: ``l2 > 0`` or weight decay, and no L1 term.

    >>> is_l2_like("l2", {"l1": 0.0, "l2": 1e-4}), is_l2_like("elasticnet", {})
    (True, False)
    """
    if is_l1_like(name, config):
        return False
    if "l2" in config or "weight_decay" in config:
        return _strength(config, "l2") > 0 or _strength(config, "weight_decay") > 0
    return any(t in ("l2", "weight-decay") for t in _name_terms(name))


def strategy_colors(names: Sequence[str], baseline: str = "none") -> dict[str, str]:
    """One colour per strategy, the same in every figure and table; ``baseline`` is grey.

    >>> strategy_colors(["l2", "none", "l1"])
    {'l2': '#1f77b4', 'none': '#4b5563', 'l1': '#ff7f0e'}
    """
    colors: dict[str, str] = {}
    i = 0
    for name in names:
        if name == baseline:
            colors[name] = BASELINE_COLOR
        else:
            colors[name] = _PALETTE[i % len(_PALETTE)]
            i += 1
    return colors


@dataclass(frozen=True)
class CurveBand:
    """A per-epoch curve across splits: median and inter-quartile band.

    ``epochs`` count from 1; ``n`` is how many members reached each epoch. The band ends where
    fewer than half the members (at least one) are still training.
    """

    epochs: np.ndarray
    median: np.ndarray
    q1: np.ndarray
    q3: np.ndarray
    n: np.ndarray


def curve_band(members: Sequence[MemberRecord], name: str) -> CurveBand | None:
    """Median and quartiles of curve ``name`` over ``members`` (``None`` when none stored).

    >>> ms = [MemberRecord(str(i), "l2", i, i, 80, 20, curves={"val_loss": [1.0, v]})
    ...       for i, v in enumerate([0.4, 0.6, 0.8])]
    >>> b = curve_band(ms, "val_loss")
    >>> b.epochs.tolist(), b.median.tolist(), b.q1.tolist(), b.q3.tolist()
    ([1, 2], [1.0, 0.6], [1.0, 0.5], [1.0, 0.7])
    """
    series = [np.asarray(m.curves[name], dtype=float) for m in members if m.curves.get(name)]
    if not series:
        return None
    length = max(len(s) for s in series)
    table = np.full((len(series), length), np.nan)
    for i, s in enumerate(series):
        table[i, : len(s)] = s
    table[~np.isfinite(table)] = np.nan
    counts = np.sum(~np.isnan(table), axis=0)
    keep = counts >= max(1, math.ceil(len(series) / 2))
    last = int(np.nonzero(keep)[0].max()) + 1 if keep.any() else 0
    if last == 0:
        return None
    table = table[:, :last]
    with np.errstate(all="ignore"):
        q1, median, q3 = np.nanpercentile(table, [25, 50, 75], axis=0)
    return CurveBand(np.arange(1, last + 1), median, q1, q3, counts[:last])


LOG_EPOCHS_FROM = 20
"""Curves at least this many epochs long are drawn on a log epoch axis."""


@dataclass(frozen=True)
class CurveAxes:
    """How the training curves are drawn so that what happens shows.

    ``log_epochs``: the longest curve spans at least :data:`LOG_EPOCHS_FROM` epochs, so the
    first epochs (where the loss falls fastest) would be squeezed on a linear axis.
    ``log_loss``: every plotted loss is positive and they span more than a factor of 10.
    ``epochs`` is the longest curve's length, ``low``/``high`` the plotted loss range.
    """

    epochs: int
    low: float
    high: float
    log_epochs: bool
    log_loss: bool


def curve_axes(bands: Sequence[CurveBand]) -> CurveAxes | None:
    """The axes for ``bands`` (``None`` when there is nothing to draw).

    >>> b = CurveBand(np.arange(1, 41), *(np.geomspace(5.0, 0.1, 40),) * 3, np.ones(40))
    >>> a = curve_axes([b])
    >>> a.epochs, a.log_epochs, a.log_loss
    (40, True, True)
    """
    if not bands:
        return None
    values = np.concatenate([np.concatenate([b.q1, b.median, b.q3]) for b in bands])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    epochs = max(int(b.epochs[-1]) for b in bands)
    low, high = float(values.min()), float(values.max())
    log_loss = low > 0 and high / low > 10
    return CurveAxes(epochs, low, high, epochs >= LOG_EPOCHS_FROM, log_loss)


def _smooth(x: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or x.size < 3:
        return x.copy()
    half = window // 2
    padded = np.pad(x, half, mode="edge")
    return np.convolve(padded, np.ones(window) / window, mode="valid")


def overfitting_onset(
    train_loss: npt.ArrayLike,
    val_loss: npt.ArrayLike,
    *,
    min_rise: float = 0.05,
    min_level_rise: float = 0.02,
) -> int | None:
    """The first epoch after which validation loss rises while training loss keeps falling.

    Both curves are smoothed with a centred moving average of ``w = max(3, n/10)`` epochs (odd,
    at most 15). The onset is the first epoch ``e`` at which the smoothed validation loss ``v``
    reaches its minimum, provided that afterwards it rises by more than ``min_rise`` of its
    range (``v[-1] − v[e] > min_rise·(max v − min v)``) and by more than ``min_level_rise`` of
    its level (``v[-1] − v[e] > min_level_rise·|v[e]|``: a curve flat after its first epochs has
    a tiny range, and wiggles within it are not overfitting), and the smoothed training loss
    still falls (``t[-1] < t[e]``). Returns the 0-based epoch, or ``None`` when no such onset
    exists.

    >>> epochs = np.arange(60)
    >>> train = np.exp(-epochs / 20)
    >>> val = 0.5 + 0.001 * (epochs - 25) ** 2
    >>> overfitting_onset(train, val)
    25
    >>> overfitting_onset(train, 0.5 + np.exp(-epochs / 20)) is None
    True
    >>> flat = 0.5 + 0.001 * ((epochs - 25) / 35) ** 2  # its lowest at 25, then 0.2 % higher
    >>> overfitting_onset(train, flat, min_level_rise=0.0), overfitting_onset(train, flat)
    (25, None)
    """
    t = np.asarray(train_loss, dtype=float)
    v = np.asarray(val_loss, dtype=float)
    n = min(t.size, v.size)
    if n < 4 or not (np.all(np.isfinite(t[:n])) and np.all(np.isfinite(v[:n]))):
        return None
    t, v = t[:n], v[:n]
    window = min(15, max(3, n // 10))
    window += 1 - window % 2
    st, sv = _smooth(t, window), _smooth(v, window)
    onset = int(np.argmin(sv))
    spread = float(sv.max() - sv.min())
    if onset >= n - 1 or spread <= 0:
        return None
    rise = float(sv[-1] - sv[onset])
    if rise <= min_rise * spread or rise <= min_level_rise * abs(float(sv[onset])):
        return None
    if not st[-1] < st[onset]:
        return None
    return onset


def rebin_density(edges: Sequence[float], counts: Sequence[float], grid: np.ndarray) -> np.ndarray:
    """A histogram's mass moved onto the bins of ``grid`` (uniform within each source bin).

    The cumulative mass ``F`` is piecewise linear between the source ``edges``; the mass of grid
    bin ``j`` is ``F(grid[j+1]) − F(grid[j])``. Returns the probability mass per grid bin (sums
    to the fraction of mass inside the grid; all zeros for an empty histogram). A degenerate
    histogram (all edges equal) puts its mass in the grid bin containing that value.

    >>> rebin_density([0.0, 1.0, 2.0], [1, 3], np.array([0.0, 0.5, 1.0, 2.0]))
    array([0.125, 0.125, 0.75 ])
    """
    e = np.asarray(edges, dtype=float)
    c = np.asarray(counts, dtype=float)
    total = float(c.sum())
    out = np.zeros(grid.size - 1)
    if total <= 0 or e.size < 2:
        return out
    if not np.all(np.diff(e) > 0):
        if float(np.ptp(e)) == 0.0:
            j = int(np.clip(np.searchsorted(grid, e[0], side="right") - 1, 0, out.size - 1))
            out[j] = 1.0
            return out
        e = np.maximum.accumulate(e) + np.arange(e.size) * 1e-12 * max(1.0, float(np.ptp(e)))
    cdf = np.concatenate([[0.0], np.cumsum(c)]) / total
    return np.diff(np.interp(grid, e, cdf))


def excess_kurtosis(edges: Sequence[float], counts: Sequence[float]) -> float:
    """Excess kurtosis ``m₄/σ⁴ − 3`` of a histogram (bin centres weighted by counts).

    A Gaussian has 0, a Laplace distribution 3: L2 keeps weights near-Gaussian, L1 makes them
    peaked at zero with heavy tails. NaN for an empty or constant histogram.

    >>> e = np.linspace(-20, 20, 4001)
    >>> laplace = np.where(e < 0, 0.5 * np.exp(e), 1 - 0.5 * np.exp(-e))
    >>> gauss = 0.5 * (1 + np.vectorize(math.erf)(e / math.sqrt(2)))
    >>> round(excess_kurtosis(e, np.diff(laplace)), 2), round(excess_kurtosis(e, np.diff(gauss)), 2)
    (3.0, 0.0)
    """
    e = np.asarray(edges, dtype=float)
    c = np.asarray(counts, dtype=float)
    if c.sum() <= 0 or e.size != c.size + 1:
        return math.nan
    x = (e[:-1] + e[1:]) / 2
    p = c / c.sum()
    mean = float(p @ x)
    var = float(p @ (x - mean) ** 2)
    if var <= 0:
        return math.nan
    return float(p @ (x - mean) ** 4) / var**2 - 3.0


def feature_survival(
    members: Sequence[MemberRecord], *, rel_threshold: float = 1e-3
) -> tuple[np.ndarray, np.ndarray] | None:
    """How often each input feature survived, and its mean relative norm.

    A feature survives in a member when its first-layer weight norm exceeds ``rel_threshold``
    times the member's largest feature norm (exact zeros never survive). Returns
    ``(fraction of members, mean of norm / max norm)`` per feature, over the members whose
    stored norms have the most common length; ``None`` when no member stored norms.

    >>> ms = [MemberRecord(str(i), "l1", i, i, 80, 20, feature_norms=n)
    ...       for i, n in enumerate([[2.0, 0.0, 1e-5], [1.0, 0.5, 0.0]])]
    >>> frac, rel = feature_survival(ms)
    >>> frac.tolist(), rel.tolist()
    ([1.0, 0.5, 0.0], [1.0, 0.25, 2.5e-06])
    """
    norms = [np.asarray(m.feature_norms, dtype=float) for m in members if m.feature_norms]
    if not norms:
        return None
    lengths = [n.size for n in norms]
    common = max(set(lengths), key=lengths.count)
    table = np.stack([np.abs(n) for n in norms if n.size == common])
    table[~np.isfinite(table)] = 0.0
    top = table.max(axis=1, keepdims=True)
    rel = np.divide(table, top, out=np.zeros_like(table), where=top > 0)
    survived = (table > rel_threshold * top) & (table > 0)
    return survived.mean(axis=0), rel.mean(axis=0)


def weight_masses(
    groups: Mapping[str, Sequence[MemberRecord]], *, bins: int = 81
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
    """Every strategy's mean weight distribution per layer, on one grid per layer.

    The grid of a layer spans ``±max|edge|`` over all stored histograms of that layer in
    ``bins`` equal bins (odd, so one bin is centred on zero); each member's histogram is moved
    onto it with :func:`rebin_density` and a strategy's distribution is the mean over its
    members. Returns ``({layer: grid edges}, {layer: {strategy: mass per bin}})``.

    >>> ms = {"l2": [MemberRecord("a", "l2", 0, 1, 8, 2, weight_hist={"dense": ([-1, 0, 1], [1, 3])})]}
    >>> grids, masses = weight_masses(ms, bins=3)
    >>> grids["dense"].round(3).tolist(), masses["dense"]["l2"].round(3).tolist()
    ([-1.0, -0.333, 0.333, 1.0], [0.167, 0.333, 0.5])
    """  # noqa: E501
    reach: dict[str, float] = {}
    for members in groups.values():
        for m in members:
            for layer, (edges, _) in m.weight_hist.items():
                finite = [abs(e) for e in edges if math.isfinite(e)]
                if finite:
                    reach[layer] = max(reach.get(layer, 0.0), max(finite))
    grids = {layer: np.linspace(-r, r, bins + 1) if r > 0 else np.linspace(-1, 1, bins + 1)
             for layer, r in reach.items()}  # fmt: skip
    masses: dict[str, dict[str, np.ndarray]] = {layer: {} for layer in grids}
    for name, members in groups.items():
        for layer, grid in grids.items():
            rows = [
                rebin_density(m.weight_hist[layer][0], m.weight_hist[layer][1], grid)
                for m in members
                if layer in m.weight_hist
            ]
            if rows:
                masses[layer][name] = np.mean(rows, axis=0)
    return grids, masses
