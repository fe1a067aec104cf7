"""Ray workers writing a shared PostgreSQL store themselves (``reglab.study.ray_writes``), on
the session's real loopback cluster (two worker nodes of one CPU) and real PostgreSQL server.

The workers' records equal the local executor's bit for bit, and the store's ``owner`` column
shows that worker processes, not the driver, claimed and wrote them; a worker killed with
SIGKILL mid-chunk has its claims taken over, every member stored once and none left claimed;
a ``reglab bench`` driver killed with SIGKILL resumes when the command runs again. SQLite keeps
the driver writing. Skipped without Ray, PostgreSQL's server binaries or psycopg.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy

pytest.importorskip("ray")

from postgres_server import PostgresServer
from ray_cluster import RayCluster, environment
from ray_records import assert_same_bits, records
from reglab.data.builtin import load_builtin
from reglab.store import Store
from reglab.store import schema as s
from reglab.study.ray_executor import RayExecutor
from reglab.study.ray_writes import writes_line
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


def owners(url: str, study: str) -> dict[str, tuple[str, str | None]]:
    """Each member row's ``(status, owner)``: the owner is the process that claimed it."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            sid = conn.execute(
                sqlalchemy.select(s.studies.c.id).where(s.studies.c.name == study)
            ).scalar_one()
            m = s.members
            found = conn.execute(
                sqlalchemy.select(m.c.key, m.c.status, m.c.owner).where(m.c.study_id == sid)
            )
            return {key: (status, owner) for key, status, owner in found}
    finally:
        engine.dispose()


def pid_of(owner: str | None) -> int:
    """The process id in an owner id ``host:pid:random``."""
    assert owner is not None
    return int(owner.split(":")[1])


def test_sqlite_keeps_the_driver_writing_and_postgresql_has_the_workers_write(
    postgres_url: str, tmp_path: Path
) -> None:
    executor = RayExecutor("127.0.0.1:6379")
    with Store(tmp_path / "s.db") as file, Store(postgres_url) as shared:
        assert (file.shared, shared.shared) == (False, True)
        assert executor.writer(file) == "driver" and executor.writer(shared) == "workers"
        assert RayExecutor(store_writes="driver").writer(shared) == "driver"
        assert "SQLite is this host's file" in str(writes_line(executor, file))
        assert "each Ray worker claims, writes" in str(writes_line(executor, shared))
        assert writes_line(None, shared) is None  # the local executor: nothing to say
        assert "nested tuning tells each result" in str(writes_line(executor, shared, tuned=True))
    with pytest.raises(ValueError, match=r"`store_writes` must be one of 'auto', 'driver'"):
        RayExecutor(store_writes="workers")


def test_workers_write_the_local_bits_and_the_driver_writes_no_member(
    ray_cluster: RayCluster, postgres_url: str, tmp_path: Path
) -> None:
    ds = load_builtin("breast_cancer")
    local = Store(tmp_path / "local.db")
    Study(**FAST).run(ds, local)
    executor = RayExecutor(ray_cluster.address, chunk_members=2)
    study = Study(**FAST, executor=executor)
    seen: list[tuple[int, int]] = []
    with Store(postgres_url) as shared:
        result = study.run(ds, shared, progress=lambda done, n: seen.append((done, n)))
        name = study.plan(ds).name
        assert_same_bits(records(local, name), records(shared, name))
        assert shared.live_claims(name) == {}
    assert study.trained_ == 9 and seen[-1] == (9, 9) and executor.reruns_ == 0
    assert all(r.n_done == 3 for r in result.strategies.values())
    rows = owners(postgres_url, name)
    writers = {pid_of(owner) for _, owner in rows.values()}
    assert len(rows) == 9 and {status for status, _ in rows.values()} == {"done"}
    assert writers <= executor.workers_ and os.getpid() not in writers  # claimed by workers
    assert len(writers) >= 2  # both worker nodes wrote members


