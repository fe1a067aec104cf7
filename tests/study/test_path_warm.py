"""Warm-started strength paths: a warm point is its predecessor's weights trained on, the same
bits alone or stacked, after a resume, and bad options are refused in one line."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import reglab
from reglab.api import load_data
from reglab.cli.main import app
from reglab.engine import train_members
from reglab.engine.spec import MemberSpec, WarmStart
from reglab.errors import ConfigError
from reglab.store import Store
from reglab.study.path_study import PathStudy
from reglab.study.path_warm import WarmExecutor

OPTIONS: dict[str, Any] = {
    "n_splits": 2,
    "epochs": 3,
    "hidden": (8,),
    "early_stopping": False,
    "device": "cpu",
    "seed": 3,
}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=120) > 0).astype(int)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    df["y"] = y
    return df


def planned(frame: pd.DataFrame, **kw: Any) -> tuple[PathStudy, Any, Any]:
    runner = PathStudy("l2", "1e-3,1e-2", warm_start=True, **{**OPTIONS, **kw})
    dataset = load_data(frame, target="y")
    return runner, dataset, runner.plan(dataset)


def scores(store: Store, name: str) -> dict[str, tuple[Any, ...]]:
    return {
        m.key: (m.status, tuple(sorted(m.test_scores.items())), m.curves.get("train_loss"))
        for m in store.load_members(name)
    }


def test_a_warm_point_is_its_predecessor_trained_on(frame: pd.DataFrame) -> None:
    runner, dataset, made = planned(frame, warm_epochs=2)
    plan = made[1]
    with Store("sqlite://") as st:
        result = runner.run(dataset, st, planned=made)
        stored = {m.key: m for m in st.load_members(plan.name)}
    assert [p.strategy for p in result.points] == ["none", "l2=1e-3", "l2=0.01"]
    assert result.warm_start and result.to_dict()["warm_start"] is True
    split0 = [spec for spec, _ in plan.members if spec.split_id == plan.splits[0].split_id]
    assert [s.strategy.name for s in split0] == ["none", "l2=1e-3", "l2=0.01"]
    assert split0[0].warm_start is None and split0[0].train.epochs == 3
    weights = None
    for i, spec in enumerate(split0):
        if i:  # by hand: the previous point's final weights as the start
            assert spec.warm_start is not None and spec.warm_start.source == split0[i - 1].key()
            assert spec.train.epochs == 2
            spec = dataclasses.replace(spec, warm_start=WarmStart(spec.warm_start.source, weights))
        (alone,) = train_members([spec], plan.data, device="cpu")
        record = stored[spec.key()]
        assert record.test_scores == alone.test_scores
        assert record.curves["train_loss"] == tuple(alone.curves["train_loss"])
        weights = alone.weights
    cold = dataclasses.replace(split0[1], warm_start=None, train=split0[0].train)
    (from_seed,) = train_members([cold], plan.data, device="cpu")
    assert from_seed.test_scores != stored[split0[1].key()].test_scores  # the start matters


def test_a_warm_member_is_the_same_bits_alone_or_stacked(frame: pd.DataFrame) -> None:
    _, _, (_, plan, _) = planned(frame)
    specs = [spec for spec, _ in plan.members]
    first = [s for s in specs if s.warm_start is None]
    trained = {r.key: r for r in train_members(first, plan.data, device="cpu")}
    filled = []
    for s in specs:
        source = s.warm_start.source if s.warm_start is not None else None
        if source in trained:
            start = WarmStart(source, trained[source].weights)
            filled.append(dataclasses.replace(s, warm_start=start))
    assert len(filled) == 2  # the first strength on both splits
    stacked = train_members([*filled, *first], plan.data, device="cpu")
    for spec, together in zip(filled, stacked, strict=False):
        (alone,) = train_members([spec], plan.data, device="cpu")
        assert together.key == alone.key
        for name, value in alone.weights.items():
            assert np.array_equal(value, together.weights[name]), name


def test_chunking_and_resume_give_the_same_path(frame: pd.DataFrame) -> None:
    runner, dataset, done = planned(frame)
    with Store("sqlite://") as whole:
        runner.run(dataset, whole, planned=done)
        expected = scores(whole, done[1].name)
    assert len(expected) == 6 and all(v[0] == "done" for v in expected.values())

    class Interrupt(Exception):
        pass

    def stop_after(n: int) -> Any:
        def progress(finished: int, total: int) -> None:
            if finished >= n:
                raise Interrupt

        return progress

    with Store("sqlite://") as st:
        again, dataset, plan3 = planned(frame, memory_budget_mb=1)  # a stack per member
        assert plan3[1].name == done[1].name
        with pytest.raises(Interrupt):
            again.run(dataset, st, planned=plan3, progress=stop_after(3))
        assert 0 < len(st.load_members(plan3[1].name)) < 6
        again.run(dataset, st, planned=planned(frame)[2], on_config_change="extend")
        assert scores(st, plan3[1].name) == expected


def test_the_executor_retrains_stored_predecessors_it_needs(frame: pd.DataFrame) -> None:
    _, _, (_, plan, _) = planned(frame)
    specs = [spec for spec, _ in plan.members]
    last = [s for s in specs if s.strategy.name == "l2=0.01"]
    executor = WarmExecutor(reglab.study.executor.LocalExecutor(), specs)
    got: list[str] = []
    executor.run([last], plan.data, device="cpu", memory_budget_mb=64,
                 on_result=lambda r: got.append(r.key))  # fmt: skip
    assert sorted(got) == sorted(s.key() for s in last)  # only what was asked is reported
    assert executor.retrained_ == 4  # none and l2=1e-3 on both splits, in memory


def test_lassonet_chain_starts_at_its_first_strength() -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    df["y"] = (df["a"] > 0).astype(int)
    runner = PathStudy("lassonet", "10,100", warm_start=True, **OPTIONS)
    _, plan, _ = runner.plan(load_data(df, target="y"))
    by_name: dict[str, list[MemberSpec]] = {}
    for spec, _ in plan.members:
        by_name.setdefault(spec.strategy.name, []).append(spec)
    assert all(s.warm_start is None for s in by_name["none"])
    first, second = (by_name[n] for n in sorted(set(by_name) - {"none"}, key=len))
    assert all(s.warm_start is None for s in first)  # a skip path none does not have
    assert [s.warm_start.source for s in second if s.warm_start] == [s.key() for s in first]


def test_warm_and_cold_paths_are_different_studies(frame: pd.DataFrame) -> None:
    warm = planned(frame)[2][1]
    cold = PathStudy("l2", "1e-3,1e-2", **OPTIONS).plan(load_data(frame, target="y"))[1]
    assert warm.name != cold.name
    assert {s.key() for s, _ in warm.members} != {s.key() for s, _ in cold.members}


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"warm_epochs": 5}, r"`warm_epochs` \(--warm-epochs\) must be given with warm_start"),
        ({"warm_start": "yes"}, r"`warm_start` \(--warm-start\) must be True or False"),
        ({"warm_start": True, "warm_epochs": 0}, r"`warm_epochs` .* an integer >= 1; got 0"),
    ],
    ids=["epochs-without-warm", "not-a-bool", "zero-epochs"],
)
def test_bad_warm_options_are_refused_before_the_data(
    options: dict[str, Any], pattern: str
) -> None:
    with pytest.raises(ConfigError, match=pattern):
        reglab.path("no_such_file.csv", technique="l2", **options)


def test_the_engine_refuses_a_warm_start_without_weights(frame: pd.DataFrame) -> None:
    _, _, (_, plan, _) = planned(frame)
    warm = next(s for s, _ in plan.members if s.warm_start is not None)
    with pytest.raises(ConfigError, match=r"warm_start.weights. must be the source member"):
        train_members([warm], plan.data, device="cpu")
    bad = dataclasses.replace(warm, warm_start=WarmStart("x", {"dense0.weight": np.zeros(3)}))
    with pytest.raises(ConfigError, match=r"warm_start: StackLayout.flatten: `state` must hold"):
        train_members([bad], plan.data, device="cpu")


def test_the_commands_take_warm_start(tmp_path: Path, frame: pd.DataFrame) -> None:
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    runner = CliRunner()
    bad = runner.invoke(app, ["path", str(data), "--target", "y", "--warm-epochs", "0",
                              "--warm-start", "--store", str(tmp_path / "s.db")])  # fmt: skip
    assert bad.exit_code == 2
    assert "`warm_epochs` (--warm-epochs) must be an integer >= 1; got 0" in bad.output
    assert len(bad.output.strip().splitlines()) == 1 and not (tmp_path / "s.db").exists()
    args = ["--target", "y", "--epochs", "2", "--cv", "2", "--hidden", "8", "--device", "cpu",
            "--store", str(tmp_path / "s.db"), "--warm-start", "--warm-epochs", "1"]  # fmt: skip
    ok = runner.invoke(app, ["path", str(data), "--grid", "1e-3,1e-2", "--no-report", *args])
    assert ok.exit_code == 0, ok.output
    assert "l2=0.01" in ok.output or "0.01" in ok.output
    out = tmp_path / "sel.txt"
    chosen = runner.invoke(app, ["select", str(data), "--max-features", "2", "--grid", "1,30",
                                 "--no-refit", "-o", str(out), *args])  # fmt: skip
    assert chosen.exit_code == 0, chosen.output
    assert 1 <= len(out.read_text().split()) <= 2


def test_a_failed_point_fails_the_rest_of_its_chain_only(frame: pd.DataFrame) -> None:
    _, _, (_, plan, _) = planned(frame)
    specs = [spec for spec, _ in plan.members]
    broken = next(s for s in specs if s.strategy.name == "none").key()  # one split's none

    class Failing:
        """The local executor, except that one member fails (as a NaN loss would)."""

        def run(self, chunks: Any, data: Any, **kw: Any) -> None:
            def report(result: Any) -> None:
                if result.key == broken:
                    result = dataclasses.replace(result, status="failed", error="NaN", weights={})
                kw["on_result"](result)

            reglab.study.executor.LocalExecutor().run(chunks, data, **{**kw, "on_result": report})

    got: dict[str, Any] = {}
    WarmExecutor(Failing(), specs).run(
        [specs], plan.data, device="cpu", memory_budget_mb=64,
        on_result=lambda r: got.setdefault(r.key, r),
    )  # fmt: skip
    assert len(got) == 6
    split = next(s.split_id for s in specs if s.key() == broken)
    for s in specs:
        result = got[s.key()]
        if s.split_id != split:
            assert result.ok  # the other split's chain is untouched
        elif s.key() != broken:
            assert result.status == "failed"
            assert result.error.startswith("warm start: its predecessor on the path failed")
