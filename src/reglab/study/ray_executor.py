"""The Ray executor: a study's chunks of members as Ray tasks on a cluster.

:class:`RayExecutor` meets :class:`~reglab.study.executor.Executor`. With an SQLite store the
driver (the process that runs the study) keeps the store and the claims and the cluster only
trains:

* each split's encoded table goes into Ray's object store **once** (``ray.put``) and every
  task that trains members of that split reads it from there;
* a chunk the study hands over is cut into tasks of at most ``chunk_members`` members
  (default: the chunk shared evenly over the cluster's task slots); a task declares
  ``num_cpus`` CPUs and ``num_gpus`` GPUs (a fraction, such as 0.25, lets four stacks share one
  GPU) and trains its members with :func:`~reglab.engine.train_members`;
* a task streams each member's result back as soon as the member is done (a Ray streaming
  generator), so ``on_result`` — which writes the store and moves the progress bar — runs in
  the driver, once per member; with a shared database (PostgreSQL) a study uses
  :meth:`RayExecutor.run_writing` instead, whose tasks claim, write and release their own
  members (:mod:`reglab.study.ray_writes`) and stream back only their keys;
* a task that fails (its worker process or node died, an error in the task) is run again for
  the members it had not yet reported, on whichever worker has room, at most ``max_retries``
  times; then those members are reported failed with the reason.

A member's result depends only on its spec, its data, the device and the thread setting
(one thread per member, as :func:`~reglab.engine.train_members` sets it in the worker), so the
members come back with the local executor's bits on CPU whatever the grouping, order, retries
or worker (``tests/study/test_ray_executor.py``).

``ray`` is an optional dependency (``pip install 'reglab[ray]'``), imported when a run starts.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reglab._validation import Problems, message
from reglab.errors import ConfigError

if TYPE_CHECKING:
    from reglab.engine import MemberResult, MemberSpec
    from reglab.engine.train import EpochHook

__all__ = [
    "EXECUTORS",
    "INSTALL_HINT",
    "STORE_WRITES",
    "RayExecutor",
    "executor_for",
    "parse_address",
]

EXECUTORS = ("local", "ray")
"""The executors ``--executor`` names."""

STORE_WRITES = ("auto", "driver")
"""Who writes the members to the store: ``"auto"``, the Ray workers when the store is a shared
database (PostgreSQL) and the driver otherwise; ``"driver"``, always the driver."""

INSTALL_HINT = "install it with `pip install 'reglab[ray]'`"

PROBE_TIMEOUT_S = 5.0
"""How long :meth:`RayExecutor.check` waits for the cluster's address to answer."""

_ADDRESS = re.compile(r"^(?:ray://)?(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d+)$")


def parse_address(address: str, who: str = "RayExecutor") -> tuple[str, int]:
    """``HOST:PORT`` (or ``ray://HOST:PORT``) → ``(host, port)``; a bad one raises
    :class:`~reglab.errors.ConfigError` in one line.

    >>> parse_address("10.0.0.5:6379")
    ('10.0.0.5', 6379)
    """
    expected = "HOST:PORT of a Ray cluster's head, e.g. 127.0.0.1:6379"
    match = _ADDRESS.match(address.strip()) if isinstance(address, str) else None
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise ConfigError(message(who, "address", expected, address))
    return match["host"].strip("[]"), int(match["port"])


def _import_ray(who: str) -> Any:
    try:
        import ray
    except ImportError as err:
        raise ConfigError(f"{who}: the Ray executor needs Ray; {INSTALL_HINT}.") from err
    return ray


@dataclass
class _Job:
    """One task's members and what came back from it so far."""

    members: list[MemberSpec]
    positions: list[int]
    attempts: int = 1
    reported: set[str] = field(default_factory=set)
    workers: list[int] = field(default_factory=list)

    def left(self) -> tuple[list[MemberSpec], list[int]]:
        """The members not yet reported and their places in the drawn order."""
        kept = [i for i, m in enumerate(self.members) if m.key() not in self.reported]
        return [self.members[i] for i in kept], [self.positions[i] for i in kept]


class _Hub:
    """The study's ``on_epoch_end`` hook, held by a Ray actor that every task calls after
    each epoch (members named by their place in the order the chunks were drawn)."""

    def __init__(self, hook: EpochHook) -> None:
        self.hook = hook

    def call(self, ids: list[int], curves: list[dict[str, list[float]]]) -> Any:
        flags = self.hook(ids, curves)
        return None if flags is None else [bool(f) for f in flags]

    def state(self) -> dict[str, Any]:
        return dict(vars(self.hook)) if hasattr(self.hook, "__dict__") else {}


