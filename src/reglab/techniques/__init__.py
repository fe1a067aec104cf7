"""Regularization techniques as registry entries: one object per technique (DESIGN §6).

A technique declares its grammar key, its parameters (valid values, search range and scale,
"off"), how it acts on a member-batched model and its single-model form
(:class:`~reglab.techniques.base.Technique`). :func:`register` makes it a strategy term
(``activity-l2=1e-4``) that the engine's generic backend trains. ``docs/architecture.md``
shows how to add one.
"""

from reglab.techniques.activity import ActivityL1, ActivityL2
from reglab.techniques.adversarial import AdvAlpha, Fgsm, Pgd
from reglab.techniques.base import (
    ACTS_ON,
    Batch,
    LossContext,
    Param,
    Technique,
    TechniqueConfig,
    TrainingBatch,
)
from reglab.techniques.builtin import BuiltinTechnique, builtins, is_builtin
from reglab.techniques.group_lasso import GroupL1
from reglab.techniques.input_noise import InputNoise
from reglab.techniques.label_smoothing import LabelSmoothing
from reglab.techniques.lassonet import LassoNet
from reglab.techniques.lookahead import Lookahead
from reglab.techniques.mixup import Mixup
from reglab.techniques.recurrent import GradClip, RecurrentDropout, WeightDrop
from reglab.techniques.registry import build, get, keys, register, unregister
from reglab.techniques.residual import Residual, ShakeDrop
from reglab.techniques.snapshot import Snapshot
from reglab.techniques.spatial import SpatialDropout
from reglab.techniques.swa import Swa
from reglab.techniques.variational import LearnedDropout, SparseVD

__all__ = [
    "ACTS_ON",
    "ActivityL1",
    "ActivityL2",
    "AdvAlpha",
    "Batch",
    "BuiltinTechnique",
    "Fgsm",
    "GradClip",
    "GroupL1",
    "InputNoise",
    "LabelSmoothing",
    "LassoNet",
    "LearnedDropout",
    "Lookahead",
    "LossContext",
    "Mixup",
    "Param",
    "Pgd",
    "RecurrentDropout",
    "Residual",
    "ShakeDrop",
    "Snapshot",
    "SparseVD",
    "SpatialDropout",
    "Swa",
    "Technique",
    "TechniqueConfig",
    "TrainingBatch",
    "WeightDrop",
    "build",
    "builtins",
    "get",
    "is_builtin",
    "keys",
    "register",
    "unregister",
]
