"""Neural feature selection: a group-L1 or LassoNet path from dense to sparse, stability over
the splits, and a dense refit on the selected features.

:func:`select_features` runs one strength path of ``group-l1``
(:mod:`reglab.techniques.group_lasso`) or of ``lassonet`` (LassoNet's hierarchical proximal
operator on a network with a linear skip path, :mod:`reglab.techniques.lassonet`): the network
with every strength × split trained as stacks, each member ending with exact zeros on the input
features it dropped. Along the path:

* a feature's **selection frequency** at a strength is the share of the splits × seeds in
  which it survived (the report's feature-survival rule: a first-layer norm above 1e-3 of the
  largest), a stability measure over resamples in the sense of stability selection (Meinshausen
  & Bühlmann 2010). With ``seeds=K`` every split is trained ``K`` times, with ``K`` member
  seeds (initial weights, batch order, dropout masks), so the frequency is over ``J·K``
  members per strength and is a multiple of ``1/(J·K)``: it measures the stability over the
  resamples and over the optimization's own randomness;
* a feature **drops at** the weakest strength from which it survives in fewer than half the
  splits;
* the **chosen strength** is the weakest at which at most ``max_features`` features survive in
  at least half the splits; the selection is those features, most frequent (then strongest)
  first.

Seeds: seed ``k = 0`` of split ``s`` is the split's own member (``seeds=1`` is the plain path,
to the bit); seed ``k ≥ 1`` trains on the same rows with the member seed
``derive(seed, "split", s, "seed", k)``, under the split id ``s + k·J``, in the same stacks.
A split's score is then the mean of its ``K`` members, and the path's standard errors and
corrected tests count ``J`` splits, not ``J·K``: the ``K`` members of a split share its rows, so
they are one draw of the resampling variance (:func:`reglab.study.results.resample_ids`).

With ``refit`` a dense network (no regularization, the same model and training set-up) is
cross-validated on the selected features only, beside the same network on every feature (the
path's ``none``), on the same splits. That refit score is **optimistic**: the selection saw
every row, the refit's test folds included. ``benchmarks/select_mice.py`` measures the honest
figure by nesting the selection inside each outer training part.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from reglab._validation import check_choice, check_int
from reglab.errors import ConfigError
from reglab.store import Store
from reglab.study.path import PathResult
from reglab.study.results import StudyResult

__all__ = ["DEFAULT_GRID", "GRIDS", "METHODS", "Selection", "select_features"]

DEFAULT_GRID = "0.5:30:12"
"""The group-L1 strengths tried by default: from nearly dense to nearly empty with Adam at
its default learning rate (a proximal step of ``lr·S`` against Adam's steps of about ``lr``)."""

GRIDS = {"group-l1": DEFAULT_GRID, "lassonet": "10:3000:12"}
"""Each method's default strengths. LassoNet's are larger: a feature's first-layer weights
hold its skip weights up (:mod:`reglab.techniques.lassonet`)."""

METHODS = tuple(GRIDS)
"""The selection methods: the techniques whose paths select."""

STABLE = 0.5
"""A feature is selected at a strength when it survives in at least this share of the splits."""


@dataclasses.dataclass(frozen=True)
class Selection:
    """What :func:`select_features` found.

    Attributes:
        features: The selected original columns, most frequently kept first.
        inputs: The selected network inputs (one-hot columns name their category).
        strength: The chosen strength (``None`` when even the strongest kept more than
            ``max_features``).
        max_features: The bound asked for.
        table: One row per network input: ``feature`` (input name), ``column`` (original
            column), ``drops_at`` (strength; NaN when it survives the whole path),
            ``frequency`` (share of splits keeping it at the chosen strength), ``norm`` (mean
            first-layer norm relative to the largest) and ``selected``.
        path: The strength path (:class:`~reglab.study.path.PathResult`).
        refit: The dense network on the selected features (``None`` without refit).
        listed_at: The strength whose frequencies rank the table (the chosen one, else the
            strongest that kept more than ``max_features``).
        counts: Strength → number of features kept in at least half of the splits × seeds.
        seeds: Member seeds per split.
        notices: What loading and planning decided (dropped columns, imputation, groups).
    """

    features: tuple[str, ...]
    inputs: tuple[str, ...]
    strength: float | None
    max_features: int
    table: pd.DataFrame
    path: PathResult
    refit: StudyResult | None = None
    listed_at: float | None = None
    counts: dict[float, int] = dataclasses.field(default_factory=dict)
    method: str = "group-l1"
    seeds: int = 1
    notices: tuple[str, ...] = ()

    def score(self, which: str = "selected") -> tuple[float, float] | None:
        """Mean test score and its standard error of the dense network on the ``selected``
        features (the refit) or on ``all`` of them (the path's ``none``)."""
        if which == "all":
            point = self.path.points[0]
            return point.mean, point.se
        if self.refit is None or "none" not in self.refit.strategies:
            return None
        scores = self.refit.strategies["none"].split_scores.get(self.path.metric, {})
        values = np.asarray(list(scores.values()), dtype=float)
        if values.size < 2:
            return None
        return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))

    def lines(self) -> list[str]:
        """The selection in words."""
        metric = self.path.metric
        out = []
        if self.strength is None:
            ordered = sorted(self.counts.items())
            steps = ", ".join(f"{n} at {k:.3g}" for k, n in ordered)
            # every strength kept too many: the grid stops too weak; else it steps over the bound
            weak = bool(ordered) and all(n > self.max_features for _, n in ordered)
            hint = (
                f"extend --grid above {ordered[-1][0]:.3g}" if weak else "refine --grid around it"
            )
            out.append(
                f"No {self.method} strength kept between 1 and {self.max_features} features in "
                f"at least half of the {self._runs()} ({steps}): the {len(self.inputs)} most "
                f"stable at "
                f"{self.method}={self.listed_at:.3g} are listed; {hint}."
            )
        else:
            out.append(
                f"Selected {len(self.inputs)} of {len(self.table)} inputs at {self.method}="
                f"{self.strength:.3g}, the weakest strength keeping at most "
                f"{self.max_features} in at least half of the {self._runs()}."
            )
        everything, chosen = self.score("all"), self.score("selected")
        if everything is not None:
            out.append(f"Dense network on all inputs: {metric} {_pm(everything, metric)}.")
        if chosen is not None:
            out.append(
                f"Dense network refit on the {len(self.features)} selected columns: "
                f"{metric} {_pm(chosen, metric)} (same splits; optimistic, as the selection "
                "saw every row: nest it in an outer split for an unbiased estimate)."
            )
        return out

    def _runs(self) -> str:
        result = self.path.result
        if result is not None:  # split ids count seed copies: s + k·J
            runs = len({m.split_id for m in result.members})
        else:
            runs = self.seeds * max(p.n_splits + p.n_failed for p in self.path.points)
        if self.seeds == 1:
            return f"{runs} splits"
        return f"{runs // self.seeds} splits × {self.seeds} seeds"


