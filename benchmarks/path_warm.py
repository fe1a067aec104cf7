"""Warm-started against cold strength paths: time and quality of neural feature selection.

Known truth: ``make_classification`` with 10 informative features among 100 (no redundant or
repeated ones, columns shuffled), 1,000 rows, 2 classes (as ``select_synthetic.py``). Three
group-L1 paths of the same 12 strengths × 5 folds, network 64-32, fixed epochs, in this
invocation:

* **cold**: every strength × fold from the same initial weights, all in one stack (the
  baseline);
* **warm**: ``warm_start=True``: strength ``i`` starts from strength ``i − 1``'s final
  weights on the same fold, the folds of a strength in one stack, the strengths in turn;
  the same epochs per strength;
* **warm-short**: the same chain with ``warm_epochs`` = a quarter of the epochs after the
  first point (LassoNet trains its path points so, after a long dense fit).

For each: wall time (ratio against cold), the mean test accuracy and the number of features
kept in at least half of the folds at every strength, whether those counts fall monotonically
along the path (a glmnet path's property), and the selection at K = 10 against the informative
set (precision, recall). The last line is one JSON object.

    python benchmarks/path_warm.py [--epochs 60] [--seed 0] [--grid 0.5:30:12]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from reglab.study.select import select_features

K = 10
N_FEATURES = 100


def _data(seed: int) -> tuple[pd.DataFrame, set[str]]:
    x, y = make_classification(
        n_samples=1000, n_features=N_FEATURES, n_informative=K, n_redundant=0,
        n_repeated=0, shuffle=False, random_state=seed,
    )  # fmt: skip
    order = np.random.default_rng(seed).permutation(N_FEATURES)
    names = [f"x{j:03d}" for j in range(N_FEATURES)]
    frame = pd.DataFrame(x[:, order], columns=names)
    frame["y"] = y
    return frame, {names[i] for i, j in enumerate(order) if j < K}


def run(frame: pd.DataFrame, truth: set[str], args: argparse.Namespace, **warm: Any) -> dict:
    start = time.perf_counter()
    sel = select_features(
        frame, target="y", max_features=K, refit=False, epochs=args.epochs, grid=args.grid,
        hidden=(64, 32), seed=args.seed, device="cpu", **warm,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    points = [p for p in sel.path.points if p.strength is not None]
    counts = [sel.counts.get(p.strength or 0.0, 0) for p in points]
    chosen = set(sel.features)
    hit = len(chosen & truth)
    return {
        "s": seconds,
        "strengths": [p.strength for p in points],
        "accuracy": [p.mean for p in points],
        "features": counts,
        "monotone": all(b <= a for a, b in itertools.pairwise(counts)),
        "precision": hit / len(chosen) if chosen else float("nan"),
        "recall": hit / K,
        "chosen_strength": sel.strength,
        "dense_accuracy": sel.path.points[0].mean,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", default="0.5:30:12")
    args = parser.parse_args()
    frame, truth = _data(args.seed)
    load = os.getloadavg()[0]
    short = max(1, args.epochs // 4)
    rows = {
        "cold": run(frame, truth, args),
        "warm": run(frame, truth, args, warm_start=True),
        "warm-short": run(frame, truth, args, warm_start=True, warm_epochs=short),
    }
    cold_s = rows["cold"]["s"]
    print(f"group-L1 path, {args.grid}, 5 folds, 64-32, {args.epochs} epochs "
          f"(warm-short: {short} after the first point); load {load:.1f} at the start")  # fmt: skip
    print("| path | s | × cold | features kept per strength | monotone | accuracy at the "
          "weakest → strongest | precision | recall |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        acc = f"{100 * r['accuracy'][0]:.1f}% → {100 * r['accuracy'][-1]:.1f}%"
        print(
            f"| {name} | {r['s']:.1f} | {r['s'] / cold_s:.2f} | "
            f"{', '.join(map(str, r['features']))} | {'yes' if r['monotone'] else 'no'} | {acc} | "
            f"{r['precision']:.2f} | {r['recall']:.2f} |"
        )
    for name, r in rows.items():
        pairs = ", ".join(
            f"{n}:{100 * a:.1f}%" for n, a in zip(r["features"], r["accuracy"], strict=True)
        )
        print(f"{name}: features:accuracy along the path: {pairs}")
    print(json.dumps({
        "epochs": args.epochs, "seed": args.seed, "grid": args.grid, "load": round(load, 1),
        **{f"{n}_s": round(r["s"], 2) for n, r in rows.items()},
        **{f"{n}_ratio": round(r["s"] / cold_s, 3) for n, r in rows.items()},
        **{f"{n}_monotone": r["monotone"] for n, r in rows.items()},
        **{f"{n}_precision": round(r["precision"], 3) for n, r in rows.items()},
        **{f"{n}_recall": round(r["recall"], 3) for n, r in rows.items()},
        **{f"{n}_features": r["features"] for n, r in rows.items()},
        **{f"{n}_accuracy": [round(a, 4) for a in r["accuracy"]] for n, r in rows.items()},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
