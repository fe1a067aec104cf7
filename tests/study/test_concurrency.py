"""Several processes on one store, and a killed one: every member trained exactly once, and a
resumed study equal to an uninterrupted one bit for bit."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reglab.store import MemberRecord, Store

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def bench(db: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "reglab.cli.main", "bench", "builtin:breast_cancer",
        "--strategies", "none,l1=1e-3,l2=1e-3,dropout=0.3,maxnorm=1,batchnorm,weight-decay=1e-2",
        "--cv", "3", "--hidden", "24", "--epochs", "100", "--patience", "5",
        "--store", str(db), "--name", "s", "--no-report", "--reference", "none", *extra,
    ]  # fmt: skip


def finished(db: Path) -> int:
    try:
        with Store(db, create=False) as st:
            return len(st.done_keys("s", include_failed=True))
    except Exception:
        return 0


def fingerprint(m: MemberRecord) -> tuple[object, ...]:
    """Everything a member's training decides, exactly (floats compared by their bits)."""
    pred = np.asarray(m.test_pred)
    return (
        m.status,
        m.best_epoch,
        m.stopped_epoch,
        m.epochs_run,
        tuple(sorted(m.test_scores.items())),
        tuple(sorted(m.train_scores.items())),
        tuple((k, tuple(v)) for k, v in sorted(m.curves.items())),
        tuple(sorted(m.sparsity.items())),
        m.feature_norms,
        pred.dtype.str,
        pred.tobytes(),
    )


def members(db: Path) -> dict[str, tuple[object, ...]]:
    with Store(db, create=False) as st:
        return {m.key: fingerprint(m) for m in st.load_members("s", with_predictions=True)}


def trained(stderr: str) -> int:
    found = re.search(r"trained (\d+) members", stderr)
    assert found, stderr
    return int(found.group(1))


TOTAL = 7 * 3


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, ...]]:
    db = tmp_path_factory.mktemp("whole") / "whole.db"
    run = subprocess.run(bench(db), env=ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert trained(run.stderr) == TOTAL
    return members(db)


def test_kill_9_and_resume_equals_an_uninterrupted_run_bit_for_bit(
    tmp_path: Path, uninterrupted: dict[str, tuple[object, ...]]
) -> None:
    db = tmp_path / "killed.db"
    proc = subprocess.Popen(bench(db), env=ENV, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while finished(db) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the study ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = finished(db)
    assert 1 <= stored < TOTAL
    with Store(db, create=False) as st:
        assert st.get_study("s").counts["running"] > 0  # the dead run's claims are left
    shown = subprocess.run(
        [sys.executable, "-m", "reglab.cli.main", "show", "--store", str(db)],
        env=ENV, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "interrupted (no live process)" in shown.stdout, shown.stdout

    run = subprocess.run(bench(db), env=ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert trained(run.stderr) == TOTAL - stored  # the dead run's claims taken over at once
    resumed = members(db)
    assert resumed.keys() == uninterrupted.keys()
    differ = [k for k in resumed if resumed[k] != uninterrupted[k]]
    assert differ == []


def test_two_processes_on_one_store_train_each_member_exactly_once(
    tmp_path: Path, uninterrupted: dict[str, tuple[object, ...]]
) -> None:
    db = tmp_path / "shared.db"
    procs = [
        subprocess.Popen(bench(db), env=ENV, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[1] for p in procs]
    for p, err in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    counts = [trained(err) for err in outputs]
    assert sum(counts) == TOTAL, outputs  # nobody trained a member twice
    with Store(db, create=False) as st:
        info = st.get_study("s")
        assert info.counts == {"running": 0, "done": TOTAL, "failed": 0}
    assert members(db) == uninterrupted


def test_sigterm_ends_a_run_like_ctrl_c_releasing_its_members(tmp_path: Path) -> None:
    db = tmp_path / "term.db"
    proc = subprocess.Popen(bench(db), env=ENV, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while finished(db) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the study ended before it could be stopped"
    proc.terminate()
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == (
        "reglab: terminated; every finished member is stored, re-run the same command to resume."
    )
    with Store(db, create=False) as st:
        info = st.get_study("s")
        assert info.status == "interrupted" and info.counts["running"] == 0
        assert 1 <= info.counts["done"] < TOTAL
    shown = subprocess.run(
        [sys.executable, "-m", "reglab.cli.main", "show", "s", "--store", str(db)],
        env=ENV, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.stdout.startswith("Incomplete: study 's' is interrupted, with "), shown.stdout
