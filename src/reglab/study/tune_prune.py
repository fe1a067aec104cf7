"""Pruning a strength search over epochs: the median rule on the trials' validation curves.

A trial trains one member per outer split; its **running score** after epoch ``t`` is the mean
over its splits of each member's best validation loss up to ``t`` (:func:`running_curve`). The
:class:`MedianPruner` is the engine's ``on_epoch_end`` hook
(:func:`~reglab.engine.train_members`): it stops every member of a trial whose running score
is worse than the median of the trials trained so far, so a stopped trial leaves the stack and
the others' epochs cost less. It follows Optuna's ``MedianPruner``: nothing is stopped before
``warmup`` epochs nor before ``minimum`` trials have finished.

>>> running_curve([[1.0, 0.5, 0.7], [0.9, 0.8]]).round(2).tolist()
[0.95, 0.65, 0.65]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["RUNNING_CURVE", "MedianPruner", "running_curve"]

RUNNING_CURVE = "running_curve"
"""The user attribute in which a complete trial keeps its :func:`running_curve`, so that a
search's pruning history can be read back from its journal by any process."""


class MedianPruner:
    """``on_epoch_end`` hook: stop the trials worse than the median, as Optuna's median rule.

    After ``warmup`` epochs, a trial's running score is the mean over its splits of each
    member's best validation loss so far; a trial whose score is worse than the median of
    the round's trials and of the earlier rounds' finished trials (at the same epoch) is
    stopped, all its members at once, as early stopping stops them (restored to their best
    epoch). Nothing is stopped until ``minimum`` trials have finished.

    Args:
        owners: For each member of the round (its index as the hook sees it), its trial's
            position in the round.
        history: The earlier finished trials' running curves (:func:`running_curve`).
        warmup: Epochs before any decision.
        minimum: Finished trials needed before any decision.

    Attributes:
        pruned: ``{trial position: epoch it was stopped}``.

    >>> pruner = MedianPruner([0, 1], [np.array([1.0, 1.0])] * 5, warmup=2)
    >>> pruner([0, 1], [{"val_loss": [0.9, 0.8]}, {"val_loss": [1.5, 1.4]}])
    [False, True]
    >>> pruner.pruned
    {1: 2}
    """

    def __init__(
        self,
        owners: Sequence[int],
        history: Sequence[np.ndarray],
        *,
        warmup: int,
        minimum: int = 5,
    ) -> None:
        self.owners = list(owners)
        self.history = history
        self.warmup = warmup
        self.minimum = minimum
        self.seen: dict[int, Mapping[str, list[float]]] = {}
        self.pruned: dict[int, int] = {}

    def _score(self, members: Sequence[int], epoch: int) -> float | None:
        best = [
            min(curve)
            for i in members
            if i in self.seen and (curve := self.seen[i]["val_loss"][:epoch])
        ]
        best = [v for v in best if math.isfinite(v)]
        return float(np.mean(best)) if best else None

    def __call__(
        self, ids: Sequence[int], curves: Sequence[Mapping[str, list[float]]]
    ) -> list[bool] | None:
        for i, c in zip(ids, curves, strict=True):
            self.seen[i] = c
        epoch = max(len(c["val_loss"]) for c in curves)
        if epoch < self.warmup or len(self.history) < self.minimum:
            return None
        by_trial: dict[int, list[int]] = {}
        for i, owner in enumerate(self.owners):
            by_trial.setdefault(owner, []).append(i)
        scores = {t: s for t, ms in by_trial.items() if (s := self._score(ms, epoch)) is not None}
        reference = list(scores.values()) + [
            float(h[min(epoch, len(h)) - 1]) for h in self.history if len(h)
        ]
        median = float(np.median(reference))
        for t in {self.owners[i] for i in ids}:
            if t not in self.pruned and scores.get(t, -math.inf) > median:
                self.pruned[t] = epoch
        return [self.owners[i] in self.pruned for i in ids]


def running_curve(curves: Sequence[Sequence[float]]) -> np.ndarray:
    """A trial's running score per epoch: the mean over splits of the best validation loss so
    far (a split that stopped keeps its last best)."""
    finite = [np.asarray(c, dtype=float) for c in curves if len(c)]
    if not finite:
        return np.array([])
    length = max(len(c) for c in finite)
    rows = []
    for c in finite:
        best = np.minimum.accumulate(np.where(np.isfinite(c), c, np.inf))
        rows.append(np.concatenate([best, np.full(length - len(best), best[-1])]))
    return np.asarray(np.mean(rows, axis=0))
