"""Advice before a study: what the data say about which regularization to try first.

:func:`advise` measures a table and turns the measurements into a short-list of strategies in
reglab's grammar, each with the rule of the field that chose it, and the ``reglab bench``
command that checks the short-list. The command follows what loading the data found: it
splits by the ``--groups`` a repeated-measures notice suggests and leaves out (``--drop``) the
columns flagged as possible target leakage, each said under it, beside the user's own
``--task``, ``--drop`` and ``--groups``. It trains no network; it is a few seconds of
scikit-learn. What it measures, on the encoded inputs (imputed, one-hot, standardized):

* **size**: rows ``n``, inputs ``p`` and ``n/p``; the class counts;
* **missing values**: the share of empty cells, per column;
* **correlated groups**: average-linkage hierarchical clustering of the inputs on
  ``1 − |ρ|`` (Pearson), cut at :data:`CORRELATED` (groups whose average ``|ρ|`` is at least
  0.7);
* **irrelevant inputs**: an input counts as irrelevant when its univariate mutual information
  with the target is no higher than the 95th percentile of the mutual information with a
  shuffled target (a permutation null, so about 5% of truly irrelevant inputs are missed).
  A second opinion is the share of inputs an L1 model (logistic, or Lasso for regression) at
  the one-standard-error strength of its 3-fold CV path leaves at zero; it is shown beside the
  estimate but does not decide, since L1 also zeroes a redundant copy of a useful input and
  any input whose effect is not linear;
* **signal and noise**: a simple model (L2-logistic or ridge) and a flexible one (histogram
  gradient boosting) scored by 5-fold CV (balanced accuracy, or R²). Each is tested against
  chance (``1/K``, R² 0) and against each other with the Nadeau–Bengio corrected t-test.
  Neither above chance: the target looks like noise, and the advice says so instead of
  pretending a regularizer will help. The flexible model significantly better: the data hold
  structure a linear model misses, the room a network has.

* **noise share**: ``1 − best score`` of the two models (``1 − R²``, or for classification
  the best balanced error over chance's, ``(1 − b) / (1 − 1/K)``): an upper estimate of the
  part of the target no model of these columns explains;
* **target skewness** (regression): the sample skewness ``g₁ = m₃ / m₂^{3/2}`` of the target.

The rules (Hastie, Tibshirani & Friedman, *Elements of Statistical Learning*; Zou & Hastie
2005; Srivastava et al. 2014; Prechelt 1998; Holzmüller et al. 2024): many irrelevant inputs
→ L1 or elastic net; correlated groups → L2 or elastic net (L1 alone picks one member of a
group at random); few samples → dropout, L2 and early stopping; ``p ≥ n`` → elastic net. Two
rules look past the classic list:

* **ample rows, noisy target** (``n ≥`` :data:`AMPLE_ROWS`, ``n/p ≥``
  :data:`AMPLE_PER_INPUT`, noise share ``≥`` :data:`NOISY`): few weights per row, so the
  network does not overfit by capacity, but it slowly fits the noise in a target that is
  largely noise. A weight penalty tuned for small data is then too narrow a short-list; mild,
  broad damping is what works: decoupled weight decay and light dropout, RealMLP-TD's
  defaults (meta-tuned on 118 tabular sets, mostly of this shape). Both, and their
  combination, join the short-list;
* **skewed target** (regression, ``|g₁| ≥`` :data:`SKEWED`): a note, not a strategy: squared
  error is dominated by the tail, and no regularizer changes that; a log target or MAE may be
  the better criterion.

Starting strengths follow the size of the data (stronger for fewer rows).
"""

from __future__ import annotations

import math
import shlex
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reglab._outputs import check_output, write_atomic
from reglab._seeding import derive
from reglab.data.groups import GroupSpec, parse_groups
from reglab.errors import DataError
from reglab.stats.compare import format_p

if TYPE_CHECKING:
    from reglab.data.load import Dataset

__all__ = ["Advice", "Suggestion", "advise", "measure"]

