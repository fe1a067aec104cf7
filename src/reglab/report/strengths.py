"""The report's figure of scheduled strengths: each strategy's value in effect per epoch.

Drawn in the training-curves section for strategies with a schedule
(:mod:`reglab.techniques.schedule`): the median over splits of each scheduled strength
(each layer's for per-layer strengths), as :attr:`StrategyResult.strengths
<reglab.study.results.StrategyResult.strengths>` holds it, so a warm-up's ramp, a cosine's
decay or an adaptive dropout's steps show beside the loss curves they shaped.
"""

from __future__ import annotations

import math

from reglab.report.digest import Digest
from reglab.report.figures import _figure, _grid_margins, figure_uri, text
from reglab.report.markup import esc, img

__all__ = ["strength_panels", "strengths_section"]


def strength_panels(d: Digest) -> str | None:
    """One panel per scheduled strategy: its strengths in effect (median over splits) per
    epoch, each curve relative to its largest value so strengths of any scale share an axis."""
    scheduled = [n for n in d.strategies if n in d.facts and d.facts[n].strengths]
    if not scheduled:
        return None
    ncols = min(3, len(scheduled))
    nrows = math.ceil(len(scheduled) / ncols)
    with _figure(3.2 * ncols + 0.6, 2.2 * nrows + 0.7, constrained=False) as fig:
        axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
        _grid_margins(fig, left=0.6, bottom=0.5)
        for ax in axes.ravel()[len(scheduled) :]:
            ax.set_visible(False)
        for ax, name in zip(axes.ravel(), scheduled, strict=False):
            for curve, values in d.facts[name].strengths.items():
                peak = max((abs(v) for v in values), default=0.0) or 1.0
                epochs = range(1, len(values) + 1)
                label = f"{curve.partition(':')[2]} (max {peak:.3g})"
                ax.plot(epochs, [v / peak for v in values], lw=1.6, label=text(label, 30))
            ax.set_title(text(name, 36), color=d.colors.get(name), fontweight="bold")
            ax.set_ylim(-0.05, 1.1)
            ax.set_xlabel("epoch")
            ax.legend(fontsize=7, loc="lower right")
        for ax in axes[:, 0]:
            ax.set_ylabel("value / its max")
        return figure_uri(fig)


def strengths_section(d: Digest) -> str:
    """The figure and its caption, or nothing when no strategy has a schedule."""
    uri = strength_panels(d)
    if uri is None:
        return ""
    caption = (
        "<p>Strengths in effect: each scheduled strength's median value over splits in each "
        "epoch (warm-up, cosine, step or adaptive, as the strategy's name says after "
        "<code>@</code>), divided by its largest value, which the legend gives. Epochs count "
        "from 1; a curve runs to the last epoch any of the strategy's members trained.</p>"
    )
    return caption + img(uri, esc("strengths in effect per epoch"), "")