def test_members_held_elsewhere_are_waited_for_and_taken_over_when_the_lease_expires(
    ray_cluster: RayCluster, postgres_url: str, tmp_path: Path
) -> None:
    ds = load_builtin("breast_cancer")
    local = Store(tmp_path / "local.db")
    Study(**FAST).run(ds, local)
    executor = RayExecutor(ray_cluster.address)
    study = Study(**FAST, executor=executor)
    plan = study.plan(ds)
    held = sorted(spec.key() for spec, _ in plan.members)[:3]
    waits: list[int] = []
    with Store(postgres_url) as shared:
        shared.create_study(plan.name, plan.config)
        # a process on another host holds three members; it stops renewing its 2 s lease
        assert shared.claim(plan.name, held, "elsewhere:1:gone", lease_s=2.0) == held
        study.run(ds, shared, plan=plan, poll_s=0.2, on_wait=waits.append)
        assert_same_bits(records(local, plan.name), records(shared, plan.name))
        assert shared.live_claims(plan.name) == {}
    assert waits and max(waits) == 3  # the driver waited for the three held members
    rows = owners(postgres_url, plan.name)
    assert {status for status, _ in rows.values()} == {"done"}
    assert {pid_of(rows[k][1]) for k in held} <= executor.workers_  # taken over by tasks
    assert study.trained_ == 9


def test_a_worker_killed_mid_chunk_has_its_claims_taken_over(
    ray_cluster: RayCluster, postgres_url: str, tmp_path: Path
) -> None:
    ds = load_builtin("breast_cancer")
    local = Store(tmp_path / "local.db")
    Study(**SLOW).run(ds, local)
    executor = RayExecutor(ray_cluster.address, chunk_members=5, max_retries=2)
    study = Study(**SLOW, executor=executor)
    name = study.plan(ds).name
    seen: list[tuple[int, int]] = []
    failure: list[BaseException] = []
    shared = Store(postgres_url)

    def run() -> None:
        try:
            study.run(ds, shared, progress=lambda done, n: seen.append((done, n)))
        except BaseException as err:
            failure.append(err)

    driver = threading.Thread(target=run)
    driver.start()
    killed = None
    while killed is None and driver.is_alive():  # a worker holding claims, before it writes
        if any(st.name == name for st in shared.list_studies()):
            held = [pid_of(o) for st, o in owners(postgres_url, name).values() if st == "running"]
            killed = next((pid for pid in held if pid in executor.workers_), None)
        time.sleep(0.02)
    assert killed is not None, "the study ended before a worker held a claim"
    os.kill(killed, signal.SIGKILL)
    driver.join()
    assert not failure
    assert executor.reruns_ >= 1
    rows = owners(postgres_url, name)
    assert len(rows) == 9 and {status for status, _ in rows.values()} == {"done"}
    assert {pid_of(o) for _, o in rows.values()} - {killed}  # others took its claims over
    assert seen[-1] == (9, 9) and shared.live_claims(name) == {}
    assert_same_bits(records(local, name), records(shared, name))
    shared.close()


def bench_command(url: str, address: str) -> list[str]:
    return [
        sys.executable, "-m", "reglab.cli.main", "bench", "builtin:breast_cancer",
        "--strategies", "none,l2=1e-3,dropout=0.5,maxnorm=2",
        "--cv", "2", "--hidden", "16", "--epochs", "300", "--patience", "4",
        "--reference", "none", "--device", "cpu", "--name", "resume",
        "--store", url, "--no-report", "--executor", "ray", "--address", address,
    ]  # fmt: skip


def _kill_mid_study(command: list[str], url: str, env: dict[str, str]) -> bool:
    """Start the driver, SIGKILL it once a worker stored a member; whether the kill found the
    study still running."""
    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        with Store(url) as st:
            while driver.poll() is None:
                if any(s.name == "resume" for s in st.list_studies()) and st.done_keys("resume"):
                    break
                time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.wait()
    with Store(url) as st:
        return driver.returncode == -signal.SIGKILL and st.get_study("resume").status == "running"


def test_a_driver_killed_with_sigkill_resumes_on_the_shared_store(
    ray_cluster: RayCluster, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    env = {**environment(), "COLUMNS": "200"}
    for attempt in range(3):
        url = postgres_server.create_schema(f"resume_{os.getpid()}_{attempt}")
        command = bench_command(url, ray_cluster.address)
        if _kill_mid_study(command, url, env):
            break
    else:
        pytest.fail("the study finished before the driver was killed, three times")
    with Store(url) as st:
        before = st.done_keys("resume", include_failed=True)
    assert 1 <= len(before) < 8
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "store writes: each Ray worker claims, writes and releases its own members" in (
        again.stderr
    )
    with Store(url) as st:
        members = st.load_members("resume")
        assert st.get_study("resume").status == "done"
        assert st.live_claims("resume") == {}
    keys = [m.key for m in members]
    assert len(keys) == 8 and len(set(keys)) == 8  # every member once
    assert before <= set(keys)
    assert {m.status for m in members} == {"done"}
    assert {status for status, _ in owners(url, "resume").values()} == {"done"}
