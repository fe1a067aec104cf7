"""Residual blocks and ShakeDrop on W1 and MNIST-10k: accuracy against the plain MLP, and time.

Part 1, accuracy. For each data set, reglab studies on the same splits and seeds train a plain
MLP of four hidden layers (``none``) and the residual network of four blocks of the same width
(``residual``: the inputs projected to the width, then ``h + W₂·relu(W₁·h)`` per block), alone,
with ShakeDrop (``residual+shake-drop``, P = 0.5, ``p_l = P·l/4``; its branches end in batch
norm) and with dropout 0.2 on each block's branch (``residual+dropout=0.2``). Each residual
strategy is compared with ``none``, and the two regularized ones with ``residual``, by
reglab's Nadeau–Bengio corrected resampled t-test on the paired splits, Holm-adjusted over
the data set's comparisons (five, and one for each ``--also`` strategy, compared with
``residual``). Each strategy is its own study (a member's result depends on its spec only),
so ``time x`` is that study's wall time over ``none``'s: the plain MLP trains on the fused
hand-written path, the residual network on the generic (autograd) backend, and the ratio
includes that difference.

* W1 (``benchmarks/_w1.py``: 2,000 × 50 standardized features, 7 classes), 5 stratified folds,
  width 64, Adam 1e-3, batch 32, no early stopping.
* MNIST-10k (``idx:`` of ``../shared/data/mnist-t10k``, pixels scaled to [0, 1] on each
  training part), 5 shuffle splits of 8,000 / 2,000, width 128, batch 100, ``model="mlp"``
  (image data default to a CNN).

Part 2, the stack against a plain PyTorch loop: the W1 members of ``residual``,
``residual+shake-drop`` and ``residual+dropout=0.2`` (15 members) trained by one
``train_members`` call, against the same 15 networks (:class:`reglab.layers.ResidualMLP`)
trained one after another by a hand-written loop (``torch.randperm`` each epoch, Adam,
cross-entropy). The ratio is the loop's wall time over the engine's, in the same run.

    python benchmarks/residual.py             # short: a few minutes on 2 busy cores
    python benchmarks/residual.py --full      # W1 100 epochs, MNIST 20 epochs

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reglab
from reglab.engine import MemberSpec, TrainConfig, train_members
from reglab.engine.family import family_of
from reglab.engine.residual import ResidualArchitecture
from reglab.layers import ResidualMLP
from reglab.stats.compare import holm
from reglab.stats.ttest import corrected_resampled_ttest
from reglab.study.strategies import parse_strategy

MNIST = f"idx:{Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'mnist-t10k'}"
STRATEGIES = ["none", "residual", "residual+shake-drop", "residual+dropout=0.2"]
PAIRS = [(s, "none") for s in STRATEGIES[1:]] + [
    ("residual+shake-drop", "residual"),
    ("residual+dropout=0.2", "residual"),
]
SETTINGS = {  # (short, full)
    "W1": (
        {"hidden": (64,) * 4, "epochs": 20, "batch_size": 32, "n_splits": 5},
        {"hidden": (64,) * 4, "epochs": 100, "batch_size": 32, "n_splits": 5},
    ),
    "MNIST-10k": (
        {"hidden": (128,) * 4, "epochs": 5, "batch_size": 100, "n_splits": 5,
         "method": "shuffle", "test_size": 0.2, "model": "mlp"},
        {"hidden": (128,) * 4, "epochs": 20, "batch_size": 100, "n_splits": 5,
         "method": "shuffle", "test_size": 0.2, "model": "mlp"},
    ),
}  # fmt: skip


def accuracy(name: str, options: dict[str, Any], seed: int, also: list[str]) -> dict[str, Any]:
    """Part 1 on data set ``name``: one study per strategy (``also``: more residual strategies,
    each compared with ``residual``); the table's rows."""
    strategies = [*STRATEGIES, *also]
    pairs = [*PAIRS, *((s, "residual") for s in also)]
    if name == "W1":
        from _w1 import dataset

        x, y = dataset()
        source: dict[str, Any] = {"X": x, "y": y}
    else:
        source = {"X": MNIST}
    scores: dict[str, dict[Any, float]] = {}
    means: dict[str, float] = {}
    walls: dict[str, float] = {}
    failed: dict[str, int] = {}
    n_train = n_test = 0
    for s in strategies:
        start = time.perf_counter()
        result = reglab.bench(
            **source, strategies=s, reference="none", early_stopping=False, lr=1e-3,
            seed=seed, **options,
        )  # fmt: skip
        walls[s] = time.perf_counter() - start
        done = [r for r in result.members if r.status == "done"]
        failed[s] = len(result.members) - len(done)  # diverged members: scores leave them out
        n_train, n_test = done[0].n_train, done[0].n_test
        scores[s] = result.strategies[s].split_scores["accuracy"]
        means[s] = result.strategies[s].metrics["accuracy"].mean
        print(f"  {s}: {walls[s]:.1f} s, accuracy {100 * means[s]:.2f}%, {failed[s]} failed",
              flush=True)  # fmt: skip
    tests = {
        (a, b): corrected_resampled_ttest(scores[a], scores[b], n_train, n_test) for a, b in pairs
    }
    adjusted = holm({f"{a} vs {b}": t.p_value for (a, b), t in tests.items()})
    rows = [
        {"strategy": s, "accuracy": round(100 * means[s], 2), "seconds": round(walls[s], 1),
         "time_ratio": round(walls[s] / walls["none"], 2)}
        for s in strategies
    ]  # fmt: skip
    comparisons = [
        {"a": a, "b": b, "diff": round(100 * t.mean_diff, 2),
         "p_holm": round(adjusted[f"{a} vs {b}"], 4)}
        for (a, b), t in tests.items()
    ]  # fmt: skip
    for c in comparisons:
        print(f"  {c['a']} vs {c['b']}: {c['diff']:+.2f} pts, p (Holm) {c['p_holm']:.4f}")
    return {"rows": rows, "comparisons": comparisons, "failed": failed, "options": options}


