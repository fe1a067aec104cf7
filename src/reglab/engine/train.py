"""``train_members``: train many members at once, each stopping on its own, results as they come.

The loop per stack chunk (:mod:`reglab.engine.plan`): draw every member's epoch
(:class:`~reglab.engine.streams.MemberStreams`), take all steps of the epoch on the whole stack
(:class:`~reglab.engine.stack.Stack`), then per member: record the curves, check for a NaN/inf
loss (the member fails, the others go on), apply early stopping (Keras's patience rule through
:class:`~reglab.training.EarlyStopping`, best weights kept per member). Members that are done
are scored with their best weights, reported through ``on_result`` at once, and removed from
the stack so they stop costing compute.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from reglab._seeding import generator
from reglab.engine._checks import resolve_device, validate
from reglab.engine._scoring import (
    Tracker,
    finish,
    padded,
    problem,
    restored_problem,
    validation,
)
from reglab.engine.family import family_of
from reglab.engine.generic import GenericStack, needs_generic
from reglab.engine.parametrize import parametrized
from reglab.engine.plan import check_memory, plan_chunks
from reglab.engine.progress import EpochDone, EpochListener, listener
from reglab.engine.result import MemberResult
from reglab.engine.spec import MemberSpec
from reglab.engine.stack import Stack
from reglab.engine.streams import EpochPlan, MemberStreams, stream_seeds
from reglab.engine.strengths import Strengths
from reglab.errors import ConfigError

__all__ = ["BACKENDS", "initial_weights", "resolve_device", "train_members"]

BACKENDS = ("auto", "fused", "generic")
"""``train_members(backend=...)``: ``"auto"`` trains members whose techniques all have a fused
form on the hand-written fused path and the others on the generic (autograd) backend."""

Data = Mapping[int, tuple[np.ndarray, np.ndarray]]

EpochHook = Callable[[Sequence[int], Sequence[Mapping[str, list[float]]]], Sequence[bool] | None]
"""``on_epoch_end(member indices, their curves) -> stop flags`` (see :func:`train_members`)."""


def initial_weights(member: MemberSpec) -> dict[str, np.ndarray]:
    """The member's initial weights as its exported module's ``state_dict``.

    They depend only on ``member.seed`` and its architecture (``nn.Linear``'s distribution,
    :meth:`StackLayout.initial`), so a single model started from them and fed the same batches
    (:func:`~reglab.engine.streams.stream_seeds`) reproduces the member.
    """
    return family_of(member.arch).initial_weights(member)


# --------------------------------------------------------------------------- the public loop


def train_members(
    members: Sequence[MemberSpec],
    data: Data,
    *,
    device: str | torch.device = "auto",
    memory_budget_mb: float = 1024,
    on_result: Callable[[MemberResult], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    num_threads: int | None = None,
    backend: str = "auto",
    on_epoch_end: EpochHook | None = None,
) -> list[MemberResult]:
    """Train every member, many at once; return one :class:`MemberResult` per member, in order.

    Members with equal :attr:`MemberSpec.stack_key` train together as one stack (chunked to
    ``memory_budget_mb``). Each member trains on rows ``train_idx`` of its split's arrays,
    early-stops on ``val_idx`` (when ``patience`` is set), is restored to its best epoch and is
    scored on ``test_idx`` and ``train_idx``. Its result depends only on its own spec, data,
    device and ``num_threads``, bit for bit: not on the other members, the chunking, or
    which members were already trained (``tests/engine/test_independence.py``).

    Args:
        members: The members to train.
        data: ``data[split_id] = (X, y)``: ``X`` float32 ``[n, in_features]`` preprocessed for
            that split, ``y`` ``[n]`` (int class ids ``0..C-1``; floats for regression).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        memory_budget_mb: Bound on a chunk's estimated memory, in MiB (at least 1). The
            plan is checked before training (:func:`~reglab.engine.plan.check_memory`).
        on_result: Called with each result as soon as its member is done.
        progress: Called with ``(members done, total)`` after each result.
        num_threads: CPU threads for a stack's operations; ``None`` means one. A stack uses
            at most one thread per member (:meth:`Stack.use_threads
            <reglab.engine.stack.Stack.use_threads>`), so that every member gets one thread's
            arithmetic: results are the same bits for every setting (tested for 1, 2 and 3
            threads on CPU). One thread is the default because a stack's operations are too
            short to gain from more and lose much when the cores are busy (measured in
            ``docs/benchmarks.md``); it also leaves a core to the thread that draws the next
            epoch. torch's setting is restored afterwards.
        backend: ``"auto"`` (default): each chunk's members that use a technique without a
            fused form (:mod:`reglab.techniques`) train on the generic backend
            (:class:`~reglab.engine.generic.GenericStack`), the others, apart from them, on the
            fused path, so a member's backend never depends on its neighbours. ``"generic"``
            trains every member on the generic backend; ``"fused"`` refuses members that need
            the generic one.
        on_epoch_end: Called after each epoch of each stack with the members still training
            (their indices in ``members``) and their curves so far (``curves[name][t-1]`` is
            epoch ``t``, as in :class:`MemberResult`); it returns one flag per member, ``True``
            to stop that member now (``None``: stop none). A stopped member ends as early
            stopping ends it: restored to its best epoch, with ``stopped_epoch`` this epoch.
            Tuning pruners use it. A member's result then also depends on what the hook
            decides for it; a hook that decides from each member's own curves keeps results
            independent of the neighbours.

    Returns:
        The results, in the order of ``members``.

    Raises:
        ConfigError: For invalid arguments, members or data (all problems in one message),
            and when a member needs more memory than the budget or the plan more than the
            machine has available.

    >>> import numpy as np
    >>> from reglab.engine.spec import Architecture, MemberSpec, Strategy, TrainConfig
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> idx = np.arange(60)
    >>> specs = [MemberSpec(Architecture(4, 2, hidden=(8,)), Strategy(l2=l2),
    ...                     TrainConfig(epochs=3, patience=None), idx[:40], idx[:0], idx[40:])
    ...          for l2 in (0.0, 1e-3)]
    >>> results = train_members(specs, {0: (X, y)}, device="cpu")
    >>> [(r.status, r.epochs_run, sorted(r.test_scores)) for r in results]
    [('ok', 3, ['accuracy', 'balanced_accuracy', 'ece', 'log_loss']), ('ok', 3, ['accuracy', 'balanced_accuracy', 'ece', 'log_loss'])]
    """  # noqa: E501
    members = list(members)
    dev = resolve_device(device)
    _check_backend(members, backend)
    validate(members, data, memory_budget_mb, num_threads)
    check_memory(members, data, memory_budget_mb, device=dev)
    results: list[MemberResult | None] = [None] * len(members)
    done = 0
    threads = 1 if num_threads is None else num_threads
    with _restored_threads():
        for whole in plan_chunks(members, data, memory_budget_mb):
            for chunk, generic in _by_backend(members, whole, backend):
                stack = [members[i] for i in chunk]
                for position, result in _train_chunk(
                    stack, data, dev, threads, generic=generic, ids=chunk, hook=on_epoch_end
                ):
                    results[chunk[position]] = result
                    done += 1
                    if on_result is not None:
                        on_result(result)
                    if progress is not None:
                        progress(done, len(members))
    return [r for r in results if r is not None]


def _check_backend(members: Sequence[MemberSpec], backend: str) -> None:
    if backend not in BACKENDS:
        raise ConfigError(
            f"train_members: `backend` must be one of {', '.join(map(repr, BACKENDS))}; "
            f"got {backend!r}."
        )
    if backend == "fused":
        names = sorted({m.strategy.name for m in members if needs_generic(m)})
        if names:
            raise ConfigError(
                "train_members: `backend` must be 'auto' or 'generic' for strategies with a "
                f"technique that has no fused form; got 'fused' with {', '.join(names)}."
            )


def _by_backend(
    members: Sequence[MemberSpec], chunk: Sequence[int], backend: str
) -> list[tuple[list[int], bool]]:
    """A planned chunk as ``(positions, generic)`` parts, one per backend."""
    if backend != "auto":
        return [(list(chunk), backend == "generic")]
    generic = [i for i in chunk if needs_generic(members[i])]
    fused = [i for i in chunk if not needs_generic(members[i])]
    return [(part, flag) for part, flag in ((fused, False), (generic, True)) if part]


@contextmanager
def _restored_threads() -> Iterator[None]:
    """Restore torch's intra-op thread setting on exit."""
    before = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


