"""LSTM members on the built-in sunspots series: the engine's recurrent stack against a plain
PyTorch loop training the same LSTMs one at a time.

Data: ``builtin:sunspots`` (statsmodels' yearly sunspot numbers 1700–2008), each year forecast
from the 20 before it: 289 windows of 20 steps × 1 feature. ``--folds`` shuffled k-fold
splits (seed 0); inputs standardized with each split's training values, the target with its
training mean and standard deviation (the engine does the latter itself).

Strategies (``--units`` LSTM units, then a linear output on the last state): ``none``,
``input-dropout=0.1+recurrent-dropout=0.25`` (input dropout and Gal & Ghahramani's variational
recurrent dropout), ``weight-drop=0.3`` (DropConnect on ``W_hh``, AWD-LSTM) and ``l2=1e-4``
(on both LSTM kernels). Strategies × folds are the members, all trained by ``train_members``
as one stack (Adam ``--lr``, batch 32, ``--epochs`` fixed epochs, no validation).

The baseline is the usual hand-written loop, in the same run, over the same members one after
another: ``torch.nn.LSTM`` + ``nn.Linear`` from the member's initial weights and batch order;
the L2 penalty added to the loss; input dropout with ``F.dropout``; weight drop by running
``nn.LSTM`` on a dropped copy of ``weight_hh_l0`` (``torch.func.functional_call``, as
AWD-LSTM's ``WeightDrop``); recurrent dropout by stepping an ``nn.LSTMCell`` with one mask on
``h`` per batch (``torch.nn.LSTM`` has no recurrent dropout). Both sides use one thread. The
two sides run in turn ``--repeats`` times and each keeps its best time (the machine is shared).

The ratio is the loop's wall time over the stack's (above 1: the stack is faster); the CPU
times of the process are printed beside it (on a shared machine they are the steadier
measure, as each side runs on one thread). Also
printed: each strategy's test RMSE (sunspot numbers; mean over folds) on both sides, and for
the two strategies without noise the largest difference between the stack's and the loop's
final weights (the same arithmetic up to rounding). The last line printed is one JSON object
with all numbers.

    python benchmarks/rnn_sunspots.py                 # 4 strategies × 5 folds, 60 epochs
    python benchmarks/rnn_sunspots.py --epochs 5 --repeats 1      # quick check
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
from reglab.engine.rnn import RecurrentArchitecture
from reglab.study.strategies import parse_strategy

STRATEGIES = ["none", "input-dropout=0.1+recurrent-dropout=0.25", "weight-drop=0.3", "l2=1e-4"]
BATCH = 32


def splits(n: int, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(KFold(folds, shuffle=True, random_state=0).split(np.arange(n)))


def standardized(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Inputs scaled with the training part's mean and standard deviation of all values."""
    mean, std = x[train].mean(), x[train].std()
    return ((x - mean) / std).astype(np.float32)


def members(args: Any, x: np.ndarray) -> tuple[list[MemberSpec], dict[int, Any]]:
    n, steps = x.shape[0], x.shape[1]
    arch = RecurrentArchitecture(steps, 1, units=(args.units,), steps=steps, features=1,
                                 task="regression")  # fmt: skip
    config = TrainConfig(epochs=args.epochs, batch_size=BATCH, lr=args.lr, patience=None)
    specs = []
    for fold, (train, test) in enumerate(splits(n, args.folds)):
        for strategy in STRATEGIES:
            specs.append(MemberSpec(arch, parse_strategy(strategy), config, train, train[:0],
                                    test, seed=fold, split_id=fold))  # fmt: skip
    return specs, {}


def stack_run(specs: list[MemberSpec], data: dict[int, Any]) -> tuple[float, float, list[Any]]:
    start, cpu = time.perf_counter(), time.process_time()
    results = train_members(specs, data, device="cpu", num_threads=1)
    return time.perf_counter() - start, time.process_time() - cpu, results


def _technique(spec: MemberSpec, key: str) -> float:
    return next((float(c.values["rate"]) for c in spec.strategy.techniques if c.key == key), 0.0)


