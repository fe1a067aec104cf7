"""The report's figures, drawn with matplotlib (Agg) and returned as inline PNG data URIs.

matplotlib is imported lazily, only here, and used through :class:`matplotlib.figure.Figure`
(no pyplot, no global backend switch). Figures are PNG rather than SVG so that no text of the
study (strategy or feature names) can reach the page as markup; text passed to matplotlib has
``$`` escaped so a name is never read as mathtext. Each function returns ``None`` when there is
nothing to draw. Colours come from :attr:`Digest.colors`, the same in every figure and table.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from reglab.errors import ReglabError
from reglab.report.analysis import BASELINE_COLOR, CurveBand, bounded, curve_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from reglab.report.digest import Digest

__all__ = [
    "curve_panels",
    "feature_heatmap",
    "figure_uri",
    "filter_mosaic",
    "filter_tiles",
    "score_strips",
    "weight_overlay",
    "weight_panels",
]

DPI = 96
_STYLE: Any = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9ca3af",
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.8,
    "xtick.color": "#374151",
    "ytick.color": "#374151",
    "legend.frameon": False,
    "figure.facecolor": "white",
    "svg.fonttype": "path",
}
_LAYER_STYLES: tuple[Any, ...] = (
    "-", "--", ":", "-.", (0, (6, 1, 1, 1, 1, 1)), (0, (10, 3)), (0, (1, 4)), (0, (4, 1, 4, 4)),
)  # fmt: skip
"""Line styles of a strategy's layers (eight distinct ones: a CNN has conv and dense layers)."""


def text(value: object, limit: int = 40) -> str:
    """A user string made safe for matplotlib: ``$`` escaped (no mathtext), long ones cut.

    >>> text("cost_$"), text("a" * 50, limit=10)
    ('cost_\\\\$', 'aaaaaaaaa…')
    """
    s = str(value).replace("\n", " ")
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s.replace("$", r"\$")


@contextmanager
def _figure(width: float, height: float, *, constrained: bool = True) -> Iterator[Figure]:
    """A styled figure; grids of many panels pass ``constrained=False`` and place themselves
    (constrained layout measures every tick label again and again: seconds for 15 panels)."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError as err:  # a core dependency, but say what to do if it is missing
        raise ReglabError(
            "reglab.report: matplotlib is needed to draw the report's figures; install it "
            "with `pip install matplotlib`."
        ) from err

    with matplotlib.rc_context(_STYLE):
        yield Figure(
            figsize=(width, height), dpi=DPI, layout="constrained" if constrained else None
        )


def _grid_margins(fig: Figure, *, left: float, bottom: float, top: float = 0.3) -> None:
    """Margins in inches for a panel grid laid out without constrained layout."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=left / w, right=1 - 0.15 / w, bottom=bottom / h, top=1 - top / h,
                        wspace=0.12, hspace=0.45)  # fmt: skip


def _log_y(ax: Axes) -> None:
    from matplotlib.ticker import LogLocator, NullLocator

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, numticks=5))
    ax.yaxis.set_minor_locator(NullLocator())


