"""The generic backend's ``"trajectory"`` techniques: Lookahead and snapshot ensembles.

:class:`Trajectory` holds, for the members of one :class:`~reglab.engine.generic.GenericStack`
that use them, what these techniques add around every optimizer step (``t`` is the step count,
the same for every member of a stack and so each member's own):

* ``lookahead`` (:mod:`reglab.techniques.lookahead`): slow weights ``φ`` (a flat buffer like
  the stack's weights, starting at the initial weights); after step ``t`` with
  ``t mod kᵢ = 0``, ``φ ← φ + αᵢ(θ − φ)`` and ``θ ← φ``
  (:func:`~reglab.optim.lookahead.lookahead_sync_`). At an epoch's end the stack holds ``φ``
  for evaluation and early stopping; the next epoch trains on from ``θ``.
* ``snapshot`` (:mod:`reglab.techniques.snapshot`): before step ``t`` the member's learning
  rate becomes ``α(t) = α₀/2·(cos(π·mod(t−1, Cᵢ)/Cᵢ)+1)`` with ``Cᵢ = ⌈Tᵢ/Kᵢ⌉`` and
  ``Tᵢ`` its epochs × steps per epoch (the decoupled decay ``1 − α(t)·wd`` and proximal
  thresholds ``α(t)·l1`` follow); after steps ``j·Cᵢ`` (``j < Kᵢ``) its weights are copied to
  snapshot ``j``, with batch norm's running statistics of that moment (those it was trained
  with). Evaluation is :func:`~reglab.layers.snapshot.ensemble_mean` of the stored snapshots,
  each with its own statistics, and the current weights (left out when they are the snapshot
  just taken).

With batch norm, Lookahead's slow weights are evaluated with statistics recomputed for them
(:mod:`reglab.engine.bn_refresh`, called by the stack's ``end_epoch``).

Every operation is element-wise over the flat buffer with per-member values gathered by
``member_of``, or a per-member evaluation: a member's bits never depend on its neighbours.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from reglab.engine.spec import MemberSpec
from reglab.engine.streams import batch_pattern
from reglab.layers.snapshot import ensemble_mean
from reglab.optim.lookahead import lookahead_sync_
from reglab.optim.snapshot import cycle_steps, snapshot_lr

__all__ = ["Trajectory", "uses_trajectory"]


def _values(member: MemberSpec, key: str) -> dict[str, float] | None:
    """The member's values of technique ``key``, or ``None`` when it is absent or off."""
    values = next((dict(c.params) for c in member.strategy.techniques if c.key == key), None)
    if values is None or all(v == 0 for v in values.values()):  # every parameter's off is 0
        return None
    return values


def uses_trajectory(members: Sequence[MemberSpec]) -> bool:
    """Whether any member uses ``lookahead`` or ``snapshot``."""
    return any(
        _values(m, "lookahead") is not None or _values(m, "snapshot") is not None for m in members
    )


