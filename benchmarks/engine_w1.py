"""Benchmark W1: the engine against the plain PyTorch loop, in the same invocation.

W1 (see ``_w1.py``): 8 strategies × 5 stratified folds = 40 members, MLP 50-25-7 (ReLU), Adam
1e-3, batch 32, 100 epochs, no early stopping. The engine trains all 40 members at once; the
loop is ``../shared/peers/torch_loop.py`` (run as a subprocess, one model after another) or,
without that folder, ``_baseline.py``, the same loop. ``--epochs N`` shortens both alike.

The engine runs ``--repeats`` times (default 2; its results are identical every time) and its
fastest run counts, which keeps a passing load on the shared cores from deciding the ratio;
the loop, about a hundred times longer, runs once. The last line printed is one JSON object:
``engine_s``, ``loop_s``, ``speedup`` (loop_s / engine_s), ``engine_acc`` and ``loop_acc``
(strategy → mean fold accuracy), ``max_acc_gap``.

    python benchmarks/engine_w1.py                 # the full workload (about 3 minutes)
    python benchmarks/engine_w1.py --epochs 10     # quick
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _w1 import EPOCHS, PEERS, STRATEGIES, dataset, members
from reglab.engine import train_members

HERE = Path(__file__).resolve().parent


def run_engine(
    epochs: int, names: list[str], device: str, backend: str = "auto"
) -> tuple[float, dict[str, float]]:
    """Train W1 through the engine; return wall seconds and mean fold accuracy per strategy."""
    x, y = dataset()
    specs = members(x, y, epochs=epochs, strategies=names)
    start = time.perf_counter()
    results = train_members(specs, {0: (x, y)}, device=device, backend=backend)
    wall = time.perf_counter() - start
    accs: dict[str, list[float]] = {}
    for spec, result in zip(specs, results, strict=True):
        if not result.ok:
            raise RuntimeError(f"member {spec.strategy.name} failed: {result.error}")
        accs.setdefault(spec.strategy.name, []).append(result.test_scores["accuracy"])
    return wall, {name: float(np.mean(v)) for name, v in accs.items()}


def run_loop(epochs: int, names: list[str]) -> tuple[float, dict[str, float], str]:
    """Run the plain loop as a subprocess; return its wall seconds, accuracies and name."""
    peer = PEERS / "torch_loop.py"
    script = peer if peer.exists() else HERE / "_baseline.py"
    cmd = [sys.executable, str(script), ",".join(names), str(epochs)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    acc = {name: float(v[0]) for name, v in report["acc"].items()}
    label = "../shared/peers/torch_loop.py" if script == peer else "benchmarks/_baseline.py"
    return float(report["wall_s"]), acc, label


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs for both (100)")
    parser.add_argument("--strategies", default="all", help="comma-separated W1 strategies")
    parser.add_argument("--device", default="auto", help="engine device (auto, cpu, cuda)")
    parser.add_argument("--skip-loop", action="store_true", help="time the engine only")
    parser.add_argument(
        "--backend",
        default="auto",
        help="engine backend(s), comma-separated: auto (the fused path for W1), fused, or "
        "generic (autograd); several share one loop run, e.g. auto,generic",
    )
    parser.add_argument(
        "--repeats", type=int, default=2, help="engine runs; the fastest counts (results agree)"
    )
    args = parser.parse_args(argv)
    names = list(STRATEGIES) if args.strategies == "all" else args.strategies.split(",")

    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    bad = [b for b in backends if b not in ("auto", "fused", "generic")]
    if bad or not backends:
        parser.error(f"--backend must list auto, fused or generic; got {args.backend!r}")
    size = f"{len(names) * 5} members × {args.epochs} epochs"
    timed: dict[str, tuple[float, dict[str, float]]] = {}
    for backend in backends:
        runs = [
            run_engine(args.epochs, names, args.device, backend)
            for _ in range(max(1, args.repeats))
        ]
        timed[backend] = min(runs, key=lambda r: r[0])
        if any(acc != timed[backend][1] for _, acc in runs):
            raise RuntimeError("engine runs with the same seeds gave different accuracies")
        times = ", ".join(f"{t:.2f}" for t, _ in runs)
        print(f"engine ({backend}): {timed[backend][0]:.2f} s for {size} ({times})")
    engine_s, engine_acc = timed[backends[0]]
    out: dict[str, object] = {
        "workload": "W1",
        "backend": backends[0],
        "epochs": args.epochs,
        "members": len(names) * 5,
        "torch_threads": torch.get_num_threads(),
        "engine_s": round(engine_s, 3),
        "engine_acc": {k: round(v, 4) for k, v in engine_acc.items()},
    }
    if not args.skip_loop:
        loop_s, loop_acc, label = run_loop(args.epochs, names)
        print(f"loop ({label}): {loop_s:.2f} s")
        out.update(
            loop=label,
            loop_s=round(loop_s, 3),
            loop_acc={k: round(v, 4) for k, v in loop_acc.items()},
        )
        per_backend = {}
        for backend, (seconds, acc) in timed.items():
            gap = max(abs(acc[k] - loop_acc[k]) for k in names)
            per_backend[backend] = {
                "engine_s": round(seconds, 3), "speedup": round(loop_s / seconds, 2),
                "max_acc_gap": round(gap, 4),
            }  # fmt: skip
            print(f"{backend}: speedup {loop_s / seconds:.1f}×, largest accuracy gap "
                  f"{100 * gap:.2f} points")  # fmt: skip
        first = per_backend[backends[0]]
        out.update(speedup=first["speedup"], max_acc_gap=first["max_acc_gap"], backends=per_backend)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
