"""Regularization techniques as registry entries: one object per technique (DESIGN §6).

A technique declares its grammar key, its parameters (valid values, search range and scale,
"off"), how it acts on a member-batched model and its single-model form
(:class:`~reglab.techniques.base.Technique`). :func:`register` makes it a strategy term
(``activity-l2=1e-4``) that the engine's generic backend trains. ``docs/architecture.md``
shows how to add one.
"""

from reglab.techniques.activity import ActivityL1, ActivityL2
from reglab.techniques.base import ACTS_ON, Batch, Param, Technique, TechniqueConfig
from reglab.techniques.builtin import BuiltinTechnique, builtins, is_builtin
from reglab.techniques.group_lasso import GroupL1
from reglab.techniques.registry import build, get, keys, register, unregister
from reglab.techniques.spatial import SpatialDropout
from reglab.techniques.variational import LearnedDropout, SparseVD

__all__ = [
    "ACTS_ON",
    "ActivityL1",
    "ActivityL2",
    "Batch",
    "BuiltinTechnique",
    "GroupL1",
    "LearnedDropout",
    "Param",
    "SparseVD",
    "SpatialDropout",
    "Technique",
    "TechniqueConfig",
    "build",
    "builtins",
    "get",
    "is_builtin",
    "keys",
    "register",
    "unregister",
]
