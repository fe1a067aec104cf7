"""1-D CNN members on the built-in sunspots series: the engine's conv stack against a plain
PyTorch loop training the same CNNs one at a time, with the LSTM of ``rnn_sunspots.py`` beside
them for scale.

Data: ``builtin:sunspots`` (statsmodels' yearly sunspot numbers 1700–2008), each year forecast
from the 20 before it: 289 windows of 20 steps × 1 feature. ``--folds`` shuffled k-fold
splits (seed 0); inputs standardized with each split's training values, the target with its
training mean and standard deviation (the engine does the latter itself).

Model: the default blocks of ``--model cnn`` on sequences (``reglab.engine.conv1d``): conv
16@3 (padded) → ReLU → max pool 2 → conv 32@3 (padded) → ReLU → max pool 2 → dense
``--hidden`` → 1. Strategies: ``none``, ``spatial-dropout=0.2`` (whole channels over time),
``dropout=0.3`` (on the dense layer), ``l2=1e-4`` (conv and dense kernels) and ``maxnorm=2``
(per filter). Strategies × folds are the members, all trained by ``train_members`` as one
stack (Adam ``--lr``, batch 32, ``--epochs`` fixed epochs, no validation).

The baseline is the usual hand-written loop, in the same run, over the same members one after
another: ``nn.Conv1d``/``nn.MaxPool1d``/``nn.Linear`` from the member's initial weights and
batch order; the L2 penalty added to the loss; dropout with ``F.dropout``; spatial dropout with
``F.dropout1d``; max-norm by rescaling each filter and unit after the step as Keras's
``MaxNorm`` (and reglab) do, ``w·min(‖w‖, c)/(ε + ‖w‖)``. Both sides use one thread.
The two sides run in turn ``--repeats`` times and each keeps its best time (the machine is
shared). Also timed once, in the same run: the LSTM members of ``rnn_sunspots.py`` (32 units,
``none``) on the same folds and epochs, through ``train_members``.

The ratio is the loop's wall time over the stack's (above 1: the stack is faster); the CPU
times are printed beside it. Also printed: each strategy's test RMSE (sunspot numbers; mean
over folds and its standard error) on both sides, and for each strategy without noise the
largest difference between the stack's and the loop's final weights (the same arithmetic up to
rounding, which 60 epochs of training amplify for the penalized members). The last line
printed is one JSON object with all numbers.

``--forms`` measures instead the two member-batched forms of the conv blocks (one thread,
a batch of 32, forward and backward of conv 1→16@3 on 20 steps, pool, 16→32@3 on 10 steps, for
``--members`` members): one ``F.conv1d`` call per member (what the stack does) against one
grouped call (``groups=M`` on ``[B, M·C, T]``), with the ratio, and whether member 0's output
and kernel gradient are the same bits in a stack of 1 and of M in each form.

    python benchmarks/cnn1d_sunspots.py                  # 5 strategies × 5 folds, 60 epochs
    python benchmarks/cnn1d_sunspots.py --epochs 5 --repeats 1     # quick check
    python benchmarks/cnn1d_sunspots.py --forms --members 25       # grouped vs per member
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import KFold
from torch import nn

from reglab.data import load_source
from reglab.engine import MemberSpec, TrainConfig, initial_weights, stream_seeds, train_members
from reglab.engine.conv1d import Conv1dArchitecture, sequence_blocks
from reglab.engine.rnn import RecurrentArchitecture
from reglab.study.strategies import parse_strategy

STRATEGIES = ["none", "spatial-dropout=0.2", "dropout=0.3", "l2=1e-4", "maxnorm=2"]
DETERMINISTIC = ("none", "l2=1e-4", "maxnorm=2")
BATCH = 32


def splits(n: int, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(KFold(folds, shuffle=True, random_state=0).split(np.arange(n)))


def standardized(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Inputs scaled with the training part's mean and standard deviation of all values."""
    mean, std = x[train].mean(), x[train].std()
    return ((x - mean) / std).astype(np.float32)


