"""Holm's step-down adjustment against a hand-worked table and the procedure itself."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reglab.errors import ConfigError
from reglab.stats import holm

TABLES = {
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, max(0.06, 0.04*1)=0.06
    "four": (
        {"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005},
        {"a": 0.03, "b": 0.06, "c": 0.06, "d": 0.02},
    ),
    # the cap at 1 and monotonicity across the cap
    "capped": ({"x": 0.3, "y": 0.6, "z": 0.2}, {"x": 0.6, "y": 0.6, "z": 0.6}),
    "cap-at-one": ({"x": 0.5, "y": 0.9}, {"x": 1.0, "y": 1.0}),
    "single": ({"only": 0.04}, {"only": 0.04}),
    "ties": ({"p": 0.01, "q": 0.01, "r": 0.5}, {"p": 0.03, "q": 0.03, "r": 0.5}),
    "empty": ({}, {}),
}


@pytest.mark.parametrize(("raw", "adjusted"), TABLES.values(), ids=TABLES.keys())
def test_hand_worked_tables(raw: dict[str, float], adjusted: dict[str, float]) -> None:
    out = holm(raw)
    assert list(out) == list(raw)  # keeps the caller's order
    assert out == pytest.approx(adjusted)


def step_down_rejections(p: dict[str, float], alpha: float) -> set[str]:
    """Holm (1979) as a procedure: walk the sorted p-values, stop at the first acceptance."""
    order = sorted(p, key=p.get)
    m = len(order)
    rejected = set()
    for i, key in enumerate(order):
        if p[key] > alpha / (m - i):
            break
        rejected.add(key)
    return rejected


p_maps = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=3), st.floats(0, 1), min_size=1, max_size=8
)


@settings(max_examples=150, deadline=None)
@given(p=p_maps, alpha=st.sampled_from([0.001, 0.01, 0.05, 0.1, 0.2, 0.5]))
def test_adjusted_values_reproduce_the_step_down_procedure(p, alpha) -> None:
    adjusted = holm(p)
    # away from exact boundaries the two definitions agree
    if any(abs(v - alpha) < 1e-12 for v in adjusted.values()):
        return
    assert {k for k, v in adjusted.items() if v <= alpha} == step_down_rejections(p, alpha)


@settings(max_examples=150, deadline=None)
@given(p=p_maps)
def test_bounds_and_monotonicity(p) -> None:
    adjusted = holm(p)
    m = len(p)
    for k in p:
        assert p[k] <= adjusted[k] + 1e-15
        assert adjusted[k] <= min(1.0, m * p[k]) + 1e-15  # never worse than Bonferroni
    for k1 in p:
        for k2 in p:
            if p[k1] < p[k2]:
                assert adjusted[k1] <= adjusted[k2]


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), "0.1"], ids=repr)
def test_rejects_non_p_values(bad) -> None:
    with pytest.raises(ConfigError, match=r"holm: `p_values` must be p-values in \[0, 1\]; got"):
        holm({"a": 0.01, "b": bad})
