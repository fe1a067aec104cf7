"""What the store keeps: a :class:`MemberRecord` per member, a :class:`StudyInfo` per study.

The store does not import the engine: the study layer turns an engine result and the member's
place in the study (strategy, split, repeat, fold, seed) into a :class:`MemberRecord`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import numpy as np

from reglab._validation import Problems, check_choice, check_int, message
from reglab.errors import ConfigError

__all__ = [
    "CURVE_NAMES",
    "MEMBER_STATUSES",
    "RECORD_STATUSES",
    "STUDY_STATUSES",
    "MemberRecord",
    "StudyInfo",
]

CURVE_NAMES = ("train_loss", "penalty", "val_loss", "val_metric")
"""Per-epoch curves: data loss, penalty, validation loss, validation metric. Scheduled
strengths add their values in effect as curves named ``strength:KEY`` (``strength:KEY[i]`` per
layer, :data:`STRENGTH_PREFIX`)."""
STRENGTH_PREFIX = "strength:"
RECORD_STATUSES = ("done", "failed")
"""Statuses of a finished member (what :meth:`Store.save_member` accepts)."""
MEMBER_STATUSES = ("running", *RECORD_STATUSES)
"""Statuses a stored member can have; a planned member not yet stored is pending."""
STUDY_STATUSES = ("created", "running", "interrupted", "done", "failed")
_INT_FIELDS = (
    "split_id",
    "seed",
    "n_train",
    "n_test",
    "repeat",
    "fold",
    "epochs_run",
    "best_epoch",
    "stopped_epoch",
)


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(values, dtype=np.float64).ravel())


def _float_map(values: Mapping[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in values.items()}


@dataclass(frozen=True, eq=False)
class MemberRecord:
    """One finished member: identity in the study, outcome, curves and diagnostics.

    Sequences are normalized on construction (curves and norms to tuples of floats, histogram
    edges and counts to tuples, ``test_pred`` to an array), so records compare by
    :meth:`to_dict`; ``==`` is identity because ``test_pred`` is an array.

    Attributes:
        key: the member's content hash (unique within a study).
        strategy: the strategy's name; ``strategy_config`` its full configuration.
        split_id: the outer split; ``repeat`` and ``fold`` place it in a repeated k-fold.
        seed: the member's seed.
        n_train, n_test: training (outer, incl. the inner validation part) and test sizes.
        status: ``"done"`` or ``"failed"``; a failed member must give its ``error``.
        config: anything else that defines the member (architecture, training set-up).
        curves: per-epoch values by name, names from :data:`CURVE_NAMES`.
        best_epoch, stopped_epoch: epochs counted from 1; a stopped epoch of ``None`` (or 0,
            as reglab 0.1 wrote it) means early stopping did not fire.
        epochs_run: epochs trained.
        test_scores, train_scores: metric name → value.
        sparsity: layer → fraction of exactly-zero weights.
        weight_hist: layer → ``(edges, counts)`` with ``len(edges) == len(counts) + 1``.
        feature_norms: first-layer weight norm per input feature (names are per study).
        filters: a CNN member's first filters of its first conv layer, ``[n, C, kh, kw]``
            (stored as float32; ``None`` for other models).
        test_pred: predictions on the test rows (optional).
        wall_s: training time attributed to this member.
        started_at, finished_at: filled by the store.

    >>> r = MemberRecord("k1", "l2", split_id=0, seed=7, n_train=80, n_test=20,
    ...                  curves={"train_loss": [0.9, 0.5]}, test_scores={"accuracy": 0.9})
    >>> r.curves["train_loss"], r.status
    ((0.9, 0.5), 'done')
    """

    key: str
    strategy: str
    split_id: int
    seed: int
    n_train: int
    n_test: int
    status: str = "done"
    error: str | None = None
    strategy_config: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    repeat: int = 0
    fold: int = 0
    curves: dict[str, tuple[float, ...]] = field(default_factory=dict)
    best_epoch: int | None = None
    stopped_epoch: int | None = None
    epochs_run: int = 0
    test_scores: dict[str, float] = field(default_factory=dict)
    train_scores: dict[str, float] = field(default_factory=dict)
    sparsity: dict[str, float] = field(default_factory=dict)
    weight_hist: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = field(
        default_factory=dict
    )
    feature_norms: tuple[float, ...] | None = None
    filters: np.ndarray | None = field(default=None, repr=False)
    test_pred: np.ndarray | None = field(default=None, repr=False)
    wall_s: float = 0.0
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def __post_init__(self) -> None:
        who = "MemberRecord"
        for name in _INT_FIELDS:
            if isinstance(getattr(self, name), np.integer):
                object.__setattr__(self, name, int(getattr(self, name)))
        p = Problems()
        for name in ("key", "strategy"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                p.add(message(who, name, "a non-empty string", value))
        for name in _INT_FIELDS:
            if getattr(self, name) is not None or name not in ("best_epoch", "stopped_epoch"):
                p.check(check_int, who, name, getattr(self, name))
        p.check(check_choice, who, "status", self.status, RECORD_STATUSES)
        if self.status == "failed" and not self.error:
            p.add(message(who, "error", "the reason a failed member failed", self.error))
        for name in self.curves:
            if not name.startswith(STRENGTH_PREFIX):
                p.check(check_choice, who, "curves", name, CURVE_NAMES)
        for layer, pair in self.weight_hist.items():
            if len(pair) != 2 or len(pair[0]) != len(pair[1]) + 1:
                p.add(message(who, "weight_hist", "(edges, counts) with one edge more", layer))
        if self.filters is not None and np.ndim(self.filters) != 4:
            p.add(message(who, "filters", "an array [n, C, kh, kw]", np.shape(self.filters)))
        if not isinstance(self.wall_s, int | float) or not math.isfinite(self.wall_s):
            p.add(message(who, "wall_s", "a finite number of seconds", self.wall_s))
        p.raise_if_any()
        set_ = object.__setattr__
        set_(self, "curves", {k: _floats(v) for k, v in self.curves.items()})
        for name in ("test_scores", "train_scores", "sparsity"):
            set_(self, name, _float_map(getattr(self, name)))
        set_(self, "strategy_config", dict(self.strategy_config))
        set_(self, "config", dict(self.config))
        hist = {
            str(layer): (_floats(edges), tuple(np.asarray(counts).ravel().tolist()))
            for layer, (edges, counts) in self.weight_hist.items()
        }
        set_(self, "weight_hist", hist)
        if self.feature_norms is not None:
            set_(self, "feature_norms", _floats(self.feature_norms))
        if self.filters is not None:
            set_(self, "filters", np.asarray(self.filters, dtype=np.float32))
        if self.test_pred is not None:
            set_(self, "test_pred", np.asarray(self.test_pred))
        set_(self, "wall_s", float(self.wall_s))

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (lists for tuples and arrays, ISO strings for times)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            out[f.name] = _plain(getattr(self, f.name))
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class StudyInfo:
    """A stored study: identity, configuration, run metadata and member counts.

    Attributes:
        name: unique within the store.
        created_at: when the study was first created (UTC).
        status: one of :data:`STUDY_STATUSES`.
        config: the full study configuration (strategies, data description, split protocol).
        metadata: how it ran (versions, device, hardware, timings).
        feature_names: the input features' names, stored once for all members.
        counts: stored members by status (every status of :data:`MEMBER_STATUSES`).
        strategies: strategy names of the stored members, in order of first appearance.
    """

    name: str
    created_at: datetime
    status: str
    config: dict[str, Any]
    metadata: dict[str, Any]
    feature_names: tuple[str, ...] | None
    counts: dict[str, int]
    strategies: tuple[str, ...]

    @property
    def n_members(self) -> int:
        """Stored members, any status."""
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def check_study_status(who: str, status: Any) -> str:
    """Validate a study status."""
    return check_choice(who, "status", status, STUDY_STATUSES)


def check_name(who: str, param: str, name: Any) -> str:
    """A non-empty string name."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(message(who, param, "a non-empty string", name))
    return name