def members(args: Any, n: int, steps: int, arch: Any, strategies: list[str]) -> list[MemberSpec]:
    config = TrainConfig(epochs=args.epochs, batch_size=BATCH, lr=args.lr, patience=None)
    specs = []
    for fold, (train, test) in enumerate(splits(n, args.folds)):
        for strategy in strategies:
            specs.append(MemberSpec(arch, parse_strategy(strategy), config, train, train[:0],
                                    test, seed=fold, split_id=fold))  # fmt: skip
    return specs


def stack_run(specs: list[MemberSpec], data: dict[int, Any]) -> tuple[float, float, list[Any]]:
    start, cpu = time.perf_counter(), time.process_time()
    results = train_members(specs, data, device="cpu", num_threads=1)
    return time.perf_counter() - start, time.process_time() - cpu, results


def _technique(spec: MemberSpec, key: str) -> float:
    return next((float(c.values["rate"]) for c in spec.strategy.techniques if c.key == key), 0.0)


class Plain(nn.Module):
    """The 1-D CNN as one would write it by hand."""

    def __init__(self, arch: Conv1dArchitecture, p_drop: float, p_spatial: float) -> None:
        super().__init__()
        b0, b1 = arch.conv
        self.conv0 = nn.Conv1d(arch.features, b0.filters, b0.kernel_size, padding=b0.padding)
        self.conv1 = nn.Conv1d(b0.filters, b1.filters, b1.kernel_size, padding=b1.padding)
        self.pools = (b0.pool, b1.pool)
        self.dense0 = nn.Linear(arch.flat_features, arch.hidden[0])
        self.output = nn.Linear(arch.hidden[0], 1)
        self.p_drop, self.p_spatial, self.steps = p_drop, p_spatial, arch.steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.view(len(x), self.steps, -1).transpose(1, 2).contiguous()
        for conv, pool in zip((self.conv0, self.conv1), self.pools, strict=True):
            h = F.max_pool1d(torch.relu(conv(h)), pool)
            if self.p_spatial > 0:
                h = F.dropout1d(h, self.p_spatial, self.training)
        h = torch.relu(self.dense0(h.flatten(1)))
        if self.p_drop > 0:
            h = F.dropout(h, self.p_drop, self.training)
        return self.output(h).squeeze(1)