def loop_member(spec: MemberSpec, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Train one member the usual way; its final weights and test predictions."""
    units, epochs, l2 = spec.arch.units[0], spec.train.epochs, spec.strategy.l2
    p_in, p_rec = spec.strategy.input_dropout, _technique(spec, "recurrent-dropout")
    p_wd = _technique(spec, "weight-drop")
    lstm, out = nn.LSTM(1, units, batch_first=True), nn.Linear(units, 1)
    state = {k: torch.as_tensor(v) for k, v in initial_weights(spec).items()}
    lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("rnn0.")})
    out.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("output.")})
    cell = nn.LSTMCell(1, units)
    params = [*lstm.parameters(), *out.parameters()]
    opt = torch.optim.Adam(params, lr=spec.lr)
    noise = torch.Generator().manual_seed(spec.seed + 1000)
    order = torch.Generator().manual_seed(stream_seeds(spec.seed)["order"])
    y_train = y[spec.train_idx]
    mean, std = float(y_train.mean()), float(y_train.std())
    xt = torch.from_numpy(x[spec.train_idx])
    yt = torch.from_numpy(((y_train - mean) / std).astype(np.float32))

    def forward(batch: torch.Tensor, train: bool) -> torch.Tensor:
        if train and p_in > 0:
            keep = torch.rand(batch.shape, generator=noise) >= p_in
            batch = batch * keep / (1 - p_in)
        seq = batch.unsqueeze(2)  # [B, T, 1]
        if train and p_rec > 0:  # Gal & Ghahramani: one mask on h for the whole sequence
            w = dict(lstm.named_parameters())
            mask = (torch.rand(len(batch), units, generator=noise) >= p_rec) / (1 - p_rec)
            h = c = seq.new_zeros(len(batch), units)
            for t in range(seq.shape[1]):
                h, c = torch.func.functional_call(
                    cell,
                    {"weight_ih": w["weight_ih_l0"], "weight_hh": w["weight_hh_l0"],
                     "bias_ih": w["bias_ih_l0"], "bias_hh": w["bias_hh_l0"]},
                    (seq[:, t], (h * mask, c)),
                )  # fmt: skip
            return out(h).squeeze(1)
        if train and p_wd > 0:  # AWD-LSTM's WeightDrop: a dropped copy of W_hh per batch
            w = dict(lstm.named_parameters())
            keep = torch.rand(w["weight_hh_l0"].shape, generator=noise) >= p_wd
            w["weight_hh_l0"] = w["weight_hh_l0"] * keep / (1 - p_wd)
            hs = torch.func.functional_call(lstm, w, (seq,))[0]
        else:
            hs = lstm(seq)[0]
        return out(hs[:, -1]).squeeze(1)

    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=order)
        for start in range(0, len(xt), BATCH):
            rows = perm[start : start + BATCH]
            loss = F.mse_loss(forward(xt[rows], True), yt[rows])
            if l2 > 0:
                loss = loss + l2 * (lstm.weight_ih_l0.square().sum()
                                    + lstm.weight_hh_l0.square().sum())  # fmt: skip
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = forward(torch.from_numpy(x[spec.test_idx]), False).numpy() * std + mean
    weights = {f"rnn0.{k}": v.detach().numpy().copy() for k, v in lstm.state_dict().items()}
    weights.update({f"output.{k}": v.detach().numpy().copy() for k, v in out.state_dict().items()})
    return {"weights": weights, "pred": pred}


def loop_run(specs: list[MemberSpec], xs: dict[int, np.ndarray], y: np.ndarray) -> Any:
    start, cpu = time.perf_counter(), time.process_time()
    results = [loop_member(s, xs[s.split_id], y) for s in specs]
    return time.perf_counter() - start, time.process_time() - cpu, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ds = load_source("builtin:sunspots")
    raw = ds.samples()[:, :, 0].astype(np.float64)
    y = np.asarray(ds.y, dtype=np.float64)
    specs, _ = members(args, raw)
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
    stack_s, loop_s = min(stack_times), min(loop_times)
    rmse: dict[str, dict[str, float]] = {}
    for name in STRATEGIES:
        idx = [i for i, s in enumerate(specs) if s.strategy.name == name]
        ours = [float(stacked[i].test_scores["rmse"]) for i in idx]
        theirs = [float(np.sqrt(np.mean((looped[i]["pred"] - y[specs[i].test_idx]) ** 2)))
                  for i in idx]  # fmt: skip
        rmse[name] = {"stack": float(np.mean(ours)), "loop": float(np.mean(theirs)),
                      "stack_se": float(np.std(ours, ddof=1) / np.sqrt(len(ours)))}  # fmt: skip
    agree = max(
        float(np.abs(stacked[i].weights[k] - looped[i]["weights"][k]).max())
        for i, s in enumerate(specs) if s.strategy.name in ("none", "l2=1e-4")
        for k in looped[i]["weights"]
    )  # fmt: skip
    print(f"{len(specs)} LSTM members ({args.units} units, {args.folds} folds × "
          f"{len(STRATEGIES)} strategies), {args.epochs} epochs, 1 thread")  # fmt: skip
    print(f"stack {stack_s:.2f} s   loop {loop_s:.2f} s   loop / stack {loop_s / stack_s:.2f}x"
          f"   (runs: stack {', '.join(f'{t:.2f}' for t in stack_times)}; "
          f"loop {', '.join(f'{t:.2f}' for t in loop_times)})")  # fmt: skip
    for name, r in rmse.items():
        print(f"  {name:42s} test RMSE stack {r['stack']:6.2f} ± {r['stack_se']:.2f}"
              f"   loop {r['loop']:6.2f}")  # fmt: skip
    print(f"CPU time (one thread): stack {min(stack_cpu):.2f} s   loop {min(loop_cpu):.2f} s   "
          f"loop / stack {min(loop_cpu) / min(stack_cpu):.2f}x")  # fmt: skip
    print(f"largest weight difference stack vs loop (none, l2): {agree:.2e}")
    print(json.dumps({
        "benchmark": "rnn_sunspots", "members": len(specs), "units": args.units,
        "epochs": args.epochs, "folds": args.folds, "lr": args.lr,
        "stack_s": stack_s, "loop_s": loop_s, "ratio": loop_s / stack_s,
        "stack_runs": stack_times, "loop_runs": loop_times, "stack_cpu_s": min(stack_cpu),
        "loop_cpu_s": min(loop_cpu), "cpu_ratio": min(loop_cpu) / min(stack_cpu), "rmse": rmse,
        "max_weight_diff_deterministic": agree,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
