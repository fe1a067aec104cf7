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
import sklearn
import torch

from reglab._seeding import generator
from reglab._validation import Problems, check_int, check_positive, message
from reglab.engine.layout import StackLayout
from reglab.engine.plan import plan_chunks
from reglab.engine.result import (
    MemberResult,
    classification_scores,
    regression_scores,
    weight_summary,
)
from reglab.engine.spec import MemberSpec
from reglab.engine.stack import Stack
from reglab.engine.streams import EpochPlan, MemberStreams, stream_seeds
from reglab.errors import ConfigError
from reglab.training.early_stopping import EarlyStopping

__all__ = ["initial_weights", "resolve_device", "train_members"]

WHO = "train_members"

Data = Mapping[int, tuple[np.ndarray, np.ndarray]]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; other values as ``torch.device``.

    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("tpu")
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: train_members: `device` must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got 'tpu'.
    """  # noqa: E501
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ConfigError(message(WHO, "device", "'auto', 'cpu', 'cuda' or 'cuda:N'", device))
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(message(WHO, "device", "'cpu' or 'auto' (CUDA is not available)", device))
    return dev


def initial_weights(member: MemberSpec) -> dict[str, np.ndarray]:
    """The member's initial weights as an :class:`~reglab.layers.MLP` ``state_dict``.

    They depend only on ``member.seed`` and its architecture (``nn.Linear``'s distribution,
    :meth:`StackLayout.initial`), so a single model started from them and fed the same batches
    (:func:`~reglab.engine.streams.stream_seeds`) reproduces the member.
    """
    layout = StackLayout(member.arch)
    flat = layout.stack([layout.initial(generator(stream_seeds(member.seed)["init"]))], "cpu")
    state = layout.unstack(flat, 1, 0)
    for i, h in enumerate(member.arch.hidden if member.arch.batch_norm else ()):
        state[f"bn{i}.running_mean"] = np.zeros(h, dtype=np.float32)
        state[f"bn{i}.running_var"] = np.ones(h, dtype=np.float32)
        state[f"bn{i}.num_batches_tracked"] = np.array(0, dtype=np.int64)
    return state


# --------------------------------------------------------------------------- validation


def _validate(
    members: Sequence[MemberSpec], data: Any, memory_budget_mb: Any, num_threads: Any
) -> None:
    p = Problems()
    p.check(check_positive, WHO, "memory_budget_mb", memory_budget_mb)
    if num_threads is not None:
        p.check(check_int, WHO, "num_threads", num_threads, minimum=1)
    if not isinstance(data, Mapping):
        p.add(message(WHO, "data", "a mapping split_id -> (X, y)", type(data).__name__))
        p.raise_if_any()
    for i, member in enumerate(members):
        if not isinstance(member, MemberSpec):
            p.add(message(WHO, f"members[{i}]", "a MemberSpec", type(member).__name__))
            continue
        if member.split_id not in data:
            p.add(
                message(
                    WHO,
                    f"members[{i}].split_id",
                    f"one of the data's splits {sorted(data)}",
                    member.split_id,
                )
            )
            continue
        _validate_member(p, i, member, data[member.split_id])
    if p.messages:
        raise ConfigError(" ".join(p.messages))


def _validate_member(p: Problems, i: int, member: MemberSpec, pair: Any) -> None:
    who = f"{WHO}: members[{i}]"
    try:
        x, y = pair
    except (TypeError, ValueError):
        p.add(message(WHO, f"data[{member.split_id}]", "a pair (X, y)", type(pair).__name__))
        return
    x, y = np.asarray(x), np.asarray(y)
    arch = member.arch
    if x.ndim != 2 or x.shape[1] != arch.in_features:
        p.add(
            message(
                WHO,
                f"data[{member.split_id}] X",
                f"a 2-D array with {arch.in_features} columns (arch.in_features)",
                x.shape,
            )
        )
        return
    if y.shape != (len(x),):
        p.add(
            message(WHO, f"data[{member.split_id}] y", f"a 1-D array of {len(x)} values", y.shape)
        )
        return
    if arch.task != "regression":
        classes = 2 if arch.task == "binary" else arch.out_features
        if arch.task == "binary" and arch.out_features != 1:
            p.add(
                message(
                    WHO, f"members[{i}].arch.out_features", "1 for a binary task", arch.out_features
                )
            )
        if not np.issubdtype(y.dtype, np.integer) or (
            len(y) and (y.min() < 0 or y.max() >= classes)
        ):
            got = f"{y.dtype} in [{y.min()}, {y.max()}]" if len(y) else y.dtype
            p.add(
                message(
                    WHO,
                    f"data[{member.split_id}] y",
                    f"integer class ids in [0, {classes}) for task {arch.task!r}",
                    got,
                )
            )
    elif arch.out_features != 1:
        p.add(
            message(WHO, f"members[{i}].arch.out_features", "1 for regression", arch.out_features)
        )
    for name in ("train_idx", "val_idx", "test_idx"):
        idx = np.asarray(getattr(member, name))
        if idx.ndim != 1 or (len(idx) and not np.issubdtype(idx.dtype, np.integer)):
            p.add(message(WHO, f"members[{i}].{name}", "a 1-D integer array", idx.dtype))
        elif len(idx) and (idx.min() < 0 or idx.max() >= len(x)):
            p.add(
                message(
                    WHO,
                    f"members[{i}].{name}",
                    f"row numbers in [0, {len(x)})",
                    f"[{idx.min()}, {idx.max()}]",
                )
            )
    if len(member.train_idx) == 0:
        p.add(message(WHO, f"members[{i}].train_idx", "non-empty", "an empty array"))
    if member.train.early_stopping and len(member.val_idx) == 0:
        p.add(
            f"{who}: `val_idx` must be non-empty when early stopping is on "
            f"(patience={member.train.patience}); got an empty array."
        )


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
) -> list[MemberResult]:
    """Train every member, many at once; return one :class:`MemberResult` per member, in order.

    Members with equal :attr:`MemberSpec.stack_key` train together as one stack (chunked to
    ``memory_budget_mb``). Each member trains on rows ``train_idx`` of its split's arrays,
    early-stops on ``val_idx`` (when ``patience`` is set), is restored to its best epoch and is
    scored on ``test_idx`` and ``train_idx``. Its result depends only on its own spec and data,
    not on the other members or the chunking.

    Args:
        members: The members to train.
        data: ``data[split_id] = (X, y)``: ``X`` float32 ``[n, in_features]`` preprocessed for
            that split, ``y`` ``[n]`` (int class ids ``0..C-1``; floats for regression).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        memory_budget_mb: Bound on a chunk's estimated memory, in MiB.
        on_result: Called with each result as soon as its member is done.
        progress: Called with ``(members done, total)`` after each result.
        num_threads: CPU threads for a stack's operations; ``None`` chooses per stack: one
            thread for small stacks (fewer than ``2**17`` elements in a layer's activations),
            whose operations are too short to gain from threads and lose much when the cores
            are busy, else torch's setting. Restored afterwards.

    Returns:
        The results, in the order of ``members``.

    Raises:
        ConfigError: For invalid arguments, members or data (all problems in one message).

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
    [('ok', 3, ['accuracy', 'balanced_accuracy', 'log_loss']), ('ok', 3, ['accuracy', 'balanced_accuracy', 'log_loss'])]
    """  # noqa: E501
    members = list(members)
    dev = resolve_device(device)
    _validate(members, data, memory_budget_mb, num_threads)
    results: list[MemberResult | None] = [None] * len(members)
    done = 0
    for chunk in plan_chunks(members, data, memory_budget_mb):
        stack = [members[i] for i in chunk]
        threads = num_threads if num_threads is not None else _auto_threads(stack, dev)
        with _intra_op_threads(threads if dev.type == "cpu" else None):
            for position, result in _train_chunk(stack, data, dev):
                results[chunk[position]] = result
                done += 1
                if on_result is not None:
                    on_result(result)
                if progress is not None:
                    progress(done, len(members))
    return [r for r in results if r is not None]


SMALL_STACK = 2**17
"""Below this many elements in a stack's widest activation ``[M, B, units]`` one thread is used."""


def _auto_threads(members: Sequence[MemberSpec], device: torch.device) -> int | None:
    """One thread for small CPU stacks (see ``num_threads``), else ``None`` (torch's setting)."""
    if device.type != "cpu":
        return None
    widest = max(members[0].arch.layer_sizes)
    elements = len(members) * members[0].train.batch_size * widest
    return 1 if elements < SMALL_STACK else None


@contextmanager
def _intra_op_threads(n: int | None) -> Iterator[None]:
    """Run with ``torch.set_num_threads(n)`` (``None``: unchanged), restoring it after."""
    if n is None or n == torch.get_num_threads():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------- one chunk


class _Tracker:
    """Host-side record of one member: curves, early stopping, time."""

    def __init__(self, member: MemberSpec) -> None:
        self.member = member
        cfg = member.train
        self.curves: dict[str, list[float]] = {
            "train_loss": [],
            "penalty": [],
            "val_loss": [],
            "val_metric": [],
        }
        self.stopper = (
            EarlyStopping(
                monitor=cfg.monitor,
                mode="min" if cfg.monitor == "val_loss" else "max",
                patience=cfg.patience,
                min_delta=cfg.min_delta,
            )
            if cfg.patience is not None
            else None
        )
        self.best_epoch = 0
        self.stopped_epoch = 0
        self.epochs_run = 0
        self.wall = 0.0
        self.error: str | None = None


def _prepare_data(
    members: Sequence[MemberSpec], data: Data, device: torch.device
) -> tuple[torch.Tensor, dict[int, int], dict[int, np.ndarray]]:
    """Stack the splits the members use into one ``[N, F + T]`` tensor; row offsets; targets."""
    arch = members[0].arch
    offsets: dict[int, int] = {}
    parts = []
    targets: dict[int, np.ndarray] = {}
    start = 0
    for split in sorted({m.split_id for m in members}):
        x, y = data[split]
        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y)
        if arch.task == "multiclass":
            t = np.zeros((len(y), arch.out_features), dtype=np.float32)
            t[np.arange(len(y)), y.astype(np.int64)] = 1.0
        else:
            t = y.astype(np.float32).reshape(-1, 1)
        parts.append(np.concatenate([x, t], axis=1))
        offsets[split] = start
        targets[split] = y
        start += len(x)
    return torch.from_numpy(np.concatenate(parts)).to(device), offsets, targets


