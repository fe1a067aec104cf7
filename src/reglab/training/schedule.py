"""A strength schedule for one's own model: set a regularizer's strength at each epoch start.

:class:`StrengthSchedule` is the single-model form of a scheduled grammar term
(``l2=1e-3@warmup:5``, :mod:`reglab.techniques.schedule`). Give it the objects that hold the
strength (an ``L2`` regularizer's ``l2``, a ``Dropout`` layer's ``p``, a ``MaxNorm``
constraint's ``max_value``, ...) and pass it as :func:`reglab.fit`'s ``on_epoch_begin``, or
call it yourself at the top of each epoch of a plain loop. Each target's value in epoch ``t``
is :meth:`Schedule.value <reglab.techniques.schedule.Schedule.value>` of the value it held when
the schedule was built, so per-layer strengths keep their ratios.

>>> from reglab.regularizers import L2
>>> reg = L2(1e-3)
>>> warm = StrengthSchedule("warmup:4", reg, "l2", epochs=10)
>>> for epoch in (1, 2, 5):
...     warm(epoch)
>>> warm.values
[[0.00025], [0.0005], [0.001]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reglab._validation import message
from reglab.errors import ConfigError
from reglab.techniques.schedule import Schedule

__all__ = ["StrengthSchedule"]


class StrengthSchedule:
    """Set ``attribute`` of each target to its scheduled value at the start of every epoch.

    Args:
        schedule: The schedule's text as after ``@`` in the grammar (``"warmup:5"``,
            ``"cosine"``, ``"step:10:0.5"``, ``"adaptive:0.05:0.5"``).
        targets: One object or a sequence of objects holding the strength.
        attribute: The attribute that holds it (``"l2"``, ``"p"``, ``"max_value"``).
        epochs: The run's epochs ``E`` (cosine decays over them).
        inverse: The strength regularizes more when smaller (max-norm's bound): the schedule
            scales its inverse, as the engine does for ``maxnorm``.

    Calling it with ``(epoch, history)`` (``reglab.fit`` does, epochs from 1) sets the values
    and appends them to :attr:`values`. An adaptive schedule reads the ``train_loss`` and
    ``val_loss`` of ``history`` (a :class:`~reglab.training.History` or a mapping of lists).
    """

    def __init__(
        self,
        schedule: str,
        targets: Any,
        attribute: str,
        *,
        epochs: int,
        inverse: bool = False,
    ) -> None:
        self.schedule = Schedule.parse(schedule, "StrengthSchedule")
        self.targets = list(targets) if isinstance(targets, list | tuple) else [targets]
        self.attribute = attribute
        self.epochs = epochs
        self.inverse = inverse
        missing = [t for t in self.targets if not hasattr(t, attribute)]
        if missing:
            raise ConfigError(
                message("StrengthSchedule", "attribute", "an attribute of every target", attribute)
            )
        self.base = [float(getattr(t, attribute)) for t in self.targets]
        self.values: list[list[float]] = []

    def __call__(self, epoch: int, history: Any = None) -> None:
        curves = _curves(history)
        now = [
            self.schedule.value(v, epoch, self.epochs, curves, inverse=self.inverse)
            for v in self.base
        ]
        for target, value in zip(self.targets, now, strict=True):
            setattr(target, self.attribute, value)
        self.values.append(now)


def _curves(history: Any) -> Mapping[str, Sequence[float]] | None:
    if history is None or isinstance(history, Mapping):
        return history
    return {"train_loss": history.train_loss, "val_loss": history.val_loss}
