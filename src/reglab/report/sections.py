"""The report's result sections: the answer, the ranked table, per-split scores and curves.

Each function takes the :class:`~reglab.report.digest.Digest` and returns an HTML fragment built
with :mod:`reglab.report.markup` (which escapes every study-provided string).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from reglab.report import figures
from reglab.report.analysis import bounded, curve_axes, curve_band, overfitting_onset
from reglab.report.digest import Digest
from reglab.report.markup import bar, esc, fmt, img, num, swatch
from reglab.stats import Comparison, format_p
from reglab.study.results import StrategyResult, format_epoch

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


# -- 1. the answer -----------------------------------------------------------------------------


_CALM = ("gain", "no-baseline", "single")


def answer(d: Digest) -> str:
    """The answer's first line and its notices, its details, the tests behind it and the
    combined-versus-separate verdicts — the same words as the terminal's."""
    a = d.result.answer
    cls = "callout" if a.case in _CALM else "callout warn"
    lines = [f'<p class="{cls} headline" data-case="{esc(a.case)}">{esc(a.headline)}</p>']
    if d.result.notices:
        items = "".join(
            f'<li class="notice" data-kind="{esc(n.kind)}">{esc(n.text)}</li>'
            for n in d.result.notices
        )
        lines.append(f'<ul class="notices">{items}</ul>')
    if a.details:
        lines.append(
            '<ul class="facts">' + "".join(f"<li>{esc(t)}</li>" for t in a.details) + "</ul>"
        )
    if d.result.reference_sentence:
        lines.append(f'<p class="reference-answer">{esc(d.result.reference_sentence)}</p>')
    if a.case == "empty":
        lines.append('<p class="muted">See the failed members below.</p>')
        return "\n".join(lines)
    lines.append("<h3>The tests behind the answer</h3>")
    lines.append(_tests(d))
    lines.append("<h3>Combined versus separate</h3>")
    lines.append(_verdicts(d))
    return "\n".join(lines)


_OUTCOME_WORDS = {
    "better": ("good", "significantly better"),
    "worse": ("bad", "significantly worse"),
    "no difference": ("ns", "statistically tied"),
    "identical": ("ns", "identical"),
    "untestable": ("ns", "too few shared splits"),
}


def _tests(d: Digest) -> str:
    """Every comparison the answer rests on: each strategy against ``none``, and, when a best
    was named, each against the best."""
    a = d.result.answer
    rows = []
    for c in [*a.vs_baseline, *a.vs_best]:
        cls, words = _OUTCOME_WORDS.get(c.outcome, ("ns", c.outcome))
        if c.test is not None:
            t = c.test
            interval = (  # a zero-variance difference has no interval to show
                f'<span class="ci">({esc(t.note.split(" (")[0])})</span>'
                if t.note
                else f'<span class="ci">[{_signed(t.ci[0], d)}, {_signed(t.ci[1], d)}]</span>'
            )
            diff = f"{num(t.mean_diff, 'test-diff', _signed(t.mean_diff, d))} {interval}"
            p = num(c.p_adjusted, "test-p", format_p(c.p_adjusted))
        else:
            diff, p = "—", "—"
        rows.append(
            f'<tr data-strategy="{esc(c.strategy)}" data-reference="{esc(c.reference)}">'
            f"<td>{swatch(d.colors, c.strategy)}</td><td>{swatch(d.colors, c.reference)}</td>"
            f'<td>{diff}</td><td>{p}</td><td><span class="{cls}">{words}</span></td></tr>'
        )
    if not rows:
        return '<p class="muted">No two strategies share two or more splits: nothing to test.</p>'
    label = esc(d.metric.label)
    return (
        '<div class="scroll"><table class="tests"><thead><tr><th>strategy</th><th>against</th>'
        f"<th>Δ {label} [95% CI]</th><th>p (Holm)</th><th>outcome</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="muted">Paired on the splits both finished (Nadeau–Bengio corrected '
        "resampled t-test); the comparisons with <code>none</code> form one Holm family, those "
        "with the best another. Each Δ interval is that comparison's own (corrected, not "
        "adjusted for the number of comparisons), so an interval can exclude 0 while the "
        "Holm-adjusted p, which decides, stays above 0.05. Tied: not significantly different "
        "at α = 0.05. Identical "
        "strategies (the same test predictions on every split, up to float noise, or the same "
        "test scores where predictions were not stored) are not tested.</p>"
    )


