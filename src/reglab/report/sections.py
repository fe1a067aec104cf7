"""The report's sections as HTML fragments, from a :class:`~reglab.report.digest.Digest`.

Every string that comes from the study (names of the study, strategies, features, layers, metric
names, metadata keys and values, error messages) goes through :func:`esc` before it reaches the
page, in text and in attributes alike. Numbers the report states carry their full-precision
value in a ``data-value`` attribute so that tools (and tests) can read them back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np

from reglab.report import figures
from reglab.report.analysis import (
    curve_band,
    excess_kurtosis,
    feature_survival,
    is_l1_like,
    is_l2_like,
    overfitting_onset,
    weight_masses,
)
from reglab.report.digest import Digest
from reglab.stats import Comparison, Verdict, format_p

__all__ = ["SECTIONS", "esc"]

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

FEATURE_THRESHOLD = 1e-3
"""A feature survives when its first-layer weight norm exceeds this share of the largest."""


def esc(value: object) -> str:
    """HTML-escape any value for text or a quoted attribute.

    >>> esc('<script>alert("x")</script>')
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
    """
    return escape(str(value), quote=True)


def _percent_metric(name: str) -> bool:
    return name in ("accuracy", "balanced_accuracy")


def fmt(value: float, metric: str = "") -> str:
    """A score for reading: percent for accuracies, else four significant digits.

    >>> fmt(0.8612, "accuracy"), fmt(52.3456, "rmse"), fmt(float("nan"))
    ('86.1%', '52.35', '—')
    """
    if value is None or not math.isfinite(value):
        return "—"
    if _percent_metric(metric):
        return f"{100 * value:.1f}%"
    return f"{value:.4g}"


def _num(value: float, stat: str, shown: str) -> str:
    return f'<span class="num" data-stat="{esc(stat)}" data-value="{value!r}">{esc(shown)}</span>'


def _swatch(d: Digest, name: str) -> str:
    color = d.colors.get(name, "#111827")
    return f'<span class="sw" style="background:{color}"></span><span class="st">{esc(name)}</span>'


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
    lo = _num(low, stat + "-low", fmt(low, m))
    hi = _num(high, stat + "-high", fmt(high, m))
    return f"95% CI {lo} to {hi}"


def _diff_interval(d: Digest, low: float, high: float, stat: str) -> str:
    unit = f" {d.unit}" if d.unit else ""
    lo = _num(low, stat + "-low", f"{low * d.scale:+.3g}")
    hi = _num(high, stat + "-high", f"{high * d.scale:+.3g}")
    return f"95% CI {lo} to {hi}{unit}"


def _p(p: float, stat: str) -> str:
    """``p = 0.04`` or ``p < 0.001``, the value kept in ``data-value``."""
    shown = format_p(p)
    shown = "< " + shown[1:] if shown.startswith("<") else "= " + shown
    return f"p {_num(p, stat, shown)}"


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
        f'<p class="callout">Use {_swatch(d, best.strategy)}<span class="why">{why}</span></p>',
        "<ul class=\"facts\">",
        f"<li>Test {esc(m.label)}: <b>{_num(s.mean, 'best-mean', fmt(s.mean, m.name))}</b>"
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
        f"{_num(t.mean_diff, 'vs-none-diff', _by(d, t.mean_diff))} "
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
        return f"Runner-up: {_swatch(d, runner)} (too few shared splits to test the margin)."
    tied = t.p_value >= 0.05
    tail = (
        "not significant: the two are statistically tied, so the simpler one may be preferable"
        if tied
        else "significant"
    )
    return (
        f"Over the runner-up, {_swatch(d, runner)}: {esc(d.metric.label)} "
        f"{_num(t.mean_diff, 'vs-runner-up-diff', _by(d, t.mean_diff))} "
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
            f'<li data-combination="{esc(combo)}">{_swatch(d, combo)} — '
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
        ci = f' <span class="ci">[{fmt(s.ci_low, metric)}, {fmt(s.ci_high, metric)}]</span>'
    return f"{_num(s.mean, f'mean-{metric}', fmt(s.mean, metric))}{ci}"


def _signed(value: float, d: Digest) -> str:
    """A difference in display units (points for accuracies), ``±0`` for none at all."""
    if not math.isfinite(value):
        return "—"
    shown = f"{value * d.scale:+.3g}" if value != 0 else "±0"
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
        cells = [str(ranks.get(name, "—")), _swatch(d, name), _score_cell(d, d.metric.name, name)]
        if d.baseline is not None:
            c = d.vs_baseline.get(name)
            cls, mark = _marker(c, name == d.baseline)
            if c is not None and c.test is not None:
                cells.append(f'<span class="{cls}">{mark}</span> {_signed(c.test.mean_diff, d)}')
                cells.append(_num(c.p_adjusted, "p-holm", format_p(c.p_adjusted)))
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
            cells += [_signed(f.gap, d), epochs, _bar(f.mean_sparsity), f"{n}{failed}"]
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


def _bar(fraction: float) -> str:
    if not math.isfinite(fraction):
        return "—"
    width = max(0.0, min(1.0, fraction)) * 100
    return f'<span class="bar"><span style="width:{width:.1f}%"></span></span> {fraction:.0%}'


def _img(uri: str | None, alt: str, empty: str) -> str:
    if uri is None:
        return f'<p class="muted">{esc(empty)}</p>'
    return f'<figure><img src="{uri}" alt="{esc(alt)}"></figure>'


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
    return caption + _img(uri, f"test {d.metric.label} per split and strategy", "No scores.")


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
                    f"overfit at epoch {_num(onset + 1, 'overfit-onset', str(onset + 1))}: from "
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
    return words + caption + _img(uri, "training and validation loss per strategy",
                                  "No per-epoch curves were stored for this study.")  # fmt: skip


# -- 5. weights --------------------------------------------------------------------------------


def weights(d: Digest) -> str:
    """Weight distributions per layer: the L1/L2 overlay, every strategy, and kurtosis."""
    grids, masses = weight_masses(d.members)
    if not grids:
        return '<p class="muted">No weight histograms were stored for this study.</p>'
    l1 = [n for n in d.strategies if n in d.members and is_l1_like(n, d.configs.get(n, {}))]
    l2 = [n for n in d.strategies if n in d.members and is_l2_like(n, d.configs.get(n, {}))]
    if len(l1) + len(l2) > 4:  # many: overlay the single techniques, their combinations blur
        l1 = [n for n in l1 if "+" not in n] or l1[:2]
        l2 = [n for n in l2 if "+" not in n] or l2[:2]
    parts = [
        "<p>How each strategy shapes the weights, per layer (log-scale density, mean over "
        "splits). An L2 penalty acts like a Gaussian prior: a bell, a parabola on this scale. "
        "L1 acts like a Laplace prior: a sharp peak at zero with straight flanks and many "
        "(near-)zero weights. Solid: L1-like strategies; dashed: L2-like; thick grey: "
        "<code>none</code>.</p>",
        _img(figures.weight_overlay(d, grids, masses, l1, l2), "weight densities per layer",
             "No baseline, L1-like or L2-like strategy to overlay."),
        "<h3>Every strategy</h3>",
        _img(figures.weight_panels(d, grids, masses), "weight densities per strategy", ""),
    ]  # fmt: skip
    layers = list(grids)
    rows = []
    for name in d.strategies:
        ms = d.members.get(name, [])
        cells = []
        for layer in layers:
            ks = [excess_kurtosis(*m.weight_hist[layer]) for m in ms if layer in m.weight_hist]
            ks = [k for k in ks if math.isfinite(k)]
            cells.append(
                f"{float(np.median(ks)) + 0.0:.2f}".replace("-0.00", "0.00") if ks else "—"
            )
        if ms:
            rows.append(
                f"<tr><td>{_swatch(d, name)}</td>"
                + "".join(f"<td>{c}</td>" for c in cells)
                + "</tr>"
            )
    head = "".join(f"<th>{esc(layer)}</th>" for layer in layers)
    parts.append(
        '<h3>Excess kurtosis</h3><p class="muted">Median over splits of the weights\' excess '
        "kurtosis: 0 for a Gaussian, 3 for a Laplace distribution; higher means more "
        "weights near zero and heavier tails.</p>"
        f'<div class="scroll"><table><thead><tr><th>strategy</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    return "\n".join(parts)


# -- 6. sparsity and features ------------------------------------------------------------------


def sparsity(d: Digest) -> str:
    """Exact zeros per layer, and which input features the L1-like strategies kept."""
    layers = list(dict.fromkeys(k for f in d.facts.values() for k in f.sparsity))
    out = []
    if layers:
        head = "".join(f"<th>{esc(layer)}</th>" for layer in layers)
        rows = []
        for name in d.strategies:
            f = d.facts.get(name)
            if f is None:
                continue
            cells = "".join(f"<td>{_bar(f.sparsity.get(layer, math.nan))}</td>" for layer in layers)
            rows.append(f'<tr data-strategy="{esc(name)}"><td>{_swatch(d, name)}</td>{cells}</tr>')
        out.append(
            "<p>Share of weights that are exactly zero, per layer (mean over splits). Only "
            "proximal L1 (soft-thresholding) produces true zeros; a subgradient L1 penalty "
            "makes weights small but rarely exactly zero.</p>"
            f'<div class="scroll"><table class="sparsity"><thead><tr><th>strategy</th>{head}'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
    else:
        out.append('<p class="muted">No sparsity was stored for this study.</p>')
    out.append(f'<h3 id="features">Selected features</h3>{_features(d)}')
    return "\n".join(out)


def _features(d: Digest) -> str:
    selecting = [n for n in d.strategies
                 if n in d.members and is_l1_like(n, d.configs.get(n, {}))]  # fmt: skip
    survival: dict[str, np.ndarray] = {}
    for name in selecting:
        result = feature_survival(d.members[name], rel_threshold=FEATURE_THRESHOLD)
        if result is not None:
            survival[name] = result[0]
    if not survival:
        why = "no strategy with an L1 term" if not selecting else "no feature norms stored"
        return f'<p class="muted">No feature selection to show ({why}).</p>'
    n_features = max(v.size for v in survival.values())
    survival = {k: v for k, v in survival.items() if v.size == n_features}
    names = list(d.feature_names or ())
    if len(names) != n_features:
        names = [f"x{i}" for i in range(n_features)]
    uri = figures.feature_heatmap(names, survival, d.colors)
    strategies = list(survival)
    table = np.stack([survival[s] for s in strategies], axis=1)
    order = np.lexsort((np.arange(n_features), -table.mean(axis=1)))
    head = "".join(f"<th>{_swatch(d, s)}</th>" for s in strategies)
    rows = []
    for i in order[:500]:
        cells = "".join(f"<td>{_bar(float(v))}</td>" for v in table[i])
        rows.append(f'<tr data-feature="{esc(names[i])}"><td>{esc(names[i])}</td>{cells}</tr>')
    more = (f'<p class="muted">… and {n_features - 500} more features.</p>'
            if n_features > 500 else "")  # fmt: skip
    kept = int(np.sum(table.mean(axis=1) >= 0.5))
    return (
        f"<p>For strategies with an L1 term: the share of splits in which each input feature "
        f"survived, i.e. its first-layer weight norm exceeded {FEATURE_THRESHOLD:g} × the "
        f"largest feature norm of that model. {kept} of {n_features} features were kept in at "
        "least half the splits on average. Features kept across all splits are the stable "
        "selection; those kept only sometimes depend on the data split.</p>"
        + _img(uri, "feature survival per L1-like strategy", "")
        + f'<div class="scroll tall"><table class="features"><thead><tr><th>feature</th>{head}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{more}"
    )


# -- failures and metadata ---------------------------------------------------------------------


def failures(d: Digest) -> str:
    """The failed members with their reasons."""
    rows = "".join(
        f"<tr><td>{_swatch(d, m.strategy)}</td><td>{m.split_id}</td><td>{m.repeat}</td>"
        f"<td>{m.fold}</td><td>{m.seed}</td><td><code>{esc(m.key[:12])}</code></td>"
        f'<td class="err">{esc(_cut(m.error or "unknown error", 400))}</td></tr>'
        for m in d.failed
    )
    return (
        f"<p>{len(d.failed)} member{'s' if len(d.failed) != 1 else ''} failed; their splits are "
        "left out of every figure and test above (comparisons use the splits both strategies "
        'finished).</p><div class="scroll"><table><thead><tr><th>strategy</th><th>split</th>'
        "<th>repeat</th><th>fold</th><th>seed</th><th>member</th><th>reason</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )


def _cut(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _scalar(v: Any) -> str:
    if v is None:
        return '<span class="muted">—</span>'
    if isinstance(v, float):
        return esc(f"{v:.6g}")
    return esc(_cut(str(v), 2000))


def value_html(v: Any, depth: int = 0) -> str:
    """Any JSON-like value as HTML: mappings as definition lists, records as tables.

    >>> value_html({"a <b>": [1, 2], "c": {"d": None}})
    '<dl><dt>a &lt;b&gt;</dt><dd>1, 2</dd><dt>c</dt><dd><dl><dt>d</dt><dd><span class="muted">—</span></dd></dl></dd></dl>'
    """  # noqa: E501
    if depth > 6:
        return _scalar(v)
    if isinstance(v, Mapping):
        if not v:
            return '<span class="muted">—</span>'
        items = "".join(
            f"<dt>{esc(k)}</dt><dd>{value_html(x, depth + 1)}</dd>" for k, x in v.items()
        )
        return f"<dl>{items}</dl>"
    if isinstance(v, list | tuple):
        if not v:
            return '<span class="muted">—</span>'
        if all(not isinstance(x, Mapping | list | tuple) for x in v):
            shown = ", ".join(_scalar(x) for x in v[:60])
            return shown + (
                f' <span class="muted">… and {len(v) - 60} more</span>' if len(v) > 60 else ""
            )
        if all(isinstance(x, Mapping) for x in v):
            keys = list(dict.fromkeys(k for x in v for k in x))
            head = "".join(f"<th>{esc(k)}</th>" for k in keys)
            body = "".join(
                "<tr>"
                + "".join(f"<td>{value_html(x.get(k), depth + 1)}</td>" for k in keys)
                + "</tr>"
                for x in v
            )
            return (
                f'<div class="scroll"><table class="meta"><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table></div>"
            )
        return "<ol>" + "".join(f"<li>{value_html(x, depth + 1)}</li>" for x in v) + "</ol>"
    return _scalar(v)


def metadata(d: Digest) -> str:
    """The study's own facts, its configuration and its run metadata, as definition lists."""
    info = d.info
    members = [m for ms in d.members.values() for m in ms]
    facts: dict[str, Any] = {"study": d.name}
    for attr in ("created_at", "status"):
        value = getattr(info, attr, None)
        if value is not None:
            facts[attr.replace("_", " ")] = (
                value.isoformat() if hasattr(value, "isoformat") else value
            )
    facts["members finished"] = len(members)
    facts["members failed"] = len(d.failed)
    facts["outer splits"] = len(d.splits)
    if d.splits:
        n_train = int(np.median(list(d.n_train.values())))
        n_test = int(np.median(list(d.n_test.values())))
        facts["training / test rows per split"] = f"{n_train} / {n_test} (median)"
    facts["seeds"] = sorted({m.seed for m in members})[:60]
    facts["primary metric"] = (
        f"{d.metric.label} ({'higher' if d.metric.higher_is_better else 'lower'} is better)"
    )
    facts["member training time"] = f"{sum(m.wall_s for m in members):.1f} s in total"
    config = dict(getattr(info, "config", {}) or {})
    meta = {
        k: v for k, v in dict(getattr(info, "metadata", {}) or {}).items() if k != "feature_names"
    }
    none = '<p class="muted">None stored.</p>'
    return (
        f"<h3>Study</h3>{value_html(facts)}"
        f"<h3>Run metadata</h3>{value_html(meta) if meta else none}"
        f"<h3>Configuration</h3>{value_html(config) if config else none}"
    )
