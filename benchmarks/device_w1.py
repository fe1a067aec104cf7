"""W1 scaled to 1,000 members on a GPU against the CPU engine, in the same invocation.

W1's 8 strategies × 5 folds, repeated with ``--repeats`` member seeds (25 by default: 1,000
members; ``_w1.members(repeats=)``), MLP 50-25-7, Adam 1e-3, batch 32, no early stopping. The
engine trains them on ``--device`` (default ``cuda``) and on the CPU; the CPU side trains the
first ``--cpu-members`` of them (all by default) and its time is scaled by
``members / cpu_members`` when it trains fewer, which the output says. The results of the
members both sides trained are compared: the largest difference of a member's test accuracy,
and of a strategy's mean accuracy.

The last line printed is one JSON object: ``device``, ``members``, ``epochs``,
``device_s``, ``cpu_s`` (for all members, scaled when measured on fewer), ``ratio``
(``cpu_s / device_s``), ``members_per_s`` on each side, ``max_member_acc_gap`` and
``max_strategy_acc_gap``. Without the device it prints why and exits 2.

    python benchmarks/device_w1.py                                  # 1,000 members, 100 epochs
    python benchmarks/device_w1.py --epochs 20 --cpu-members 200    # shorter
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _w1 import EPOCHS, dataset, members
from reglab.engine import train_members


def timed(specs: list, x: np.ndarray, y: np.ndarray, device: str) -> tuple[float, list[float]]:
    """Wall seconds and each member's test accuracy, trained on ``device``."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    results = train_members(specs, {0: (x, y)}, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    bad = [r.error for r in results if not r.ok]
    if bad:
        raise RuntimeError(f"{len(bad)} members failed on {device}: {bad[0]}")
    return wall, [float(r.test_scores["accuracy"]) for r in results]


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the accelerator (cuda, cuda:N)")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs (100)")
    parser.add_argument("--repeats", type=int, default=25, help="W1 copies (25: 1,000 members)")
    parser.add_argument("--cpu-members", type=int, default=0, help="CPU side's members (0: all)")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"device_w1: no CUDA device here; --device {args.device} needs one", file=sys.stderr)
        raise SystemExit(2)

    x, y = dataset()
    specs = members(x, y, epochs=args.epochs, repeats=args.repeats)
    n = len(specs)
    n_cpu = min(n, args.cpu_members or n)
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    print(f"{n} members × {args.epochs} epochs on {args.device} ({name}) and the CPU engine")

    warm = members(x, y, epochs=1)[:8]  # start-up (CUDA context, kernels) is not timed
    timed(warm, x, y, args.device)
    timed(warm, x, y, "cpu")
    device_s, device_acc = timed(specs, x, y, args.device)
    print(f"{args.device}: {device_s:.2f} s ({n / device_s:.1f} members/s)")
    cpu_part, cpu_acc = timed(specs[:n_cpu], x, y, "cpu")
    cpu_s = cpu_part * n / n_cpu
    scaled = f", scaled from {n_cpu} members ({cpu_part:.2f} s)" if n_cpu < n else ""
    print(f"cpu ({torch.get_num_threads()} threads): {cpu_s:.2f} s{scaled}")

    gaps = np.abs(np.array(device_acc[:n_cpu]) - np.array(cpu_acc))
    by_strategy: dict[str, tuple[list[float], list[float]]] = {}
    for spec, a, b in zip(specs, device_acc, cpu_acc, strict=False):
        pair = by_strategy.setdefault(spec.strategy.name, ([], []))
        pair[0].append(a)
        pair[1].append(b)
    strategy_gap = max(abs(np.mean(a) - np.mean(b)) for a, b in by_strategy.values())
    print(
        f"ratio: {cpu_s / device_s:.1f}× (cpu / {args.device}); largest accuracy gap "
        f"{100 * gaps.max():.2f} points per member, {100 * strategy_gap:.2f} per strategy"
    )
    out: dict[str, object] = {
        "workload": "W1 × repeats",
        "device": args.device,
        "device_name": name,
        "members": n,
        "epochs": args.epochs,
        "cpu_members": n_cpu,
        "cpu_threads": torch.get_num_threads(),
        "device_s": round(device_s, 3),
        "cpu_s": round(cpu_s, 3),
        "ratio": round(cpu_s / device_s, 2),
        "device_members_per_s": round(n / device_s, 2),
        "cpu_members_per_s": round(n / cpu_s, 2),
        "max_member_acc_gap": round(float(gaps.max()), 4),
        "max_strategy_acc_gap": round(float(strategy_gap), 4),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
