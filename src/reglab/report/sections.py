"""The report's result sections: the answer, the ranked table, per-split scores and curves.

Each function takes the :class:`~reglab.report.digest.Digest` and returns an HTML fragment built
with :mod:`reglab.report.markup` (which escapes every study-provided string).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from reglab.report import figures
from reglab.report.analysis import bounded, curve_band, overfitting_onset
from reglab.report.digest import Digest
from reglab.report.markup import bar, esc, fmt, img, num, swatch
from reglab.stats import Comparison, Verdict, format_p

__all__ = ["SECTIONS", "answer", "curves", "ranking", "splits"]

SECTIONS = (
    ("answer", "Answer"),
    ("ranking", "Ranking"),
    ("splits", "Per-split scores"),
    ("curves", "Training curves"),
    ("weights", "Weight distributions"),
    ("sparsity", "Sparsity & features"),
    ("metadata", "Run metadata"),
)
"""Section ids and titles, in page order (a failures section is added when members failed)."""


def _by(d: Digest, diff: float) -> str:
    """A difference in the metric's own words: 'higher by 3.1 points', 'lower by 2.3'."""
    if diff == 0:
        return "the same on average"
    amount = abs(diff) * d.scale
    unit = f" {d.unit}" if d.unit else ""
    direction = "higher" if diff > 0 else "lower"
    return f"{direction} by {amount:.3g}{unit}"


def _interval(d: Digest, low: float, high: float, stat: str) -> str:
    m = d.metric.name
    low, high = bounded(m, low, high)
    lo = num(low, stat + "-low", fmt(low, m))
    hi = num(high, stat + "-high", fmt(high, m))
    return f"95% CI {lo} to {hi}"


def _diff_interval(d: Digest, low: float, high: float, stat: str) -> str:
    unit = f" {d.unit}" if d.unit else ""
    lo = num(low, stat + "-low", f"{low * d.scale:+.3g}")
    hi = num(high, stat + "-high", f"{high * d.scale:+.3g}")
    return f"95% CI {lo} to {hi}{unit}"


def _p(p: float, stat: str) -> str:
    """``p = 0.04`` or ``p < 0.001``, the value kept in ``data-value``."""
    shown = format_p(p)
    shown = "< " + shown[1:] if shown.startswith("<") else "= " + shown
    return f"p {num(p, stat, shown)}"


# -- 1. the answer -----------------------------------------------------------------------------


def answer(d: Digest) -> str:
    """The recommendation, its margins and the combined-versus-separate verdicts."""
    if not d.ranking:
        return (
            '<p class="callout warn">No member finished, so there is nothing to recommend yet. '
            "See the failed members below.</p>"
        )
    best = d.ranking[0]
    m, s = d.metric, best.summary
    tied = [r.strategy for r in d.ranking[1:] if r.rank == best.rank]
    why = f"best mean test {esc(m.label)} over {s.n} split{'s' if s.n != 1 else ''}"
    if tied:
        why += ", tied with " + ", ".join(esc(t) for t in tied)
    lines = [
        f'<p class="callout">Use {swatch(d.colors, best.strategy)}'
        f'<span class="why">{why}</span></p>',
        "<ul class=\"facts\">",
        f"<li>Test {esc(m.label)}: <b>{num(s.mean, 'best-mean', fmt(s.mean, m.name))}</b>"
        + (f" ({_interval(d, s.ci_low, s.ci_high, 'best-ci')}, corrected for overlapping "
           "training sets)" if math.isfinite(s.ci_low) else
           " (one split: no interval; run more splits for one)")
        + ".</li>",
        f"<li>{_margin_baseline(d, best.strategy)}</li>",
        f"<li>{_margin_runner_up(d)}</li>",
        "</ul>",
    ]  # fmt: skip
    lines.append("<h3>Combined versus separate</h3>")
    lines.append(_verdicts(d))
    return "\n".join(lines)


def _margin_baseline(d: Digest, best: str) -> str:
    if d.baseline is None:
        return (
            "No strategy named <code>none</code> in this study, so no margin over no "
            "regularization."
        )
    if best == d.baseline:
        return "No regularization (<code>none</code>) is itself the best: no strategy beat it."
    c = d.vs_baseline.get(best)
    if c is None or c.test is None:
        return "Too few splits shared with <code>none</code> to test the margin over it."
    t = c.test
    signif = "significant" if c.significant else "not significant"
    return (
        f"Over no regularization: {esc(d.metric.label)} "
        f"{num(t.mean_diff, 'vs-none-diff', _by(d, t.mean_diff))} "
        f"(difference {_diff_interval(d, t.ci[0], t.ci[1], 'vs-none-ci')}"
        f"; {_p(c.p_adjusted, 'vs-none-p')}, Holm-adjusted over "
        f"{len(d.vs_baseline)} comparison{'s' if len(d.vs_baseline) != 1 else ''} with "
        f'<code>none</code>) — <b class="{"good" if c.significant else "ns"}">{signif}</b>.'
    )


