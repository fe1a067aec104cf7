"""The page of a strength search (``reglab tune``): strength curves, the answer, the history.

One self-contained HTML page (inline PNG, no script), a pure function of a
:class:`~reglab.study.tune_result.TuneResult`: every number comes from
:func:`~reglab.study.tune_result.analyze_tune`, the one analysis the terminal and ``--json``
show. Per searched strength, a panel plots each trial's cross-validated score against the
strength (log axis for log-scaled ranges), as the path report plots its CV curve: complete
trials as dots, pruned ones as crosses, the best with its corrected 95% interval, the trials
within noise of the best ringed, and the range's edges as dashed lines.
"""

from __future__ import annotations

import math
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reglab._numbers import format_number
from reglab._outputs import check_output, write_atomic
from reglab.report import figures
from reglab.report.html import _CSP, _CSS, _version
from reglab.report.markup import esc, img
from reglab.stats.metrics import PERCENT_METRICS

if TYPE_CHECKING:
    from reglab.study.tune_result import TuneResult

__all__ = ["render_tune_report", "strength_figure", "write_tune_report"]

_TRIAL = "#b91c1c"
_BEST = "#1d4ed8"
_TIE = "#15803d"


def strength_figure(result: TuneResult) -> str | None:
    """Score against each searched strength, one panel per dimension (a PNG data URI)."""
    dims = result.space.dims
    shown = [t for t in result.trials if math.isfinite(t.value)]
    if not dims or not shown:
        return None
    pct = 100.0 if result.metric in PERCENT_METRICS else 1.0
    cols = min(3, len(dims))
    rows = math.ceil(len(dims) / cols)
    ties = {t.number for t in result.ties}
    with figures._figure(3.6 * cols + 0.6, 3.0 * rows + 0.4) as fig:
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, d in zip(axes, dims, strict=False):
            pts = [(float(t.params[d.name]), t.value * pct, t) for t in shown
                   if isinstance(t.params.get(d.name), int | float)]  # fmt: skip
            done = [(x, y) for x, y, t in pts if t.state == "complete"]
            pruned = [(x, y) for x, y, t in pts if t.state == "pruned"]
            tied = [(x, y) for x, y, t in pts if t.number in ties]
            if done:
                ax.plot(*zip(*done, strict=True), "o", color=_TRIAL, ms=4, alpha=0.6,
                        label="trial (mean over splits)")  # fmt: skip
            if pruned:
                ax.plot(*zip(*pruned, strict=True), "x", color="#6b7280", ms=5,
                        label="pruned")  # fmt: skip
            if tied:
                ax.plot(*zip(*tied, strict=True), "o", mfc="none", mec=_TIE, ms=8, mew=1.4,
                        label="within noise of the best")  # fmt: skip
            b = result.best
            if b is not None and d.name in b.params:
                x = float(b.params[d.name])
                lo, hi = result.ci
                yerr = [[(b.value - lo) * pct], [(hi - b.value) * pct]]
                if math.isfinite(lo) and math.isfinite(hi):
                    ax.errorbar([x], [b.value * pct], yerr=yerr, fmt="*", color=_BEST, ms=12,
                                capsize=4, zorder=5, label="best, 95% interval")  # fmt: skip
                else:
                    ax.plot([x], [b.value * pct], "*", color=_BEST, ms=12, zorder=5, label="best")
            for bound in (d.low, d.high):
                if bound > 0 or not d.log:
                    ax.axvline(bound, color="#9ca3af", ls="--", lw=1)
            if d.log:
                ax.set_xscale("log")
            ax.set_xlabel(f"{figures.text(d.name)} ({'log' if d.log else 'linear'} scale)")
            ax.set_ylabel(f"test {figures.text(result.metric.replace('_', ' '))}"
                          + (" (%)" if pct == 100.0 else ""))  # fmt: skip
        axes[0].legend(loc="best", fontsize=7)
        for ax in axes[len(dims) :]:
            ax.set_visible(False)
        return figures.figure_uri(fig)


def _history(result: TuneResult) -> str:
    frame = result.table()
    if frame.empty:
        return "<p>No trials.</p>"
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = []
    for _, row in frame.head(50).iterrows():
        cells = []
        for c in frame.columns:
            v = row[c]
            if isinstance(v, float) and c == result.metric:
                cells.append(result.score(v))
            elif isinstance(v, float):
                cells.append("" if math.isnan(v) else format_number(v))
            else:
                cells.append("" if v is None else str(v))
        body.append("<tr>" + "".join(f"<td>{esc(x)}</td>" for x in cells) + "</tr>")
    more = f"<p>The best 50 of {len(frame)} trials.</p>" if len(frame) > 50 else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def render_tune_report(result: TuneResult) -> str:
    """The page's HTML text (every study-provided string escaped; no script)."""
    lines = "".join(f"<p>{esc(line)}</p>" for line in result.lines())
    space = "".join(
        f"<li>{esc(d.name)}: [{esc(format_number(d.low))}, {esc(format_number(d.high))}], "
        f"{'log' if d.log else 'linear'} scale ({esc(d.source)})</li>"
        for d in result.space.dims
    )
    switches = (
        "<p>Cocktail: every technique has an on/off switch; its strengths are searched when "
        "it is on.</p>"
        if result.space.switches
        else ""
    )
    figure = img(strength_figure(result), "Score against each strength", "No finished trial.")
    title = esc(f"{result.study} — reglab tune")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="reglab {esc(_version())}">
<title>{title}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
<p class="eyebrow">reglab strength search</p>
<h1>How strong? <span class="muted">Study</span> {esc(result.study)}</h1>
<p class="sub">test {esc(result.metric)}, mean over the outer splits per trial</p>
</header>
<section id="answer"><h2>Answer</h2>
{lines}</section>
<section id="curves"><h2>Strength curves</h2>
{figure}</section>
<section id="space"><h2>Search space</h2>
<ul>{space}</ul>{switches}</section>
<section id="history"><h2>Trial history</h2>
{_history(result)}</section>
<footer>Generated by reglab {esc(_version())} on {datetime.now().strftime("%Y-%m-%d %H:%M")};
intervals and tests are the Nadeau–Bengio corrected ones.</footer>
</main>
</body>
</html>
"""


def write_tune_report(result: TuneResult, path: str | os.PathLike[str]) -> Path:
    """Write :func:`render_tune_report` to ``path`` atomically; returns the path."""
    out = check_output("path", Path(path), writes="html")
    write_atomic(out, render_tune_report(result))
    return out