class Trajectory:
    """Lookahead's slow weights and snapshot ensembles' schedule and snapshots of a stack.

    Args:
        members: The stack's members, in stack order.
        theta: The stack's initial flat weights.
        layout: The stack's :class:`~reglab.engine.layout.StackLayout` (to select members).
    """

    def __init__(self, members: Sequence[MemberSpec], theta: Tensor, layout: Any) -> None:
        dev = theta.device
        self.layout = layout
        self.m = len(members)
        look = [_values(m, "lookahead") for m in members]
        snap = [_values(m, "snapshot") for m in members]
        self.look_on = np.array([v is not None for v in look])
        self.k = np.array([int(v["k"]) if v else 1 for v in look])
        self.alpha = torch.tensor(
            [v["alpha"] if v else 0.0 for v in look], dtype=theta.dtype, device=dev
        )
        self.snap_on = np.array([v is not None for v in snap])
        self.cycles = np.array([int(v["cycles"]) if v else 1 for v in snap])
        total = [m.train.epochs * batch_pattern(m)[0] for m in members]
        self.cycle = np.array(
            [
                cycle_steps(t, c) if on else 1
                for t, c, on in zip(total, self.cycles, self.snap_on, strict=True)
            ]
        )
        self.taken = np.zeros(self.m, dtype=np.int64)
        self.slow = theta.clone() if self.look_on.any() else None
        self.fast: Tensor | None = None
        n_snaps = int(self.cycles.max()) - 1 if self.snap_on.any() else 0
        self.snaps = [torch.zeros_like(theta) for _ in range(n_snaps)]
        self.snap_running: list[list[Tensor]] | None = None  # batch norm's, per snapshot
        self.base: dict[str, Any] = {}

    # -- per step ----------------------------------------------------------------------------

    def rebase(self, stack: Any) -> None:
        """Keep the stack's learning rates, decay and proximal thresholds (after a refresh)."""
        dev = stack.lr.device
        self.base = {
            "on": torch.from_numpy(self.snap_on).to(dev).view(-1, 1, 1),
            "cycle": torch.from_numpy(self.cycle).to(dev, stack.lr.dtype).view(-1, 1, 1),
            "lr": stack.lr.clone(),
            "decay": None if stack.decay is None else stack.decay.clone(),
            "proximal": [(layer, prox.clone()) for layer, prox in stack.proximal],
            "wd": torch.tensor(
                [m.strategy.weight_decay for m in stack.members], device=stack.lr.device
            ).view(-1, 1, 1),
        }

    def before_update(self, stack: Any) -> None:
        """Snapshot members: the learning rate (and what follows it) of step ``stack.t + 1``."""
        if not self.snap_on.any():
            return
        on, cycle, base_lr = self.base["on"], self.base["cycle"], self.base["lr"]
        lr = snapshot_lr(torch.full_like(base_lr, float(stack.t + 1)), base_lr, cycle)
        stack.lr = torch.where(on, lr, base_lr)
        if self.base["decay"] is not None:
            stack.decay = torch.where(on, 1 - lr * self.base["wd"], self.base["decay"])
        stack.proximal = [
            (layer, torch.where(on, prox * (lr / base_lr), prox))
            for layer, prox in self.base["proximal"]
        ]

    def after_update(self, stack: Any) -> None:
        """Lookahead's synchronization and snapshot members' cycle ends after step ``stack.t``."""
        t = stack.t
        member_of = stack.member_of
        with torch.no_grad():
            if self.slow is not None:
                due = self.look_on & (t % self.k == 0)
                if due.any():
                    flag = torch.from_numpy(due).to(member_of.device)[member_of]
                    lookahead_sync_(stack.theta, self.slow, self.alpha[member_of], flag)
            if self.snaps:
                ends = self.snap_on & (t % self.cycle == 0) & (t // self.cycle < self.cycles)
                if self.snap_running is None and stack.running and ends.any():
                    self.snap_running = [[r.clone() for r in stack.running] for _ in self.snaps]
                for i in np.flatnonzero(ends):
                    j = t // int(self.cycle[i]) - 1
                    flag = member_of == int(i)
                    self.snaps[j].copy_(torch.where(flag, stack.theta, self.snaps[j]))
                    if self.snap_running is not None:  # the statistics trained with them
                        for kept, now in zip(self.snap_running[j], stack.running, strict=True):
                            kept[:, int(i)].copy_(now[:, int(i)])
                    self.taken[i] = j + 1

    # -- per epoch ---------------------------------------------------------------------------

    def begin_epoch(self, stack: Any) -> None:
        """Lookahead members train on from their fast weights."""
        if self.fast is not None:
            flag = torch.from_numpy(self.look_on).to(stack.theta.device)[stack.member_of]
            stack.theta.copy_(torch.where(flag, self.fast, stack.theta))
            self.fast = None

    def end_epoch(self, stack: Any) -> None:
        """Lookahead members are evaluated with their slow weights."""
        if self.slow is None:
            return
        self.fast = stack.theta.clone()
        flag = torch.from_numpy(self.look_on).to(stack.theta.device)[stack.member_of]
        stack.theta.copy_(torch.where(flag, self.slow, stack.theta))

    # -- evaluation and export ---------------------------------------------------------------

    def _current_counts(self, t: int) -> np.ndarray:
        """Whether each member's current weights count beside its stored snapshots (not when
        they are the snapshot just taken)."""
        just = (t % self.cycle == 0) & (t // self.cycle < self.cycles) & (t > 0)
        return ~just

    def ensemble(
        self,
        out: Tensor,
        t: int,
        task: str,
        slots: Sequence[int] | None,
        evaluate: Callable[[Tensor, list[Tensor] | None, list[int], list[int]], Tensor],
    ) -> Tensor:
        """Snapshot members' ensemble outputs in place of their plain ``out`` ``[m, R, out]``
        (the current or best weights' outputs). ``evaluate(flat, running, positions,
        stack_slots)`` gives the outputs, with weights ``flat`` and batch norm's statistics
        ``running`` (``None``: the stack's), of the rows at ``positions`` of ``out`` for the
        members at ``stack_slots``: only the snapshot members are evaluated again."""
        keep = list(range(self.m)) if slots is None else list(slots)
        on = self.snap_on[keep]
        if not on.any():
            return out
        where = [int(i) for i in np.flatnonzero(on)]  # positions in out
        members = [keep[i] for i in where]  # their stack slots
        taken = self.taken[members]
        outs, include = [], []
        for j, snap in enumerate(self.snaps):
            has = taken > j
            if has.any():
                running = None if self.snap_running is None else self.snap_running[j]
                outs.append(evaluate(snap, running, where, members))
                include.append(has)
        index = torch.tensor(where, dtype=torch.long, device=out.device)
        outs.append(out.index_select(0, index))
        include.append(self._current_counts(t)[members])
        flags = torch.from_numpy(np.stack(include)).to(out.device).view(len(outs), -1, 1, 1)
        result = out.clone()
        result[index] = ensemble_mean(torch.stack(outs), flags, task)
        return result

    def snapshot_weights(
        self, index: int, export: Callable[[Tensor, list[Tensor] | None], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """Member ``index``'s stored snapshots as ``snapshots.{j}.{name}`` entries
        (``export(flat, running)`` is its state with weights ``flat`` and batch norm's
        statistics ``running``, ``None`` for the stack's)."""
        if not self.snap_on[index]:
            return {}
        out: dict[str, np.ndarray] = {}
        for j in range(int(self.taken[index])):
            running = None if self.snap_running is None else self.snap_running[j]
            for name, value in export(self.snaps[j], running).items():
                out[f"snapshots.{j}.{name}"] = value
        return out

    def select(self, keep: Sequence[int]) -> None:
        """Keep the members at positions ``keep``."""
        keep_t = torch.tensor(list(keep), dtype=torch.long, device=self.alpha.device)
        old = self.m
        if self.slow is not None:
            self.slow = self.layout.select(self.slow, old, keep_t)
        if self.fast is not None:
            self.fast = self.layout.select(self.fast, old, keep_t)
        self.snaps = [self.layout.select(s, old, keep_t) for s in self.snaps]
        if self.snap_running is not None:
            self.snap_running = [
                [r.index_select(1, keep_t) for r in kept] for kept in self.snap_running
            ]
        idx = np.asarray(list(keep), dtype=np.int64)
        for name in ("look_on", "k", "snap_on", "cycles", "cycle", "taken"):
            setattr(self, name, getattr(self, name)[idx])
        self.alpha = self.alpha.index_select(0, keep_t)
        self.m = len(idx)
