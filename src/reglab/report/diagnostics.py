"""The report's diagnostic sections: weights, sparsity and features, failures, run metadata.

Each function takes the :class:`~reglab.report.digest.Digest` and returns an HTML fragment built
with :mod:`reglab.report.markup` (which escapes every study-provided string).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from reglab.report import figures
from reglab.report.analysis import (
    excess_kurtosis,
    feature_survival,
    is_l1_like,
    is_l2_like,
    weight_masses,
)
from reglab.report.digest import Digest
from reglab.report.markup import bar, cut, esc, img, swatch, value_html
from reglab.store import MemberRecord

__all__ = ["FEATURE_THRESHOLD", "failures", "metadata", "sparsity", "weights"]

FEATURE_THRESHOLD = 1e-3
"""A feature survives when its first-layer weight norm exceeds this share of the largest."""

LOG_ALPHA = ".log_alpha"
"""A stored histogram named ``<layer>.log_alpha`` is sparse VD's log α of that layer
(:attr:`reglab.engine.MemberResult.weight_hist`), not a weight histogram."""


def _histograms(members: Mapping[str, Sequence[Any]], log_alpha: bool) -> dict[str, list[Any]]:
    """The members with only their weight histograms, or only their log α histograms."""
    out: dict[str, list[Any]] = {}
    for name, ms in members.items():
        kept = []
        for m in ms:
            hist = {k: v for k, v in m.weight_hist.items() if k.endswith(LOG_ALPHA) == log_alpha}
            if hist or not log_alpha:
                kept.append(dataclasses.replace(m, weight_hist=hist))
        if kept:
            out[name] = kept
    return out


# -- 5. weights --------------------------------------------------------------------------------


def weights(d: Digest) -> str:
    """Weight distributions per layer: the L1/L2 overlay, every strategy, and kurtosis; then a
    CNN study's first-layer filters per strategy (:func:`_filters`)."""
    members = _histograms(d.members, log_alpha=False)
    grids, masses = weight_masses(members)
    filters = _filters(d)
    if not grids:
        return '<p class="muted">No weight histograms were stored for this study.</p>' + filters
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
        img(figures.weight_overlay(d, grids, masses, l1, l2), "weight densities per layer",
             "No baseline, L1-like or L2-like strategy to overlay."),
        "<h3>Every strategy</h3>",
        img(figures.weight_panels(d, grids, masses), "weight densities per strategy", ""),
    ]  # fmt: skip
    layers = list(grids)
    rows = []
    for name in d.strategies:
        ms = members.get(name, [])
        cells = []
        for layer in layers:
            ks = [excess_kurtosis(*m.weight_hist[layer]) for m in ms if layer in m.weight_hist]
            ks = [k for k in ks if math.isfinite(k)]
            cells.append(
                f"{float(np.median(ks)) + 0.0:.2f}".replace("-0.00", "0.00") if ks else "—"
            )
        if ms:
            rows.append(
                f"<tr><td>{swatch(d.colors, name)}</td>"
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
    if filters:
        parts.append(filters)
    return "\n".join(parts)


def _filters(d: Digest) -> str:
    """The first conv layer's first filters of one member per strategy (CNN studies only:
    nothing when no member stored filters), from its first split (lowest split id)."""
    shown: dict[str, Any] = {}
    splits: dict[str, int] = {}
    for name in d.strategies:
        with_filters = [m for m in d.members.get(name, []) if m.filters is not None]
        if with_filters:
            first = min(with_filters, key=lambda m: (m.split_id, m.key))
            shown[name], splits[name] = first.filters, first.split_id
    if not shown:
        return ""
    one = set(splits.values())
    which = f"split {one.pop()}" if len(one) == 1 else "its lowest split"
    return (
        "<h3>First-layer filters</h3>"
        f"<p class=\"muted\">The first conv layer's first filters of each strategy's member "
        f"on {esc(which)} (best weights), on one symmetric grey scale shared by every tile: "
        "mid-grey is 0, white and black the largest positive and negative weight shown. "
        "A strong penalty on the conv kernels gives fainter filters; a filter of several input "
        "channels is shown as their mean.</p>"
        + img(figures.filter_tiles(shown, d.colors), "first-layer conv filters per strategy", "")
    )


# -- 6. sparsity and features ------------------------------------------------------------------


def sparsity(d: Digest) -> str:
    """Exact zeros per layer, and which input features the L1-like strategies kept.

    A table of zeros only when some weight was exactly zero; otherwise one sentence says why
    none was (which strategies could have made exact zeros, and how to ask for them).
    """
    layers = list(dict.fromkeys(k for f in d.facts.values() for k in f.layer_sparsity))
    values = [v for f in d.facts.values() for v in f.layer_sparsity.values() if math.isfinite(v)]
    out = []
    if not layers:
        out.append('<p class="muted">No sparsity was stored for this study.</p>')
    elif values and all(v == 0 for v in values):
        out.append(f'<p class="callout" data-sparsity="none">{_no_zeros(d)}</p>')
    else:
        head = "".join(f"<th>{esc(layer)}</th>" for layer in layers)
        rows = []
        for name in d.strategies:
            f = d.facts.get(name)
            if f is None or f.n_done == 0:
                continue
            cells = "".join(
                f"<td>{bar(f.layer_sparsity.get(layer, math.nan))}"
                f"{_compression(f.layer_sparsity.get(layer, math.nan))}</td>"
                for layer in layers
            )
            rows.append(
                f'<tr data-strategy="{esc(name)}"><td>{swatch(d.colors, name)}</td>{cells}</tr>'
            )
        out.append(
            "<p>Share of weights that are exactly zero, per layer (mean over splits), and the "
            "layer's compression (all weights over the non-zero ones) when it is at least 2×. "
            "Proximal "
            "L1 (soft-thresholding), group L1 and sparse variational dropout (weights whose "
            "log α exceeds its threshold are pruned) produce true zeros; a subgradient L1 "
            "penalty makes weights small but rarely exactly zero.</p>"
            f'<div class="scroll"><table class="sparsity"><thead><tr><th>strategy</th>{head}'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
    out.append(_log_alphas(d))
    out.append(f'<h3 id="features">Selected features</h3>{_features(d)}')
    return "\n".join(out)


def _compression(fraction: float) -> str:
    """`` · 66.7×``: a layer's compression ``1/(1 − sparsity)`` when it is at least 2×."""
    if not math.isfinite(fraction) or fraction < 0.5:
        return ""
    ratio = 1.0 / max(1.0 - fraction, 1e-9)
    return f' <span class="muted">· {ratio:.3g}×</span>' if ratio < 1e6 else " · all zero"


def _log_alphas(d: Digest) -> str:
    """Sparse VD's log α per layer (mean over splits), when a strategy stored them."""
    grids, masses = weight_masses(_histograms(d.members, log_alpha=True))
    if not grids:
        return ""
    grids = {k.removesuffix(LOG_ALPHA): v for k, v in grids.items()}
    masses = {k.removesuffix(LOG_ALPHA): v for k, v in masses.items()}
    return (
        '<h3 id="log-alpha">Sparse variational dropout: log α</h3><p>The distribution of '
        "each weight's log α = log σ² − log θ² per layer (log-scale density, mean over "
        "splits, clipped to [−8, 8]). Weights above the strategy's threshold (3 by default) "
        "are pruned; a pruned weight is stored as 0 and counts at 8.</p>"
        + img(figures.weight_panels(d, grids, masses), "log α densities per strategy", "")
    )


def _was(n: int) -> str:
    return "was" if n == 1 else "were"


def _names(names: list[str]) -> str:
    return ", ".join(f"<code>{esc(n)}</code>" for n in names)


def _no_zeros(d: Digest) -> str:
    """Why every layer of every strategy has 0% exact zeros."""
    l1 = [n for n in d.strategies if is_l1_like(n, d.configs.get(n, {}))]
    proximal = [n for n in l1 if d.configs.get(n, {}).get("l1_mode") == "proximal"]
    first = "No weight of any strategy is exactly zero, in any layer"
    if proximal:
        return first + (
            f". {_names(proximal)} appl{'ies' if len(proximal) == 1 else 'y'} L1 by "
            "soft-thresholding, which can make exact zeros, but its strength was too small to "
            "push any weight to zero on this data; a larger <code>l1=</code> would."
        )
    why = (
        f"the L1 strategies here ({_names(l1)}) use the subgradient penalty, which makes "
        "weights small but never exactly zero"
        if l1
        else "no strategy in this study has an L1 term"
    )
    return (
        f"{first}, and none could be: {why}. Only L1 applied by soft-thresholding makes exact "
        "zeros: add the <code>proximal</code> term, as in <code>l1=1e-4+proximal</code>."
    )


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
    strategies = list(survival)
    table = np.stack([survival[s] for s in strategies], axis=1)
    rule = (
        f"A feature counts as kept by a model when its first-layer weight norm exceeds "
        f"{FEATURE_THRESHOLD:g} × the largest feature norm of that model."
    )
    dropped = np.flatnonzero((table == 0).any(axis=1))
    unstable = np.flatnonzero(((table > 0) & (table < 1)).any(axis=1) & ~(table == 0).any(axis=1))
    if dropped.size == 0 and unstable.size == 0:
        return (
            f'<p class="callout" data-features="all-kept">Every one of the {n_features} features '
            f"was kept in every split by every strategy with an L1 term ({_names(strategies)}): "
            "no feature was dropped, so these strategies selected nothing on this data. "
            f"{rule} A larger <code>l1=</code>, or L1 by soft-thresholding "
            "(<code>+proximal</code>), could remove features that do not help.</p>"
        )
    order = np.lexsort((np.arange(n_features), table.mean(axis=1)))  # least kept first
    moved = np.concatenate([dropped, unstable])
    shown = [i for i in order if i in set(moved.tolist())]
    uri = figures.feature_heatmap(
        [names[i] for i in shown], {s: survival[s][shown] for s in strategies}, d.colors
    )
    head = "".join(f"<th>{swatch(d.colors, s)}</th>" for s in strategies)
    rows = []
    for i in order[:500]:
        cells = "".join(f"<td>{bar(float(v))}</td>" for v in table[i])
        rows.append(f'<tr data-feature="{esc(names[i])}"><td>{esc(names[i])}</td>{cells}</tr>')
    more = (f'<p class="muted">… and {n_features - 500} more features.</p>'
            if n_features > 500 else "")  # fmt: skip

    def listed(idx: np.ndarray) -> str:
        cut_at = 12
        text = ", ".join(f"<code>{esc(names[i])}</code>" for i in idx[:cut_at])
        return text + (f" and {idx.size - cut_at} more" if idx.size > cut_at else "")

    said = []
    if dropped.size:
        said.append(
            f"{dropped.size} {_was(dropped.size)} dropped (kept in no split by at least one "
            f"strategy): {listed(dropped)}"
        )
    if unstable.size:
        said.append(
            f"{unstable.size} {_was(unstable.size)} unstable (kept in some splits only, so the "
            f"choice depends on the data split): {listed(unstable)}"
        )
    kept = n_features - dropped.size - unstable.size
    return (
        f'<p data-features="selected">Of {n_features} features, '
        + "; ".join(said)
        + f". The other {kept} were kept in every split by every strategy with an L1 term. "
        f"{rule}</p>"
        + img(uri, "feature survival per L1-like strategy", "")
        + '<p class="muted">The heatmap shows the dropped and unstable features (at most 60), '
        "least kept first. The table lists every feature, least kept first: the share of "
        "splits in which each strategy kept it.</p>"
        + f'<div class="scroll tall"><table class="features"><thead><tr><th>feature</th>{head}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{more}"
    )


# -- failures and metadata ---------------------------------------------------------------------


def failures(d: Digest) -> str:
    """The failed members with their reasons, then those that learned nothing."""

    def table(members: Sequence[MemberRecord]) -> str:
        rows = "".join(
            f"<tr><td>{swatch(d.colors, m.strategy)}</td><td>{m.split_id}</td><td>{m.repeat}</td>"
            f"<td>{m.fold}</td><td>{m.seed}</td><td><code>{esc(m.key[:12])}</code></td>"
            f'<td class="err">{esc(cut(m.error or "unknown error", 400))}</td></tr>'
            for m in members
        )
        return (
            '<div class="scroll"><table><thead><tr><th>strategy</th><th>split</th>'
            "<th>repeat</th><th>fold</th><th>seed</th><th>member</th><th>reason</th></tr>"
            f"</thead><tbody>{rows}</tbody></table></div>"
        )

    parts = []
    if d.failed:
        n = len(d.failed)
        parts.append(
            f"<p>{n} member{'s' if n != 1 else ''} failed; their splits are left out of every "
            "figure and test above (comparisons use the splits both strategies finished).</p>"
            + table(d.failed)
        )
    if d.chance:
        n = len(d.chance)
        parts.append(
            f"<p>{n} member{'s' if n != 1 else ''} learned nothing (test score at chance level "
            "while other strategies learned). Their test scores count in their strategies' "
            "means, intervals and tests, as outcomes of those strategies; their weights and "
            "curves are left out of the figures.</p>" + table(d.chance)
        )
    return "".join(parts)


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
    if d.chance:
        facts["members that learned nothing"] = len(d.chance)
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
        str(k).replace("_", " "): v
        for k, v in dict(getattr(info, "metadata", {}) or {}).items()
        if k != "feature_names"
    }
    last = _last_run(meta.pop("timings", None))
    if last:
        facts["last run"] = last
    none = '<p class="muted">None stored.</p>'
    return (
        f"<h3>Study</h3>{value_html(facts)}"
        f"<h3>Environment, data and protocol</h3>{value_html(meta) if meta else none}"
        f"<h3>Configuration</h3>{value_html(config) if config else none}"
    )


def _last_run(timings: Any) -> str:
    """What the last command did: members trained, members reused from the store, seconds."""
    if not isinstance(timings, dict):
        return ""
    trained = timings.get("members trained")
    reused = timings.get("members reused from the store")
    wall = timings.get("last run wall s")
    bits = []
    if isinstance(trained, int):
        bits.append(f"{trained} member{'s' if trained != 1 else ''} trained")
    if isinstance(reused, int) and reused:
        bits.append(f"{reused} reused from the store")
    if isinstance(wall, int | float) and math.isfinite(wall):
        bits.append(f"{wall:.1f} s")
    return ", ".join(bits)
