"""Benchmark: does ``reglab advise``'s short-list, tuned, clear the bar of the ``realmlp`` preset?

For each shipped tabular set (``../shared/data``: crx, abalone, auto-mpg, Mice Protein):

1. **advice**: :func:`reglab.advise` short-lists strategies from the data alone;
2. **tuned advice**: ``reglab.bench(..., strategies=<short-list>, tune=N)``, the nested
   protocol (``docs/tune.md``): every family of the short-list is tuned by ``N`` TPE trials on
   ``--tune-cv`` inner folds of each outer training part (asked in rounds of 16, the
   default), retrained there and scored on the outer test fold. The short-list's score on
   outer split ``s`` is that of the family whose chosen trial has the best **inner** score on
   ``s`` (the choice among families is nested too; ``none``, which has nothing to tune, is
   the baseline and not chosen from). The best family by its outer mean is shown beside it,
   marked optimistic (chosen on the test folds). Every search starts at the strengths the
   short-list gave (``weight-decay=2e-2`` is its family's first trial); ``--choose`` names the
   rules that choose the trial a search retrains (``best``, ``1se`` or both, ``best,1se``:
   one row each; the rules share the same searches in one store, so the second costs only
   its retrained members);
3. **realmlp**: a plain ``reglab.bench(..., strategies="none,realmlp")`` (RealMLP-TD's dropout
   0.15 and weight decay 2e-2, untuned: in the nested study it would be tuned) with the same
   seed, outer folds, model and epochs. ``none`` trains untuned in both studies on the same
   splits with the same member seeds, so its scores must agree to the bit: the benchmark
   checks it, which proves the outer splits are the same.

The short-list against realmlp is the Nadeau–Bengio corrected resampled paired t-test
(:func:`reglab.stats.corrected_resampled_ttest`) over the outer splits. Verdict: ``clears``
when the short-list is not significantly worse (p ≥ 0.05 or better), ``better`` when it is
significantly better, ``fails`` when significantly worse. The last line is one JSON object.

    python benchmarks/advise_vs_realmlp.py                          # 8 trials, 60 epochs
    python benchmarks/advise_vs_realmlp.py --sets crx,auto-mpg --trials 32 --epochs 200
    python benchmarks/advise_vs_realmlp.py --sets abalone --trials 32 --epochs 200 --choose best,1se
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import reglab
from reglab.stats import corrected_resampled_ttest, summarize
from reglab.store import Store
from reglab.study.results import HIGHER_IS_BETTER

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "crx": ("crx.csv", "a16", ()),
    "abalone": ("abalone.csv", "rings", ()),
    "auto-mpg": ("auto-mpg.csv", "mpg", ()),
    "mice-protein": (
        "mice-protein.csv",
        "class",
        ("MouseID", "Genotype", "Treatment", "Behavior"),
    ),
}
ALPHA = 0.05


def scores_of(result: Any, name: str) -> dict[int, float]:
    return {int(k): v for k, v in result.strategies[name].split_scores[result.primary].items()}


def sizes(result: Any) -> tuple[dict[int, int], dict[int, int]]:
    n_train = {int(m.split_id): int(m.n_train) for m in result.members}
    n_test = {int(m.split_id): int(m.n_test) for m in result.members}
    return n_train, n_test


def chosen_by_inner(result: Any, higher: bool) -> tuple[dict[int, float], dict[int, str]]:
    """Per outer split: the outer score of the family with the best inner score."""
    best: dict[int, tuple[float, str]] = {}
    for family in result.tuning:
        outer = scores_of(result, family.name)
        for s in family.splits:
            if s.inner_score is None or s.split_id not in outer:
                continue
            key = s.inner_score if higher else -s.inner_score
            if s.split_id not in best or key > best[s.split_id][0]:
                best[s.split_id] = (key, family.name)
    picked = {sid: name for sid, (_, name) in best.items()}
    return {sid: scores_of(result, name)[sid] for sid, name in picked.items()}, picked


def mean_se(
    values: dict[int, float], n_train: dict[int, int], n_test: dict[int, int]
) -> tuple[float, float]:
    summary = summarize(values, n_train, n_test)
    return summary.mean, summary.se


def fmt(metric: str, value: float) -> str:
    if metric in ("accuracy", "balanced_accuracy"):
        return f"{100 * value:.2f}%"
    return f"{value:.4g}"


def run_set(name: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    file, target, drop = SETS[name]
    source = str(DATA / file)
    common: dict[str, Any] = {
        "target": target,
        "drop": drop,
        "cv": args.cv,
        "epochs": args.epochs,
        "seed": args.seed,
        "device": "cpu",
        "reference": "none",
    }
    start = time.perf_counter()
    advice = reglab.advise(source, target=target, drop=drop, seed=args.seed)
    advise_s = time.perf_counter() - start
    short = [s.strategy for s in advice.suggestions]
    if "none" not in short:
        short.insert(0, "none")
    with Store("sqlite://") as st:
        start = time.perf_counter()
        plain = reglab.bench(source, strategies="none,realmlp", store=st, **common)
        plain_s = time.perf_counter() - start
    rows = []
    kept = "sqlite://" if args.store_dir is None else str(Path(args.store_dir) / f"{name}.db")
    with Store(kept) as st:  # one store: the rules share their searches
        for rule in args.choose:
            start = time.perf_counter()
            tuned = reglab.bench(
                source, strategies=",".join(short), store=st, tune=args.trials,
                tune_cv=args.tune_cv, tune_choose=rule, **common,
            )  # fmt: skip
            tuned_s = time.perf_counter() - start
            seconds = {"advise": advise_s, "tuned": tuned_s, "realmlp": plain_s}
            rows.append(compare(name, rule, short, tuned, plain, seconds))
    return rows


def compare(
    name: str, rule: str, short: list[str], tuned: Any, plain: Any, seconds: dict[str, float]
) -> dict[str, Any]:
    """One row: the tuned short-list under ``rule`` against ``realmlp``."""
    if scores_of(tuned, "none") != scores_of(plain, "none"):
        raise SystemExit(f"{name}: `none` differs between the two studies: the splits differ")
    metric = plain.primary
    higher = HIGHER_IS_BETTER[metric]
    n_train, n_test = sizes(plain)
    advice_scores, picked = chosen_by_inner(tuned, higher)
    realmlp = scores_of(plain, "realmlp")
    test = corrected_resampled_ttest(advice_scores, realmlp, n_train, n_test)
    better = test.mean_diff > 0 if higher else test.mean_diff < 0
    significant = test.p_value < ALPHA
    verdict = ("better" if better else "fails") if significant else "clears"
    a_mean, a_se = mean_se(advice_scores, n_train, n_test)
    r_mean, r_se = mean_se(realmlp, n_train, n_test)
    n_mean, _ = mean_se(scores_of(plain, "none"), n_train, n_test)
    tuned_means = {f.name: mean_se(scores_of(tuned, f.name), n_train, n_test)[0]
                   for f in tuned.tuning}  # fmt: skip
    best_family = (max if higher else min)(tuned_means, key=lambda k: tuned_means[k])
    choices = {str(sid): picked[sid] for sid in sorted(picked)}
    print(
        f"== {name} ({metric}), choose {rule}: tuned short-list {seconds['tuned']:.1f} s, "
        f"advice {seconds['advise']:.1f} s, realmlp {seconds['realmlp']:.1f} s"
    )
    print(f"   short-list: {','.join(short)}")
    print("   tuned families (outer mean): "
          + ", ".join(f"{k} {fmt(metric, v)}" for k, v in tuned_means.items())
          + f"; none {fmt(metric, n_mean)}")  # fmt: skip
    print("   chosen per outer split by inner score: " + ", ".join(choices.values()))
    for family in tuned.tuning:
        if family.spread:
            print(f"   {family.name} chose " + "; ".join(s.text for s in family.spread))
    return {
        "set": name,
        "choose": rule,
        "metric": metric,
        "shortlist": ",".join(short),
        "advice": a_mean,
        "advice_se": a_se,
        "best_family": best_family,
        "best_family_mean": tuned_means[best_family],
        "family_means": tuned_means,
        "realmlp": r_mean,
        "realmlp_se": r_se,
        "none": n_mean,
        "diff": test.mean_diff,
        "p": test.p_value,
        "verdict": verdict,
        "chosen": choices,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma list (all four)")
    parser.add_argument("--trials", type=int, default=8, help="trials per search (8)")
    parser.add_argument("--tune-cv", type=int, default=3, help="inner folds (3)")
    parser.add_argument("--cv", type=int, default=5, help="outer folds (5)")
    parser.add_argument("--epochs", type=int, default=60, help="epoch limit (60)")
    parser.add_argument("--seed", type=int, default=0, help="root seed (0)")
    parser.add_argument("--choose", default="best", help="choice rules, comma list (best)")
    parser.add_argument(
        "--store-dir",
        default=None,
        help="keep each set's tuned studies in DIR/<set>.db (default: memory)",
    )
    args = parser.parse_args()
    args.choose = [c.strip() for c in args.choose.split(",") if c.strip()]
    wrong = [c for c in args.choose if c not in ("best", "1se")]
    if wrong or not args.choose:
        parser.error(f"--choose: expected best, 1se or both; got {args.choose!r}")
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        parser.error(f"--sets: expected names among {', '.join(SETS)}; got {', '.join(unknown)}")
    load = os.getloadavg()[0]
    start = time.perf_counter()
    rows = [row for n in names for row in run_set(n, args)]
    total = time.perf_counter() - start
    print()
    print("| data set | choose | advice short-list | tuned advice ± se | realmlp ± se "
          "| difference | p | verdict |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        m = r["metric"]
        diff = 100 * r["diff"] if m in ("accuracy", "balanced_accuracy") else r["diff"]
        unit = " pts" if m in ("accuracy", "balanced_accuracy") else ""
        print(
            f"| {r['set']} ({m}) | {r['choose']} | {r['shortlist']} | {fmt(m, r['advice'])} ± "
            f"{fmt(m, r['advice_se'])} | {fmt(m, r['realmlp'])} ± {fmt(m, r['realmlp_se'])} | "
            f"{diff:+.3g}{unit} | {r['p']:.3g} | {r['verdict']} |"
        )
    cleared = sum(r["verdict"] != "fails" for r in rows)
    print(f"advice clears the realmlp bar on {cleared} of {len(rows)} rows; {total:.0f} s, "
          f"load average {load:.1f} at the start")  # fmt: skip

    def clean(v: Any) -> Any:
        return round(v, 5) if isinstance(v, float) and math.isfinite(v) else v

    print(json.dumps({
        "trials": args.trials, "tune_cv": args.tune_cv, "cv": args.cv, "epochs": args.epochs,
        "seed": args.seed, "choose": args.choose, "seconds": round(total, 1),
        "cleared": cleared, "rows_total": len(rows),
        "rows": [{k: ({f: clean(x) for f, x in v.items()} if isinstance(v, dict) else clean(v))
                  for k, v in r.items() if k != "seconds"} for r in rows],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
