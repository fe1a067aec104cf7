"""Run a strength path: one study of a technique at every strength of a grid, plus ``none``.

:class:`PathStudy` turns ``technique`` and ``grid`` into strategies (``l2=1e-6``, …,
``l2=0.1`` and ``none``) and runs them as one :class:`~reglab.study.run.Study`, so the engine
trains every strength × split together in stacks, stores each member and resumes an interrupted
path. The path's description goes into the study's metadata (``metadata["path"]``), so
``reglab report`` draws its curve and :func:`~reglab.study.path.analyze_path` reads it back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

from reglab._validation import Problems
from reglab.data.load import Dataset
from reglab.errors import ConfigError
from reglab.store import Store
from reglab.study.model_techniques import model_problem
from reglab.study.path import REFERENCE, PathResult, analyze_path
from reglab.study.path_grid import PathTechnique, parse_grid, path_technique, problem
from reglab.study.run import Progress, Study, StudyPlan
from reglab.study.strategies import format_number, parse_strategy, preset

__all__ = ["METRICS", "PathStudy"]

METRICS = {
    "classification": ("accuracy", "balanced_accuracy", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
"""The test scores a path can choose by, per kind of task."""


class PathStudy:
    """A cross-validated strength path of one technique.

    Args:
        technique: What to vary: ``l1``, ``l2``, ``elasticnet`` (its alpha, at ``l1_ratio``),
            ``weight-decay``, ``dropout``, ``gaussian-dropout``, ``input-dropout``,
            ``dropconnect``, ``maxnorm`` (smaller ``c`` is stronger), or a registered
            one-parameter technique.
        grid: ``"lo:hi:n"``, a comma list or a sequence of strengths
            (:func:`~reglab.study.path.parse_grid`); ``None``: the technique's default grid.
        l1_ratio: Elastic net's mix (scikit-learn's ``l1_ratio``), for ``elasticnet`` only.
        proximal: L1 by soft-thresholding (exact zeros), for ``l1`` and ``elasticnet`` only.
        metric: The test score to choose by (default: the study's primary metric, accuracy
            or RMSE).
        warm_start: Train the path from weak to strong, each point starting from the previous
            point's final weights on the same split (:mod:`reglab.study.path_warm`); the
            splits of a point train together, the points one after another.
        warm_epochs: Epochs of each warm-started point (default: the study's ``epochs``);
            with ``warm_start`` only.
        name: The study's name (default: data name, technique and a hash of the settings).
        **study_options: Any other :class:`~reglab.study.run.Study` argument (``hidden``,
            ``epochs``, ``n_splits``, ``seed``, ``model`` …); a technique ``model``'s family
            does not train (``spatial-dropout`` on an ``mlp``, ``dropconnect`` on an
            ``rnn``) is refused.
    """

    def __init__(
        self,
        technique: str = "l2",
        grid: Any = None,
        *,
        l1_ratio: float | None = None,
        proximal: bool = False,
        metric: str | None = None,
        warm_start: bool = False,
        warm_epochs: int | None = None,
        name: str | None = None,
        **study_options: Any,
    ) -> None:
        self.technique = technique
        self.grid = grid
        self.l1_ratio = l1_ratio
        self.proximal = proximal
        self.metric = metric
        self.warm_start = warm_start
        self.warm_epochs = warm_epochs
        self.name = name
        self.study_options = study_options

    def check(self) -> tuple[PathTechnique, tuple[float, ...]]:
        """Validate the path's own options (no data needed): its technique and strengths."""
        tech = path_technique(self.technique)
        grid = parse_grid(tech, self.grid)
        p = Problems()
        ratio = self.l1_ratio
        if ratio is not None and tech.key != "elasticnet":
            p.add(problem("l1_ratio", "given for elasticnet only", f"{ratio} with {tech.key}"))
        elif ratio is not None and (
            isinstance(ratio, bool)
            or not isinstance(ratio, int | float)
            or not 0 <= ratio <= 1  # NaN fails too
        ):
            p.add(problem("l1_ratio", "a float in [0, 1]", ratio))
        if not isinstance(self.proximal, bool):
            p.add(problem("proximal", "True or False", self.proximal))
        elif self.proximal and tech.key not in ("l1", "elasticnet"):
            p.add(problem("proximal", "given for l1 or elasticnet only", f"with {tech.key}"))
        if not isinstance(self.warm_start, bool):
            p.add(problem("warm_start", "True or False", self.warm_start))
        if self.warm_epochs is not None:
            if self.warm_start is not True:
                p.add(problem("warm_epochs", "given with warm_start only", self.warm_epochs))
            else:
                we = self.warm_epochs
                if isinstance(we, bool) or not isinstance(we, int) or we < 1:
                    p.add(problem("warm_epochs", "an integer >= 1", we))
        known = [m for ms in METRICS.values() for m in ms]
        if self.metric is not None and self.metric not in known:
            p.add(problem("metric", "one of " + ", ".join(known), self.metric))
        strongest = [v for v in grid if v != 0]
        if strongest and not p.messages:  # auto: checked in plan, once the data are read
            refused = self._model_problem(tech, grid, self.study_options.get("model", "auto"))
            if refused is not None:
                p.add(refused)
        p.raise_if_any()
        return tech, grid

    def _model_problem(
        self, tech: PathTechnique, grid: tuple[float, ...], model: Any
    ) -> str | None:
        """The refusal of a technique ``model``'s family does not train (at the grid's
        strongest point), or ``None``."""
        strongest = [v for v in grid if v != 0]
        if not strongest:
            return None
        term = parse_strategy(self._term(tech, max(strongest)))
        return model_problem([tech.key], term, model, "path", "technique", flag="--technique")

    def _term(self, tech: PathTechnique, value: float) -> str:
        text = format_number(value)
        if tech.key == "elasticnet":
            ratio = 0.5 if self.l1_ratio is None else self.l1_ratio
            text += f":{format_number(ratio)}"
        return f"{tech.key}={text}" + ("+proximal" if self.proximal else "")

    def describe(self) -> tuple[Study, dict[str, Any]]:
        """The study that runs the path, and the path's description (its metadata)."""
        tech, grid = self.check()
        strategies = [preset(REFERENCE)]
        points: list[dict[str, Any]] = [{"strategy": REFERENCE, "strength": None}]
        for value in grid:
            if value == 0:  # strength 0 is the technique off: the reference itself
                continue
            strategy = parse_strategy(self._term(tech, value))
            strategies.append(strategy)
            points.append({"strategy": strategy.name, "strength": value})
        described = {
            **tech.to_dict(),
            "metric": self.metric,
            "grid": list(grid),
            "points": points,
            **({"l1_ratio": 0.5 if self.l1_ratio is None else self.l1_ratio}
               if tech.key == "elasticnet" else {}),
            "proximal": bool(self.proximal),
            **({"warm_start": True, "warm_epochs": self.warm_epochs} if self.warm_start else {}),
        }  # fmt: skip
        return Study(
            strategies, name=self.name, **{"reference": "none", **self.study_options}
        ), described

    def plan(
        self, dataset: Dataset, *, chained: bool = True
    ) -> tuple[Study, StudyPlan, dict[str, Any]]:
        """Validate everything and lay out the members (no training, nothing stored).

        With ``warm_start`` the members are chained (:meth:`chain`) unless ``chained`` is
        false (to chain a plan changed afterwards)."""
        study, described = self.describe()
        from reglab.study.models import resolve_model

        tech, grid = self.check()
        model = resolve_model(self.study_options.get("model"), dataset)
        refused = self._model_problem(tech, grid, model)  # the data's default model
        if refused is not None:
            raise ConfigError(refused)
        if self.metric is not None:
            kind = "regression" if dataset.task == "regression" else "classification"
            if self.metric not in METRICS[kind]:
                expected = f"a {kind} score: one of " + ", ".join(METRICS[kind])
                raise ConfigError(problem("metric", expected, self.metric))
        plan = study.plan(dataset)
        config = dict(plan.config)
        if self.metric is not None:
            config["metric"] = self.metric
        name = self.name
        if name is None:
            text = json.dumps({**config, "path": described}, sort_keys=True, default=str)
            digest = hashlib.sha256(text.encode()).hexdigest()[:6]
            name = f"{dataset.name}-{described['technique']}-path-{digest}"
        plan = dataclasses.replace(plan, name=name, config=config)
        if self.warm_start and chained:
            plan = self.chain(plan, described)
        return study, plan, described

    def chain(self, plan: StudyPlan, described: dict[str, Any]) -> StudyPlan:
        """``plan`` with each point warm-started from the previous one on its split
        (:func:`~reglab.study.path_warm.chain`)."""
        from reglab.study.path_warm import chain, path_order

        return chain(plan, path_order(described), warm_epochs=self.warm_epochs)

    def run(
        self,
        dataset: Dataset,
        store: Store,
        *,
        planned: tuple[Study, StudyPlan, dict[str, Any]] | None = None,
        progress: Progress | None = None,
        on_start: Callable[[StudyPlan, int], None] | None = None,
        on_wait: Callable[[int], None] | None = None,
        on_config_change: str = "error",
    ) -> PathResult:
        """Train every strength × split not yet in ``store`` and analyze the path.

        ``planned`` is this path's :meth:`plan` for ``dataset`` when already made. Sets
        ``study_`` (the :class:`~reglab.study.run.Study` that ran, with ``trained_`` and
        ``reused_``).
        """
        study, plan, described = planned if planned is not None else self.plan(dataset)

        def started(plan: StudyPlan, already: int) -> None:
            store.update_metadata(plan.name, {"path": described})
            if on_start is not None:
                on_start(plan, already)

        self.study_ = study
        if described.get("warm_start"):
            from reglab.study.path_warm import WarmExecutor

            inner = study.executor
            study.executor = WarmExecutor(inner, [spec for spec, _ in plan.members])
            try:
                result = study.run(  # the chained plan, never one planned again
                    plan.dataset, store, plan=plan, progress=progress, on_start=started,
                    on_wait=on_wait, on_config_change=on_config_change,
                )  # fmt: skip
            finally:
                study.executor = inner
            return analyze_path(result)
        result = study.run(
            dataset,
            store,
            plan=plan,
            progress=progress,
            on_start=started,
            on_wait=on_wait,
            on_config_change=on_config_change,
        )
        return analyze_path(result)
