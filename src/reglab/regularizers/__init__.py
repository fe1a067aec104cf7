"""Weight penalties, constraints, and attaching them to any model (DESIGN §1).

>>> from torch import nn
>>> from reglab.regularizers import L1L2, MaxNorm, add_regularizer, add_constraint
>>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
>>> add_regularizer(net, L1L2(l1=1e-4, l2=1e-3))
['0.weight', '2.weight']
>>> add_constraint(net, MaxNorm(3.0), names="0.*")
['0.weight']
"""

from reglab.regularizers.attach import (
    DEFAULT_MODULES,
    NORM_MODULES,
    add_constraint,
    add_regularizer,
    apply_constraints,
    clear_constraints,
    clear_regularizers,
    iter_constrained,
    iter_regularized,
    penalty_breakdown,
    regularization_loss,
)
from reglab.regularizers.constraints import (
    Constraint,
    MaxNorm,
    MinMaxNorm,
    NonNeg,
    UnitNorm,
    as_constraint,
    fan_in_dims,
)
from reglab.regularizers.penalties import (
    L1,
    L1L2,
    L2,
    MODES,
    ElasticNet,
    Regularizer,
    as_regularizer,
    sklearn_elasticnet_alpha,
    sklearn_mlp_l2,
)
from reglab.regularizers.proximal import proximal_step, proximal_threshold
from reglab.regularizers.sparsity import LayerSparsity, sparsity, total_sparsity

__all__ = [
    "DEFAULT_MODULES",
    "L1",
    "L1L2",
    "L2",
    "MODES",
    "NORM_MODULES",
    "Constraint",
    "ElasticNet",
    "LayerSparsity",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "Regularizer",
    "UnitNorm",
    "add_constraint",
    "add_regularizer",
    "apply_constraints",
    "as_constraint",
    "as_regularizer",
    "clear_constraints",
    "clear_regularizers",
    "fan_in_dims",
    "iter_constrained",
    "iter_regularized",
    "penalty_breakdown",
    "proximal_step",
    "proximal_threshold",
    "regularization_loss",
    "sklearn_elasticnet_alpha",
    "sklearn_mlp_l2",
    "sparsity",
    "total_sparsity",
]
