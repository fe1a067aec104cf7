"""Srivastava et al. (2014), Table 9, on the MNIST test set shipped here: does the ordering hold?

The paper (JMLR 15, "Dropout: a simple way to prevent neural networks from overfitting",
Table 9) compares regularizers for a 784-1024-1024-2048-10 ReLU network trained on the 60,000
MNIST training images: test error L2 1.62 %, L2+L1 1.60 %, max-norm 1.35 %, dropout+L2 1.25 %,
dropout+max-norm 1.05 %. Here the data are the 10,000 images of ``mnist-t10k`` (read by
``idx:``, pixels scaled to [0, 1] on each training part), the protocol is 5 random splits of
8,000 training / 2,000 test images (``method="shuffle"``, stratified), and the network is
784-256-256-10 with ReLU, sized to train 30 models in minutes on 2 CPU cores:

=================  ==========================================================================
strategy           reglab grammar
=================  ==========================================================================
none               ``none`` (the reference of reglab's answer; not in the paper's table)
L2                 ``l2=1e-4``  (Keras: 1e-4·Σw² on both hidden kernels)
L2+L1              ``l1=1e-5+l2=1e-4``
max-norm           ``maxnorm=3``  (every unit's incoming weight norm ≤ 3, all three kernels)
dropout+L2         ``input-dropout=0.2+dropout=0.5+l2=1e-4``  (retain p = 0.8 on the input,
                   0.5 in the hidden layers, as in the paper)
dropout+max-norm   ``input-dropout=0.2+dropout=0.5+maxnorm=3``
=================  ==========================================================================

Adam (lr 1e-3), batches of 100, a fixed number of epochs (``--epochs``, 20 by default) and no
early stopping (the paper trains fixed schedules; every training image is used). Test error is
``1 − accuracy`` per split; the gaps between the strategies the paper ranks next to each other
are tested with reglab's Nadeau–Bengio corrected resampled t-test on the paired splits,
Holm-adjusted over the four gaps, and reglab's own answer (each strategy against ``none``) is
printed too.

Speed: the same invocation trains ``--loop-members`` members (L2 and dropout+max-norm on the
first split, the same preprocessed data, epochs and batch size) with the plain one-model-at-a-
time PyTorch loop (``nn.Sequential``, penalty through autograd, max-norm by ``torch.renorm``
after each step), and extrapolates its time per member to all 30: ``ratio`` = that estimate /
the study's wall time (loading, preprocessing, training, storing and the statistics included).

    python benchmarks/srivastava_mnist10k.py                 # the full run (about 10 minutes)
    python benchmarks/srivastava_mnist10k.py --epochs 2      # quick check

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import reglab
from reglab.api import load_data
from reglab.stats.compare import holm
from reglab.stats.ttest import corrected_resampled_ttest
from reglab.study.run import Study

DATA = f"idx:{Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'mnist-t10k'}"
HIDDEN = (256, 256)
BATCH = 100
LR = 1e-3
L2, L1, MAXNORM = 1e-4, 1e-5, 3.0
DROP = "input-dropout=0.2+dropout=0.5"
STRATEGIES = {
    "none": "none",
    "L2": "l2=1e-4",
    "L2+L1": "l1=1e-5+l2=1e-4",
    "max-norm": "maxnorm=3",
    "dropout+L2": f"{DROP}+l2=1e-4",
    "dropout+max-norm": f"{DROP}+maxnorm=3",
}
PAPER = {"L2": 1.62, "L2+L1": 1.60, "max-norm": 1.35, "dropout+L2": 1.25, "dropout+max-norm": 1.05}
"""Table 9's test errors (%), in the paper's order: worst first."""


def study_options(epochs: int, seed: int) -> dict[str, Any]:
    return {
        "hidden": HIDDEN, "epochs": epochs, "batch_size": BATCH, "lr": LR,
        "early_stopping": False, "method": "shuffle", "n_splits": 5, "test_size": 0.2,
        "seed": seed,
    }  # fmt: skip


def run_study(data: str, epochs: int, seed: int) -> tuple[reglab.StudyResult, float]:
    start = time.perf_counter()
    result = reglab.bench(data, strategies=",".join(STRATEGIES.values()),
                          **study_options(epochs, seed))  # fmt: skip
    return result, time.perf_counter() - start


def split_errors(result: Any) -> dict[str, dict[int, float]]:
    """Strategy name → {split id: test error in %}."""
    by_grammar = {text: name for name, text in STRATEGIES.items()}
    errors: dict[str, dict[int, float]] = {name: {} for name in STRATEGIES}
    for record in result.members:
        if record.status == "done":
            errors[by_grammar[record.strategy]][record.split_id] = 100.0 * (
                1.0 - record.test_scores["accuracy"]
            )
    return errors


def adjacent_gaps(errors: dict[str, dict[int, float]], n_train: int, n_test: int) -> list[dict]:
    """The paper's neighbours (worse → better), each tested; Holm over the family."""
    order = list(PAPER)
    pairs = list(itertools.pairwise(order))
    tests = {
        f"{a} vs {b}": corrected_resampled_ttest(errors[a], errors[b], n_train, n_test)
        for a, b in pairs
    }
    adjusted = holm({k: t.p_value for k, t in tests.items()})
    return [
        {
            "pair": k, "error_diff": round(t.mean_diff, 3), "p_holm": round(adjusted[k], 4),
            "significant": adjusted[k] < 0.05, "paper_diff": round(PAPER[a] - PAPER[b], 2),
        }
        for (a, b), (k, t) in zip(pairs, tests.items(), strict=True)
    ]  # fmt: skip


# --- the plain PyTorch loop ------------------------------------------------------------------


