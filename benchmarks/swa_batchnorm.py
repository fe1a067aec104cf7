"""SWA with batch norm: statistics recomputed for the average against the iterate's (stale) ones.

On MNIST-10k (the 10,000 MNIST test images of ``../shared/data``, flat pixels in [0, 1]), per
shuffle split of 8,000 training / 2,000 test rows, two members with the same seed train on
the generic backend with the same batches: ``batchnorm+swa=S`` and ``batchnorm``. SWA never
changes training, so their iterates are the same, and the plain member's final running
statistics are exactly what the SWA member would carry without a recomputation pass. Three
predictors per split, on the test rows:

* ``swa+recomputed``: the SWA member as trained (the average, its statistics recomputed);
* ``swa+stale``: the same averaged weights with the iterate's statistics;
* ``iterate``: the plain ``batchnorm`` member (the last epoch's weights and statistics).

Scores are test accuracy and log loss, compared by a paired t-test over the splits (plain,
not corrected: the training sets overlap, so p is optimistic). Time: a member's training time
with SWA over the plain member's (the pass costs one forward over the training rows per
epoch from ``S`` on), measured in the same invocation.

    python benchmarks/swa_batchnorm.py            # 3 splits, MLP 128-128, 20 epochs, swa=10
    python benchmarks/swa_batchnorm.py --splits 5 --epochs 30 --start 15

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from reglab.engine import Architecture, MemberSpec, TrainConfig, train_members
from reglab.engine.export import member_module
from reglab.study.strategies import parse_strategy

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 MNIST test images, flat ``[n, 784]`` in [0, 1], and their labels."""
    with gzip.open(DATA / "mnist-t10k-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), dtype=np.uint8)[16:].reshape(-1, 784)
    with gzip.open(DATA / "mnist-t10k-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), dtype=np.uint8)[8:]
    return (x / 255.0).astype(np.float32), y.astype(np.int64)


def scores(
    weights: dict[str, np.ndarray], spec: MemberSpec, x: np.ndarray, y: np.ndarray
) -> tuple[float, float]:
    """Test accuracy (%) and log loss of a member's exported module with ``weights``."""
    module = member_module(spec.arch, spec.strategy)
    module.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
    with torch.no_grad():
        logp = torch.log_softmax(module.eval()(torch.as_tensor(x[spec.test_idx])), 1).numpy()
    target = y[spec.test_idx]
    accuracy = 100.0 * float((logp.argmax(1) == target).mean())
    return accuracy, float(-logp[np.arange(len(target)), target].mean())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--start", type=int, default=10)
    parser.add_argument("--hidden", default="128,128")
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args(argv)
    x, y = mnist()
    hidden = tuple(int(h) for h in args.hidden.split(","))
    arch = Architecture(784, 10, hidden=hidden, batch_norm=True)
    train = TrainConfig(epochs=args.epochs, batch_size=100, patience=None, lr=args.lr)
    rows: dict[str, list[tuple[float, float]]] = {
        "swa+recomputed": [],
        "swa+stale": [],
        "iterate": [],
    }
    wall = {"swa": 0.0, "plain": 0.0}
    for split in range(args.splits):
        perm = np.random.default_rng(split).permutation(len(y))
        tr, te = np.sort(perm[:8000]), np.sort(perm[8000:])
        members = {
            name: MemberSpec(arch, parse_strategy(text), train, tr, tr[:0], te, seed=split)
            for name, text in (("swa", f"batchnorm+swa={args.start}"), ("plain", "batchnorm"))
        }
        results = {}
        for name, spec in members.items():
            start = time.perf_counter()
            (results[name],) = train_members([spec], {0: (x, y)}, device="cpu", backend="generic")
            wall[name] += time.perf_counter() - start
        swa, plain = results["swa"], results["plain"]
        assert swa.curves["train_loss"] == plain.curves["train_loss"]  # the same iterate
        stale = {k: (plain.weights[k] if ".running_" in k else v) for k, v in swa.weights.items()}
        spec = members["swa"]
        rows["swa+recomputed"].append(scores(swa.weights, spec, x, y))
        rows["swa+stale"].append(scores(stale, spec, x, y))
        rows["iterate"].append(scores(plain.weights, members["plain"], x, y))
        print(f"split {split}: " + ", ".join(f"{k} {v[-1][0]:.2f}% {v[-1][1]:.4f}"
                                             for k, v in rows.items()), flush=True)  # fmt: skip
    out: dict[str, Any] = {"benchmark": "swa_batchnorm", "settings": vars(args), "rows": {}}
    print(f"\n{'predictor':16} {'acc %':>7} {'log loss':>9}   vs swa+stale: Δacc (p), Δloss (p)")
    for name, values in rows.items():
        acc, loss = np.array(values).T
        row: dict[str, Any] = {"accuracy": round(float(acc.mean()), 2),
                               "log_loss": round(float(loss.mean()), 4)}  # fmt: skip
        line = f"{name:16} {acc.mean():7.2f} {loss.mean():9.4f}"
        if name != "swa+stale" and len(values) > 1:
            base_acc, base_loss = np.array(rows["swa+stale"]).T
            t_acc = stats.ttest_rel(acc, base_acc)
            t_loss = stats.ttest_rel(loss, base_loss)
            row.update(accuracy_diff=round(float((acc - base_acc).mean()), 2),
                       accuracy_p=round(float(t_acc.pvalue), 4),
                       log_loss_diff=round(float((loss - base_loss).mean()), 4),
                       log_loss_p=round(float(t_loss.pvalue), 4))  # fmt: skip
            line += (f"   {row['accuracy_diff']:+.2f} ({row['accuracy_p']:.3g}), "
                     f"{row['log_loss_diff']:+.4f} ({row['log_loss_p']:.3g})")  # fmt: skip
        out["rows"][name] = row
        print(line)
    ratio = wall["swa"] / wall["plain"]
    out["time_ratio_swa_over_plain"] = round(ratio, 3)
    out["wall_s"] = {k: round(v, 1) for k, v in wall.items()}
    print(f"time: batchnorm+swa {wall['swa']:.1f} s, batchnorm {wall['plain']:.1f} s, "
          f"ratio {ratio:.2f}")  # fmt: skip
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