# --------------------------------------------------------------------------- one chunk


def _prepare_data(
    members: Sequence[MemberSpec], data: Data, device: torch.device
) -> tuple[torch.Tensor, dict[int, int], dict[int, np.ndarray]]:
    """Stack the splits the members use into one ``[N, F + T]`` tensor; row offsets; targets.

    The table is filled in place (one copy of the data): features, then the one-hot target
    (multiclass) or the target itself.
    """
    arch = members[0].arch
    f = arch.in_features
    splits = sorted({m.split_id for m in members})
    width = f + (arch.out_features if arch.task == "multiclass" else 1)
    table = np.zeros((sum(len(data[s][1]) for s in splits), width), dtype=np.float32)
    offsets: dict[int, int] = {}
    targets: dict[int, np.ndarray] = {}
    start = 0
    for split in splits:
        x, y = data[split]
        y = np.asarray(y)
        rows = slice(start, start + len(y))
        table[rows, :f] = x
        if arch.task == "multiclass":
            table[np.arange(start, start + len(y)), f + y.astype(np.int64)] = 1.0
        else:
            table[rows, f] = y
        offsets[split] = start
        targets[split] = y
        start += len(y)
    return torch.from_numpy(table).to(device), offsets, targets


def _train_chunk(
    members: Sequence[MemberSpec],
    data: Data,
    device: torch.device,
    threads: int,
    *,
    generic: bool = False,
    ids: Sequence[int] | None = None,
    hook: EpochHook | None = None,
) -> Iterator[tuple[int, MemberResult]]:
    """Train one chunk of one stack; yield ``(position in members, result)`` as each finishes.
    ``ids`` are the members' indices as ``hook`` sees them (default: their positions)."""
    start_time = time.perf_counter()
    arch = members[0].arch
    family = family_of(arch)
    layout = parametrized(family.layout(arch), members[0].strategy)
    table, offsets, targets = _prepare_data(members, data, device)

    def rows_of(member: MemberSpec, name: str) -> np.ndarray:
        return np.asarray(getattr(member, name), dtype=np.int64) + offsets[member.split_id]

    y_stats = None
    if arch.task == "regression":
        stats = []
        for m in members:
            y_train = np.asarray(targets[m.split_id], dtype=np.float64)[m.train_idx]
            std = float(y_train.std())
            stats.append((float(y_train.mean()), std if std > 0 and math.isfinite(std) else 1.0))
        y_stats = np.array(stats)
    params = layout.stack([_start(family, m) for m in members], device)
    streams = MemberStreams(members, [rows_of(m, "train_idx") for m in members], device)
    stack = family.stack_class(generic)(
        members,
        layout,
        table,
        params,
        streams.places,
        y_stats,
        keep_best=hook is not None or any(m.train.early_stopping for m in members),
        threads=threads if device.type == "cpu" else None,
    )
    if isinstance(stack, GenericStack):  # batch norm's statistics of averaged weights
        stack.keep_training_rows([rows_of(m, "train_idx") for m in members])
    positions = list(range(len(members)))  # stack slot -> position in members
    trackers = [Tracker(m) for m in members]
    val_rows, val_counts = padded([rows_of(m, "val_idx") for m in members], device)
    setup = time.perf_counter() - start_time
    for t in trackers:
        t.wall += setup / len(trackers)

    last = max(m.train.epochs for m in members)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reglab-epoch") as pool:
        yield from _epochs(
            stack,
            streams,
            pool,
            last,
            positions,
            trackers,
            val_rows,
            val_counts,
            targets,
            offsets,
            device,
            list(range(len(members))) if ids is None else list(ids),
            hook,
            listener(),
        )


