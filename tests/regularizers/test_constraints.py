"""Constraints: Keras formulas per unit on the right axis, training with projections, validation."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

from reglab._config import deserialize, serialize
from reglab.errors import ConfigError
from reglab.regularizers import (
    Constraint,
    MaxNorm,
    MinMaxNorm,
    NonNeg,
    UnitNorm,
    add_constraint,
    apply_constraints,
    as_constraint,
    fan_in_dims,
)
from reglab.regularizers import functional as F

EPS = 1e-7  # Keras's epsilon in norm constraints


def keras_kernel_constraint(constraint: Constraint, kernel: np.ndarray) -> np.ndarray:
    """Keras's formulas on a Keras-layout kernel ``[in, out]`` (axis=0: one norm per unit)."""
    norms = np.sqrt((kernel**2).sum(axis=0, keepdims=True))
    if isinstance(constraint, MaxNorm):
        return kernel * np.clip(norms, 0, constraint.max_value) / (EPS + norms)
    if isinstance(constraint, UnitNorm):
        return kernel / (EPS + norms)
    if isinstance(constraint, MinMaxNorm):
        desired = (
            constraint.rate * np.clip(norms, constraint.min_value, constraint.max_value)
            + (1 - constraint.rate) * norms
        )
        return kernel * desired / (EPS + norms)
    if isinstance(constraint, NonNeg):
        return kernel * (kernel >= 0)
    raise AssertionError(constraint)


CONSTRAINTS = [
    ("MaxNorm", MaxNorm(1.5)),
    ("UnitNorm", UnitNorm()),
    ("MinMaxNorm-strict", MinMaxNorm(0.5, 1.5)),
    ("MinMaxNorm-rate", MinMaxNorm(1.0, 2.0, rate=0.25)),
    ("NonNeg", NonNeg()),
]


@pytest.mark.parametrize("constraint", [c[1] for c in CONSTRAINTS], ids=[c[0] for c in CONSTRAINTS])
def test_linear_weight_matches_keras_on_the_transposed_kernel(constraint: Constraint) -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 6)) * np.array([[0.1], [1.0], [3.0], [0.6]])  # [out, in]
    got = constraint(torch.tensor(w)).numpy()
    np.testing.assert_allclose(got, keras_kernel_constraint(constraint, w.T).T, rtol=1e-12)


