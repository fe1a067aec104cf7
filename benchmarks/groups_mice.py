"""Row splits against mouse splits on Mice Protein: how much of the score was memorised mice.

Mice Protein has 15 protein measurements per mouse (72 mice, 8 classes, each mouse in one
class). The baseline is the usual study: stratified 5-fold splits of the 1,080 rows, so every
test mouse also has rows in training. The grouped study is the same command with
``--groups MouseID:prefix=_``: stratified group 5-fold, every mouse whole in one of train,
validation and test. Both drop the three design columns that determine the class
(``Genotype``, ``Treatment``, ``Behavior``) and run the same strategies, network and seed, with
the linear reference rows.

The ratio printed is each row's grouped accuracy over its row-split accuracy, in this
invocation. The last line is one JSON object: ``{strategy: {"rows": acc, "mice": acc}}`` plus
``ratio_none``.

    python benchmarks/groups_mice.py [--epochs 60] [--strategies none,dropout=0.3,l2=1e-4]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import reglab
from reglab.store import Store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mice-protein.csv"
DROP = ("Genotype", "Treatment", "Behavior")


def _scores(result: object) -> dict[str, float]:
    """Mean test accuracy of every row of a study's table (strategies and references)."""
    table = result.table()  # type: ignore[attr-defined]
    return {str(r["strategy"]): float(r["accuracy"]) for _, r in table.iterrows()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--strategies", default="none,dropout=0.3,l2=1e-4")
    parser.add_argument("--cv", type=int, default=5)
    args = parser.parse_args()
    options = {
        "target": "class", "drop": DROP, "strategies": args.strategies, "cv": args.cv,
        "epochs": args.epochs, "hidden": (64, 32), "seed": 0, "device": "cpu",
    }  # fmt: skip
    out: dict[str, dict[str, float]] = {}
    with Store("sqlite://") as st:
        started = time.perf_counter()
        rows = _scores(reglab.bench(str(DATA), store=st, **options))
        t_rows = time.perf_counter() - started
        started = time.perf_counter()
        mice = _scores(reglab.bench(str(DATA), store=st, groups="MouseID:prefix=_", **options))
        t_mice = time.perf_counter() - started
    print(f"Mice Protein, {args.cv}-fold, {args.epochs} epochs, hidden 64,32 "
          f"(row splits {t_rows:.0f} s, mouse splits {t_mice:.0f} s)")  # fmt: skip
    print(f"{'row':<22}{'row splits':>12}{'mouse splits':>14}{'ratio':>8}")
    for name in rows:
        a, b = rows[name], mice.get(name, float("nan"))
        out[name] = {"rows": round(a, 4), "mice": round(b, 4)}
        print(f"{name:<22}{a:>12.1%}{b:>14.1%}{b / a:>8.2f}")
    summary = {**out, "ratio_none": round(mice["none"] / rows["none"], 3)}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
