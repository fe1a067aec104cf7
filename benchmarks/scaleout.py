"""The cost of distribution: a 640-member study locally and on a local Ray cluster, and a model
of a larger cluster built from the measured costs.

The study: Breast Cancer (569 × 30), 64 L2 strengths × 10 folds = 640 members, an MLP with one
hidden layer of 32, 20 epochs without early stopping, batch 64, on the CPU. It runs

* ``local``: the local executor, in this process (the baseline);
* ``ray``: :class:`~reglab.study.ray_executor.RayExecutor` on a cluster started here
  (``tests/ray_cluster.py``: a head without CPUs and ``--workers`` worker nodes of one CPU,
  on loopback), after a small warm-up study that starts the worker processes;
* ``ray-small-tasks``: the same with tasks of ``--small`` members, to price a task;
* ``ray-pg-driver`` and ``ray-pg-workers``: the default tasks with a PostgreSQL store (a
  throwaway server here), first with the driver writing every member
  (``store_writes="driver"``), then with the workers claiming and writing their own
  (``reglab.study.ray_writes``, what a PostgreSQL store gets by default).

Each run is measured in wall time and in **CPU seconds** (this process's, plus the workers'
from ``/proc``, plus the PostgreSQL server's: its postmaster's own and reaped children's time
and its live backends'), because the machine's cores are shared and wall times move with the
load.
The overhead of distribution per member is the extra CPU time over the local run's; the
driver's share (receiving results, writing the store, scheduling) is what bounds a cluster.

The simulated cluster: ``W`` workers, each a core at the measured per-member cost, with one
driver that spends the measured driver time per member, and a PostgreSQL store that takes
the measured claims and writes per second (``benchmarks/store_claims.py``'s workloads on a
throwaway server, plus member writes). The time for ``N`` members is the slowest of the three
pipelines: ``N·(c + o)/W`` (workers; ``c`` the compute, ``o`` the workers' overhead),
``N·d`` (the driver), ``N/s`` (the store: claims in chunks of 100 and one write per member).
The speedup against one local process (``N·c_local``) is printed at 8, 64 and 512 workers, for
this study's members and for members of one CPU second, with a SQLite store (the driver's
writes, inside ``d``, are the only shared cost) and with PostgreSQL, and the number of
workers at which the driver or the store becomes the bottleneck. With the workers writing
PostgreSQL, ``o`` grows by the workers' writes, ``d`` shrinks to counting, and the store's
rate ``s`` is the database server's: one server core over its measured CPU per member
(claims, heartbeats and writes from all workers). The last line printed is one JSON object.

    python benchmarks/scaleout.py                 # a few minutes on a loaded 2-core machine
    python benchmarks/scaleout.py --no-postgres   # without a PostgreSQL server here
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ray_cluster import RayCluster
from reglab.data.builtin import load_builtin
from reglab.store import Store
from reglab.study.executor import Executor
from reglab.study.ray_executor import RayExecutor
from reglab.study.run import Study
from reglab.study.strategies import format_number

WORKERS_AT = (8, 64, 512)
HEAVY_S = 1.0
"""The second per-member compute the model is shown for, in CPU seconds."""


def study(executor: Executor | None = None, n_strengths: int = 64, folds: int = 10) -> Study:
    strengths = np.logspace(-6, -1, n_strengths)
    names = ",".join(f"l2={format_number(float(v))}" for v in strengths)
    return Study(names, hidden=(32,), epochs=20, early_stopping=False, n_splits=folds,
                 batch_size=64, reference="none", device="cpu", executor=executor)  # fmt: skip


def cpu_of(pids: set[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each live process, from ``/proc/PID/stat``."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def server_cpu(server: Any) -> float:
    """CPU seconds of a PostgreSQL server so far: its postmaster's own and its reaped
    children's (``cutime``, ``cstime``), plus its live backends'."""
    tick = os.sysconf("SC_CLK_TCK")
    main = int((server.root / "data" / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == main:
            total += sum(int(f) for f in fields[11:15]) / tick
        elif ppid == main:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run(
    executor: RayExecutor | None,
    tmp: Path,
    label: str,
    url: str | None = None,
    server: Any = None,
) -> dict[str, Any]:
    ds = load_builtin("breast_cancer")
    runner = study(executor)
    plan = runner.plan(ds)
    known = set(executor.workers_) if executor is not None else set()
    before = cpu_of(known)
    database = server_cpu(server) if server is not None else 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    with Store(url or tmp / f"{label}.db") as st:
        writes = executor.writer(st) if executor is not None else "driver"
        runner.run(ds, st, plan=plan)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if server is not None:
        database = server_cpu(server) - database
    workers = 0.0
    if executor is not None:
        after = cpu_of(set(executor.workers_))
        workers = sum(v - before.get(pid, 0.0) for pid, v in after.items())
    n = len(plan.members)
    if runner.trained_ != n:
        raise RuntimeError(f"{label}: trained {runner.trained_} of {n} members")
    return {
        "members": n,
        "writes": writes,
        "wall_s": round(wall, 2),
        "members_per_s": round(n / wall, 1),
        "driver_cpu_s": round(cpu, 2),
        "worker_cpu_s": round(workers, 2),
        "database_cpu_s": round(database, 2),
        "cpu_ms_per_member": round(1000 * (cpu + workers) / n, 2),
        "tasks_rerun": executor.reruns_ if executor is not None else 0,
    }


def start_server() -> Any:
    """A throwaway PostgreSQL server (``None``: no server binaries here)."""
    from postgres_server import PostgresServer, find_binaries

    return None if find_binaries() is None else PostgresServer.start()


def store_rates(tmp: Path, server: Any) -> dict[str, float]:
    """Claims and member writes per second on the throwaway PostgreSQL server."""
    from store_claims import chunked, contended, single

    url = server.create_database("scaleout")
    with Store(tmp / "local.db") as st:
        name = st.list_studies()[0].name
        records = st.load_members(name, with_predictions=True)
        info = st.get_study(name)
    with Store(url) as pg:
        pg.create_study(name, info.config)
        start = time.perf_counter()
        for record in records[:300]:
            pg.save_member(name, record)
        writes = min(300, len(records)) / (time.perf_counter() - start)
    return {
        "claims_single": round(single(url, 300), 1),
        "claims_chunked_members": round(chunked(url, 3000), 1),
        "claims_contended": round(contended(url, 300, 4), 1),
        "member_writes": round(writes, 1),
    }


def model(c_local: float, c: float, o: float, d: float, store: float | None) -> dict[str, Any]:
    """Speedup against one local process at ``WORKERS_AT`` workers, and the bottleneck."""
    per_worker = c + o
    out: dict[str, Any] = {}
    for w in WORKERS_AT:
        limits = {"workers": per_worker / w, "driver": d}
        if store is not None:
            limits["store"] = 1 / store
        slowest = max(limits, key=lambda k: limits[k])
        out[str(w)] = {"speedup": round(c_local / limits[slowest], 1), "bound_by": slowest}
    per_store = 1 / store if store is not None else 0.0
    out["bottleneck_at_workers"] = round(per_worker / max(d, per_store))
    out["bottleneck"] = "driver" if d >= per_store else "store"
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="worker nodes of one CPU")
    parser.add_argument("--small", type=int, default=20, help="members per small task")
    parser.add_argument("--no-postgres", action="store_true", help="skip the store's rates")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reglab-scaleout-") as name:
        tmp = Path(name)
        with Store(tmp / "warm-local.db") as st:  # the same warm-up as the workers get
            study(None, n_strengths=2, folds=args.workers).run(load_builtin("breast_cancer"), st)
        local = run(None, tmp, "local")
        print(f"local: {local}", flush=True)
        server = None if args.no_postgres else start_server()
        cluster = RayCluster.start(workers=args.workers)
        pg: dict[str, dict[str, Any]] = {}
        try:
            executor = RayExecutor(cluster.address)
            with Store(tmp / "warm.db") as st:  # start the workers, import torch there
                study(executor, n_strengths=2, folds=args.workers).run(
                    load_builtin("breast_cancer"), st
                )
            ray = run(executor, tmp, "ray")
            print(f"ray: {ray}", flush=True)
            executor.chunk_members = args.small  # the same workers, smaller tasks
            small = run(executor, tmp, "small")
            print(f"ray, tasks of {args.small}: {small}", flush=True)
            executor.chunk_members = None
            for writes in ("driver", "auto") if server is not None else ():
                executor.store_writes = writes
                url = server.create_database(f"pg_{writes}")
                label = "ray-pg-driver" if writes == "driver" else "ray-pg-workers"
                pg[label] = run(executor, tmp, label, url=url, server=server)
                print(f"{label}: {pg[label]}", flush=True)
        finally:
            import ray as ray_module

            ray_module.shutdown()
            cluster.stop()
        try:
            rates = None if server is None else store_rates(tmp, server)
        finally:
            if server is not None:
                server.stop()
    n = local["members"]
    c_local = local["driver_cpu_s"] / n
    overhead = ray["cpu_ms_per_member"] / 1000 - c_local
    d = ray["driver_cpu_s"] / n
    o = max(0.0, ray["worker_cpu_s"] / n - c_local)
    tasks = {"ray": args.workers, "small": -(-n // args.small)}
    per_task = (
        (small["cpu_ms_per_member"] - ray["cpu_ms_per_member"])
        / 1000
        * n
        / (tasks["small"] - tasks["ray"])
    )
    store = None
    if rates is not None:  # one claim of 100 members per chunk, and one write per member
        store = 1 / (1 / rates["claims_chunked_members"] + 1 / rates["member_writes"])
    pipelines: list[tuple[str, float, float, float | None]] = [("SQLite", o, d, None)]
    if store is not None:  # the driver writes PostgreSQL: its rate from one process, serially
        pipelines.append(("PostgreSQL, the driver writes", o, d, store))
    workers_pg = pg.get("ray-pg-workers")
    if workers_pg is not None:  # the workers write: the server's CPU per member binds
        o_w = max(0.0, workers_pg["worker_cpu_s"] / n - c_local)
        d_w = workers_pg["driver_cpu_s"] / n
        db = workers_pg["database_cpu_s"] / n
        pipelines.append(("PostgreSQL, the workers write", o_w, d_w, 1 / db if db else None))
    models = {  # SQLite: the driver's own writes are in d; PostgreSQL: the server's rates too
        f"{store_name}, {title}": model(c, c, o_, d_, rate)
        for store_name, o_, d_, rate in pipelines
        for title, c in (("this study's members", c_local), ("1 s members", HEAVY_S))
    }
    print(f"\n{'run':<22}{'wall s':>8}{'CPU ms/member':>15}{'driver ms/member':>18}")
    shown = [("local", local), ("ray", ray), (f"ray, tasks of {args.small}", small),
             *pg.items()]  # fmt: skip
    for label, r in shown:
        print(f"{label:<22}{r['wall_s']:>8.1f}{r['cpu_ms_per_member']:>15.2f}"
              f"{1000 * r['driver_cpu_s'] / n:>18.2f}")  # fmt: skip
    if len(pg) == 2:
        a, b = pg["ray-pg-driver"], pg["ray-pg-workers"]
        print(f"PostgreSQL, workers write / driver writes: driver CPU per member "
              f"{b['driver_cpu_s'] / a['driver_cpu_s']:.2f}, members/s "
              f"{b['members_per_s'] / a['members_per_s']:.2f}, database CPU ms per member "
              f"{1000 * a['database_cpu_s'] / n:.2f} → "
              f"{1000 * b['database_cpu_s'] / n:.2f}")  # fmt: skip
    print(f"overhead of distribution: {1000 * overhead:.2f} CPU ms per member "
          f"(ratio ray / local CPU {ray['cpu_ms_per_member'] / (1000 * c_local):.2f}), "
          f"{1000 * per_task:.0f} CPU ms per task")  # fmt: skip
    if rates is not None:
        print(f"PostgreSQL: {rates}")
    for title, m in models.items():
        cells = ", ".join(f"{w} workers {m[str(w)]['speedup']}x ({m[str(w)]['bound_by']})"
                          for w in WORKERS_AT)  # fmt: skip
        print(f"model, {title}: {cells}; the {m['bottleneck']} binds from about "
              f"{m['bottleneck_at_workers']:,} workers")  # fmt: skip
    out = {
        "members": n,
        "workers": args.workers,
        "local": local,
        "ray": ray,
        "ray_small_tasks": {**small, "members_per_task": args.small},
        **{label.replace("-", "_"): r for label, r in pg.items()},
        "ratio_pg_workers_over_driver": (
            {
                "driver_cpu": round(
                    pg["ray-pg-workers"]["driver_cpu_s"] / pg["ray-pg-driver"]["driver_cpu_s"], 3
                ),
                "members_per_s": round(
                    pg["ray-pg-workers"]["members_per_s"] / pg["ray-pg-driver"]["members_per_s"],
                    2,
                ),
            }
            if len(pg) == 2
            else None
        ),
        "overhead_cpu_ms_per_member": round(1000 * overhead, 2),
        "ratio_ray_over_local_cpu": round(ray["cpu_ms_per_member"] / (1000 * c_local), 2),
        "ratio_ray_over_local_wall": round(ray["wall_s"] / local["wall_s"], 2),
        "cpu_ms_per_task": round(1000 * per_task, 1),
        "driver_cpu_ms_per_member": round(1000 * d, 3),
        "postgresql_per_s": rates,
        "compute_ms_per_member": round(1000 * c_local, 2),
        "model": models,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
