"""Training one model: early stopping, the per-epoch history and :func:`fit`.

>>> from reglab.training import EarlyStopping, History, fit
"""

from reglab.training.early_stopping import EarlyStopping
from reglab.training.history import History
from reglab.training.metrics import Metric
from reglab.training.trainer import fit

__all__ = ["EarlyStopping", "History", "Metric", "fit"]
