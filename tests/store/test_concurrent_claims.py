"""Processes claiming the same members of one store at the same time, on a real PostgreSQL
server (where claims run side by side; SQLite runs them one at a time, see
``tests/study/test_concurrency.py``): every member is claimed and saved by exactly one of them,
none is lost, and processes that open a new database together create its schema and the study
once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from postgres_server import PostgresServer
from reglab.store import Store

CLAIMER = textwrap.dedent(
    """
    import json, random, sys
    from reglab.store import MemberRecord, Store

    url, owner, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    keys = [f"k{i:03d}" for i in range(n)]
    rng = random.Random(owner)
    mine = []
    sys.stdin.readline()  # start together
    with Store(url) as st:
        st.create_study("s", {"k": 1})
        while left := sorted(set(keys) - st.done_keys("s", include_failed=True)):
            got = st.claim("s", rng.sample(left, min(len(left), 12)), owner)
            for key in got:
                record = MemberRecord(key, "l2", split_id=0, seed=0, n_train=8, n_test=2)
                if not st.save_member("s", record):
                    sys.exit(f"{owner}: {key} was already saved by another process")
            mine += got
    print(json.dumps(mine))
    """
)

N_MEMBERS = 120
N_PROCESSES = 3


def test_concurrent_claimers_take_every_member_exactly_once(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database("claims")  # a database of its own, not a schema
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, url, f"claimer-{i}", str(N_MEMBERS)], text=True, **pipes
        )
        for i in range(N_PROCESSES)
    ]
    for p in procs:  # each waits for this line, after its imports
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    claimed = [json.loads(out) for out, _ in outputs]
    every = [key for keys in claimed for key in keys]
    assert sorted(every) == [f"k{i:03d}" for i in range(N_MEMBERS)]  # each exactly once
    assert sum(1 for keys in claimed if keys) >= 2, [len(k) for k in claimed]  # they shared
    with Store(url, create=False) as st:
        (info,) = st.list_studies()
        assert info.counts == {"running": 0, "done": N_MEMBERS, "failed": 0}
        owners = {m.key: m for m in st.load_members("s", with_curves=False)}
        assert len(owners) == N_MEMBERS
