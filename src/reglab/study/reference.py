"""Reference rows: the models a network has to beat to be worth its trouble.

A study's network strategies are compared with each other and with ``none``; a reference tells
whether any of them beats a well-tuned classical model at all. Two families are offered:

* ``linear`` (on by default, cheap): logistic regression with an L1, an L2 and an elastic-net
  penalty (classification), or Lasso, Ridge and elastic net (regression), each strength chosen
  by an inner 3-fold cross-validation of the outer training part;
* ``boosting``: scikit-learn's histogram gradient boosting with its default settings.

A reference member is fit on exactly the rows and inputs a network member of the same split
sees: the outer training part (the inner validation rows included, since its own inner CV
replaces early stopping), preprocessed by the same per-split :class:`Preprocessor`, and it is
scored on the same test rows with the same metrics
(:func:`reglab.engine.result.classification_scores`, ``regression_scores``). It is stored as
a member whose ``strategy_config`` holds ``{"reference": family, "model": ...}``, which is how
the analysis tells references from network strategies. Its result depends only on its split
and the study's seed.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reglab._seeding import derive
from reglab._validation import suggest
from reglab.errors import ConfigError
from reglab.store.records import MemberRecord

__all__ = [
    "REFERENCES",
    "ReferenceModel",
    "fit_reference",
    "is_reference",
    "parse_references",
    "reference_models",
    "reference_record",
    "store_references",
]

REFERENCES = ("linear", "boosting")
"""The reference families ``--reference`` accepts (besides ``none``)."""

CS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
"""Inverse strengths ``C`` the logistic references choose from by inner cross-validation."""
ALPHAS = tuple(float(a) for a in np.logspace(-3, 3, 7))
"""Ridge strengths the linear regression reference chooses from."""
INNER_CV = 3
"""Folds of the inner cross-validation that picks a linear reference's strength."""


@dataclass(frozen=True)
class ReferenceModel:
    """One reference row: its name in the study, its family and how to build the estimator."""

    name: str
    family: str
    model: str
    build: Callable[[int], Any]

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "reference": self.family, "model": self.model}


def is_reference(config: Any) -> bool:
    """Whether a stored ``strategy_config`` belongs to a reference row."""
    return isinstance(config, dict) and isinstance(config.get("reference"), str)


def parse_references(value: Any, who: str = "Study") -> tuple[str, ...]:
    """``"linear,boosting"`` (or a sequence; ``None``/``"none"`` for none) → the families.

    >>> parse_references("linear,boosting"), parse_references("none"), parse_references(None)
    (('linear', 'boosting'), (), ())
    """
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(
            f"{who}: `reference` must be 'none' or a comma list of {', '.join(REFERENCES)}; "
            f"got {value!r}."
        )
    names = [i.strip().lower() for i in items if i.strip()]
    if names == ["none"]:
        return ()
    bad = [n for n in names if n not in REFERENCES]
    if bad or not names:
        hint = suggest(bad[0], REFERENCES) if bad else ""
        raise ConfigError(
            f"{who}: `reference` (--reference) must be 'none' or a comma list of "
            f"{', '.join(REFERENCES)}; got {value!r}.{hint}"
        )
    return tuple(dict.fromkeys(names))


def _logistic(penalty: str) -> Callable[[int], Any]:
    def build(seed: int) -> Any:
        from sklearn.linear_model import LogisticRegressionCV

        kw: dict[str, Any] = {
            "Cs": list(CS),
            "cv": INNER_CV,
            "scoring": "neg_log_loss",
            "max_iter": 500,
            "tol": 1e-3,
            "use_legacy_attributes": False,
        }
        if penalty == "l2":
            kw.update(solver="lbfgs", l1_ratios=(0.0,))
        else:  # saga to a looser tolerance: 4x faster on W1, the same strength chosen
            ratio = 1.0 if penalty == "l1" else 0.5
            kw.update(solver="saga", l1_ratios=(ratio,), tol=1e-2, max_iter=200)
            kw.update(random_state=seed)
        return LogisticRegressionCV(**kw)

    return build


def _linear_regression(kind: str) -> Callable[[int], Any]:
    def build(seed: int) -> Any:
        from sklearn.linear_model import ElasticNetCV, LassoCV, RidgeCV

        if kind == "ridge":
            return RidgeCV(alphas=ALPHAS)
        if kind == "lasso":
            return LassoCV(alphas=20, cv=INNER_CV, random_state=seed, max_iter=2000)
        return ElasticNetCV(l1_ratio=0.5, alphas=20, cv=INNER_CV, random_state=seed, max_iter=2000)

    return build


def _boosting(task: str) -> Callable[[int], Any]:
    def build(seed: int) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = (
            HistGradientBoostingRegressor
            if task == "regression"
            else (HistGradientBoostingClassifier)
        )
        return cls(random_state=seed)

    return build


def reference_models(families: Sequence[str], task: str) -> list[ReferenceModel]:
    """The reference rows of ``families`` for ``task``, in a fixed order."""
    out: list[ReferenceModel] = []
    for family in families:
        if family == "linear" and task == "regression":
            out += [
                ReferenceModel("linear:l1", family, "LassoCV", _linear_regression("lasso")),
                ReferenceModel("linear:l2", family, "RidgeCV", _linear_regression("ridge")),
                ReferenceModel(
                    "linear:elasticnet", family, "ElasticNetCV", _linear_regression("enet")
                ),
            ]
        elif family == "linear":
            out += [
                ReferenceModel("linear:l1", family, "LogisticRegressionCV(l1)", _logistic("l1")),
                ReferenceModel("linear:l2", family, "LogisticRegressionCV(l2)", _logistic("l2")),
                ReferenceModel(
                    "linear:elasticnet",
                    family,
                    "LogisticRegressionCV(elasticnet)",
                    _logistic("elasticnet"),
                ),
            ]
        elif family == "boosting":
            name = "HistGradientBoosting" + ("Regressor" if task == "regression" else "Classifier")
            out.append(ReferenceModel("boosting", family, name, _boosting(task)))
    return out


