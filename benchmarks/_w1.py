"""Workload W1 for the benchmarks: data, strategies, and the members the engine trains.

W1 is defined by ``../shared/peers/workload.py`` beside the repository (imported when present):
2,000 rows × 50 features, 7 classes; eight strategies × 5 stratified folds; an MLP 50-25-7
with ReLU, Adam(1e-3), batch 32, 100 epochs, no early stopping. Without that folder the same
data set is made with scikit-learn, as the workload's docstring describes.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from sklearn.model_selection import StratifiedKFold

from reglab._seeding import derive
from reglab.engine import Architecture, MemberSpec, Strategy, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / ".." / "shared" / "peers"

STRATEGIES = {
    "none": (0.0, 0.0, 0.0),
    "l1": (1e-4, 0.0, 0.0),
    "l2": (0.0, 1e-4, 0.0),
    "elasticnet": (5e-5, 5e-5, 0.0),
    "dropout": (0.0, 0.0, 0.3),
    "dropout+l1": (1e-4, 0.0, 0.3),
    "dropout+l2": (0.0, 1e-4, 0.3),
    "dropout+en": (5e-5, 5e-5, 0.3),
}
HIDDEN = (50, 25)
EPOCHS = 100
BATCH = 32
FOLDS = 5


def workload() -> ModuleType | None:
    """The shared reference workload module, or ``None`` when it is not beside the repo."""
    path = PEERS / "workload.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("w1_workload", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("w1_workload", module)
    spec.loader.exec_module(module)
    return module


def dataset() -> tuple[np.ndarray, np.ndarray]:
    """W1's ``X`` (float32 ``[2000, 50]``) and ``y`` (int64 class ids 0..6)."""
    module = workload()
    if module is not None:
        x, y = module.dataset()
        return np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    x, y = make_classification(
        n_samples=2000,
        n_features=50,
        n_informative=10,
        n_redundant=5,
        n_classes=7,
        n_clusters_per_class=1,
        flip_y=0.05,
        class_sep=1.0,
        random_state=0,
    )
    return StandardScaler().fit_transform(x).astype(np.float32), y.astype(np.int64)


def members(
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = EPOCHS,
    strategies: list[str] | None = None,
    repeats: int = 1,
) -> list[MemberSpec]:
    """W1's members: each strategy on each fold (``repeats`` copies with different seeds)."""
    names = strategies or list(STRATEGIES)
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=42).split(x, y))
    arch = Architecture(x.shape[1], int(y.max()) + 1, hidden=HIDDEN, activation="relu")
    cfg = TrainConfig(epochs=epochs, batch_size=BATCH, lr=1e-3, optimizer="adam", patience=None)
    out = []
    empty = np.zeros(0, dtype=np.int64)
    for repeat in range(repeats):
        for name in names:
            l1, l2, p = STRATEGIES[name]
            strategy = Strategy(name=name, l1=l1, l2=l2, dropout=p, penalty_layers="hidden")
            for fold, (train, test) in enumerate(folds):
                out.append(
                    MemberSpec(
                        arch,
                        strategy,
                        cfg,
                        train,
                        empty,
                        test,
                        seed=derive(0, "w1", name, fold, repeat),
                        tags=(("strategy", name), ("fold", fold)),
                    )
                )
    return out
