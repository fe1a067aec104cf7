"""Strength paths: one technique at every strength of a grid, cross-validated, and the choice.

A path is one study (:mod:`reglab.study.path_study` runs it) whose strategies are one
technique at each strength of a grid, plus ``none``, the unregularized reference. This module
is its analysis, a pure function of the study's :class:`~reglab.study.results.StudyResult` (no
training code), as ``cv.glmnet`` presents a lasso path:

* the **CV curve**: per strength, the mean test score over the splits and its standard error
  ``SE = sd / √k`` (sample standard deviation of the ``k`` split scores, as glmnet's ``cvsd``);
* the **best** strength, whose mean is best (on a tie, the stronger);
* the **one-standard-error choice**: the strongest regularization whose mean is within one SE
  (the best's) of the best mean, glmnet's ``lambda.1se``: as good as the best within the noise
  of cross-validation, and simpler;
* a **warning** when the best sits at an edge of the grid, where a strength beyond it may be
  better still;
* for L1 and elastic net, the **surviving input features** along the path: the mean over
  splits of how many inputs keep a first-layer weight norm above 1e-3 of the largest (the
  report's feature-survival rule, :func:`reglab.report.analysis.feature_survival`).

"Stronger" depends on the technique: a larger penalty (``l1``, ``l2``, elastic net's alpha,
weight decay) or rate (the dropout family), a smaller max-norm bound ``c``. Points are kept in
order from the weakest (``none``) to the strongest.

Grids (:func:`~reglab.study.path_grid.parse_grid`) are ``lo:hi:n`` (``n`` strengths,
log-spaced for penalties and max-norm, evenly spaced for rates) or a comma list; a strength of
0 means ``none``.

>>> parse_grid("l2", "1e-4:1e-2:3"), parse_grid("dropout", "0:0.6:4")
((0.0001, 0.001, 0.01), (0.0, 0.2, 0.4, 0.6))
>>> one_se_rule([0.80, 0.85, 0.84, 0.70], [0.02, 0.01, 0.03, 0.02])
(1, 2)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reglab._outputs import check_output, write_atomic
from reglab._validation import message
from reglab.errors import ConfigError
from reglab.stats.metrics import METRIC_DIRECTIONS, format_score
from reglab.study.path_grid import MAX_GRID, TECHNIQUES, PathTechnique, parse_grid, path_technique
from reglab.study.results import by_resample, resample_ids

if TYPE_CHECKING:
    from reglab.store.records import MemberRecord
    from reglab.study.results import StudyResult

__all__ = [
    "MAX_GRID",
    "TECHNIQUES",
    "PathPoint",
    "PathResult",
    "PathTechnique",
    "analyze_path",
    "format_strength",
    "one_se_rule",
    "parse_grid",
    "path_technique",
]

REFERENCE = "none"
"""The unregularized reference every path trains."""

CHANCE_ERROR = "learned nothing"
"""How the study's analysis begins the error of a member at chance level."""


# -- the choice ---------------------------------------------------------------------------------


def one_se_rule(
    means: Sequence[float], ses: Sequence[float], *, higher_is_better: bool = True
) -> tuple[int, int]:
    """``(best, one-SE choice)`` as indices of points ordered from weakest to strongest.

    ``best`` has the best mean (on a tie, the stronger point); the choice is the strongest
    point whose mean is at least as good as the best mean minus the best's SE (plus it, when
    lower is better). A point with a NaN mean is skipped; a NaN SE (one split) counts as 0.

    >>> one_se_rule([0.80, 0.85, 0.84, 0.70], [0.02, 0.01, 0.03, 0.02])
    (1, 2)
    >>> one_se_rule([3.0, 2.0, 2.4, 2.1, 2.6], [0.1, 0.2, 0.1, 0.1, 0.1], higher_is_better=False)
    (1, 3)
    """
    m = np.asarray(means, dtype=float)
    s = np.asarray(ses, dtype=float)
    if m.shape != s.shape or m.ndim != 1:
        raise ConfigError(message("one_se_rule", "ses", f"{m.size} values like means", list(s)))
    ok = np.flatnonzero(np.isfinite(m))
    if ok.size == 0:
        raise ConfigError(message("one_se_rule", "means", "at least one finite mean", list(m)))
    sign = 1.0 if higher_is_better else -1.0
    score = sign * m[ok]
    best = int(ok[np.flatnonzero(score == score.max())[-1]])
    se = float(s[best]) if math.isfinite(s[best]) else 0.0
    within = ok[sign * m[ok] >= sign * m[best] - se]
    return best, int(within.max())


