"""What the reference rows cost on W1, as a ratio to training one network strategy.

The linear reference is on in every study, so it must be cheap. On W1 (``../shared/data/w1.csv``,
2,000 rows x 50 inputs, 7 classes, 5 stratified folds) this times, on each outer fold's own
preprocessed inputs:

* the three linear reference rows (L1, L2 and elastic-net logistic regression, strength by
  inner 3-fold CV), and gradient boosting (``--reference boosting``), fold by fold;
* the baseline: one network strategy (``none``) on the same five folds, as ``reglab bench``
  trains it (MLP 64-32, Adam, batch 32, early stopping, at most 100 epochs), in the same
  invocation.

The last line printed is one JSON object: ``linear_s_per_fold`` and ``boosting_s_per_fold``
(mean over folds), ``network_s_per_fold`` (the baseline's training time / folds) and the ratios
``linear_ratio`` and ``boosting_ratio`` (reference time / network time, per fold).

    python benchmarks/reference_cost.py
    python benchmarks/reference_cost.py --epochs 20   # a quicker baseline
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from reglab.api import load_data
from reglab.store import Store
from reglab.study.reference import reference_models, reference_record
from reglab.study.run import Study

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "w1.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    ds = load_data(str(DATA), target="y")
    study = Study("none", reference="none", epochs=args.epochs)
    plan = study.plan(ds)
    seconds: dict[str, list[float]] = {}
    for model in reference_models(("linear", "boosting"), ds.task):
        for split in plan.splits:
            start = time.perf_counter()
            record = reference_record(
                model, split, plan.data[split.split_id], task=ds.task,
                n_classes=ds.n_classes, root_seed=0,
            )  # fmt: skip
            seconds.setdefault(model.family, [0.0] * len(plan.splits))
            seconds[model.family][split.split_id] += time.perf_counter() - start
            assert record is not None and record.status == "done", record
            print(f"{model.name:<18} fold {split.split_id}: {record.wall_s:6.2f} s, "
                  f"accuracy {100 * record.test_scores['accuracy']:.1f}%")  # fmt: skip
    start = time.perf_counter()
    with Store("sqlite://") as st:
        study.run(ds, st, plan=plan)
    network = (time.perf_counter() - start) / len(plan.splits)
    linear = float(np.mean(seconds["linear"]))
    boosting = float(np.mean(seconds["boosting"]))
    print(f"per fold: linear reference {linear:.2f} s, boosting {boosting:.2f} s, "
          f"network 'none' {network:.2f} s")  # fmt: skip
    print(json.dumps({
        "linear_s_per_fold": round(linear, 3),
        "boosting_s_per_fold": round(boosting, 3),
        "network_s_per_fold": round(network, 3),
        "linear_ratio": round(linear / network, 3),
        "boosting_ratio": round(boosting / network, 3),
        "epochs": args.epochs,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
