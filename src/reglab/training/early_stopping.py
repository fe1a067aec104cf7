"""Early stopping: Keras's patience rule and Prechelt's GL, PQ and UP criteria.

:class:`EarlyStopping` is told one monitored value per epoch through :meth:`~EarlyStopping.step`
and answers whether to stop now. It keeps a copy of the best weights seen so far, and
:meth:`~EarlyStopping.restore` puts them back at the end of training, whether or not the
stopping rule ever fired. Its whole state (best weights included) goes through
:meth:`~EarlyStopping.state_dict`, so an interrupted run resumes with identical decisions.

Epochs are counted from 1: epoch ``t`` is the state after ``t`` passes over the training data.
``best_epoch_`` and ``stopped_epoch_`` are 0 while nothing has been recorded.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any, Protocol

from torch import Tensor

from reglab._config import Configurable
from reglab._validation import (
    Problems,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    message,
)
from reglab.errors import ConfigError

__all__ = ["CRITERIA", "EarlyStopping", "generalization_loss", "training_progress"]

MODES = ("auto", "min", "max")
MIN_DELTA_MODES = ("absolute", "relative")
CRITERIA = ("patience", "GL", "PQ", "UP")

_STATE_KEYS = (
    "mode_",
    "epoch_",
    "counted_",
    "wait_",
    "best_value",
    "best_epoch_",
    "stopped_epoch_",
    "val_history_",
    "train_history_",
    "up_count_",
    "best_weights_",
)


class _HasStateDict(Protocol):
    def state_dict(self) -> Mapping[str, Any]: ...

    def load_state_dict(self, state_dict: Mapping[str, Any], /) -> Any: ...


def generalization_loss(value: float, best: float) -> float:
    """Prechelt's generalization loss ``GL = 100 · (E_va / E_opt − 1)`` in percent.

    ``E_opt`` is the lowest validation error so far. A zero ``E_opt`` gives 0 when the current
    error is zero too, and infinity otherwise.

    >>> generalization_loss(1.1, 1.0)
    10.000000000000009
    """
    if best == 0.0:
        return 0.0 if value == 0.0 else math.inf
    return 100.0 * (value / best - 1.0)


def training_progress(strip: list[float]) -> float:
    """Prechelt's training progress ``P_k = 1000 · (Σ E_tr / (k · min E_tr) − 1)`` over a strip.

    ``strip`` holds the training errors of the last ``k`` epochs. Progress is large while the
    training error still falls quickly and tends to 0 once it is flat.

    >>> training_progress([1.0, 1.0, 1.0])
    0.0
    >>> round(training_progress([1.2, 1.1, 1.0]), 6)
    100.0
    """
    low = min(strip)
    if low == 0.0:
        return 0.0 if sum(strip) == 0.0 else math.inf
    return 1000.0 * (sum(strip) / (len(strip) * low) - 1.0)


class EarlyStopping(Configurable):
    """Stop training when the monitored value stops improving; restore the best weights.

    Keras semantics for ``criterion="patience"``: in mode ``"min"`` a value *improves* when
    ``value < best − min_delta`` (``best − min_delta·|best|`` with ``min_delta_mode="relative"``),
    in mode ``"max"`` when ``value > best + min_delta``. ``wait_`` counts the epochs since the
    last improvement; training stops at the first non-improving epoch with
    ``wait_ >= patience``, i.e. ``patience`` epochs after the best one. With a ``baseline`` the
    counter is reset only by values that improve on the best *and* beat the baseline, so
    training stops when the baseline has not been beaten within ``patience`` epochs. Epochs up to
    and including ``start_from_epoch`` are not monitored at all: they neither count nor are
    candidates for the best weights.

    Prechelt (1998, "Early stopping — but when?") criteria on validation *errors* (mode
    ``"min"``; values must be >= 0), with ``E_opt`` the lowest validation error so far:

    * ``"GL"``: stop when the generalization loss ``GL = 100·(E_va/E_opt − 1) > alpha``.
    * ``"PQ"``: at the end of every strip of ``strip`` epochs, stop when
      ``GL / P_k > alpha`` where ``P_k = 1000·(Σ_strip E_tr / (k·min_strip E_tr) − 1)`` is the
      training progress (``step`` then needs ``train_loss``).
    * ``"UP"``: stop when the validation error at the end of a strip is higher than at the end
      of the previous strip, ``successive`` strips in a row.

    The best weights (for :meth:`restore`) always follow the improvement rule above.

    Args:
        monitor: Name of the monitored quantity (the trainer reads ``"val_loss"``,
            ``"val_metric"`` or ``"train_loss"``).
        mode: ``"min"``, ``"max"`` or ``"auto"``; ``"auto"`` takes the direction from the
            monitored metric's ``higher_is_better`` (see :meth:`resolve`), never from its name.
        patience: Epochs without improvement after which training stops.
        min_delta: Smallest change that counts as an improvement.
        min_delta_mode: ``"absolute"`` or ``"relative"`` (a fraction of ``|best|``).
        baseline: A value the monitored quantity must beat within ``patience`` epochs.
        start_from_epoch: Number of initial epochs that are not monitored (warm-up).
        criterion: ``"patience"``, ``"GL"``, ``"PQ"`` or ``"UP"``.
        alpha: Threshold of ``GL`` (percent) and ``PQ``.
        strip: Strip length ``k`` of ``PQ`` and ``UP``.
        successive: Number ``s`` of successive increasing strips for ``UP``.
        restore_best: Keep and restore the best weights (the default).

    Example:
        >>> es = EarlyStopping(mode="min", patience=2)
        >>> [es.step(v) for v in [1.0, 0.8, 0.9, 0.85]]
        [False, False, False, True]
        >>> es.best_epoch_, es.stopped_epoch_, es.best_value
        (2, 4, 0.8)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        patience: int = 10,
        min_delta: float = 0.0,
        min_delta_mode: str = "absolute",
        baseline: float | None = None,
        start_from_epoch: int = 0,
        criterion: str = "patience",
        alpha: float = 2.0,
        strip: int = 5,
        successive: int = 3,
        restore_best: bool = True,
    ) -> None:
        who = "EarlyStopping"
        p = Problems()
        if not isinstance(monitor, str) or not monitor:
            p.add(message(who, "monitor", "a non-empty string", monitor))
        p.check(check_choice, who, "mode", mode, MODES)
        p.check(check_int, who, "patience", patience, minimum=0)
        p.check(check_nonnegative, who, "min_delta", min_delta)
        p.check(check_choice, who, "min_delta_mode", min_delta_mode, MIN_DELTA_MODES)
        if baseline is not None:
            if isinstance(baseline, bool) or not isinstance(baseline, int | float):
                p.add(message(who, "baseline", "a float or None", baseline))
            elif not math.isfinite(baseline):
                p.add(message(who, "baseline", "a finite float or None", baseline))
        p.check(check_int, who, "start_from_epoch", start_from_epoch, minimum=0)
        p.check(check_choice, who, "criterion", criterion, CRITERIA)
        p.check(check_positive, who, "alpha", alpha)
        p.check(check_int, who, "strip", strip, minimum=1)
        p.check(check_int, who, "successive", successive, minimum=1)
        if not isinstance(restore_best, bool):
            p.add(message(who, "restore_best", "a bool", restore_best))
        if criterion in ("GL", "PQ", "UP"):
            if mode == "max":
                p.add(message(who, "mode", f"'min' or 'auto' with criterion {criterion!r}", mode))
            if baseline is not None:
                p.add(message(who, "baseline", f"None with criterion {criterion!r}", baseline))
        p.raise_if_any()
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.min_delta = min_delta
        self.min_delta_mode = min_delta_mode
        self.baseline = baseline
        self.start_from_epoch = start_from_epoch
        self.criterion = criterion
        self.alpha = alpha
        self.strip = strip
        self.successive = successive
        self.restore_best = restore_best
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget everything learned, so the object can monitor a new run."""
        self.mode_: str | None = None if self.mode == "auto" else self.mode
        self.epoch_ = 0
        self.counted_ = 0
        self.wait_ = 0
        self.best_value = self._worst(self.mode_)
        self.best_epoch_ = 0
        self.stopped_epoch_ = 0
        self.val_history_: list[float] = []
        self.train_history_: list[float] = []
        self.up_count_ = 0
        self.best_weights_: dict[str, Tensor] | None = None

    @staticmethod
    def _worst(mode: str | None) -> float:
        return -math.inf if mode == "max" else math.inf

    def resolve(self, higher_is_better: bool | None) -> str:
        """Fix the direction: ``mode`` when explicit, else the metric's ``higher_is_better``.

        The trainer calls this with the direction of the monitored metric. ``mode="auto"``
        with an unknown direction (``None``) is an error.

        >>> EarlyStopping().resolve(higher_is_better=True)
        'max'
        """
        if self.mode != "auto":
            mode = self.mode
        elif higher_is_better is None:
            raise ConfigError(
                message(
                    "EarlyStopping",
                    "mode",
                    f"'min' or 'max' when the direction of {self.monitor!r} is unknown",
                    self.mode,
                )
            )
        else:
            mode = "max" if higher_is_better else "min"
        if mode == "max" and self.criterion != "patience":
            raise ConfigError(
                f"EarlyStopping: `mode` must be 'min' with criterion {self.criterion!r} "
                f"(it monitors errors); got 'auto', resolved to 'max' for {self.monitor!r}."
            )
        if self.mode_ != mode:
            self.mode_ = mode
            if self.counted_ == 0:
                self.best_value = self._worst(mode)
        return mode

    # ----------------------------------------------------------- the rule
    def _improves(self, value: float, reference: float) -> bool:
        if math.isnan(value):
            return False
        if not math.isfinite(reference):
            return value != reference
        delta = self.min_delta
        if self.min_delta_mode == "relative":
            delta = self.min_delta * abs(reference)
        if self.mode_ == "max":
            return value > reference + delta
        return value < reference - delta

    def step(
        self,
        value: float,
        *,
        model: _HasStateDict | None = None,
        train_loss: float | None = None,
    ) -> bool:
        """Record one epoch's monitored ``value``; return True when training should stop now.

        Args:
            value: The monitored quantity after this epoch.
            model: The model being trained; its ``state_dict()`` is copied when this epoch is
                the best so far (needed for :meth:`restore`).
            train_loss: This epoch's training error (required by criterion ``"PQ"``).

        Returns:
            True at the epoch where the criterion fires (recorded in ``stopped_epoch_``).
        """
        if self.mode_ is None:
            self.resolve(None)
        if self.criterion == "PQ" and train_loss is None:
            raise ConfigError(
                message(
                    "EarlyStopping.step", "train_loss", "a float with criterion 'PQ'", train_loss
                )
            )
        value = float(value)
        self.epoch_ += 1
        if self.epoch_ <= self.start_from_epoch:
            return False
        self.counted_ += 1
        self.val_history_.append(value)
        if train_loss is not None:
            self.train_history_.append(float(train_loss))

        improved = self._improves(value, self.best_value)
        resets = improved and (self.baseline is None or self._improves(value, float(self.baseline)))
        self.wait_ = 0 if resets else self.wait_ + 1
        if improved:
            self.best_value = value
            self.best_epoch_ = self.epoch_
        if model is not None and self.restore_best and (improved or self.best_weights_ is None):
            self.best_weights_ = copy.deepcopy(dict(model.state_dict()))
            if not improved:
                self.best_epoch_ = self.epoch_

        stop = self._should_stop(value, resets)
        if stop and self.stopped_epoch_ == 0:
            self.stopped_epoch_ = self.epoch_
        return stop

    def _should_stop(self, value: float, resets: bool) -> bool:
        if self.criterion == "patience":
            return not resets and self.wait_ >= self.patience
        e_opt = min((v for v in self.val_history_ if not math.isnan(v)), default=math.nan)
        if math.isnan(value) or math.isnan(e_opt):
            return False
        if self.criterion == "GL":
            return generalization_loss(value, e_opt) > self.alpha
        k = self.strip
        if self.counted_ % k != 0:
            return False
        if self.criterion == "PQ":
            progress = training_progress(self.train_history_[-k:])
            gl = generalization_loss(value, e_opt)
            if gl <= 0.0:
                return False
            return progress == 0.0 or gl / progress > self.alpha
        # UP: compare with the end of the previous strip.
        if self.counted_ < 2 * k:
            return False
        previous = self.val_history_[-k - 1]
        self.up_count_ = self.up_count_ + 1 if value > previous else 0
        return self.up_count_ >= self.successive

    def restore(self, model: _HasStateDict) -> bool:
        """Load the best weights into ``model``; return False when none were recorded."""
        if not self.restore_best or self.best_weights_ is None:
            return False
        model.load_state_dict(self.best_weights_)
        return True

    # ------------------------------------------------------ serialization
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: counters, histories and the best weights.

        Holds only plain Python values and tensors, so ``torch.load(..., weights_only=True)``
        reads it back.
        """
        state = {key: getattr(self, key) for key in _STATE_KEYS}
        state["val_history_"] = list(self.val_history_)
        state["train_history_"] = list(self.train_history_)
        if self.best_weights_ is not None:
            state["best_weights_"] = {k: v.clone() for k, v in self.best_weights_.items()}
        state["config"] = self.get_config()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict`'s output (the config must match this object's)."""
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            raise ConfigError(
                message(
                    "EarlyStopping.load_state_dict",
                    "state",
                    "a dict from EarlyStopping.state_dict()",
                    f"a dict missing {missing}",
                )
            )
        config = state.get("config")
        if config is not None and config != self.get_config():
            raise ConfigError(
                message(
                    "EarlyStopping.load_state_dict",
                    "state",
                    f"saved with this object's config {self.get_config()}",
                    config,
                )
            )
        for key in _STATE_KEYS:
            setattr(self, key, state[key])
        self.val_history_ = list(self.val_history_)
        self.train_history_ = list(self.train_history_)
        if self.best_weights_ is not None:
            self.best_weights_ = dict(self.best_weights_)
