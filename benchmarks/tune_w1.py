"""Strength tuning on W1: ``reglab.tune`` against Optuna driving the plain PyTorch loop.

Both sides search W1's dropout+l2 space — dropout uniform in [0, 0.6], l2 log-uniform in
[1e-6, 1e-2] (Keras semantics) — with TPE (seed 0) for the same number of trials, each trial
scored by its mean test accuracy over 5 stratified folds, on W1's model (50-25, ReLU,
Adam(1e-3), batch 32, fixed epochs, no early stopping, so no pruning on either side).

* reglab: :func:`reglab.tune` on ``../shared/data/w1.csv``, ``batch_trials`` trials × 5
  folds trained as one stack per round, the search and the members in a fresh SQLite store;
* the peer: ``python ../shared/peers/optuna_loop.py TRIALS EPOCHS SEED``, run as a subprocess
  in the same invocation: Optuna's TPE asks one trial at a time and trains its 5 folds one
  after another.

The two sides use different folds and seeds, so their best accuracies differ by noise; the
floor is that reglab's best is within one point of the peer's. The last line is one JSON
object with ``reglab_s``, ``optuna_s``, ``speedup``, ``reglab_best``, ``optuna_best``.

    python benchmarks/tune_w1.py                           # 100 trials x 100 epochs
    python benchmarks/tune_w1.py --trials 30 --epochs 30   # shortened alike on both sides
    python benchmarks/tune_w1.py --sweep 4,8,16,32 --trials 32 --epochs 20   # reglab only:
                                                           # the best and time per batch size
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _w1 import PEERS

RANGES = "dropout=0:0.6,l2=1e-6:1e-2"


def run_reglab(trials: int, epochs: int, seed: int, batch_trials: int) -> tuple[float, float]:
    """Tune W1 with reglab; return (seconds, best mean CV accuracy)."""
    import optuna  # noqa: F401 - imported (as torch and scikit-learn) before the clock starts

    import reglab
    import reglab.api
    import reglab.study.tune

    data = PEERS.parent / "data" / "w1.csv"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = reglab.tune(
            str(data),
            target="y",
            strategy="dropout+l2",
            ranges=RANGES,
            trials=trials,
            batch_trials=batch_trials,
            cv=5,
            hidden=(50, 25),
            epochs=epochs,
            batch_size=32,
            early_stopping=False,
            seed=seed,
            store=str(Path(tmp) / "tune.db"),
        )
        wall = time.perf_counter() - start
    if result.best is None:
        raise SystemExit("reglab: no trial completed")
    print(f"reglab: {wall:.2f} s, best {result.best.strategy} {result.best.value:.4f}")
    return wall, result.best.value


def run_optuna(trials: int, epochs: int, seed: int) -> tuple[float, float]:
    """The peer script as a subprocess; return (its own seconds, from the first trial to the
    last, without start-up and imports, as reglab's are counted; best mean CV accuracy)."""
    script = PEERS / "optuna_loop.py"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(script), str(trials), str(epochs), str(seed)],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    line = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"optuna loop: {wall:.2f} s (its own {line['wall_s']:.2f} s), "
          f"best {line['best_params']} {line['best_value']:.4f}")  # fmt: skip
    return float(line["wall_s"]), float(line["best_value"])


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100, help="trials on each side (100)")
    parser.add_argument("--epochs", type=int, default=100, help="epochs per model (100)")
    parser.add_argument("--seed", type=int, default=0, help="sampler and root seed (0)")
    parser.add_argument("--batch-trials", type=int, default=16, help="reglab's trials/round")
    parser.add_argument("--sweep", default="", help="comma list of batch sizes: reglab only")
    args = parser.parse_args(argv)
    if args.sweep:
        rows = []
        for k in (int(v) for v in args.sweep.split(",")):
            wall, best = run_reglab(args.trials, args.epochs, args.seed, k)
            rows.append({"batch_trials": k, "reglab_s": round(wall, 3), "best": round(best, 4)})
        out: dict[str, object] = {"workload": "W1 tune sweep", "trials": args.trials,
                                  "epochs": args.epochs, "runs": rows}  # fmt: skip
        print(json.dumps(out))
        return out
    reglab_s, reglab_best = run_reglab(args.trials, args.epochs, args.seed, args.batch_trials)
    optuna_s, optuna_best = run_optuna(args.trials, args.epochs, args.seed)
    out = {
        "workload": "W1 tune dropout+l2",
        "trials": args.trials,
        "epochs": args.epochs,
        "batch_trials": args.batch_trials,
        "reglab_s": round(reglab_s, 3),
        "optuna_s": round(optuna_s, 3),
        "speedup": round(optuna_s / reglab_s, 2),
        "reglab_best": round(reglab_best, 4),
        "optuna_best": round(optuna_best, 4),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
