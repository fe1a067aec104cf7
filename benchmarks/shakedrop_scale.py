"""Why ShakeDrop diverges on residual branches without batch norm at their end: the evidence.

One :class:`reglab.layers.ResidualMLP` (four blocks of width 128) on MNIST-10k (8,000 training
rows, 2,000 test rows, pixels / 255), Adam 1e-3, batch 100, trained by a plain PyTorch loop in
four forms, each from the same initial weights and the same batch order:

* ``residual``: no ShakeDrop (the baseline of the ratios);
* ``shake``: ShakeDrop at P = 0.5 on branches ending in their second Dense layer (the form
  reglab trained before branch norms, ``branch_norm=False``);
* ``shake, beta=alpha``: the same, but the backward pass uses the forward gate (the exact
  gradient of the loss), to separate the gradient's mismatch from the noise itself;
* ``shake + branch norm``: ShakeDrop on branches ending in ``BatchNorm1d`` (the default now).

Per epoch it prints the mean training loss, the largest gradient norm of a step, the RMS of
every block's branch output ``F(x)`` as the gate sees it (mean over the epoch's steps) and the
test accuracy. Ratios: each form's last-epoch branch RMS and largest gradient norm over
``residual``'s in the same run.

    python benchmarks/shakedrop_scale.py                 # 5 epochs, seed 0
    python benchmarks/shakedrop_scale.py --epochs 10 --seed 1
    python benchmarks/shakedrop_scale.py --forms residual,"shake + branch norm"

(``--forms`` trains some of the forms; the ratios need ``residual`` among them.)

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

import reglab.layers.residual as residual_module
from reglab.data.builtin import load_source
from reglab.layers import ResidualMLP
from reglab.layers.shakedrop import shake_gates

MNIST = f"idx:{Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'mnist-t10k'}"
FORMS = {  # name: (P, branch_norm, exact gradient)
    "residual": (0.0, False, False),
    "shake": (0.5, False, False),
    "shake, beta=alpha": (0.5, False, True),
    "shake + branch norm": (0.5, True, False),
}


def _exact_gates(
    u_drop: Tensor, u_alpha: Tensor, u_beta: Tensor, p: Tensor
) -> tuple[Tensor, Tensor]:
    forward, _ = shake_gates(u_drop, u_alpha, u_beta, p)
    return forward, forward


def train(
    form: str, x: Tensor, y: Tensor, xt: Tensor, yt: Tensor, epochs: int, seed: int
) -> dict[str, Any]:
    rate, branch_norm, exact = FORMS[form]
    torch.manual_seed(seed)
    net = ResidualMLP(x.shape[1], 10, hidden=(128,) * 4, shake_drop=rate, branch_norm=branch_norm,
                      shake_generator=seed)  # fmt: skip
    if branch_norm:  # the same Dense weights as the other forms: only the norms are added
        torch.manual_seed(seed)
        plain = ResidualMLP(x.shape[1], 10, hidden=(128,) * 4)
        net.load_state_dict(plain.state_dict(), strict=False)
    scales: list[list[float]] = [[] for _ in net.blocks]

    def watch(i: int) -> Any:
        def hook(_module: Any, _inputs: Any, out: Tensor) -> None:
            if net.training:
                scales[i].append(float(out.detach().pow(2).mean().sqrt()))

        return hook

    for i, block in enumerate(net.blocks):
        (block.out_norm if branch_norm else block.dense1).register_forward_hook(watch(i))
    original = residual_module.shake_gates
    residual_module.shake_gates = _exact_gates if exact else original  # type: ignore[assignment]
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    order = torch.Generator().manual_seed(seed)
    curve = []
    try:
        for epoch in range(epochs):
            net.train()
            for s in scales:
                s.clear()
            losses, grads = [], []
            for idx in torch.randperm(len(x), generator=order).split(100):
                loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                grads.append(
                    float(
                        torch.nn.utils.get_total_norm(
                            [p.grad for p in net.parameters() if p.grad is not None]
                        )
                    )
                )
                opt.step()
                losses.append(loss.item())
            net.eval()
            with torch.no_grad():
                acc = float((net(xt).argmax(1) == yt).double().mean())
            row = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "max_grad": max(grads),
                   "branch_rms": [float(np.mean(s)) for s in scales], "accuracy": acc}  # fmt: skip
            curve.append(row)
            print(f"  {form:20} epoch {row['epoch']}: loss {row['loss']:9.3g}  max |grad| "
                  f"{row['max_grad']:9.3g}  branch RMS "
                  + " ".join(f"{v:8.3g}" for v in row["branch_rms"])
                  + f"  accuracy {100 * acc:6.2f}%", flush=True)  # fmt: skip
    finally:
        residual_module.shake_gates = original  # type: ignore[assignment]
    return {"curve": curve}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--forms", default=",".join(FORMS), help="forms, comma-separated")
    args = parser.parse_args(argv)
    forms = [f.strip() for f in args.forms.split(",") if f.strip()]
    unknown = [f for f in forms if f not in FORMS]
    if unknown:
        parser.error(f"--forms must name forms among {list(FORMS)}; got {unknown}")
    ds = load_source(MNIST)
    pixels = np.asarray(ds.X, dtype=np.float32) / 255.0
    labels = np.asarray(ds.y, dtype=np.int64)
    perm = np.random.default_rng(args.seed).permutation(len(labels))
    train_rows, test_rows = perm[:8000], perm[8000:]
    x, y = torch.from_numpy(pixels[train_rows]), torch.from_numpy(labels[train_rows])
    xt, yt = torch.from_numpy(pixels[test_rows]), torch.from_numpy(labels[test_rows])
    out: dict[str, Any] = {"epochs": args.epochs, "seed": args.seed, "forms": {}}
    start = time.perf_counter()
    for form in forms:
        out["forms"][form] = train(form, x, y, xt, yt, args.epochs, args.seed)
    print()
    if "residual" not in out["forms"]:
        out["seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps(out))
        return out
    base = out["forms"]["residual"]["curve"][-1]
    for form, result in out["forms"].items():
        last = result["curve"][-1]
        result["rms_ratio"] = [
            round(a / b, 2) for a, b in zip(last["branch_rms"], base["branch_rms"], strict=True)
        ]
        result["grad_ratio"] = round(
            max(r["max_grad"] for r in result["curve"])
            / max(r["max_grad"] for r in out["forms"]["residual"]["curve"]),
            2,
        )
        print(f"{form:20} accuracy {100 * last['accuracy']:6.2f}%  branch RMS x residual "
              f"{result['rms_ratio']}  max |grad| x residual {result['grad_ratio']}")  # fmt: skip
    out["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
