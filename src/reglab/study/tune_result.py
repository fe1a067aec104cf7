"""What a strength search found, read skeptically: one analysis for the terminal, JSON and report.

:func:`analyze_tune` is a pure function of the trials (no training, no Optuna objects):

* the **best** trial (best mean test score over the outer splits) with the Nadeau–Bengio
  corrected 95% interval of that mean (:func:`reglab.stats.ttest.summarize`);
* the trials **within noise of the best**: each of the next ten is compared with it on the
  same splits by the corrected resampled paired t-test; those with ``p ≥ 0.05`` cannot be told
  apart from it, and the ranges of their strengths say how flat the optimum is;
* a warning for each strength of the best that lies at an **edge of its range** (the outer 5%,
  on the range's scale): the optimum may lie beyond it;
* the **selection optimism**: the best of N trials scored on the same test splits is biased
  upward; its interval covers the split noise, not the selection.

>>> from reglab.study.tune_space import parse_space
>>> rows = [TrialRow(0, "complete", "l2=1e-4", {"l2": 1e-4}, 0.8, (0.8, 0.8)),
...         TrialRow(1, "complete", "l2=1e-2", {"l2": 1e-2}, 0.9, (0.88, 0.92))]
>>> r = analyze_tune("s", parse_space("l2"), rows, metric="accuracy", n_train=80, n_test=20)
>>> r.best.strategy, r.edges
('l2=1e-2', ('l2',))
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reglab._numbers import format_number
from reglab._outputs import check_output, write_atomic
from reglab.stats.metrics import METRIC_DIRECTIONS, bounded, format_score
from reglab.stats.ttest import SplitSizes, corrected_resampled_ttest, summarize
from reglab.study.tune_space import SearchSpace

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TIE_P", "TrialRow", "TuneResult", "analyze_tune"]

TIE_P = 0.05
"""A trial whose corrected paired test against the best has ``p`` at least this is a tie."""
COMPARED = 10
"""How many of the next-best trials are tested against the best."""


@dataclass(frozen=True)
class TrialRow:
    """One trial of the search.

    Attributes:
        number: Optuna's trial number.
        state: ``complete``, ``pruned`` or ``fail``.
        strategy: The grammar text it trained (``dropout=0.312+l2=4.1e-5``).
        params: Its parameters by name (strengths; ``KEY:on`` switches in a cocktail).
        value: Mean test score over the splits (NaN for a failed trial).
        scores: The test score of each split.
        pruned_epoch: The epoch the pruner stopped it, or ``None``.
    """

    number: int
    state: str
    strategy: str
    params: Mapping[str, Any]
    value: float
    scores: tuple[float, ...] = ()
    pruned_epoch: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state,
            "strategy": self.strategy,
            "params": dict(self.params),
            "value": _finite(self.value),
            "scores": [_finite(s) for s in self.scores],
            "pruned_epoch": self.pruned_epoch,
        }


@dataclass(frozen=True)
class TuneResult:
    """A strength search, analyzed (:func:`analyze_tune`)."""

    study: str
    space: SearchSpace
    metric: str
    higher_is_better: bool
    trials: tuple[TrialRow, ...]
    best: TrialRow | None
    ci: tuple[float, float]
    ties: tuple[TrialRow, ...]
    edges: tuple[str, ...]
    importances: Mapping[str, float] = field(default_factory=dict)
    fit_command: str = ""
    warnings: tuple[str, ...] = ()
    sampler: str = "tpe"
    described: Mapping[str, Any] = field(default_factory=dict)
    """The data and protocol searched on (``{"data": …, "protocol": …}``), as a study's
    metadata says them."""

    def __str__(self) -> str:
        if self.best is None:
            return f"TuneResult({self.study!r}: no complete trial)"
        return (
            f"TuneResult({self.study!r}: best {self.best.strategy}, {self.metric} "
            f"{self.score(self.best.value)} [{self.score(self.ci[0])}, {self.score(self.ci[1])}] "
            f"over {self.count('complete')} complete trials)"
        )

    def score(self, value: float) -> str:
        return format_score(self.metric, value)

    def count(self, state: str) -> int:
        return sum(t.state == state for t in self.trials)

    @property
    def best_command(self) -> str:
        """The ``reglab fit`` command that trains the best strategy on all the data."""
        if self.best is None:
            return ""
        return self.fit_command.replace("{strategy}", self.best.strategy)

    def lines(self) -> list[str]:
        """The answer in words: the best with its interval, the command, then the warnings."""
        n = len(self.trials)
        head = (
            f"{n} trials ({self.count('complete')} complete, {self.count('pruned')} pruned, "
            f"{self.count('fail')} failed), sampler {self.sampler}."
        )
        if self.best is None:
            return [head, "No trial completed: nothing to recommend."]
        b = self.best
        out = [
            head,
            f"Best: {b.strategy} (trial {b.number}): test {self.metric} {self.score(b.value)}, "
            f"95% interval [{self.score(self.ci[0])}, {self.score(self.ci[1])}] "
            f"(Nadeau–Bengio corrected, {len(b.scores)} splits).",
            "Train the final model on all rows"
            + (
                ""
                if "--no-early-stopping" in self.best_command
                else " (early stopping holds a validation part of them out, as in the search)"
            )
            + f": {self.best_command}",
        ]
        ranked = sorted(self.importances.items(), key=lambda kv: -kv[1])
        shown = [(k, v) for k, v in ranked if v >= 0.01][:6]
        complete = self.count("complete")
        if shown and not self.importances_shown:
            out.append(
                f"Parameter importances: not shown with {complete} complete trials (fewer than "
                f"{MIN_IMPORTANCE_TRIALS}, they would be noise)."
            )
        elif shown:
            rest = len(ranked) - len(shown)
            out.append(
                "Parameter importances (Optuna): "
                + ", ".join(f"{k} {v:.2f}" for k, v in shown)
                + (f"; {rest} more below 0.01 or not shown" if rest else "")
                + "."
            )
        return out + [f"warning: {w}" for w in self.warnings]

    @property
    def importances_shown(self) -> bool:
        """Whether enough trials completed for the importances to mean something."""
        return self.count("complete") >= MIN_IMPORTANCE_TRIALS

    @property
    def searched_schedules(self) -> tuple[str, ...]:
        """The technique keys whose schedule is searched (``dropout@cosine|warmup:5``)."""
        return tuple(k for k, choices in self.space.schedules if len(choices) > 1)

    def table(self) -> pd.DataFrame:
        """The trial history, best first: number, state, strategy, each parameter, value."""
        import pandas as pd

        sign = -1.0 if self.higher_is_better else 1.0
        rows = []
        for t in self.trials:
            rows.append({"trial": t.number, "state": t.state, "strategy": t.strategy,
                         **{d.name: t.params.get(d.name) for d in self.space.dims},
                         **{f"{k}@": t.params.get(f"{k}@") for k in self.searched_schedules},
                         self.metric: t.value, "pruned_epoch": t.pruned_epoch})  # fmt: skip
        frame = pd.DataFrame(rows)
        if frame.empty:
            return frame
        key = frame[self.metric].map(lambda v: sign * v if math.isfinite(v) else math.inf)
        return frame.assign(_k=key).sort_values(["_k", "trial"]).drop(columns="_k")

    def to_dict(self) -> dict[str, Any]:
        best = None if self.best is None else self.best.to_dict()
        return {
            "study": self.study,
            **{k: dict(v) for k, v in self.described.items()},
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "space": self.space.to_dict(),
            "sampler": self.sampler,
            "best": best,
            "ci": [_finite(c) for c in self.ci] if self.best is not None else None,
            "fit_command": self.best_command,
            "ties": [t.number for t in self.ties],
            "edges": list(self.edges),
            # hidden below MIN_IMPORTANCE_TRIALS complete trials, as in the words
            "importances": dict(self.importances) if self.importances_shown else None,
            "importances_note": None
            if self.importances_shown
            else (
                f"not given with {self.count('complete')} complete trials (fewer than "
                f"{MIN_IMPORTANCE_TRIALS}, they would be noise)"
            ),
            "warnings": list(self.warnings),
            "trials": [t.to_dict() for t in self.trials],
        }

    def to_json(self, path: str | Path) -> Path:
        out = check_output("path", Path(path), writes="json")
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False, default=str)
        write_atomic(out, text)
        return out

    def report(self, path: str | Path) -> Path:
        """Write the search's HTML page (:func:`reglab.report.tune.write_tune_report`)."""
        from reglab.report.tune import write_tune_report

        return write_tune_report(self, path)


