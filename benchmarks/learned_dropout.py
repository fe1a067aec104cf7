"""Learned Gaussian dropout against dropout at a fixed rate: does learning α pay, and at what cost?

Kingma, Salimans & Welling (2015) learn the Gaussian dropout variance ``α`` by variational
inference and report it at least as good as dropout at a hand-chosen rate. reglab's
``learned-dropout`` is that technique (``N(1, α)`` on every Dense layer's inputs, ``α`` per
input unit or per layer, clipped to ``α ≤ 1``, KL/N added to the loss). Here, in one study per
data set (same splits, initial weights and batch order for every strategy):

* ``none``;
* ``dropout=0.5``: Bernoulli dropout at the classic hidden-layer rate;
* ``gaussian-dropout=0.5``: Gaussian dropout at the equivalent fixed variance ``α = p/(1−p) = 1``;
* ``learned-dropout``: ``α`` learned per input unit, from 0.25;
* ``learned-dropout=0.25:1``: one ``α`` per layer.

MNIST-10k: 784-300-100-10, ``--splits`` random splits of 8,000 / 2,000, batches of 100; crx:
128-64, 5-fold cross-validation. Fixed epochs, no early stopping.

Reported per strategy: test accuracy (mean ± sd over splits), the corrected resampled t-test
against ``none`` and against ``dropout=0.5`` (Holm-adjusted over the four comparisons with
``none``), and the training time per member over ``none``'s (``cost``), all from the same
invocation. Then, for the per-unit strategy, ``reglab.fit_final`` trains one model on the
first data set and the learned ``α`` of each layer is summarized (median and 10–90 %
quantiles; the equivalent dropout rate is ``α/(1+α)``).

    python benchmarks/learned_dropout.py                       # mnist-10k 30 epochs + crx
    python benchmarks/learned_dropout.py --epochs 60 --splits 3

The last line printed is one JSON object; ``ratio`` is learned-dropout's accuracy gain over
``dropout=0.5`` in points on the first data set.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

import reglab
from reglab.layers.variational_dense import LearnedDropoutLinear
from reglab.stats.ttest import corrected_resampled_ttest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
STRATEGIES = (
    "none", "dropout=0.5", "gaussian-dropout=0.5", "learned-dropout", "learned-dropout=0.25:1",
)  # fmt: skip


def _sets(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    common = {"early_stopping": False, "seed": args.seed}
    return {
        "mnist-10k": {
            "data": f"idx:{DATA / 'mnist-t10k'}", "hidden": (300, 100), "epochs": args.epochs,
            "batch_size": 100, "method": "shuffle", "test_size": 0.2, "n_splits": args.splits,
            **common,
        },
        "crx": {
            "data": str(DATA / "crx.csv"), "target": "a16", "hidden": (128, 64),
            "epochs": args.epochs, "n_splits": 5, "reference": "none", **common,
        },
    }  # fmt: skip


def _holm(p: list[float]) -> list[float]:
    order = np.argsort(p)
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


def _study(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(kwargs)
    data = kwargs.pop("data")
    start = time.perf_counter()
    result = reglab.bench(data, strategies=",".join(STRATEGIES), **kwargs)
    wall = time.perf_counter() - start
    done = [m for m in result.members if m.status == "done"]
    n_train, n_test = done[0].n_train, done[0].n_test
    acc = {
        s: {m.split_id: 100.0 * m.test_scores["accuracy"] for m in done if m.strategy == s}
        for s in result.strategies
    }
    secs = {s: float(np.mean([m.wall_s for m in done if m.strategy == s])) for s in acc}
    names = [s for s in result.strategies if s != "none"]
    vs_none = [corrected_resampled_ttest(acc[s], acc["none"], n_train, n_test) for s in names]
    holm = _holm([float(t.p_value) for t in vs_none])
    rows: dict[str, Any] = {}
    for s in result.strategies:
        values = list(acc[s].values())
        rows[s] = {
            "accuracy": round(float(np.mean(values)), 2),
            "sd": round(float(np.std(values, ddof=1)), 2) if len(values) > 1 else 0.0,
            "cost": round(secs[s] / secs["none"], 2),
        }
    for s, t, h in zip(names, vs_none, holm, strict=True):
        rows[s]["vs_none"] = {"diff": round(float(t.mean_diff), 2), "p_holm": round(h, 3)}
        if s != "dropout=0.5":
            d = corrected_resampled_ttest(acc[s], acc["dropout=0.5"], n_train, n_test)
            diff, p = round(float(d.mean_diff), 2), round(float(d.p_value), 3)
            rows[s]["vs_dropout"] = {"diff": diff, "p": p}
    print(f"\n{name}: {len(acc['none'])} splits of {n_train:,} / {n_test:,}, study {wall:.1f} s")
    heads = ("accuracy %", "vs none (Holm p)", "vs dropout (p)", "cost")
    print(f"{'strategy':24} {heads[0]:>14} {heads[1]:>18} {heads[2]:>16} {heads[3]:>6}")
    for s, r in rows.items():
        vn = r.get("vs_none")
        vd = r.get("vs_dropout")
        cell_n = f"{vn['diff']:+.2f} ({vn['p_holm']:.3f})" if vn else ""
        cell_d = f"{vd['diff']:+.2f} ({vd['p']:.3f})" if vd else ""
        accuracy = f"{r['accuracy']:7.2f} ± {r['sd']:4.2f}"
        print(f"{s:24} {accuracy} {cell_n:>18} {cell_d:>16} {r['cost']:5.2f}x")
    return {"study_s": round(wall, 1), "n_train": n_train, "n_test": n_test, "rows": rows}


def _learned_alphas(kwargs: dict[str, Any]) -> dict[str, dict[str, float]]:
    keep = ("hidden", "epochs", "batch_size", "early_stopping", "seed", "target")
    model = reglab.fit_final(
        kwargs["data"], strategy="learned-dropout", device="cpu",
        **{k: v for k, v in kwargs.items() if k in keep},
    )  # fmt: skip
    out: dict[str, dict[str, float]] = {}
    layers = [m for m in model.module.modules() if isinstance(m, LearnedDropoutLinear)]
    for i, layer in enumerate(layers):
        alpha = layer.alpha().detach().flatten().numpy()
        q10, q50, q90 = np.quantile(alpha, [0.1, 0.5, 0.9])
        out[f"layer{i} ({alpha.size} inputs)"] = {
            "median": round(float(q50), 3), "q10": round(float(q10), 3),
            "q90": round(float(q90), 3), "at_cap": round(float(np.mean(alpha >= 0.999)), 3),
        }  # fmt: skip
    print("\nlearned α per layer (one model on all rows; dropout rate = α/(1+α)):")
    for layer, s in out.items():
        print(f"  {layer:22} median {s['median']:.3f}  10–90 % {s['q10']:.3f}–{s['q90']:.3f}  "
              f"at the cap α = 1: {100 * s['at_cap']:.0f} %")  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--splits", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sets", default="mnist-10k,crx", help="comma-separated: mnist-10k,crx")
    args = parser.parse_args(argv)
    sets = _sets(args)
    chosen = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(sets))
    if unknown:
        parser.error(f"--sets: unknown {unknown}; expected some of {sorted(sets)}")
    print(f"strategies: {', '.join(STRATEGIES)}; {args.epochs} epochs, no early stopping")
    results = {name: _study(name, sets[name]) for name in chosen}
    alphas = _learned_alphas(sets[chosen[0]])
    first = results[chosen[0]]["rows"]
    out = {
        "benchmark": "learned_dropout", "epochs": args.epochs, "splits": args.splits,
        "strategies": list(STRATEGIES), "sets": results, "learned_alpha": alphas,
        "ratio": round(first["learned-dropout"]["accuracy"] - first["dropout=0.5"]["accuracy"], 2),
    }  # fmt: skip
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
