"""Ray workers that write their members to a shared store themselves.

With a shared database (PostgreSQL) and the Ray executor, the driver does not receive the
members' results: each Ray task opens the store, and for its chunk

1. **claims** the members (:func:`reglab.store.claims.claim`, under an owner id of its own,
   ``host:pid:random`` of the worker process), skipping those finished or validly held by
   another process, and tells the driver which it skipped;
2. **trains** the ones it holds while a heartbeat renews their leases every third of the lease;
3. **writes** each member's record as soon as it is done (one transaction per member) and
   tells the driver the member's key and status;
4. **releases** what it did not finish (an error in the task), so they are pending again.

A worker that dies mid-chunk leaves its claims ``running``: the executor runs the task again
for the members it had not reported, and the new task takes the claims over at once when the
dead worker ran on the same host (its process is gone), or after the lease elsewhere. A member
the dead worker wrote before it could say so is found finished by the new task and skipped.
The driver (:func:`train_writing`) only counts: it reads the finished keys from the store,
hands the unfinished ones to the executor, waits for those another live process holds, and
reads the results from the store for the analysis when all are finished. So every member is
stored exactly once, and a driver killed and started again resumes from the store.

Each record holds who wrote it: the ``owner`` column of a member's row is the claim's owner,
the worker process's ``host:pid:random`` (the driver's own id when the driver writes).
A member's result depends only on its spec (the engine's independence contract), so the
records are the local executor's, bit for bit on the CPU.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reglab.engine import MemberSpec
    from reglab.store import Store
    from reglab.study.run import StudyPlan
    from reglab.study.splits import Split, SplitPlace

__all__ = [
    "Skipped",
    "WorkerStore",
    "Written",
    "train_writing",
    "workers_write",
    "write_task",
    "writes_line",
]


@dataclass(frozen=True)
class WorkerStore:
    """What a task needs to write its members: the store's URL (with its password), the
    study's name and the lease its claims hold without a heartbeat."""

    url: str = field(repr=False)
    study: str
    lease_s: float


@dataclass(frozen=True)
class Written:
    """A task wrote these members to the store: ``(key, status)`` pairs, ``status`` being
    ``done`` or ``failed`` (one message for the members that finished together)."""

    members: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Skipped:
    """Members a task could not claim: finished, or held by another live process."""

    keys: tuple[str, ...]


_STORES: dict[str, Store] = {}
"""The stores this worker process has opened, by URL: one connection pool per process, kept
for the tasks that follow (opening costs a round trip to read the schema)."""


def _open(url: str) -> Store:
    from reglab.store import Store

    store = _STORES.get(url)
    if store is None:
        store = _STORES[url] = Store(url, create=False)
    return store


def write_task(
    members: list[MemberSpec],
    refs: dict[int, Any],
    device: str,
    memory_budget_mb: float,
    target: WorkerStore,
    places: dict[int, SplitPlace],
) -> Iterator[Any]:
    """The Ray task: this worker's process id, a :class:`Skipped` for the members it could
    not claim, then a :class:`Written` as soon as the records of the members that finished
    together are in the store (one message per batch: the driver's cost is per message).
    """
    import ray

    from reglab.store.claims import new_owner
    from reglab.study.ray_executor import stream_batches
    from reglab.study.run import _Heartbeat, to_record

    yield os.getpid()
    store = _open(target.url)
    owner = new_owner()
    keys = [m.key() for m in members]
    mine = set(store.claim(target.study, keys, owner, lease_s=target.lease_s))
    if len(mine) < len(keys):
        yield Skipped(tuple(k for k in keys if k not in mine))
    claimed = [m for m in members if m.key() in mine]
    if not claimed:
        return
    by_key = {m.key(): m for m in claimed}
    try:
        needed = sorted({m.split_id for m in claimed})
        tables = ray.get([refs[sid] for sid in needed])
        data = dict(zip(needed, tables, strict=True))
        with _Heartbeat(store, target.study, owner, target.lease_s):
            for batch in stream_batches(claimed, data, device, memory_budget_mb):
                statuses = []
                for result in batch:  # each member in its own transaction, as it comes
                    spec = by_key[result.key]
                    record = to_record(result, spec, places[spec.split_id])
                    store.save_member(target.study, record)
                    statuses.append((result.key, record.status))
                yield Written(tuple(statuses))
    finally:  # the members not written are pending again (nothing, when all were written)
        store.release(target.study, owner)


def workers_write(executor: Any, store: Store) -> bool:
    """Whether a study on ``executor`` has its workers write the members to ``store``."""
    writer = getattr(executor, "writer", None)
    return writer is not None and writer(store) == "workers"


def writes_line(executor: Any, store: Store, *, tuned: bool = False) -> str | None:
    """The line that says who writes the members, for an executor other than the local one
    (``None`` for the local executor: this process trains and writes). A ``tuned`` (nested)
    study keeps this process writing: it tells every result to a sampler here."""
    writer = getattr(executor, "writer", None)
    if writer is None:
        return None
    if writer(store) == "workers" and not tuned:
        return "store writes: each Ray worker claims, writes and releases its own members"
    if tuned:
        why = "nested tuning tells each result to its sampler here"
    else:
        why = "SQLite is this host's file" if not store.shared else "store_writes='driver'"
    return f"store writes: this process writes every member the Ray workers train ({why})"


def train_writing(
    executor: Any,
    store: Store,
    plan: StudyPlan,
    by_key: Mapping[str, tuple[MemberSpec, Split]],
    units: Sequence[Sequence[str]],
    *,
    device: str,
    memory_budget_mb: float,
    lease_s: float,
    poll_s: float,
    progress: Callable[[int, int], None] | None = None,
    on_wait: Callable[[int], None] | None = None,
) -> int:
    """Have the executor's tasks train and write the members ``by_key`` (in ``units``, the
    planned chunks of their keys); return how many this run wrote (its tasks, plus the
    members of tasks that failed for good, which this process stores as failed).

    ``progress(finished, total)`` counts the members finished by anyone; ``on_wait(n)`` is
    called with the members other live processes hold, before waiting ``poll_s`` seconds for
    them and trying again (a claim whose lease expires is taken over then).
    """
    from reglab.study.run import to_record

    target = WorkerStore(store.connect_url(), plan.name, lease_s)
    places = {split.split_id: split.place() for split in plan.splits}
    everything = set(by_key)
    written: set[str] = set()
    others = [0]

    def report() -> None:
        if progress is not None:
            progress(len(written) + others[0], len(everything))

    def on_written(key: str, status: str) -> None:
        written.add(key)
        report()

    def on_failed(result: Any) -> None:
        spec, split = by_key[result.key]
        store.save_member(plan.name, to_record(result, spec, split))
        on_written(result.key, "failed")

    pending = [list(unit) for unit in units]
    while True:
        finished = store.done_keys(plan.name, include_failed=True) & everything
        others[0] = len(finished - written)
        pending = [kept for unit in pending if (kept := [k for k in unit if k not in finished])]
        if not pending:
            return len(written)
        if others[0]:
            report()
        skipped: set[str] = set()
        executor.run_writing(
            ([by_key[k][0] for k in unit] for unit in pending),
            plan.data,
            device=device,
            memory_budget_mb=memory_budget_mb,
            target=target,
            places=places,
            on_written=on_written,
            on_skipped=skipped.update,
            on_failed=on_failed,
        )
        pending = [kept for unit in pending if (kept := [k for k in unit if k in skipped])]
        held = set(skipped) - store.done_keys(plan.name, include_failed=True)
        if held:
            if on_wait is not None:
                on_wait(len(held))
            time.sleep(poll_s)
