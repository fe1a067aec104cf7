"""Snapshot ensembles (Huang et al. 2017): ``snapshot=K``.

A member's run of ``T`` optimizer steps (its epochs × batches per epoch) is cut into ``K``
cycles of ``C = ⌈T/K⌉`` steps. Its learning rate follows
``α(t) = α₀/2·(cos(π·mod(t−1, C)/C) + 1)`` from its own rate ``α₀`` (restarting with each
cycle; decoupled weight decay and proximal steps use the scheduled rate), and its weights are
kept after steps ``C, 2C, …, (K−1)C`` and ``T`` (:mod:`reglab.optim.snapshot`). The member
predicts the **mean of its K snapshots' predicted probabilities** (regression: the mean
prediction), :func:`reglab.layers.snapshot.ensemble_mean`.

A snapshot member trains **all its epochs**: early stopping neither stops nor restores it
(the schedule is laid out over the whole run). After each epoch it is evaluated as the
ensemble of the snapshots taken so far and its current weights, so the last epoch's
validation scores are the final ensemble's. Its stored weights hold every snapshot (the last
under the single model's names, the earlier ones as ``snapshots.{j}.…``) and export as a
:class:`~reglab.layers.snapshot.SnapshotEnsemble`. ``K`` must lie in [1, epochs] (one cycle:
cosine annealing over the run, no ensemble) and every cycle must start within the run;
with batch norm each snapshot keeps the running statistics it was trained with
(``snapshots.{j}.bn{i}.running_mean``, …); refused with ``swa`` or ``lookahead``, and with
robust accuracy (its PGD attack runs on one set of weights).

Search range: ``K`` in [2, 6], below the study's epochs.

>>> Snapshot(cycles=5).values
{'cycles': 5.0}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from reglab.errors import ConfigError
from reglab.optim.snapshot import check_snapshot
from reglab.techniques.base import Param, Technique
from reglab.techniques.lookahead import TRAJECTORY_KEYS, trajectory_conflict
from reglab.techniques.registry import register

__all__ = ["Snapshot"]


class Snapshot(Technique):
    """``snapshot=K``: K cosine learning-rate cycles; predict with the mean of K snapshots."""

    key = "snapshot"
    params = (
        Param(
            "cycles", 2.0, 6.0, "linear", minimum=1.0, maximum=100_000.0, integer=True, epoch=True
        ),
    )
    acts_on = "trajectory"
    label = "snapshot ensemble"
    order = 97
    trains_every_epoch = True
    attackable = False
    fields: ClassVar[tuple[str, ...]] = TRAJECTORY_KEYS  # one of them per cocktail

    def __init__(self, cycles: Any) -> None:
        number = isinstance(cycles, int | float) and not isinstance(cycles, bool)
        if number and cycles != 0 and (cycles != int(cycles) or cycles < 1):
            raise ConfigError(
                f"Snapshot (snapshot): `cycles` must be a whole number ≥ 1; got {cycles!r}."
            )
        super().__init__(cycles=cycles)

    @classmethod
    def conflict(cls, keys: Sequence[str]) -> str | None:
        return trajectory_conflict(cls.key, keys)

    @classmethod
    def run_problem(
        cls, values: Mapping[str, float], epochs: int, steps_per_epoch: int
    ) -> str | None:
        if values["cycles"] == 0:  # off
            return None
        problems = check_snapshot("snapshot", values["cycles"], epochs, steps_per_epoch)
        return problems[0] if problems else None

    @classmethod
    def weight_copies(cls, values: Mapping[str, float]) -> int:
        """``K − 1`` stored snapshots, twice while the stack drops finished members (old and
        new buffers side by side), and the ``torch.where`` that writes one: ``2(K − 1) + 1``
        (0 when off)."""
        k = int(values["cycles"])
        return 2 * (k - 1) + 1 if k > 1 else 0


register(Snapshot)
