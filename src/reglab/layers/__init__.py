"""Layers with Keras names and semantics: the dropout family, DropConnect, Dense and the MLP.

Every layer is a thin shell over the member-batched functions of
:mod:`reglab.layers.functional`, registered for ``get_config``/``from_config``.

>>> import torch
>>> from reglab.layers import MLP, Dense, Dropout
>>> net = MLP(4, 2, hidden=(8,), dropout=0.5)
>>> net.eval()(torch.zeros(3, 4)).shape
torch.Size([3, 2])
"""

from reglab.layers.activations import ACTIVATIONS, LEAKY_RELU_SLOPE, Activation, get_activation
from reglab.layers.dense import Dense
from reglab.layers.dropconnect import (
    DropConnectLinear,
    drop_connect,
    drop_connect_rates,
    remove_drop_connect,
)
from reglab.layers.dropout import (
    AlphaDropout,
    Dropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1d,
    SpatialDropout2d,
)
from reglab.layers.mlp import BLOCK_ORDERS, DROPOUT_KINDS, MLP
from reglab.layers.residual import ResidualBlock, ResidualMLP
from reglab.layers.shakedrop import ShakeDrop
from reglab.layers.variational_dense import (
    LearnedDropoutLinear,
    SparseVDLinear,
    learned_dropout,
    sparse_vd,
)

__all__ = [
    "ACTIVATIONS",
    "BLOCK_ORDERS",
    "DROPOUT_KINDS",
    "LEAKY_RELU_SLOPE",
    "MLP",
    "Activation",
    "AlphaDropout",
    "Dense",
    "DropConnectLinear",
    "Dropout",
    "GaussianDropout",
    "GaussianNoise",
    "LearnedDropoutLinear",
    "ResidualBlock",
    "ResidualMLP",
    "ShakeDrop",
    "SparseVDLinear",
    "SpatialDropout1d",
    "SpatialDropout2d",
    "drop_connect",
    "drop_connect_rates",
    "get_activation",
    "learned_dropout",
    "remove_drop_connect",
    "sparse_vd",
]
