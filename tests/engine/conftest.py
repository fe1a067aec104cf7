"""Small data sets and member factories for the engine tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from reglab.engine import Architecture, MemberSpec, Strategy, TrainConfig, plan
from reglab.engine.plan import data_bytes, draw_bytes, member_bytes

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

Data = dict[int, tuple[np.ndarray, np.ndarray]]


def blobs(n: int = 90, d: int = 5, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Separable-ish Gaussian classes: ``X`` float32 ``[n, d]``, ``y`` int64 in ``0..k-1``."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    centers = rng.normal(scale=1.5, size=(k, d))
    x = centers[y] + rng.normal(size=(n, d))
    return x.astype(np.float32), y.astype(np.int64)


def linear(n: int = 90, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A noisy linear regression target far from 0 mean / unit scale (tests standardization)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = 50.0 + 10.0 * (x @ rng.normal(size=d)) + rng.normal(size=n)
    return x, y.astype(np.float64)


def split_indices(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A shuffled 60/20/20 train/val/test split of ``n`` rows."""
    perm = np.random.default_rng(seed).permutation(n)
    a, b = int(0.6 * n), int(0.8 * n)
    return np.sort(perm[:a]), np.sort(perm[a:b]), np.sort(perm[b:])


def member(
    *,
    task: str = "multiclass",
    d: int = 5,
    k: int = 3,
    hidden: tuple[int, ...] = (8, 6),
    n: int = 90,
    seed: int = 0,
    split_id: int = 0,
    split_seed: int = 0,
    arch: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
    **strategy: Any,
) -> MemberSpec:
    """A member on the data of :func:`blobs`/:func:`linear` (``n`` rows, ``d`` features)."""
    out = {"multiclass": k, "binary": 1, "regression": 1}[task]
    a = Architecture(d, out, hidden=hidden, task=task, **(arch or {}))
    cfg = TrainConfig(**{"epochs": 3, "batch_size": 16, "patience": None, **(train or {})})
    tr, va, te = split_indices(n, split_seed)
    return MemberSpec(a, Strategy(**strategy), cfg, tr, va, te, seed=seed, split_id=split_id)


def data_for(task: str, *, n: int = 90, d: int = 5, k: int = 3, splits: int = 1) -> Data:
    """``{split_id: (X, y)}`` with a different data set per split."""
    out: Data = {}
    for s in range(splits):
        if task == "regression":
            out[s] = linear(n, d, seed=s)
        else:
            x, y = blobs(n, d, 2 if task == "binary" else k, seed=s)
            out[s] = (x, y)
    return out


def chunk_budget(specs: list[MemberSpec], data: Data, members: float) -> float:
    """A ``memory_budget_mb`` that holds the data and ``members`` of the largest ``specs``."""
    fixed = data_bytes(specs, data) + max(map(draw_bytes, specs))
    return (fixed + members * max(map(member_bytes, specs))) / 2**20


@pytest.fixture
def small_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accept budgets below the 1 MiB floor, to cut stacks of small test members into chunks."""
    monkeypatch.setattr(plan, "MIN_BUDGET_MB", 0.0)


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    """Keep torch single-threaded in these tests (small ops; shared CI cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
