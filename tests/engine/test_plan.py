"""Stacks and chunks: grouping, the memory estimate, the budget, the check before training."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reglab.engine import TrainConfig, plan, train_members
from reglab.engine.plan import (
    MemoryEstimate,
    check_memory,
    chunk_bytes,
    data_bytes,
    draw_bytes,
    member_bytes,
    plan_chunks,
)
from reglab.errors import ConfigError

from .conftest import chunk_budget, data_for, member

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_member_bytes_grows_with_what_a_member_holds() -> None:
    base = member_bytes(member())
    assert member_bytes(member(hidden=(64, 64))) > base
    assert member_bytes(member(dropout=0.3)) > base
    assert member_bytes(member(drop_connect=0.3)) > base
    assert member_bytes(member(train={"batch_size": 32})) > base


def test_a_batch_above_the_training_rows_is_full_batch() -> None:
    data = data_for("multiclass")
    nominal = member(train={"batch_size": 10**7, "epochs": 4})
    n_train = len(nominal.train_idx)
    exact = member(train={"batch_size": n_train, "epochs": 4})
    assert nominal.batch_size == n_train and nominal.stack_key == exact.stack_key
    assert member_bytes(nominal) == member_bytes(exact)
    start = time.perf_counter()
    (a,) = train_members([nominal], data, device="cpu")
    assert time.perf_counter() - start < 5  # nothing of the nominal size is allocated
    (b,) = train_members([exact], data, device="cpu")
    assert a.curves == b.curves and a.test_scores == b.test_scores
    assert all(np.array_equal(a.weights[k], b.weights[k]) for k in a.weights)


@pytest.mark.usefixtures("small_budgets")
def test_chunks_fit_the_budget_and_keep_the_order() -> None:
    data = data_for("multiclass")
    specs = [member(seed=s, dropout=0.1 * (s % 3)) for s in range(10)]
    for room in (1, 2, 3, 7, 10):
        chunks = plan_chunks(specs, data, chunk_budget(specs, data, room + 0.5))
        assert [i for c in chunks for i in c] == list(range(10))
        assert max(len(c) for c in chunks) == room


def test_members_with_other_batch_patterns_get_their_own_stack() -> None:
    data = data_for("multiclass")
    a = member()  # 54 rows: 16·3 + 6
    b = dataclasses.replace(member(seed=1), train_idx=np.arange(50))  # 16·3 + 2: same pattern
    c = dataclasses.replace(member(seed=2), train_idx=np.arange(48))  # 16·3: full last batch
    d = dataclasses.replace(member(seed=3), train_idx=np.arange(70))  # 16·4 + 6: more steps
    assert plan_chunks([a, b, c, d], data, 1024) == [[0, 1], [2], [3]]


def test_adversarial_members_train_in_stacks_of_their_own() -> None:
    from reglab.engine.spec import Strategy
    from reglab.study.strategies import parse_strategies

    data = data_for("multiclass")
    texts = ["mixup=0.2", "pgd=0.1", "fgsm=0.1", "mixup=0.2+pgd=0.05", "label-smoothing=0.1"]
    strategies: list[Strategy] = parse_strategies(",".join(texts))
    specs = [dataclasses.replace(member(seed=i), strategy=s) for i, s in enumerate(strategies)]
    # The plain members never pay the attacks' passes; the two pgd members share a stack.
    assert sorted(plan_chunks(specs, data, 1024)) == [[0, 4], [1, 3], [2]]


# --------------------------------------------------------------------------- check_memory


def test_the_estimate_covers_the_largest_chunk_and_the_results() -> None:
    data = data_for("multiclass")
    specs = [member(seed=s) for s in range(6)]
    estimate = check_memory(specs, data, 1024)
    assert isinstance(estimate, MemoryEstimate) and estimate.chunks == 1
    per = max(map(member_bytes, specs))
    assert estimate.peak_bytes == data_bytes(specs, data) + draw_bytes(specs[0]) + 6 * per
    assert estimate.largest_member_bytes == chunk_bytes(specs[:1], data)
    assert estimate.total_bytes > estimate.peak_bytes + estimate.results_bytes
    assert estimate.budget_bytes == 1024 * 2**20


@pytest.mark.parametrize(
    "budget", [0, -1, 0.0001, 0.99, float("nan"), float("inf"), True, "1024", None]
)
def test_the_budget_is_a_finite_number_of_at_least_one_mib(budget: object) -> None:
    data = data_for("multiclass")
    pattern = r"^`memory_budget_mb` \(--memory-budget-mb\) must be a finite number of MiB >= 1; "
    with pytest.raises(ConfigError, match=pattern):
        check_memory([member()], data, budget)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=pattern):
        train_members([member()], data, device="cpu", memory_budget_mb=budget)  # type: ignore[arg-type]


def test_a_member_above_the_budget_is_refused_before_anything_is_allocated() -> None:
    data = data_for("multiclass")
    huge = member(hidden=(100_000_000,))
    pattern = (
        r"^`memory_budget_mb` \(--memory-budget-mb\): the largest member needs ~[\d,]+ MiB "
        r"\(hidden=100000000, batch=16, 5 inputs, 54 training rows\); got a budget of 1024 MiB\.$"
    )
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=pattern):
        check_memory([member(), huge], data, 1024)
    with pytest.raises(ConfigError, match=pattern):
        train_members([member(), huge], data, device="cpu")
    assert time.perf_counter() - start < 5


def test_a_plan_above_the_available_memory_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = data_for("multiclass")
    specs = [member(seed=s, hidden=(256, 256)) for s in range(20)]
    estimate = check_memory(specs, data, 1024)
    # Room for one member but not for the whole stack: lower the budget.
    room = estimate.largest_member_bytes + estimate.results_bytes + estimate.overhead_bytes
    monkeypatch.setattr(plan, "available_memory", lambda device: room + 2**20)
    pattern = (
        r"training needs ~[\d.,]+ MiB but only ~[\d.,]+ MiB is available on this machine; "
        r"set it to at most ~[\d.,]+ MiB\.$"
    )
    with pytest.raises(ConfigError, match=pattern):
        check_memory(specs, data, 1024)
    # Not even room for one member.
    monkeypatch.setattr(plan, "available_memory", lambda device: 2**20)
    with pytest.raises(ConfigError, match=r"the largest member alone needs ~[\d.,]+ MiB \(hidden="):
        train_members(specs, data, device="cpu")
    monkeypatch.setattr(plan, "available_memory", lambda device: None)  # unknown: not checked
    assert check_memory(specs, data, 1024).available_bytes is None


def test_available_memory_is_read_from_the_machine() -> None:
    available = plan.available_memory("cpu")
    if Path("/proc/meminfo").exists():
        assert available is not None and available > 2**20
    else:
        assert available is None


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_the_estimate_bounds_the_measured_peak_within_two_times() -> None:
    """Train in a fresh interpreter and compare the peak resident set with the estimate."""
    script = BENCHMARKS / "engine_memory.py"
    done = subprocess.run(
        [sys.executable, str(script), "dropconnect-512", "--in-process"],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    row = json.loads(done.stdout.strip().splitlines()[-1])
    assert row["ok"]
    assert 1.0 <= row["ratio"] <= 2.0, row


def test_train_config_batch_is_kept_as_given() -> None:
    """The member's key (what the store sees) keeps the configured batch size."""
    a = member(train={"batch_size": 10**6})
    b = dataclasses.replace(
        a, train=TrainConfig(**{**dataclasses.asdict(a.train), "batch_size": 54})
    )
    assert a.key() != b.key() and a.train.batch_size == 10**6