def _start(family: Any, member: MemberSpec) -> np.ndarray:
    """A member's flat initial parameters: its seed's draw, or the weights it warm-starts
    from (:class:`~reglab.engine.spec.WarmStart`)."""
    layout = parametrized(family.layout(member.arch), member.strategy)
    if member.warm_start is not None and member.warm_start.weights is not None:
        return layout.flatten(member.warm_start.weights)
    return layout.initial(generator(stream_seeds(member.seed)["init"]))


def _hooked(
    hook: EpochHook,
    epoch: int,
    alive: Sequence[int],
    positions: Sequence[int],
    trackers: Sequence[Tracker],
    ids: Sequence[int],
) -> list[int]:
    """The slots ``hook`` stops after ``epoch`` (each ended as early stopping ends it)."""
    if not alive:
        return []
    flags = hook([ids[positions[s]] for s in alive], [trackers[positions[s]].curves for s in alive])
    if flags is None:
        return []
    flags = list(flags)
    if len(flags) != len(alive):
        raise ConfigError(
            f"train_members: `on_epoch_end` must return one flag per member it was given "
            f"({len(alive)}); got {len(flags)}."
        )
    stopped = []
    for slot, stop in zip(alive, flags, strict=True):
        if stop:
            tr = trackers[positions[slot]]
            tr.stopped_epoch = epoch
            tr.error = restored_problem(tr)
            stopped.append(slot)
    return stopped