def _padded(rows: Sequence[np.ndarray], device: torch.device) -> tuple[torch.Tensor, np.ndarray]:
    """Rows of every member padded to one length (repeating the first row); real counts."""
    counts = np.array([len(r) for r in rows])
    width = max(int(counts.max()), 1)
    out = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        if len(r):
            out[i, : len(r)] = r
            out[i, len(r) :] = r[0]
    return torch.from_numpy(out).to(device), counts


def _train_chunk(
    members: Sequence[MemberSpec], data: Data, device: torch.device
) -> Iterator[tuple[int, MemberResult]]:
    """Train one chunk of one stack; yield ``(position in members, result)`` as each finishes."""
    start_time = time.perf_counter()
    arch = members[0].arch
    layout = StackLayout(arch)
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
    params = layout.stack(
        [layout.initial(generator(stream_seeds(m.seed)["init"])) for m in members], device
    )
    streams = MemberStreams(members, [rows_of(m, "train_idx") for m in members], device)
    stack = Stack(
        members,
        layout,
        table,
        params,
        streams.places,
        y_stats,
        keep_best=any(m.train.early_stopping for m in members),
    )
    positions = list(range(len(members)))  # stack slot -> position in members
    trackers = [_Tracker(m) for m in members]
    val_rows, val_counts = _padded([rows_of(m, "val_idx") for m in members], device)
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
        )