def _margin_runner_up(d: Digest) -> str:
    runner = d.runner_up
    if runner is None:
        return "Only one strategy finished, so there is no runner-up to compare with."
    t = d.vs_runner_up
    if t is None:
        return f"Runner-up: {swatch(d.colors, runner)} (too few shared splits to test the margin)."
    tied = t.p_value >= 0.05
    tail = (
        "not significant: the two are statistically tied, so the simpler one may be preferable"
        if tied
        else "significant"
    )
    return (
        f"Over the runner-up, {swatch(d.colors, runner)}: {esc(d.metric.label)} "
        f"{num(t.mean_diff, 'vs-runner-up-diff', _by(d, t.mean_diff))} "
        f"({_p(t.p_value, 'vs-runner-up-p')}, corrected resampled "
        f't-test) — <b class="{"ns" if tied else "good"}">{tail}</b>.'
    )


def _headline(verdicts: Sequence[Verdict]) -> tuple[str, str]:
    better = [v.part for v in verdicts if v.outcome == "better"]
    worse = [v.part for v in verdicts if v.outcome == "worse"]
    if worse:
        return "bad", "combining hurts: worse than " + ", ".join(worse)
    if better and len(better) == len(verdicts):
        return "good", "combining helps: better than each part alone"
    if better:
        rest = [v.part for v in verdicts if v.outcome != "better"]
        return "mixed", f"better than {', '.join(better)}, but not than {', '.join(rest)}"
    if all(v.outcome == "untestable" for v in verdicts):
        return "ns", "too few splits to tell"
    return "ns", "no significant gain over its parts"


def _verdicts(d: Digest) -> str:
    if not d.verdicts:
        return '<p class="muted">No combined strategy was run together with its parts.</p>'
    groups: dict[str, list[Verdict]] = {}
    for v in d.verdicts:
        groups.setdefault(v.combination, []).append(v)
    items = []
    for combo, vs in groups.items():
        cls, words = _headline(vs)
        sentences = "".join(f"<li>{esc(v.sentence)}.</li>" for v in vs)
        items.append(
            f'<li data-combination="{esc(combo)}">{swatch(d.colors, combo)} — '
            f'<b class="{cls}">{esc(words)}</b><ul>{sentences}</ul></li>'
        )
    note = (
        '<p class="muted">Each combination is tested against each of its parts on the shared '
        "splits (corrected resampled t-test), Holm-adjusted across all these comparisons.</p>"
    )
    return f'<ul class="verdicts">{"".join(items)}</ul>{note}'


# -- 2. the ranked table -----------------------------------------------------------------------


def _marker(c: Comparison | None, is_baseline: bool) -> tuple[str, str]:
    if is_baseline:
        return "base", "baseline"
    if c is None or c.test is None:
        return "ns", "–"
    if c.outcome == "better":
        return "good", "▲"
    if c.outcome == "worse":
        return "bad", "▼"
    return "ns", "·"


def _score_cell(d: Digest, metric: str, name: str) -> str:
    s = d.summaries.get(metric, {}).get(name)
    if s is None:
        return '<span class="muted">—</span>'
    ci = ""
    if math.isfinite(s.ci_low):
        low, high = bounded(metric, s.ci_low, s.ci_high)
        ci = f' <span class="ci">[{fmt(low, metric)}, {fmt(high, metric)}]</span>'
    return f"{num(s.mean, f'mean-{metric}', fmt(s.mean, metric))}{ci}"


def _signed(value: float, d: Digest) -> str:
    """A difference in display units (points for accuracies), ``±0`` for none at all."""
    if not math.isfinite(value):
        return "—"
    scaled = value * d.scale
    digits = 2 if d.unit else 3
    shown = f"{scaled:+.{digits}f}" if round(scaled, digits) != 0 else "±0"
    return shown + (" pt" if d.unit else "")


