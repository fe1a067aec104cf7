"""W1 through the command line against W1 through the engine alone, in the same invocation.

The study layer (loading the CSV, per-fold preprocessing, planning, the store, statistics)
should add bookkeeping, not cost. This runs the engine benchmark's W1 (best of two) and then

    reglab bench ../shared/data/w1.csv --target y --hidden 50,25 --epochs 100 --batch-size 32
        --cv 5 --no-early-stopping --reference none --strategies none,l1=1e-4,...  (the eight W1
        strategies; the reference rows, timed by benchmarks/reference_cost.py, are left out)

as a subprocess with a fresh store, and prints, as its last line, one JSON object with
``engine_s``, ``study_s`` (planning + preprocessing + training + storing, as the study records
it), ``command_s`` (the whole command, interpreter start-up and imports included),
``overhead`` (study_s / engine_s − 1) and both sides' mean fold accuracy per strategy. The
benchmark's W1 uses the peer's folds (``random_state=42``) and its own seeds, the study its own
splits and seeds, so their accuracies differ by seed noise; ``engine_on_study_plan_acc`` is the
engine alone on the study's own plan, which the command must reproduce exactly.

    python benchmarks/study_w1.py                 # the full workload
    python benchmarks/study_w1.py --epochs 10     # quick
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

from _w1 import EPOCHS, PEERS, STRATEGIES
from engine_w1 import run_engine

GRAMMAR = {
    "none": "none",
    "l1": "l1=1e-4",
    "l2": "l2=1e-4",
    "elasticnet": "l1=5e-5+l2=5e-5",
    "dropout": "dropout=0.3",
    "dropout+l1": "dropout=0.3+l1=1e-4",
    "dropout+l2": "dropout=0.3+l2=1e-4",
    "dropout+en": "dropout=0.3+l1=5e-5+l2=5e-5",
}


def run_cli(epochs: int) -> tuple[float, float, dict[str, float]]:
    """Run W1 through ``reglab bench``; return study seconds, command seconds, accuracies."""
    data = PEERS.parent / "data" / "w1.csv"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "w1.json"
        cmd = [
            sys.executable, "-m", "reglab.cli.main", "bench", str(data), "--target", "y",
            "--hidden", "50,25", "--epochs", str(epochs), "--batch-size", "32", "--cv", "5",
            "--no-early-stopping", "--reference", "none",
            "--strategies", ",".join(GRAMMAR.values()),
            "--store", str(Path(tmp) / "w1.db"), "--json", str(out), "--no-report",
        ]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        command_s = time.perf_counter() - start
        result = json.loads(out.read_text())
    by_grammar = {row["strategy"]: row for row in result["ranking"]}
    acc = {
        name: float(by_grammar[text]["metrics"]["accuracy"]["mean"])
        for name, text in GRAMMAR.items()
    }
    return float(result["wall_s"]), command_s, acc


def run_engine_on_study_plan(epochs: int) -> dict[str, float]:
    """The engine alone on the study's own splits, preprocessing and seeds (no store)."""
    from reglab.api import load_data
    from reglab.engine import train_members
    from reglab.study.run import Study

    dataset = load_data(PEERS.parent / "data" / "w1.csv", target="y")
    study = Study(
        ",".join(GRAMMAR.values()),
        hidden=(50, 25),
        epochs=epochs,
        batch_size=32,
        early_stopping=False,
        n_splits=5,
    )
    plan = study.plan(dataset)
    specs = [spec for spec, _ in plan.members]
    results = train_members(specs, plan.data)
    accs: dict[str, list[float]] = {}
    for spec, result in zip(specs, results, strict=True):
        accs.setdefault(spec.strategy.name, []).append(result.test_scores["accuracy"])
    return {name: sum(accs[text]) / len(accs[text]) for name, text in GRAMMAR.items()}


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs for both (100)")
    args = parser.parse_args(argv)
    names = list(STRATEGIES)
    runs = [run_engine(args.epochs, names, "auto") for _ in range(2)]
    engine_s, engine_acc = min(runs, key=lambda r: r[0])
    print(f"engine: {engine_s:.2f} s")
    study_s, command_s, study_acc = run_cli(args.epochs)
    print(f"reglab bench: {study_s:.2f} s in the study, {command_s:.2f} s for the command")
    gap = max(abs(engine_acc[k] - study_acc[k]) for k in names)
    same_plan = run_engine_on_study_plan(args.epochs)
    same_gap = max(abs(same_plan[k] - study_acc[k]) for k in names)
    out = {
        "workload": "W1 via reglab bench",
        "epochs": args.epochs,
        "engine_s": round(engine_s, 3),
        "study_s": round(study_s, 3),
        "command_s": round(command_s, 3),
        "overhead": round(study_s / engine_s - 1, 4),
        "engine_acc": {k: round(v, 4) for k, v in engine_acc.items()},
        "study_acc": {k: round(v, 4) for k, v in study_acc.items()},
        "max_acc_gap": round(gap, 4),
        "engine_on_study_plan_acc": {k: round(v, 4) for k, v in same_plan.items()},
        "max_acc_gap_same_plan": round(same_gap, 6),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
