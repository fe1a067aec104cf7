"""MC-dropout against the deterministic prediction: calibration (ECE) and NLL, same networks.

On each data set, 5 stratified folds: a dropout network is trained on the other folds
(``reglab.fit_final``, early stopping on a part of them) and predicts the held-out fold twice,
deterministically (weight scaling) and with MC-dropout (``--samples`` passes). Accuracy, log
loss (NLL per row) and expected calibration error (15 bins) are compared fold by fold with
reglab's corrected resampled t-test. The baseline is the deterministic prediction of the same
networks, so every ratio is taken within this invocation. The last line is one JSON object.

    python benchmarks/mc_dropout.py                  # crx, mice-protein, abalone (3 classes)
    python benchmarks/mc_dropout.py --samples 50 --epochs 100
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

import reglab
from reglab.engine.result import classification_scores
from reglab.stats.ttest import corrected_resampled_ttest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _sets() -> dict[str, tuple[pd.DataFrame, str]]:
    mice = pd.read_csv(DATA / "mice-protein.csv")
    mice = mice.drop(columns=["MouseID", "Genotype", "Treatment", "Behavior"], errors="ignore")
    abalone = pd.read_csv(DATA / "abalone.csv")
    abalone["age"] = pd.cut(abalone.pop("rings"), [0, 8, 10, 100], labels=["young", "mid", "old"])
    return {
        "crx": (pd.read_csv(DATA / "crx.csv", na_values="?"), "a16"),
        "mice-protein": (mice, "class"),
        "abalone-age": (abalone, "age"),
    }


def _run(frame: pd.DataFrame, target: str, args: argparse.Namespace) -> dict[str, object]:
    y = frame[target].astype(str).to_numpy()
    folds = StratifiedKFold(5, shuffle=True, random_state=0).split(frame, y)
    det: dict[str, dict[int, float]] = {}
    mc: dict[str, dict[int, float]] = {}
    times = {"deterministic": 0.0, "mc": 0.0}
    n_train = n_test = 0
    for k, (train, test) in enumerate(folds):
        model = reglab.fit_final(
            frame.iloc[train], target=target, strategy=args.strategy, epochs=args.epochs,
            hidden=(128, 64), seed=k, device="cpu",
        )  # fmt: skip
        rows = frame.iloc[test]
        index = {c: i for i, c in enumerate(model.classes)}
        truth = np.array([index[v] for v in y[test]])
        start = time.perf_counter()
        proba = model.predict_proba(rows)
        times["deterministic"] += time.perf_counter() - start
        start = time.perf_counter()
        sampled = model.predict_mc(rows, samples=args.samples, seed=k).mean
        times["mc"] += time.perf_counter() - start
        for store, p in ((det, proba), (mc, sampled)):
            for name, value in classification_scores(truth, p).items():
                store.setdefault(name, {})[k] = value
        n_train, n_test = len(train), len(test)
    out: dict[str, object] = {"time_ratio": times["mc"] / times["deterministic"]}
    for name in ("accuracy", "log_loss", "ece"):
        test = corrected_resampled_ttest(mc[name], det[name], n_train, n_test)
        out[name] = {
            "deterministic": float(np.mean(list(det[name].values()))),
            "mc": float(np.mean(list(mc[name].values()))),
            "diff": test.mean_diff,
            "p": test.p_value,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30, help="MC-dropout passes (30)")
    parser.add_argument("--epochs", type=int, default=60, help="maximum epochs (60)")
    parser.add_argument("--strategy", default="dropout=0.3", help="the networks' strategy")
    args = parser.parse_args()
    started = time.perf_counter()
    results = {}
    for name, (frame, target) in _sets().items():
        r = _run(frame, target, args)
        results[name] = r
        print(f"{name} ({len(frame)} rows, {args.strategy}, {args.samples} passes):")
        for metric in ("accuracy", "log_loss", "ece"):
            m = r[metric]
            assert isinstance(m, dict)
            print(
                f"  {metric:9s} deterministic {m['deterministic']:.4f}  MC {m['mc']:.4f}  "
                f"diff {m['diff']:+.4f}  p {m['p']:.3f}"
            )
        print(f"  prediction time: MC / deterministic = {r['time_ratio']:.1f}x")
    results["wall_s"] = round(time.perf_counter() - started, 1)  # type: ignore[assignment]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