def ranking(d: Digest) -> str:
    """One row per strategy: scores with intervals, the test against ``none``, and facts.

    The primary metric and its test come first; the other stored metrics close the row.
    """
    if not d.strategies:
        return '<p class="muted">No members stored.</p>'
    label = esc(d.metric.label)
    others = [m for m in d.metrics if m.name != d.metric.name]
    head = ["#", "strategy", f"{label} ± 95% CI"]
    if d.baseline is not None:
        head += [f"Δ {label} vs <code>none</code>", "p (Holm)"]
    head += ["train–test gap", "stopped epoch", "zeros", "splits"]
    head += [f"{esc(m.label)} ± 95% CI" for m in others]
    ranks = {r.strategy: r.rank for r in d.ranking}
    rows = []
    for name in d.strategies:
        cells = [
            str(ranks.get(name, "—")),
            swatch(d.colors, name),
            _score_cell(d, d.metric.name, name),
        ]
        if d.baseline is not None:
            c = d.vs_baseline.get(name)
            cls, mark = _marker(c, name == d.baseline)
            if c is not None and c.test is not None:
                cells.append(f'<span class="{cls}">{mark}</span> {_signed(c.test.mean_diff, d)}')
                cells.append(num(c.p_adjusted, "p-holm", format_p(c.p_adjusted)))
            else:
                cells += [f'<span class="{cls}">{mark}</span>', "—"]
        f = d.facts.get(name)
        n_failed = sum(1 for m in d.failed if m.strategy == name)
        if f is None:
            cells += ["—", "—", "—", f'<span class="bad">all {n_failed} failed</span>']
        else:
            n = len(d.scores.get(d.metric.name, {}).get(name, {}))
            failed = f' <span class="bad">({n_failed} failed)</span>' if n_failed else ""
            epochs = f"{f.stopped_epoch:.1f}" if math.isfinite(f.stopped_epoch) else "—"
            cells += [_signed(f.gap, d), epochs, bar(f.mean_sparsity), f"{n}{failed}"]
        cells += [_score_cell(d, m.name, name) for m in others]
        tds = "".join(f"<td>{c}</td>" for c in cells)
        rows.append(f'<tr data-strategy="{esc(name)}">{tds}</tr>')
    head_html = "".join(f"<th>{h}</th>" for h in head)
    legend = (
        '<p class="muted">Means over splits with Nadeau–Bengio corrected 95% intervals. '
        '<span class="good">▲</span>/<span class="bad">▼</span>: significantly better/worse than '
        "<code>none</code> (corrected resampled t-test, Holm-adjusted, α = 0.05); · no significant "
        "difference. Gap: how much better the model scores on its training data than on test "
        "(positive: overfitting). Stopped epoch: epochs trained, from 1. Zeros: mean share of "
        "exactly-zero weights over layers.</p>"
    )
    return (
        f'<div class="scroll"><table class="rank"><thead><tr>{head_html}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{legend}"
    )


# -- 3. per-split scores -----------------------------------------------------------------------


def splits(d: Digest) -> str:
    """The strip plot of every split's score."""
    uri = figures.score_strips(d)
    caption = (
        f"<p>Each dot is one split's test {esc(d.metric.label)}; the black tick is the mean, the "
        "pale bar its corrected 95% interval, the dashed line the mean of <code>none</code>. "
        "Strategies are compared split by split, so a consistent small gain can be significant "
        "even when the clouds overlap.</p>"
    )
    return caption + img(uri, f"test {d.metric.label} per split and strategy", "No scores.")


# -- 4. curves ---------------------------------------------------------------------------------


def curves(d: Digest) -> str:
    """Median training/validation loss curves with the best epoch and overfitting onset."""
    bands = {
        name: (curve_band(ms, "train_loss"), curve_band(ms, "val_loss"))
        for name, ms in d.members.items()
    }
    onset = None
    words = ""
    if d.baseline is not None and d.baseline in bands:
        train, val = bands[d.baseline]
        if train is not None and val is not None:
            onset = overfitting_onset(train.median, val.median)
            if onset is not None:
                words = (
                    f'<p class="callout warn">Without regularization the model starts to '
                    f"overfit at epoch {num(onset + 1, 'overfit-onset', str(onset + 1))}: from "
                    "there on the (smoothed) median validation loss rises while the training "
                    "loss keeps falling.</p>"
                )
            else:
                words = (
                    '<p class="muted">No overfitting onset in the median curves of '
                    "<code>none</code>: its validation loss does not rise while training loss "
                    "falls (early stopping may have cut the runs first).</p>"
                )
    uri = figures.curve_panels(d, bands, onset)
    caption = (
        "<p>Solid: training data loss; dashed: validation loss (inner split); lines are medians "
        "over splits, shaded bands the inter-quartile range; the dotted line is the median "
        "restored (best) epoch. Epochs count from 1.</p>"
    )
    return words + caption + img(uri, "training and validation loss per strategy",
                                  "No per-epoch curves were stored for this study.")  # fmt: skip
