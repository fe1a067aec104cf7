"""The report's strength-path section: the CV curve, as ``cv.glmnet``'s plot shows a lasso path.

Shown first in the report of a study made by ``reglab path``. Every number comes from
:func:`reglab.study.path.analyze_path`, the path's one analysis (the terminal and ``--json``
present the same :class:`~reglab.study.path.PathResult`); this module only draws and lays out.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from reglab.errors import ReglabError
from reglab.report import figures
from reglab.report.analysis import BASELINE_COLOR
from reglab.report.digest import Digest
from reglab.report.markup import esc, img, num
from reglab.stats.metrics import PERCENT_METRICS
from reglab.study.path import PathResult, analyze_path, format_strength

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["is_path", "path_figure", "path_section"]

_CURVE = "#b91c1c"
_BEST = "#1d4ed8"
_ONE_SE = "#15803d"


def is_path(d: Digest) -> bool:
    """Whether the study is a strength path (``reglab path`` stored its description)."""
    return isinstance(d.result.metadata.get("path"), dict)


def _axis(ax: Axes, path: PathResult) -> None:
    """The strength axis: log or linear, stronger always to the right."""
    tech = path.technique
    if tech.scale == "log":
        ax.set_xscale("log")
    if tech.stronger == "smaller":
        ax.invert_xaxis()
    scale = "log scale" if tech.scale == "log" else "linear"
    ax.set_xlabel(
        f"{figures.text(tech.label)} ({scale}; {path.direction}: stronger to the right →)"
    )


def path_figure(path: PathResult) -> str | None:
    """The CV curve (mean ± 1 SE per strength) with the best strength and the 1-SE choice as
    vertical lines; ``none`` as a grey reference (a point at 0 on a rate axis, a dashed line
    and band on a log axis); below it, for L1-like techniques, the surviving input features."""
    grid = [p for p in path.points if not p.is_reference and math.isfinite(p.mean)]
    ref = next((p for p in path.points if p.is_reference and math.isfinite(p.mean)), None)
    if not grid:
        return None
    tech = path.technique
    linear = tech.scale == "linear"
    pct = 100.0 if path.metric in PERCENT_METRICS else 1.0
    features = tech.features and any(p.features is not None for p in path.points)
    with figures._figure(9.0, 5.6 if features else 4.2) as fig:
        if features:
            top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1.3))
        else:
            top, bottom = fig.subplots(), None
        shown = grid + ([ref] if ref is not None and linear else [])
        shown.sort(key=lambda p: p.strength or 0.0)
        x = np.array([p.strength or 0.0 for p in shown])
        y = np.array([p.mean for p in shown]) * pct
        se = np.nan_to_num(np.array([p.se for p in shown])) * pct
        top.errorbar(x, y, yerr=se, fmt="o", color=_CURVE, ecolor="#9ca3af", elinewidth=1.2,
                     capsize=3, ms=5, zorder=3, label="mean ± 1 SE over splits")  # fmt: skip
        top.plot(x, y, color=_CURVE, lw=1, alpha=0.5)
        if ref is not None:
            m, s = ref.mean * pct, (0.0 if math.isnan(ref.se) else ref.se) * pct
            if linear:
                top.plot([0.0], [m], "o", color=BASELINE_COLOR, ms=7, zorder=4,
                         label=f"none (rate 0): {path.score(ref.mean)}")  # fmt: skip
            else:
                top.axhline(m, color=BASELINE_COLOR, ls="--", lw=1.2,
                            label=f"none (no regularization): {path.score(ref.mean)}")  # fmt: skip
                top.axhspan(m - s, m + s, color=BASELINE_COLOR, alpha=0.08, lw=0)
        chance = [p for p in grid if p.n_chance]
        if chance:
            top.plot([p.strength for p in chance], [p.mean * pct for p in chance], "x",
                     color="#111827", ms=8, zorder=5,
                     label="some models learned nothing")  # fmt: skip
        for point, color, what in ((path.best, _BEST, "best"), (path.one_se, _ONE_SE, "1-SE")):
            if point is None or point.is_reference:
                continue
            for ax in (top, bottom):
                if ax is not None:
                    ax.axvline(point.strength or 0.0, color=color, ls=":", lw=1.6)
            top.annotate(f"{what}: {format_strength(point.strength)}",
                         xy=(point.strength or 0.0, 1.0), xycoords=("data", "axes fraction"),
                         xytext=(3, -12 if what == "best" else -26), textcoords="offset points",
                         color=color, fontsize=8.5, fontweight="bold")  # fmt: skip
        better = "higher" if path.higher_is_better else "lower"
        unit = " (%)" if pct == 100.0 else ""
        top.set_ylabel(f"test {figures.text(path.metric.replace('_', ' '))}{unit}, {better} "
                       "is better")  # fmt: skip
        top.legend(loc="best", fontsize=8)
        if bottom is not None:
            fx = [p.strength for p in grid if p.features is not None]
            fy = [p.features for p in grid if p.features is not None]
            bottom.plot(fx, fy, "s-", color="#374151", ms=4, lw=1.2)
            if path.n_inputs:
                bottom.axhline(path.n_inputs, color="#9ca3af", ls="--", lw=1)
                bottom.set_ylim(0, path.n_inputs * 1.08)
            bottom.set_ylabel("surviving\ninputs")
            _axis(bottom, path)
        else:
            _axis(top, path)
        return figures.figure_uri(fig)


def path_section(d: Digest) -> str:
    """The section: the choice in words, warnings, the figure and the curve's table."""
    try:
        path = analyze_path(d.result)
    except (ReglabError, KeyError, TypeError, ValueError) as err:  # a hand-edited store
        return f'<p class="muted">The stored path cannot be read: {esc(err)}</p>'
    lines = path.lines()
    said = [ln for ln in lines if not ln.startswith("warning: ")]
    head, rest = said[:2], said[2:]
    warnings = "".join(
        f'<li class="notice" data-notice="path-warning">{esc(w)}</li>' for w in path.warnings
    )
    tech = path.technique
    feature_head = "<th>surviving inputs</th>" if tech.features else ""
    rows = []
    for p in path.points:
        marks = [m for m, q in (("best", path.best), ("1-SE choice", path.one_se)) if p is q]
        name = "none" if p.is_reference else format_strength(p.strength)
        features = ""
        if tech.features:
            features = "<td>—</td>" if p.features is None else f"<td>{p.features:.1f}</td>"
        chance = f" ({p.n_chance} at chance)" if p.n_chance else ""
        failed = f", {p.n_failed} failed" if p.n_failed else ""
        rows.append(
            f'<tr data-strategy="{esc(p.strategy)}"><td>{esc(name)}</td>'
            f"<td>{num(p.mean, 'mean', path.score(p.mean))}</td>"
            f"<td>{num(p.se, 'se', path.score(p.se))}</td>"
            f"<td>{p.n_splits}{esc(chance + failed)}</td>{features}"
            f"<td><b>{esc(', '.join(marks))}</b></td></tr>"
        )
    splits = max((p.n_splits for p in path.points), default=0)
    return (
        '<p class="callout headline" data-path="choice">'
        + "<br>".join(esc(line) for line in head)
        + "</p>"
        + (f'<ul class="notices">{warnings}</ul>' if warnings else "")
        + "".join(f"<p>{esc(line)}</p>" for line in rest)
        + img(path_figure(path), f"cross-validated {tech.label} path", "No strength was scored.")
        + f'<p class="muted">Each point is the mean test {esc(path.metric)} over {splits} '
        "splits, its bar one standard error (the split scores' sample standard deviation / "
        "√splits, as glmnet's cv.glmnet). The 1-SE choice is the strongest regularization "
        "whose mean is within one standard error of the best mean: as good within the noise "
        "of cross-validation, and simpler."
        + (
            " Surviving inputs: the mean over splits of the input features whose first-layer "
            "weight norm exceeds 1e-3 of the largest (as in Selected features below)."
            if tech.features
            else ""
        )
        + "</p>"
        + f'<div class="scroll"><table class="path"><thead><tr><th>{esc(tech.key)}</th>'
        f"<th>test {esc(path.metric)}</th><th>± SE</th><th>splits</th>{feature_head}<th></th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
