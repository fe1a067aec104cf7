"""Executors: a study through any executor gives the local executor's bits, members are
claimed as chunks are drawn, and an executor that fails releases what it did not report."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reglab.data.builtin import load_builtin
from reglab.engine import MemberResult, MemberSpec, train_members
from reglab.store import Store
from reglab.study.executor import Executor, LocalExecutor
from reglab.study.run import Study

FAST = {
    "strategies": "none,l2=1e-3,dropout=0.2",
    "hidden": (8,),
    "epochs": 8,
    "patience": 3,
    "n_splits": 3,
    "reference": "none",
}


class Shuffled:
    """Draws every chunk first, then trains the members one by one in reverse order."""

    def __init__(self) -> None:
        self.drawn: list[int] = []

    def run(
        self,
        chunks: Iterable[Sequence[MemberSpec]],
        data: Any,
        *,
        device: str,
        memory_budget_mb: float,
        on_result: Callable[[MemberResult], None],
    ) -> None:
        members = [m for chunk in chunks for m in chunk]
        self.drawn.append(len(members))
        for member in reversed(members):
            (result,) = train_members([member], data, device=device)
            on_result(result)


class Failing:
    """Trains the first chunk's first member, then fails."""

    def run(
        self,
        chunks: Iterable[Sequence[MemberSpec]],
        data: Any,
        *,
        device: str,
        memory_budget_mb: float,
        on_result: Callable[[MemberResult], None],
    ) -> None:
        first = next(iter(chunks))
        (result,) = train_members([first[0]], data, device=device)
        on_result(result)
        raise KeyboardInterrupt


def records(store: Store, name: str) -> dict[str, Any]:
    return {r.key: r for r in store.load_members(name, with_predictions=True)}


def test_a_reordering_regrouping_executor_gives_the_local_bits(tmp_path: Path) -> None:
    ds = load_builtin("breast_cancer")
    local, other = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    Study(**FAST, device="cpu").run(ds, local)
    shuffled = Shuffled()
    study = Study(**FAST, device="cpu", executor=shuffled)
    study.run(ds, other)
    assert shuffled.drawn == [9] and study.trained_ == 9
    a, b = records(local, study.plan(ds).name), records(other, study.plan(ds).name)
    assert a.keys() == b.keys() and len(a) == 9
    for key, r in a.items():
        s = b[key]
        assert (r.status, r.best_epoch, r.stopped_epoch) == (
            s.status,
            s.best_epoch,
            s.stopped_epoch,
        )
        assert r.test_scores == s.test_scores and r.curves == s.curves
        np.testing.assert_array_equal(r.test_pred, s.test_pred)


def test_a_failing_executor_releases_the_members_it_did_not_report(tmp_path: Path) -> None:
    ds = load_builtin("breast_cancer")
    store = Store(tmp_path / "s.db")
    study = Study(**FAST, device="cpu", executor=Failing())
    with pytest.raises(KeyboardInterrupt):
        study.run(ds, store)
    name = study.plan(ds).name
    assert store.get_study(name).status == "interrupted"
    assert len(store.done_keys(name, include_failed=True)) == 1
    assert store.live_claims(name) == {}
    again = Study(**FAST, device="cpu")
    again.run(ds, store)
    assert (again.reused_, again.trained_) == (1, 8)


def test_the_documented_executor_example_runs() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    (block,) = [b for b in blocks if "executor=LocalExecutor()" in b]
    namespace: dict[str, Any] = {}
    exec(compile(block, str(doc), "exec"), namespace)
    assert namespace["result"].strategies["none"].n_done == 5


def test_the_local_executor_is_the_default_and_meets_the_protocol() -> None:
    assert isinstance(Study().executor, LocalExecutor)
    assert isinstance(Shuffled(), Executor) and isinstance(Failing(), Executor)
