"""Stacks and chunks: grouping, the memory estimate, the budget."""

from __future__ import annotations

import dataclasses

import numpy as np

from reglab.engine.plan import member_bytes, plan_chunks

from .conftest import data_for, member


def test_member_bytes_grows_with_what_a_member_holds() -> None:
    base = member_bytes(member())
    assert member_bytes(member(hidden=(64, 64))) > base
    assert member_bytes(member(dropout=0.3)) > base
    assert member_bytes(member(drop_connect=0.3)) > base
    assert member_bytes(member(train={"batch_size": 64})) > base


def test_chunks_fit_the_budget_and_keep_the_order() -> None:
    data = data_for("multiclass")
    specs = [member(seed=s, dropout=0.1 * (s % 3)) for s in range(10)]
    per = max(member_bytes(s) for s in specs)
    for room in (1, 2, 3, 7, 10):
        budget_mb = (room + 0.5) * per / 2**20
        chunks = plan_chunks(specs, data, budget_mb)
        assert [i for c in chunks for i in c] == list(range(10))
        assert max(len(c) for c in chunks) == room


def test_a_member_larger_than_the_budget_still_trains_alone() -> None:
    data = data_for("multiclass")
    assert plan_chunks([member(), member(seed=1)], data, 1e-6) == [[0], [1]]


def test_members_with_other_batch_patterns_get_their_own_stack() -> None:
    data = data_for("multiclass")
    a = member()  # 54 rows: 16·3 + 6
    b = dataclasses.replace(member(seed=1), train_idx=np.arange(50))  # 16·3 + 2: same pattern
    c = dataclasses.replace(member(seed=2), train_idx=np.arange(48))  # 16·3: full last batch
    d = dataclasses.replace(member(seed=3), train_idx=np.arange(70))  # 16·4 + 6: more steps
    assert plan_chunks([a, b, c, d], data, 1024) == [[0, 1], [2], [3]]