WEAK_END = 0.1
"""The share of a range, at its weak end, in which a best strength is "close to off"."""


def _weak_end(space: SearchSpace, params: Mapping[str, Any]) -> list[str]:
    """``name value`` of each searched strength of ``params`` when every one of them lies in
    the :data:`WEAK_END` of its range nearest the value that turns it off; else ``[]``."""
    out = []
    for d in space.dims:
        value, spec = params.get(d.name), d.spec
        if spec.epoch or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if spec.off <= d.low:
            weak = "low"
        elif spec.off >= d.high:
            weak = "high"
        else:
            continue  # a share or a ratio: no weak end
        if d.at_edge(float(value), WEAK_END) != weak:
            return []
        out.append(f"{d.name} {format_number(float(value))}")
    return out


MIN_IMPORTANCE_TRIALS = 20
"""Complete trials below which parameter importances are not shown: they would be noise."""


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _span(rows: Sequence[TrialRow], name: str) -> str:
    values = [float(r.params[name]) for r in rows if isinstance(r.params.get(name), int | float)
              and not isinstance(r.params.get(name), bool)]  # fmt: skip
    if not values:
        return ""
    if min(values) == max(values):
        return f"{name} {format_number(values[0])}"
    return f"{name} {format_number(min(values))}–{format_number(max(values))}"


