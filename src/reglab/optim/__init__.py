"""Optimizer wrappers for one's own PyTorch training loops: Lookahead and snapshot cycles,
and batch norm's statistics for averaged weights (:func:`update_batchnorm`).

Both wrap any ``torch.optim`` optimizer, run the same maths as the engine's members
(:func:`~reglab.optim.lookahead.lookahead_sync_`, :func:`~reglab.optim.snapshot.snapshot_lr`)
and can be given to :func:`reglab.fit` as its optimizer factory.
"""

from reglab.optim.batchnorm import recomputed_batchnorm, update_batchnorm
from reglab.optim.lookahead import Lookahead, lookahead_sync_
from reglab.optim.snapshot import SnapshotCycles, cycle_steps, snapshot_lr, snapshot_steps

__all__ = [
    "Lookahead",
    "SnapshotCycles",
    "cycle_steps",
    "lookahead_sync_",
    "recomputed_batchnorm",
    "snapshot_lr",
    "snapshot_steps",
    "update_batchnorm",
]
