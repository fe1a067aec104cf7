"""Strengths in effect: a strategy with schedules as the constant strategy of one epoch.

A :class:`~reglab.engine.spec.Strategy` carries its schedules as ``(technique key, schedule
text)`` pairs (:mod:`reglab.techniques.schedule`). Per epoch the engine turns each member's
strategy into :func:`in_effect`: the same strategy with every scheduled strength replaced by
its value in that epoch and no schedules, which the stacks read exactly as they read a
constant strategy. For a built-in technique the value is its first parameter (the one the
grammar sets; each layer's for per-layer strengths), written back through the technique's
:meth:`~reglab.techniques.BuiltinTechnique.to_fields`; for a registry technique it is the
parameter the schedule names: a pair's key is the technique's (``"group-l1"``: its first
parameter) or ``KEY.PARAM`` for another (``"group-l1.within"``,
:meth:`~reglab.techniques.Technique.scheduled_params`). Nothing here looks at another member.

>>> from reglab.engine.spec import Strategy
>>> s = Strategy(dropout=(0.2, 0.4), l2=1e-3, schedules=(("dropout", "warmup:4"),))
>>> e = in_effect(s, 2, 10)
>>> e.dropout, e.l2, e.schedules
((0.1, 0.2), 0.001, ())
>>> values_in_effect(s, e)
{'strength:dropout[0]': 0.1, 'strength:dropout[1]': 0.2}
>>> from reglab.techniques import TechniqueConfig
>>> g = Strategy(techniques=(TechniqueConfig("group-l1", (("strength", 2.0), ("within", 1e-3))),),
...              schedules=(("group-l1.within", "warmup:4"),))
>>> values_in_effect(g, in_effect(g, 1, 10))
{'strength:group-l1.within': 0.00025}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reglab.errors import ConfigError
from reglab.techniques.schedule import Schedule

if TYPE_CHECKING:
    from reglab.engine.spec import MemberSpec, Strategy

__all__ = [
    "CURVE_PREFIX",
    "Strengths",
    "canonical_key",
    "check_strategy",
    "in_effect",
    "is_adaptive",
    "member_in_effect",
    "schedule_problems",
    "schedule_suffixes",
    "split_key",
    "values_in_effect",
]

CURVE_PREFIX = "strength:"
"""Curves of values in effect are named ``strength:KEY`` (``strength:KEY[i]`` per layer)."""


def split_key(pair_key: str) -> tuple[str, str | None]:
    """A schedule pair's key as (technique key, parameter name; ``None``: the first).

    >>> split_key("group-l1.within"), split_key("l2")
    (('group-l1', 'within'), ('l2', None))
    """
    key, dot, param = pair_key.partition(".")
    return key, (param if dot else None)


def canonical_key(pair_key: str) -> str:
    """``KEY.FIRST`` is written ``KEY`` (the first parameter is the one a bare ``@`` names)."""
    from reglab.techniques import get, keys

    key, param = split_key(pair_key)
    if param is not None and key in set(keys()):
        params = get(key).params
        if params and params[0].name == param:
            return key
    return pair_key


def schedule_suffixes(schedules: Sequence[tuple[str, str]], sep: str = "") -> dict[str, str]:
    """Each technique's schedule text after its term: ``@S`` for the first parameter, then
    ``@PARAM=S`` for the others in parameter order (``sep`` goes before each ``@``).

    >>> schedule_suffixes([("group-l1.within", "warmup:5"), ("group-l1", "cosine")])
    {'group-l1': '@cosine@within=warmup:5'}
    """
    from reglab.techniques import get, keys

    known = set(keys())
    by: dict[str, list[tuple[int, str]]] = {}
    for pair_key, text in schedules:
        key, param = split_key(pair_key)
        if param is None:
            by.setdefault(key, []).append((-1, f"{sep}@{text}"))
            continue
        names = [q.name for q in get(key).params] if key in known else []
        index = names.index(param) if param in names else len(names)
        by.setdefault(key, []).append((index, f"{sep}@{param}={text}"))
    return {key: "".join(t for _, t in sorted(parts)) for key, parts in by.items()}


def _value_of(strategy: Strategy, key: str, param: str | None = None) -> Any:
    """The value of parameter ``param`` (``None``: the first) of technique ``key`` in
    ``strategy`` (``None``: off)."""
    from reglab.techniques import get, is_builtin

    cls = get(key)
    name = cls.params[0].name if param is None else param
    if is_builtin(cls):
        values = cls.values_of(strategy)  # type: ignore[attr-defined]
        return None if values is None else values.get(name)
    config = next((c for c in strategy.techniques if c.key == key), None)
    return None if config is None else config.values.get(name)


def schedule_problems(strategy: Strategy, who: str) -> list[str]:
    """Why ``strategy``'s schedules are invalid (one line each), or nothing."""
    from reglab.techniques import get, keys

    problems: list[str] = []
    seen: set[str] = set()
    for pair_key, text in strategy.schedules:
        key, param = split_key(pair_key)
        if key not in keys():
            problems.append(f"{who}: `schedules` must name techniques; got {pair_key!r}.")
            continue
        if pair_key in seen:
            problems.append(f"{who}: `{pair_key}` must have one schedule; got it twice.")
            continue
        seen.add(pair_key)
        cls = get(key)
        names = [q.name for q in cls.params]
        if param is not None and param not in names:
            problems.append(
                f"{who}: `{key}@PARAM=…` must name one of its parameters "
                f"({', '.join(names) or 'none'}); got {param!r}."
            )
            continue
        try:
            schedule = Schedule.parse(text, f"{who}: {pair_key}")
        except Exception as err:
            problems.append(str(err))
            continue
        if not cls.can_schedule():
            problems.append(
                f"{who}: `{key}` must be constant (its strength cannot follow a schedule); "
                f"got @{'' if param is None else param + '='}{schedule.text()}."
            )
            continue
        q = cls.params[0] if param is None else cls.params[names.index(param)]
        if q.name not in cls.scheduled_params():
            allowed = ", ".join(cls.scheduled_params())
            problems.append(
                f"{who}: `{key}` parameter `{q.name}` must be constant (a count or an epoch; "
                f"schedulable: {allowed}); got @{q.name}={schedule.text()}."
            )
            continue
        value = _value_of(strategy, key, param)
        label = key if param is None else f"{key}@{param}="
        off = q.off if param is None else 0.0  # another parameter: 0 stays 0 on any schedule
        if value is None or all(v == off for v in _seq(value)):
            what = f"{key} off" if value is None or param is None else f"{q.name} at 0"
            problems.append(
                f"{who}: `{label}{'' if param else '@'}{schedule.text()}` must schedule a "
                f"strength that is on; got {what}."
            )
            continue
        if schedule.adaptive and cls.inverse_param(q.name):
            problems.append(
                f"{who}: `{label}{'' if param else '@'}adaptive` must be a strength that "
                f"regularizes more when it grows; {key if param is None else q.name} is a bound "
                "(use warmup, cosine or step)."
            )
            continue
        bounded = q.maximum != float("inf")
        if schedule.kind == "step" and schedule.factor_ > 1 and bounded:
            problems.append(
                f"{who}: `{label}{'' if param else '@'}step` must have a factor F ≤ 1 for a "
                f"value bounded by {q.maximum:g}; got {schedule.factor_:g}."
            )
        if schedule.adaptive and bounded and schedule.cap >= q.maximum:
            problems.append(
                f"{who}: `{label}{'' if param else '@'}adaptive` must have CAP < "
                f"{q.maximum:g}; got {schedule.cap:g}."
            )
    return problems


