"""Where a study's members train: the :class:`Executor` protocol and the local executor.

A study hands its executor the chunks of its members — lists of
:class:`~reglab.engine.MemberSpec`, each sized by the engine's memory budget — as a lazy
iterator: a chunk's members are claimed in the store when the executor draws it, so an
executor that draws only what it can run at once leaves the rest to other processes on the
same store. The executor trains each chunk with :func:`reglab.engine.train_members` wherever
it likes (this process, a pool, a cluster) and gives every member's
:class:`~reglab.engine.MemberResult` to ``on_result`` exactly once, in the study's process.

Because a member's result depends only on its own spec on a given device and thread setting
(the engine's independence contract), every executor gives the members the local executor's
bits, whatever its order, grouping or parallelism; ``tests/study/test_executor.py`` holds a
reordering, regrouping executor to that.

:class:`~reglab.study.ray_executor.RayExecutor` runs the chunks on a Ray cluster. A tuning run
whose pruner is on also passes ``on_epoch_end`` (the engine's hook; a member's id is its place
in the order the chunks are drawn) to an executor other than the local one, which must then
accept it.

An executor whose workers can write the store themselves also offers ``writer(store)``
(``"workers"`` or ``"driver"``) and ``run_writing(...)``; a study on a store it answers
``"workers"`` for hands it the chunks through ``run_writing`` and receives only the members'
keys (:mod:`reglab.study.ray_writes`).

>>> isinstance(LocalExecutor(), Executor)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from reglab.engine import MemberResult, MemberSpec

__all__ = ["Executor", "LocalExecutor"]

Data = Mapping[int, tuple[Any, Any]]
"""Each split's encoded table: ``split_id → (X, y)``, as :func:`train_members` takes it."""


@runtime_checkable
class Executor(Protocol):
    """Trains chunks of members and reports each member's result once."""

    def run(
        self,
        chunks: Iterable[Sequence[MemberSpec]],
        data: Data,
        *,
        device: str,
        memory_budget_mb: float,
        on_result: Callable[[MemberResult], None],
    ) -> None:
        """Train every chunk drawn from ``chunks`` (draw lazily: drawing claims) and call
        ``on_result`` once per member, in the calling process; return when all are done.
        An exception (``KeyboardInterrupt`` included) ends the run: the study releases the
        members not reported."""
        ...


class LocalExecutor:
    """One chunk after another in this process: the default."""

    def run(
        self,
        chunks: Iterable[Sequence[MemberSpec]],
        data: Data,
        *,
        device: str,
        memory_budget_mb: float,
        on_result: Callable[[MemberResult], None],
    ) -> None:
        from reglab.engine import train_members

        for chunk in chunks:
            train_members(
                list(chunk),
                data,
                device=device,
                memory_budget_mb=memory_budget_mb,
                on_result=on_result,
            )

    def __repr__(self) -> str:
        return "LocalExecutor()"
