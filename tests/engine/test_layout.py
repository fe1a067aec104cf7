"""The flat parameter layout: blocks, views, member selection, coefficients, initialization."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reglab.engine import Architecture, initial_weights
from reglab.engine.export import single_model
from reglab.engine.layout import PAD, StackLayout, layer_names

from .conftest import member

BN = Architecture(4, 3, hidden=(5, 2), batch_norm=True)


def test_blocks_put_the_kernels_first() -> None:
    layout = StackLayout(BN)
    assert [(b.name, b.kind, b.shape) for b in layout.blocks] == [
        ("dense0.weight", "kernel", (5, 4)),
        ("dense1.weight", "kernel", (2, 5)),
        ("output.weight", "kernel", (3, 2)),
        ("dense0.bias", "bias", (5, 1)),
        ("dense1.bias", "bias", (2, 1)),
        ("output.bias", "bias", (3, 1)),
        ("bn0.weight", "gamma", (5, 1)),
        ("bn1.weight", "gamma", (2, 1)),
        ("bn0.bias", "beta", (5, 1)),
        ("bn1.bias", "beta", (2, 1)),
        ("", "pad", (4,)),
    ]
    assert layout.kernel_size == 4 * 5 + 5 * 2 + 2 * 3
    assert layout.n_params == layout.kernel_size + 5 + 2 + 3 + 2 * (5 + 2) == 60
    assert layout.size == PAD
    assert layer_names(BN) == ("dense0", "dense1", "output")


def test_views_share_the_flat_buffer() -> None:
    layout = StackLayout(BN)
    flat = torch.zeros(3 * layout.size)
    views = layout.views(flat, 3)
    views[0][1].fill_(1.0)  # member 1's first kernel
    assert flat.sum() == 4 * 5
    assert all(v.is_contiguous() and v.shape[0] == 3 for v in views)
    ones = flat.nonzero().flatten()
    assert ones.min() == 20 and ones.max() == 39


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 5), data=st.data())
def test_select_keeps_exactly_the_chosen_members(m: int, data: st.DataObject) -> None:
    keep = data.draw(st.lists(st.integers(0, m - 1), min_size=1, max_size=m, unique=True))
    layout = StackLayout(BN)
    flat = torch.randn(m * layout.size, generator=torch.Generator().manual_seed(m))
    chosen = layout.select(flat, m, torch.tensor(keep))
    for new, old in enumerate(keep):
        for a, b in zip(layout.views(chosen, len(keep)), layout.views(flat, m), strict=True):
            assert torch.equal(a[new], b[old])


def test_expand_gives_each_element_its_members_value() -> None:
    layout = StackLayout(Architecture(2, 2, hidden=(3,)))
    per_member = layout.expand(torch.tensor([1.0, 2.0]))
    for value, view in zip([1.0, 2.0], range(2), strict=True):
        assert all(bool((v[view] == value).all()) for v in layout.views(per_member, 2))
    per_layer = layout.expand(torch.tensor([[1.0, 10.0], [2.0, 20.0]]), kinds=("kernel",))
    w0, w1, b0, b1, pad = layout.views(per_layer, 2)
    assert bool((w0[1] == 2.0).all()) and bool((w1[0] == 10.0).all())
    assert not b0.any() and not b1.any() and not pad.any()
    assert torch.equal(layout.member_of(2), layout.expand(torch.tensor([0, 1])))


def test_initial_weights_follow_nn_linear_and_load_into_the_mlp() -> None:
    spec = member(arch={"batch_norm": True}, seed=3)
    state = initial_weights(spec)
    sizes = spec.arch.layer_sizes
    for name, fan_in, fan_out in zip(layer_names(spec.arch), sizes[:-1], sizes[1:], strict=True):
        bound = 1 / math.sqrt(fan_in)
        assert state[f"{name}.weight"].shape == (fan_out, fan_in)
        assert np.abs(state[f"{name}.weight"]).max() <= bound
        assert np.abs(state[f"{name}.bias"]).max() <= bound
    assert np.all(state["bn0.weight"] == 1) and np.all(state["bn0.bias"] == 0)
    model = single_model(spec.arch, spec.strategy)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    again = initial_weights(spec)
    assert all(np.array_equal(state[k], again[k]) for k in state)
    other = initial_weights(member(arch={"batch_norm": True}, seed=4))
    assert not np.array_equal(state["dense0.weight"], other["dense0.weight"])


def test_initial_weights_are_uniform_over_the_bound() -> None:
    layout = StackLayout(Architecture(100, 2, hidden=(400,)))
    flat = layout.initial(np.random.default_rng(0))
    kernel = flat[: 100 * 400]
    # U(-0.1, 0.1): mean 0, variance 0.01/3; 40,000 draws.
    assert abs(kernel.mean()) < 3 * 0.1 / math.sqrt(3 * 40_000)
    assert kernel.var() == pytest.approx(0.01 / 3, rel=0.03)