class RayExecutor:
    """Train a study's chunks as Ray tasks on a cluster (a local one without ``address``).

    Args:
        address: The cluster's head, ``HOST:PORT`` (what ``ray start --head --port PORT``
            prints), or ``None``: the cluster ``RAY_ADDRESS`` names, else a new one on this
            machine. Ignored when this process is already connected (``ray.init`` called).
        num_cpus: CPUs each task declares (at least 0; a task trains with one thread per
            member, up to its stack's size, as :func:`~reglab.engine.train_members` does).
        num_gpus: GPUs each task declares, a fraction in [0, 1] (or a whole number) so that
            several stacks share one GPU (each stack's memory budget must then fit its share);
            ``None``: one GPU per task when the study's device is CUDA, none on the CPU.
        max_retries: Times a failed task is run again for its members not yet reported, on
            any worker (at least 0); then they are reported failed with the reason.
        chunk_members: The most members in one task; ``None``: each chunk the study hands
            over is shared evenly over the cluster's task slots (its CPUs over ``num_cpus``).
        in_flight: Tasks running or queued at once (``None``: the cluster's task slots). The
            executor draws (so claims) chunks only as tasks free up, so other drivers on the
            same store can take the rest.
        store_writes: Who writes the members to the store (:data:`STORE_WRITES`): with
            ``"auto"`` and a shared database (PostgreSQL), each task claims its members,
            writes their results and releases them itself (:mod:`reglab.study.ray_writes`),
            and the driver only counts; otherwise the driver receives every result and
            writes it.

    Attributes:
        reruns_: After :meth:`run`, the number of tasks run again after a failure.
        workers_: After :meth:`run`, the process ids of the workers that ran tasks.
        tasks_: After :meth:`run`, the tasks submitted (reruns included).
        puts_: After :meth:`run`, the split tables it put in Ray's object store (a table
            already put by an earlier run of this executor is not put again).

    >>> RayExecutor("127.0.0.1:6379", num_gpus=0.25)
    RayExecutor(address='127.0.0.1:6379', num_cpus=1.0, num_gpus=0.25, max_retries=3)
    >>> RayExecutor(num_cpus=-1)
    Traceback (most recent call last):
        ...
    reglab.errors.ConfigError: RayExecutor: `num_cpus` must be a number >= 0; got -1.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: float = 1.0,
        num_gpus: float | None = None,
        max_retries: int = 3,
        chunk_members: int | None = None,
        in_flight: int | None = None,
        store_writes: str = "auto",
    ) -> None:
        p = Problems()
        if address is not None:
            try:
                parse_address(address)
            except ConfigError as err:
                p.add(str(err))
        for name, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus)):
            if name == "num_gpus" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                p.add(message("RayExecutor", name, "a number >= 0", value))
        if isinstance(num_gpus, int | float) and num_gpus > 1 and num_gpus != int(num_gpus):
            p.add(message("RayExecutor", "num_gpus", "a fraction in [0, 1] or a whole number",
                          num_gpus))  # fmt: skip
        for name, bound, given in (("max_retries", 0, max_retries),
                                   ("chunk_members", 1, chunk_members),
                                   ("in_flight", 1, in_flight)):  # fmt: skip
            if name != "max_retries" and given is None:
                continue
            if isinstance(given, bool) or not isinstance(given, int) or given < bound:
                p.add(message("RayExecutor", name, f"a whole number >= {bound}", given))
        if store_writes not in STORE_WRITES:
            expected = "one of " + ", ".join(repr(w) for w in STORE_WRITES)
            p.add(message("RayExecutor", "store_writes", expected, store_writes))
        p.raise_if_any()
        self.address = address
        self.num_cpus = float(num_cpus)
        self.num_gpus = None if num_gpus is None else float(num_gpus)
        self.max_retries = max_retries
        self.chunk_members = chunk_members
        self.in_flight = in_flight
        self.store_writes = store_writes
        self._puts: dict[int, tuple[Any, Any, Any]] = {}
        self.reruns_ = 0
        self.tasks_ = 0
        self.puts_ = 0
        self.workers_: set[int] = set()

    def __repr__(self) -> str:
        return (
            f"RayExecutor(address={self.address!r}, num_cpus={self.num_cpus}, "
            f"num_gpus={self.num_gpus}, max_retries={self.max_retries})"
        )

    # --- connecting ---------------------------------------------------------------------------

    def check(self, who: str = "RayExecutor") -> None:
        """Check, before anything is written, that Ray is installed and that the cluster's
        address answers (a TCP connection within :data:`PROBE_TIMEOUT_S`); one-line
        :class:`~reglab.errors.ConfigError` otherwise."""
        _import_ray(who)
        if self.address is None:
            return
        host, port = parse_address(self.address, who)
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
                pass
        except OSError as err:
            reason = err.strerror or type(err).__name__
            raise ConfigError(
                f"{who}: `--address` {self.address} must be a running Ray cluster's head; "
                f"nothing answers there ({reason}). Start one with `ray start --head "
                f"--port {port}`."
            ) from None

    def _connect(self) -> Any:
        ray = _import_ray("RayExecutor")
        if not ray.is_initialized():
            address = self.address
            if address is not None and not address.startswith("ray://"):
                host, port = parse_address(address)
                address = f"{host}:{port}"
            ray.init(
                address=address,
                logging_level="ERROR",
                log_to_driver=False,
                configure_logging=True,
            )
        return ray

    # --- running ------------------------------------------------------------------------------

    def writer(self, store: Any) -> str:
        """Who writes the members to ``store`` (a :class:`~reglab.store.Store`) when a study
        runs on this executor: ``"workers"`` (each Ray task writes its own members; the store
        is a shared database and ``store_writes`` is ``"auto"``) or ``"driver"``."""
        shared = bool(getattr(store, "shared", False))
        return "workers" if shared and self.store_writes == "auto" else "driver"

    def run(
        self,
        chunks: Iterable[Sequence[MemberSpec]],
        data: Mapping[int, tuple[Any, Any]],
        *,
        device: str,
        memory_budget_mb: float,
        on_result: Callable[[MemberResult], None],
        on_epoch_end: EpochHook | None = None,
    ) -> None:
        """Train every chunk on the cluster; ``on_result`` once per member, in this process.

        ``on_epoch_end`` (:func:`~reglab.engine.train_members`'s hook, as tuning's pruner
        uses it) runs in a Ray actor that every task calls after each epoch; a member's id is
        its place in the order the chunks were drawn. The hook's attributes are copied back
        to it when the run ends. Its decisions then see the tasks' epochs in the order they
        arrive, so a hook that compares members across tasks may decide differently from one
        run to the next; members it does not stop keep the local executor's bits.
        """
        ray = self._connect()
        hub = None
        if on_epoch_end is not None:
            hub = ray.remote(_Hub).options(num_cpus=0).remote(on_epoch_end)

        def received(job: _Job, item: Any) -> None:
            if item.key not in job.reported:
                job.reported.add(item.key)
                on_result(item)

        self._drive(ray, _train_task, chunks, data, device, memory_budget_mb,
                    lambda members, positions: (hub, positions), received, on_result)  # fmt: skip
        if hub is not None and hasattr(on_epoch_end, "__dict__"):
            vars(on_epoch_end).update(ray.get(hub.state.remote()))

    def run_writing(
        self,
        chunks: Iterable[Sequence[MemberSpec]],
        data: Mapping[int, tuple[Any, Any]],
        *,
        device: str,
        memory_budget_mb: float,
        target: Any,
        places: Mapping[int, Any],
        on_written: Callable[[str, str], None],
        on_skipped: Callable[[Sequence[str]], None],
        on_failed: Callable[[MemberResult], None],
    ) -> None:
        """Train every chunk on the cluster, each task writing its members to the store.

        Each task opens ``target`` (a :class:`~reglab.study.ray_writes.WorkerStore`), claims
        its members, trains the ones it could claim while renewing their leases, writes each
        result (its record built with ``places``, split id → :class:`~reglab.study.splits.
        SplitPlace`) and releases what it did not finish (:func:`~reglab.study.ray_writes.
        write_task`). This process gets ``on_written(key, status)`` once per member a task
        wrote, ``on_skipped(keys)`` for members a task could not claim (finished, or held by
        another live process), and ``on_failed(result)`` for the members of a task that
        failed more than ``max_retries`` times (for this process to store).
        """
        from reglab.study.ray_writes import Skipped, Written, write_task

        ray = self._connect()

        def received(job: _Job, item: Any) -> None:
            if isinstance(item, Written):
                for key, status in item.members:
                    if key not in job.reported:
                        job.reported.add(key)
                        on_written(key, status)
            elif isinstance(item, Skipped):
                job.reported.update(item.keys)
                on_skipped(item.keys)

        def extra(members: list[MemberSpec], positions: list[int]) -> tuple[Any, ...]:
            return target, {m.split_id: places[m.split_id] for m in members}

        self._drive(ray, write_task, chunks, data, device, memory_budget_mb, extra, received,
                    on_failed)  # fmt: skip

    def _drive(
        self,
        ray: Any,
        task: Callable[..., Iterator[Any]],
        chunks: Iterable[Sequence[MemberSpec]],
        data: Mapping[int, tuple[Any, Any]],
        device: str,
        memory_budget_mb: float,
        extra: Callable[[list[MemberSpec], list[int]], tuple[Any, ...]],
        received: Callable[[_Job, Any], None],
        on_failed: Callable[[MemberResult], None],
    ) -> None:
        """Submit ``task(members, tables, device, budget, *extra(members, positions))`` per
        cut of each drawn chunk, hand every item a task streams (after its worker's process
        id) to ``received``, run failed tasks again for their members not yet reported, and
        report the members of tasks that fail for good to ``on_failed``."""
        self.reruns_, self.tasks_, self.puts_ = 0, 0, 0
        self.workers_ = set()
        gpus = self.num_gpus
        if gpus is None:
            gpus = 1.0 if device.startswith("cuda") else 0.0
        slots = self._slots(ray, gpus)
        limit = self.in_flight or slots
        refs = {sid: self._put(ray, sid, xy) for sid, xy in data.items()}
        remote = ray.remote(task).options(
            num_cpus=self.num_cpus,
            num_gpus=gpus,
            max_retries=0,  # the retries are this executor's, for the members not reported
            num_returns="streaming",
        )
        pending: dict[Any, _Job] = {}

        def submit(job: _Job) -> None:
            members, positions = job.left()
            needed = {m.split_id: refs[m.split_id] for m in members}
            gen = remote.remote(
                members, needed, device, memory_budget_mb, *extra(members, positions)
            )
            pending[gen] = job
            self.tasks_ += 1

        drawn = iter(chunks)
        queued: list[_Job] = []
        count = [0]

        def refill() -> None:
            while len(pending) < limit:
                if not queued:
                    chunk = next(drawn, None)
                    if chunk is None:
                        return
                    for piece in self._cut(list(chunk), slots):
                        queued.append(_Job(piece, list(range(count[0], count[0] + len(piece)))))
                        count[0] += len(piece)
                    continue
                submit(queued.pop(0))

        try:
            refill()
            while pending:
                (gen,), _ = ray.wait(list(pending), num_returns=1)
                job = pending[gen]
                try:
                    item = ray.get(next(gen))
                except StopIteration:
                    del pending[gen]
                    self._finished(job, on_failed)
                    refill()
                    continue
                except ray.exceptions.RayError as err:
                    del pending[gen]
                    self._failed(err, job, on_failed, submit)
                    refill()
                    continue
                if isinstance(item, int):  # the worker's process id, sent first
                    job.workers.append(item)
                    self.workers_.add(item)
                else:
                    received(job, item)
        finally:
            for gen in pending:  # interrupted: the study releases the members not reported
                with contextlib.suppress(Exception):
                    ray.cancel(gen, force=True)

    def _finished(self, job: _Job, on_result: Callable[[MemberResult], None]) -> None:
        """A task that ended without reporting all its members (it should not) fails them."""
        from reglab.engine.result import failed_result

        left, _ = job.left()
        if left:
            why = f"its Ray task ended without its result ({len(left)} of {len(job.members)})"
            for member in left:
                job.reported.add(member.key())
                on_result(failed_result(member, why))

    def _failed(
        self,
        err: Exception,
        job: _Job,
        on_result: Callable[[MemberResult], None],
        submit: Callable[[_Job], None],
    ) -> None:
        if job.attempts <= self.max_retries:
            job.attempts += 1
            self.reruns_ += 1
            submit(job)
            return
        from reglab.engine.result import failed_result

        text = str(err).strip().splitlines()
        first = text[0] if text else ""
        why = (
            f"its Ray task failed {job.attempts} times; the last time: "
            f"{type(err).__name__}: {first}"[:500]
        )
        for member in job.left()[0]:
            job.reported.add(member.key())
            on_result(failed_result(member, why))

    def _slots(self, ray: Any, gpus: float) -> int:
        """Tasks the cluster can run at once, by the resources each task declares."""
        total = ray.cluster_resources()
        counts = []
        if self.num_cpus > 0:
            counts.append(int(total.get("CPU", 0) // self.num_cpus))
        if gpus > 0:
            counts.append(int(total.get("GPU", 0) // gpus))
        return max(1, min(counts) if counts else 1)

    def _cut(self, chunk: list[MemberSpec], slots: int) -> list[list[MemberSpec]]:
        size = self.chunk_members or max(1, math.ceil(len(chunk) / slots))
        return [chunk[i : i + size] for i in range(0, len(chunk), size)]

    def _put(self, ray: Any, split_id: int, xy: tuple[Any, Any]) -> Any:
        """The split's table in the object store: put once, reused while the arrays are the
        same objects (a tuning run hands the same tables to every round)."""
        x, y = xy
        held = self._puts.get(split_id)
        if held is not None and held[0] is x and held[1] is y:
            return held[2]
        ref = ray.put((x, y))
        self.puts_ += 1
        self._puts[split_id] = (x, y, ref)
        return ref


def _train_task(
    members: list[MemberSpec],
    refs: dict[int, Any],
    device: str,
    memory_budget_mb: float,
    hub: Any,
    positions: list[int],
) -> Iterator[Any]:
    """The Ray task: this worker's process id, then each member's result as it is done.

    :func:`~reglab.engine.train_members` runs in a thread of the task and hands each result
    through a queue, so the task can ``yield`` it at once. With a ``hub`` (the study's
    ``on_epoch_end`` in an actor), each epoch's curves go to it and its decisions come back.
    """
    import ray

    yield os.getpid()
    tables = ray.get(list(refs.values()))
    data = dict(zip(refs, tables, strict=True))

    def hook(ids: Sequence[int], curves: Sequence[Mapping[str, list[float]]]) -> Any:
        sent = [{k: list(v) for k, v in c.items()} for c in curves]
        return ray.get(hub.call.remote([positions[i] for i in ids], sent))

    yield from stream_results(members, data, device, memory_budget_mb,
                              None if hub is None else hook)  # fmt: skip


def stream_results(
    members: list[MemberSpec],
    data: Mapping[int, tuple[Any, Any]],
    device: str,
    memory_budget_mb: float,
    on_epoch_end: EpochHook | None = None,
) -> Iterator[MemberResult]:
    """:func:`~reglab.engine.train_members` in a thread, each result yielded as soon as it
    is done (handed through a queue); an error in training is raised here."""
    for batch in stream_batches(members, data, device, memory_budget_mb, on_epoch_end):
        for result in batch:  # noqa: UP028 (a list's iterator has no send(), which Ray calls)
            yield result


def stream_batches(
    members: list[MemberSpec],
    data: Mapping[int, tuple[Any, Any]],
    device: str,
    memory_budget_mb: float,
    on_epoch_end: EpochHook | None = None,
) -> Iterator[list[MemberResult]]:
    """As :func:`stream_results`, but the results done by the time the caller asks come
    together in one list (a stack's members that stop at the same epoch finish at once)."""
    from reglab.engine import train_members

    results: queue.Queue[Any] = queue.Queue()
    done = object()
    failure: list[BaseException] = []

    def train() -> None:
        try:
            train_members(members, data, device=device, memory_budget_mb=memory_budget_mb,
                          on_result=results.put, on_epoch_end=on_epoch_end)  # fmt: skip
        except BaseException as err:  # handed to the caller's thread, raised there
            failure.append(err)
        finally:
            results.put(done)

    thread = threading.Thread(target=train, name="reglab-ray-train", daemon=True)
    thread.start()
    finished = False
    while not finished:
        batch = [results.get()]
        while not results.empty():
            batch.append(results.get())
        finished = batch[-1] is done
        if finished:
            batch.pop()
        if batch:
            yield batch
    thread.join()
    if failure:
        raise failure[0]


def executor_for(name: str, address: str | None, who: str) -> Any:
    """The executor ``--executor NAME [--address HOST:PORT]`` names, checked (Ray installed,
    the address answering) before anything is written; ``None`` for the local one."""
    if name not in EXECUTORS:
        expected = "one of " + ", ".join(repr(e) for e in EXECUTORS)
        raise ConfigError(message(who, "--executor", expected, name))
    if name == "local":
        if address is not None:
            raise ConfigError(
                f"{who}: `--address` must be given with --executor ray only; got "
                f"{address!r} with --executor local."
            )
        return None
    if address is not None:
        parse_address(address, who)
    executor = RayExecutor(address)
    executor.check(who)
    return executor
