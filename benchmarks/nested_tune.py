"""Benchmark: tuned against untuned verdicts on crx, with the time nested tuning costs.

Both sides run ``reglab.bench`` on ``../shared/data/crx.csv`` (target ``a16``; 690 rows, 46
inputs after encoding) with the same 5 outer folds, model (64-32, Adam 1e-3, batch 32, at most
``--epochs`` epochs with early stopping) and strategies ``none, dropout, l2, dropout+l2``:

* **untuned**: the presets (dropout 0.3, l2 1e-4), as ``reglab bench`` compares them;
* **tuned**: ``tune=N``: each family tuned by N TPE trials on 3 inner folds of every outer
  training part, retrained there and scored on the outer test fold (``docs/tune.md``).

It prints each side's ranking, answer and combined-versus-parts verdicts, the tuned strengths'
spread, and the cost ratio tuned / untuned. The last line is one JSON object: ``untuned_s``,
``tuned_s``, ``ratio``, ``inner_members``, and per side the mean scores and the answer.

    python benchmarks/nested_tune.py                  # N = 16, 100 epochs
    python benchmarks/nested_tune.py --trials 8 --epochs 30
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import reglab
from reglab.store import Store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "crx.csv"
STRATEGIES = "none,dropout,l2,dropout+l2"


def side(tune: int | None, epochs: int) -> tuple[float, Any, int]:
    """One bench call in an in-memory store: seconds, the result, the inner members stored."""
    options: dict[str, Any] = {"epochs": epochs, "device": "cpu", "reference": "none"}
    if tune is not None:
        options |= {"tune": tune, "tune_batch": 16}
    with Store("sqlite://") as st:
        start = time.perf_counter()
        result = reglab.bench(str(DATA), target="a16", strategies=STRATEGIES, store=st, **options)
        seconds = time.perf_counter() - start
        inner = sum(
            len(st.load_members(s.name, with_curves=False, with_details=False))
            for s in st.list_studies()
            if s.name.endswith("/inner")
        )
    return seconds, result, inner


def show(title: str, seconds: float, result: Any) -> dict[str, float]:
    print(f"== {title}: {seconds:.1f} s")
    scores = {}
    for r in result.ranking:
        summary = result.strategies[r.strategy].metrics[result.primary]
        scores[r.strategy] = round(summary.mean, 4)
        print(f"  {r.rank}. {r.strategy:12s} {result.primary} {summary.mean:.3f} "
              f"[{summary.ci_low:.3f}, {summary.ci_high:.3f}]")  # fmt: skip
    for line in result.answer.lines:
        print(f"  {line}")
    for v in result.verdicts:
        print(f"  {v.sentence}.")
    for family in result.tuning:
        print(f"  {family.name} chose " + "; ".join(s.text for s in family.spread))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16, help="trials per search (16)")
    parser.add_argument("--epochs", type=int, default=100, help="epoch limit (100)")
    args = parser.parse_args()
    untuned_s, untuned, _ = side(None, args.epochs)
    tuned_s, tuned, inner = side(args.trials, args.epochs)
    a = show("untuned (presets)", untuned_s, untuned)
    b = show(f"tuned (--tune {args.trials}, {inner} inner members)", tuned_s, tuned)
    ratio = tuned_s / untuned_s
    print(f"nested tuning cost: {ratio:.1f}x the untuned study ({inner} inner members)")
    print(json.dumps({
        "trials": args.trials,
        "epochs": args.epochs,
        "untuned_s": round(untuned_s, 2),
        "tuned_s": round(tuned_s, 2),
        "ratio": round(ratio, 2),
        "inner_members": inner,
        "untuned_scores": a,
        "tuned_scores": b,
        "untuned_answer": untuned.headline,
        "tuned_answer": tuned.headline,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