def analyze_tune(
    study: str,
    space: SearchSpace,
    trials: Sequence[TrialRow],
    *,
    metric: str,
    n_train: SplitSizes,
    n_test: SplitSizes,
    importances: Mapping[str, float] | None = None,
    fit_command: str = "",
    sampler: str = "tpe",
) -> TuneResult:
    """The best trial, its interval, the ties, the edges and the warnings (module docstring)."""
    higher = METRIC_DIRECTIONS[metric]
    sign = 1.0 if higher else -1.0
    rows = tuple(sorted(trials, key=lambda t: t.number))
    complete = [t for t in rows if t.state == "complete" and math.isfinite(t.value)]
    if not complete:
        return TuneResult(study, space, metric, higher, rows, None, (math.nan, math.nan), (), (),
                          dict(importances or {}), fit_command, (), sampler)  # fmt: skip
    ranked = sorted(complete, key=lambda t: (-sign * t.value, t.number))
    best = ranked[0]
    s = summarize(list(best.scores), n_train, n_test, higher_is_better=higher)
    ties = []
    for other in ranked[1 : 1 + COMPARED]:
        if len(other.scores) != len(best.scores):
            continue
        test = corrected_resampled_ttest(list(best.scores), list(other.scores), n_train, n_test)
        if not test.p_value < TIE_P:
            ties.append(other)
    warnings = []
    edges = []
    for d in space.dims:
        value = best.params.get(d.name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        side = d.at_edge(float(value))
        if side is None:
            continue
        edges.append(d.name)
        bound = d.low if side == "low" else d.high
        if side == "high" and d.spec.epoch:
            warnings.append(
                f"the best {d.name}={format_number(float(value))} is at the high edge of its "
                f"range [{format_number(d.low)}, {format_number(d.high)}] (epochs): a later "
                f"start may do better; it is searched below the training's epochs, so raise "
                f"--epochs (and --range {d.name}=LO:HI) to try later ones."
            )
            continue
        warnings.append(
            f"the best {d.name}={format_number(float(value))} is at the {side} edge of its range "
            f"[{format_number(d.low)}, {format_number(d.high)}] ({'log' if d.log else 'linear'}"
            f" scale): the optimum may lie beyond {format_number(bound)}; widen it with "
            f"--range {d.name}=LO:HI."
        )
    weak = _weak_end(space, best.params)
    if weak:
        warnings.append(
            f"every strength of the best ({', '.join(weak)}) lies in the weakest tenth of its "
            "range: the search favours little or no regularization, and a strength close to off "
            "is no evidence that the technique helps; compare it with none on the same data: "
            f'reglab bench ... --strategies "none,{best.strategy}".'
        )
    if ties:
        spans = [_span([best, *ties], d.name) for d in space.dims if d.name in best.params]
        warnings.append(
            f"{len(ties)} of the next {min(COMPARED, len(ranked) - 1)} trials are within noise "
            f"of the best (corrected paired t-test, p ≥ {TIE_P}, each on its own; reglab show "
            "adjusts for every trial at once, Holm, and so ties more): "
            + (", ".join(spans) + " are " if spans else "they are ")
            + "as good on this evidence; the exact best strengths are not determined."
        )
    if len(complete) > 1:
        warnings.append(
            f"the best's score is the best of {len(complete)} trials on the same test splits, "
            "so it is optimistic; its interval covers the split noise, not the selection "
            "(confirm on new data or with nested cross-validation)."
        )
    return TuneResult(
        study, space, metric, higher, rows, best,
        bounded(metric, float(s.ci_low), float(s.ci_high)), tuple(ties), tuple(edges),
        dict(importances or {}), fit_command, tuple(warnings), sampler,
    )  # fmt: skip