def _pm(value: tuple[float, float], metric: str) -> str:
    """``mean ± standard error`` (the split scores' sd/√splits, uncorrected, as the path's)."""
    mean, se = value
    if metric in ("accuracy", "balanced_accuracy"):
        return f"{100 * mean:.1f}% ± {100 * se:.1f}% (standard error over the splits)"
    return f"{mean:.4g} ± {se:.2g} (standard error over the splits)"


def select_features(
    X: Any,
    y: Any = None,
    *,
    max_features: int,
    target: str | None = None,
    task: str | None = None,
    drop: Sequence[str] = (),
    grid: Any = None,
    method: str = "group-l1",
    cv: int = 5,
    refit: bool = True,
    seeds: int = 1,
    warm_start: bool = False,
    warm_epochs: int | None = None,
    store: str | os.PathLike[str] | Store | None = None,
    groups: Any = None,
    **options: Any,
) -> Selection:
    """Select at most ``max_features`` input features with a group-L1 or LassoNet path
    (module docstring).

    Args:
        X, y, target, task, drop, cv, store, groups: As in :func:`reglab.bench`.
        max_features: The most features to keep (an integer ≥ 1).
        grid: The strengths (``"lo:hi:n"``, log-spaced, or a list; default: the method's,
            :data:`GRIDS`).
        method: ``"group-l1"`` (group lasso on the first layer) or ``"lassonet"``.
        refit: Cross-validate a dense network on the selected columns.
        seeds: Member seeds per split (``K ≥ 1``): the selection frequency is over splits ×
            seeds (module docstring).
        warm_start: Run the path from weak to strong, each strength starting from the
            previous one's final weights on the same split and seed, as glmnet and LassoNet do
            (:mod:`reglab.study.path_warm`).
        warm_epochs: Epochs of each warm-started strength (default: ``epochs``).
        **options: Any :class:`~reglab.study.run.Study` argument (``hidden``, ``epochs`` …).
            Early stopping is off unless asked for: every member trains ``epochs`` epochs,
            so its zeros are those the path reached, not those of an early best epoch.
    """
    from reglab.api import bench, load_data
    from reglab.data.preprocess import Preprocessor
    from reglab.report.analysis import feature_survival
    from reglab.study.path_study import PathStudy

    check_int("select_features", "max_features", max_features, minimum=1)
    check_choice("select_features", "method", method, METHODS)
    check_int("select_features", "seeds", seeds, minimum=1)
    if grid is None:
        grid = GRIDS[method]
    # A fixed number of epochs: restoring each member's best epoch would bring back the dense
    # weights of its first epochs at strong strengths (counts measured non-monotone with it).
    options = {"early_stopping": False, **options}
    dataset = load_data(X, y, target=target, task=task, drop=drop, groups=groups)
    if max_features >= len(dataset.feature_names):
        raise ConfigError(
            f"select_features: `max_features` (--max-features) must be below the number of "
            f"features ({len(dataset.feature_names)}); got {max_features}."
        )
    runner = PathStudy(
        method, grid, warm_start=warm_start, warm_epochs=warm_epochs,
        **{"n_splits": cv, **options},
    )  # fmt: skip
    runner.check()
    study_, plan, described = runner.plan(dataset, chained=False)
    if seeds > 1:
        plan = _with_seeds(plan, seeds, study_.seed, rename=runner.name is None)
    if warm_start:
        plan = runner.chain(plan, described)
    # everything is validated and planned: only now is the store opened (or created)
    own = not isinstance(store, Store)
    st: Store = store if isinstance(store, Store) else Store(store or "sqlite://")
    try:
        result = runner.run(dataset, st, planned=(study_, plan, described))
        study = result.result
        assert study is not None
        names = list(study.metadata.get("feature_names") or ())
        pre = Preprocessor.for_dataset(dataset).fit(dataset.X, np.arange(len(dataset.y)))
        columns = list(pre.feature_groups)
        points = [p for p in result.points if p.strength is not None]
        points.sort(key=lambda p: p.strength or 0.0)
        freq: dict[float, np.ndarray] = {}
        rel: dict[float, np.ndarray] = {}
        for p in points:
            members = [m for m in study.members if m.strategy == p.strategy]
            survival = feature_survival(members)
            if survival is not None and len(survival[0]) == len(names):
                freq[p.strength or 0.0], rel[p.strength or 0.0] = survival
        if not freq:
            raise ConfigError("select_features: no member of the path finished; nothing to select.")
        strengths = sorted(freq)
        counts = {st_: int((freq[st_] >= STABLE).sum()) for st_ in strengths}
        fitting = [st_ for st_ in strengths if 1 <= counts[st_] <= max_features]
        chosen = fitting[0] if fitting else None
        over = [st_ for st_ in strengths if counts[st_] > max_features]
        # Without a fitting strength: rank where the fewest features above the bound remain.
        fewest = min(over, key=lambda st_: (counts[st_], -st_)) if over else strengths[0]
        at = chosen if chosen is not None else fewest
        order = np.lexsort((-rel[at], -freq[at]))
        if chosen is not None:
            picked = [int(j) for j in order if freq[at][j] >= STABLE][:max_features]
        else:
            picked = [int(j) for j in order if freq[at][j] > 0][:max_features]
        drops = [
            next((s for s in strengths if freq[s][j] < STABLE), np.nan) for j in range(len(names))
        ]
        table = (
            pd.DataFrame(
                {
                    "feature": names,
                    "column": columns if len(columns) == len(names) else names,
                    "drops_at": drops,
                    "frequency": freq[at],
                    "norm": rel[at],
                    "selected": [j in set(picked) for j in range(len(names))],
                }
            )
            .iloc[order]
            .reset_index(drop=True)
        )
        inputs = tuple(names[j] for j in picked)
        features = tuple(dict.fromkeys(table.loc[table["selected"], "column"]))
        refitted = None
        if refit:
            others = [c for c in dataset.feature_names if c not in set(features)]
            rest = {k: v for k, v in options.items() if k != "name"}
            kept = dataset.without(others)
            from reglab.study.results import SELECTED_HERE

            said = f"{SELECTED_HERE} by the {method} path of study {study.name!r}"
            refitted = bench(
                dataclasses.replace(kept, notices=(*kept.notices, said)), strategies="none",
                cv=cv, store=st, name=f"{study.name}-refit-{len(features)}", **rest,
            )  # fmt: skip
        grouped = () if dataset.grouping is None else (
            f"splits {dataset.grouping.describe()}: each group whole in one part",
        )  # fmt: skip
        return Selection(
            features, inputs, chosen, max_features, table, result, refitted, at, counts, method,
            seeds, (*dataset.notices, *grouped),
        )  # fmt: skip
    finally:
        if own:
            st.close()


