"""The engine's memory estimate against the measured peak, for a range of plans.

Each configuration trains in a fresh interpreter: the data and members are built, the peak
resident set is reset (``/proc/self/clear_refs``), ``train_members`` runs, and the peak
(``VmHWM``) minus the resident set before training is what training used. The estimate is
:func:`reglab.engine.plan.check_memory`'s ``total_bytes`` (largest chunk, results and the
fixed overhead); it must be an upper bound, within about 2× of the measurement. Linux only.
``copies_mib`` is the part of the estimate for the weight copies that the members' techniques
keep (snapshots, Lookahead's slow weights, SWA's mean: :func:`reglab.engine.plan.weight_copies`).

    python benchmarks/engine_memory.py                       # every configuration
    python benchmarks/engine_memory.py w1 one-big --budget 64
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CONFIGS: dict[str, dict[str, Any]] = {
    # rows, features, classes, hidden, members, batch, epochs, strategy, validation rows
    "w1": dict(n=2000, f=50, c=7, hidden=(50, 25), m=40, batch=32, epochs=10, val=0),
    "w1-es-dropout": dict(
        n=2000, f=50, c=7, hidden=(50, 25), m=40, batch=32, epochs=10, val=300,
        strategy={"dropout": 0.3, "input_dropout": 0.1},
    ),
    "one-big": dict(n=2000, f=50, c=7, hidden=(2048, 2048), m=1, batch=64, epochs=2, val=300),
    "dropconnect-512": dict(
        n=2000, f=50, c=7, hidden=(512, 256), m=8, batch=32, epochs=2, val=300,
        strategy={"drop_connect": 0.3, "max_norm": 2.0},
    ),
    "batch-norm": dict(
        n=3000, f=50, c=7, hidden=(512, 512), m=8, batch=64, epochs=3, val=500,
        strategy={"dropout": 0.2}, batch_norm=True,
    ),
    "regression": dict(
        n=20000, f=30, c=1, hidden=(128, 64), m=20, batch=128, epochs=3, val=3000,
        strategy={"l2": 1e-3}, task="regression",
    ),
    "big-data": dict(
        n=200000, f=100, c=2, hidden=(64,), m=4, batch=256, epochs=2, val=40000,
        strategy={"l1": 1e-4},
    ),
    "dropout-256": dict(
        n=6000, f=50, c=7, hidden=(256, 256), m=40, batch=32, epochs=2, val=1000,
        strategy={"dropout": 0.5, "input_dropout": 0.2},
    ),
    "batch-above-rows": dict(
        n=300, f=50, c=7, hidden=(50, 25), m=1, batch=10**6, epochs=100, val=0
    ),
    "many-small": dict(
        n=3000, f=20, c=3, hidden=(16,), m=400, batch=64, epochs=3, val=500,
        strategy={"l2": 1e-3},
    ),
    # weight copies kept by trajectory and averaging techniques (generic backend)
    "generic-512": dict(
        n=1000, f=50, c=7, hidden=(512, 512), m=8, batch=100, epochs=5, val=200,
        terms="input-noise=0.01",
    ),
    "snapshot-5": dict(
        n=1000, f=50, c=7, hidden=(512, 512), m=8, batch=100, epochs=5, val=200,
        terms="snapshot=5",
    ),
    "snapshot-10": dict(
        n=1000, f=50, c=7, hidden=(512, 512), m=8, batch=100, epochs=10, val=200,
        terms="snapshot=10",
    ),
    "lookahead": dict(
        n=1000, f=50, c=7, hidden=(512, 512), m=8, batch=100, epochs=5, val=200,
        terms="lookahead",
    ),
    "swa": dict(
        n=1000, f=50, c=7, hidden=(512, 512), m=8, batch=100, epochs=5, val=200, terms="swa=1",
    ),
    "sparse-vd": dict(
        n=1000, f=50, c=7, hidden=(512, 512), m=8, batch=100, epochs=5, val=200,
        terms="sparse-vd",
    ),
    "learned-dropout": dict(
        n=1000, f=50, c=7, hidden=(512, 512), m=8, batch=100, epochs=5, val=200,
        terms="learned-dropout",
    ),
    "pgd": dict(
        n=1000, f=50, c=7, hidden=(512, 512), m=8, batch=100, epochs=5, val=200,
        terms="pgd=0.1",
    ),
}  # fmt: skip


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def measure(name: str, budget_mb: float) -> dict[str, Any]:
    """Train configuration ``name`` in this process; return the estimate and the measurement."""
    import numpy as np

    from reglab.engine import Architecture, MemberSpec, Strategy, TrainConfig, train_members
    from reglab.engine.family import family_of
    from reglab.engine.parametrize import parametrized
    from reglab.engine.plan import check_memory, plan_chunks, weight_copies
    from reglab.study.strategies import parse_strategy

    cfg = CONFIGS[name]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(cfg["n"], cfg["f"])).astype(np.float32)
    task = cfg.get("task", "multiclass")
    y = rng.normal(size=cfg["n"]) if task == "regression" else rng.integers(0, cfg["c"], cfg["n"])
    idx = np.arange(cfg["n"])
    n_val, n_test = cfg["val"], cfg["n"] // 5
    n_train = cfg["n"] - n_val - n_test
    arch = Architecture(
        cfg["f"], cfg["c"], hidden=cfg["hidden"], batch_norm=cfg.get("batch_norm", False), task=task
    )
    train = TrainConfig(
        epochs=cfg["epochs"], batch_size=cfg["batch"], patience=5 if n_val else None
    )
    specs = [
        MemberSpec(
            arch,
            parse_strategy(cfg["terms"]) if "terms" in cfg else Strategy(**cfg.get("strategy", {})),
            train,
            idx[:n_train],
            idx[n_train : n_train + n_val],
            idx[-n_test:],
            seed=i,
        )
        for i in range(cfg["m"])
    ]
    data = {0: (x, y)}
    estimate = check_memory(specs, data, budget_mb)
    size = parametrized(family_of(arch).layout(arch), specs[0].strategy).size
    largest = max(len(c) for c in plan_chunks(specs, data, budget_mb))
    copies = weight_copies(specs[0]) * 4 * size * largest  # part of the estimate
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    before = _status("VmRSS:")
    start = time.perf_counter()
    results = train_members(specs, data, device="cpu", memory_budget_mb=budget_mb)
    wall = time.perf_counter() - start
    used = _status("VmHWM:") - before
    return {
        "config": name,
        "members": cfg["m"],
        "budget_mib": budget_mb,
        "chunks": estimate.chunks,
        "wall_s": round(wall, 2),
        "used_mib": round(used / 2**20, 1),
        "estimate_mib": round(estimate.total_bytes / 2**20, 1),
        "ratio": round(estimate.total_bytes / max(used, 1), 2),
        "copies_mib": round(copies / 2**20, 1),
        "ok": all(r.ok for r in results),
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", help=f"of {', '.join(CONFIGS)} (default: all)")
    parser.add_argument("--budget", type=float, default=1024.0, help="memory_budget_mb (1024)")
    parser.add_argument("--in-process", action="store_true", help="measure here (one config)")
    args = parser.parse_args(argv)
    names = args.configs or list(CONFIGS)
    if args.in_process:
        out = [measure(name, args.budget) for name in names]
        print(json.dumps(out[0] if len(out) == 1 else out))
        return out
    rows = []
    for name in names:
        cmd = [sys.executable, __file__, name, "--budget", str(args.budget), "--in-process"]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{name:18} {row['members']:4} members {row['chunks']:3} chunks  "
            f"used {row['used_mib']:8.1f} MiB  estimate {row['estimate_mib']:8.1f} MiB  "
            f"×{row['ratio']:.2f}  {row['wall_s']:.2f} s"
        )
    print(json.dumps(rows))
    return rows


if __name__ == "__main__":
    main()