# -- the result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathPoint:
    """One strength of the path.

    Attributes:
        strategy: Its strategy's name in the study (``none`` for the reference).
        strength: The technique's strength; ``None`` for the reference ``none`` (off; for
            max-norm that is ``c = ∞``).
        mean, se: Mean test score over its finished splits, and the standard error.
        n_splits, n_failed: Finished and failed members.
        features: Mean number of surviving input features over the splits (L1-like
            techniques only, else ``None``).
        n_chance: Members (counted in ``n_splits``) that learned nothing: their test score
            is at chance level, the model reduced to a constant.
    """

    strategy: str
    strength: float | None
    mean: float
    se: float
    n_splits: int
    n_failed: int = 0
    features: float | None = None
    n_chance: int = 0

    @property
    def is_reference(self) -> bool:
        return self.strength is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "strength": self.strength,
            "mean": _finite(self.mean),
            "se": _finite(self.se),
            "splits": self.n_splits,
            "failed": self.n_failed,
            "features": self.features,
            "at_chance": self.n_chance,
        }


def format_strength(x: float | None) -> str:
    """A strength as strategy names write it, shortest first (``–`` for the reference).

    >>> [format_strength(v) for v in (1e-05, 0.001, 0.01, 0.3, 16.0, 3.16e-4, None)]
    ['1e-5', '1e-3', '0.01', '0.3', '16', '3.16e-4', '–']
    """
    if x is None:
        return "–"
    plain = f"{x:.12g}"
    mantissa, _, exp = f"{x:.11e}".partition("e")
    sci = f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"
    if "e" in plain:
        return sci
    return sci if len(sci) < len(plain) else plain


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class PathResult:
    """A strength path's conclusion. Build it with :func:`analyze_path`.

    ``points`` run from the weakest (``none``) to the strongest; ``best`` and ``one_se`` are
    two of them (``None`` when no point was scored); ``warnings`` are one line each (the best
    at an edge of the grid, failed members); ``headline`` is the study's own answer, its
    corrected tests of every strength against ``none``.
    """

    study: str
    technique: PathTechnique
    metric: str
    higher_is_better: bool
    points: tuple[PathPoint, ...]
    best: PathPoint | None
    one_se: PathPoint | None
    warnings: tuple[str, ...] = ()
    n_inputs: int | None = None
    headline: str = ""
    result: StudyResult | None = field(default=None, repr=False, compare=False)
    warm_start: bool = False
    """Whether each point started from the previous point's final weights
    (:mod:`reglab.study.path_warm`)."""

    def __repr__(self) -> str:
        best = self.best.strategy if self.best else "–"
        choice = self.one_se.strategy if self.one_se else "–"
        return (
            f"<PathResult {self.study!r}: {self.technique.key} at {len(self.points) - 1} "
            f"strengths; best {best}, 1-SE choice {choice}>"
        )

    def score(self, value: float) -> str:
        """A score of the path's metric as every presentation shows it."""
        return format_score(self.metric, value)

    def point_text(self, point: PathPoint) -> str:
        """``l2=1e-3 (96.0% ± 0.6%)``."""
        return f"{point.strategy} ({self.score(point.mean)} ± {self.score(point.se)})"

    @property
    def direction(self) -> str:
        """Which way is stronger, in words: ``"larger l2 is stronger"``."""
        return f"{self.technique.stronger} {self.technique.key} is stronger"

    def lines(self) -> list[str]:
        """The conclusion in words: best, 1-SE choice, warnings, the study's answer and its
        notices."""
        out = []
        if self.best is None or self.one_se is None:
            out.append("No strength of the path was scored: every member failed.")
        else:
            out.append(f"Best: {self.point_text(self.best)}.")
            if self.best.is_reference:
                out[-1] = (
                    f"Best: no regularization, {self.point_text(self.best)}: no strength on "
                    "the grid scored a better mean."
                )
            same = self.one_se is self.best
            out.append(
                f"1-SE choice: {self.point_text(self.one_se)}, the strongest "
                f"{self.technique.label} within one standard error of the best "
                f"({self.direction})" + ("; it is the best itself." if same else ".")
            )
        out.extend(f"warning: {w}" for w in self.warnings)
        if self.headline:
            out.append(f"Against none (corrected t-test, Holm): {self.headline}")
        if self.result is not None:  # what the answer must not hide (the epoch limit: above)
            out.extend(f"note: {n.text}" for n in self.result.notices if n.kind != "epoch-limit")
        return out

    def table(self) -> Any:
        """The curve as a pandas DataFrame, weakest first (``best`` and ``one_se`` marked)."""
        import pandas as pd

        rows = []
        for p in self.points:
            row = p.to_dict()
            row["best"] = p is self.best
            row["one_se"] = p is self.one_se
            rows.append(row)
        return pd.DataFrame(rows).set_index("strategy")

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            **self.technique.to_dict(),
            "direction": self.direction,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "se": "sample standard deviation of the split scores / sqrt(splits)",
            "inputs": self.n_inputs,
            "points": [p.to_dict() for p in self.points],
            "best": None if self.best is None else self.best.to_dict(),
            "one_se": None if self.one_se is None else self.one_se.to_dict(),
            "warnings": list(self.warnings),
            "warm_start": self.warm_start,
            "answer": self.lines(),
        }

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON atomically (never over the store or the data)."""
        inputs = self.result.inputs() if self.result is not None else None
        out = check_output("path", path, inputs=inputs, writes="json")
        return write_atomic(out, json.dumps(self.to_dict(), indent=2) + "\n")

    def report(self, path: str | Path) -> Path:
        """Write the study's HTML report, the path's figure first (``path`` checked as in
        :meth:`to_json`)."""
        if self.result is None:
            raise ConfigError(message("PathResult.report", "result", "a study result", None))
        return self.result.report(path)


def _ordered(spec: Mapping[str, Any], stronger: str) -> list[tuple[str, float | None]]:
    points = spec.get("points")
    if not isinstance(points, list) or not points:
        raise ConfigError(message("analyze_path", "path", "stored path points", points))
    pairs = [(str(p["strategy"]), p.get("strength")) for p in points]
    ref: list[tuple[str, float | None]] = [(n, None) for n, s in pairs if s is None]
    grid = sorted(((n, float(s)) for n, s in pairs if s is not None), key=lambda p: p[1])
    return ref + list(grid if stronger == "larger" else grid[::-1])


def analyze_path(
    result: StudyResult, *, path: Mapping[str, Any] | None = None, metric: str | None = None
) -> PathResult:
    """The path's curve and choice from its study's result (pure: no training code).

    Args:
        result: The study's analysis (:func:`reglab.study.results.load_result`).
        path: The path's description (default: the study's ``metadata["path"]``, written by
            :class:`~reglab.study.path_study.PathStudy`).
        metric: The score to choose by (default: the path's, else the study's primary metric).
    """
    spec = path if path is not None else result.metadata.get("path")
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"analyze_path: study {result.name!r} must be a strength path (made by reglab "
            "path); got a study without a path."
        )
    key = str(spec["technique"])
    tech = PathTechnique(
        key,
        str(spec.get("label", key)),
        str(spec.get("scale", "log")),
        str(spec.get("stronger", "larger")),
        "",
        zero_is_none=key != "maxnorm",
        features=bool(spec.get("features")),
    )
    metric = metric or spec.get("metric") or result.primary
    higher = METRIC_DIRECTIONS.get(str(metric), True)
    points = []
    resamples = resample_ids(result.members, result.config)
    for name, strength in _ordered(spec, tech.stronger):
        members, failed = _scored_members(result, name)
        chance = sum(m.status == "failed" for m in members)
        per_split = _split_scores(by_resample(members, result.config, resamples), str(metric))
        scores = np.array(list(per_split.values()), dtype=float)
        mean = float(scores.mean()) if scores.size else math.nan
        se = float(scores.std(ddof=1) / math.sqrt(scores.size)) if scores.size > 1 else math.nan
        features = _features(members) if tech.features else None
        points.append(
            PathPoint(name, strength, mean, se, int(scores.size), failed, features, chance)
        )
    scored = [p for p in points if math.isfinite(p.mean)]
    best = choice = None
    if scored:
        b, c = one_se_rule([p.mean for p in scored], [p.se for p in scored],
                           higher_is_better=higher)  # fmt: skip
        best, choice = scored[b], scored[c]
    data = result.config.get("data", {})
    inputs = data.get("inputs") if isinstance(data, Mapping) else None
    zero_on_grid = 0 in list(spec.get("grid") or ())
    return PathResult(
        result.name,
        tech,
        str(metric),
        higher,
        tuple(points),
        best,
        choice,
        _warnings(tech, points, best, choice, zero_on_grid=zero_on_grid)
        + tuple(n.text for n in result.notices if n.kind == "epoch-limit"),
        inputs if isinstance(inputs, int) else None,
        result.headline,
        result,
        bool(spec.get("warm_start")),
    )


def _scored_members(result: StudyResult, strategy: str) -> tuple[list[MemberRecord], int]:
    """A strength's members that count on the curve, and how many failed.

    Members that learned nothing (the study counts them as failed while other strategies
    learn) count: the strength at which the model is reduced to a constant is part of the
    path, as the null model is of glmnet's."""
    kept, failed = [], 0
    for m in result.members:
        if m.strategy != strategy:
            continue
        at_chance = m.status == "failed" and (m.error or "").startswith(CHANCE_ERROR)
        if m.status == "done" or at_chance:
            kept.append(m)
        else:
            failed += 1
    return kept, failed


