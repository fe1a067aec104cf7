"""Training one model: early stopping, the per-epoch history, :func:`fit` and the
scikit-learn estimators (imported on first use, as they load scikit-learn).

>>> from reglab.training import EarlyStopping, History, fit
>>> from reglab.training import RegularizedMLPClassifier
"""

from typing import Any

from reglab.training.early_stopping import EarlyStopping
from reglab.training.history import History
from reglab.training.metrics import Metric
from reglab.training.schedule import StrengthSchedule
from reglab.training.trainer import fit

__all__ = [
    "EarlyStopping",
    "History",
    "Metric",
    "RegularizedMLPClassifier",
    "RegularizedMLPRegressor",
    "StrengthSchedule",
    "fit",
]

_ESTIMATORS = ("RegularizedMLPClassifier", "RegularizedMLPRegressor")


def __getattr__(name: str) -> Any:
    if name in _ESTIMATORS:
        from reglab.training import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'reglab.training' has no attribute {name!r}")
