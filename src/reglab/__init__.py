"""reglab: which regularization should my neural network use? Evidence, fast.

The three layers (DESIGN): the techniques as PyTorch building blocks
(:mod:`reglab.regularizers`, :mod:`reglab.layers`, :mod:`reglab.training`), the engine that
trains many members at once (:mod:`reglab.engine`), and cross-validated studies
(:func:`bench`, :mod:`reglab.study`).

>>> import reglab
>>> reglab.L1(1e-4)
L1(l1=0.0001)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reglab._version import VERSION as __version__

_LAZY = {
    "advise": "reglab.study.advise",
    "Advice": "reglab.study.advise",
    "bench": "reglab.api",
    "path": "reglab.api",
    "tune": "reglab.api",
    "TuneResult": "reglab.study.tune_result",
    "PathResult": "reglab.study.path",
    **dict.fromkeys(
        (
            "MLP",
            "AlphaDropout",
            "Dense",
            "DropConnectLinear",
            "Dropout",
            "GaussianDropout",
            "GaussianNoise",
            "SpatialDropout1d",
            "SpatialDropout2d",
            "drop_connect",
        ),
        "reglab.layers",
    ),
    **dict.fromkeys(
        (
            "L1",
            "L1L2",
            "L2",
            "ElasticNet",
            "MaxNorm",
            "MinMaxNorm",
            "NonNeg",
            "UnitNorm",
            "add_constraint",
            "add_regularizer",
            "regularization_loss",
            "sparsity",
        ),
        "reglab.regularizers",
    ),
    "FinalModel": "reglab.final",
    "fit_final": "reglab.final",
    "load": "reglab.final",
    "StudyResult": "reglab.study.results",
    "Study": "reglab.study.run",
    "EarlyStopping": "reglab.training",
    "StrengthSchedule": "reglab.training",
    "fit": "reglab.training",
    "AdversarialLoss": "reglab.regularizers.adversarial",
}
"""Public name → the module that defines it, imported on first use (PEP 562), so that
``import reglab`` (and the command line's ``--help``) does not pay for torch."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'reglab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


if TYPE_CHECKING:
    from reglab.api import bench, path, tune
    from reglab.final import FinalModel, fit_final, load
    from reglab.layers import (
        MLP,
        AlphaDropout,
        Dense,
        DropConnectLinear,
        Dropout,
        GaussianDropout,
        GaussianNoise,
        SpatialDropout1d,
        SpatialDropout2d,
        drop_connect,
    )
    from reglab.regularizers import (
        L1,
        L1L2,
        L2,
        ElasticNet,
        MaxNorm,
        MinMaxNorm,
        NonNeg,
        UnitNorm,
        add_constraint,
        add_regularizer,
        regularization_loss,
        sparsity,
    )
    from reglab.regularizers.adversarial import AdversarialLoss
    from reglab.study.advise import Advice, advise
    from reglab.study.path import PathResult
    from reglab.study.results import StudyResult
    from reglab.study.run import Study
    from reglab.study.tune_result import TuneResult
    from reglab.training import EarlyStopping, StrengthSchedule, fit

__all__ = [
    "L1",
    "L1L2",
    "L2",
    "MLP",
    "AdversarialLoss",
    "Advice",
    "AlphaDropout",
    "Dense",
    "DropConnectLinear",
    "Dropout",
    "EarlyStopping",
    "ElasticNet",
    "FinalModel",
    "GaussianDropout",
    "GaussianNoise",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "PathResult",
    "SpatialDropout1d",
    "SpatialDropout2d",
    "StrengthSchedule",
    "Study",
    "StudyResult",
    "TuneResult",
    "UnitNorm",
    "__version__",
    "add_constraint",
    "add_regularizer",
    "advise",
    "bench",
    "drop_connect",
    "fit",
    "fit_final",
    "load",
    "path",
    "regularization_loss",
    "sparsity",
    "tune",
]
