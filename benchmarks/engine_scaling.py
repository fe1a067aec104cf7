"""How well the engine uses the machine: fraction of matmul peak on W1, and scaling in members.

1. **Peak**: GFLOP/s of a large ``torch.mm`` (2048², float32) with torch's threads and with one.
2. **W1 efficiency**: the engine on W1 (40 members); useful FLOPs are the forward and backward
   matrix products of every member and step (no gradient for the input), divided by the wall
   time, as a fraction of the peak. A ``torch.profiler`` pass over a few epochs splits the time
   of one training step into matrix products, the optimizer, penalties and the rest.
3. **Scaling**: wall time of W1-shaped stacks of 8, 40, 160 and 640 members (W1's members
   repeated with other seeds), and the training time per member-epoch (from runs of ``E`` and
   ``2E`` epochs, so that the once-per-member costs cancel); it falls until the core is
   saturated.

The last line printed is one JSON object with all numbers.

    python benchmarks/engine_scaling.py          # W1 in full; scaling runs of 10 and 20 epochs
    python benchmarks/engine_scaling.py --epochs 5 --sizes 8,40 --threads auto
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _w1 import BATCH, HIDDEN, STRATEGIES, dataset, members
from reglab.engine import MemberSpec, train_members
from reglab.engine.streams import batch_pattern

GROUPS = {
    "matrix products": ("aten::bmm", "aten::baddbmm", "aten::mm", "aten::addmm"),
    "optimizer": ("aten::_fused_adam_", "aten::addcmul_", "aten::zero_"),
    "penalty gradient": ("aten::sign", "aten::mul_"),
    "batch gather": ("aten::index_select",),
    "loss": ("aten::_log_softmax", "aten::exp", "aten::sub_"),
    "activations": ("aten::clamp_min", "aten::threshold_backward"),
    "reductions": ("aten::sum",),
}


def matmul_peak(threads: int, size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of ``torch.mm`` on two ``size²`` float32 matrices with ``threads`` threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        torch.mm(a, b)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - start)
        return 2 * size**3 / best / 1e9
    finally:
        torch.set_num_threads(before)


def member_flops(spec: MemberSpec) -> int:
    """FLOPs of one epoch of one member: forward and backward matrix products."""
    sizes = spec.arch.layer_sizes
    n = len(spec.train_idx)
    forward = sum(2 * a * b for a, b in itertools.pairwise(sizes))
    weight_grads = forward
    input_grads = sum(2 * a * b for a, b in itertools.pairwise(sizes[1:]))
    return n * (forward + weight_grads + input_grads)


def w1_efficiency(epochs: int, peak: float) -> dict[str, object]:
    x, y = dataset()
    specs = members(x, y, epochs=epochs)
    start = time.perf_counter()
    train_members(specs, {0: (x, y)}, device="cpu")
    wall = time.perf_counter() - start
    flops = epochs * sum(member_flops(s) for s in specs)
    return {
        "epochs": epochs,
        "wall_s": round(wall, 3),
        "gflop": round(flops / 1e9, 2),
        "gflops_per_s": round(flops / wall / 1e9, 2),
        "fraction_of_peak": round(flops / wall / 1e9 / peak, 4),
    }


def step_breakdown(epochs: int = 3) -> dict[str, float]:
    """Share of the profiled CPU time of W1's training, by kind of operation."""
    from torch.profiler import ProfilerActivity, profile

    x, y = dataset()
    specs = members(x, y, epochs=epochs)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train_members(specs, {0: (x, y)}, device="cpu")
    totals: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        if not event.key.startswith("aten::"):
            continue
        group = next((g for g, names in GROUPS.items() if event.key in names), "other ops")
        totals[group] += event.self_cpu_time_total
    whole = sum(totals.values())
    return {g: round(v / whole, 3) for g, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def _timed(specs: list[MemberSpec], data: dict[int, tuple], threads: int | None) -> float:
    start = time.perf_counter()
    train_members(specs, data, device="cpu", num_threads=threads)
    return time.perf_counter() - start


def scaling(sizes: list[int], epochs: int, threads: int | None) -> list[dict[str, float]]:
    """Wall time of ``epochs`` epochs per stack size, and the training cost per member-epoch.

    A run also pays once per member (initialization, scoring with scikit-learn); training
    throughput is the difference between a run of ``2·epochs`` and one of ``epochs`` epochs.
    """
    x, y = dataset()
    data = {0: (x, y)}
    repeats = max(1, -(-max(sizes) // 40))
    short = members(x, y, epochs=epochs, repeats=repeats)
    long = members(x, y, epochs=2 * epochs, repeats=repeats)
    out = []
    for size in sizes:
        if len({(s.stack_key, batch_pattern(s)) for s in short[:size]}) != 1:
            raise RuntimeError("the scaling members must form one stack")
        wall = _timed(short[:size], data, threads)
        wall_long = _timed(long[:size], data, threads)
        per = 1e3 * (wall_long - wall) / size / epochs
        out.append(
            {
                "members": size,
                "wall_s": round(wall, 3),
                "wall_s_double_epochs": round(wall_long, 3),
                "ms_per_member_epoch": round(per, 3),
            }
        )
        print(
            f"{size:4d} members: {wall:7.2f} s for {epochs} epochs, {wall_long:7.2f} s for ", end=""
        )
        print(f"{2 * epochs}; training {per:.3f} ms per member-epoch")
    return out


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="scaling: epochs E (10)")
    parser.add_argument("--w1-epochs", type=int, default=100, help="epochs of the W1 run (100)")
    parser.add_argument("--sizes", default="8,40,160,640", help="stack sizes")
    parser.add_argument(
        "--threads", default="auto,2", help="thread settings of the scaling runs (auto: engine)"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    threads = torch.get_num_threads()
    peak = {
        "threads": threads,
        "gflops": round(matmul_peak(threads), 1),
        "gflops_1_thread": round(matmul_peak(1), 1),
    }
    print(f"matmul peak: {peak['gflops']} GFLOP/s ({threads} threads), ", end="")
    print(f"{peak['gflops_1_thread']} GFLOP/s (1 thread)")
    w1 = w1_efficiency(args.w1_epochs, float(peak["gflops"]))
    w1["fraction_of_1_thread_peak"] = round(
        float(w1["gflops_per_s"]) / float(peak["gflops_1_thread"]), 4
    )
    print(f"W1: {w1['gflops_per_s']} GFLOP/s = {100 * float(w1['fraction_of_peak']):.1f}% of peak")
    breakdown = step_breakdown()
    print("time by operation:", ", ".join(f"{k} {100 * v:.0f}%" for k, v in breakdown.items()))
    runs = {}
    for setting in args.threads.split(","):
        n = None if setting == "auto" else int(setting)
        print(f"scaling, threads={setting}:")
        runs[setting] = scaling(sizes, args.epochs, n)
    out = {
        "peak": peak,
        "w1": w1,
        "breakdown": breakdown,
        "scaling": runs,
        "workload": {"hidden": HIDDEN, "batch": BATCH, "strategies": len(STRATEGIES)},
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
