"""Built-in data sets: scikit-learn's bundled tables, synthetic data with known truth, and W1.

Nothing is downloaded: the scikit-learn tables ship with scikit-learn and the rest is generated.

::

    name                      task        rows  features  classes  what
    breast_cancer             binary       569        30        2  Wisconsin diagnostic (sklearn)
    digits                    multiclass  1797        64       10  8x8 handwritten digits (sklearn)
    wine                      multiclass   178        13        3  wine cultivars (sklearn)
    iris                      multiclass   150         4        3  Fisher's iris (sklearn)
    diabetes                  regression   442        10        0  disease progression (sklearn)
    synthetic-classification  multiclass  1000        20        3  known informative features
    synthetic-regression      regression  1000        20        0  known coefficients
    w1                        multiclass  2000        50        7  the reference workload
    sunspots                  regression   289    20 (20×1)   0  yearly sunspots (statsmodels)

``synthetic-classification`` is ``make_classification(n_samples=1000, n_features=20,
n_informative=5, n_redundant=3, n_repeated=2, n_classes=3, shuffle=False, random_state=0)`` with
its rows (not its columns) shuffled by ``default_rng(0)``: the columns are ``inf_0..inf_4``
(informative), ``red_0..red_2`` (linear combinations of the informative ones), ``rep_0, rep_1``
(copies of informative or redundant ones) and ``noise_0..noise_9`` (independent of the target);
``Dataset.ground_truth`` lists them by role. ``synthetic-regression`` is
``make_regression(n_samples=1000, n_features=20, n_informative=5, noise=10.0, coef=True,
shuffle=False, random_state=0)``: ``y = X·coef + 10·ε`` with nonzero coefficients only on
``inf_0..inf_4`` (``Dataset.coefficients`` holds them). ``w1`` is
``make_classification(n_samples=2000, n_features=50, n_informative=10, n_redundant=5,
n_classes=7, n_clusters_per_class=1, flip_y=0.05, class_sep=1.0, random_state=0)`` standardized
by ``StandardScaler``, columns ``x0..x49``, target ``y``.

``sunspots`` is a sequence data set (:mod:`reglab.data.sequences`): the yearly mean sunspot
numbers 1700–2008 that statsmodels ships (``statsmodels.datasets.sunspots``, the ``sequences``
extra; 309 values, read from the package, no network), windowed to forecast each year from the
20 before it (``window=20, horizon=1``: 289 sequences of 20 steps × 1 feature, target
``SUNACTIVITY``). It is the classic real forecasting series (Yule 1927; Box & Jenkins): small,
public domain, with the ~11-year solar cycle a model must pick up, and two windows of 20 years
span almost two cycles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reglab._validation import suggest
from reglab.data._layout import sequence_columns
from reglab.data.arrays import build, is_array_source, load_array_source
from reglab.data.load import Dataset, load_table, with_groups
from reglab.data.sequences import OVERLAP_NOTICE, windows
from reglab.errors import ConfigError, DataError

__all__ = ["BUILTIN", "PREFIX", "BuiltinInfo", "list_builtin", "load_builtin", "load_source"]

PREFIX = "builtin:"


@dataclass(frozen=True)
class BuiltinInfo:
    """What a built-in data set is, without loading it.

    ``n_classes`` is 0 for regression; ``target`` is the name of the target column.
    """

    name: str
    task: str
    n_rows: int
    n_features: int
    n_classes: int
    description: str
    target: str = "target"
    kind: str = "table"
    shape: tuple[int, ...] = ()


BUILTIN: Mapping[str, BuiltinInfo] = {
    info.name: info
    for info in (
        BuiltinInfo("breast_cancer", "binary", 569, 30, 2,
                    "Wisconsin diagnostic breast cancer: malignant vs benign (scikit-learn)"),
        BuiltinInfo("digits", "multiclass", 1797, 64, 10,
                    "8x8 images of handwritten digits 0-9 (scikit-learn)"),
        BuiltinInfo("wine", "multiclass", 178, 13, 3,
                    "chemical analysis of wines from three cultivars (scikit-learn)"),
        BuiltinInfo("iris", "multiclass", 150, 4, 3, "Fisher's iris flowers (scikit-learn)"),
        BuiltinInfo("diabetes", "regression", 442, 10, 0,
                    "diabetes progression after one year, standardized inputs (scikit-learn)"),
        BuiltinInfo("synthetic-classification", "multiclass", 1000, 20, 3,
                    "5 informative, 3 redundant, 2 repeated, 10 noise features (known truth)",
                    target="y"),
        BuiltinInfo("synthetic-regression", "regression", 1000, 20, 0,
                    "5 informative features with known coefficients, 15 noise features",
                    target="y"),
        BuiltinInfo("w1", "multiclass", 2000, 50, 7,
                    "reference workload: make_classification, 7 classes, 5% label noise",
                    target="y"),
        BuiltinInfo("sunspots", "regression", 289, 20, 0,
                    "yearly sunspot numbers 1700-2008: each year from the 20 before "
                    "(statsmodels; pip install 'reglab[sequences]')",
                    target="SUNACTIVITY", kind="sequences", shape=(20, 1)),
    )
}  # fmt: skip


def list_builtin() -> list[BuiltinInfo]:
    """Every built-in data set, in a stable order.

    >>> [info.name for info in list_builtin()][:3]
    ['breast_cancer', 'digits', 'wine']
    """
    return list(BUILTIN.values())


def load_builtin(name: str) -> Dataset:
    """Load the built-in data set ``name`` (see the module table).

    >>> ds = load_builtin("iris")
    >>> ds.task, ds.X.shape, ds.classes
    ('multiclass', (150, 4), ('setosa', 'versicolor', 'virginica'))
    """
    if name not in BUILTIN:
        raise ConfigError(
            f"load_builtin: `name` must be one of {', '.join(repr(n) for n in BUILTIN)}; "
            f"got {name!r}." + suggest(name, BUILTIN)
        )
    return _LOADERS[name](BUILTIN[name])


def load_source(
    spec: str | Path,
    target: str | None = None,
    *,
    task: str | None = None,
    drop: Sequence[str] = (),
    groups: Any = None,
) -> Dataset:
    """Load ``"builtin:NAME"``, a table file, or image or sequence data (``idx:``, ``npz:``,
    ``images:``, ``seq:``; :mod:`reglab.data.arrays`): what ``reglab bench DATA`` accepts.

    For a built-in the target is implied: ``target`` and ``task`` may be omitted or must agree
    with it. For a file, ``target`` is required (its absence is refused with the file's
    columns listed) and ``task`` and ``drop`` are passed to
    :func:`~reglab.data.load.load_table`, which leaves the ``drop`` columns out before it
    checks any column. ``groups`` (``--groups``) are the rows' groups
    (:func:`~reglab.data.load.with_groups`).

    >>> load_source("builtin:wine").n_rows
    178
    """
    text = str(spec)
    if is_array_source(text) and not Path(text).exists():
        ds = load_array_source(text, target, task=task)
        return with_groups(ds.without(list(drop)) if drop else ds, groups)
    if text.startswith(PREFIX):
        name = text[len(PREFIX) :]
        ds = load_builtin(name)
        if target is not None and target != ds.target:
            raise ConfigError(
                f"load_source: `target` must be omitted or {ds.target!r} for {text!r} (its "
                f"target is implied); got {target!r}."
            )
        if task is not None and task != ds.task:
            raise ConfigError(
                f"load_source: `task` must be omitted or {ds.task!r} for {text!r}; got {task!r}."
            )
        return with_groups(ds.without(list(drop)) if drop else ds, groups)
    path = Path(text)
    if not path.exists() and text in BUILTIN:
        raise DataError(
            f"load_source: `source` must be an existing file or 'builtin:NAME'; got {text!r} "
            f"(no such file). Did you mean {PREFIX + text!r}?"
        )
    return load_table(path, target, task=task, drop=drop, groups=groups)


# --- loaders ---------------------------------------------------------------------------------


def _numeric(
    info: BuiltinInfo,
    X: np.ndarray,
    names: list[str],
    y: np.ndarray,
    classes: tuple[str, ...] = (),
    *,
    ground_truth: Mapping[str, tuple[str, ...]] | None = None,
    coefficients: tuple[float, ...] | None = None,
) -> Dataset:
    frame = pd.DataFrame(np.asarray(X, dtype=np.float64), columns=names)
    target = y.astype(np.float64) if info.task == "regression" else y.astype(np.int64)
    return Dataset(
        name=info.name, X=frame, y=target, task=info.task, classes=classes,
        feature_names=tuple(names), numeric_columns=tuple(names), source=PREFIX + info.name,
        target=info.target, ground_truth=ground_truth, coefficients=coefficients,
    )  # fmt: skip


def _sklearn(loader_name: str) -> Callable[[BuiltinInfo], Dataset]:
    def load(info: BuiltinInfo) -> Dataset:
        from sklearn import datasets

        bunch = getattr(datasets, loader_name)()
        names = [str(n) for n in bunch.feature_names]
        classes: tuple[str, ...] = ()
        if info.task != "regression":
            classes = tuple(str(c) for c in bunch.target_names)
        return _numeric(info, bunch.data, names, np.asarray(bunch.target), classes)

    return load


def _synthetic_classification(info: BuiltinInfo) -> Dataset:
    from sklearn.datasets import make_classification

    roles = {"informative": ("inf", 5), "redundant": ("red", 3), "repeated": ("rep", 2)}
    roles["noise"] = ("noise", 20 - sum(n for _, n in roles.values()))
    X, y = make_classification(
        n_samples=1000, n_features=20, n_informative=5, n_redundant=3, n_repeated=2,
        n_classes=3, shuffle=False, random_state=0,
    )  # fmt: skip
    order = np.random.default_rng(0).permutation(len(y))
    truth = {role: tuple(f"{p}_{i}" for i in range(n)) for role, (p, n) in roles.items()}
    names = [name for group in truth.values() for name in group]
    classes = tuple(str(c) for c in range(3))
    return _numeric(info, X[order], names, y[order], classes, ground_truth=truth)


def _synthetic_regression(info: BuiltinInfo) -> Dataset:
    from sklearn.datasets import make_regression

    X, y, coef = make_regression(
        n_samples=1000, n_features=20, n_informative=5, noise=10.0, coef=True, shuffle=False,
        random_state=0,
    )  # fmt: skip
    truth = {
        "informative": tuple(f"inf_{i}" for i in range(5)),
        "noise": tuple(f"noise_{i}" for i in range(15)),
    }
    names = [*truth["informative"], *truth["noise"]]
    coefficients = tuple(float(c) for c in np.ravel(coef))
    return _numeric(info, X, names, y, ground_truth=truth, coefficients=coefficients)


def _w1(info: BuiltinInfo) -> Dataset:
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=2000, n_features=50, n_informative=10, n_redundant=5, n_classes=7,
        n_clusters_per_class=1, flip_y=0.05, class_sep=1.0, random_state=0,
    )  # fmt: skip
    X = StandardScaler().fit_transform(X)
    names = [f"x{j}" for j in range(50)]
    return _numeric(info, X, names, y, tuple(str(c) for c in range(7)))


def _sunspots(info: BuiltinInfo) -> Dataset:
    try:
        from statsmodels.datasets import sunspots
    except ImportError:
        raise ConfigError(
            "load_builtin: builtin:sunspots needs statsmodels; install it with pip install "
            "'reglab[sequences]'."
        ) from None
    frame = sunspots.load_pandas().data
    values = frame[[info.target]].to_numpy(dtype=np.float64)
    X, y = windows(values, values[:, 0], window=info.shape[0], horizon=1)
    return build(
        "load_builtin", X, y, kind="sequences", where="builtin:sunspots", name=info.name,
        source=PREFIX + info.name, scaling="channel", task="regression", target=info.target,
        columns=sequence_columns(info.shape[0], [info.target]),
        notices=[
            f"forecasting {info.target} one year ahead from the {info.shape[0]} before",
            OVERLAP_NOTICE,
        ],
    )  # fmt: skip


_LOADERS: dict[str, Callable[[BuiltinInfo], Dataset]] = {
    "breast_cancer": _sklearn("load_breast_cancer"),
    "digits": _sklearn("load_digits"),
    "wine": _sklearn("load_wine"),
    "iris": _sklearn("load_iris"),
    "diabetes": _sklearn("load_diabetes"),
    "synthetic-classification": _synthetic_classification,
    "synthetic-regression": _synthetic_regression,
    "w1": _w1,
    "sunspots": _sunspots,
}
