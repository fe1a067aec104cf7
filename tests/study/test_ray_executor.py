"""The Ray executor on a real cluster: a head and two worker nodes on loopback, started once
for the session (``tests/ray_cluster.py``, the ``ray_cluster`` fixture of this directory).

Through Ray a study gets the local executor's bits; a worker process killed mid-study has its
chunk run again elsewhere with no member lost or reported twice; a ``reglab bench`` driver
killed with SIGKILL resumes when the command is run again; bad ``--executor``/``--address``
input ends in one line and exit 2. Skipped when Ray is not installed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("ray")

from ray_cluster import RayCluster, environment, free_port
from ray_records import assert_same_bits, records
from reglab.cli.main import app
from reglab.data.builtin import load_builtin
from reglab.engine import train_members
from reglab.store import Store
from reglab.study.ray_executor import RayExecutor, parse_address
from reglab.study.run import Study

FAST = {
    "strategies": "none,l2=1e-3,dropout=0.2",
    "hidden": (8,),
    "epochs": 8,
    "patience": 3,
    "n_splits": 3,
    "reference": "none",
    "device": "cpu",
}
SLOW = {**FAST, "hidden": (32,), "epochs": 60, "early_stopping": False}
"""Tasks that train for seconds, so that a worker can be killed while one runs."""


def test_a_study_through_ray_gives_the_local_bits(ray_cluster: RayCluster, tmp_path: Path) -> None:
    ds = load_builtin("breast_cancer")
    local, remote = Store(tmp_path / "local.db"), Store(tmp_path / "ray.db")
    Study(**FAST).run(ds, local)
    executor = RayExecutor(ray_cluster.address, chunk_members=2)
    study = Study(**FAST, executor=executor)
    result = study.run(ds, remote)
    name = study.plan(ds).name
    assert study.trained_ == 9 and executor.reruns_ == 0
    assert (executor.tasks_, executor.puts_) == (5, 3)  # each split's table put once
    assert len(executor.workers_) >= 2  # both worker nodes took tasks (one CPU each)
    assert_same_bits(records(local, name), records(remote, name))
    assert all(r.n_done == 3 for r in result.strategies.values())


def test_a_killed_worker_has_its_chunk_run_again_elsewhere(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    ds = load_builtin("breast_cancer")
    local, remote = Store(tmp_path / "local.db"), Store(tmp_path / "ray.db")
    Study(**SLOW).run(ds, local)
    executor = RayExecutor(ray_cluster.address, chunk_members=5, max_retries=2)
    study = Study(**SLOW, executor=executor)
    reported: list[str] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            study.run(ds, remote, progress=lambda done, total: reported.append(str(done)))
        except BaseException as err:
            failure.append(err)

    driver = threading.Thread(target=run)
    driver.start()
    while not executor.workers_ and driver.is_alive():
        time.sleep(0.02)
    killed = next(iter(set(executor.workers_)))
    os.kill(killed, signal.SIGKILL)  # the worker process running a chunk, before it reports
    driver.join()
    assert not failure
    assert executor.reruns_ >= 1
    assert killed in executor.workers_ and len(executor.workers_) >= 2
    name = study.plan(ds).name
    stored = records(remote, name)
    assert study.trained_ == 9 and len(reported) == 9  # each member reported once
    assert len(stored) == 9 and {r.status for r in stored.values()} == {"done"}
    assert_same_bits(records(local, name), stored)


def test_a_failing_task_fails_its_members_with_the_reason_after_the_retries(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    ds = load_builtin("breast_cancer")
    study = Study(**FAST, executor=RayExecutor(ray_cluster.address, max_retries=1))
    plan = study.plan(ds)
    broken = {sid: (x[:, :3], y) for sid, (x, y) in plan.data.items()}  # too few columns
    executor = RayExecutor(ray_cluster.address, max_retries=1, chunk_members=9)
    results: list[Any] = []
    executor.run([[spec for spec, _ in plan.members]], broken, device="cpu",
                 memory_budget_mb=64, on_result=results.append)  # fmt: skip
    assert executor.reruns_ == 1
    assert len(results) == 9 and len({r.key for r in results}) == 9
    assert {r.status for r in results} == {"failed"}
    assert all(r.error.startswith("its Ray task failed 2 times; the last time: ") for r in results)


def bench_command(store: Path, address: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "reglab.cli.main", "bench", "builtin:breast_cancer",
        "--strategies", "none,l2=1e-3,dropout=0.5,maxnorm=2",
        "--cv", "2", "--hidden", "16", "--epochs", "300", "--patience", "4",
        "--reference", "none", "--device", "cpu", "--name", "resume",
        "--store", str(store), "--no-report", "--executor", "ray", "--address", address,
        *extra,
    ]  # fmt: skip


def _kill_mid_study(command: list[str], store_path: Path, env: dict[str, str]) -> bool:
    """Start the driver, SIGKILL it once a member is stored; whether the kill found the study
    still running (on a loaded machine the last members can land before the kill does)."""
    driver = subprocess.Popen(command, cwd=store_path.parent, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while driver.poll() is None:
            if store_path.exists():
                with Store(store_path) as st:
                    if any(s.name == "resume" for s in st.list_studies()) and st.done_keys(
                        "resume"
                    ):
                        break
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.wait()
    with Store(store_path) as st:
        return driver.returncode == -signal.SIGKILL and st.get_study("resume").status == "running"


def test_a_driver_killed_with_sigkill_resumes_when_run_again(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    env = {**environment(), "COLUMNS": "120"}
    for attempt in range(3):
        store_path = tmp_path / f"s{attempt}.db"
        command = bench_command(store_path, ray_cluster.address)
        if _kill_mid_study(command, store_path, env):  # left as the kill found it
            break
    else:
        pytest.fail("the study finished before the driver was killed, three times")
    with Store(store_path) as st:
        before = st.done_keys("resume", include_failed=True)
    assert 1 <= len(before) < 8
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    with Store(store_path) as st:
        members = st.load_members("resume")
        assert st.get_study("resume").status == "done"
        assert st.live_claims("resume") == {}
    keys = [m.key for m in members]
    assert len(keys) == 8 and len(set(keys)) == 8  # every member once
    assert before <= set(keys)
    assert {m.status for m in members} == {"done"}


runner = CliRunner()


def one_error_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("reglab: error:"), result.output
    return lines[0]


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        pytest.param(("--executor", "ray", "--address", "nohost"), r"`address` must be HOST:PORT",
                     id="malformed"),
        pytest.param(("--executor", "ray", "--address", "127.0.0.1:99999"), r"HOST:PORT",
                     id="port-out-of-range"),
        pytest.param(("--executor", "dask"), r"`--executor` must be one of 'local', 'ray'",
                     id="unknown-executor"),
        pytest.param(("--address", "127.0.0.1:6379"), r"--executor ray only",
                     id="address-without-ray"),
    ],
)  # fmt: skip
def test_bad_executor_input_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], pattern: str
) -> None:
    store = tmp_path / "s.db"
    result = runner.invoke(app, ["bench", "builtin:iris", "--store", str(store), "--no-report",
                                 *args])  # fmt: skip
    assert re.search(pattern, one_error_line(result))
    assert not store.exists()


@pytest.mark.parametrize("command", ["bench", "path", "tune"])
def test_an_address_where_no_cluster_answers_is_one_line_and_exit_2(
    tmp_path: Path, command: str
) -> None:
    store = tmp_path / "s.db"
    address = f"127.0.0.1:{free_port()}"
    result = runner.invoke(app, [command, "builtin:iris", "--store", str(store), "--no-report",
                                 "--executor", "ray", "--address", address])  # fmt: skip
    line = one_error_line(result)
    assert f"`--address` {address} must be a running Ray cluster's head" in line
    assert not store.exists()


def test_without_ray_the_ray_executor_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    store = tmp_path / "s.db"
    result = runner.invoke(app, ["bench", "builtin:iris", "--store", str(store), "--no-report",
                                 "--executor", "ray"])  # fmt: skip
    assert "pip install 'reglab[ray]'" in one_error_line(result)
    assert not store.exists()


def test_the_address_grammar() -> None:
    assert parse_address("ray://head.example:10001") == ("head.example", 10001)
    assert parse_address("[::1]:6379") == ("::1", 6379)
    with pytest.raises(ValueError, match=r"RayExecutor: `address` must be HOST:PORT"):
        RayExecutor("head.example")
    with pytest.raises(ValueError, match=r"`num_gpus` must be a fraction in \[0, 1\]"):
        RayExecutor(num_gpus=1.5)
    with pytest.raises(ValueError, match=r"`max_retries` must be a whole number >= 0"):
        RayExecutor(max_retries=-1)


class StopFirst:
    """An ``on_epoch_end`` hook that stops the member drawn first at epoch 3, and counts."""

    def __init__(self) -> None:
        self.calls = 0
        self.stopped: list[int] = []

    def __call__(self, ids: Any, curves: Any) -> list[bool]:
        self.calls += 1
        epoch = max(len(c["train_loss"]) for c in curves)
        flags = [i == 0 and epoch >= 3 for i in ids]
        self.stopped += [i for i, f in zip(ids, flags, strict=True) if f]
        return flags


def test_an_epoch_hook_runs_for_every_task_and_its_state_comes_back(
    ray_cluster: RayCluster,
) -> None:
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the actor imports no tests
    ds = load_builtin("breast_cancer")
    plan = Study(**{**FAST, "early_stopping": False}).plan(ds)
    members = [spec for spec, _ in plan.members]
    local = {r.key: r for r in train_members(members, plan.data, device="cpu")}
    hook = StopFirst()
    results: dict[str, Any] = {}
    executor = RayExecutor(ray_cluster.address, chunk_members=4)
    executor.run([members], plan.data, device="cpu", memory_budget_mb=64,
                 on_result=lambda r: results.setdefault(r.key, r), on_epoch_end=hook)  # fmt: skip
    assert hook.calls > 0 and set(hook.stopped) == {0}  # copied back from the actor
    first = members[0].key()
    assert results[first].stopped_epoch == 3 and results[first].epochs_run == 3
    for key, r in local.items():
        if key != first:
            assert r.test_scores == results[key].test_scores
            np.testing.assert_array_equal(r.test_pred, results[key].test_pred)


def test_a_search_through_ray_finds_the_local_trials(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    pytest.importorskip("optuna")
    from reglab.study.tune import Tune

    ds = load_builtin("breast_cancer")
    options = {"strategy": "l2", "trials": 4, "batch_trials": 4, "sampler": "random",
               "pruner": "none", "hidden": (8,), "epochs": 8, "patience": 3, "n_splits": 2,
               "device": "cpu"}  # fmt: skip
    local = Tune(**options).run(ds, Store(tmp_path / "local.db"))
    remote = Tune(**options, executor=RayExecutor(ray_cluster.address)).run(
        ds, Store(tmp_path / "ray.db")
    )
    assert [(t.params, t.scores) for t in local.trials] == [
        (t.params, t.scores) for t in remote.trials
    ]
    assert len(remote.trials) == 4
