"""The member-batched functional core of the dropout family against numpy formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reglab.layers import functional as lf

# SELU constants (Klambauer et al., 2017), independent of reglab's.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def np_dropout(x: np.ndarray, p: float, u: np.ndarray) -> np.ndarray:
    return np.where(u >= p, x / (1.0 - p), 0.0)


def np_gaussian_dropout(x: np.ndarray, p: float, z: np.ndarray) -> np.ndarray:
    return x * (1.0 + math.sqrt(p / (1.0 - p)) * z)


def np_alpha_dropout(x: np.ndarray, p: float, u: np.ndarray) -> np.ndarray:
    # Keras AlphaDropout.call, written out.
    alpha_p = -SELU_ALPHA * SELU_SCALE
    keep = (u >= p).astype(x.dtype)
    a = ((1 - p) * (1 + p * alpha_p**2)) ** -0.5
    b = -a * alpha_p * p
    return a * (x * keep + alpha_p * (1 - keep)) + b


NOISE = {"u": "uniform", "z": "normal"}

# (function, numpy oracle, noise kind)
FUNCTIONS = [
    pytest.param(lf.dropout, np_dropout, "u", id="dropout"),
    pytest.param(lf.gaussian_dropout, np_gaussian_dropout, "z", id="gaussian_dropout"),
    pytest.param(lf.alpha_dropout, np_alpha_dropout, "u", id="alpha_dropout"),
    pytest.param(lf.drop_connect, np_dropout, "u", id="drop_connect"),
    pytest.param(lf.gaussian_noise, lambda x, s, z: x + s * z, "z", id="gaussian_noise"),
]


def _noise(kind: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if kind == "u":
        return torch.rand(shape, generator=gen, dtype=torch.float64)
    return torch.randn(shape, generator=gen, dtype=torch.float64)


def test_alpha_prime_is_selu_negative_saturation() -> None:
    assert pytest.approx(-SELU_ALPHA * SELU_SCALE, rel=1e-12) == lf.ALPHA_DROPOUT_ALPHA_PRIME
    saturation = torch.selu(torch.tensor(-100.0, dtype=torch.float64)).item()
    assert pytest.approx(saturation, rel=1e-12) == lf.ALPHA_DROPOUT_ALPHA_PRIME


@pytest.mark.parametrize(("func", "oracle", "kind"), FUNCTIONS)
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9])
def test_single_member_matches_numpy_formula(func, oracle, kind, p) -> None:
    x = _noise("z", (1, 7, 5), seed=1)
    noise = _noise(kind, (1, 7, 5), seed=2)
    got = func(x, p, noise).numpy()
    np.testing.assert_allclose(got, oracle(x.numpy(), p, noise.numpy()), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("func", "oracle", "kind"), FUNCTIONS)
@given(
    rates=st.lists(st.floats(0.0, 0.95), min_size=1, max_size=5),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=30, deadline=None)
def test_member_stack_equals_single_calls(func, oracle, kind, rates, seed) -> None:
    m = len(rates)
    x = _noise("z", (m, 4, 3), seed)
    noise = _noise(kind, (m, 4, 3), seed + 1)
    stacked = func(x, torch.tensor(rates, dtype=torch.float64), noise)
    for i, rate in enumerate(rates):
        single = func(x[i : i + 1], rate, noise[i : i + 1])
        torch.testing.assert_close(stacked[i : i + 1], single, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.7, torch.tensor([0.2, 0.6])], ids=str)
def test_dropout_mask_into_a_strided_buffer_is_the_same_bits(p) -> None:
    # The engine divides each member's mask straight into its column of an epoch's buffer.
    u = torch.rand(2, 5, 7, generator=torch.Generator().manual_seed(0))
    buffer = torch.ones(2, 3, 5, 7)
    out = buffer[:, 1]  # [2, 5, 7], not contiguous
    returned = lf.dropout_mask(u, p, out=out)
    assert returned.data_ptr() == out.data_ptr()
    assert torch.equal(out, lf.dropout_mask(u, p))
    assert torch.equal(buffer[:, 0::2], torch.ones(2, 2, 5, 7))  # nothing written elsewhere


@pytest.mark.parametrize("p", [0.05, 0.3, 0.7], ids=str)
def test_gaussian_multipliers_into_a_strided_buffer_are_the_same_bits(p) -> None:
    # The engine writes each member's Gaussian multipliers straight into an epoch's buffer.
    z = torch.randn(2, 5, 7, generator=torch.Generator().manual_seed(1))
    buffer = torch.zeros(2, 3, 5, 7)
    out = buffer[:, 1]
    returned = lf.gaussian_dropout(torch.ones(()), p, z, out=out)
    assert returned.data_ptr() == out.data_ptr()
    assert torch.equal(out, lf.gaussian_dropout(torch.ones(()), p, z))
    assert not torch.equal(out, torch.ones_like(out))
    assert torch.equal(buffer[:, 0::2], torch.zeros(2, 2, 5, 7))


@given(
    w=arrays(np.float64, (2, 3, 4), elements=st.floats(-10, 10)),
    p=st.floats(0.0, 0.95),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=50, deadline=None)
def test_dropout_mask_takes_two_values_and_keeps_u_at_least_p(w, p, seed) -> None:
    u = _noise("u", w.shape, seed)
    mask = lf.dropout_mask(u, p)
    kept = u >= p
    assert torch.equal(mask[~kept], torch.zeros_like(mask[~kept]))
    torch.testing.assert_close(mask[kept], torch.full_like(mask[kept], 1.0 / (1.0 - p)))
    # DropConnect returns a new tensor and leaves the weight untouched
    weight = torch.from_numpy(w.copy())
    sample = lf.drop_connect(weight, p, u)
    assert torch.equal(weight, torch.from_numpy(w))
    torch.testing.assert_close(sample, weight * mask)


def test_spatial_noise_broadcasts_over_positions() -> None:
    x = torch.ones(2, 3, 4, 5, 5)  # [M, B, C, H, W]
    u = _noise("u", (2, 3, 4, 1, 1), seed=0).float()
    y = lf.dropout(x, torch.tensor([0.3, 0.7]), u)
    per_map = y.flatten(3)
    assert torch.equal(per_map.amax(-1), per_map.amin(-1))
    expected = lf.dropout_mask(u, torch.tensor([0.3, 0.7])).squeeze(-1).squeeze(-1)
    torch.testing.assert_close(per_map[..., 0], expected)


@pytest.mark.parametrize("rates", [(0.1, 0.5, 0.9)], ids=["three_members"])
def test_per_member_rates_drop_their_own_fraction(rates) -> None:
    n = 20_000
    u = _noise("u", (len(rates), n), seed=3)
    kept = lf.dropout(torch.ones(len(rates), n, dtype=torch.float64), torch.tensor(rates), u) > 0
    for fraction, p in zip(kept.double().mean(dim=1).tolist(), rates, strict=True):
        assert fraction == pytest.approx(1 - p, abs=5 * math.sqrt(p * (1 - p) / n))


def test_gradient_of_dropout_is_the_mask() -> None:
    x = torch.randn(1, 6, 4, dtype=torch.float64, requires_grad=True)
    u = _noise("u", (1, 6, 4), seed=4)
    lf.dropout(x, 0.4, u).sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, lf.dropout_mask(u, 0.4))
