"""Several processes on one nested study (``bench --tune``) and one ``reglab tune`` search.

Two drivers divide a nested study's searches and outer members between them, each member is
trained once, and the answer is a single process's to the bit; a driver killed with SIGKILL
mid-search on another host leaves its searches to whoever comes next once its lease expires,
with the same answer again. A second ``reglab tune`` on a search another live process holds
stops with one line; a dead holder's claim is taken over.

One driver is a process of its own, the other this test's process (a second process would
double the time, most of it importing PyTorch).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy
from sklearn.datasets import load_iris
from typer.testing import CliRunner

from reglab.api import load_data
from reglab.cli.main import app
from reglab.store import MemberRecord, Store
from reglab.store.journal import journal_storage
from reglab.study.nested_claims import UnitClaims, presence_key, unit_key
from reglab.study.run import Study
from reglab.study.tune_lock import LOCK_KEY

STUDY: dict[str, Any] = {
    "strategies": "none,dropout,l2",
    "name": "n",
    "n_splits": 3,
    "method": "kfold",
    "epochs": 4,  # below the pruner's warm-up: the choices depend on the trials alone
    "hidden": (8,),
    "batch_size": 32,
    "tune": 4,
    "tune_batch": 2,  # two rounds per search: a search can change hands between them
    "tune_cv": 2,
    "reference": "none",
    "device": "cpu",
}
UNITS = 2 * 3  # tuned families x outer splits
OUTER = 3 * 3  # strategies x outer splits

DRIVER = textwrap.dedent(
    f"""
    import json, os, signal, sys
    import numpy as np
    import reglab.engine, reglab.study.nested_run as nested_run
    from sklearn.datasets import load_iris
    from reglab.api import load_data
    from reglab.store import Store
    from reglab.study.run import Study

    url, lease_s, owner, kill_at = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    if owner != "-":  # pose as a driver on another host: only its lease frees its claims
        nested_run.new_owner = lambda: owner
    if kill_at:  # SIGKILL itself mid-way through its second round
        real, calls = reglab.engine.train_members, []

        def train(members, data, *, on_result, **kw):
            calls.append(1)
            saved = []

            def save(result):
                on_result(result)
                saved.append(1)
                if len(calls) == 2 and len(saved) == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)

            return real(members, data, on_result=save, **kw)

        reglab.engine.train_members = train
    x, y = load_iris(return_X_y=True)
    dataset = load_data(x.astype(np.float32), y)
    study = Study(**{STUDY!r})
    plan = study.plan(dataset)
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    with Store(url) as store:
        study.run(dataset, store, plan=plan, lease_s=lease_s, poll_s=0.1)
    print(json.dumps({{"trained": study.trained_}}), flush=True)
    """
)


def _iris() -> Any:
    x, y = load_iris(return_X_y=True)
    return load_data(x.astype(np.float32), y)


def driver(url: str, *, lease_s: float = 60.0, owner: str = "-", kill_at: int = 0) -> Any:
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, url, str(lease_s), owner, str(kill_at)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def go(proc: Any) -> None:
    """Start the driver's run, once it has imported and planned."""
    assert proc.stdout.readline() == "ready\n", proc.communicate()[1]
    proc.stdin.write("go\n")
    proc.stdin.flush()


def fingerprint(m: MemberRecord) -> tuple[object, ...]:
    """Everything a member's training decides, exactly (floats compared by their bits)."""
    pred = np.asarray(m.test_pred)
    return (
        m.status,
        m.best_epoch,
        m.stopped_epoch,
        tuple(sorted(m.test_scores.items())),
        tuple((k, tuple(v)) for k, v in sorted(m.curves.items())),
        pred.dtype.str,
        pred.tobytes(),
    )