def _headline(verdicts: Sequence[Comparison]) -> tuple[str, str]:
    same = [v.reference for v in verdicts if v.outcome == "identical"]
    if same:
        return "ns", "identical to " + ", ".join(same) + ": the combination changed nothing"
    better = [v.reference for v in verdicts if v.outcome == "better"]
    worse = [v.reference for v in verdicts if v.outcome == "worse"]
    if worse:
        return "bad", "combining hurts: worse than " + ", ".join(worse)
    if better and len(better) == len(verdicts):
        return "good", "combining helps: better than each part alone"
    if better:
        rest = [v.reference for v in verdicts if v.outcome != "better"]
        return "mixed", f"better than {', '.join(better)}, but not than {', '.join(rest)}"
    if all(v.outcome == "untestable" for v in verdicts):
        return "ns", "too few splits to tell"
    return "ns", "no significant gain over its parts"


def _verdicts(d: Digest) -> str:
    if not d.result.verdicts:
        return '<p class="muted">No combined strategy was run together with its parts.</p>'
    groups: dict[str, list[Comparison]] = {}
    for v in d.result.verdicts:
        groups.setdefault(v.strategy, []).append(v)
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
    if c.outcome == "identical":
        return "ns", "= identical"
    return "ns", "·"


def _score_cell(d: Digest, metric: str, name: str) -> str:
    s = d.summaries.get(metric, {}).get(name)
    if s is None:
        return '<span class="muted">—</span>'
    ci = ""
    if math.isfinite(s.ci_low):
        low, high = bounded(metric, s.ci_low, s.ci_high)
        ci = (
            f' <span class="ci">[{num(low, f"ci-low-{metric}", fmt(low, metric))}, '
            f"{num(high, f'ci-high-{metric}', fmt(high, metric))}]</span>"
        )
    return f"{num(s.mean, f'mean-{metric}', fmt(s.mean, metric))}{ci}"


def _signed(value: float, d: Digest) -> str:
    """A difference in display units (points for accuracies), ``±0`` for none at all."""
    if not math.isfinite(value):
        return "—"
    scaled = value * d.scale
    digits = 2 if d.unit else 3
    shown = f"{scaled:+.{digits}f}" if round(scaled, digits) != 0 else "±0"
    return shown + (" pt" if d.unit else "")


def _epochs(s: StrategyResult) -> str:
    """``best/last`` as in the terminal, each number kept in ``data-value`` (NaN: none)."""
    best, last = s.mean_best_epoch, s.mean_last_epoch
    text = (
        f"{num(math.nan if best is None else best, 'best-epoch', format_epoch(best))}/"
        f"{num(math.nan if last is None else last, 'last-epoch', format_epoch(last))}"
    )
    if 0 < s.n_stopped < s.n_done:
        text += f" ({s.n_stopped} of {s.n_done})"
    return text


def ranking(d: Digest) -> str:
    """One row per strategy: scores with intervals, the test against ``none``, and facts.

    The primary metric and its test come first. The other stored metrics wrap below, in a
    second line of the same strategy, so the table fits a laptop screen however many metrics
    were scored. Strategies that could not be ranked follow, unnumbered, with what is known of
    them.
    """
    if not d.strategies:
        return '<p class="muted">No members stored.</p>'
    label = esc(d.metric.label)
    others = [m for m in d.metrics if m.name != d.metric.name]
    head = ["#", "strategy", f"{label} ± 95% CI"]
    if d.result.comparisons:
        head += [f"Δ {label} vs <code>none</code>", "p (Holm)"]
    head += ["train–test gap", "epochs<br>best/last", "zeros", "splits"]
    ranks = {r.strategy: r.rank for r in d.ranking}
    vs = d.vs_baseline
    groups = []
    for name in d.strategies:
        f = d.facts[name]
        cells = [
            str(ranks.get(name, "—")),
            swatch(d.colors, name, breakable=True),
            _score_cell(d, d.metric.name, name),
        ]
        if d.result.comparisons:
            c = vs.get(name)
            cls, mark = _marker(c, name == d.baseline)
            if c is not None and c.test is not None and c.outcome != "identical":
                cells.append(f'<span class="{cls}">{mark}</span> {_signed(c.test.mean_diff, d)}')
                cells.append(num(c.p_adjusted, "p-holm", format_p(c.p_adjusted)))
            else:
                cells += [f'<span class="{cls}">{mark}</span>', "—"]
        if f.all_failed:
            cells += ["—", "—", "—", f'<span class="bad">all {f.n_failed} failed</span>']
        else:
            n = len(f.split_scores.get(d.metric.name, {}))
            lost = [f"{f.n_failed} failed"] * bool(f.n_failed)
            lost += [f"{f.n_chance} learned nothing"] * bool(f.n_chance)
            failed = f' <span class="bad">({", ".join(lost)})</span>' if lost else ""
            cells += [_signed(f.train_gap, d), _epochs(f), bar(f.sparsity), f"{n}{failed}"]
        tds = "".join(f"<td>{c}</td>" for c in cells)
        rows = f'<tr data-strategy="{esc(name)}">{tds}</tr>'
        if others:
            more = " · ".join(
                f'<span class="metric"><span class="muted">{esc(m.label)}</span> '
                f"{_score_cell(d, m.name, name)}</span>"
                for m in others
            )
            rows += f'<tr class="more"><td></td><td colspan="{len(cells) - 1}">{more}</td></tr>'
        groups.append(f"<tbody>{rows}</tbody>")
    head_html = "".join(f"<th>{h}</th>" for h in head)
    listed = ", ".join(esc(m.label) for m in others)
    also = (
        f"The second line of each row gives the other metrics ({listed}) with their intervals. "
        if others
        else ""
    )
    legend = (
        '<p class="muted">Means over splits with Nadeau–Bengio corrected 95% intervals. '
        '<span class="good">▲</span>/<span class="bad">▼</span>: significantly better/worse than '
        "<code>none</code> (corrected resampled t-test, Holm-adjusted, α = 0.05); · no significant "
        "difference; = identical: the same results as <code>none</code> on every split. Gap: how "
        "much better the model scores on its training data than on test (positive: "
        "overfitting). Epochs: mean best (restored) epoch / mean last epoch trained, both over "
        "the same members and counted from 1; (k of n): early stopping fired for k of n "
        "members, and the others ran to the epoch limit. Zeros: mean share of exactly-zero "
        f"weights over layers. {also}Unnumbered rows could not be ranked (fewer finished splits "
        "than the others, or every member failed).</p>"
    )
    groups += _reference_rows(d)
    if d.result.references:
        legend += (
            '<p class="muted"><em>reference</em> rows: classical models fit on the same splits '
            "and inputs (linear models with their strength chosen by inner cross-validation; "
            "gradient boosting), for comparison only: never ranked or recommended. The answer "
            "above says whether any network strategy beats the best of them (corrected "
            "resampled t-test, Holm-adjusted).</p>"
        )
    return (
        f'<div class="scroll"><table class="rank"><thead><tr>{head_html}</tr></thead>'
        f"{''.join(groups)}</table></div>{legend}"
    )


