"""Benchmark: a 20-strength L2 path × 5 folds on W1, reglab against the plain PyTorch loop.

reglab: ``reglab.path`` on W1's data and model (MLP 50-25-7, Adam 1e-3, batch 32, no early
stopping), ``l2`` at 20 log-spaced strengths 1e-6–1e-1 plus ``none``: 105 members in one
study, as stacks, with its preprocessing, in-memory store and analysis included. The loop:
the same 105 fits one after another, the usual hand-written way (``_baseline.fit``), in this
invocation. ``--epochs N`` shortens both alike; ``--loop-fits K`` times only the first K loop
fits and extrapolates (said in the output). The last line is one JSON object: ``reglab_s``,
``loop_s``, ``speedup``, ``best`` and ``one_se`` (the chosen strengths), ``loop_best``.

    python benchmarks/path_w1.py                  # the full path (about 5 minutes here)
    python benchmarks/path_w1.py --epochs 20
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reglab
from _baseline import build, fit
from _w1 import BATCH, EPOCHS, FOLDS, HIDDEN, dataset

GRID = "1e-6:1e-1:20"


def run_loop(strengths: list[float], epochs: int, limit: int | None) -> tuple[float, dict]:
    x_np, y_np = dataset()
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    torch.manual_seed(0)
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=42).split(x_np, y_np))
    jobs = [(l2, tr, te) for l2 in strengths for tr, te in folds]
    timed = jobs if limit is None else jobs[:limit]
    scores: dict[float, list[float]] = {}
    start = time.perf_counter()
    for l2, tr, te in timed:
        model = build(x.shape[1], int(y.max()) + 1, 0.0)
        fit(model, x[tr], y[tr], 0.0, l2, epochs)
        with torch.no_grad():
            scores.setdefault(l2, []).append(
                float((model(x[te]).argmax(1) == y[te]).float().mean())
            )
    seconds = (time.perf_counter() - start) * len(jobs) / len(timed)
    return seconds, {k: float(np.mean(v)) for k, v in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs for both (100)")
    parser.add_argument("--loop-fits", type=int, default=None, help="time only K loop fits")
    args = parser.parse_args()
    x, y = dataset()
    start = time.perf_counter()
    path = reglab.path(
        x, y, technique="l2", grid=GRID, cv=FOLDS, hidden=HIDDEN, epochs=args.epochs,
        batch_size=BATCH, early_stopping=False, device="cpu", seed=0,
    )  # fmt: skip
    reglab_s = time.perf_counter() - start
    strengths = [0.0] + [p.strength for p in path.points if p.strength is not None]
    print(f"reglab path: {len(strengths)} strengths x {FOLDS} folds in {reglab_s:.1f} s")
    print(f"  best {path.best.strategy if path.best else None}, "
          f"1-SE {path.one_se.strategy if path.one_se else None}")  # fmt: skip
    loop_s, loop_acc = run_loop(strengths, args.epochs, args.loop_fits)
    how = "" if args.loop_fits is None else f" (first {args.loop_fits} fits, extrapolated)"
    print(f"plain loop: {loop_s:.1f} s{how}")
    print(f"speedup {loop_s / reglab_s:.1f}x")
    loop_best = max(loop_acc, key=loop_acc.__getitem__) if loop_acc else None
    loop_best_acc = round(loop_acc[loop_best], 4) if loop_best is not None else None
    print(json.dumps({
        "reglab_s": round(reglab_s, 2), "loop_s": round(loop_s, 2),
        "speedup": round(loop_s / reglab_s, 2), "loop_extrapolated": args.loop_fits is not None,
        "best": path.best.strategy if path.best else None,
        "best_acc": round(path.best.mean, 4) if path.best else None,
        "one_se": path.one_se.strategy if path.one_se else None,
        "loop_best": loop_best, "loop_best_acc": loop_best_acc,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
