"""Which trial a nested search retrains: its start point, and the rule that chooses among trials.

Two defences against the winner's curse of choosing on noisy inner scores:

* **Start point.** A tuned family's first trial is the strengths the strategy was given
  (``weight-decay=2e-2`` searches weight decay starting at ``2e-2``; a bare ``dropout`` starts
  at its preset, 0.3), enqueued with Optuna's ``enqueue_trial`` before the sampler asks
  anything (:func:`start_params`). So the search never ends, on its inner folds, worse than
  the point it was given: the chosen trial's inner mean is at most the start's.
* **Choice rule** (``choose``). ``"best"`` retrains the trial with the best inner mean.
  ``"1se"`` is the one-standard-error rule (Breiman et al. 1984, *CART* §3.4.3; Hastie,
  Tibshirani & Friedman, *ESL* §7.10; glmnet's ``lambda.1se``): with ``b`` the best trial,
  ``m_b`` its mean over the ``k`` inner folds and ``se_b = sd(fold scores of b) / √k`` (sample
  standard deviation), the candidates are the complete trials ``t`` with
  ``m_t ≥ m_b − se_b`` (accuracy; ``m_t ≤ m_b + se_b`` for an error such as RMSE), and the rule
  retrains the **most regularized** candidate (:func:`regularization_index`), ties broken by
  the better mean, then the earlier trial. Among strengths the inner folds cannot tell apart,
  it prefers the stronger damping, which the noise of a small inner score pushes away from.

>>> from reglab.study.tune_result import TrialRow
>>> from reglab.study.tune_space import parse_space
>>> space = parse_space("l2")
>>> rows = [TrialRow(0, "complete", "l2=1e-5", {"l2": 1e-5}, 2.00, (1.9, 2.0, 2.1)),
...         TrialRow(1, "complete", "l2=1e-3", {"l2": 1e-3}, 2.05, (2.0, 2.05, 2.1)),
...         TrialRow(2, "complete", "l2=1e-2", {"l2": 1e-2}, 2.20, (2.1, 2.2, 2.3))]
>>> choose_trial(rows, space, metric="rmse", rule="best").number
0
>>> choose_trial(rows, space, metric="rmse", rule="1se").number  # 2.05 ≤ 2.00 + 0.058
1
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from reglab.stats.metrics import METRIC_DIRECTIONS
from reglab.study.tune_result import TrialRow
from reglab.study.tune_space import Dimension, SearchSpace

__all__ = ["CHOICES", "choose_trial", "one_se_band", "regularization_index", "start_params"]

CHOICES = ("best", "1se")
"""The choice rules (``tune_choose``, ``--tune-choose``)."""


def _position(d: Dimension, value: float) -> float:
    """``value``'s place in ``d``'s range on the range's own scale: 0 at ``low``, 1 at ``high``."""
    lo, hi = d.low, d.high
    if d.log:
        lo, hi, value = math.log(lo), math.log(hi), math.log(max(value, d.low))
    return 0.5 if hi <= lo else min(1.0, max(0.0, (value - lo) / (hi - lo)))


def _strength_dims(space: SearchSpace) -> list[Dimension]:
    """The dimensions with a direction of damping: each technique's first parameter (its
    strength), but not an epoch (``swa``'s start)."""
    return [d for d in space.dims if d.first and not d.spec.epoch]


def regularization_index(params: Mapping[str, Any], space: SearchSpace) -> float:
    """How strongly a trial damps, in [0, 1]: the mean over its strengths of their position in
    the searched range, on each range's scale (log or linear), reversed for a technique whose
    smaller value regularizes more (``maxnorm``'s bound ``c``).

    ``r(θ) = mean_d u_d(θ_d)`` with ``u_d = (g(θ_d) − g(low_d)) / (g(high_d) − g(low_d))``,
    ``g = log`` on log ranges and the identity on linear ones, and ``1 − u_d`` for an inverse
    strength. Only a technique's first parameter counts (a ratio such as
    ``elasticnet.l1_ratio`` or an epoch has no direction of damping); a technique switched off
    in a cocktail trial counts as its range's low end (no damping).

    >>> from reglab.study.tune_space import parse_space
    >>> space = parse_space("dropout+maxnorm", "dropout=0:0.5,maxnorm=1:100")
    >>> regularization_index({"dropout": 0.5, "maxnorm": 1.0}, space)
    1.0
    >>> regularization_index({"dropout": 0.25, "maxnorm": 10.0}, space)
    0.5
    """
    from reglab.techniques import get

    dims = _strength_dims(space)
    if not dims:
        return 0.0
    total = 0.0
    for d in dims:
        value = params.get(d.name)
        inverse = bool(getattr(get(d.technique), "inverse_strength", False))
        if not isinstance(value, int | float) or isinstance(value, bool):
            u = 0.0  # switched off: no damping from it
        else:
            u = _position(d, float(value))
            u = 1.0 - u if inverse else u
        total += u
    return total / len(dims)


def one_se_band(best: TrialRow, higher_is_better: bool) -> float:
    """The worst mean still within one standard error of ``best``:
    ``m_b − sd_b/√k`` (or ``+`` for an error), with ``sd_b`` the sample standard deviation of
    its ``k`` fold scores (``m_b`` itself when ``k < 2``)."""
    scores = np.asarray(best.scores, dtype=float)
    if scores.size < 2 or not np.all(np.isfinite(scores)):
        return best.value
    se = float(np.std(scores, ddof=1) / math.sqrt(scores.size))
    return best.value - se if higher_is_better else best.value + se


def choose_trial(
    trials: Sequence[TrialRow], space: SearchSpace, *, metric: str, rule: str = "best"
) -> TrialRow | None:
    """The trial a search retrains under ``rule`` (module docstring); ``None`` when no trial
    completed. Pruned and failed trials are never chosen."""
    if rule not in CHOICES:
        raise ValueError(f"choose_trial: `rule` must be one of {', '.join(CHOICES)}; got {rule!r}.")
    higher = METRIC_DIRECTIONS[metric]
    sign = 1.0 if higher else -1.0
    complete = [t for t in trials if t.state == "complete" and math.isfinite(t.value)]
    if not complete:
        return None
    best = min(complete, key=lambda t: (-sign * t.value, t.number))
    if rule == "best":
        return best
    bound = one_se_band(best, higher)
    within = [t for t in complete if sign * t.value >= sign * bound]
    return min(
        within,
        key=lambda t: (-regularization_index(t.params, space), -sign * t.value, t.number),
    )


def start_params(strategy: Any, space: SearchSpace) -> dict[str, float] | None:
    """The strengths ``strategy`` was given, by the search's parameter names, to enqueue as its
    first trial; ``None`` when one of them lies outside its searched range (``--tune-range``
    narrowed it away) or the space switches techniques (a cocktail has no given point)."""
    if space.switches:
        return None
    given = {c.key: dict(c.params) for c in strategy.configs()}
    out: dict[str, float] = {}
    for d in space.dims:
        value = given.get(d.technique, {}).get(d.param)
        if value is None or not d.low <= float(value) <= d.high:
            return None
        out[d.name] = int(value) if d.spec.integer else float(value)
    return out
