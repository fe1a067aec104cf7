"""What the engine's epoch reports cost on W1, and that they change no bits.

``train_members`` calls the listener in effect (:mod:`reglab.engine.progress`) once per epoch
of each stack chunk. This trains W1's 40 members (``_w1.py``) for ``--epochs`` epochs, in
rounds that alternate a run without a listener (the baseline) and one with the listener the
command line uses (:class:`reglab.cli.progress.TrainingProgress`, writing to a log), in the
same process and minutes, and compares the training thread's CPU time (the shared machine's
speed moves within minutes; CPU time of interleaved runs is the fair comparison). It also
times the report itself: building one :class:`~reglab.engine.progress.EpochDone` and the
command line's listener hearing it, 100,000 times, against one W1 epoch.

    python benchmarks/progress_overhead.py --epochs 20 --rounds 3

The last line is one JSON object: ``ratio`` (median CPU time with the listener over without),
``per_call_us``, ``epoch_ms`` (a W1 epoch's CPU time), ``share`` (the calls' part of an epoch)
and ``identical`` (every member's weights, predictions and curves the same in every run).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _w1


def _digest(results: list[Any]) -> str:
    h = hashlib.sha256()
    for r in results:
        for name in sorted(r.weights):
            h.update(r.weights[name].tobytes())
        h.update(r.test_pred.tobytes())
        h.update(json.dumps(r.curves, sort_keys=True).encode())
    return h.hexdigest()


def _run(specs: list[Any], data: Any, heard: bool) -> tuple[float, str]:
    from rich.console import Console

    from reglab.cli.progress import TrainingProgress
    from reglab.engine import train_members

    log = Console(file=io.StringIO(), force_terminal=False)
    progress = TrainingProgress(log)
    start = time.thread_time()
    if heard:
        with progress:
            progress.expect(sum(s.train.epochs for s in specs), len(specs))
            results = train_members(specs, data, device="cpu", progress=progress.members)
    else:
        results = train_members(specs, data, device="cpu")
    return time.thread_time() - start, _digest(results)


def _per_call_us(n: int = 100_000) -> float:
    """Seconds per report, in µs: an :class:`EpochDone` built and heard by the command
    line's listener (a log console: its clock, fraction and throttle; a line now and then)."""
    from rich.console import Console

    from reglab.cli.progress import TrainingProgress
    from reglab.engine.progress import EpochDone

    progress = TrainingProgress(Console(file=io.StringIO(), force_terminal=False))
    with progress:
        progress.expect(40 * n, 40)
        start = time.perf_counter()
        for epoch in range(1, n + 1):
            progress.epoch(EpochDone(epoch, n, 40, 40, 40, 40 * n, 0.01))
        seconds = time.perf_counter() - start
    return seconds / n * 1e6


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    x, y = _w1.dataset()
    specs = _w1.members(x, y, epochs=args.epochs)
    data = {0: (x, y)}
    quiet, heard, digests = [], [], set()
    for _ in range(args.rounds):
        for listen, times in ((False, quiet), (True, heard)):
            seconds, digest = _run(specs, data, listen)
            times.append(seconds)
            digests.add(digest)
    base, with_listener = statistics.median(quiet), statistics.median(heard)
    per_call = _per_call_us()
    epoch_ms = base / args.epochs * 1e3
    row = {
        "epochs": args.epochs,
        "rounds": args.rounds,
        "without_s": round(base, 3),
        "with_s": round(with_listener, 3),
        "ratio": round(with_listener / base, 3),
        "per_call_us": round(per_call, 2),
        "epoch_ms": round(epoch_ms, 1),
        "share": float(f"{per_call / 1e3 / epoch_ms:.2g}"),
        "identical": len(digests) == 1,
    }
    print(
        f"W1, 40 members x {args.epochs} epochs, {args.rounds} interleaved rounds: "
        f"CPU {base:.2f} s without a listener, {with_listener:.2f} s with one "
        f"(x{row['ratio']:.3f}); a report costs {per_call:.2f} us, "
        f"{row['share']:.1e} of a {epoch_ms:.0f} ms epoch; identical: {row['identical']}"
    )
    print(json.dumps(row))
    return row


if __name__ == "__main__":
    main()
