"""Argument checks of :func:`~reglab.engine.train_members`: every problem in one message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from reglab._device import resolve_device
from reglab._validation import Problems, check_int, check_nonnegative, message
from reglab.engine.plan import check_budget
from reglab.engine.spec import MemberSpec
from reglab.engine.streams import batch_pattern
from reglab.errors import ConfigError

__all__ = ["WHO", "resolve_device", "task_problem", "validate"]

WHO = "train_members"


def validate(
    members: Sequence[MemberSpec], data: Any, memory_budget_mb: Any, num_threads: Any
) -> None:
    """Check the arguments of ``train_members``; raise one :class:`ConfigError` for all."""
    p = Problems()
    p.check(check_budget, memory_budget_mb)
    if num_threads is not None:
        p.check(check_int, WHO, "num_threads", num_threads, minimum=1)
    if not isinstance(data, Mapping):
        p.add(message(WHO, "data", "a mapping split_id -> (X, y)", type(data).__name__))
        p.raise_if_any()
    for i, member in enumerate(members):
        if not isinstance(member, MemberSpec):
            p.add(message(WHO, f"members[{i}]", "a MemberSpec", type(member).__name__))
            continue
        if member.split_id not in data:
            p.add(
                message(
                    WHO,
                    f"members[{i}].split_id",
                    f"one of the data's splits {sorted(data)}",
                    member.split_id,
                )
            )
            continue
        _validate_member(p, i, member, data[member.split_id])
    p.raise_if_any()


def task_problem(strategy: Any, task: str, who: str) -> str | None:
    """Why ``strategy`` cannot train on ``task`` (a technique declares other ``tasks``:
    ``label-smoothing`` on regression), or ``None``."""
    from reglab.techniques import get

    for config in strategy.techniques:
        tasks = get(config.key).tasks
        if tasks and task not in tasks:
            return (
                f"{who}: `{config.key}` acts on {' or '.join(tasks)} targets only; got it in "
                f"strategy {strategy.name!r} on a {task} target."
            )
    return None


def _layer_problems(p: Problems, i: int, member: MemberSpec, family: str) -> None:
    """Per-layer strengths (``l2=1e-3/1e-4``): one value per layer they act on; beside
    dropout, only on multilayer perceptrons."""
    from reglab.engine.spec import LAYER_FIELDS
    from reglab.errors import ConfigError

    s = member.strategy
    if s.schedules and len(member.val_idx) == 0:
        from reglab.engine.strengths import is_adaptive

        if is_adaptive(s):
            p.add(
                message(
                    WHO, f"members[{i}].val_idx",
                    "validation rows for an adaptive strength (it follows the train–validation "
                    "gap; turn early stopping on)", "none",
                )
            )  # fmt: skip
    for name in LAYER_FIELDS:
        if not isinstance(getattr(s, name), tuple) or name == "dropout":
            continue
        if family not in ("mlp", "skip-mlp"):
            p.add(
                message(
                    WHO, f"members[{i}].strategy",
                    f"one `{name}` value for every layer on a {family!r} member", s.name,
                )
            )  # fmt: skip
            continue
        try:
            s.layer_values(name, len(member.arch.hidden))
        except ConfigError as err:
            p.add(f"{WHO}: members[{i}]: {err}")


def _validate_member(p: Problems, i: int, member: MemberSpec, pair: Any) -> None:
    from reglab.engine.family import family_of
    from reglab.techniques import get

    family = family_of(member.arch).name
    _layer_problems(p, i, member, family)
    for problem in family_of(member.arch).problems(member):
        p.add(
            message(
                WHO,
                f"members[{i}].strategy",
                f"free of {problem} on a {family!r} member",
                member.strategy.name,
            )
        )
    clash = task_problem(member.strategy, member.arch.task, f"{WHO}: members[{i}].strategy")
    if clash is not None:
        p.add(clash)
    shaping = [c.key for c in member.strategy.techniques if get(c.key).acts_on == "parametrization"]
    if len(shaping) > 1:
        p.add(
            message(
                WHO,
                f"members[{i}].strategy",
                "at most one technique that reparametrizes the weights; got " + ", ".join(shaping),
                member.strategy.name,
            )
        )
    for config in member.strategy.techniques:
        run = get(config.key).run_problem(
            config.values, member.train.epochs, batch_pattern(member)[0]
        )
        if run is not None:
            p.add(f"{WHO}: members[{i}].strategy {member.strategy.name!r}: {run}")
        if member.robust_eps and not get(config.key).attackable:
            p.add(
                message(
                    WHO, f"members[{i}].robust_eps", f"0 with `{config.key}` (the attack runs "
                    "on one set of weights)", member.robust_eps
                )
            )  # fmt: skip
        if member.arch.batch_norm and not get(config.key).batch_norm:
            p.add(
                message(
                    WHO, f"members[{i}].strategy", f"free of `{config.key}` with batch norm",
                    member.strategy.name,
                )
            )  # fmt: skip
        families = get(config.key).families
        if families and family not in families:
            p.add(
                message(
                    WHO,
                    f"members[{i}].strategy",
                    f"free of `{config.key}`, which acts on {' or '.join(families)} members "
                    f"only (this member is {family!r})",
                    member.strategy.name,
                )
            )
    warm = member.warm_start
    if warm is not None:
        if warm.weights is None:
            p.add(message(WHO, f"members[{i}].warm_start.weights",
                          "the source member's weights", None))  # fmt: skip
        else:
            from reglab.engine.parametrize import parametrized

            try:
                parametrized(family_of(member.arch).layout(member.arch), member.strategy).flatten(
                    warm.weights
                )
            except ConfigError as e:
                p.add(f"{WHO}: members[{i}].warm_start: {e}")
    nf = member.numeric_features
    if nf is not None:
        p.check(check_int, WHO, f"members[{i}].numeric_features", nf, minimum=0)
        if isinstance(nf, int) and nf > member.arch.in_features:
            p.add(
                message(
                    WHO,
                    f"members[{i}].numeric_features",
                    f"at most arch.in_features ({member.arch.in_features})",
                    nf,
                )
            )
    if member.robust_eps:
        p.check(check_nonnegative, WHO, f"members[{i}].robust_eps", member.robust_eps)
        p.check(check_int, WHO, f"members[{i}].robust_steps", member.robust_steps, minimum=1)
        if member.arch.task == "regression":
            p.add(
                message(
                    WHO, f"members[{i}].robust_eps", "0 for regression (robust accuracy is "
                    "a classification score)", member.robust_eps
                )
            )  # fmt: skip
    try:
        x, y = pair
    except (TypeError, ValueError):
        p.add(message(WHO, f"data[{member.split_id}]", "a pair (X, y)", type(pair).__name__))
        return
    x, y = np.asarray(x), np.asarray(y)
    arch = member.arch
    if x.ndim != 2 or x.shape[1] != arch.in_features:
        p.add(
            message(
                WHO,
                f"data[{member.split_id}] X",
                f"a 2-D array with {arch.in_features} columns (arch.in_features)",
                x.shape,
            )
        )
        return
    if y.shape != (len(x),):
        p.add(
            message(WHO, f"data[{member.split_id}] y", f"a 1-D array of {len(x)} values", y.shape)
        )
        return
    if arch.task != "regression":
        classes = 2 if arch.task == "binary" else arch.out_features
        if arch.task == "binary" and arch.out_features != 1:
            p.add(
                message(
                    WHO, f"members[{i}].arch.out_features", "1 for a binary task", arch.out_features
                )
            )
        if not np.issubdtype(y.dtype, np.integer) or (
            len(y) and (y.min() < 0 or y.max() >= classes)
        ):
            got = f"{y.dtype} in [{y.min()}, {y.max()}]" if len(y) else y.dtype
            p.add(
                message(
                    WHO,
                    f"data[{member.split_id}] y",
                    f"integer class ids in [0, {classes}) for task {arch.task!r}",
                    got,
                )
            )
    elif arch.out_features != 1:
        p.add(
            message(WHO, f"members[{i}].arch.out_features", "1 for regression", arch.out_features)
        )
    for name in ("train_idx", "val_idx", "test_idx"):
        idx = np.asarray(getattr(member, name))
        if idx.ndim != 1 or (len(idx) and not np.issubdtype(idx.dtype, np.integer)):
            p.add(message(WHO, f"members[{i}].{name}", "a 1-D integer array", idx.dtype))
        elif len(idx) and (idx.min() < 0 or idx.max() >= len(x)):
            p.add(
                message(
                    WHO,
                    f"members[{i}].{name}",
                    f"row numbers in [0, {len(x)})",
                    f"[{idx.min()}, {idx.max()}]",
                )
            )
    if len(member.train_idx) == 0:
        p.add(message(WHO, f"members[{i}].train_idx", "non-empty", "an empty array"))
    if member.train.early_stopping and len(member.val_idx) == 0:
        expected = f"non-empty when early stopping is on (patience={member.train.patience})"
        p.add(message(WHO, f"members[{i}].val_idx", expected, "an empty array"))