def figure_uri(fig: Figure) -> str:
    """The figure as a ``data:image/png;base64,…`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def score_strips(d: Digest) -> str | None:
    """Every split's test score as a dot per strategy, with the mean and its interval.

    Strategies run top to bottom in rank order. The thick bar is the corrected 95% interval,
    the black tick the mean, the dashed line the baseline's mean.
    """
    scores = d.scores.get(d.metric.name, {})
    names = [r.strategy for r in d.ranking if r.strategy in scores]
    if not names:
        return None
    summaries = d.summaries[d.metric.name]
    rng = np.random.default_rng(0)
    with _figure(9.0, 0.42 * len(names) + 1.1) as fig:
        ax = fig.subplots()
        for i, name in enumerate(names):
            y = len(names) - 1 - i
            color = d.colors[name]
            s = summaries[name]
            if math.isfinite(s.ci_low):
                ci = bounded(d.metric.name, s.ci_low, s.ci_high)
                ax.plot(ci, [y, y], color=color, lw=7, alpha=0.25, solid_capstyle="butt")
            values = np.fromiter(scores[name].values(), dtype=float)
            jitter = rng.uniform(-0.18, 0.18, size=values.size)
            ax.scatter(values, y + jitter, s=22, color=color, alpha=0.85, edgecolors="white",
                       linewidths=0.6, zorder=3)  # fmt: skip
            ax.plot([s.mean, s.mean], [y - 0.3, y + 0.3], color="#111827", lw=2, zorder=4)
        if d.baseline in summaries:
            ax.axvline(summaries[d.baseline].mean, color=BASELINE_COLOR, ls="--", lw=1)
        ax.set_yticks(range(len(names)), [text(n) for n in reversed(names)])
        ax.set_ylim(-0.6, len(names) - 0.4)
        ax.grid(axis="y", visible=False)
        better = "higher" if d.metric.higher_is_better else "lower"
        ax.set_xlabel(f"test {text(d.metric.label)} per split ({better} is better)")
        if d.unit:  # accuracies: percent, as in the tables
            from matplotlib.ticker import PercentFormatter

            ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        return figure_uri(fig)


def _band(ax: Axes, band: CurveBand, color: str, style: str) -> None:
    ax.fill_between(band.epochs, band.q1, band.q3, color=color, alpha=0.15, lw=0)
    ax.plot(band.epochs, band.median, color=color, ls=style, lw=1.6)


def curve_panels(
    d: Digest,
    bands: Mapping[str, tuple[CurveBand | None, CurveBand | None]],
    onset: int | None,
) -> str | None:
    """Training (solid) and validation (dashed) loss per strategy, one panel each.

    Medians across splits with inter-quartile bands; a dotted line marks the mean best
    (restored) epoch; on the baseline's panel a red line marks the overfitting onset
    (``onset``, 0-based, as from :func:`~reglab.report.analysis.overfitting_onset`). Axes as
    :func:`~reglab.report.analysis.curve_axes` decides: log epochs for long runs, log loss when
    the loss spans more than a factor of 10.
    """
    names = [n for n in d.strategies if n in bands and any(b is not None for b in bands[n])]
    axes_plan = curve_axes([b for n in names for b in bands[n] if b is not None])
    if not names or axes_plan is None:
        return None
    ncols = min(4, len(names))
    nrows = math.ceil(len(names) / ncols)
    tops = [
        np.nanmax(b.median[1:] if b.median.size > 1 else b.median)
        for n in names
        for b in bands[n]
        if b is not None
    ]
    with _figure(2.6 * ncols + 0.6, 2.1 * nrows + 0.6, constrained=False) as fig:
        axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False))
        _grid_margins(fig, left=0.6, bottom=0.45)
        for ax in axes.ravel()[len(names) :]:
            ax.set_visible(False)
        for ax, name in zip(axes.ravel(), names, strict=False):
            color = d.colors[name]
            train, val = bands[name]
            if train is not None:
                _band(ax, train, color, "-")
            if val is not None:
                _band(ax, val, color, "--")
            best = d.facts[name].mean_best_epoch if name in d.facts else None
            if best is not None:
                ax.axvline(best, color="#111827", ls=":", lw=1.2)
            if name == d.baseline and onset is not None:
                ax.axvline(onset + 1, color="#dc2626", lw=1.4)
                ax.annotate(f"overfitting\nfrom epoch {onset + 1}", (onset + 1, 1.0),
                            xycoords=("data", "axes fraction"), xytext=(4, -4),
                            textcoords="offset points", va="top", color="#dc2626",
                            fontsize=8)  # fmt: skip
            ax.set_title(text(name, 32), color=color, fontweight="bold")
        first = axes[0, 0]
        if axes_plan.log_loss:
            _log_y(first)
            first.set_ylim(axes_plan.low / 1.15, axes_plan.high * 1.15)
            if axes_plan.high / axes_plan.low < 100:  # one or two decades: 1-2-5 ticks
                from matplotlib.ticker import LogLocator, StrMethodFormatter

                first.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
                first.yaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
        elif np.isfinite(tops).any():
            # linear: the first epoch's loss would flatten the rest; the band may leave the top
            low, top = axes_plan.low, float(np.nanmax(tops))
            pad = 0.05 * (top - low) if top > low else 0.1
            first.set_ylim(max(low - pad, 0.0) if low >= 0 else low - pad, top + pad)
        if axes_plan.log_epochs:
            _log_epochs(first, axes_plan.epochs)
        else:
            first.set_xlim(1, max(2, axes_plan.epochs))
        label = "epoch (log scale)" if axes_plan.log_epochs else "epoch"
        for ax in axes.ravel()[max(0, len(names) - ncols) : len(names)]:
            ax.set_xlabel(label)
            ax.xaxis.set_tick_params(labelbottom=True)
        for ax in axes[:, 0]:
            ax.set_ylabel("loss (log scale)" if axes_plan.log_loss else "loss")
        return figure_uri(fig)


def _log_epochs(ax: Axes, epochs: int) -> None:
    """A log epoch axis from 1 to ``epochs`` with plain 1, 2, 5, 10, 20, 50, … ticks."""
    from matplotlib.ticker import FixedLocator, NullLocator, StrMethodFormatter

    ax.set_xscale("log")
    ax.set_xlim(1, epochs * 1.05)
    ticks = [m * 10**k for k in range(7) for m in (1, 2, 5) if m * 10**k <= epochs]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:.0f}"))
    ax.xaxis.set_minor_locator(NullLocator())


def _layer_axes(fig: Figure, n: int, ncols: int) -> list[Axes]:
    nrows = math.ceil(n / ncols)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return list(axes[:n])


def _density_line(
    ax: Axes, grid: np.ndarray, mass: np.ndarray, **kw: Any
) -> None:  # fmt: skip
    width = np.diff(grid)
    dens = np.where(mass > 0, mass / np.where(width > 0, width, 1.0), np.nan)
    ax.step(grid[:-1], dens, where="post", **kw)


def weight_overlay(
    d: Digest,
    grids: Mapping[str, np.ndarray],
    masses: Mapping[str, Mapping[str, np.ndarray]],
    l1_like: Sequence[str],
    l2_like: Sequence[str],
) -> str | None:
    """Per layer: the baseline's weight density against L1-like (solid) and L2-like (dashed).

    Densities are on a log scale so the tails show: L2 keeps a Gaussian-like bell (a parabola
    in log scale), L1 a sharper peak at zero with straight (Laplace-like) flanks.
    """
    layers = [layer for layer in grids if masses.get(layer)]
    shown = [n for n in d.strategies if n == d.baseline or n in l1_like or n in l2_like]
    if not layers or not shown:
        return None
    ncols = min(3, len(layers))
    with _figure(3.4 * ncols + 0.6, 2.7 * math.ceil(len(layers) / ncols) + 0.7) as fig:
        for ax, layer in zip(_layer_axes(fig, len(layers), ncols), layers, strict=True):
            for name in shown:
                mass = masses[layer].get(name)
                if mass is None:
                    continue
                style = "--" if name in l2_like else "-"
                lw = 2.4 if name == d.baseline else 1.4
                _density_line(ax, grids[layer], mass, color=d.colors[name], ls=style, lw=lw,
                              label=text(name, 28))  # fmt: skip
            _log_y(ax)
            ax.set_title(text(layer))
            ax.set_xlabel("weight")
            ax.set_ylabel("density (log)")
        fig.legend(*fig.axes[0].get_legend_handles_labels(), loc="outside lower center",
                   ncols=min(6, len(shown)))  # fmt: skip
        return figure_uri(fig)


def weight_panels(
    d: Digest, grids: Mapping[str, np.ndarray], masses: Mapping[str, Mapping[str, np.ndarray]]
) -> str | None:
    """One small panel per strategy: its weight density per layer (line style per layer)."""
    layers = list(grids)
    names = [n for n in d.strategies if any(n in masses.get(layer, {}) for layer in layers)]
    if not names or not layers:
        return None
    ncols = min(5, len(names))
    nrows = math.ceil(len(names) / ncols)
    with _figure(2.2 * ncols + 0.6, 1.75 * nrows + 0.8, constrained=False) as fig:
        axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
        _grid_margins(fig, left=0.55, bottom=0.75)
        for ax in axes[len(names) :]:
            ax.set_visible(False)
        for ax, name in zip(axes, names, strict=False):
            for i, layer in enumerate(layers):
                mass = masses.get(layer, {}).get(name)
                if mass is not None:
                    _density_line(ax, grids[layer], mass, color=d.colors[name], lw=1.2,
                                  ls=_LAYER_STYLES[i % len(_LAYER_STYLES)],
                                  label=text(layer, 20))  # fmt: skip
            _log_y(ax)
            ax.set_title(text(name, 26), color=d.colors[name], fontweight="bold", fontsize=9)
            ax.tick_params(labelsize=7)
        handles = [
            _line(fig, style=_LAYER_STYLES[i % len(_LAYER_STYLES)], label=text(layer, 20))
            for i, layer in enumerate(layers)
        ]
        fig.legend(handles=handles, loc="lower center", ncols=min(6, len(layers)))
        return figure_uri(fig)


def _line(fig: Figure, *, style: Any, label: str) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([], [], color="#374151", ls=style, label=label)


def feature_heatmap(
    feature_names: Sequence[str],
    survival: Mapping[str, np.ndarray],
    colors: Mapping[str, str],
    *,
    limit: int = 60,
) -> str | None:
    """Fraction of splits in which each feature survived, per feature-selecting strategy.

    Rows are features, least often kept first (at most ``limit``): the features a strategy
    dropped, or kept only sometimes, are the interesting ones. Columns are strategies.
    """
    names = list(survival)
    if not names:
        return None
    table = np.stack([survival[n] for n in names], axis=1)
    order = np.lexsort((np.arange(table.shape[0]), table.mean(axis=1)))[:limit]
    table = table[order]
    rows = [text(feature_names[i], 28) for i in order]
    with _figure(1.4 + 0.9 * len(names) + 1.6, max(2.6, 0.2 * len(rows) + 1.5)) as fig:
        ax = fig.subplots()
        image = ax.imshow(table, aspect="auto", cmap="Blues", vmin=0.0, vmax=1.0,
                          interpolation="nearest")  # fmt: skip
        ax.set_yticks(range(len(rows)), rows, fontsize=7.5)
        ax.set_xticks(range(len(names)), [text(n, 18) for n in names], rotation=30, ha="right")
        for tick, name in zip(ax.get_xticklabels(), names, strict=True):
            tick.set_color(colors.get(name, "#111827"))
        ax.grid(False)
        if table.size <= 600:
            for (i, j), v in np.ndenumerate(table):
                ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=6.5,
                        color="white" if v > 0.6 else "#111827")  # fmt: skip
        fig.colorbar(image, ax=ax, shrink=0.6, label="kept in share of splits")
        return figure_uri(fig)


def filter_mosaic(
    filters: Mapping[str, np.ndarray], limit: int = 8
) -> tuple[list[str], np.ndarray, float, tuple[int, int, int]] | None:
    """The tiles of :func:`filter_tiles` as one array: ``(names, mosaic, bound, (kh, kw, gap))``.

    Row block ``i`` (rows from ``i·(kh + gap)``) holds strategy ``names[i]``'s first ``limit``
    filters side by side (filter ``j`` from column ``j·(kw + gap)``), each the mean over its
    input channels; the ``gap`` between tiles is NaN. ``bound`` is the largest finite ``|w|``
    shown (1 when all are 0): the colour scale is ``[−bound, bound]``. ``None`` when no
    strategy has a filter.
    """
    tiles = {
        name: np.asarray(k, dtype=np.float64)[:limit].mean(axis=1)
        for name, k in filters.items()
        if np.ndim(k) == 4 and np.shape(k)[0] > 0
    }
    if not tiles:
        return None
    finite = [np.abs(t[np.isfinite(t)]) for t in tiles.values()]
    largest = max((float(a.max()) for a in finite if a.size), default=0.0)
    bound = largest if largest > 0 else 1.0
    ncols = max(t.shape[0] for t in tiles.values())
    kh = max(t.shape[1] for t in tiles.values())
    kw = max(t.shape[2] for t in tiles.values())
    gap = max(1, round(max(kh, kw) / 5))
    dy, dx = kh + gap, kw + gap
    mosaic = np.full((len(tiles) * dy - gap, ncols * dx - gap), np.nan)
    for i, tile in enumerate(tiles.values()):
        for j, f in enumerate(tile):
            mosaic[i * dy : i * dy + f.shape[0], j * dx : j * dx + f.shape[1]] = f
    return list(tiles), mosaic, bound, (kh, kw, gap)


def filter_tiles(
    filters: Mapping[str, np.ndarray], colors: Mapping[str, str], *, limit: int = 8
) -> str | None:
    """One row per strategy: its first-layer conv filters as grey-scale tiles.

    ``filters`` maps a strategy to a kernel ``[n, C, kh, kw]``; at most ``limit`` filters are
    drawn, a filter of ``C > 1`` input channels as the mean over its channels (its response to
    a grey image). Every tile shares one symmetric colour scale ``[−m, m]`` with ``m`` the
    largest ``|w|`` shown (black −m, mid-grey 0, white +m), so a strategy that shrinks its
    filters looks flatter than one that does not. The tiles are one mosaic (one image, white
    gaps), so that many strategies draw as fast as one.
    """
    found = filter_mosaic(filters, limit)
    if found is None:
        return None
    names, mosaic, bound, (kh, kw, gap) = found
    ncols = (mosaic.shape[1] + gap) // (kw + gap)
    left, cell, bar = 1.5, 0.8, 0.9
    width, height = left + cell * ncols + bar, cell * len(names) + 0.55
    with _figure(width, height, constrained=False) as fig:
        from matplotlib import colormaps
        from matplotlib.collections import PatchCollection
        from matplotlib.patches import Rectangle

        ax = fig.add_axes((left / width, 0.15 / height, cell * ncols / width, 1 - 0.55 / height))
        cmap = colormaps["gray"].with_extremes(bad="white")
        image = ax.imshow(mosaic, cmap=cmap, vmin=-bound, vmax=bound, interpolation="nearest",
                          aspect="auto")  # fmt: skip
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        frames = [  # a thin frame per tile, so that white weights stand out of the white gaps
            Rectangle((c - 0.5, r - 0.5), kw, kh)
            for r in range(0, mosaic.shape[0], kh + gap)
            for c in range(0, mosaic.shape[1], kw + gap)
            if not np.isnan(mosaic[r : r + kh, c : c + kw]).all()
        ]
        ax.add_collection(PatchCollection(frames, facecolor="none", edgecolor="#9ca3af", lw=0.6))
        centres = [j * (kw + gap) + (kw - 1) / 2 for j in range(ncols)]
        ax.set_xticks(centres, [str(j) for j in range(ncols)])
        ax.xaxis.tick_top()
        ax.tick_params(length=0, labelsize=8, labelcolor="#6b7280")
        rows = [i * (kh + gap) + (kh - 1) / 2 for i in range(len(names))]
        ax.set_yticks(rows, [text(n, 22) for n in names])
        for label, name in zip(ax.get_yticklabels(), names, strict=True):
            label.set_color(colors.get(name, "#111827"))
            label.set_fontweight("bold")
            label.set_fontsize(9)
        cax = fig.add_axes((1 - (bar - 0.15) / width, 0.15 / height, 0.14 / width,
                            1 - 0.55 / height))  # fmt: skip
        fig.colorbar(image, cax=cax).ax.tick_params(labelsize=7)
        return figure_uri(fig)
