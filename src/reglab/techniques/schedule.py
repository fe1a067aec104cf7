"""Strength schedules: a technique's strength per epoch, written ``TERM@KIND[:ARGS]``.

A schedule multiplies a strength ``V`` (each layer's value, for per-layer strengths) by a
factor that depends on the epoch ``t = 1, 2, …`` being trained and the member's ``E`` (its
``TrainConfig.epochs``), or, for ``adaptive``, on the member's own curves so far:

==========================  ======================================================================
``@warmup:N``               ``V·min(1, t/N)``: linear warm-up, ``V/N`` in epoch 1, ``V`` from epoch N
``@cosine``                 ``V·½·(1 + cos(π·(t−1)/E))``: ``V`` in epoch 1, decaying towards 0
``@step:N:F``               ``V·F^⌊(t−1)/N⌋``: multiplied by ``F`` every ``N`` epochs
``@adaptive[:STEP:CAP]``    ``V_t = min(CAP, V_{t−1} + STEP)`` when the member's train–validation
                            gap grew in the last epoch, else ``V_{t−1}`` (``V_1 = V``)
==========================  ======================================================================

The gap of epoch ``s`` is ``g_s = val_loss_s − train_loss_s`` (the validation loss minus the
epoch's mean training data loss, both as the curves record them); epoch ``t ≥ 3`` raises the
value when ``g_{t−1} > g_{t−2}``. So ``V_t = min(CAP, V + STEP·k_t)`` with ``k_t`` the number
of epochs ``s ∈ [2, t−1]`` where the gap grew (a missing validation loss never counts).
``@adaptive`` alone means ``STEP = 0.05, CAP = 0.5`` and is only for rates (dropout-like
strengths); other strengths state both. A layer whose value is 0 stays 0.

For a strength that regularizes *more* when it is *smaller* (max-norm's bound ``c``,
:attr:`~reglab.techniques.base.Technique.inverse_strength`), a schedule scales ``1/c``: the
bound in effect is ``c/factor`` (warm-up from a loose bound to ``c``), and ``adaptive`` is
refused. Each value depends only on the member's own spec, epoch and curves, never on its
neighbours in a stack.

>>> s = Schedule.parse("warmup:4")
>>> [s.factor(t, 10) for t in (1, 2, 4, 8)]
[0.25, 0.5, 1.0, 1.0]
>>> Schedule.parse("step:2:0.5").text(), [Schedule.parse("step:2:0.5").factor(t, 10) for t in (1, 2, 3, 5)]
('step:2:0.5', [1.0, 1.0, 0.5, 0.25])
>>> round(Schedule.parse("cosine").factor(6, 10), 12)
0.5
>>> Schedule.parse("adaptive").text()
'adaptive:0.05:0.5'
"""  # noqa: E501

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reglab._numbers import NUMBER, format_number
from reglab.errors import ConfigError

__all__ = ["KINDS", "Schedule", "adaptive_steps"]

KINDS = ("warmup", "cosine", "step", "adaptive")
"""The schedule kinds; no ``@`` means a constant strength."""

ADAPTIVE_STEP = 0.05
ADAPTIVE_CAP = 0.5
_FORMS = {
    "warmup": "warmup:N (N ≥ 1 epochs)",
    "cosine": "cosine (no arguments)",
    "step": "step:N:F (every N ≥ 1 epochs, multiply by F > 0)",
    "adaptive": "adaptive or adaptive:STEP:CAP (STEP > 0, CAP > 0)",
}
_EXPECTED = "a schedule: " + ", ".join(f"@{form}" for form in _FORMS.values())


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _num(text: str) -> float | None:
    return float(text) if NUMBER.fullmatch(text) else None