def outcome(store: Store) -> dict[str, Any]:
    """Every inner and outer member's bits, each search's finished trials and the choices."""
    import optuna

    storage = journal_storage(store)
    trials = {}
    for s in optuna.get_all_study_summaries(storage):
        search = optuna.load_study(study_name=s.study_name, storage=storage)
        trials[s.study_name] = [
            (t.params, t.value) for t in search.trials
            if t.state.is_finished() and t.state != optuna.trial.TrialState.FAIL
        ]  # fmt: skip
    return {
        study: {m.key: fingerprint(m) for m in store.load_members(study, with_predictions=True)}
        for study in ("n", "n/inner")
    } | {"trials": trials, "choices": {
        (family, split): (c["values"], c["inner_score"])  # not trial numbers: a kill adds some
        for family, entry in store.get_study("n").metadata["tuning"]["families"].items()
        for split, c in entry["splits"].items()
    }}  # fmt: skip


def rows(url: str) -> dict[tuple[str, str, str], int]:
    """``(study, owner, status) → rows``, read straight from the store's tables."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.exec_driver_sql(
                "select s.name, m.owner, m.status, count(*) from members m "
                "join studies s on s.id = m.study_id group by s.name, m.owner, m.status"
            )
            return {(study, str(owner), status): n for study, owner, status, n in found}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def alone() -> dict[str, Any]:
    """The answer of one process alone."""
    with Store("sqlite://") as st:
        Study(**STUDY).run(_iris(), st)
        return outcome(st)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_drivers_divide_a_nested_study_and_give_one_drivers_bits(
    backend: str,
    tmp_path: Path,
    alone: dict[str, Any],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    other = driver(url)
    study = Study(**STUDY)
    dataset = _iris()
    plan = study.plan(dataset)
    real, first = UnitClaims.balance, []

    def balance(self: UnitClaims, held: Any) -> Any:
        # this driver's first claim waits until the other one is there too, so that they
        # share from the start, whichever process the machine runs first
        deadline = time.monotonic() + 60
        while not first and len(self.store.live_claims(self.study)) < 2:
            assert time.monotonic() < deadline, "the other driver never started"
            time.sleep(0.02)
        first.append(1)
        return real(self, held)

    monkeypatch.setattr(UnitClaims, "balance", balance)
    go(other)
    with Store(url) as store:
        study.run(dataset, store, plan=plan, poll_s=0.1)
        shared = outcome(store)
    out, err = other.communicate(timeout=120)
    assert other.returncode == 0, err
    trained = [study.trained_, json.loads(out.splitlines()[-1])["trained"]]
    inner, outer = len(shared["n/inner"]), len(shared["n"])
    assert outer == OUTER and sum(trained) == inner + outer, trained  # nothing trained twice
    assert shared == alone
    found = rows(url)
    units = {owner: n for (study, owner, status), n in found.items() if study == "n/units"}
    assert sum(units.values()) == UNITS and all(
        status == "done" for (study, _, status) in found if study in ("n/units", "n")
    )  # every search done, and no claim (presence or member) left behind
    assert len(units) == 2, units  # each driver tuned some of the searches


def test_a_killed_drivers_searches_are_taken_over_after_its_lease(
    postgres_url: str, alone: dict[str, Any]
) -> None:
    owner = "elsewhere:1:feed"
    killed = driver(postgres_url, lease_s=3.0, owner=owner, kill_at=5)
    go(killed)
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    at_kill = rows(postgres_url)
    stored = at_kill[("n/inner", "None", "done")]
    assert at_kill[("n/units", owner, "running")] == UNITS + 1  # its searches and presence

    waited: list[int] = []
    start = time.monotonic()
    study = Study(**STUDY)
    with Store(postgres_url) as store:
        study.run(_iris(), store, poll_s=0.1, on_wait_units=waited.append)
        resumed = outcome(store)
    assert waited and max(waited) == UNITS  # it waited for the dead driver's lease
    assert time.monotonic() - start < 60
    assert study.trained_ == len(resumed["n/inner"]) - stored + OUTER  # the dead one's kept
    assert resumed == alone
    found = rows(postgres_url)
    units = {o: n for (study, o, status), n in found.items() if study == "n/units"}
    assert list(units.values()) == [UNITS] and owner not in units  # all taken over, all done
    assert not any(status == "running" for (_, _, status) in found)


def test_a_joining_driver_gets_half_of_the_unfinished_searches() -> None:
    keys = [unit_key(f, s) for s in range(3) for f in ("dropout", "l2")]
    with Store("sqlite://") as store:
        store.create_study("u", {"nested in": "s"}, {})
        first = UnitClaims(store, "u", keys, "here:1:a", 60.0)
        second = UnitClaims(store, "u", keys, "here:2:b", 60.0)
        with first:
            held, released = first.balance([])
            assert (held, released) == (keys, [])  # alone: every search
            store.claim("u", [presence_key(second.owner)], second.owner, lease_s=60.0)
            assert second.balance([]) == ([], [])  # the first one holds them all
            held, released = first.balance(held)  # its next round: half given back
            assert (held, released) == (keys[:3], keys[3:])
            assert second.balance([]) == (keys[3:], [])
            first.finish(keys[0], "dropout", 0, 4)
            assert first.unfinished() == keys[1:]
        assert store.live_claims("u") == {second.owner: 4}  # leaving released its claims


def test_a_second_tune_on_a_held_search_stops_in_one_line_and_a_dead_holder_is_taken_over(
    tmp_path: Path,
) -> None:
    db = tmp_path / "t.db"
    args = ["tune", "builtin:iris", "--strategy", "dropout", "--trials", "2", "--batch-trials",
            "2", "--epochs", "2", "--hidden", "8", "--cv", "2", "--device", "cpu", "--name", "t",
            "--store", str(db), "--no-report"]  # fmt: skip
    first = CliRunner().invoke(app, args)  # creates the study; nothing holds it afterwards
    assert first.exit_code == 0, first.output
    with Store(db) as store:
        assert store.live_claims("t") == {}
        store.claim("t", [LOCK_KEY], "elsewhere:7:feed", lease_s=60.0)
    refused = CliRunner().invoke(app, [*args[:5], "3", *args[6:]])
    assert refused.exit_code == 2
    lines = [line for line in refused.output.splitlines() if line.strip()]
    assert lines == [
        "reglab: error: tune: study 't' is being tuned by another process on this store "
        "(elsewhere:7); one process per search: wait for it to finish, or give another --name."
    ]
    with Store(db) as store:  # a holder on another host that stopped renewing its claim
        store.release("t", "elsewhere:7:feed")
        store.claim("t", [LOCK_KEY], "elsewhere:8:feed", lease_s=0.5)
    time.sleep(0.6)
    taken = CliRunner().invoke(app, [*args[:5], "3", *args[6:]])
    assert taken.exit_code == 0, taken.output
    assert "3/3 trials" in taken.output
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    gone = f"{socket.gethostname()}:{dead.stdout.strip()}:dead"  # its process has exited
    with Store(db) as store:  # a holder on this host whose process has exited
        store.claim("t", [LOCK_KEY], gone, lease_s=60.0)
    resumed = CliRunner().invoke(app, [*args[:5], "4", *args[6:]])
    assert resumed.exit_code == 0, resumed.output
    assert "4/4 trials" in resumed.output
    with Store(db) as store:
        assert store.live_claims("t") == {} and store.get_study("t").counts["running"] == 0


def test_show_calls_a_nested_study_running_while_a_process_holds_its_searches(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.create_study("n", {"strategies": []}, {})
        store.create_study("n/units", {"nested in": "n"}, {})
        store.set_status("n", "running")
        store.claim("n/units", [presence_key("elsewhere:3:feed")], "elsewhere:3:feed")
    shown = CliRunner().invoke(app, ["show", "--store", str(db)])
    assert shown.exit_code == 0, shown.output
    assert "running" in shown.output and "interrupted" not in shown.output
    assert "n/units" not in shown.output  # hidden, as the inner members' study
    with Store(db) as store:
        store.release("n/units", "elsewhere:3:feed")
    shown = CliRunner().invoke(app, ["show", "--store", str(db)])
    assert "interrupted (no live process)" in shown.output