def reference_key(model: ReferenceModel, seed: int, split_id: int, rows: Sequence[Any]) -> str:
    """A content hash of the reference member (model, seed, split and its rows)."""
    h = hashlib.sha256(
        json.dumps({**model.config(), "seed": seed, "split_id": split_id}, sort_keys=True).encode()
    )
    for idx in rows:
        h.update(np.ascontiguousarray(idx, dtype=np.int64).tobytes())
        h.update(b"|")
    return "ref-" + h.hexdigest()[:28]


def fit_reference(
    model: ReferenceModel,
    X: np.ndarray,
    y: np.ndarray,
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    *,
    task: str,
    n_classes: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, float], dict[str, float]]:
    """Fit ``model`` on ``train_rows`` and return its test predictions (class probabilities
    ``[n, K]``, or values), test scores and training scores. With ``groups`` (one code per
    row, ``--groups``) the inner cross-validation that picks a strength keeps each group whole
    (``StratifiedGroupKFold``, ``GroupKFold`` for regression)."""
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    from reglab.engine.result import classification_scores, regression_scores

    est = model.build(seed)
    Xtr, ytr = X[train_rows], y[train_rows]
    if groups is not None and "cv" in est.get_params():
        est.set_params(cv=_group_folds(ytr, groups[train_rows], task, seed))
    # One thread: the result does not depend on the machine's thread count, and a loaded
    # machine is not slowed further by spinning OpenMP workers.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        if task == "regression":
            est.fit(Xtr, np.asarray(ytr, dtype=np.float64))
            return (
                np.asarray(est.predict(X[test_rows]), dtype=np.float64),
                regression_scores(y[test_rows], est.predict(X[test_rows])),
                regression_scores(ytr, est.predict(Xtr)),
            )
        labels = np.asarray(ytr, dtype=np.int64)
        est.fit(Xtr, labels)
        k = max(n_classes, 2)

        def proba(rows: np.ndarray) -> np.ndarray:
            out = np.zeros((len(rows), k))
            out[:, est.classes_] = est.predict_proba(X[rows])
            return out

        test_pred = proba(test_rows)
        return (
            test_pred,
            classification_scores(np.asarray(y[test_rows], dtype=np.int64), test_pred),
            classification_scores(labels, proba(train_rows)),
        )


def _group_folds(y: np.ndarray, groups: np.ndarray, task: str, seed: int) -> list[Any]:
    """The inner folds of a reference's strength search when rows come in groups."""
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    splitter: Any = (
        GroupKFold(INNER_CV)
        if task == "regression"
        else StratifiedGroupKFold(INNER_CV, shuffle=True, random_state=seed)
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        return list(splitter.split(np.zeros((len(y), 1)), y, groups=groups))


def reference_record(
    model: ReferenceModel,
    split: Any,
    data: tuple[np.ndarray, np.ndarray],
    *,
    task: str,
    n_classes: int,
    root_seed: int,
    skip: Collection[str] = (),
    groups: np.ndarray | None = None,
) -> MemberRecord | None:
    """Fit one reference member on ``split``'s outer training part and score it (``None``
    when its key is in ``skip``: already stored)."""
    X, y = data
    train_rows = np.concatenate([split.train_idx, split.val_idx])
    seed = derive(root_seed, "reference", model.name, split.split_id) % (2**31 - 1)
    key = reference_key(model, seed, split.split_id, (train_rows, split.test_idx))
    if key in skip:
        return None
    start = time.perf_counter()
    try:
        test_pred, test_scores, train_scores = fit_reference(
            model, X, y, train_rows, split.test_idx, task=task, n_classes=n_classes, seed=seed,
            groups=groups,
        )  # fmt: skip
        status, error = "done", None
    except (ValueError, ArithmeticError) as exc:  # e.g. one class in a training part
        test_pred, test_scores, train_scores = np.zeros(0), {}, {}
        status, error = "failed", f"{model.model}: {exc}"
    return MemberRecord(
        key=key,
        strategy=model.name,
        split_id=split.split_id,
        seed=seed,
        n_train=split.n_train,
        n_test=split.n_test,
        status=status,
        error=error,
        strategy_config=model.config(),
        config={"reference": model.family, "model": model.model},
        repeat=split.repeat,
        fold=split.fold,
        test_scores=test_scores,
        train_scores=train_scores,
        test_pred=test_pred,
        wall_s=time.perf_counter() - start,
    )


def store_references(plan: Any, store: Any, root_seed: int) -> int:
    """Fit and store every reference member of ``plan`` (a
    :class:`~reglab.study.run.StudyPlan`) that ``store`` lacks; returns how many were fit."""
    if not plan.references:
        return 0
    finished = store.done_keys(plan.name, include_failed=True)
    fitted = 0
    for split in plan.splits:
        for model in plan.references:
            record = reference_record(
                model,
                split,
                plan.data[split.split_id],
                task=plan.dataset.task,
                n_classes=plan.dataset.n_classes or 0,
                root_seed=root_seed,
                skip=finished,
                groups=None if plan.dataset.grouping is None else plan.dataset.grouping.codes,
            )
            if record is not None:
                store.save_member(plan.name, record)
                fitted += 1
    return fitted
