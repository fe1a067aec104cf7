"""Snapshot ensembles' schedule (Huang et al. 2017): K cosine cycles, one snapshot per cycle.

A run of ``T`` optimizer steps is cut into ``K`` cycles of ``C = ⌈T/K⌉`` steps. Step
``t = 1 … T`` uses the learning rate

    α(t) = α₀/2 · (cos(π · mod(t − 1, C) / C) + 1),

which restarts at the base rate ``α₀`` with every cycle and anneals towards 0 within it. A
snapshot of the weights is taken after steps ``C, 2C, …, (K−1)C`` and after the last step
``T`` (the K-th cycle ends with the run; it is shorter when ``K`` does not divide ``T``). All
``K`` cycles must start within the run: ``(K − 1)·C < T``.

>>> [round(snapshot_lr(t, 1.0, 4), 4) for t in range(1, 6)]
[1.0, 0.8536, 0.5, 0.1464, 1.0]
>>> snapshot_steps(10, 3)
[4, 8, 10]
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from reglab._validation import Problems, message

__all__ = [
    "SnapshotCycles",
    "check_snapshot",
    "cycle_steps",
    "snapshot_lr",
    "snapshot_steps",
]


def cycle_steps(total: int, cycles: int) -> int:
    """``C = ⌈T/K⌉``: steps per cycle."""
    return -(-int(total) // int(cycles))


def snapshot_steps(total: int, cycles: int) -> list[int]:
    """The steps after which a snapshot is taken: ``C, 2C, …, (K−1)C`` and ``T``."""
    c = cycle_steps(total, cycles)
    return [j * c for j in range(1, cycles)] + [int(total)]


def snapshot_lr(t: Any, lr0: Any, cycle: Any) -> Any:
    """``α(t) = α₀/2·(cos(π·mod(t−1, C)/C) + 1)`` for step ``t ≥ 1`` (floats or tensors,
    element-wise)."""
    if isinstance(t, Tensor) or isinstance(cycle, Tensor):
        phase = torch.remainder(t - 1, cycle) / cycle
        return lr0 / 2 * (torch.cos(math.pi * phase) + 1)
    return lr0 / 2 * (math.cos(math.pi * ((t - 1) % cycle) / cycle) + 1)


def check_snapshot(who: str, cycles: Any, epochs: int, steps_per_epoch: int) -> list[str]:
    """The problems with ``K`` cycles in a run of ``epochs`` epochs of ``steps_per_epoch``
    steps: ``K`` must be a whole number in [1, epochs], and all K cycles of ``⌈T/K⌉`` steps
    must start within the ``T`` steps."""
    if isinstance(cycles, bool) or not isinstance(cycles, int | float) or cycles != int(cycles):
        return [message(who, "snapshot", "a whole number of cycles", cycles)]
    k = int(cycles)
    if not 1 <= k <= epochs:
        return [message(who, "snapshot", f"a number of cycles in [1, {epochs}] (the epochs)", k)]
    total = epochs * steps_per_epoch
    c = cycle_steps(total, k)
    if (k - 1) * c >= total:
        return [
            message(
                who,
                "snapshot",
                f"a number of cycles whose cycles of ⌈T/K⌉ = {c} steps all start within the "
                f"T = {total} steps ({epochs} epochs × {steps_per_epoch}); fewer cycles",
                k,
            )
        ]
    return []


class SnapshotCycles(torch.optim.Optimizer):
    """The snapshot schedule around any ``torch.optim`` optimizer, collecting the snapshots.

    Args:
        optimizer: The inner optimizer; its groups' learning rates are the base rates ``α₀``.
        total_steps: ``T``, the run's optimizer steps (epochs × batches per epoch).
        cycles: ``K``.
        model: The module being trained, when it has buffers that follow its weights (batch
            norm's running statistics): each snapshot then keeps a copy of them too, so every
            snapshot of :meth:`ensemble` predicts with the statistics it was trained with.

    Each :meth:`step` takes the inner step at ``α(t)`` (the groups' ``lr`` holds the rate of
    the next step between calls) and, at the end of a cycle, appends a copy of the
    parameters to :attr:`snapshots`. :meth:`ensemble` builds the
    :class:`~reglab.layers.snapshot.SnapshotEnsemble`. Usable as ``reglab.fit``'s optimizer
    factory; the model itself ends with the last snapshot's weights.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_steps: int,
        cycles: int,
        *,
        model: nn.Module | None = None,
    ) -> None:
        p = Problems()
        if not isinstance(optimizer, torch.optim.Optimizer):
            p.add(message("SnapshotCycles", "optimizer", "a torch.optim.Optimizer", optimizer))
        if model is not None and not isinstance(model, nn.Module):
            p.add(message("SnapshotCycles", "model", "a torch.nn.Module or None", model))
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            p.add(message("SnapshotCycles", "total_steps", "a whole number ≥ 1", total_steps))
        else:
            for problem in check_snapshot("SnapshotCycles", cycles, total_steps, 1):
                p.add(problem)
        p.raise_if_any()
        self.optimizer = optimizer
        self.total_steps, self.cycles = total_steps, int(cycles)
        self.cycle = cycle_steps(total_steps, self.cycles)
        self.defaults = optimizer.defaults
        self.param_groups = optimizer.param_groups
        self.state = optimizer.state
        self._optimizer_step_pre_hooks: dict[int, Any] = OrderedDict()
        self._optimizer_step_post_hooks: dict[int, Any] = OrderedDict()
        self.base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self.steps = 0
        self._at = set(snapshot_steps(total_steps, self.cycles))
        self.snapshots: list[list[Tensor]] = []
        self.model = model
        self.buffers: list[list[Tensor]] = []  # each snapshot's buffers, with ``model``

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Callable[[], float] | None = None) -> Any:
        """The inner step at ``α(t)``; a snapshot at a cycle's end; then ``lr`` = ``α(t+1)``."""
        loss = self.optimizer.step(closure) if closure is not None else self.optimizer.step()
        self.steps += 1
        if self.steps in self._at:
            self.snapshots.append(
                [q.detach().clone() for g in self.param_groups for q in g["params"]]
            )
            if self.model is not None:
                self.buffers.append([b.detach().clone() for b in self.model.buffers()])
        for group, lr0 in zip(self.param_groups, self.base_lrs, strict=True):
            group["lr"] = snapshot_lr(self.steps + 1, lr0, self.cycle)
        return loss

    def ensemble(self, model: nn.Module, task: str) -> nn.Module:
        """A :class:`~reglab.layers.snapshot.SnapshotEnsemble` of copies of ``model`` holding
        the snapshots (``model`` must be the module whose parameters this optimizer moves)."""
        import copy

        from reglab.layers.snapshot import SnapshotEnsemble

        params = [q for g in self.param_groups for q in g["params"]]
        models = []
        for i, snap in enumerate(self.snapshots):
            clone = copy.deepcopy(model)
            by_id = dict(zip(map(id, model.parameters()), clone.parameters(), strict=True))
            with torch.no_grad():
                for q, value in zip(params, snap, strict=True):
                    by_id[id(q)].copy_(value)
                if self.model is not None:
                    for b, value in zip(clone.buffers(), self.buffers[i], strict=True):
                        b.copy_(value)
            models.append(clone)
        return SnapshotEnsemble(models, task)

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "steps": self.steps,
            "snapshots": [[s.clone() for s in snap] for snap in self.snapshots],
            "buffers": [[b.clone() for b in kept] for kept in self.buffers],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict["optimizer"])
        self.steps = int(state_dict["steps"])
        self.snapshots = [[s.clone() for s in snap] for snap in state_dict["snapshots"]]
        self.buffers = [[b.clone() for b in kept] for kept in state_dict.get("buffers", [])]
        for group, lr0 in zip(self.param_groups, self.base_lrs, strict=True):
            group["lr"] = snapshot_lr(self.steps + 1, lr0, self.cycle)