@dataclass(frozen=True)
class Schedule:
    """One strength schedule (see the module docstring for the maths).

    Attributes:
        kind: One of :data:`KINDS`.
        epochs: ``N`` of ``warmup`` and ``step``.
        factor: ``F`` of ``step``.
        step, cap: ``STEP`` and ``CAP`` of ``adaptive``.
    """

    kind: str
    epochs: int = 0
    factor_: float = 1.0
    step: float = 0.0
    cap: float = 0.0

    @classmethod
    def parse(cls, text: str, who: str = "Schedule") -> Schedule:
        """A schedule from its text after ``@`` (``warmup:10``); one clear error otherwise.

        >>> Schedule.parse("warmup:0")
        Traceback (most recent call last):
        ...
        reglab.errors.ConfigError: Schedule: `@warmup` must be warmup:N (N ≥ 1 epochs); got 'warmup:0'.
        """  # noqa: E501
        raw = text.strip().lower()
        kind, _, rest = raw.partition(":")
        args = rest.split(":") if rest else []
        if kind not in KINDS:
            raise ConfigError(f"{who}: `@` must be followed by {_EXPECTED}; got {text!r}.")
        bad = ConfigError(f"{who}: `@{kind}` must be {_FORMS[kind]}; got {text!r}.")
        if kind == "cosine":
            if args:
                raise bad
            return cls("cosine")
        if kind == "warmup":
            n = _int(args[0]) if len(args) == 1 else None
            if n is None or n < 1:
                raise bad
            return cls("warmup", epochs=n)
        if kind == "step":
            n = _int(args[0]) if len(args) == 2 else None
            f = _num(args[1]) if len(args) == 2 else None
            if n is None or n < 1 or f is None or not (f > 0 and math.isfinite(f)):
                raise bad
            return cls("step", epochs=n, factor_=f)
        if not args:
            return cls("adaptive", step=ADAPTIVE_STEP, cap=ADAPTIVE_CAP)
        step = _num(args[0]) if len(args) == 2 else None
        cap = _num(args[1]) if len(args) == 2 else None
        if step is None or cap is None or step <= 0 or cap <= 0:
            raise bad
        return cls("adaptive", step=step, cap=cap)

    def text(self) -> str:
        """The canonical text after ``@``: ``Schedule.parse(s.text()) == s``."""
        if self.kind == "warmup":
            return f"warmup:{self.epochs}"
        if self.kind == "step":
            return f"step:{self.epochs}:{format_number(self.factor_)}"
        if self.kind == "adaptive":
            return f"adaptive:{format_number(self.step)}:{format_number(self.cap)}"
        return "cosine"

    @property
    def adaptive(self) -> bool:
        """Whether the value depends on the member's curves (so is known only epoch by epoch)."""
        return self.kind == "adaptive"

    def factor(self, epoch: int, epochs: int) -> float:
        """The multiplier of the strength in epoch ``epoch`` (from 1) of a run of ``epochs``.

        Not for ``adaptive``, whose value is additive (:meth:`value`).
        """
        if self.kind == "warmup":
            return min(1.0, epoch / self.epochs)
        if self.kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / epochs))
        if self.kind == "step":
            return float(self.factor_ ** ((epoch - 1) // self.epochs))
        raise ConfigError(f"Schedule: `{self.kind}` has no factor; use value().")

    def value(
        self,
        base: float,
        epoch: int,
        epochs: int,
        curves: Mapping[str, Sequence[float]] | None = None,
        *,
        inverse: bool = False,
    ) -> float:
        """The value in effect in epoch ``epoch`` of one strength whose constant value is
        ``base`` (``curves``: the member's curves of the epochs before, for ``adaptive``).

        >>> Schedule.parse("warmup:10").value(3.0, 5, 20, inverse=True)  # max-norm 3
        6.0
        >>> Schedule.parse("adaptive:0.1:0.35").value(
        ...     0.1, 5, 20, {"train_loss": [1, 1, 1, 1], "val_loss": [1, 1.2, 1.5, 1.4]})
        0.3
        """
        if base == 0:
            return 0.0
        if self.kind == "adaptive":
            k = adaptive_steps(curves or {}, epoch)
            return min(self.cap, base + self.step * k) if base < self.cap else base
        f = self.factor(epoch, epochs)
        if inverse:
            return base / f if f > 0 else 0.0
        return base * f


def adaptive_steps(curves: Mapping[str, Sequence[float]], epoch: int) -> int:
    """``k``: the epochs ``s ∈ [2, epoch−1]`` whose train–validation gap
    ``val_loss − train_loss`` exceeds the gap of epoch ``s − 1`` (NaN never counts).

    >>> adaptive_steps({"train_loss": [1, 1, 1], "val_loss": [1, 2, 3]}, 4)
    2
    """
    train = curves.get("train_loss", ())
    val = curves.get("val_loss", ())
    n = min(len(train), len(val), epoch - 1)
    gaps = [float(val[s]) - float(train[s]) for s in range(n)]
    return sum(1 for s in range(1, n) if gaps[s] > gaps[s - 1])