def loop_member(spec: MemberSpec, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Train one member the usual way; its final weights and test predictions."""
    arch = spec.arch
    s = spec.strategy
    model = Plain(arch, s.dropout, _technique(spec, "spatial-dropout"))
    model.load_state_dict({k: torch.as_tensor(v) for k, v in initial_weights(spec).items()})
    opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
    torch.manual_seed(spec.seed + 1000)
    order = torch.Generator().manual_seed(stream_seeds(spec.seed)["order"])
    y_train = y[spec.train_idx]
    mean, std = float(y_train.mean()), float(y_train.std())
    xt = torch.from_numpy(x[spec.train_idx])
    yt = torch.from_numpy(((y_train - mean) / std).astype(np.float32))
    kernels = [model.conv0.weight, model.conv1.weight, model.dense0.weight]
    model.train()
    for _ in range(spec.train.epochs):
        perm = torch.randperm(len(xt), generator=order)
        for start in range(0, len(xt), BATCH):
            rows = perm[start : start + BATCH]
            loss = F.mse_loss(model(xt[rows]), yt[rows])
            if s.l2 > 0:
                loss = loss + s.l2 * sum(w.square().sum() for w in kernels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if s.max_norm > 0:
                with torch.no_grad():
                    for w in (*kernels, model.output.weight):
                        norms = w.square().sum(tuple(range(1, w.dim())), keepdim=True).sqrt()
                        w.mul_(norms.clamp(max=s.max_norm) / (1e-7 + norms))
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x[spec.test_idx])).numpy() * std + mean
    weights = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return {"weights": weights, "pred": pred}


def loop_run(specs: list[MemberSpec], xs: dict[int, np.ndarray], y: np.ndarray) -> Any:
    start, cpu = time.perf_counter(), time.process_time()
    results = [loop_member(s, xs[s.split_id], y) for s in specs]
    return time.perf_counter() - start, time.process_time() - cpu, results


def _blocks(x: torch.Tensor, k0: torch.Tensor, k1: torch.Tensor, grouped: bool) -> torch.Tensor:
    """Both conv blocks for ``M`` members: ``x`` ``[M, B, 1, T]``, kernels ``[M, C', C, 3]``."""
    m = x.shape[0]
    if grouped:
        h = x.transpose(0, 1).reshape(x.shape[1], -1, x.shape[3])  # [B, M·C, T]
        h = F.max_pool1d(torch.relu(F.conv1d(h, k0.flatten(0, 1), padding=1, groups=m)), 2)
        h = F.max_pool1d(torch.relu(F.conv1d(h, k1.flatten(0, 1), padding=1, groups=m)), 2)
        return h.view(x.shape[1], m, -1).transpose(0, 1)
    out = []
    for j in range(m):
        h = F.max_pool1d(torch.relu(F.conv1d(x[j], k0[j], padding=1)), 2)
        h = F.max_pool1d(torch.relu(F.conv1d(h, k1[j], padding=1)), 2)
        out.append(h.flatten(1))
    return torch.stack(out)


def forms(members: int, repeats: int = 5, steps: int = 50) -> dict[str, Any]:
    """Time the per-member and grouped conv blocks; check member 0's bits in each form."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(members, 32, 1, 20, generator=gen)
    k0 = torch.randn(members, 16, 1, 3, generator=gen).requires_grad_()
    k1 = torch.randn(members, 32, 16, 3, generator=gen).requires_grad_()
    times: dict[str, float] = {}
    same: dict[str, bool] = {}
    for grouped, name in ((False, "per_member"), (True, "grouped")):
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(steps):
                k0.grad = k1.grad = None
                _blocks(x, k0, k1, grouped).sum().backward()
            best = min(best, time.perf_counter() - start)
        times[name] = best / steps
        full = _blocks(x, k0, k1, grouped)
        (g_full,) = torch.autograd.grad(full[0].square().sum(), k0)
        one = _blocks(x[:1], k0[:1], k1[:1], grouped)
        (g_one,) = torch.autograd.grad(one[0].square().sum(), k0)
        same[name] = bool(torch.equal(full[0], one[0]) and torch.equal(g_full[0], g_one[0]))
    return {"members": members, "per_member_ms": 1e3 * times["per_member"],
            "grouped_ms": 1e3 * times["grouped"],
            "grouped_over_per_member": times["grouped"] / times["per_member"],
            "bit_identical": same}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--forms", action="store_true", help="grouped vs per-member conv only")
    parser.add_argument("--members", type=int, default=25)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.forms:
        out = forms(args.members)
        print(f"conv blocks of {out['members']} members, forward + backward, one thread: per "
              f"member {out['per_member_ms']:.2f} ms, grouped {out['grouped_ms']:.2f} ms, "
              f"grouped / per member {out['grouped_over_per_member']:.2f}x; member 0 the same "
              f"bits alone and in the stack: {out['bit_identical']}")  # fmt: skip
        print(json.dumps({"benchmark": "cnn1d_sunspots_forms", **out}))
        return
    ds = load_source("builtin:sunspots")
    raw = ds.samples()[:, :, 0].astype(np.float64)
    y = np.asarray(ds.y, dtype=np.float64)
    n, steps = raw.shape
    arch = Conv1dArchitecture(steps, 1, hidden=(args.hidden,), steps=steps, features=1,
                              task="regression", conv=sequence_blocks(steps))  # fmt: skip
    specs = members(args, n, steps, arch, STRATEGIES)
    xs = {s.split_id: standardized(raw, s.train_idx) for s in specs}
    data = {k: (v, y.astype(np.float32)) for k, v in xs.items()}
    stack_times, loop_times, stack_cpu, loop_cpu = [], [], [], []
    for _ in range(args.repeats):
        t, c, stacked = stack_run(specs, data)
        stack_times.append(t)
        stack_cpu.append(c)
        t, c, looped = loop_run(specs, xs, y)
        loop_times.append(t)
        loop_cpu.append(c)
    lstm = RecurrentArchitecture(steps, 1, units=(32,), steps=steps, features=1,
                                 task="regression")  # fmt: skip
    lstm_specs = members(args, n, steps, lstm, ["none"])
    lstm_s, _, lstm_results = stack_run(lstm_specs, data)
    stack_s, loop_s = min(stack_times), min(loop_times)
    rmse: dict[str, dict[str, float]] = {}
    for name in STRATEGIES:
        idx = [i for i, s in enumerate(specs) if s.strategy.name == name]
        ours = [float(stacked[i].test_scores["rmse"]) for i in idx]
        theirs = [float(np.sqrt(np.mean((looped[i]["pred"] - y[specs[i].test_idx]) ** 2)))
                  for i in idx]  # fmt: skip
        rmse[name] = {"stack": float(np.mean(ours)), "loop": float(np.mean(theirs)),
                      "stack_se": float(np.std(ours, ddof=1) / np.sqrt(len(ours)))}  # fmt: skip
    lstm_rmse = [float(r.test_scores["rmse"]) for r in lstm_results]
    agree = {
        name: max(
            float(np.abs(stacked[i].weights[k] - looped[i]["weights"][k]).max())
            for i, s in enumerate(specs) if s.strategy.name == name
            for k in looped[i]["weights"]
        )
        for name in DETERMINISTIC
    }  # fmt: skip
    per_member = stack_s / len(specs)
    print(f"{len(specs)} 1-D CNN members (conv 16@3, 32@3, dense {args.hidden}; {args.folds} "
          f"folds × {len(STRATEGIES)} strategies), {args.epochs} epochs, 1 thread")  # fmt: skip
    print(f"stack {stack_s:.2f} s   loop {loop_s:.2f} s   loop / stack {loop_s / stack_s:.2f}x"
          f"   (runs: stack {', '.join(f'{t:.2f}' for t in stack_times)}; "
          f"loop {', '.join(f'{t:.2f}' for t in loop_times)})")  # fmt: skip
    for name, r in rmse.items():
        print(f"  {name:22s} test RMSE stack {r['stack']:6.2f} ± {r['stack_se']:.2f}"
              f"   loop {r['loop']:6.2f}")  # fmt: skip
    print(f"CPU time (one thread): stack {min(stack_cpu):.2f} s   loop {min(loop_cpu):.2f} s   "
          f"loop / stack {min(loop_cpu) / min(stack_cpu):.2f}x")  # fmt: skip
    print("largest weight difference stack vs loop: "
          + ", ".join(f"{name} {diff:.2e}" for name, diff in agree.items()))  # fmt: skip
    print(f"LSTM (32 units, none) on the same folds: {lstm_s / len(lstm_specs):.3f} s per member "
          f"vs 1-D CNN {per_member:.3f} s; test RMSE {np.mean(lstm_rmse):.2f} vs "
          f"{rmse['none']['stack']:.2f}")  # fmt: skip
    print(json.dumps({
        "benchmark": "cnn1d_sunspots", "members": len(specs), "hidden": args.hidden,
        "epochs": args.epochs, "folds": args.folds, "lr": args.lr,
        "stack_s": stack_s, "loop_s": loop_s, "ratio": loop_s / stack_s,
        "stack_runs": stack_times, "loop_runs": loop_times, "stack_cpu_s": min(stack_cpu),
        "loop_cpu_s": min(loop_cpu), "cpu_ratio": min(loop_cpu) / min(stack_cpu), "rmse": rmse,
        "max_weight_diff_deterministic": agree,
        "lstm_s_per_member": lstm_s / len(lstm_specs), "cnn1d_s_per_member": per_member,
        "lstm_rmse": float(np.mean(lstm_rmse)),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