CORRELATED = 0.7
"""Inputs whose average absolute correlation is at least this form a group."""
MANY_IRRELEVANT = 0.3
"""At least this share of irrelevant inputs calls for L1 (or elastic net)."""
FEW_ROWS = 1000
"""Fewer rows than this are few for a network."""
SIGNAL_FOLDS = 5
"""Folds of the cross-validation that measures the signal (the most any measurement uses)."""
MIN_ROWS = 20
"""Rows below which nothing is measured: a fold's score on one or two test rows (an R² of
one row is undefined) says nothing."""
FEW_PER_INPUT = 10
"""Fewer rows per input than this are few for a network."""
MAX_ROWS = 5000
"""At most this many rows (a seeded sample) are measured; the advice says when it sampled."""
MAX_GROUPED = 2000
"""Correlated groups are sought among at most this many inputs."""
ALPHA = 0.05
"""Significance level of the signal tests."""
AMPLE_ROWS = 2000
"""At least this many rows (and :data:`AMPLE_PER_INPUT` per input) are ample for a network."""
AMPLE_PER_INPUT = 100
"""At least this many rows per input are ample for a network."""
NOISY = 0.3
"""A noise share at or above this calls the target noisy."""
SKEWED = 1.0
"""A regression target with ``|skewness|`` at or above this is skewed."""
MARGIN = 0.02
"""A score within this of chance (balanced accuracy, or R²) counts as chance however small its
p-value: the answer's own "learned nothing" margin."""


@dataclass(frozen=True)
class Suggestion:
    """One strategy of the short-list, in reglab's grammar, and the rule that chose it."""

    strategy: str
    rule: str


@dataclass(frozen=True)
class Measurements:
    """What :func:`measure` found (see the module docstring for each quantity)."""

    task: str
    n_rows: int
    n_columns: int
    n_inputs: int
    sampled: int | None
    class_counts: dict[str, int]
    missing_share: float
    missing_columns: dict[str, float]
    groups: tuple[tuple[str, ...], ...]
    irrelevant: tuple[str, ...]
    irrelevant_l1: float
    metric: str
    chance: float
    simple: float
    flexible: float
    simple_p: float
    flexible_p: float
    gap_p: float
    target_skew: float = math.nan
    simple_exact: bool = False
    flexible_exact: bool = False
    gap_exact: bool = False
    """Whether the p of each test (simple and flexible vs chance, their gap) is the exact sign
    test's: the scores differ by the same amount on every split (zero variance), so 5 splits
    give at least 0.031 one-sided, 0.0625 two-sided, however large the difference."""

    @property
    def noise_share(self) -> float:
        """The share of the target's variation neither model explains (module docstring)."""
        best = max(self.simple, self.flexible)
        if self.metric == "r2":
            return float(min(1.0, max(0.0, 1.0 - best)))
        return float(min(1.0, max(0.0, (1.0 - best) / max(1.0 - self.chance, 1e-12))))

    @property
    def rows_per_input(self) -> float:
        return self.n_rows / max(self.n_inputs, 1)

    @property
    def irrelevant_share(self) -> float:
        return len(self.irrelevant) / max(self.n_inputs, 1)

    @property
    def signal(self) -> str:
        """``"none"`` (neither model beats chance), ``"nonlinear"`` (boosting significantly
        beats the linear model) or ``"linear"``. A model above chance by the same amount on
        every split (its sign test's p is the smallest the splits allow) counts as above
        chance: its Bonferroni-doubled p could not reach :data:`ALPHA` with 5 splits."""
        best = max(self.simple, self.flexible)
        p = min(1.0, 2 * min(self.simple_p, self.flexible_p))  # Bonferroni over the two
        unanimous = (self.simple_exact and self.simple > self.chance) or (
            self.flexible_exact and self.flexible > self.chance
        )
        if (p >= ALPHA and not unanimous) or best - self.chance < MARGIN:
            return "none"
        if self.gap_p < ALPHA and self.flexible > self.simple:
            return "nonlinear"
        return "linear"