@pytest.mark.parametrize("constraint", [c[1] for c in CONSTRAINTS], ids=[c[0] for c in CONSTRAINTS])
def test_conv_weight_is_constrained_per_filter(constraint: Constraint) -> None:
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 2, 3, 3)) * np.array([0.05, 1.0, 4.0])[:, None, None, None]
    got = constraint(torch.tensor(w)).numpy()
    flat = w.reshape(3, -1)  # one row per filter
    expected = keras_kernel_constraint(constraint, flat.T).T.reshape(w.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_bias_is_constrained_as_one_vector() -> None:
    b = torch.tensor([3.0, 4.0], dtype=torch.float64)
    torch.testing.assert_close(MaxNorm(1.0)(b), b / (5 + EPS), rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("ndim", "member_dim", "expected"),
    [
        (1, False, (0,)),
        (2, False, (1,)),
        (3, False, (1, 2)),
        (4, False, (1, 2, 3)),
        (5, False, (1, 2, 3, 4)),
        (1, True, (1,)),
        (2, True, (2,)),
        (4, True, (2, 3, 4)),
    ],
    ids=["bias", "linear", "conv1d", "conv2d", "conv3d", "bias-M", "linear-M", "conv2d-M"],
)
def test_fan_in_dims(ndim: int, member_dim: bool, expected: tuple[int, ...]) -> None:
    assert fan_in_dims(ndim, member_dim=member_dim) == expected


def test_member_stack_projection_equals_single_projections() -> None:
    rng = np.random.default_rng(2)
    w = torch.tensor(rng.normal(size=(3, 4, 5)) * 3)
    stacked = F.max_norm(
        w, torch.tensor([0.5, 1.0, 2.0], dtype=w.dtype), fan_in_dims(2, member_dim=True)
    )
    for i, c in enumerate((0.5, 1.0, 2.0)):
        torch.testing.assert_close(stacked[i], MaxNorm(c)(w[i]))


def _row_norms(w: torch.Tensor) -> torch.Tensor:
    return w.detach().flatten(1).norm(dim=1)


def test_max_norm_holds_after_every_training_step_on_the_right_axis() -> None:
    """Linear: per output row; Conv: per filter. Large lr drives the norms up every step."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 3))
    c = 0.5
    assert add_constraint(net, MaxNorm(c)) == ["0.weight", "3.weight"]
    opt = torch.optim.SGD(net.parameters(), lr=2.0)
    gen = torch.Generator().manual_seed(1)
    exceeded_before_projection = 0
    for _ in range(20):
        x = torch.randn(8, 2, 5, generator=gen)
        y = torch.randn(8, 3, generator=gen) * 10
        opt.zero_grad()
        nn.functional.mse_loss(net(x), y).backward()
        opt.step()
        exceeded_before_projection += int((_row_norms(net[3].weight) > c + 1e-6).any())
        assert apply_constraints(net) == ["0.weight", "3.weight"]
        for layer in (net[0], net[3]):
            assert (_row_norms(layer.weight) <= c * (1 + 1e-6)).all()
    assert exceeded_before_projection > 0  # the constraint had work to do


def test_the_wrong_axis_would_fail() -> None:
    """Normalizing the columns of a [out, in] weight (Keras axis confusion) breaks the rows."""
    w = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.1, 0.1]])  # row norms 5 and ~0.14
    right = MaxNorm(1.0)(w)
    wrong = F.max_norm(w.unsqueeze(0), 1.0, dim=1)[0]  # per input column
    assert (_row_norms(right) <= 1.0 + 1e-6).all()
    assert _row_norms(wrong).max() > 1.0 + 1e-3
    torch.testing.assert_close(right[1], w[1])  # a row within the bound is left alone


finite = st.floats(-100, 100, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(
    w=arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 5)), elements=finite),
    c=st.floats(0.01, 10),
)
def test_max_norm_bounds_keeps_direction_and_is_idempotent(w: np.ndarray, c: float) -> None:
    t = torch.tensor(w)
    once = MaxNorm(c)(t)
    assert (_row_norms(once) <= c * (1 + 1e-9)).all()
    # Keras's ε makes a second projection shrink by at most ε/c (≤ 1e-5 here)
    torch.testing.assert_close(MaxNorm(c)(once), once, rtol=2e-5, atol=2e-7)
    inside = _row_norms(t) <= c * 0.999
    # rows within the bound only feel Keras's ε: |w·n/(ε+n) − w| <= ε
    torch.testing.assert_close(once[inside], t[inside], rtol=0, atol=2e-7)
    assert ((once * t) >= 0).all()  # scaling by a positive factor: signs never flip


@settings(max_examples=40, deadline=None)
@given(
    w=arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 5)),
             elements=st.floats(0.01, 100)),
    lo=st.floats(0, 2),
    width=st.floats(0.1, 2),
)  # fmt: skip
def test_min_max_norm_strict_lands_in_the_interval(w: np.ndarray, lo: float, width: float) -> None:
    norms = _row_norms(MinMaxNorm(lo, lo + width)(torch.tensor(w)))
    tol = 1e-4  # Keras's ε = 1e-7 against norms >= 0.01
    assert (norms >= lo * (1 - tol)).all() and (norms <= (lo + width) * (1 + tol)).all()


def test_unit_norm_and_non_neg() -> None:
    w = torch.tensor([[3.0, -4.0], [0.5, 0.0]])
    torch.testing.assert_close(_row_norms(UnitNorm()(w)), torch.ones(2))
    assert NonNeg()(w).tolist() == [[3.0, 0.0], [0.5, 0.0]]
    assert w.tolist() == [[3.0, -4.0], [0.5, 0.0]]  # the input is not modified


@pytest.mark.parametrize("constraint", [c[1] for c in CONSTRAINTS], ids=[c[0] for c in CONSTRAINTS])
def test_config_round_trip(constraint: Constraint) -> None:
    rebuilt = deserialize(serialize(constraint))
    assert rebuilt == constraint and hash(rebuilt) == hash(constraint)
    assert as_constraint(serialize(constraint), "Dense", "kernel_constraint") == constraint


BAD: list[tuple[str, Callable[[], Any], str]] = [
    (
        "MaxNorm-zero",
        lambda: MaxNorm(0.0),
        r"^MaxNorm: `max_value` must be a finite float > 0; got 0\.0\.$",
    ),
    (
        "MaxNorm-nan",
        lambda: MaxNorm(math.nan),
        r"^MaxNorm: `max_value` must be a finite float > 0; got nan\.$",
    ),
    (
        "MinMaxNorm-order",
        lambda: MinMaxNorm(2.0, 1.0),
        r"^MinMaxNorm: `max_value` must be >= min_value \(2\.0\); got 1\.0\.$",
    ),
    (
        "MinMaxNorm-negative",
        lambda: MinMaxNorm(-1.0, 1.0),
        r"^MinMaxNorm: `min_value` must be a finite float >= 0; got -1\.0\.$",
    ),
    (
        "MinMaxNorm-rate",
        lambda: MinMaxNorm(rate=0.0),
        r"^MinMaxNorm: `rate` must be a float in \(0, 1\]; got 0\.0\.$",
    ),
    (
        "fan_in_dims",
        lambda: fan_in_dims(0),
        r"^fan_in_dims: `weight_ndim` must be an integer >= 1; got 0\.$",
    ),
    (
        "as_constraint",
        lambda: as_constraint("max_norm", "Dense", "kernel_constraint"),
        r"^Dense: `kernel_constraint` must be a Constraint \(MaxNorm, UnitNorm, MinMaxNorm, "
        r"NonNeg\) or None; got 'max_norm'\.$",
    ),
]


@pytest.mark.parametrize(("make", "pattern"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_message(make: Callable[[], Any], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        make()