def _with_seeds(plan: Any, seeds: int, root: int, *, rename: bool) -> Any:
    """``plan`` with every member trained ``seeds`` times (module docstring): seed ``k ≥ 1`` of
    split ``s`` trains on the same rows as a split of its own, id ``s + k·J``, member seed
    ``derive(root, "split", s, "seed", k)``."""
    from reglab._seeding import derive
    from reglab.study.run import MAX_SPLITS
    from reglab.study.splits import Split

    n = len(plan.splits)
    if n * seeds > MAX_SPLITS:
        raise ConfigError(
            f"select_features: `seeds` x splits must be at most {MAX_SPLITS:,}; got {seeds} x "
            f"{n} = {seeds * n:,}."
        )
    repeats = max(s.repeat for s in plan.splits) + 1
    splits = list(plan.splits)
    members = list(plan.members)
    data = dict(plan.data)
    for k in range(1, seeds):
        copies = {}
        for s in plan.splits:
            copy = Split(s.split_id + k * n, s.repeat + k * repeats, s.fold,
                         s.train_idx, s.val_idx, s.test_idx)  # fmt: skip
            copies[s.split_id] = copy
            splits.append(copy)
            data[copy.split_id] = plan.data[s.split_id]
        for spec, s in plan.members:
            copy = copies[s.split_id]
            seed = derive(root, "split", s.split_id, "seed", k)
            members.append((dataclasses.replace(spec, seed=seed, split_id=copy.split_id), copy))
    config = {**plan.config, "member seeds": seeds}
    name = f"{plan.name}-{seeds}seeds" if rename else plan.name
    return dataclasses.replace(
        plan, name=name, splits=splits, members=members, data=data, config=config
    )
