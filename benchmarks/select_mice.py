"""Neural feature selection on Mice Protein: reglab's group-L1 path against LassoNet and L1
logistic regression, nested so that no test row takes part in choosing the features.

Mice Protein (1,080 × 77, 8 classes; the id and the three label columns dropped). Five outer
stratified folds; inside each outer training part every method selects at most K features
(K = 20 and 10) using that part only, and its accuracy on the outer test fold is measured:

* reglab: ``select_features`` (a group-L1 path, 5 inner folds trained as stacks), then a dense
  network (no regularization, same size) refit on the selected columns of the training part;
* LassoNet (``pip install lassonet``; skipped with a note otherwise): ``LassoNetClassifier``
  with hidden layer 50, its path on the training part, the path point with at most K features
  and the best validation score; its own model at that point scores the test fold;
* L1 logistic regression (scikit-learn, saga): the largest ``C`` of a grid with at most K
  features in use, refit on the training part.

Times are per outer fold, in this invocation. The last line is one JSON object with
``reglab_acc_20``, ``reglab_acc_10``, ``reglab_s`` and the same for ``lassonet_*`` and
``l1logreg_*`` (null when skipped).

With ``--groups`` every split keeps each mouse whole (72 mice of 15 rows; ``MouseID`` before
``_``): the outer folds are stratified group folds, and reglab's inner folds and its refit's
validation rows are grouped too (``groups="MouseID:prefix=_"``). Row splits put a test mouse's
other rows in training, so they measure recognising a mouse more than classifying a new one.

    python benchmarks/select_mice.py [--groups]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import reglab
from reglab.store import Store
from reglab.study.select import select_features

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mice-protein.csv"
KS = (20, 10)
EPOCHS = 60
HIDDEN = (64, 32)
GROUPS = "MouseID:prefix=_"
"""Each mouse's rows: ``MouseID`` is ``<mouse>_<measurement>``."""


def _frame() -> tuple[pd.DataFrame, np.ndarray]:
    """The table with ``MouseID`` kept (the methods leave it out of their features)."""
    frame = pd.read_csv(DATA).drop(columns=["Genotype", "Treatment", "Behavior"])
    return frame, frame["class"].astype(str).to_numpy()


def _mice(frame: pd.DataFrame) -> np.ndarray:
    return frame["MouseID"].astype(str).str.split("_").str[0].to_numpy()


def _reglab(
    train: pd.DataFrame, test: pd.DataFrame, k: int, seed: int, store: Store, grouped: bool
) -> tuple[float, int]:
    # One path per outer fold: the second bound reads the first's stored members.
    by: dict[str, object] = {"groups": GROUPS} if grouped else {"drop": ["MouseID"]}
    sel = select_features(
        train, target="class", max_features=k, refit=False, epochs=EPOCHS, hidden=HIDDEN,
        seed=seed, device="cpu", grid="2:30:12", store=store, name=f"mice-select-{seed}", **by,
    )  # fmt: skip
    columns = [*sel.features, "class", *(["MouseID"] if grouped else [])]
    model = reglab.fit_final(
        train[columns], target="class", strategy="none", epochs=EPOCHS, hidden=HIDDEN,
        seed=seed, device="cpu", **({"groups": GROUPS} if grouped else {}),
    )  # fmt: skip
    accuracy = float(np.mean(model.predict(test[columns]) == test["class"].astype(str)))
    return accuracy, len(sel.features)


