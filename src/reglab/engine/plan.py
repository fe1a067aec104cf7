"""Which members train together: stacks by :attr:`MemberSpec.stack_key`, chunked to a budget.

Members that share an architecture, a batch size and an optimizer form one stack, split further
by their batch pattern (:func:`~reglab.engine.streams.batch_pattern`: mini-batches per epoch,
and whether the last one is full). Within a stack every member then takes the same number of
optimizer steps, and either no member or every member has a short last batch, so each member
goes through exactly the same arithmetic as it would alone. A stack is cut into chunks of
consecutive members so that a chunk's estimated memory (:func:`member_bytes` per member plus
its data) stays within the budget. A member's result
does not depend on the chunking (DESIGN "Independence"), so the plan only trades memory for
speed.

>>> import numpy as np
>>> from reglab.engine.spec import Architecture, MemberSpec, Strategy, TrainConfig
>>> idx = np.arange(80)
>>> spec = MemberSpec(Architecture(10, 3), Strategy(), TrainConfig(), idx, idx[:0], idx[:20])
>>> data = {0: (np.zeros((100, 10), np.float32), np.zeros(100, np.int64))}
>>> [len(c) for c in plan_chunks([spec] * 5, data, memory_budget_mb=1024)]
[5]
>>> budget = 2.5 * member_bytes(spec) / 2**20
>>> [len(c) for c in plan_chunks([spec] * 5, data, memory_budget_mb=budget)]
[2, 2, 1]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from reglab.engine.layout import StackLayout
from reglab.engine.spec import MemberSpec
from reglab.engine.streams import batch_pattern, noise_places

__all__ = ["member_bytes", "plan_chunks"]

_FLOAT = 4
_PARAM_COPIES = 14
"""theta, grad, Adam m/v, best copy, Adam scratch, lr/decay/penalty/prox coefficients, index."""
_EVAL_CHUNK = 2048


def member_bytes(member: MemberSpec) -> int:
    """Estimated device memory one member adds to a stack, in bytes.

    Counts its parameters and their per-element optimizer state and coefficients, one step's
    activations and gradients, one epoch's batch indices and noise (twice: host and device),
    and evaluation buffers.
    """
    arch = member.arch
    layout = StackLayout(arch)
    b = member.train.batch_size
    n_train = len(member.train_idx)
    steps = max(1, math.ceil(n_train / b))
    width = arch.in_features + arch.out_features
    params = _PARAM_COPIES * layout.size * _FLOAT
    hidden = sum(arch.hidden)
    activations = b * (width + 8 * hidden + 4 * arch.out_features) * _FLOAT
    connect = 2 * sum(
        a * c for a, c in zip(arch.layer_sizes[:-2], arch.layer_sizes[1:-1], strict=True)
    )
    places = noise_places([member])
    noise_per_step = sum(math.prod(p.shape) for p in places)
    # Batch rows and weights; noise multipliers in two host sets (one epoch drawn ahead) and
    # on the device; DropConnect's masked kernels.
    epoch = steps * b * 12 + 3 * steps * noise_per_step * _FLOAT + connect * _FLOAT
    rows = max(n_train, len(member.val_idx), len(member.test_idx))
    evaluation = min(rows, _EVAL_CHUNK) * (width + 3 * hidden) * _FLOAT
    outputs = 3 * rows * arch.out_features * _FLOAT + 8 * rows
    return int(params + activations + epoch + evaluation + outputs)


def _data_bytes(
    members: Sequence[MemberSpec], data: Mapping[int, tuple[np.ndarray, np.ndarray]]
) -> int:
    total = 0
    width = members[0].arch.in_features + members[0].arch.out_features
    for split in {m.split_id for m in members}:
        total += len(data[split][0]) * width * _FLOAT
    return total


def plan_chunks(
    members: Sequence[MemberSpec],
    data: Mapping[int, tuple[np.ndarray, np.ndarray]],
    memory_budget_mb: float,
) -> list[list[int]]:
    """Group members into stacks and cut each into chunks that fit ``memory_budget_mb``.

    Returns:
        Lists of member positions (into ``members``), each one chunk of one stack (same
        :attr:`~MemberSpec.stack_key`, steps per epoch and full or short last batch), stacks
        in order of first appearance and members in their given order. A chunk holds at least
        one member, even when a single member exceeds the budget.
    """
    groups: dict[tuple[object, ...], list[int]] = {}
    for i, member in enumerate(members):
        steps, last = batch_pattern(member)
        key = (*member.stack_key, steps, last == member.train.batch_size)
        groups.setdefault(key, []).append(i)
    budget = memory_budget_mb * 2**20
    chunks: list[list[int]] = []
    for indices in groups.values():
        group = [members[i] for i in indices]
        per_member = max(member_bytes(m) for m in group)
        room = budget - _data_bytes(group, data)
        size = max(1, int(room // per_member))
        chunks.extend(indices[i : i + size] for i in range(0, len(indices), size))
    return chunks
