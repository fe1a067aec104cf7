"""What a long command shows while it trains: a bar in a terminal, a line now and then in a log.

:class:`TrainingProgress` is fed from two sides: the study's count of finished members (its
``progress(done, total)`` callback, :meth:`TrainingProgress.members`) and the engine's report of
every finished epoch of every stack (:mod:`reglab.engine.progress`, heard while the object is
entered). Progress is measured in member-epochs (:class:`~reglab.engine.progress.EpochDone`),
so a study whose 50 members train 100 epochs in one stack moves at every epoch rather than
once at the end.

* After the first epoch of the first stack it prints the projected length of the run:
  ``s₁ / m₁ · W`` (the first epoch's seconds per member times the run's member-epochs ``W``),
  if no member stops early (early stopping makes it shorter), and how to shorten it (nothing
  when the run would take less than :data:`SHOWN_S`).
* In a terminal the bar shows the member-epochs done, the members finished and the time left.
* In a log (stderr not a terminal) it prints a line once at least ``every_s`` seconds have
  passed *and* the run has moved on by at least ``step`` (a fraction) since the last line,
  with the stack's epoch, the time elapsed and an estimate of the time left:
  ``(W − w) · elapsed / w`` for ``w`` member-epochs done.

Members that train in another process (the Ray executor) send no epoch reports; their
progress is counted as each member comes back, ``Eᵢ`` member-epochs for member ``i``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from reglab.engine.progress import EpochDone, listening

__all__ = ["LONG_S", "TrainingProgress", "duration", "planned_work"]

LONG_S = 120.0
"""A run projected to take at least this many seconds gets a hint on how to shorten it."""

SHOWN_S = 10.0
"""A run projected to take less than this many seconds gets no projection."""

SHORT_EPOCHS = 20
"""The ``--epochs`` the hint prices when a stack trains more."""


def planned_work(plan: Any, already: int = 0) -> int:
    """The member-epochs ``Σᵢ Eᵢ`` of a study plan's members (``plan.members``: ``(spec,
    split)`` pairs), less the share of the ``already`` stored ones."""
    members = plan.members
    if not members:
        return 0
    work = sum(spec.train.epochs for spec, _ in members)
    return round(work * (len(members) - already) / len(members))


def duration(seconds: float) -> str:
    """A duration in words, to the second below 10 minutes and to the minute above.

    >>> [duration(s) for s in (0.4, 42, 190, 1390, 7260)]
    ['0 s', '42 s', '3 min 10 s', '23 min', '2 h 1 min']
    """
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 600:
        return f"{s // 60} min {s % 60} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


class TrainingProgress:
    """The progress of one command's training, shown on ``console`` (the command's stderr).

    Args:
        console: Where to show it; a bar when it is a terminal, lines otherwise.
        unit: What the study counts as done (``"members"``, ``"trials"``).
        shorten: The options that shorten the run, named in the first estimate.
        every_s: The least time between two lines in a log, in seconds.
        step: The least progress between two lines in a log, as a fraction of the run (of
            the current stack when the run's size is unknown).
        clock: Seconds from an arbitrary start (``time.monotonic``).
    """

    def __init__(
        self,
        console: Console,
        *,
        unit: str = "members",
        shorten: str = "--epochs, --cv or --strategies",
        every_s: float = 30.0,
        step: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.unit = unit
        self.shorten = shorten
        self.every_s = every_s
        self.step = step
        self.clock = clock
        self.terminal = console.is_terminal
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not self.terminal,  # in a log, a bar leaves only a stray blank line
        )
        self._task = self._bar.add_task("training", total=None)
        self._exit = ExitStack()
        self.total_work: int | None = None  # the run's member-epochs, when known
        self.total_members = 0
        self.members_done = 0
        self.work = 0  # member-epochs reported by the engine
        self.stacks = 0
        self.chunk_work = 0
        self.chunk_total = 0
        self.last: EpochDone | None = None
        self.started: float | None = None  # when the first stack began to train
        self.entered = 0.0
        self._line_at = 0.0
        self._line_fraction = 0.0
        self.lines: list[str] = []

    # -- set-up --------------------------------------------------------------------------

    def __enter__(self) -> TrainingProgress:
        self.entered = self._line_at = self.clock()
        self._exit.enter_context(self._bar)
        self._exit.enter_context(listening(self.epoch))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._exit.close()

    def expect(self, work: int, members: int) -> None:
        """The run will train ``members`` members, ``work`` member-epochs in all (at most)."""
        self.total_work = max(int(work), 0)
        self.total_members = members

    # -- what the study and the engine report --------------------------------------------

    def members(self, done: int, total: int) -> None:
        """The study's count: ``done`` of ``total`` members (or trials) finished."""
        self.members_done, self.total_members = done, total
        self._show()

    def epoch(self, report: EpochDone) -> None:
        """The engine's report of one finished epoch of a stack."""
        now = self.clock()
        if report.epoch == 1:
            self.stacks += 1
            self.chunk_work, self.chunk_total = 0, report.total
            if self.total_work is None:
                self._line_fraction = 0.0
        if self.started is None:
            self.started = self._line_at = now - report.seconds
        self.work += report.work
        self.chunk_work += report.work
        self.last = report
        if self.stacks == 1 and report.epoch == 1:
            projection = self._projection(report)
            if projection:
                self._print(projection)
        self._show()

    # -- what is shown ---------------------------------------------------------------------

    def done_work(self) -> float:
        """Member-epochs done: the engine's reports, or for members trained elsewhere their
        epochs as they come back."""
        if self.total_work and self.total_members:
            returned = self.members_done * self.total_work / self.total_members
            return min(max(self.work, returned), self.total_work)
        return self.work

    def fraction(self) -> float | None:
        """How much of the run (of the current stack when the run's size is unknown) is done."""
        if self.total_work:
            return self.done_work() / self.total_work
        if self.chunk_total:
            return self.chunk_work / self.chunk_total
        return None

    def elapsed(self) -> float:
        """Seconds since the first stack began to train (since entering, without reports)."""
        return self.clock() - (self.entered if self.started is None else self.started)

    def left_s(self) -> float | None:
        """Seconds left at the rate so far, or ``None`` before anything was measured."""
        done = self.done_work()
        if done <= 0:
            return None
        rate = self.elapsed() / done
        if self.total_work:
            return rate * (self.total_work - done)
        if self.chunk_work:
            return rate * (self.chunk_total - self.chunk_work)
        return None

    def _projection(self, report: EpochDone) -> str:
        """The first epoch's projection of the run's length (empty for a short run)."""
        per_member = report.seconds / max(report.members, 1)
        whole = self.total_work is not None
        work = self.total_work if self.total_work is not None else report.total
        projected = per_member * work
        if projected < SHOWN_S:
            return ""
        text = (
            f"  first epoch: {report.seconds:.1f} s for a stack of {report.members} "
            f"{_plural(report.members, 'member')}; {'the run' if whole else 'this stack'}, "
            f"if no member stops early: about {duration(projected)} on this machine"
        )
        if projected >= LONG_S:
            text += (
                "\n  (early stopping often ends members sooner); to shorten it, lower "
                + self.shorten
            )
            if report.last > SHORT_EPOCHS and "--epochs" in self.shorten:
                shorter = projected * SHORT_EPOCHS / report.last
                text += f"\n  e.g. --epochs {SHORT_EPOCHS}: about {duration(shorter)}"
        return text

    def _status(self) -> str:
        parts = []
        last = self.last
        if last is not None and last.training > 0:
            stack = f"in a stack of {last.members} {_plural(last.members, 'member')}"
            parts.append(f"epoch {last.epoch} of {last.last} {stack}")
        if self.total_members:
            parts.append(f"{self.members_done} of {self.total_members} {self.unit} done")
        return "; ".join(parts)

    def _short(self) -> str:
        """The bar's label: ``training 3/50 members, epoch 12/100``."""
        text = "training"
        if self.total_members:
            text += f" {self.members_done}/{self.total_members} {self.unit}"
        last = self.last
        if last is not None and last.training > 0:
            text += f"{',' if self.total_members else ''} epoch {last.epoch}/{last.last}"
        return text

    def _show(self) -> None:
        fraction = self.fraction()
        if self.terminal:
            total = self.total_work if self.total_work else (self.chunk_total or None)
            completed = self.done_work() if self.total_work else self.chunk_work
            self._bar.update(
                self._task, description=self._short(), total=total, completed=completed
            )
            return
        if fraction is None or fraction >= 1:
            return
        now = self.clock()
        moved = fraction - self._line_fraction
        if now - self._line_at < self.every_s or moved < self.step - 1e-9:
            return
        self._line_at, self._line_fraction = now, fraction
        left = self.left_s()
        text = f"  {self._status()}; {duration(self.elapsed())} elapsed"
        if left is not None:
            text += f", about {duration(left)} left" + ("" if self.total_work else " in this stack")
        self._print(text)

    def _print(self, text: str) -> None:
        self.lines.append(text)
        self._bar.console.print(text, highlight=False, soft_wrap=True)


def _plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"