def _imputed(train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    x_train, x_test = (t.drop(columns=["class", "MouseID"]) for t in (train, test))
    medians = x_train.median()
    return x_train.fillna(medians).to_numpy(), x_test.fillna(medians).to_numpy()


def _l1logreg(train: pd.DataFrame, test: pd.DataFrame, k: int) -> tuple[float, int]:
    x_train, x_test = _imputed(train, test)
    y_train, y_test = train["class"].to_numpy(), test["class"].to_numpy()
    best = None
    for c in np.logspace(-3, 1, 17):
        model = make_pipeline(
            StandardScaler(), LogisticRegression(penalty="l1", C=c, solver="saga", max_iter=3000)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x_train, y_train)
        used = int((np.abs(model[-1].coef_).sum(axis=0) > 0).sum())
        if used <= k:
            best = (float(model.score(x_test, y_test)), used)
    return best if best is not None else (float("nan"), 0)


def _lassonet(train: pd.DataFrame, test: pd.DataFrame, k: int) -> tuple[float, int] | None:
    try:
        from lassonet import LassoNetClassifier
    except ImportError:
        return None
    x_train, x_test = _imputed(train, test)
    scaler = StandardScaler().fit(x_train)
    labels = {c: i for i, c in enumerate(sorted(set(train["class"])))}
    y_train = train["class"].map(labels).to_numpy()
    y_test = test["class"].map(labels).to_numpy()
    model = LassoNetClassifier(hidden_dims=(50,), verbose=0, random_state=0, torch_seed=0)
    path = model.path(scaler.transform(x_train), y_train, return_state_dicts=True)
    fitting = [p for p in path if int(p.selected.sum()) <= k]
    if not fitting:
        return float("nan"), 0
    point = min(fitting, key=lambda p: p.val_loss)
    model.load(point.state_dict)
    accuracy = float(np.mean(model.predict(scaler.transform(x_test)) == y_test))
    return accuracy, int(point.selected.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", action="store_true", help="keep each mouse in one part")
    grouped = parser.parse_args().groups
    frame, y = _frame()
    if grouped:
        outer = StratifiedGroupKFold(5, shuffle=True, random_state=0)
        folds = list(outer.split(frame, y, groups=_mice(frame)))
    else:
        folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(frame, y))
    print(f"splits: {'mice (each whole in one part)' if grouped else 'rows'}", flush=True)
    scores: dict[str, dict[int, list[float]]] = {m: {k: [] for k in KS} for m in
                                                 ("reglab", "lassonet", "l1logreg")}  # fmt: skip
    kept: dict[str, dict[int, list[int]]] = {m: {k: [] for k in KS} for m in scores}
    seconds = {m: 0.0 for m in scores}
    skipped = False
    store = Store("sqlite://")
    for i, (tr, te) in enumerate(folds):
        train, test = frame.iloc[tr].reset_index(drop=True), frame.iloc[te].reset_index(drop=True)
        for k in KS:
            for method in scores:
                start = time.perf_counter()
                if method == "reglab":
                    got: tuple[float, int] | None = _reglab(train, test, k, i, store, grouped)
                elif method == "lassonet":
                    got = _lassonet(train, test, k)
                else:
                    got = _l1logreg(train, test, k)
                seconds[method] += time.perf_counter() - start
                if got is None:
                    skipped = True
                    continue
                scores[method][k].append(got[0])
                kept[method][k].append(got[1])
        print(f"outer fold {i + 1}/5 done", flush=True)
    if skipped:
        print("note: LassoNet is not installed (pip install lassonet); its rows are skipped")
    out: dict[str, float | None] = {}
    for method in scores:
        for k in KS:
            values = scores[method][k]
            mean = float(np.mean(values)) if values else None
            out[f"{method}_acc_{k}"] = mean
            if values:
                print(
                    f"{method:9s} ≤{k:2d} features: accuracy {100 * mean:.1f}% "  # type: ignore[operator]
                    f"± {100 * np.std(values):.1f} (features kept {kept[method][k]})"
                )
        ran = bool(scores[method][KS[0]])
        out[f"{method}_s"] = round(seconds[method] / len(folds), 1) if ran else None
        if ran:
            print(f"{method:9s} time per outer fold (both K): {seconds[method] / len(folds):.1f} s")
    print(json.dumps({"splits": "mice" if grouped else "rows", **out}))


if __name__ == "__main__":
    main()