def _reference_rows(d: Digest) -> list[str]:
    """The reference rows, one ``tbody.reference`` after the strategies, labelled in italics."""
    result = d.result
    if not result.references:
        return []
    rows = []
    for name, f in result.references.items():
        s = f.metrics.get(d.metric.name)
        score = '<span class="muted">—</span>'
        if s is not None:
            score = num(s.mean, f"mean-{d.metric.name}", fmt(s.mean, d.metric.name))
            if math.isfinite(s.ci_low):
                low, high = bounded(d.metric.name, s.ci_low, s.ci_high)
                ci = f"{fmt(low, d.metric.name)}, {fmt(high, d.metric.name)}"
                score += f' <span class="ci">[{ci}]</span>'
        best = " best" if name == result.best_reference else ""
        label = f'<em>{esc(name)}</em> <span class="muted">reference{best}</span>'
        n = len(f.split_scores.get(d.metric.name, {}))
        failed = f' <span class="bad">({f.n_failed} failed)</span>' if f.n_failed else ""
        cells = ["ref", label, score]
        cells += ["", ""] if result.comparisons else []
        cells += [_signed(f.train_gap, d), "", "", f"{n}{failed}"]
        tds = "".join(f"<td>{c}</td>" for c in cells)
        rows.append(f'<tr class="reference" data-reference="{esc(name)}">{tds}</tr>')
    return [f'<tbody class="reference">{"".join(rows)}</tbody>']


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
                base = d.facts[d.baseline]
                why = (
                    "early stopping may have cut the runs first"
                    if base.n_stopped
                    else "the runs ended at the epoch limit, maybe before any overfitting"
                )
                words = (
                    '<p class="muted">No overfitting onset in the median curves of '
                    "<code>none</code>: its smoothed validation loss does not rise, by more than "
                    f"2% of its lowest value, while the training loss falls ({why}).</p>"
                )
    uri = figures.curve_panels(d, bands, onset)
    plan = curve_axes([b for pair in bands.values() for b in pair if b is not None])
    scales = []
    if plan is not None and plan.log_epochs:
        scales.append(
            "epochs are on a log scale, so the first ones, where the loss falls fastest, get as "
            "much room as the later ones"
        )
    if plan is not None and plan.log_loss:
        scales.append(
            f"the loss is on a log scale (it spans a factor of {plan.high / plan.low:,.0f})"
        )
    caption = (
        "<p>Solid: training data loss; dashed: validation loss (inner split); lines are medians "
        "over splits, shaded bands the inter-quartile range, drawn while at least half the "
        "members were still training; the dotted line is the mean restored (best) epoch. "
        "Epochs count from 1" + ("; " + "; ".join(scales) if scales else "") + ".</p>"
    )
    from reglab.report.strengths import strengths_section

    return words + caption + img(uri, "training and validation loss per strategy",
                                  "No per-epoch curves were stored for this study."
                                  ) + strengths_section(d)  # fmt: skip
