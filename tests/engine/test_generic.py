"""The generic (autograd) backend: equal to the fused path, independent members, techniques.

Both paths draw the built-in noise from the same :class:`~reglab.engine.streams.MemberStreams`
plan, so the injected noise is the same and noisy techniques are compared for equality too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from reglab.engine import MemberResult, train_members
from reglab.errors import ConfigError
from reglab.study.strategies import parse_strategy

from .conftest import data_for, member

FUSED_TECHNIQUES = [
    ("none", {}),
    ("l2", {"l2": 1e-2}),
    ("l1", {"l1": 1e-3}),
    ("l1-l2-all", {"l1": 1e-3, "l2": 1e-2, "penalty_layers": "all"}),
    ("dropout", {"dropout": 0.3}),
    ("dropout-per-layer", {"dropout": (0.2, 0.5)}),
    ("input-dropout", {"input_dropout": 0.2}),
    ("gaussian-dropout", {"dropout": 0.3, "dropout_kind": "gaussian"}),
    ("dropconnect", {"drop_connect": 0.3}),
    ("maxnorm", {"max_norm": 0.5}),
    ("weight-decay", {"weight_decay": 1e-2}),
    ("proximal", {"l1": 1e-2, "l1_mode": "proximal"}),
    ("per-layer", {"l2": (1e-2, 1e-3), "drop_connect": (0.1, 0.3), "max_norm": (0.5, 1.0, 2.0)}),
    (
        "scheduled",
        {
            "l1": (1e-3, 1e-2),
            "dropout": 0.3,
            "max_norm": 0.5,
            "schedules": (("dropout", "cosine"), ("l1", "warmup:2"), ("maxnorm", "step:1:0.5")),
        },
    ),
]


def _weights(result: MemberResult) -> dict[str, np.ndarray]:
    assert result.status == "ok", result.error
    return result.weights


@pytest.mark.parametrize(
    ("label", "strategy"), FUSED_TECHNIQUES, ids=[label for label, _ in FUSED_TECHNIQUES]
)
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_fused_equals_generic_after_three_epochs(
    label: str, strategy: dict[str, Any], optimizer: str
) -> None:
    specs = [
        member(seed=s, train={"optimizer": optimizer, "epochs": 3}, **strategy) for s in range(2)
    ]
    data = data_for("multiclass")
    fused = train_members(specs, data, device="cpu", backend="fused")
    generic = train_members(specs, data, device="cpu", backend="generic")
    for a, b in zip(fused, generic, strict=True):
        wa, wb = _weights(a), _weights(b)
        for name in wa:
            np.testing.assert_allclose(wb[name], wa[name], rtol=0, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(b.curves["train_loss"], a.curves["train_loss"], rtol=1e-5)
        np.testing.assert_allclose(b.curves["penalty"], a.curves["penalty"], rtol=1e-4)


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_fused_equals_generic_on_other_tasks(task: str) -> None:
    specs = [member(task=task, seed=s, l2=1e-2, dropout=0.2) for s in range(2)]
    data = data_for(task)
    fused = train_members(specs, data, device="cpu", backend="fused")
    generic = train_members(specs, data, device="cpu", backend="generic")
    for a, b in zip(fused, generic, strict=True):
        for name, w in _weights(a).items():
            np.testing.assert_allclose(_weights(b)[name], w, rtol=0, atol=1e-5, err_msg=name)


def test_batchnorm_trains_on_the_generic_backend() -> None:
    spec = member(arch={"batch_norm": True}, batch_norm=True)
    data = data_for("multiclass")
    (fused,) = train_members([spec], data, device="cpu", backend="fused")
    (generic,) = train_members([spec], data, device="cpu", backend="generic")
    # A hidden bias before batch norm has a zero gradient in exact arithmetic: Adam scales its
    # rounding noise up to full steps on either path, and batch norm removes it again. Every
    # other weight (the running means follow the biases), and the predictions, agree.
    for name, w in _weights(fused).items():
        if (name.startswith("dense") and name.endswith(".bias")) or "running_mean" in name:
            continue
        np.testing.assert_allclose(_weights(generic)[name], w, rtol=0, atol=1e-4, err_msg=name)
    # Eval uses the running means, which lag the drifting biases: predictions agree to 1e-3.
    np.testing.assert_allclose(generic.test_pred, fused.test_pred, rtol=0, atol=5e-3)


def _tech(text: str, **kw: Any) -> Any:
    s = parse_strategy(text)
    fields = {k: v for k, v in s.to_dict().items() if k not in ("name", "techniques")}
    spec = member(**kw, **fields)
    strategy = type(spec.strategy)(**fields, name=s.name, techniques=s.techniques)
    return type(spec)(**{**spec.__dict__, "strategy": strategy})


def _assert_identical(a: MemberResult, b: MemberResult) -> None:
    assert a.key == b.key and (a.status, a.epochs_run) == (b.status, b.epochs_run)
    for name in a.curves:
        assert np.array_equal(a.curves[name], b.curves[name], equal_nan=True), name
    for name in a.weights:
        assert np.array_equal(a.weights[name], b.weights[name]), name
    assert np.array_equal(a.test_pred, b.test_pred)


def test_generic_member_is_bit_identical_alone_and_stacked() -> None:
    specs = [
        _tech("activity-l2=1e-2", seed=0),
        _tech("dropout=0.3+activity-l1=1e-3", seed=1),
        _tech("none", seed=2),
        _tech("l2=1e-3+dropconnect=0.2+maxnorm=1", seed=3),
        _tech("gaussian-dropout=0.2+activity-l2=1e-3", seed=4, split_seed=1),
    ]
    data = data_for("multiclass")
    stacked = train_members(specs, data, device="cpu", backend="generic")
    for i, spec in enumerate(specs):
        (alone,) = train_members([spec], data, device="cpu", backend="generic")
        _assert_identical(alone, stacked[i])
    pair = train_members([specs[3], specs[0]], data, device="cpu", backend="generic")
    _assert_identical(pair[0], stacked[3])
    _assert_identical(pair[1], stacked[0])


def test_auto_trains_registry_techniques_apart_so_fused_members_are_unchanged() -> None:
    data = data_for("multiclass")
    plain = member(seed=2, l2=1e-3)
    (alone,) = train_members([plain], data, device="cpu")
    mixed = train_members([_tech("activity-l2=1e-2", seed=0), plain], data, device="cpu")
    _assert_identical(alone, mixed[1])
    assert mixed[0].curves["penalty"][0] > 0


def test_backend_is_checked() -> None:
    data = data_for("multiclass")
    with pytest.raises(ConfigError, match="`backend` must be one of 'auto', 'fused', 'generic'"):
        train_members([member()], data, device="cpu", backend="torch")
    with pytest.raises(ConfigError, match=r"got 'fused' with activity-l2=0.01"):
        train_members([_tech("activity-l2=1e-2")], data, device="cpu", backend="fused")


def test_activity_penalty_shrinks_hidden_activity() -> None:
    data = data_for("multiclass")
    specs = [
        _tech("none", train={"epochs": 20}),
        _tech("activity-l2=0.1", train={"epochs": 20}),
    ]
    none, act = train_members(specs, data, device="cpu")
    assert act.curves["penalty"][0] > 0 and none.curves["penalty"][0] == 0
    assert act.curves["penalty"][-1] < act.curves["penalty"][0]
