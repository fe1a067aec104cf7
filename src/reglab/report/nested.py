"""The report's "Tuned strengths" section: for a nested study, each tuned family's strengths
per outer split, where they fall in the searched range, and how much they vary.

Everything shown comes from :attr:`StudyResult.tuning
<reglab.study.results.StudyResult.tuning>` (:mod:`reglab.study.nested_result`); this module only
lays it out: a table per family and, per strength, a strip of the choices on the searched
range (log axis for log-scale strengths).
"""

from __future__ import annotations

import math
from typing import Any

from reglab._numbers import format_number
from reglab.report.digest import Digest
from reglab.report.markup import esc, fmt

__all__ = ["tuning_section"]

_W, _H, _PAD = 520, 46, 14


def _short(x: float) -> str:
    return format_number(float(f"{x:.3g}"))


def _position(value: float, spread: Any) -> float:
    """Where ``value`` falls in the searched range, 0 to 1, on the range's own scale."""
    lo, hi = spread.range_low, spread.range_high
    t = math.log(value / lo) / math.log(hi / lo) if spread.log else (value - lo) / (hi - lo)
    return min(1.0, max(0.0, t))


def _strip(spread: Any, values: list[tuple[int, float]]) -> str:
    """An inline SVG: the searched range as an axis, one dot per outer split's choice."""
    x = [_PAD + _position(v, spread) * (_W - 2 * _PAD) for _, v in values]
    band = (
        f'<rect x="{min(x):.1f}" y="14" width="{max(x) - min(x):.1f}" height="12" '
        'fill="#bfdbfe" rx="3"/>'
        if x
        else ""
    )
    dots = "".join(
        f'<circle cx="{xi:.1f}" cy="20" r="4.5" fill="#2563eb" fill-opacity=".75">'
        f"<title>outer split {sid}: {esc(_short(v))}</title></circle>"
        for xi, (sid, v) in zip(x, values, strict=True)
    )
    scale = "log scale" if spread.log else "linear scale"
    return (
        f'<svg viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
        f'aria-label="{esc(spread.name)} chosen per outer split on its searched range">'
        f'<line x1="{_PAD}" y1="20" x2="{_W - _PAD}" y2="20" stroke="#9ca3af"/>{band}{dots}'
        f'<text x="{_PAD}" y="42" font-size="11" fill="#6b7280">{esc(_short(spread.range_low))}'
        f'</text><text x="{_W - _PAD}" y="42" font-size="11" fill="#6b7280" text-anchor="end">'
        f"{esc(_short(spread.range_high))}</text>"
        f'<text x="{_W / 2}" y="42" font-size="11" fill="#6b7280" text-anchor="middle">'
        f"{esc(spread.name)} searched range ({scale})</text></svg>"
    )


def _spread_text(spread: Any) -> str:
    share = f"{100 * spread.share:.0f}% of the searched range"
    if spread.log:
        return (
            f"×{spread.ratio:.3g} from smallest to largest (geometric mean "
            f"{esc(_short(spread.center))}); {share}"
        )
    low, high, mean = (esc(_short(v)) for v in (spread.low, spread.high, spread.center))
    return f"{low} to {high} (mean {mean}); {share}"


def _family(d: Digest, family: Any) -> str:
    metric = d.result.primary
    outer = d.result.strategies.get(family.name)
    scores = outer.split_scores.get(metric, {}) if outer is not None else {}
    head = "".join(f"<th>{esc(n)}</th>" for n in family.dims)
    rows = []
    for s in family.splits:
        cells = "".join(
            f'<td data-value="{s.values[n]!r}">{esc(_short(s.values[n]))}</td>'
            if n in s.values
            else "<td>—</td>"
            for n in family.dims
        )
        edge = f" (at the edge: {esc(', '.join(s.edges))})" if s.edges else ""
        inner = fmt(s.inner_score, metric) if s.inner_score is not None else "—"
        rows.append(
            f"<tr><td>{s.split_id}</td>{cells}<td>{inner}</td>"
            f"<td>{fmt(scores.get(s.split_id, math.nan), metric)}</td>"
            f"<td>{s.complete} done, {s.pruned} pruned, {s.ties} tied with the chosen{edge}"
            "</td></tr>"
        )
    mean_inner = family.mean_inner_score
    mean_outer = (
        outer.metrics[metric].mean if outer is not None and metric in outer.metrics else None
    )
    rows.append(
        f"<tr><td><b>mean</b></td>{''.join('<td></td>' for _ in family.dims)}"
        f"<td><b>{fmt(mean_inner if mean_inner is not None else math.nan, metric)}</b></td>"
        f"<td><b>{fmt(mean_outer if mean_outer is not None else math.nan, metric)}</b></td>"
        "<td></td></tr>"
    )
    strips = "".join(
        f"<p><b>{esc(sp.name)}</b>: {_spread_text(sp)}</p>"
        + _strip(
            sp, [(s.split_id, s.values[sp.name]) for s in family.splits if sp.name in s.values]
        )
        for sp in family.spread
    )
    notes = "".join(f'<li class="notice">{esc(n)}</li>' for n in family.notes)
    return (
        f"<h3>{esc(family.name)}</h3>"
        f'<div class="scroll"><table><thead><tr><th>outer split</th>{head}'
        f"<th>inner {esc(metric)} (chosen trial)</th><th>outer test {esc(metric)}</th>"
        f"<th>trials</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        f"{strips}" + (f'<ul class="notices">{notes}</ul>' if notes else "")
    )


def tuning_section(d: Digest) -> str:
    """The section's HTML (empty when the study tuned nothing)."""
    tuned = d.result.tuning
    if not tuned:
        return ""
    first = tuned[0]
    intro = (
        f"<p>On every outer split, each family's strengths were chosen by {first.trials} trials "
        f"of Optuna's TPE on {first.inner_folds} inner folds of that split's training part "
        "(the outer test rows took no part), then retrained on the whole training part and "
        "scored on the outer test fold. The inner score is the best trial's mean over the inner "
        "folds: raised by choosing the best of the trials, lowered by the inner folds' smaller "
        "training parts; the outer test score is the unbiased one. Choices that spread over "
        "much of the searched range mean the data (or the trial budget) do not pin the strength "
        "down: "
        "the family's score is then that of tuning it, not of one strength.</p>"
    )
    return intro + "".join(_family(d, f) for f in tuned)
