"""Sparsity report: exact-zero and near-zero fractions per weight, and the total."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reglab.errors import ConfigError
from reglab.regularizers import L1, LayerSparsity, add_regularizer, sparsity, total_sparsity


def model() -> nn.Sequential:
    net = nn.Sequential(nn.Linear(4, 2), nn.BatchNorm1d(2), nn.Linear(2, 1), nn.Embedding(3, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[0.0, 0.0, 5e-7, 1.0], [0.0, -2e-6, 1.0, -1.0]]))
        net[0].bias.zero_()
        net[2].weight.copy_(torch.tensor([[0.0, 3.0]]))
        net[3].weight.fill_(0.0)
    return net


def test_fractions_per_layer_and_total() -> None:
    rows = sparsity(model())
    assert rows == [
        LayerSparsity("0", "weight", 8, zero_fraction=3 / 8, near_zero_fraction=4 / 8, eps=1e-6),
        LayerSparsity("2", "weight", 2, zero_fraction=0.5, near_zero_fraction=0.5, eps=1e-6),
    ]
    total = total_sparsity(rows)
    assert (total.layer, total.parameter, total.n) == ("total", "*", 10)
    assert total.zero_fraction == pytest.approx(4 / 10)
    assert total.near_zero_fraction == pytest.approx(5 / 10)
    assert rows[0].name == "0.weight"


def test_eps_changes_only_the_near_zero_fraction() -> None:
    row = sparsity(model(), eps=1e-5)[0]
    assert (row.zero_fraction, row.near_zero_fraction) == (3 / 8, 5 / 8)


def test_biases_any_module_and_attached_parameters() -> None:
    net = model()
    names = [r.name for r in sparsity(net, include_bias=True)]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [r.name for r in sparsity(net, modules=None)] == ["0.weight", "2.weight", "3.weight"]
    add_regularizer(net, L1(0.1), modules=nn.Embedding)
    rows = sparsity(net, modules=nn.Conv2d)
    assert [(r.name, r.zero_fraction) for r in rows] == [("3.weight", 1.0)]


def test_tied_parameter_reported_once_and_empty_total() -> None:
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.weight = a.weight
    assert [r.name for r in sparsity(nn.Sequential(a, b))] == ["0.weight"]
    assert sparsity(nn.ReLU()) == []
    assert total_sparsity([]).n == 0


def test_bad_eps() -> None:
    with pytest.raises(ConfigError, match=r"^sparsity: `eps` must be a finite float > 0; got 0\.$"):
        sparsity(model(), eps=0)