def _epochs(
    stack: Stack,
    streams: MemberStreams,
    pool: ThreadPoolExecutor,
    last: int,
    positions: list[int],
    trackers: Sequence[Tracker],
    val_rows: torch.Tensor,
    val_counts: np.ndarray,
    targets: dict[int, np.ndarray],
    offsets: dict[int, int],
    device: torch.device,
    ids: Sequence[int] = (),
    hook: EpochHook | None = None,
    report: EpochListener | None = None,
) -> Iterator[tuple[int, MemberResult]]:
    """The epoch loop of one chunk; the next epoch's plan is drawn while this one trains
    (or, when a member's strength adapts to its curves, at the start of each epoch).
    ``report`` hears of each finished epoch (:mod:`reglab.engine.progress`)."""
    strengths = Strengths(stack.members)
    started = len(positions)
    work = sum(trackers[pos].member.train.epochs for pos in positions)

    def submit(epoch: int) -> Future[EpochPlan] | None:
        if strengths.adaptive:
            return None
        if not strengths.scheduled:
            return pool.submit(streams.epoch)
        return pool.submit(streams.epoch, strengths.at(epoch))

    def curves() -> list[dict[str, list[float]]]:
        return [trackers[pos].curves for pos in positions]

    pending = submit(1)
    for epoch in range(1, last + 1):
        epoch_start = time.perf_counter()
        plan = streams.epoch(strengths.at(epoch, curves())) if pending is None else pending.result()
        if epoch < last:
            pending = submit(epoch + 1)
        if strengths.scheduled:
            stack.set_members(strengths.at(epoch, curves()))
        stack.begin_epoch()
        rows, noise = plan.rows.unbind(0), [n.unbind(0) for n in plan.noise]  # one call each
        for s in range(plan.steps):
            weight = None if plan.weights is None or plan.full[s] else plan.weights[s]
            stack.train_step(rows[s], [n[s] for n in noise], weight)
        stack.end_epoch(epoch)
        steps = np.array([streams.steps(i) for i in range(stack.m)])
        train_loss = stack.epoch_loss() / steps
        penalty = stack.penalty()
        finite = stack.finite()
        val_loss, val_metric = validation(stack, val_rows, val_counts, targets, trackers, positions)

        done: list[int] = []
        improved = np.zeros(stack.m, dtype=bool)
        for slot, pos in enumerate(positions):
            tr = trackers[pos]
            tr.epochs_run = epoch
            for name, value in (
                ("train_loss", train_loss[slot]),
                ("penalty", penalty[slot]),
                ("val_loss", val_loss[slot]),
                ("val_metric", val_metric[slot]),
            ):
                tr.curves[name].append(float(value))
            if strengths.scheduled:
                for name, value in strengths.values(slot, stack.members[slot]).items():
                    tr.curves.setdefault(name, []).append(value)
            tr.error = problem(tr, finite[slot], val_counts[pos])
            if tr.error is not None:
                done.append(slot)
                continue
            if tr.stopper is None:
                tr.best_epoch = epoch
                improved[slot] = True
            else:
                monitored = (
                    val_loss[slot] if tr.member.train.monitor == "val_loss" else val_metric[slot]
                )
                stop = tr.stopper.step(float(monitored))
                if tr.stopper.best_epoch_ == epoch:
                    tr.best_epoch = epoch
                    improved[slot] = True
                if stop:
                    tr.stopped_epoch = epoch
                    tr.error = restored_problem(tr)
                    done.append(slot)
                    continue
            if epoch >= tr.member.train.epochs:
                tr.error = restored_problem(tr)
                done.append(slot)
        if hook is not None:
            done += _hooked(hook, epoch, [s for s in range(stack.m) if s not in set(done)],
                            positions, trackers, ids)  # fmt: skip
        stack.snapshot(improved)
        elapsed = time.perf_counter() - epoch_start
        for pos in positions:
            trackers[pos].wall += elapsed / len(positions)
        if report is not None:
            ends = sum(trackers[positions[s]].member.train.epochs - epoch for s in set(done))
            left = len(positions) - len(set(done))
            report(EpochDone(epoch, last, started, left, len(positions) + ends, work, elapsed))
        if done:
            yield from finish(stack, done, positions, trackers, targets, offsets, device)
            keep = [slot for slot in range(stack.m) if slot not in set(done)]
            upcoming = pending.result() if epoch < last and pending is not None else None
            if not keep:
                return
            if upcoming is not None:
                pending = Future()
                pending.set_result(upcoming.select(keep))
            stack.select(keep)
            strengths.select(keep)
            val_rows = val_rows.index_select(0, torch.tensor(keep, device=device))
            streams.select(keep)
            positions = [positions[slot] for slot in keep]
