"""Which members train together, and how much memory that takes: stacks, chunks, the budget.

Members that share an architecture, a batch size and an optimizer form one stack, split further
by their batch pattern (:func:`~reglab.engine.streams.batch_pattern`: mini-batches per epoch,
and whether the last one is full). Within a stack every member then takes the same number of
optimizer steps, and either no member or every member has a short last batch, so each member
goes through exactly the same arithmetic as it would alone. A stack is cut into chunks of
consecutive members so that a chunk's estimated memory (:func:`chunk_bytes`:
:func:`member_bytes` per member, :func:`data_bytes` of its splits and :func:`draw_bytes`) stays
within the budget. A member's result does not depend on the chunking (DESIGN "Independence"),
so the plan only trades memory for speed.

:func:`check_memory` checks a plan before anything is trained or stored: the budget itself,
that the largest member fits it, and that the plan's peak fits the memory the machine has.

>>> import numpy as np
>>> from reglab.engine.spec import Architecture, MemberSpec, Strategy, TrainConfig
>>> idx = np.arange(800)
>>> spec = MemberSpec(Architecture(10, 3), Strategy(), TrainConfig(), idx, idx[:0], idx[:200])
>>> data = {0: (np.zeros((1000, 10), np.float32), np.zeros(1000, np.int64))}
>>> [len(c) for c in plan_chunks([spec] * 5, data, memory_budget_mb=1024)]
[5]
>>> budget = (chunk_bytes([spec], data) + 1.5 * member_bytes(spec)) / 2**20
>>> [len(c) for c in plan_chunks([spec] * 5, data, memory_budget_mb=budget)]
[2, 2, 1]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reglab.engine.layout import StackLayout
from reglab.engine.spec import MemberSpec
from reglab.engine.stack import EVAL_ROWS
from reglab.engine.streams import batch_pattern, noise_places
from reglab.errors import ConfigError

__all__ = [
    "MAX_BUDGET_MB",
    "MIN_BUDGET_MB",
    "MemoryEstimate",
    "available_memory",
    "check_budget",
    "check_memory",
    "chunk_bytes",
    "data_bytes",
    "draw_bytes",
    "member_bytes",
    "plan_chunks",
    "weight_copies",
]

Data = Mapping[int, tuple[np.ndarray, np.ndarray]]

MIN_BUDGET_MB = 1.0
"""The smallest accepted ``memory_budget_mb``, in MiB."""

MAX_BUDGET_MB = 2**30
"""The largest accepted ``memory_budget_mb``, in MiB (1 PiB: beyond any machine, and byte
counts stay exact integers)."""

PARAM = "`memory_budget_mb` (--memory-budget-mb)"
"""How the budget is named in messages: the Python argument and the command-line flag."""

_MIB = 2**20
_FLOAT = 4
_PARAM_BYTES = 16 * _FLOAT
"""Per parameter: the weights, gradient, Adam's two moments and direction, the best copy, the
per-element member index (int64) and the temporaries of a snapshot, and all of these again
while the stack is compacted (old and new buffers side by side)."""
_KERNEL_TEMPS = 6
"""Temporaries of the largest kernel in one optimizer step (sign, threshold, norms, masks)."""
_ACTIVATION_COPIES = 10
"""Tensors ``[units, B]`` per hidden unit alive in one training step (forward cache, batch
norm, the backward pass's gradients and temporaries)."""
_OUTPUT_COPIES = 6
"""Tensors ``[outputs, B]`` of the loss and its gradient, and the loss accumulator."""
_SLOT_BYTES = 56
"""Per training-row slot of an epoch: the rows (int64) and row weights (float32) of up to
three epoch plans (current, drawn ahead, and a selected copy), and their transposed host
copies and float64 weights while one is drawn."""
_DRAW_BYTES = 5
"""Per noise element of one member's epoch, while that member's noise is drawn: the drawn
float32 values (the multipliers are written straight into the epoch's buffer), and slack."""
_NOISE_SETS = 4
"""Copies of a member's epoch of noise: two host buffers used in turn, a selected copy, and
the allocator's slack (the next epoch is drawn on another thread, in its own heap)."""
_EVAL_ROW_BYTES = 8 + 8
"""Per evaluated row: its row number (int64, padded copy)."""
_EVAL_OUTPUT_BYTES = 16
"""Per evaluated row and output: the outputs of every evaluated member (float32), and a share
of one member's float64 copy and probabilities."""
_DATA_COPIES = 1
"""The data table is filled in place: one copy of the splits' features and targets."""
_ROW_BYTES = 96
"""Per data row, besides the table: row-number arrays and their temporaries."""
_RUNTIME = 20 * _MIB
"""Once per call: the drawing thread, the kernel libraries' buffers and thread stacks
(measured: about 15 MiB for one small member)."""


def member_bytes(member: MemberSpec) -> int:
    """Estimated memory one member adds to a stack, in bytes (an upper bound); its model
    family's estimate (:meth:`~reglab.engine.family.ModelFamily.member_bytes`)."""
    from reglab.engine.family import family_of

    return family_of(member.arch).member_bytes(member)


def dense_member_bytes(member: MemberSpec, layout: StackLayout) -> int:
    """:func:`member_bytes` of a network of dense layers with this parameter layout.

    Counts its parameters with the optimizer state, best-weights copy and temporaries; one
    training step's batch, activations and gradients; one epoch's batch rows and weights
    and its noise (drawn one epoch ahead); and evaluation: fixed chunks of
    :data:`~reglab.engine.stack.EVAL_ROWS` rows and the outputs of its largest row set
    (training, validation or test rows). Sizes follow the member's own batch size
    (:attr:`MemberSpec.batch_size`, at most its training rows), never a larger nominal one.
    The data table is counted once per chunk (:func:`data_bytes`).

    >>> import numpy as np
    >>> from reglab.engine.spec import Architecture, MemberSpec, Strategy, TrainConfig
    >>> idx = np.arange(300)
    >>> def spec(batch): return MemberSpec(Architecture(10, 3), Strategy(),
    ...                                    TrainConfig(batch_size=batch), idx, idx[:0], idx)
    >>> member_bytes(spec(10**6)) == member_bytes(spec(300))
    True
    """
    arch = member.arch
    b = member.batch_size
    steps = batch_pattern(member)[0]
    width = arch.in_features + arch.out_features
    hidden = sum(arch.hidden)
    kernels = [a * c for a, c in zip(arch.layer_sizes[:-1], arch.layer_sizes[1:], strict=True)]
    params = (_PARAM_BYTES + weight_copies(member) * _FLOAT) * layout.size
    params += _KERNEL_TEMPS * max(kernels) * _FLOAT
    step = b * (2 * width + _ACTIVATION_COPIES * hidden + _OUTPUT_COPIES * arch.out_features)
    step *= _FLOAT
    places = noise_places([member])
    noise = sum(math.prod(p.shape) for p in places)
    connect = 2 * sum(kernels[:-1]) if any(p.kind == "connect" for p in places) else 0
    epoch = steps * b * _SLOT_BYTES + (_NOISE_SETS * steps * noise + connect) * _FLOAT
    rows = max(len(member.train_idx), len(member.val_idx), len(member.test_idx))
    rows = -(-rows // EVAL_ROWS) * EVAL_ROWS
    evaluation = EVAL_ROWS * (width + 3 * max(arch.layer_sizes[1:])) * _FLOAT
    evaluation += rows * (_EVAL_ROW_BYTES + _EVAL_OUTPUT_BYTES * max(arch.out_features, 2))
    return int(params + step + epoch + evaluation)


def weight_copies(member: MemberSpec) -> int:
    """Buffers the size of the member's flat weights that its techniques hold beside the
    optimizer's own: the sum of :meth:`Technique.weight_copies
    <reglab.techniques.Technique.weight_copies>` over its registry techniques (snapshots,
    Lookahead's slow weights, SWA's running mean).

    >>> import numpy as np
    >>> from reglab.engine.spec import Architecture, MemberSpec, TrainConfig
    >>> from reglab.study.strategies import parse_strategy
    >>> idx = np.arange(100)
    >>> def spec(text): return MemberSpec(Architecture(10, 3), parse_strategy(text),
    ...                                   TrainConfig(), idx, idx[:0], idx)
    >>> [weight_copies(spec(t)) for t in ("none", "snapshot=5", "lookahead", "swa=10")]
    [0, 9, 4, 6]
    """
    from reglab.techniques import get

    return sum(get(c.key).weight_copies(c.values) for c in member.strategy.techniques)


def data_bytes(members: Sequence[MemberSpec], data: Data) -> int:
    """Estimated memory of the data table of ``members`` (one stack), in bytes.

    The table holds the rows of every split the members use, features and targets as
    float32.
    """
    total = 0
    for split in {m.split_id for m in members}:
        arch = next(m.arch for m in members if m.split_id == split)
        width = arch.in_features + arch.out_features
        total += len(data[split][0]) * (width * _FLOAT * _DATA_COPIES + _ROW_BYTES)
    return total


def draw_bytes(member: MemberSpec) -> int:
    """Memory taken while one member's epoch of noise is drawn, once per chunk (bytes)."""
    noise = sum(math.prod(p.shape) for p in noise_places([member]))
    return _DRAW_BYTES * batch_pattern(member)[0] * noise


def chunk_bytes(members: Sequence[MemberSpec], data: Data) -> int:
    """Estimated memory of training ``members`` as one chunk, in bytes (an upper bound).

    Its data table, one member's noise being drawn, and each member as the largest one.
    """
    per_member = max(map(member_bytes, members))
    return data_bytes(members, data) + max(map(draw_bytes, members)) + len(members) * per_member


def result_bytes(member: MemberSpec) -> int:
    """Memory of a member's :class:`~reglab.engine.MemberResult`, kept until the call returns."""
    arch = member.arch
    from reglab.engine.family import family_of

    n_params = family_of(arch).layout(arch).n_params
    predictions = len(member.test_idx) * max(arch.out_features, 2) * 8
    curves = 4 * member.train.epochs * 8 * 4  # four lists of Python floats
    return int(n_params * _FLOAT + predictions + curves + 16_384)


def plan_chunks(
    members: Sequence[MemberSpec],
    data: Data,
    memory_budget_mb: float,
) -> list[list[int]]:
    """Group members into stacks and cut each into chunks that fit ``memory_budget_mb``.

    Returns:
        Lists of member positions (into ``members``), each one chunk of one stack (same
        :attr:`~MemberSpec.stack_key`, steps per epoch and full or short last batch), stacks
        in order of first appearance and members in their given order. A chunk holds at least
        one member; :func:`check_memory` rejects a plan where one member exceeds the budget.
    """
    budget = memory_budget_mb * _MIB
    chunks: list[list[int]] = []
    for indices in _stacks(members).values():
        group = [members[i] for i in indices]
        per_member = max(member_bytes(m) for m in group)
        room = budget - data_bytes(group, data) - max(map(draw_bytes, group))
        size = max(1, int(room // per_member))
        chunks.extend(indices[i : i + size] for i in range(0, len(indices), size))
    return chunks


def _stacks(members: Sequence[MemberSpec]) -> dict[tuple[object, ...], list[int]]:
    groups: dict[tuple[object, ...], list[int]] = {}
    for i, member in enumerate(members):
        steps, last = batch_pattern(member)
        key = (*member.stack_key, steps, last == member.batch_size)
        groups.setdefault(key, []).append(i)
    return groups


# --------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class MemoryEstimate:
    """What :func:`check_memory` estimated for a plan (bytes; ``mib`` for MiB).

    Attributes:
        peak_bytes: The largest chunk: its members, their data table and evaluation. This
            is what ``memory_budget_mb`` bounds.
        results_bytes: The results of every member, kept until ``train_members`` returns.
        overhead_bytes: Once per call, whatever the plan: the drawing thread, the kernel
            libraries' buffers and thread stacks.
        largest_member_bytes: The most any single member needs in a chunk of its own,
            data included.
        budget_bytes: The budget.
        available_bytes: Memory available on the device (``MemAvailable`` on Linux, free
            memory on CUDA); ``None`` when unknown.
        chunks: Number of chunks the plan trains one after another.
    """

    peak_bytes: int
    results_bytes: int
    overhead_bytes: int
    largest_member_bytes: int
    budget_bytes: int
    available_bytes: int | None
    chunks: int

    @property
    def total_bytes(self) -> int:
        """The most the plan holds at once: the largest chunk, every result, the overhead."""
        return self.peak_bytes + self.results_bytes + self.overhead_bytes

    @staticmethod
    def mib(n_bytes: int) -> float:
        """Bytes in MiB."""
        return n_bytes / _MIB


def check_budget(memory_budget_mb: Any) -> float:
    """``memory_budget_mb`` as a float: a finite number of MiB, at least :data:`MIN_BUDGET_MB`
    and at most :data:`MAX_BUDGET_MB`.

    >>> check_budget(0.0001)
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: `memory_budget_mb` (--memory-budget-mb) must be a finite number of MiB >= 1; got 0.0001.
    """  # noqa: E501
    value = memory_budget_mb
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < MIN_BUDGET_MB:
        raise ConfigError(
            f"{PARAM} must be a finite number of MiB >= {MIN_BUDGET_MB:g}; got {value!r}."
        )
    if value > MAX_BUDGET_MB:
        raise ConfigError(f"{PARAM} must be at most {MAX_BUDGET_MB} MiB (1 PiB); got {value:g}.")
    return float(value)


def check_memory(
    members: Sequence[MemberSpec],
    data: Data,
    memory_budget_mb: float,
    *,
    device: str | torch.device = "cpu",
) -> MemoryEstimate:
    """Estimate the plan's peak memory and check it before anything is allocated.

    Cheap and free of side effects: arithmetic on the members' shapes and the data's sizes
    plus one read of the available memory. ``train_members`` calls it before training.

    Args:
        members: The members to train (as for ``train_members``).
        data: Their data, ``{split_id: (X, y)}``.
        memory_budget_mb: The bound on one chunk's memory, in MiB.
        device: Where the members would train (``"cpu"``, ``"cuda"``, ``"cuda:N"``;
            ``"auto"`` as ``train_members``).

    Returns:
        The estimate.

    Raises:
        ConfigError: With one line, when the budget is not a finite number of MiB of at least
            :data:`MIN_BUDGET_MB`, when the largest member (with its data) needs more than
            the budget, or when the plan needs more memory than the device has available.

    >>> import numpy as np
    >>> from reglab.engine.spec import Architecture, MemberSpec, Strategy, TrainConfig
    >>> idx = np.arange(100)
    >>> data = {0: (np.zeros((100, 10), np.float32), np.zeros(100, np.int64))}
    >>> big = MemberSpec(Architecture(10, 3, hidden=(10**8,)), Strategy(), TrainConfig(),
    ...                  idx, idx[:0], idx)
    >>> check_memory([big], data, 1024)
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: `memory_budget_mb` (--memory-budget-mb): the largest member needs ~...
    """  # noqa: E501
    budget_mb = check_budget(memory_budget_mb)
    budget = int(budget_mb * _MIB)
    needs = [chunk_bytes([m], data) for m in members]
    largest = max(needs, default=0)
    biggest = members[needs.index(largest)] if needs else None
    if biggest is not None and largest > budget:
        raise ConfigError(
            f"{PARAM}: the largest member needs ~{_mib(largest)} MiB ({_describe(biggest)}); "
            f"got a budget of {budget_mb:g} MiB."
        )
    chunks = plan_chunks(members, data, budget_mb)
    peak = 0
    for chunk in chunks:
        group = [members[i] for i in chunk]
        peak = max(peak, chunk_bytes(group, data))
    results = sum(result_bytes(m) for m in members)
    available = available_memory(device)
    estimate = MemoryEstimate(peak, results, _RUNTIME, largest, budget, available, len(chunks))
    if biggest is not None and available is not None and estimate.total_bytes > available:
        dev = _device(device)
        where = "on this machine" if dev.type == "cpu" else f"on {dev}"
        if largest + results + _RUNTIME <= available:
            advice = f"set it to at most ~{_mib(available - results - _RUNTIME)} MiB"
        else:
            advice = f"the largest member alone needs ~{_mib(largest)} MiB ({_describe(biggest)})"
        raise ConfigError(
            f"{PARAM}: training needs ~{_mib(estimate.total_bytes)} MiB but only "
            f"~{_mib(available)} MiB is available {where}; {advice}."
        )
    return estimate


def available_memory(device: str | torch.device = "cpu") -> int | None:
    """Memory available for training on ``device``, in bytes; ``None`` when unknown.

    CPU: ``MemAvailable`` of ``/proc/meminfo`` (Linux). CUDA: the free memory that
    ``torch.cuda.mem_get_info`` reports.
    """
    dev = _device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            return None
        free, _ = torch.cuda.mem_get_info(dev)
        return int(free)
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def _device(device: str | torch.device) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _mib(n_bytes: int | float) -> str:
    """``n_bytes`` in MiB, to two significant figures at least (1234.5 MiB → '1,235')."""
    mib = n_bytes / _MIB
    return f"{mib:,.0f}" if mib >= 10 else f"{mib:.2g}"


def _describe(member: MemberSpec) -> str:
    arch = member.arch
    hidden = ",".join(str(h) for h in arch.hidden) or "none"
    return (
        f"hidden={hidden}, batch={member.batch_size}, {arch.in_features} inputs, "
        f"{len(member.train_idx)} training rows"
    )