def _seq(value: Any) -> tuple[float, ...]:
    return value if isinstance(value, tuple) else (value,)


def is_adaptive(strategy: Strategy) -> bool:
    """Whether a strength of ``strategy`` depends on the member's curves."""
    return any(Schedule.parse(text).adaptive for _, text in strategy.schedules)


def in_effect(
    strategy: Strategy,
    epoch: int,
    epochs: int,
    curves: Mapping[str, Sequence[float]] | None = None,
) -> Strategy:
    """``strategy`` in epoch ``epoch`` (from 1) of a run of ``epochs``: every scheduled
    strength at its value then, and no schedules. A strategy without schedules is returned
    as it is."""
    if not strategy.schedules:
        return strategy
    from reglab.techniques import get, is_builtin

    changes: dict[str, Any] = {}
    configs = list(strategy.techniques)
    for pair_key, text in strategy.schedules:
        schedule = Schedule.parse(text)
        key, param = split_key(pair_key)
        cls = get(key)
        name = cls.params[0].name if param is None else param
        inverse = cls.inverse_param(name)

        def now(v: float, schedule: Schedule = schedule, inverse: bool = inverse) -> float:
            return schedule.value(v, epoch, epochs, curves, inverse=inverse)

        if is_builtin(cls):
            values = dict(cls.values_of(strategy))  # type: ignore[attr-defined]
            value = values[name]
            values[name] = tuple(now(v) for v in value) if isinstance(value, tuple) else now(value)
            changes.update(cls.to_fields(values))  # type: ignore[attr-defined]
            continue
        for i, config in enumerate(configs):
            if config.key == key:
                params = tuple((n, now(v) if n == name else v) for n, v in config.params)
                configs[i] = dataclasses.replace(config, params=params)
    return dataclasses.replace(strategy, **changes, techniques=tuple(configs), schedules=())