def loop_member(
    x: torch.Tensor, y: torch.Tensor, test: tuple[torch.Tensor, torch.Tensor], name: str,
    epochs: int, seed: int,
) -> tuple[float, float]:  # fmt: skip
    """Train one strategy the usual way; return (seconds, test error %)."""
    torch.manual_seed(seed)
    dropout = name.startswith("dropout")
    layers: list[nn.Module] = [nn.Dropout(0.2)] if dropout else []
    width = x.shape[1]
    for h in HIDDEN:
        layers += [nn.Linear(width, h), nn.ReLU()] + ([nn.Dropout(0.5)] if dropout else [])
        width = h
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    linears = [m for m in model if isinstance(m, nn.Linear)]
    l1 = L1 if "L1" in name else 0.0
    l2 = L2 if "L2" in name else 0.0
    maxnorm = MAXNORM if "max-norm" in name else 0.0
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), BATCH):
            idx = perm[i : i + BATCH]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            if l1 or l2:
                kernels = [m.weight for m in linears[:-1]]
                loss = loss + sum(l1 * w.abs().sum() + l2 * (w * w).sum() for w in kernels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if maxnorm:
                with torch.no_grad():
                    for m in linears:
                        m.weight.copy_(torch.renorm(m.weight, 2, 0, maxnorm))
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        error = 100.0 * float((model(test[0]).argmax(1) != test[1]).float().mean())
    return seconds, error


def run_loop(data: str, epochs: int, seed: int, names: list[str]) -> dict[str, Any]:
    """The loop on the study's first split, with the study's own preprocessed inputs."""
    dataset = load_data(data)
    plan = Study(",".join(STRATEGIES.values()), **study_options(epochs, seed)).plan(dataset)
    split = plan.splits[0]
    X, y = plan.data[split.split_id]
    xt, yt = torch.from_numpy(np.array(X)), torch.from_numpy(np.array(y, dtype=np.int64))
    train = torch.from_numpy(np.concatenate([split.train_idx, split.val_idx]))
    test = torch.from_numpy(np.array(split.test_idx))
    out: dict[str, Any] = {}
    for name in names:
        seconds, error = loop_member(xt[train], yt[train], (xt[test], yt[test]), name, epochs, seed)
        out[name] = {"seconds": round(seconds, 2), "error": round(error, 2)}
        print(f"  loop {name}: {seconds:.1f} s, test error {error:.2f}% (split 0)")
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=DATA, help="an idx:/npz:/images: source")
    parser.add_argument("--loop-members", default="L2,dropout+max-norm")
    args = parser.parse_args(argv)
    print(f"{DATA if args.data == DATA else args.data}: 5 splits of 8,000 / 2,000, MLP "
          f"784-{'-'.join(map(str, HIDDEN))}-10, {args.epochs} epochs, "
          f"{len(STRATEGIES)} strategies x 5 splits = {5 * len(STRATEGIES)} members")  # fmt: skip
    result, study_s = run_study(args.data, args.epochs, args.seed)
    errors = split_errors(result)
    n_train = next(r.n_train for r in result.members)
    n_test = next(r.n_test for r in result.members)
    summary = {
        name: {
            "mean": round(float(np.mean(list(e.values()))), 3),
            "sd": round(float(np.std(list(e.values()), ddof=1)), 3),
            "splits": len(e),
        }
        for name, e in errors.items()
    }
    print(f"\nstudy: {study_s:.1f} s ({n_train} train / {n_test} test per split)")
    print(f"{'strategy':18} {'test error %':>16} {'paper (60k)':>12}")
    for name, s in summary.items():
        paper = f"{PAPER[name]:.2f}" if name in PAPER else "—"
        print(f"{name:18} {s['mean']:9.2f} ± {s['sd']:4.2f} {paper:>12}")
    ours = sorted(PAPER, key=lambda n: -summary[n]["mean"])
    holds = ours == list(PAPER)
    print(f"\npaper's ordering (worst → best): {' > '.join(PAPER)}")
    print(f"ours:                             {' > '.join(ours)}  -> holds: {holds}")
    gaps = adjacent_gaps(errors, n_train, n_test)
    print("gaps between the paper's neighbours (corrected t-test, Holm over 4):")
    for g in gaps:
        mark = "significant" if g["significant"] else "not significant"
        print(f"  {g['pair']:32} {g['error_diff']:+.2f} points (paper {g['paper_diff']:+.2f}), "
              f"p={g['p_holm']:.3g} {mark}")  # fmt: skip
    print("reglab's answer:")
    for line in result.answer.lines:
        print(f"  {line}")
    names = [n.strip() for n in args.loop_members.split(",") if n.strip()]
    print(f"\nplain PyTorch loop, {len(names)} members one at a time:")
    loop = run_loop(args.data, args.epochs, args.seed, names)
    per_member = float(np.mean([v["seconds"] for v in loop.values()]))
    members = len(result.members)
    loop_all = per_member * members
    ratio = loop_all / study_s
    print(f"loop: {per_member:.1f} s per member -> {loop_all:.0f} s for all {members} "
          f"(extrapolated); study {study_s:.1f} s; ratio {ratio:.2f}x")  # fmt: skip
    out = {
        "benchmark": "srivastava_mnist10k",
        "data": "mnist-t10k", "splits": "5 x 8000/2000", "hidden": list(HIDDEN),
        "epochs": args.epochs, "batch": BATCH, "lr": LR,
        "strategies": STRATEGIES,
        "test_error_pct": summary,
        "paper_pct": PAPER,
        "ordering_holds": holds, "our_order": ours,
        "gaps": gaps,
        "answer": result.answer.lines,
        "study_s": round(study_s, 2),
        "loop_members": loop,
        "loop_s_extrapolated": round(loop_all, 1),
        "ratio": round(ratio, 3),
    }  # fmt: skip
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
