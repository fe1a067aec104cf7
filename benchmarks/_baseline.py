"""The plain one-model-at-a-time PyTorch loop, used when ../shared/peers/torch_loop.py is absent.

It is the usual hand-written loop (the same as the shared peer script): per (strategy, fold) an
``nn.Sequential`` MLP, Adam(1e-3), a fresh ``torch.randperm`` each epoch, mini-batches of 32,
the Keras penalty added to the loss and differentiated by autograd. Run as a script it prints
one JSON line ``{"peer": "baseline-loop", "wall_s": ..., "acc": {name: [mean, std]}}``.

    python benchmarks/_baseline.py [all|name,name] [epochs]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _w1 import BATCH, EPOCHS, FOLDS, HIDDEN, STRATEGIES, dataset


def build(n_in: int, n_out: int, p: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_in
    for h in HIDDEN:
        layers += [nn.Linear(width, h), nn.ReLU()] + ([nn.Dropout(p)] if p else [])
        width = h
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def fit(
    model: nn.Sequential, x: torch.Tensor, y: torch.Tensor, l1: float, l2: float, epochs: int
) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    kernels = [m.weight for m in model if isinstance(m, nn.Linear)][:-1]
    n = len(x)
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, BATCH):
            idx = perm[i : i + BATCH]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            if l1 or l2:
                loss = loss + sum(l1 * w.abs().sum() + l2 * (w * w).sum() for w in kernels)
            opt.zero_grad()
            loss.backward()
            opt.step()


def main(names: list[str], epochs: int) -> None:
    torch.manual_seed(0)
    x_np, y_np = dataset()
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    out = {}
    start = time.perf_counter()
    for name in names:
        l1, l2, p = STRATEGIES[name]
        accs = []
        for tr, te in StratifiedKFold(FOLDS, shuffle=True, random_state=42).split(x_np, y_np):
            model = build(x.shape[1], int(y.max()) + 1, p)
            model.train()
            fit(model, x[tr], y[tr], l1, l2, epochs)
            model.eval()
            with torch.no_grad():
                accs.append(float((model(x[te]).argmax(1) == y[te]).float().mean()))
        out[name] = (float(np.mean(accs)), float(np.std(accs)))
    wall = time.perf_counter() - start
    print(
        json.dumps(
            {
                "peer": "baseline-loop",
                "wall_s": wall,
                "fits": len(names) * FOLDS,
                "epochs": epochs,
                "acc": out,
            }
        )
    )


if __name__ == "__main__":
    chosen = (
        sys.argv[1].split(",") if len(sys.argv) > 1 and sys.argv[1] != "all" else list(STRATEGIES)
    )
    main(chosen, int(sys.argv[2]) if len(sys.argv) > 2 else EPOCHS)