def _epochs(
    stack: Stack,
    streams: MemberStreams,
    pool: ThreadPoolExecutor,
    last: int,
    positions: list[int],
    trackers: Sequence[_Tracker],
    val_rows: torch.Tensor,
    val_counts: np.ndarray,
    targets: dict[int, np.ndarray],
    offsets: dict[int, int],
    device: torch.device,
) -> Iterator[tuple[int, MemberResult]]:
    """The epoch loop of one chunk; the next epoch's plan is drawn while this one trains."""
    pending: Future[EpochPlan] = pool.submit(streams.epoch)
    for epoch in range(1, last + 1):
        epoch_start = time.perf_counter()
        plan = pending.result()
        if epoch < last:
            pending = pool.submit(streams.epoch)
        for s in range(plan.steps):
            weight = None if plan.weights is None or plan.full[s] else plan.weights[s]
            stack.train_step(plan.rows[s], [n[s] for n in plan.noise], weight)
        steps = np.array([streams.steps(i) for i in range(stack.m)])
        train_loss = stack.epoch_loss() / steps
        penalty = stack.penalty()
        finite = stack.finite()
        val_loss, val_metric = _validation(
            stack, val_rows, val_counts, targets, trackers, positions
        )

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
            problem = _problem(train_loss[slot], finite[slot], val_loss[slot], val_counts[pos])
            if problem:
                tr.error = f"{problem} at epoch {epoch}"
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
                    done.append(slot)
                    continue
            if epoch >= tr.member.train.epochs:
                done.append(slot)
        stack.snapshot(improved)
        elapsed = time.perf_counter() - epoch_start
        for pos in positions:
            trackers[pos].wall += elapsed / len(positions)
        if done:
            yield from _finish(stack, done, positions, trackers, targets, offsets, device)
            keep = [slot for slot in range(stack.m) if slot not in set(done)]
            upcoming = pending.result() if epoch < last else None
            if not keep:
                return
            if upcoming is not None:
                pending = Future()
                pending.set_result(upcoming.select(keep))
            stack.select(keep)
            val_rows = val_rows.index_select(0, torch.tensor(keep, device=device))
            streams.select(keep)
            positions = [positions[slot] for slot in keep]