def member_in_effect(
    member: MemberSpec, epoch: int, curves: Mapping[str, Sequence[float]] | None = None
) -> MemberSpec:
    """``member`` with its strategy :func:`in_effect` in ``epoch`` of its own run."""
    if not member.strategy.schedules:
        return member
    effective = in_effect(member.strategy, epoch, member.train.epochs, curves)
    return dataclasses.replace(member, strategy=effective)


def values_in_effect(strategy: Strategy, effective: Strategy) -> dict[str, float]:
    """The scheduled strengths of ``strategy`` as ``effective`` has them, by curve name:
    ``strength:KEY`` (``strength:KEY[i]`` for layer ``i`` of a per-layer strength;
    ``strength:KEY.PARAM`` for a parameter other than the first)."""
    out: dict[str, float] = {}
    for pair_key, _ in strategy.schedules:
        value = _value_of(effective, *split_key(pair_key))
        if isinstance(value, tuple):
            for i, v in enumerate(value):
                out[f"{CURVE_PREFIX}{pair_key}[{i}]"] = float(v)
        else:
            out[f"{CURVE_PREFIX}{pair_key}"] = float(0.0 if value is None else value)
    return out


class Strengths:
    """The members of one stack and their strengths in effect, epoch by epoch.

    ``scheduled`` is false when no member has a schedule: the engine then never rebuilds a
    stack's coefficients, so constant strategies cost nothing per epoch or step.
    """

    def __init__(self, members: Sequence[MemberSpec]) -> None:
        self.members = list(members)
        self.scheduled = any(m.strategy.schedules for m in self.members)
        self.adaptive = any(is_adaptive(m.strategy) for m in self.members)

    def at(
        self, epoch: int, curves: Sequence[Mapping[str, Sequence[float]]] | None = None
    ) -> list[MemberSpec]:
        """Every member in epoch ``epoch``; ``curves``: each member's curves so far (needed
        by adaptive schedules)."""
        if curves is None:
            return [member_in_effect(m, epoch) for m in self.members]
        return [member_in_effect(m, epoch, c) for m, c in zip(self.members, curves, strict=True)]

    def values(self, slot: int, effective: MemberSpec) -> dict[str, float]:
        """The scheduled values of the member at ``slot`` as ``effective`` has them."""
        return values_in_effect(self.members[slot].strategy, effective.strategy)

    def select(self, keep: Sequence[int]) -> None:
        """Keep only the members at positions ``keep``."""
        self.members = [self.members[i] for i in keep]


def check_strategy(strategy: Strategy, n_hidden: int, *, validation: bool, who: str) -> None:
    """Refuse, in one line, per-layer strengths whose count does not match ``n_hidden`` hidden
    layers and an adaptive strength without validation rows (it would never move)."""
    from reglab.engine.spec import LAYER_FIELDS

    for name in LAYER_FIELDS:
        if isinstance(getattr(strategy, name), tuple):
            strategy.layer_values(name, n_hidden)
    if not validation and is_adaptive(strategy):
        raise ConfigError(
            f"{who}: strategy {strategy.name!r} must have validation rows for its adaptive "
            "strength, which follows the train–validation gap; got early stopping off (turn it "
            "on, or use a warmup, cosine or step schedule)."
        )
