"""Adversarial training on W1 and MNIST-10k: robust accuracy bought, clean accuracy paid.

For each data set one reglab study trains ``none``, ``fgsm=ε`` and ``pgd=ε`` (10 steps,
step 2.5·ε/10, random start; α = 0.5) on the same splits, and scores every member's test rows
twice: clean accuracy, and ``robust_accuracy`` under a 10-step PGD attack of the same ε
(``robust_eps``; :mod:`reglab.engine.robust`). Each adversarial strategy is compared with
``none`` on both scores with reglab's Nadeau–Bengio corrected resampled t-test on the paired
splits, Holm-adjusted over the four comparisons of the data set. Each strategy runs as
its own study on the same splits and seeds (a member's result depends on its spec only), so
the time ratio is that study's wall time over ``none``'s.

* W1 (``benchmarks/_w1.py``: 2,000 × 50 standardized features, 7 classes), 5 stratified
  folds, MLP 50-25, Adam 1e-3, batch 32, no early stopping; ε = 0.1 standard deviations.
* MNIST-10k (``idx:`` of ``../shared/data/mnist-t10k``, pixels scaled to [0, 1] on each
  training part), 5 shuffle splits of 8,000 / 2,000, batch 100; ε = 0.1 in pixel units.

    python benchmarks/adversarial.py                  # short: a few minutes on 2 busy cores
    python benchmarks/adversarial.py --full           # W1 100 epochs, MNIST 784-256-256, 20 epochs

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reglab
from reglab.stats.compare import holm
from reglab.stats.ttest import corrected_resampled_ttest

MNIST = f"idx:{Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'mnist-t10k'}"
SETTINGS = {  # (short, full)
    "W1": (
        {"hidden": (50, 25), "epochs": 20, "batch_size": 32, "n_splits": 5},
        {"hidden": (50, 25), "epochs": 100, "batch_size": 32, "n_splits": 5},
    ),
    "MNIST-10k": (
        {"hidden": (128,), "epochs": 5, "batch_size": 100, "n_splits": 5,
         "method": "shuffle", "test_size": 0.2},
        {"hidden": (256, 256), "epochs": 20, "batch_size": 100, "n_splits": 5,
         "method": "shuffle", "test_size": 0.2},
    ),
}  # fmt: skip


def run(name: str, eps: float, options: dict[str, Any], seed: int) -> dict[str, Any]:
    """The studies on data set ``name``, one per strategy; the table's rows.

    Each strategy trains in its own study so that its time is its own (a stack's members share
    its steps, and a PGD member's attack steps are taken for the whole stack); a member's
    result depends on its spec only, so the scores are those of one study of all three."""
    strategies = ["none", f"fgsm={eps:g}", f"pgd={eps:g}"]
    if name == "W1":
        from _w1 import dataset

        x, y = dataset()
        source: dict[str, Any] = {"X": x, "y": y}
    else:
        source = {"X": MNIST}
    scores: dict[str, dict[str, dict[Any, float]]] = {}
    means: dict[str, dict[str, float]] = {}
    walls: dict[str, float] = {}
    failed = 0
    for s in strategies:
        start = time.perf_counter()
        result = reglab.bench(
            **source, strategies=s, robust_eps=eps, reference="none", early_stopping=False,
            lr=1e-3, seed=seed, **options,
        )  # fmt: skip
        walls[s] = time.perf_counter() - start
        done = [r for r in result.members if r.status == "done"]
        failed += len(result.members) - len(done)
        n_train, n_test = done[0].n_train, done[0].n_test
        scores[s] = result.strategies[s].split_scores
        means[s] = {m: v.mean for m, v in result.strategies[s].metrics.items()}
        print(f"  {s}: {walls[s]:.1f} s", flush=True)
    tests = {
        (s, metric): corrected_resampled_ttest(
            scores[s][metric], scores["none"][metric], n_train, n_test
        )
        for s in strategies[1:]
        for metric in ("accuracy", "robust_accuracy")
    }
    adjusted = holm({f"{s} {m}": t.p_value for (s, m), t in tests.items()})
    rows = []
    for s in strategies:
        row: dict[str, Any] = {
            "data": name,
            "strategy": s,
            "clean": round(100 * means[s]["accuracy"], 2),
            "robust": round(100 * means[s]["robust_accuracy"], 2),
            "seconds": round(walls[s], 1),
            "time_ratio": round(walls[s] / walls["none"], 2),
        }
        for metric, label in (("accuracy", "clean"), ("robust_accuracy", "robust")):
            if s != "none":
                t = tests[(s, metric)]
                row[f"{label}_diff"] = round(100 * t.mean_diff, 2)
                row[f"{label}_p_holm"] = round(adjusted[f"{s} {metric}"], 4)
        rows.append(row)
    return {"rows": rows, "eps": eps, "failed": failed, "options": options}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the full setting")
    parser.add_argument("--eps-w1", type=float, default=0.1)
    parser.add_argument("--eps-mnist", type=float, default=0.1)
    parser.add_argument("--data", default="W1,MNIST-10k")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"setting": "full" if args.full else "short", "data": {}}
    for name in [d.strip() for d in args.data.split(",") if d.strip()]:
        options = SETTINGS[name][1 if args.full else 0]
        eps = args.eps_w1 if name == "W1" else args.eps_mnist
        print(f"{name}: {options}, ε = {eps:g}", flush=True)
        out["data"][name] = run(name, eps, options, args.seed)
    print()
    print(f"{'data':10} {'strategy':10} {'clean %':>8} {'Δ clean':>8} {'p':>7} "
          f"{'robust %':>9} {'Δ robust':>9} {'p':>7} {'time x':>7}")  # fmt: skip
    nan = float("nan")
    for name, block in out["data"].items():
        for r in block["rows"]:
            clean = (f"{r['clean']:8.2f} {r.get('clean_diff', nan):+8.2f} "
                     f"{r.get('clean_p_holm', nan):7.4f}")  # fmt: skip
            robust = (f"{r['robust']:9.2f} {r.get('robust_diff', nan):+9.2f} "
                      f"{r.get('robust_p_holm', nan):7.4f}")  # fmt: skip
            print(f"{name:10} {r['strategy']:10} {clean} {robust} {r['time_ratio']:7.2f}")
    print("Δ: difference against none in points; p: corrected resampled t-test, Holm over the "
          "data set's four comparisons; time x: the study's wall time over none's")  # fmt: skip
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