def _problem(train_loss: float, finite: bool, val_loss: float, n_val: int) -> str | None:
    if not math.isfinite(train_loss):
        return f"loss became {'NaN' if math.isnan(train_loss) else 'inf'}"
    if not finite:
        return "weights became NaN or inf"
    if n_val and not math.isfinite(val_loss):
        return f"validation loss became {'NaN' if math.isnan(val_loss) else 'inf'}"
    return None


def _validation(
    stack: Stack,
    rows: torch.Tensor,
    counts_all: np.ndarray,
    targets: dict[int, np.ndarray],
    trackers: Sequence[_Tracker],
    positions: Sequence[int],
) -> tuple[np.ndarray, np.ndarray]:
    """Validation loss and metric of every member (NaN for members without validation rows)."""
    m = stack.m
    counts = counts_all[list(positions)]
    if not counts.any():
        return np.full(m, np.nan), np.full(m, np.nan)
    out = stack.outputs(rows, best=False)
    loss, metric = np.full(m, np.nan), np.full(m, np.nan)
    out_np = out.cpu().numpy().astype(np.float64)
    for slot, pos in enumerate(positions):
        n = counts[slot]
        if n == 0:
            continue
        member = trackers[pos].member
        y = np.asarray(targets[member.split_id])[member.val_idx]
        pred = out_np[slot, :n]
        loss[slot], metric[slot] = _loss_and_metric(stack, slot, member, pred, y)
    return loss, metric


def _loss_and_metric(
    stack: Stack, slot: int, member: MemberSpec, out: np.ndarray, y: np.ndarray
) -> tuple[float, float]:
    """Data loss (as trained) and metric of raw outputs ``out`` against targets ``y``."""
    task = member.arch.task
    with np.errstate(all="ignore"):
        if task == "multiclass":
            shifted = out - out.max(axis=1, keepdims=True)
            logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            loss = -float(np.mean(logp[np.arange(len(y)), y.astype(np.int64)]))
            return loss, float(np.mean(out.argmax(axis=1) == y))
        if task == "binary":
            z = out[:, 0]
            loss = float(np.mean(np.logaddexp(0.0, z) - y * z))
            return loss, float(np.mean((z > 0).astype(np.int64) == y))
        assert stack.y_stats is not None
        mean, std = stack.y_stats[slot]
        ys = (np.asarray(y, dtype=np.float64) - mean) / std
        err = out[:, 0] - ys
        sst = float(np.sum((ys - ys.mean()) ** 2))
        r2 = 1.0 - float(np.sum(err**2)) / sst if sst > 0 else math.nan
        return float(np.mean(err**2)), r2


def _predictions(stack: Stack, slots: Sequence[int], out: np.ndarray) -> np.ndarray:
    """Raw outputs → probabilities ``[n, C]`` (classification) or original-unit values."""
    task = stack.task
    with np.errstate(all="ignore"):
        if task == "multiclass":
            shifted = out - out.max(axis=-1, keepdims=True)
            e = np.exp(shifted)
            return e / e.sum(axis=-1, keepdims=True)
        if task == "binary":
            p1 = 1.0 / (1.0 + np.exp(-out[..., 0]))
            return np.stack([1.0 - p1, p1], axis=-1)
    assert stack.y_stats is not None
    stats = stack.y_stats[list(slots)]
    return out[..., 0] * stats[:, 1:2] + stats[:, 0:1]