@dataclass(frozen=True)
class Advice:
    """The measurements, the short-list with its rules, the checking command and notes."""

    data: str
    target: str
    measurements: Measurements
    suggestions: tuple[Suggestion, ...]
    command: str
    notes: tuple[str, ...] = field(default=())
    command_notes: tuple[str, ...] = field(default=())
    """Why the command carries an option the user did not pass (``--drop``, ``--groups``), or
    lacks one the user gave (groups as labels)."""

    @property
    def strategies(self) -> str:
        """The short-list as ``--strategies`` takes it."""
        return ",".join(s.strategy for s in self.suggestions)

    def lines(self) -> list[str]:
        """The advice as the terminal prints it."""
        m = self.measurements
        out = [f"Data: {self.data}, target {self.target!r} ({m.task})"]
        size = f"  n = {m.n_rows} rows, p = {m.n_inputs} inputs after encoding"
        size += f" ({m.n_columns} columns), n/p = {m.rows_per_input:.3g}"
        out.append(size + (f"; measured on a sample of {m.sampled} rows" if m.sampled else ""))
        if m.class_counts:
            counts = sorted(m.class_counts.values())
            out.append(
                f"  classes: {len(counts)}, smallest {counts[0]} rows, largest {counts[-1]} "
                f"(ratio {counts[-1] / max(counts[0], 1):.3g})"
            )
        out.append(f"  missing cells: {100 * m.missing_share:.1f}%")
        if m.groups:
            shown = "; ".join(_listed(g, 4) for g in m.groups[:3])
            more = len(m.groups) - 3
            shown += f"; and {more} more group{'s' * (more > 1)}" if more > 0 else ""
            out.append(f"  correlated groups (|ρ| ≥ {CORRELATED}): {len(m.groups)}: {shown}")
        else:
            out.append(f"  correlated groups (|ρ| ≥ {CORRELATED}): none")
        out.append(
            f"  irrelevant inputs (mutual information at the shuffled-target level): "
            f"{len(m.irrelevant)} of {m.n_inputs} ({100 * m.irrelevant_share:.0f}%; zero "
            f"under L1 at the 1-SE strength: {100 * m.irrelevant_l1:.0f}%)"
        )
        out.append(
            f"  signal: {_label(m.metric)} by {SIGNAL_FOLDS}-fold CV: linear "
            f"{_fmt(m.metric, m.simple)} (vs chance {_p(m.simple_p, m.simple_exact)}), boosting "
            f"{_fmt(m.metric, m.flexible)} ({_p(m.flexible_p, m.flexible_exact)}), chance "
            f"{_fmt(m.metric, m.chance)}; boosting vs linear {_p(m.gap_p, m.gap_exact)}; noise "
            f"share {100 * m.noise_share:.0f}%"
        )
        if math.isfinite(m.target_skew):
            out.append(f"  target skewness: {m.target_skew:.2f}")
        out.append("Short-list:")
        out += [f"  {s.strategy:<24} {s.rule}" for s in self.suggestions]
        out += [f"note: {n}" for n in self.notes]
        out.append("Check it:")
        out.append(f"  {self.command}")
        out += [f"  {n}" for n in self.command_notes]
        return out

    def to_dict(self) -> dict[str, Any]:
        m = self.measurements
        return {
            "data": self.data,
            "target": self.target,
            "measurements": {
                **asdict(m),
                "groups": [list(g) for g in m.groups],
                "irrelevant": list(m.irrelevant),
                "rows_per_input": m.rows_per_input,
                "irrelevant_share": m.irrelevant_share,
                "signal": m.signal,
                "noise_share": m.noise_share,
            },
            "suggestions": [asdict(s) for s in self.suggestions],
            "strategies": self.strategies,
            "command": self.command,
            "command_notes": list(self.command_notes),
            "notes": list(self.notes),
        }

    def to_json(self, path: str | Path, inputs: dict[str, Path | None] | None = None) -> Path:
        """Write :meth:`to_dict` as JSON, atomically (never over ``inputs``)."""
        import json

        out = check_output("path", path, inputs=inputs or {}, writes="json")
        return write_atomic(out, json.dumps(_finite(self.to_dict()), indent=2) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _label(metric: str) -> str:
    return "balanced accuracy" if metric == "balanced_accuracy" else "R²"


def _fmt(metric: str, value: float) -> str:
    return f"{100 * value:.1f}%" if metric == "balanced_accuracy" else f"{value:.3f}"


def _p(p: float, exact: bool = False) -> str:
    """``p=0.031`` or ``p<0.001``; ``exact``: the sign test's p (zero variance), said so, since
    it is the smallest the splits allow, not weaker evidence than a t-test's smaller p.

    >>> _p(0.0004), _p(0.2)
    ('p<0.001', 'p=0.2')
    >>> _p(0.03125, exact=True)
    'p=0.031, exact sign test: the same margin on every split, the smallest p 5 splits allow'
    """
    shown = format_p(p)
    text = f"p{shown}" if shown.startswith("<") else f"p={shown}"
    if not exact:
        return text
    return (
        f"{text}, exact sign test: the same margin on every split, the smallest p "
        f"{SIGNAL_FOLDS} splits allow"
    )


def _listed(items: Sequence[str], most: int) -> str:
    """At most ``most`` of ``items``, saying how many more there are.

    >>> _listed(["a", "b", "c"], 2), _listed(["a"], 2)
    ('a, b and 1 more', 'a')
    """
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


# -- measuring ---------------------------------------------------------------------------------


def measure(dataset: Any, *, seed: int = 0) -> Measurements:
    """Measure a :class:`~reglab.data.load.Dataset` (see the module docstring)."""
    from threadpoolctl import threadpool_limits

    from reglab.data.preprocess import Preprocessor

    n = dataset.n_rows
    if n < MIN_ROWS:
        raise DataError(
            f"advise: the data must have at least {MIN_ROWS} rows to be measured ({SIGNAL_FOLDS} "
            f"cross-validation folds of at least {MIN_ROWS // SIGNAL_FOLDS} test rows); got {n}."
        )
    rng = np.random.default_rng(derive(seed, "advise", "rows"))
    rows = np.sort(rng.choice(n, MAX_ROWS, replace=False)) if n > MAX_ROWS else np.arange(n)
    pre = Preprocessor.for_dataset(dataset, fixed_categories=True).fit(dataset.X, rows)
    X = np.asarray(pre.transform(dataset.X), dtype=np.float64)[rows]
    y = np.asarray(dataset.y)[rows]
    names = tuple(pre.feature_names_out)
    task = dataset.task
    missing = dataset.X.isna().mean() if dataset.n_features else None
    counts: dict[str, int] = {}
    if task != "regression":
        values, found = np.unique(y, return_counts=True)
        counts = {dataset.classes[int(v)]: int(c) for v, c in zip(values, found, strict=True)}
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        groups = _groups(X, names, _sources(names, dataset.categorical_columns))
        subjects = None if dataset.grouping is None else dataset.grouping.codes[rows]
        _folds(y, task, SIGNAL_FOLDS, seed, subjects)  # too few groups: refused before measuring
        zero = _l1_zero(X, y, task, seed, subjects)
        null = _mi_null(X, y, task, seed)
        scores = _signal(X, y, task, seed, subjects)
    irrelevant = tuple(nm for nm, u in zip(names, null, strict=True) if u)
    return Measurements(
        task=task,
        n_rows=n,
        n_columns=dataset.n_features,
        n_inputs=len(names),
        sampled=len(rows) if n > MAX_ROWS else None,
        class_counts=counts,
        missing_share=float(missing.mean()) if missing is not None else 0.0,
        missing_columns={
            str(k): float(v) for k, v in (missing if missing is not None else {}).items() if v > 0
        },
        groups=groups,
        irrelevant=irrelevant,
        irrelevant_l1=float(np.mean(zero)) if len(zero) else 0.0,
        **scores,
        target_skew=_skew(np.asarray(dataset.y, dtype=np.float64)) if task == "regression"
        else math.nan,
    )  # fmt: skip


def _skew(y: np.ndarray) -> float:
    """Sample skewness ``m₃ / m₂^{3/2}`` (0 for a constant target).

    >>> round(_skew(np.array([0.0, 0.0, 0.0, 1.0])), 3)
    1.155
    """
    d = y - y.mean()
    m2 = float(np.mean(d * d))
    return 0.0 if m2 <= 0 else float(np.mean(d**3) / m2**1.5)


def _sources(names: Sequence[str], categorical: Sequence[str]) -> list[str]:
    """The column each input was encoded from (``colour=red`` → ``colour``)."""
    cats = set(categorical)
    out = []
    for name in names:
        head = name.split("=", 1)[0]
        out.append(head if "=" in name and head in cats else name)
    return out


def _groups(
    X: np.ndarray, names: Sequence[str], sources: Sequence[str]
) -> tuple[tuple[str, ...], ...]:
    """Groups of inputs with average ``|ρ| ≥`` :data:`CORRELATED`, largest first. The one-hot
    levels of one column are correlated by construction (``a=t`` is ``1 − a=f``), so their
    correlation with each other is not counted."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    p = X.shape[1]
    if p < 2 or p > MAX_GROUPED:
        return ()
    std = X.std(axis=0)
    live = np.flatnonzero(std > 0)
    if len(live) < 2:
        return ()
    rho = np.nan_to_num(np.corrcoef(X[:, live], rowvar=False))
    src = np.array([sources[int(i)] for i in live])
    rho[src[:, None] == src[None, :]] = 0.0
    dist = np.clip(1.0 - np.abs(rho), 0.0, None)
    np.fill_diagonal(dist, 0.0)
    labels = fcluster(
        linkage(squareform(dist, checks=False), "average"), 1 - CORRELATED, "distance"
    )
    found = [tuple(names[live[i]] for i in np.flatnonzero(labels == c)) for c in np.unique(labels)]
    return tuple(sorted((g for g in found if len(g) > 1), key=lambda g: (-len(g), g)))


def _folds(y: np.ndarray, task: str, k: int, seed: int, subjects: Any = None) -> Any:
    """The CV folds of a measurement; with ``subjects`` (group codes, ``--groups``) each group
    is whole in one fold (``GroupKFold``, ``StratifiedGroupKFold`` for classification)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if subjects is not None:
        from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

        found = len(np.unique(subjects))
        if found < k:
            raise DataError(
                f"advise: the data must have at least {k} groups (--groups) for its {k}-fold "
                f"measurements; got {found}."
            )
        rs = derive(seed, "advise", k) % 2**31
        grouped = (
            GroupKFold(k)
            if task == "regression"
            else StratifiedGroupKFold(k, shuffle=True, random_state=rs)
        )
        return list(grouped.split(np.zeros((len(y), 1)), y, groups=subjects))

    cls = KFold if task == "regression" else StratifiedKFold
    return cls(n_splits=k, shuffle=True, random_state=derive(seed, "advise", k) % 2**31)


def _l1_zero(
    X: np.ndarray, y: np.ndarray, task: str, seed: int, subjects: Any = None
) -> np.ndarray:
    """Per input: zero weight under L1 at the one-standard-error strength of a 3-fold path."""
    from sklearn.linear_model import Lasso, LassoCV, LogisticRegression
    from sklearn.model_selection import cross_val_score

    folds = _folds(y, task, 3, seed, subjects)
    if task == "regression":
        path = LassoCV(alphas=30, cv=folds, max_iter=2000).fit(X, y)
        mse = path.mse_path_  # (alphas, folds); alphas from strong to weak
        mean, se = mse.mean(axis=1), mse.std(axis=1, ddof=1) / math.sqrt(mse.shape[1])
        best = int(np.argmin(mean))
        alpha = float(path.alphas_[np.flatnonzero(mean <= mean[best] + se[best])[0]])
        coef = Lasso(alpha=alpha, max_iter=5000).fit(X, y).coef_.reshape(1, -1)
    else:
        cs = np.logspace(-3, 1, 5)
        scores = np.array([
            cross_val_score(
                LogisticRegression(C=c, l1_ratio=1.0, solver="saga", tol=1e-2, max_iter=200,
                                   random_state=0),
                X, y, cv=folds, scoring="neg_log_loss",
            )
            for c in cs
        ])  # fmt: skip
        mean, se = scores.mean(axis=1), scores.std(axis=1, ddof=1) / math.sqrt(scores.shape[1])
        best = int(np.argmax(mean))
        c = float(cs[np.flatnonzero(mean >= mean[best] - se[best])[0]])  # strongest within 1 SE
        model = LogisticRegression(
            C=c, l1_ratio=1.0, solver="saga", tol=1e-3, max_iter=500, random_state=0
        ).fit(X, y)
        coef = np.atleast_2d(model.coef_)
    return np.all(np.abs(coef) < 1e-10, axis=0)


def _mi_null(X: np.ndarray, y: np.ndarray, task: str, seed: int, shuffles: int = 3) -> np.ndarray:
    """Per input: mutual information with the target at most the shuffled-target 95th
    percentile (pooled over inputs and ``shuffles`` permutations)."""
    from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

    mi_of = mutual_info_regression if task == "regression" else mutual_info_classif
    state = derive(seed, "advise", "mi") % 2**31
    mi = mi_of(X, y, random_state=state)
    rng = np.random.default_rng(state)
    null = np.concatenate(
        [mi_of(X, rng.permutation(y), random_state=state) for _ in range(shuffles)]
    )
    return np.asarray(mi <= np.quantile(null, 0.95))


def _signal(
    X: np.ndarray, y: np.ndarray, task: str, seed: int, subjects: Any = None
) -> dict[str, Any]:
    """Linear and boosted models by 5-fold CV, tested against chance and each other."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.model_selection import cross_val_score

    from reglab.stats.ttest import corrected_resampled_ttest

    folds = _folds(y, task, SIGNAL_FOLDS, seed, subjects)
    if task == "regression":
        metric, chance = "r2", 0.0
        simple: Any = RidgeCV(alphas=np.logspace(-3, 3, 7))
        flexible: Any = HistGradientBoostingRegressor(random_state=0)
    else:
        k = len(np.unique(y))
        metric, chance = "balanced_accuracy", 1.0 / k
        simple = LogisticRegression(C=1.0, max_iter=1000)
        flexible = HistGradientBoostingClassifier(random_state=0)
    a = cross_val_score(simple, X, y, cv=folds, scoring=metric)
    b = cross_val_score(flexible, X, y, cv=folds, scoring=metric)
    n_test = max(1, len(y) // 5)
    n_train = len(y) - n_test
    level = [chance] * len(a)

    def one_sided(scores: np.ndarray) -> tuple[float, bool]:
        """The p of ``scores`` above chance, and whether it is the sign test's (``t = ±∞``)."""
        t = corrected_resampled_ttest(list(scores), level, n_train, n_test)
        p = t.p_value / 2 if t.mean_diff > 0 else 1.0 - t.p_value / 2
        return p, math.isinf(t.t)

    simple_p, simple_exact = one_sided(a)
    flexible_p, flexible_exact = one_sided(b)
    gap = corrected_resampled_ttest(list(b), list(a), n_train, n_test)
    return {
        "metric": metric,
        "chance": chance,
        "simple": float(a.mean()),
        "flexible": float(b.mean()),
        "simple_p": simple_p,
        "flexible_p": flexible_p,
        "gap_p": gap.p_value,
        "simple_exact": simple_exact,
        "flexible_exact": flexible_exact,
        "gap_exact": math.isinf(gap.t),
    }


# -- advising ----------------------------------------------------------------------------------


def _strengths(n: int) -> tuple[str, str, str]:
    """Starting L2, L1 and dropout strengths for ``n`` rows (stronger for fewer rows)."""
    l2 = "1e-3" if n < FEW_ROWS else "1e-4"
    dropout = "0.5" if n < 300 else "0.3" if n < 5000 else "0.2"
    return l2, "1e-4", dropout


NEAR_PERFECT = 0.995
"""A cross-validated score at or above this (balanced accuracy, or R²) raises the leakage note."""


DAMP_DECAY = "2e-2"
"""Decoupled weight decay of the ample-and-noisy rule (RealMLP-TD's default)."""
DAMP_DROPOUT = "0.15"
"""Dropout of the ample-and-noisy rule (RealMLP-TD's default)."""


def ample_and_noisy(m: Measurements) -> bool:
    """The ample-rows, noisy-target rule (module docstring): ``n ≥`` :data:`AMPLE_ROWS`,
    ``n/p ≥`` :data:`AMPLE_PER_INPUT`, a signal found and a noise share ``≥`` :data:`NOISY`."""
    return (
        m.n_rows >= AMPLE_ROWS
        and m.rows_per_input >= AMPLE_PER_INPUT
        and m.signal != "none"
        and m.noise_share >= NOISY
    )


def shortlist(m: Measurements) -> tuple[list[Suggestion], list[str]]:
    """The strategies the rules choose for ``m``, with their rules, and notes."""
    l2, l1, drop = _strengths(m.n_rows)
    if m.irrelevant_share >= 0.6:
        l1 = "1e-3"
    out = [Suggestion("none", "the baseline every strategy is tested against")]
    notes: list[str] = []
    few = m.n_rows < FEW_ROWS or m.rows_per_input < FEW_PER_INPUT
    many_irrelevant = m.irrelevant_share >= MANY_IRRELEVANT
    grouped = sum(len(g) for g in m.groups)
    wide = m.n_inputs >= m.n_rows
    enet = "elasticnet=1e-3:0.5"
    if m.signal == "none":
        out.append(Suggestion(
            f"l2={l2}",
            "no signal found: neither a linear model nor boosting beats chance "
            f"({_label(m.metric)}), so no regularization can be expected to help; the study "
            "can only confirm that",
        ))  # fmt: skip
        notes.append(
            "The target looks like noise given these columns: check the target column, the "
            "rows and whether a column that carries the signal was dropped, before tuning "
            "any regularization."
        )
        return out, notes
    if wide:
        out.append(Suggestion(
            enet,
            f"p ≥ n ({m.n_inputs} inputs, {m.n_rows} rows): elastic net selects among many "
            "inputs and keeps correlated ones together (Zou & Hastie 2005)",
        ))  # fmt: skip
    if many_irrelevant:
        out.append(Suggestion(
            f"l1={l1}",
            f"{100 * m.irrelevant_share:.0f}% of the inputs look irrelevant: L1 drives their "
            "weights to zero",
        ))  # fmt: skip
    if m.groups:
        out.append(Suggestion(
            f"l2={l2}",
            f"{len(m.groups)} group(s) of correlated inputs ({grouped} inputs, |ρ| ≥ "
            f"{CORRELATED}): L2 spreads weight over a group where L1 picks one member",
        ))  # fmt: skip
        if many_irrelevant and not wide:
            out.append(Suggestion(
                enet, "irrelevant inputs and correlated groups: elastic net handles both"
            ))  # fmt: skip
    if few:
        why = (
            f"few samples ({m.n_rows} rows, {m.rows_per_input:.3g} per input): a network "
            "overfits quickly"
        )
        out.append(Suggestion(f"dropout={drop}", f"{why}; dropout (Srivastava et al. 2014)"))
        out.append(Suggestion(f"l2={l2}", f"{why}; weight penalty"))
        out.append(Suggestion(
            f"dropout={drop}+l2={l2}",
            "few samples: dropout and L2 together, tested against each alone",
        ))  # fmt: skip
        notes.append(
            "Early stopping is on in every study (--patience 10), the third remedy for few "
            "samples (Prechelt 1998)."
        )
    if ample_and_noisy(m):
        why = (
            f"ample rows ({m.n_rows}, {m.rows_per_input:.3g} per input) and a noisy target "
            f"(about {100 * m.noise_share:.0f}% unexplained by either model): the network "
            "fits the noise slowly, so damp it mildly and broadly"
        )
        out.append(Suggestion(
            f"weight-decay={DAMP_DECAY}",
            f"{why}; decoupled weight decay (RealMLP-TD's default, Holzmüller et al. 2024)",
        ))  # fmt: skip
        out.append(Suggestion(
            f"dropout={DAMP_DROPOUT}+weight-decay={DAMP_DECAY}",
            f"{why}; light dropout with weight decay, RealMLP-TD's pair, tuned here",
        ))  # fmt: skip
    if m.task == "regression" and abs(m.target_skew) >= SKEWED:
        notes.append(
            f"The target is skewed (skewness {m.target_skew:.2f}): squared error is dominated "
            "by its tail, which no regularizer changes; a log-transformed target or MAE may "
            "be the better criterion: bench ranks by RMSE and shows MAE beside it, and reglab "
            "tune optimizes MAE with --metric mae."
        )
    if len(out) == 1:
        out.append(Suggestion(
            f"dropout={drop}",
            f"{m.n_rows} rows, {m.rows_per_input:.3g} per input, no irrelevant inputs or "
            "correlated groups found: overfitting should be mild; light dropout may still help",
        ))  # fmt: skip
        out.append(Suggestion(f"l2={l2}", "a light weight penalty, the usual first try"))
    if max(m.simple, m.flexible) >= NEAR_PERFECT:
        notes.append(
            f"A {_label(m.metric)} of {_fmt(m.metric, max(m.simple, m.flexible))} by plain "
            "models is rare on real data: check that no column leaks the target (--drop it) "
            "before reading anything into a comparison of regularizers."
        )
    if m.signal == "linear":
        notes.append(
            f"Boosting does not beat the linear model significantly ({_label(m.metric)} "
            f"{_fmt(m.metric, m.flexible)} vs {_fmt(m.metric, m.simple)}, "
            f"{_p(m.gap_p, m.gap_exact)}): a "
            "network may not beat the linear reference either; the study's reference rows "
            "will tell."
        )
    if m.class_counts:
        counts = sorted(m.class_counts.values())
        if counts[0] < 0.1 * sum(counts) / len(counts):
            notes.append(
                f"The smallest class has {counts[0]} rows, under a tenth of an even share: "
                "read balanced accuracy beside accuracy."
            )
    if m.missing_share > 0:
        worst = sorted(m.missing_columns.items(), key=lambda t: -t[1])
        many = len(worst) > 3
        notes.append(
            f"{100 * m.missing_share:.1f}% of the cells are missing ("
            + (f"in {len(worst)} columns, most in " if many else "in ")
            + ", ".join(f"{c} {100 * v:.0f}%" for c, v in worst[:3])
            + "); they are imputed on each training part (median, or most frequent value)."
        )
    if m.sampled:
        notes.append(f"Measured on a seeded sample of {m.sampled} of the {m.n_rows} rows.")
    merged: dict[str, Suggestion] = {}
    for sug in out:
        seen = merged.get(sug.strategy)
        merged[sug.strategy] = (
            sug if seen is None else Suggestion(sug.strategy, f"{seen.rule}; and {sug.rule}")
        )
    return list(merged.values()), notes


def _command(
    data: str,
    dataset: Dataset,
    task: str | None,
    drop: Sequence[str],
    groups: Any,
    m: Measurements,
    strategies: str,
) -> tuple[str, list[str]]:
    """The ``reglab bench`` command that checks the short-list, and why it carries each option
    the user did not pass. It keeps the user's ``task``, ``drop`` and ``groups``, splits by the
    groups a repeated-measures notice suggests, and leaves out the columns flagged as possible
    target leakage (unless they are all the features)."""
    why: list[str] = []
    split = groups.text if isinstance(groups, GroupSpec) else groups
    if split is not None and not isinstance(split, str):
        why.append(
            "the rows' groups were given as labels, which a command cannot carry: add "
            "--groups COL for a column that holds them"
        )
        split = None
    hint = dataset.groups_hint
    if split is None and hint is not None:
        split = hint.spec
        why.append(
            f"added --groups {shlex.quote(split)}: the repeated-measures note above suggests "
            "it; take it out if the rows are independent"
        )
    group_column = None if split is None else parse_groups(split).column
    flagged = [] if dataset.leakage is None else list(dataset.leakage.columns)
    added = [c for c in flagged if c not in drop and c != group_column]
    if set(dataset.feature_names) <= {*added, group_column}:
        added = []
    if added:
        shown = ",".join(added)
        verb = "they were" if len(added) > 1 else "it was"
        them = "any of them" if len(added) > 1 else "it"
        why.insert(
            0,
            f"added --drop {shlex.quote(shown)}: {verb} flagged as possible target leakage in "
            f"a note above; take {them} out of --drop if known at prediction time",
        )
    columns = [*drop, *added]
    parts = ["reglab", "bench", data, "--target", dataset.target]
    if task is not None:
        parts += ["--task", task]
    if columns:
        parts += ["--drop", ",".join(columns)]
    if split is not None:
        parts += ["--groups", split]
    parts += ["--strategies", strategies]
    if m.n_rows < FEW_ROWS:
        parts += ["--repeats", "3"]
    parts += ["--reference", "linear,boosting" if m.signal == "nonlinear" else "linear"]
    grouped = split is not None and split != (
        groups.text if isinstance(groups, GroupSpec) else groups
    )  # the command splits by groups the measurements did not
    if added or grouped:
        again = ["reglab", "advise", data, "--target", dataset.target]
        again += ["--task", task] if task is not None else []
        again += ["--drop", ",".join(columns)] if columns else []
        again += ["--groups", split] if split is not None else []
        given = [w for w, on in (("flagged columns kept", added), ("rows split freely", grouped))
                 if on]  # fmt: skip
        why.append(
            f"the measurements and the short-list above are of the data as given "
            f"({', '.join(given)}); to measure them as this command runs: "
            + " ".join(shlex.quote(p) for p in again)
        )
    return " ".join(shlex.quote(p) for p in parts), why


def advise(
    data: Any,
    y: Any = None,
    *,
    target: str | None = None,
    task: str | None = None,
    drop: Sequence[str] = (),
    seed: int = 0,
    groups: Any = None,
) -> Advice:
    """Measure ``data`` and short-list strategies to check with ``reglab bench``.

    Args:
        data, y, target, task, drop: As in :func:`reglab.bench` (a path, ``"builtin:NAME"``,
            a DataFrame with ``target``, or features with ``y``).
        seed: Seed of the samples, folds and permutations.
        groups: The rows' groups (:mod:`reglab.data.groups`); the measurements' folds then
            keep each group whole, and the command splits by them too.

    Returns:
        The :class:`Advice`: ``.measurements``, ``.suggestions`` (strategy and rule),
        ``.command`` (the ``reglab bench`` command), ``.command_notes`` (why it carries an
        option the user did not pass), ``.notes``, ``.lines()``, ``.to_dict()``.

    >>> import reglab
    >>> advice = reglab.advise("builtin:breast_cancer")
    >>> advice.suggestions[0].strategy
    'none'
    """
    from reglab.api import load_data

    dataset = load_data(data, y, target=target, task=task, drop=drop, groups=groups)
    m = measure(dataset, seed=seed)
    suggestions, notes = shortlist(m)
    if any("missing cells" in n for n in dataset.notices):  # already said by the loader
        notes = [n for n in notes if "of the cells are missing" not in n]
    notes = [*dataset.notices, *notes]
    strategies = ",".join(s.strategy for s in suggestions)
    source = data if isinstance(data, str) else "data.csv"
    command, why = _command(str(source), dataset, task, list(drop), groups, m, strategies)
    return Advice(
        str(source), dataset.target, m, tuple(suggestions), command, tuple(notes), tuple(why)
    )