def _split_scores(members: Sequence[MemberRecord], metric: str) -> dict[Any, float]:
    """Test score per split: the mean of the strength's members there (one, usually)."""
    per: dict[Any, list[float]] = {}
    for m in members:
        value = m.test_scores.get(metric)
        if value is not None and math.isfinite(value):
            per.setdefault(m.split_id, []).append(float(value))
    return {k: float(np.mean(v)) for k, v in per.items()}


def _features(members: Sequence[MemberRecord]) -> float | None:
    """Mean over the members (one per split) of their surviving input features."""
    from reglab.report.analysis import feature_survival
    from reglab.report.diagnostics import FEATURE_THRESHOLD

    survival = feature_survival(members, rel_threshold=FEATURE_THRESHOLD)
    return None if survival is None else float(survival[0].sum())


def _warnings(
    tech: PathTechnique,
    points: Sequence[PathPoint],
    best: PathPoint | None,
    one_se: PathPoint | None,
    *,
    zero_on_grid: bool,
) -> tuple[str, ...]:
    """The best at an edge of the grid, and failed members, one line each. ``zero_on_grid``:
    the grid holds strength 0 (so ``none`` is its weakest edge, and nothing is weaker)."""
    out = []
    grid = [p for p in points if not p.is_reference]
    weaker, stronger = ("below", "above") if tech.stronger == "larger" else ("above", "below")
    if best is not None and grid:
        first, last = grid[0], grid[-1]
        if best is last:
            edge = format_strength(last.strength)
            out.append(
                f"the best strength is the strongest on the grid ({last.strategy}); a stronger "
                f"one may be better still: extend --grid {stronger} {edge}."
            )
        elif best is first and not zero_on_grid:
            edge = format_strength(first.strength)
            out.append(
                f"the best strength is the weakest on the grid ({first.strategy}); a weaker "
                f"one may be better still: extend --grid {weaker} {edge}."
            )
        elif best.is_reference and tech.zero_is_none and not zero_on_grid:
            edge = format_strength(first.strength)
            out.append(
                f"no strength on the grid beat no regularization; strengths weaker than "
                f"{first.strategy} may still help: extend --grid {weaker} {edge}."
            )
    if one_se is not None and grid and one_se is grid[-1] and best is not one_se:
        out.append(
            f"the 1-SE choice is the strongest on the grid ({one_se.strategy}); stronger ones "
            f"may be within one SE too: extend --grid {stronger} "
            f"{format_strength(one_se.strength)}."
        )
    dead = [p.strategy for p in points if p.n_chance]
    if dead:
        out.append(
            f"the models learned nothing (test score at chance level) at {', '.join(dead)}: "
            "there the regularization reduces the model to a constant."
        )
    failed = sum(p.n_failed for p in points)
    if failed:
        which = ", ".join(p.strategy for p in points if p.n_failed)
        out.append(f"{failed} member(s) failed ({which}); their points rest on fewer splits.")
    return tuple(out)
