"""Lookahead and snapshot ensembles against plain Adam, on crx and MNIST-10k.

For each data set, ``none``, ``lookahead`` (k = 5, α = 0.5) and ``snapshot=5`` train as three
reglab studies on the same splits and seeds (a member's result depends on its spec only, so
these are the scores of one study of all three, and each strategy's time is its own). Every
member trains the same fixed epochs (no early stopping: a snapshot member trains all its
epochs anyway). Each technique is compared with ``none`` on accuracy and log loss with the
Nadeau–Bengio corrected resampled t-test on the paired splits, Holm-adjusted over the data
set's four comparisons. Time is a member's mean training time (``wall_s``, after a warm-up
study), as a ratio over ``none``'s (the fused backend) and over ``snapshot=0``'s (plain Adam
on the generic backend, which both techniques need), measured in the same invocation.

* crx (``../shared/data/crx.csv``, target ``a16``, 690 rows): 5 stratified folds × 2 repeats,
  MLP 64-32, Adam 1e-3, batch 32, 60 epochs (``--full``: 200).
* MNIST-10k (``idx:`` of ``../shared/data/mnist-t10k``): 5 shuffle splits of 8,000 / 2,000,
  MLP 128, batch 100, 10 epochs (``--full``: MLP 256-256, 30 epochs).

    python benchmarks/lookahead_snapshot.py           # short: a few minutes on 2 busy cores
    python benchmarks/lookahead_snapshot.py --full

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

import reglab
from reglab.stats.compare import holm
from reglab.stats.ttest import corrected_resampled_ttest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST = f"idx:{DATA / 'mnist-t10k'}"
GENERIC = "snapshot=0"
STRATEGIES = ("none", "lookahead", "snapshot=5", GENERIC)
"""``snapshot=0`` is the technique switched off: plain Adam, but on the generic backend that
both techniques need (a strategy naming a registry technique trains there), the time reference
for what the techniques themselves cost."""
METRICS = ("accuracy", "log_loss")
SETTINGS = {  # (short, full)
    "crx": (
        {"hidden": (64, 32), "epochs": 60, "batch_size": 32, "n_splits": 5, "n_repeats": 2},
        {"hidden": (64, 32), "epochs": 200, "batch_size": 32, "n_splits": 5, "n_repeats": 2},
    ),
    "MNIST-10k": (
        {"hidden": (128,), "epochs": 10, "batch_size": 100, "n_splits": 5,
         "method": "shuffle", "test_size": 0.2},
        {"hidden": (256, 256), "epochs": 30, "batch_size": 100, "n_splits": 5,
         "method": "shuffle", "test_size": 0.2},
    ),
}  # fmt: skip


def _source(name: str) -> dict[str, Any]:
    if name == "crx":
        return {"X": pd.read_csv(DATA / "crx.csv", na_values="?"), "target": "a16"}
    return {"X": MNIST}


def run(name: str, options: dict[str, Any], seed: int) -> dict[str, Any]:
    """The three studies on data set ``name``; the table's rows."""
    scores: dict[str, dict[str, dict[Any, float]]] = {}
    means: dict[str, dict[str, float]] = {}
    per_member: dict[str, float] = {}
    reglab.bench(
        **_source(name),
        strategies="none",
        early_stopping=False,
        seed=seed,
        **{**options, "epochs": 1},
    )  # warm-up: imports, data, first kernels
    failed = 0
    n_train = n_test = 0
    for s in STRATEGIES:
        start = time.perf_counter()
        result = reglab.bench(
            **_source(name), strategies=s, reference="none", early_stopping=False, lr=1e-3,
            seed=seed, **options,
        )  # fmt: skip
        wall = time.perf_counter() - start
        done = [r for r in result.members if r.status == "done"]
        failed += len(result.members) - len(done)
        per_member[s] = sum(r.wall_s for r in done) / max(1, len(done))
        n_train, n_test = done[0].n_train, done[0].n_test
        scores[s] = result.strategies[s].split_scores
        means[s] = {m: v.mean for m, v in result.strategies[s].metrics.items()}
        print(f"  {s}: {wall:.1f} s, {per_member[s]:.2f} s a member", flush=True)
    compared = STRATEGIES[1:3]
    tests = {
        (s, m): corrected_resampled_ttest(scores[s][m], scores["none"][m], n_train, n_test)
        for s in compared
        for m in METRICS
    }
    adjusted = holm({f"{s} {m}": t.p_value for (s, m), t in tests.items()})
    rows = []
    for s in STRATEGIES:
        row: dict[str, Any] = {
            "data": name,
            "strategy": s,
            "accuracy": round(100 * means[s]["accuracy"], 2),
            "log_loss": round(means[s]["log_loss"], 4),
            "s_per_member": round(per_member[s], 2),
            "time_ratio": round(per_member[s] / per_member["none"], 2),
            "time_ratio_generic": round(per_member[s] / per_member[GENERIC], 2),
        }
        if s in compared:
            for m in METRICS:
                t = tests[(s, m)]
                scale = 100 if m == "accuracy" else 1
                row[f"{m}_diff"] = round(scale * t.mean_diff, 4)
                row[f"{m}_p_holm"] = round(adjusted[f"{s} {m}"], 4)
        rows.append(row)
    return {"rows": rows, "failed": failed, "options": options}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the full setting")
    parser.add_argument("--data", default="crx,MNIST-10k")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"setting": "full" if args.full else "short", "data": {}}
    for name in [d.strip() for d in args.data.split(",") if d.strip()]:
        options = SETTINGS[name][1 if args.full else 0]
        print(f"{name}: {options}", flush=True)
        out["data"][name] = run(name, options, args.seed)
    print()
    print(f"{'data':10} {'strategy':13} {'acc %':>7} {'Δ acc':>7} {'p':>7} "
          f"{'log loss':>9} {'Δ loss':>8} {'p':>7} {'time x':>7} {'x gen':>6}")  # fmt: skip
    nan = float("nan")
    for name, block in out["data"].items():
        for r in block["rows"]:
            acc = (f"{r['accuracy']:7.2f} {r.get('accuracy_diff', nan):+7.2f} "
                   f"{r.get('accuracy_p_holm', nan):7.4f}")  # fmt: skip
            loss = (f"{r['log_loss']:9.4f} {r.get('log_loss_diff', nan):+8.4f} "
                    f"{r.get('log_loss_p_holm', nan):7.4f}")  # fmt: skip
            print(f"{name:10} {r['strategy']:13} {acc} {loss} {r['time_ratio']:7.2f} "
                  f"{r['time_ratio_generic']:6.2f}")  # fmt: skip
    print(
        "Δ: difference against none (accuracy in points); p: corrected resampled t-test, "
        "Holm over the data set's four comparisons; time x: a member's training time over "
        "none's; x gen: over snapshot=0's (plain Adam on the generic backend)"
    )
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
