"""Strength schedules on W1: do warm-up, cosine and adaptive strengths beat the constant ones,
and what do they cost?

Two parts, both on W1 (``benchmarks/_w1.py``: 2,000 × 50 standardized features, 7 classes; MLP
50-25, Adam 1e-3, batch 32):

* **Scores.** One reglab study of ``none``, dropout 0.3 and L2 1e-3 constant, with a 10-epoch
  linear warm-up and with a cosine decay, and ``auto-dropout`` (dropout from 0.1, +0.05 after
  each epoch whose train–validation gap grew, at most 0.5), on 5 stratified folds with early
  stopping (patience 10) on each fold's inner validation split. Each scheduled strategy is
  compared with its constant counterpart (``auto-dropout`` with ``dropout=0.3``) by reglab's
  Nadeau–Bengio corrected resampled t-test on the paired folds, Holm-adjusted over the five
  comparisons.
* **Time.** The engine alone (``train_members``) trains the same 5 fold members of a
  constant strategy and of each of its scheduled forms (fixed epochs, validation rows kept
  for the adaptive rule), each timed ``--repeats`` times in turn; the ratio is the scheduled
  form's best time over the constant's best time. A schedule rebuilds a stack's per-member
  coefficients once per epoch; an adaptive one also draws each epoch's noise after the
  previous epoch's validation, instead of while it trains.

    python benchmarks/schedules.py              # short: 40 epochs
    python benchmarks/schedules.py --full       # 100 epochs

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reglab
from reglab.engine import train_members
from reglab.stats.compare import holm
from reglab.stats.ttest import corrected_resampled_ttest
from reglab.study.strategies import parse_strategy

STRATEGIES = [
    "none",
    "dropout=0.3",
    "dropout=0.3@warmup:10",
    "dropout=0.3@cosine",
    "l2=1e-3",
    "l2=1e-3@warmup:10",
    "l2=1e-3@cosine",
    "auto-dropout",
]
PAIRS = [  # (scheduled, its constant counterpart)
    ("dropout=0.3@warmup:10", "dropout=0.3"),
    ("dropout=0.3@cosine", "dropout=0.3"),
    ("l2=1e-3@warmup:10", "l2=1e-3"),
    ("l2=1e-3@cosine", "l2=1e-3"),
    ("auto-dropout", "dropout=0.3"),
]


def scores(x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> dict[str, Any]:
    """The study and its five corrected comparisons."""
    start = time.perf_counter()
    result = reglab.bench(
        x, y, strategies=",".join(STRATEGIES), cv=5, hidden=(50, 25), epochs=epochs,
        batch_size=32, lr=1e-3, patience=10, reference="none", seed=seed,
    )  # fmt: skip
    wall = time.perf_counter() - start
    done = [r for r in result.members if r.status == "done"]
    n_train, n_test = done[0].n_train, done[0].n_test
    split = {s: result.strategies[s].split_scores["accuracy"] for s in STRATEGIES}
    tests = {a: corrected_resampled_ttest(split[a], split[b], n_train, n_test) for a, b in PAIRS}
    adjusted = holm({a: t.p_value for a, t in tests.items()})
    rows = []
    for s in STRATEGIES:
        facts = result.strategies[s]
        row: dict[str, Any] = {
            "strategy": s,
            "accuracy": round(100 * facts.metrics["accuracy"].mean, 2),
            "best_epoch": facts.mean_best_epoch,
        }
        if s in tests:
            row["versus"] = dict(PAIRS)[s]
            row["diff"] = round(100 * tests[s].mean_diff, 2)
            row["p_holm"] = round(adjusted[s], 4)
        if facts.strengths:
            row["in_effect_last"] = {k: round(v[-1], 6) for k, v in facts.strengths.items()}
        rows.append(row)
    return {"rows": rows, "wall_s": round(wall, 1), "failed": len(result.members) - len(done)}


GROUPS = [
    ("dropout=0.3", ["dropout=0.3@warmup:10", "dropout=0.3@cosine", "auto-dropout"]),
    ("l2=1e-3", ["l2=1e-3@warmup:10", "l2=1e-3@cosine"]),
]


def timing(
    x: np.ndarray, y: np.ndarray, epochs: int, repeats: int, groups: list[Any] = GROUPS
) -> list[dict[str, Any]]:
    """Engine time of each scheduled form over its constant strategy (same 5 fold members)."""
    from _w1 import members

    base = members(x, y, epochs=epochs, strategies=["none"])
    specs = []
    for spec in base:  # an inner validation split: every fifth training row
        train = np.asarray(spec.train_idx)
        specs.append(dataclasses.replace(spec, train_idx=np.delete(train, np.s_[::5]),
                                         val_idx=train[::5]))  # fmt: skip
    data = {0: (x, y)}
    rows = []
    for constant, scheduled in groups:
        names = [constant, *scheduled]
        best = dict.fromkeys(names, float("inf"))
        for _ in range(repeats):
            for name in names:
                strategy = parse_strategy(name)
                stack = [dataclasses.replace(s, strategy=strategy) for s in specs]
                start = time.perf_counter()
                results = train_members(stack, data, device="cpu")
                best[name] = min(best[name], time.perf_counter() - start)
                assert all(r.ok for r in results), [r.error for r in results]
        for name in scheduled:
            rows.append({"strategy": name, "versus": constant, "seconds": round(best[name], 2),
                         "constant_seconds": round(best[constant], 2),
                         "time_ratio": round(best[name] / best[constant], 3)})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--full", action="store_true", help="100 epochs instead of 40")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from _w1 import dataset

    x, y = dataset()
    epochs = 100 if args.full else 40
    print(f"W1: {x.shape}, {epochs} epochs", flush=True)
    study = scores(x, y, epochs, args.seed)
    print(f"{'strategy':24} {'acc %':>6} {'best ep':>8} {'versus':14} {'Δ':>6} {'p':>7}")
    for r in study["rows"]:
        print(f"{r['strategy']:24} {r['accuracy']:6.2f} {r['best_epoch'] or 0:8.1f} "
              f"{r.get('versus', ''):14} {r.get('diff', float('nan')):+6.2f} "
              f"{r.get('p_holm', float('nan')):7.4f}")  # fmt: skip
    print("Δ: accuracy difference in points against the constant strategy; p: corrected "
          "resampled t-test, Holm over the five comparisons")  # fmt: skip
    times = timing(x, y, epochs, args.repeats)
    for r in times:
        print(f"time {r['strategy']:24} {r['seconds']:7.2f} s vs {r['versus']:12} "
              f"{r['constant_seconds']:7.2f} s: ratio {r['time_ratio']:.3f}")  # fmt: skip
    out = {"setting": "full" if args.full else "short", "epochs": epochs, "study": study,
           "timing": times}  # fmt: skip
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
