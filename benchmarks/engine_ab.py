"""A/B timing of the engine on W1: this tree's ``src`` against another, runs interleaved.

The shared machine's speed moves by tens of percent within minutes, so two versions of the
engine compare fairly only when their runs alternate in the same minutes and are measured in
CPU time rather than wall time. Each run is a fresh subprocess that imports ``reglab`` from one
``src`` folder and trains W1's 40 members (``_w1.py``, from this folder for both sides) for
``--epochs`` epochs. It reports its wall time, the process's CPU time (training thread and
the thread that draws the next epoch), the training thread's own CPU time, and a digest of
every member's weights, test predictions and curves: the two sides' digests agree when a
change keeps the results bit for bit.

    git archive <commit> src | tar -x -C /tmp/base                 # the baseline's sources
    python benchmarks/engine_ab.py --baseline /tmp/base/src --epochs 10 --rounds 6

The last line printed is one JSON object: per side the medians of ``wall_s``, ``cpu_s`` and
``train_thread_s``, ``speedup`` (the baseline's median process CPU time over this tree's) and
``identical`` (whether every run of both sides gave the same digest).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
THIS_SRC = HERE.parent / "src"


def child(src: str, epochs: int) -> dict[str, object]:
    """One timed W1 run of the engine imported from ``src`` (in this process)."""
    sys.path.insert(0, str(Path(src).resolve()))
    sys.path.insert(1, str(HERE))
    import numpy as np

    from _w1 import dataset, members
    from reglab.engine import train_members

    x, y = dataset()
    specs = members(x, y, epochs=epochs)
    thread = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    before = resource.getrusage(thread)
    cpu, wall = time.process_time(), time.perf_counter()
    results = train_members(specs, {0: (x, y)}, device="cpu")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = resource.getrusage(thread)
    digest = hashlib.sha256()
    for result in results:
        for name in sorted(result.weights):
            digest.update(np.ascontiguousarray(result.weights[name]).tobytes())
        digest.update(np.ascontiguousarray(result.test_pred).tobytes())
        digest.update(json.dumps(result.curves, sort_keys=True).encode())
    train = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "train_thread_s": round(train, 3),
        "digest": digest.hexdigest()[:16],
    }


def run_side(src: Path, epochs: int) -> dict[str, object]:
    """Run :func:`child` in a fresh interpreter (nothing imported or cached is shared)."""
    cmd = [sys.executable, __file__, "--child", str(src), "--epochs", str(epochs)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="the other version's src folder (with reglab/)")
    parser.add_argument("--epochs", type=int, default=10, help="W1 epochs per run (10)")
    parser.add_argument("--rounds", type=int, default=5, help="runs per side, alternating (5)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = child(args.child, args.epochs)
        print(json.dumps(out))
        return out
    if args.baseline is None or not (Path(args.baseline) / "reglab" / "__init__.py").exists():
        parser.error(f"--baseline must be a src folder holding reglab/; got {args.baseline!r}")
    if args.epochs < 1 or args.rounds < 1:
        parser.error("--epochs and --rounds must be at least 1")
    sides = {"this": THIS_SRC, "baseline": Path(args.baseline)}
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in sides}
    for r in range(args.rounds):
        order = list(sides) if r % 2 == 0 else list(sides)[::-1]
        for name in order:
            run = run_side(sides[name], args.epochs)
            runs[name].append(run)
            print(f"round {r + 1} {name:8s} " + " ".join(f"{k}={v}" for k, v in run.items()))
    summary: dict[str, object] = {"workload": "W1", "epochs": args.epochs, "rounds": args.rounds}
    for name, side in runs.items():
        summary[name] = {
            key: statistics.median(float(str(run[key])) for run in side)
            for key in ("wall_s", "cpu_s", "train_thread_s")
        }
    this, base = summary["this"], summary["baseline"]
    assert isinstance(this, dict) and isinstance(base, dict)
    summary["speedup"] = round(base["cpu_s"] / this["cpu_s"], 3)
    summary["train_thread_speedup"] = round(base["train_thread_s"] / this["train_thread_s"], 3)
    summary["identical"] = len({run["digest"] for side in runs.values() for run in side}) == 1
    print(
        f"process CPU: {this['cpu_s']:.2f} s against {base['cpu_s']:.2f} s "
        f"({summary['speedup']}×); training thread {this['train_thread_s']:.2f} s against "
        f"{base['train_thread_s']:.2f} s; results identical: {summary['identical']}"
    )
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
