"""LeNet-5 members on MNIST-10k: the engine's CNN stack against a plain PyTorch loop.

1. **Convolution forms**: the forward and backward pass of each LeNet-5 conv layer for a
   stack of ``M`` members, as a grouped convolution (``groups=M`` on ``[B, M·C, H, W]``), as
   ``torch.func.vmap(F.conv2d)`` and as one ``F.conv2d`` call per member (what
   :class:`~reglab.engine.conv_stack.ConvStack` does); milliseconds, and whether member 1's
   outputs and kernel gradient are bit for bit those it gets alone.
2. **Training**: ``--members`` LeNet-5 members (``ConvArchitecture(784, 10)``; strategies
   alternate none and ``l2=1e-4``, each with its own seed) trained by ``train_members`` as one
   stack, against the usual hand-written loop training the same CNNs (``nn.Sequential``,
   Adam, the penalty added to the loss) one after another in the same run. Both sides use one
   thread, mini-batches of 64, the same epochs and no validation; the loop scores the test
   rows, the engine the test and the training rows (its results carry both). The two sides
   run in turn ``--repeats`` times and each keeps its best time (the machine is shared).

The ratio is the loop's wall time over the stack's (above 1: the stack is faster). The last
line printed is one JSON object with all numbers.

    python benchmarks/cnn_mnist10k.py                 # 10k images, 8 members, 1 epoch, best of 2
    python benchmarks/cnn_mnist10k.py --rows 2000 --members 4 --repeats 1
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reglab.engine import MemberSpec, TrainConfig, train_members
from reglab.engine.conv import ConvArchitecture
from reglab.study.strategies import parse_strategy

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
BATCH = 64
LR = 1e-3


def mnist(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``rows`` MNIST test images, flat ``[rows, 784]`` in [0, 1], and labels."""
    with gzip.open(DATA / "mnist-t10k-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), dtype=np.uint8)[16:].reshape(-1, 784)[:rows]
    with gzip.open(DATA / "mnist-t10k-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), dtype=np.uint8)[8:][:rows]
    return (x / 255.0).astype(np.float32), y.astype(np.int64)


# -- 1. convolution forms --------------------------------------------------------------------


def _grouped(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    m, o, c, k, _ = w.shape
    xx = x.transpose(0, 1).reshape(x.shape[1], m * c, *x.shape[3:])
    y = F.conv2d(xx, w.reshape(m * o, c, k, k), b.reshape(m * o), groups=m)
    return y.view(x.shape[1], m, o, *y.shape[2:]).transpose(0, 1)


def _vmap(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.func.vmap(F.conv2d)(x, w, b)


def _per_member(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.stack([F.conv2d(x[i], w[i], b[i]) for i in range(len(w))])


FORMS = {"grouped": _grouped, "vmap": _vmap, "per-member": _per_member}


def conv_forms(m: int, repeats: int = 5) -> dict[str, dict[str, object]]:
    """Per form: ms of forward + backward of both LeNet-5 conv layers, and bit-identity."""
    out: dict[str, dict[str, object]] = {}
    gen = torch.Generator().manual_seed(0)
    layers = [(1, 6, 28), (6, 16, 14)]
    tensors = [
        (torch.randn(m, o, c, 5, 5, generator=gen), torch.randn(m, o, generator=gen),
         torch.randn(m, BATCH, c, s, s, generator=gen))
        for c, o, s in layers
    ]  # fmt: skip
    for name, form in FORMS.items():
        same = True
        for w, b, x in tensors:
            results = []
            for members in (slice(0, m), slice(1, 2)):
                wi = w[members].clone().requires_grad_()
                y = form(wi, b[members], x[members])
                (g,) = torch.autograd.grad((y * y).sum(), wi)
                results.append(
                    (y[1 if members.start == 0 else 0], g[1 if members.start == 0 else 0])
                )
            same &= all(torch.equal(a, c) for a, c in zip(*results, strict=True))
        start = time.perf_counter()
        for _ in range(repeats):
            for w, b, x in tensors:
                wi = w.clone().requires_grad_()
                y = form(wi, b, x)
                torch.autograd.grad((y * y).sum(), wi)
        ms = (time.perf_counter() - start) / repeats * 1e3
        out[name] = {"ms": round(ms, 2), "bit_identical": bool(same)}
    return out


# -- 2. training -----------------------------------------------------------------------------


def lenet() -> nn.Sequential:
    return nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def plain_loop(
    x: torch.Tensor, y: torch.Tensor, l2s: list[float], epochs: int, n: int
) -> list[float]:
    """Train one LeNet per entry of ``l2s`` one after another; test accuracy of each."""
    accs = []
    for seed, l2 in enumerate(l2s):
        torch.manual_seed(seed)
        model = lenet()
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        kernels = [p for p in model.parameters() if p.dim() >= 2][:-1]  # all but the output's
        for _ in range(epochs):
            perm = torch.randperm(n)
            for i in range(0, n, BATCH):
                idx = perm[i : i + BATCH]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                if l2:
                    loss = loss + sum(l2 * (w * w).sum() for w in kernels)
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            accs.append(float((model.eval()(x[n:]).argmax(1) == y[n:]).float().mean()))
    return accs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)

    forms = conv_forms(args.members)
    for name, r in forms.items():
        print(
            f"conv {name:10s} {r['ms']:8.2f} ms  bit-identical alone/stacked: {r['bit_identical']}"
        )

    x, y = mnist(args.rows)
    n = int(0.8 * len(y))
    idx = np.arange(len(y))
    l2s = [0.0 if i % 2 == 0 else 1e-4 for i in range(args.members)]
    arch = ConvArchitecture(784, 10)
    config = TrainConfig(epochs=args.epochs, patience=None, batch_size=BATCH, lr=LR)
    specs = [
        MemberSpec(arch, parse_strategy("none" if l2 == 0 else f"l2={l2:g}"), config,
                   idx[:n], idx[:0], idx[n:], seed=i)
        for i, l2 in enumerate(l2s)
    ]  # fmt: skip
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    stack_s = loop_s = float("inf")
    for _ in range(args.repeats):  # alternate the sides; keep each one's best time
        start = time.perf_counter()
        results = train_members(specs, {0: (x, y)}, device="cpu", num_threads=1)
        stack_s = min(stack_s, time.perf_counter() - start)
        start = time.perf_counter()
        loop_acc = plain_loop(xt, yt, l2s, args.epochs, n)
        loop_s = min(loop_s, time.perf_counter() - start)
    stack_acc = [r.test_scores["accuracy"] for r in results]

    ratio = loop_s / stack_s
    print(
        f"stack of {args.members} LeNet-5: {stack_s:.1f} s, mean accuracy {np.mean(stack_acc):.3f}"
    )
    print(f"plain loop, one by one: {loop_s:.1f} s, mean accuracy {np.mean(loop_acc):.3f}")
    print(f"ratio loop/stack: {ratio:.2f}x")
    print(json.dumps({
        "benchmark": "cnn_mnist10k", "rows": args.rows, "members": args.members,
        "epochs": args.epochs, "repeats": args.repeats, "threads": 1, "conv_forms": forms,
        "stack_s": round(stack_s, 2), "loop_s": round(loop_s, 2), "ratio": round(ratio, 3),
        "stack_acc": round(float(np.mean(stack_acc)), 4),
        "loop_acc": round(float(np.mean(loop_acc)), 4),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
