"""Feature selection with known truth: precision and recall of the selected set.

``make_classification`` with 10 informative features among 100 (no redundant or repeated ones;
the other 90 are noise), 1,000 rows, 2 classes, the columns shuffled. Each method selects at
most K = 10 features from all the rows, and the selection is scored against the informative
set: precision = informative selected / selected, recall = informative selected / 10. Three
data seeds; times are per data set, in this invocation.

* reglab group-L1 and reglab LassoNet: ``select_features`` (``method="group-l1"`` and
  ``"lassonet"``), each a path of 12 strengths × 5 folds trained as stacks, network 64-32;
* LassoNet (``pip install lassonet``; skipped with a note otherwise): ``LassoNetClassifier``
  with hidden layer 50, its path on all rows, the point with at most K features and the best
  validation loss;
* L1 logistic regression (scikit-learn, saga): the largest ``C`` of a grid with at most K
  features in use.

The last line is one JSON object with ``<method>_precision``, ``<method>_recall`` and
``<method>_s`` for each method (null when skipped).

    python benchmarks/select_synthetic.py [--seeds 3] [--epochs 60]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from reglab.study.select import select_features

K = 10
N_FEATURES = 100
METHODS = ("reglab_group_l1", "reglab_lassonet", "lassonet", "l1logreg")


def _data(seed: int) -> tuple[pd.DataFrame, set[str]]:
    x, y = make_classification(
        n_samples=1000, n_features=N_FEATURES, n_informative=K, n_redundant=0,
        n_repeated=0, shuffle=False, random_state=seed,
    )  # fmt: skip
    order = np.random.default_rng(seed).permutation(N_FEATURES)
    names = [f"x{j:03d}" for j in range(N_FEATURES)]
    frame = pd.DataFrame(x[:, order], columns=names)
    informative = {names[i] for i, j in enumerate(order) if j < K}
    frame["y"] = y
    return frame, informative


def _reglab(frame: pd.DataFrame, method: str, epochs: int, seed: int) -> list[str]:
    sel = select_features(
        frame, target="y", max_features=K, method=method, refit=False, epochs=epochs,
        hidden=(64, 32), seed=seed, device="cpu",
    )  # fmt: skip
    return list(sel.features)


def _l1logreg(frame: pd.DataFrame) -> list[str]:
    x = StandardScaler().fit_transform(frame.drop(columns="y").to_numpy())
    names = list(frame.columns[:-1])
    best: list[str] = []
    for c in np.logspace(-3, 1, 25):
        model = LogisticRegression(penalty="l1", C=c, solver="saga", max_iter=5000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x, frame["y"].to_numpy())
        used = [n for n, w in zip(names, np.abs(model.coef_).sum(axis=0), strict=True) if w > 0]
        if len(used) <= K:
            best = used
    return best


def _lassonet(frame: pd.DataFrame, seed: int) -> list[str] | None:
    try:
        from lassonet import LassoNetClassifier
    except ImportError:
        return None
    x = StandardScaler().fit_transform(frame.drop(columns="y").to_numpy())
    names = list(frame.columns[:-1])
    model = LassoNetClassifier(hidden_dims=(50,), verbose=0, random_state=seed, torch_seed=seed)
    path = model.path(x, frame["y"].to_numpy(), return_state_dicts=False)
    fitting = [p for p in path if 0 < int(p.selected.sum()) <= K]
    if not fitting:
        return []
    point = min(fitting, key=lambda p: p.val_loss)
    return [n for n, keep in zip(names, point.selected.tolist(), strict=True) if keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args()
    precision: dict[str, list[float]] = {m: [] for m in METHODS}
    recall: dict[str, list[float]] = {m: [] for m in METHODS}
    seconds = {m: 0.0 for m in METHODS}
    skipped = False
    for seed in range(args.seeds):
        frame, truth = _data(seed)
        for method in METHODS:
            start = time.perf_counter()
            if method == "reglab_group_l1":
                got: list[str] | None = _reglab(frame, "group-l1", args.epochs, seed)
            elif method == "reglab_lassonet":
                got = _reglab(frame, "lassonet", args.epochs, seed)
            elif method == "lassonet":
                got = _lassonet(frame, seed)
            else:
                got = _l1logreg(frame)
            seconds[method] += time.perf_counter() - start
            if got is None:
                skipped = True
                continue
            hits = len(set(got) & truth)
            precision[method].append(hits / len(got) if got else 0.0)
            recall[method].append(hits / K)
            print(f"seed {seed} {method:16s} {len(got):3d} selected, {hits} informative")
    if skipped:
        print("note: LassoNet is not installed (pip install lassonet); its rows are skipped")
    out: dict[str, float | None] = {}
    print(f"{'method':16s} {'precision':>9s} {'recall':>7s} {'s/set':>7s}")
    for method in METHODS:
        ran = bool(recall[method])
        p = float(np.mean(precision[method])) if ran else None
        r = float(np.mean(recall[method])) if ran else None
        s = round(seconds[method] / args.seeds, 1) if ran else None
        out |= {f"{method}_precision": p, f"{method}_recall": r, f"{method}_s": s}
        if ran:
            print(f"{method:16s} {p:9.2f} {r:7.2f} {s:7.1f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
