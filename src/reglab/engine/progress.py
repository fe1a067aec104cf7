"""Epoch-granular progress: the engine reports each finished epoch of each stack to a listener.

A study counts finished members, but when all its members train in one long stack the first
member finishes only near the end. :func:`train_members <reglab.engine.train_members>`
therefore tells the listener in effect (:func:`listening`) after every epoch of every stack
chunk how far that chunk has come, as one :class:`EpochDone`. Progress is counted in
*member-epochs*: a chunk of members with epochs ``E_i`` holds ``W = Σ_i E_i`` of them; an
epoch accounts for one per member that trained it, plus ``E_i − t`` for each member that ends
at epoch ``t`` (early stopping, a failure, a pruner), so the reports of a chunk add up to
exactly ``W`` when its last member ends.

The report is observation only: one Python call per epoch of a stack (never per step), made
after the epoch's work, reading nothing from the device. It never changes a member's bits.
The listener lives in a :class:`contextvars.ContextVar`, so the executors, studies and tuners
between a command and the engine need no extra argument; a process that trains members
elsewhere (the Ray executor's workers) has no listener, and its progress is what the study
reports as members come back.

>>> import numpy as np
>>> from reglab.engine import train_members
>>> from reglab.engine.spec import Architecture, MemberSpec, Strategy, TrainConfig
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(60, 4)).astype(np.float32)
>>> y = (X[:, 0] > 0).astype(np.int64)
>>> idx = np.arange(60)
>>> specs = [MemberSpec(Architecture(4, 2, hidden=(8,)), Strategy(), TrainConfig(epochs=e,
...          patience=None), idx[:40], idx[:0], idx[40:]) for e in (2, 3)]
>>> seen = []
>>> with listening(seen.append):
...     _ = train_members(specs, {0: (X, y)}, device="cpu")
>>> [(d.epoch, d.last, d.training, d.work) for d in seen]
[(1, 3, 2, 2), (2, 3, 1, 2), (3, 3, 0, 1)]
>>> sum(d.work for d in seen) == seen[0].total == 5
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["EpochDone", "EpochListener", "listener", "listening"]


@dataclass(frozen=True)
class EpochDone:
    """One finished epoch of one stack chunk.

    Attributes:
        epoch: The epoch just finished, ``1..last``.
        last: The chunk's last epoch: the most epochs any of its members trains.
        members: How many members the chunk started with.
        training: How many of them train on after this epoch.
        work: Member-epochs this epoch accounts for: one per member that trained it, plus
            ``E_i − epoch`` for each member ``i`` that ended now.
        total: The chunk's member-epochs, ``Σ_i E_i`` (the sum of its reports' ``work``).
        seconds: Wall time of the epoch, in seconds (its steps, evaluation and bookkeeping).
    """

    epoch: int
    last: int
    members: int
    training: int
    work: int
    total: int
    seconds: float


EpochListener = Callable[[EpochDone], None]
"""Called with each :class:`EpochDone`, in the process and thread that trains the stack."""

_LISTENER: ContextVar[EpochListener | None] = ContextVar("reglab_epoch_listener", default=None)


@contextmanager
def listening(callback: EpochListener) -> Iterator[None]:
    """Send every stack epoch that ``train_members`` finishes inside the block to
    ``callback`` (an exception it raises ends the training, as any exception would)."""
    token = _LISTENER.set(callback)
    try:
        yield
    finally:
        _LISTENER.reset(token)


def listener() -> EpochListener | None:
    """The listener in effect (``None`` outside :func:`listening`)."""
    return _LISTENER.get()
