"""Several drivers running one study on a PostgreSQL store: each member is trained by exactly
one of them, and the members of a driver killed with SIGKILL on another host are taken over
when its lease expires, none lost and none trained twice.

One driver is a process of its own, the other this test's process (starting a second process
would double the tests' time, most of it importing PyTorch).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import sqlalchemy

from reglab.data.builtin import load_builtin
from reglab.store import Store
from reglab.study.run import Study

STUDY = {
    "strategies": "none,l2=1e-3,dropout=0.2,batchnorm",
    "name": "s",
    "hidden": (8,),
    "epochs": 15,
    "patience": 5,
    "n_splits": 3,
    "memory_budget_mb": 1,  # four chunks of three members: drivers can share the work
    "device": "cpu",
    "reference": "none",  # network members only: what the drivers share
}
TOTAL = 4 * 3

DRIVER = textwrap.dedent(
    f"""
    import json, sys
    import reglab.engine, reglab.study.run as run
    from reglab.data.builtin import load_builtin
    from reglab.store import Store

    url, lease_s, owner = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    if owner != "-":  # pose as a driver on another host: only its lease frees its members
        run.new_owner = lambda: owner
    dataset = load_builtin("breast_cancer")
    study = run.Study(**{STUDY!r})
    plan = study.plan(dataset)
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    with Store(url) as store:
        study.run(dataset, store, plan=plan, lease_s=lease_s, poll_s=0.1,
                  progress=lambda done, n: print("saved", flush=True))
    print(json.dumps({{"trained": study.trained_}}), flush=True)
    """
)


def driver(url: str, *, lease_s: float = 60.0, owner: str = "-") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, url, str(lease_s), owner],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def go(*procs: subprocess.Popen[str]) -> None:
    """Start the drivers' runs at once, when each has imported and planned."""
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n", proc.communicate()[1]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def by_owner(url: str) -> dict[tuple[str, str], int]:
    """``(owner, status) → members``, read straight from the store's rows."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "select owner, status, count(*) from members group by owner, status"
            )
            return {(owner, status): n for owner, status, n in rows}
    finally:
        engine.dispose()


def test_two_drivers_on_postgresql_train_each_member_exactly_once(postgres_url: str) -> None:
    other = driver(postgres_url)
    study = Study(**STUDY)  # type: ignore[arg-type]
    dataset = load_builtin("breast_cancer")
    plan = study.plan(dataset)
    go(other)
    with Store(postgres_url) as store:
        study.run(dataset, store, plan=plan, poll_s=0.1)
    out, err = other.communicate(timeout=240)
    assert other.returncode == 0, err
    trained = [study.trained_, json.loads(out.splitlines()[-1])["trained"]]
    assert sum(trained) == TOTAL and min(trained) > 0, trained  # shared, nothing twice
    rows = by_owner(postgres_url)  # a saved member keeps the owner that trained it
    assert sorted(rows.values()) == sorted(trained) and {s for _, s in rows} == {"done"}
    with Store(postgres_url, create=False) as st:
        info = st.get_study("s")
        assert info.status == "done"
        assert info.counts == {"running": 0, "done": TOTAL, "failed": 0}


def test_a_killed_drivers_members_are_taken_over_when_its_lease_expires(
    postgres_url: str,
) -> None:
    owner = "elsewhere:1:feed"
    killed = driver(postgres_url, lease_s=5.0, owner=owner)
    go(killed)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and killed.poll() is None:
        held = by_owner(postgres_url) if _has_members(postgres_url) else {}
        if held.get((owner, "done"), 0) and held.get((owner, "running"), 0):
            break  # some members finished, the next chunk claimed
        time.sleep(0.05)
    assert killed.poll() is None, "the driver ended before it could be killed"
    os.kill(killed.pid, signal.SIGKILL)
    killed.communicate(timeout=30)
    at_kill = by_owner(postgres_url)
    finished, held = at_kill[(owner, "done")], at_kill[(owner, "running")]

    waited: list[int] = []
    start = time.monotonic()
    study = Study(**STUDY)  # type: ignore[arg-type]
    with Store(postgres_url) as store:
        study.run(load_builtin("breast_cancer"), store, poll_s=0.1, on_wait=waited.append)
        info = store.get_study("s")
    assert study.trained_ == TOTAL - finished  # the rest, and nothing the dead driver saved
    assert waited and max(waited) <= held  # it waited for the dead driver's lease
    assert time.monotonic() - start < 60
    assert info.counts == {"running": 0, "done": TOTAL, "failed": 0} and info.status == "done"
    rows = by_owner(postgres_url)
    assert rows[(owner, "done")] == finished and (owner, "running") not in rows
    assert sum(rows.values()) == TOTAL


def _has_members(url: str) -> bool:
    engine = sqlalchemy.create_engine(url)
    try:
        return "members" in sqlalchemy.inspect(engine).get_table_names()
    finally:
        engine.dispose()
