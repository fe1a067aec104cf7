"""Benchmark: one nested study (``bench --tune``) run by one process, then by two on one store.

Both sides run the same command, ``reglab bench builtin:breast_cancer --tune N`` (strategies
``none, dropout, l2``, 5 outer folds, 3 inner folds, a 32-unit MLP), each in a fresh SQLite
file (or a fresh schema-free PostgreSQL database given with ``--url``, dropped by the caller):

* **one**: a single ``reglab bench`` process;
* **two**: two ``reglab bench`` processes started together on the same store; they divide
  the searches (one per tuned family and outer split) and the outer members between them
  (``docs/scaleout.md``).

It checks that both sides give the same answer (the JSON results' chosen strengths, inner
scores and outer scores, to the bit) and that the two processes together trained as many
members as the one alone (none twice), and prints the wall times and their ratio two / one.
On a machine with fewer free cores than processes the ratio shows the overhead of sharing
rather than a speed-up. The last line is one JSON object.

    python benchmarks/nested_shared.py                    # N = 8, 20 epochs
    python benchmarks/nested_shared.py --trials 16 --epochs 30
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def command(store: str, out: Path, trials: int, epochs: int) -> list[str]:
    return [
        sys.executable, "-m", "reglab.cli.main", "bench", "builtin:breast_cancer",
        "--strategies", "none,dropout,l2", "--tune", str(trials), "--tune-batch", "4",
        "--cv", "5", "--hidden", "32", "--epochs", str(epochs), "--device", "cpu",
        "--reference", "none", "--name", "shared", "--store", store, "--json", str(out),
        "--no-report",
    ]  # fmt: skip


def side(processes: int, store: str, folder: Path, trials: int, epochs: int) -> dict[str, Any]:
    """Run ``processes`` copies of the command together; their wall time, trained counts and
    the first one's JSON result."""
    outs = [folder / f"{processes}-{i}.json" for i in range(processes)]
    start = time.perf_counter()
    procs = [
        subprocess.Popen(command(store, out, trials, epochs), stderr=subprocess.PIPE, text=True)
        for out in outs
    ]
    errs = [p.communicate()[1] for p in procs]
    seconds = time.perf_counter() - start
    for p, err in zip(procs, errs, strict=True):
        if p.returncode != 0:
            raise SystemExit(err)
    found = [re.findall(r"trained (\d+) members in ([0-9.]+) s", err)[-1] for err in errs]
    trained = [int(n) for n, _ in found]
    results = [json.loads(out.read_text()) for out in outs]
    study_s = max(float(s) for _, s in found)  # from the run's start, after import and plan
    return {"seconds": seconds, "study_s": study_s, "trained": trained, "results": results,
            "stderr": errs}  # fmt: skip


def answer(result: dict[str, Any]) -> Any:
    """What the study concluded: each family's choices per outer split and the outer scores."""
    choices = [
        (t["family"], s["split"], s["values"], s["inner_score"])
        for t in result["tuning"]
        for s in t["splits"]
    ]
    scores = {r["strategy"]: r["split_scores"] for r in result["ranking"]}
    return choices, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--url", help="PostgreSQL URLs of two empty stores, comma-separated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stores = (
            args.url.split(",") if args.url else [str(folder / "one.db"), str(folder / "two.db")]
        )
        one = side(1, stores[0], folder, args.trials, args.epochs)
        two = side(2, stores[1], folder, args.trials, args.epochs)
    same = all(answer(r) == answer(one["results"][0]) for r in two["results"])
    ratio = two["seconds"] / one["seconds"]
    waited = sum("that another process is tuning" in e for e in two["stderr"])
    print(f"one process:   {one['seconds']:.1f} s, trained {one['trained']}")
    print(f"two processes: {two['seconds']:.1f} s, trained {two['trained']} "
          f"(sum {sum(two['trained'])}); {waited} waited for searches the other held")  # fmt: skip
    phase = two["study_s"] / one["study_s"]
    print(f"study phase (after import and planning, the slower process): one {one['study_s']:.1f} "
          f"s, two {two['study_s']:.1f} s, two / one = {phase:.2f}")  # fmt: skip
    print(f"same answer to the bit: {same}; wall time two / one = {ratio:.2f}")
    print(json.dumps({
        "trials": args.trials, "epochs": args.epochs,
        "one_s": round(one["seconds"], 2), "two_s": round(two["seconds"], 2),
        "ratio": round(ratio, 3), "study_one_s": one["study_s"], "study_two_s": two["study_s"],
        "study_ratio": round(phase, 3),
        "trained_one": one["trained"], "trained_two": two["trained"],
        "same_answer": same,
    }))  # fmt: skip
    if not same or sum(two["trained"]) != sum(one["trained"]):
        raise SystemExit("the two-process run differs from the one-process run")


if __name__ == "__main__":
    main()
