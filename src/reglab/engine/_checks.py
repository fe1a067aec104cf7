"""Argument checks of :func:`~reglab.engine.train_members`: every problem in one message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from reglab._device import resolve_device
from reglab._validation import Problems, check_int, message
from reglab.engine.plan import check_budget
from reglab.engine.spec import MemberSpec
from reglab.errors import ConfigError

__all__ = ["WHO", "resolve_device", "validate"]

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
    if p.messages:
        raise ConfigError(" ".join(p.messages))


def _validate_member(p: Problems, i: int, member: MemberSpec, pair: Any) -> None:
    from reglab.engine.family import family_of
    from reglab.techniques import get

    family = family_of(member.arch).name
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
