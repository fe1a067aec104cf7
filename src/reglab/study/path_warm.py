"""Warm-started strength paths: each point starts from the previous point's final weights.

glmnet and LassoNet fit a regularization path from the weakest strength to the strongest, each
fit starting from the solution at the strength before it. :func:`chain` lays a path's members
out so: on every split, the points run from ``none`` (the dense reference, trained from its
seed's initial weights) through the grid from weak to strong, and point ``i`` warm-starts from
point ``i − 1``'s final (restored) weights on the same split
(:class:`~reglab.engine.spec.WarmStart`). A point whose parameter layout differs from its
predecessor's (LassoNet's skip path against ``none``'s plain network) starts from its own
initial weights and begins the chain.

Stage ``i`` is point ``i`` on every split: the splits of a stage train together in one stack
(:class:`WarmExecutor`), the stages one after another. A warm member's content key holds its
predecessor's key, so a point's stored result is keyed by its spec and its whole chain:

    result(point i, split s) = train(spec_i,s, start = weights(point i − 1, split s)),

a function of the specs of points ``0..i`` on split ``s`` alone, the same bits whatever the
chunking or the neighbours (the engine's independence contract). The optimizer's state does
not carry over (as LassoNet, which builds a new optimizer per strength); batches and noise come
from the member's own seed.

``warm_epochs`` trains the warm points for fewer epochs than the chain's first point (LassoNet's
``n_iters_path`` against ``n_iters_init``): a warm start begins near its solution, so it needs
fewer steps; that is where a warm path saves time over a cold one.

Resuming: the store keeps scores, not weights. A stage whose predecessors are stored but not
in memory retrains them first (bit-identical, so the weights are those they ended with) and
stores nothing twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from reglab.engine.result import MemberResult, failed_result
from reglab.engine.spec import MemberSpec, WarmStart
from reglab.study.executor import Executor

__all__ = ["WarmExecutor", "chain", "path_order"]

PREDECESSOR_FAILED = "warm start: its predecessor on the path failed"
"""The error of a warm member whose predecessor failed (it has no weights to start from)."""


def path_order(described: Mapping[str, Any]) -> list[str]:
    """The path's strategies from the weakest (``none``) to the strongest.

    >>> points = [{"strategy": "none", "strength": None},
    ...           {"strategy": "maxnorm=1", "strength": 1.0},
    ...           {"strategy": "maxnorm=4", "strength": 4.0}]
    >>> path_order({"stronger": "smaller", "points": points})
    ['none', 'maxnorm=4', 'maxnorm=1']
    """
    from reglab.study.path import _ordered

    return [name for name, _ in _ordered(described, str(described.get("stronger", "larger")))]


def _layout(spec: MemberSpec) -> tuple[tuple[str, tuple[int, ...]], ...]:
    from reglab.engine import initial_weights

    return tuple((k, np.shape(v)) for k, v in sorted(initial_weights(spec).items()))


def chain(plan: Any, order: Sequence[str], *, warm_epochs: int | None = None) -> Any:
    """``plan`` (a :class:`~reglab.study.run.StudyPlan`) with its members warm-started along
    ``order`` (strategy names, weakest first) on every split (module docstring).

    Warm members train ``warm_epochs`` epochs when given (the chain's first point keeps the
    study's). Every split must hold one member of each strategy in ``order``.
    """
    by_place = {(spec.split_id, spec.strategy.name): (spec, split) for spec, split in plan.members}
    rank = {name: i for i, name in enumerate(order)}
    layouts: dict[str, Any] = {}
    members = []
    for split_id in sorted({spec.split_id for spec, _ in plan.members}):
        previous: MemberSpec | None = None
        for name in order:
            spec, split = by_place[(split_id, name)]
            if name not in layouts:
                layouts[name] = _layout(spec)
            if previous is not None and layouts[previous.strategy.name] == layouts[name]:
                train = spec.train
                if warm_epochs is not None:
                    train = dataclasses.replace(train, epochs=warm_epochs)
                spec = dataclasses.replace(spec, train=train, warm_start=WarmStart(previous.key()))
            members.append((spec, split))
            previous = spec
    members.sort(key=lambda pair: (rank[pair[0].strategy.name], pair[0].split_id))
    return dataclasses.replace(plan, members=members)


class WarmExecutor:
    """Trains a chained plan's members stage by stage with ``inner``, filling each warm
    member's start from its predecessor's result (module docstring).

    Args:
        inner: The executor each stage's members go to, as one chunk list.
        members: Every member of the chained plan (stored ones too: a resumed stage retrains
            the predecessors it needs).
    """

    def __init__(self, inner: Executor, members: Iterable[MemberSpec]) -> None:
        self.inner = inner
        self.specs = {spec.key(): spec for spec in members}
        self.retrained_ = 0

    def _stage(self, key: str) -> int:
        depth = 0
        spec = self.specs[key]
        while spec.warm_start is not None:
            depth += 1
            spec = self.specs[spec.warm_start.source]
        return depth

    def run(
        self,
        chunks: Iterable[Sequence[MemberSpec]],
        data: Mapping[int, tuple[Any, Any]],
        *,
        device: str,
        memory_budget_mb: float,
        on_result: Callable[[MemberResult], None],
    ) -> None:
        todo = {spec.key(): spec for chunk in chunks for spec in chunk}
        needed: dict[str, MemberSpec] = dict(todo)
        for spec in list(todo.values()):  # stored predecessors without weights in memory
            while spec.warm_start is not None and spec.warm_start.source not in needed:
                spec = self.specs[spec.warm_start.source]
                needed[spec.key()] = spec
        self.retrained_ = len(needed) - len(todo)
        sources = {s.warm_start.source for s in needed.values() if s.warm_start is not None}
        weights: dict[str, dict[str, np.ndarray] | None] = {}
        stages: dict[int, list[str]] = {}
        for key in needed:
            stages.setdefault(self._stage(key), []).append(key)

        def collect(result: MemberResult) -> None:
            if result.key in sources:
                weights[result.key] = result.weights if result.ok and result.weights else None
            if result.key in todo:
                on_result(result)

        for stage in sorted(stages):
            ready = []
            for key in stages[stage]:
                spec = needed[key]
                if spec.warm_start is not None:
                    start = weights.get(spec.warm_start.source)
                    if start is None:
                        collect(failed_result(spec, f"{PREDECESSOR_FAILED} (stage {stage - 1})"))
                        continue
                    spec = dataclasses.replace(
                        spec, warm_start=WarmStart(spec.warm_start.source, start)
                    )
                ready.append(spec)
            if ready:
                self.inner.run(
                    [ready], data, device=device, memory_budget_mb=memory_budget_mb,
                    on_result=collect,
                )  # fmt: skip