def _finish(
    stack: Stack,
    slots: Sequence[int],
    positions: Sequence[int],
    trackers: Sequence[_Tracker],
    targets: dict[int, np.ndarray],
    offsets: dict[int, int],
    device: torch.device,
) -> Iterator[tuple[int, MemberResult]]:
    """Score the finished members on their best weights and build their results."""
    start = time.perf_counter()
    ok = [s for s in slots if trackers[positions[s]].error is None]
    scored: dict[int, tuple[np.ndarray, dict[str, float], dict[str, float]]] = {}
    if ok:
        scored = _score(stack, ok, positions, trackers, targets, offsets, device)
    for slot in ok:
        if slot not in scored:
            tr = trackers[positions[slot]]
            tr.error = f"predictions became NaN or inf at epoch {tr.best_epoch}"
    share = (time.perf_counter() - start) / len(slots)
    for slot in slots:
        pos = positions[slot]
        tr = trackers[pos]
        tr.wall += share
        member = tr.member
        if tr.error is not None:
            empty = np.zeros((0, _n_outputs(member)) if member.arch.task != "regression" else 0)
            yield (
                pos,
                MemberResult(
                    key=member.key(),
                    status="failed",
                    error=tr.error,
                    curves=tr.curves,
                    best_epoch=tr.best_epoch,
                    stopped_epoch=tr.stopped_epoch,
                    epochs_run=tr.epochs_run,
                    test_pred=empty,
                    test_scores={},
                    train_scores={},
                    sparsity={},
                    near_zero={},
                    weight_hist={},
                    feature_norms=[],
                    wall_s=tr.wall,
                ),
            )
            continue
        weights = stack.export(slot, best=True)
        sparsity, near_zero, hist, norms = weight_summary(member.arch, weights)
        test_pred, test_scores, train_scores = scored[slot]
        yield (
            pos,
            MemberResult(
                key=member.key(),
                status="ok",
                error=None,
                curves=tr.curves,
                best_epoch=tr.best_epoch,
                stopped_epoch=tr.stopped_epoch,
                epochs_run=tr.epochs_run,
                test_pred=test_pred,
                test_scores=test_scores,
                train_scores=train_scores,
                sparsity=sparsity,
                near_zero=near_zero,
                weight_hist=hist,
                feature_norms=norms,
                wall_s=tr.wall,
                weights=weights,
            ),
        )


def _n_outputs(member: MemberSpec) -> int:
    return 2 if member.arch.task == "binary" else member.arch.out_features


def _score(
    stack: Stack,
    slots: Sequence[int],
    positions: Sequence[int],
    trackers: Sequence[_Tracker],
    targets: dict[int, np.ndarray],
    offsets: dict[int, int],
    device: torch.device,
) -> dict[int, tuple[np.ndarray, dict[str, float], dict[str, float]]]:
    """Test predictions and test/train scores of members ``slots`` (best weights).

    Members whose predictions are not all finite are left out of the returned mapping.
    """
    results: dict[int, tuple[np.ndarray, dict[str, float], dict[str, float]]] = {}
    out: dict[str, np.ndarray] = {}
    members = [trackers[positions[s]].member for s in slots]
    for name in ("test_idx", "train_idx"):
        rows = [np.asarray(getattr(m, name), dtype=np.int64) + offsets[m.split_id] for m in members]
        padded, _ = _padded(rows, device)
        raw = stack.outputs(padded, best=True, slots=slots)
        out[name] = _predictions(stack, slots, raw.cpu().numpy().astype(np.float64))
    scores = regression_scores if stack.task == "regression" else classification_scores
    # The predictions are finite (checked), so scikit-learn's input checks can be skipped.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        for k, (slot, member) in enumerate(zip(slots, members, strict=True)):
            y = np.asarray(targets[member.split_id])
            n_test, n_train = len(member.test_idx), len(member.train_idx)
            test_pred = out["test_idx"][k, :n_test]
            train_pred = out["train_idx"][k, :n_train]
            if not (np.isfinite(test_pred).all() and np.isfinite(train_pred).all()):
                continue
            results[slot] = (
                test_pred,
                scores(y[member.test_idx], test_pred),
                scores(y[member.train_idx], train_pred),
            )
    return results
