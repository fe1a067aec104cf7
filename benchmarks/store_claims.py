"""Claims per second: a PostgreSQL store against an SQLite file, in the same run.

A claim is the write transaction a driver makes before it trains members
(:meth:`reglab.store.Store.claim`). Three workloads, each on both stores:

* ``single``: one process claims ``--members`` members one per transaction (claims/s);
* ``chunked``: one process claims ``--members`` × 10 members, 100 per transaction (the way a
  study claims a chunk; members/s);
* ``contended``: ``--processes`` processes each try to claim every one of ``--members`` members,
  one per transaction, in their own random order, all at once; the transactions per second of
  all of them together, and a check that each member was claimed by exactly one process.

The PostgreSQL server is a throwaway one on this machine (``tests/postgres_server.py``: Debian's
binaries, ``fsync`` off, loopback) unless ``--url`` names a database (it must be empty: the
benchmark creates its own studies there). The SQLite file is in a temporary directory (WAL,
``synchronous=NORMAL``). The last line printed is one JSON object: per store and workload
``per_s``, and ``ratio`` (PostgreSQL / SQLite, above 1 when PostgreSQL is faster).

    python benchmarks/store_claims.py                    # about half a minute
    python benchmarks/store_claims.py --members 500 --processes 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from postgres_server import PostgresServer
from reglab.store import Store

CONTENDER = textwrap.dedent(
    """
    import json, random, sys, time
    from reglab.store import Store

    url, study, owner, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    keys = [f"k{i}" for i in range(n)]
    random.Random(owner).shuffle(keys)
    with Store(url) as st:
        st.get_study(study)  # connected before the start
        print("ready", flush=True)
        sys.stdin.readline()
        won = [k for k in keys if st.claim(study, [k], owner)]
    print(json.dumps(won))
    """
)


def single(url: str, n: int) -> float:
    with Store(url) as st:
        st.create_study("single", {})
        start = time.perf_counter()
        for i in range(n):
            st.claim("single", [f"k{i}"], "me")
        return n / (time.perf_counter() - start)


def chunked(url: str, n: int, size: int = 100) -> float:
    with Store(url) as st:
        st.create_study("chunked", {})
        start = time.perf_counter()
        for i in range(0, n, size):
            st.claim("chunked", [f"k{j}" for j in range(i, min(i + size, n))], "me")
        return n / (time.perf_counter() - start)


def contended(url: str, n: int, processes: int) -> float:
    study = f"contended-{processes}"
    with Store(url) as st:
        st.create_study(study, {})
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
    procs = [
        subprocess.Popen([sys.executable, "-c", CONTENDER, url, study, f"p{i}", str(n)], **pipes)
        for i in range(processes)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline() == b"ready\n"
    start = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(b"go\n")
        p.stdin.flush()
    won = [json.loads(p.communicate()[0]) for p in procs]
    wall = time.perf_counter() - start
    claimed = sorted(k for keys in won for k in keys)
    if claimed != sorted(f"k{i}" for i in range(n)):
        raise RuntimeError(f"{url}: members claimed twice or not at all")
    return processes * n / wall


def measure(url: str, members: int, processes: int) -> dict[str, float]:
    return {
        "single": round(single(url, members), 1),
        "chunked": round(chunked(url, members * 10), 1),
        "contended": round(contended(url, members, processes), 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000, help="members per workload")
    parser.add_argument("--processes", type=int, default=4, help="claimers in 'contended'")
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a throwaway one)")
    args = parser.parse_args(argv)
    server = None if args.url else PostgresServer.start()
    try:
        pg_url = server.create_database("claims") if server is not None else args.url
        with tempfile.TemporaryDirectory(prefix="reglab-claims-") as tmp:
            sqlite = measure(str(Path(tmp) / "claims.db"), args.members, args.processes)
        postgres = measure(pg_url, args.members, args.processes)
    finally:
        if server is not None:
            server.stop()
    ratio = {k: round(postgres[k] / sqlite[k], 2) for k in sqlite}
    print(f"{'workload':<12}{'SQLite /s':>12}{'PostgreSQL /s':>16}{'ratio':>8}")
    for k in sqlite:
        print(f"{k:<12}{sqlite[k]:>12.0f}{postgres[k]:>16.0f}{ratio[k]:>8.2f}")
    out = {
        "members": args.members,
        "processes": args.processes,
        "sqlite_per_s": sqlite,
        "postgresql_per_s": postgres,
        "ratio": ratio,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