def _loop(spec: MemberSpec, x: torch.Tensor, y: torch.Tensor) -> None:
    """The plain loop: one ResidualMLP, Adam, a fresh permutation each epoch."""
    module = family_of(spec.arch).export(spec.arch, spec.strategy)
    assert isinstance(module, ResidualMLP)
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    xs, ys = x[spec.train_idx], y[spec.train_idx]
    n, b = len(xs), spec.train.batch_size
    module.train()
    for _ in range(spec.train.epochs):
        perm = torch.randperm(n)
        for i in range(0, n, b):
            idx = perm[i : i + b]
            loss = torch.nn.functional.cross_entropy(module(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()


def stack_vs_loop(epochs: int, seed: int) -> dict[str, Any]:
    """Part 2: the W1 residual members, one engine call against a plain loop."""
    from sklearn.model_selection import StratifiedKFold

    from _w1 import dataset

    x, y = dataset()
    arch = ResidualArchitecture(x.shape[1], int(y.max()) + 1, hidden=(64,) * 4)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y))
    specs = [
        MemberSpec(
            arch,
            parse_strategy(s),
            TrainConfig(epochs=epochs, batch_size=32, patience=None),
            tr,
            tr[:0],
            te,
            seed=seed + 10 * i + f,
        )
        for i, s in enumerate(STRATEGIES[1:])
        for f, (tr, te) in enumerate(folds)
    ]
    start = time.perf_counter()
    results = train_members(specs, {0: (x, y)}, device="cpu")
    engine = time.perf_counter() - start
    assert all(r.status == "ok" for r in results)
    torch.manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    start = time.perf_counter()
    for spec in specs:
        _loop(spec, xt, yt)
    loop = time.perf_counter() - start
    return {"members": len(specs), "epochs": epochs, "engine_s": round(engine, 1),
            "loop_s": round(loop, 1), "ratio": round(loop / engine, 2)}  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the full setting")
    parser.add_argument("--data", default="W1,MNIST-10k")
    parser.add_argument("--loop-epochs", type=int, default=10)
    parser.add_argument("--also", default="", help="more residual strategies, comma-separated")
    parser.add_argument("--epochs", type=int, default=0, help="override the setting's epochs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"setting": "full" if args.full else "short", "data": {}}
    for name in [d.strip() for d in args.data.split(",") if d.strip()]:
        options = dict(SETTINGS[name][1 if args.full else 0])
        if args.epochs:
            options["epochs"] = args.epochs
        print(f"{name}: {options}", flush=True)
        also = [a.strip() for a in args.also.split(",") if a.strip()]
        out["data"][name] = accuracy(name, options, args.seed, also)
    if args.loop_epochs > 0:
        print(f"stack vs plain loop: W1, {args.loop_epochs} epochs", flush=True)
        out["stack_vs_loop"] = stack_vs_loop(args.loop_epochs, args.seed)
    print()
    for name, block in out["data"].items():
        print(f"{name}")
        for r in block["rows"]:
            print(f"  {r['strategy']:22} {r['accuracy']:7.2f}%  {r['seconds']:7.1f} s  "
                  f"time x {r['time_ratio']:.2f}")  # fmt: skip
        for c in block["comparisons"]:
            print(f"  {c['a']} vs {c['b']}: {c['diff']:+.2f} pts, p (Holm) {c['p_holm']:.4f}")
    if "stack_vs_loop" in out:
        s = out["stack_vs_loop"]
        print(f"stack vs loop: {s['members']} members, engine {s['engine_s']} s, loop "
              f"{s['loop_s']} s, ratio {s['ratio']}x")  # fmt: skip
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
