"""Every registered configurable class round-trips through JSON.

get_config -> serialize -> json.dumps -> json.loads -> deserialize gives an object of the same
class whose config is equal. The test runs over ``reglab._config.REGISTRY`` after importing the
packages that define configurable classes, so a newly registered class is checked
automatically. A class is built from ``EXAMPLES`` below, else from its own
``config_example()`` classmethod when it has one, else with no arguments.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from reglab._config import REGISTRY, Configurable, deserialize, get_class, serialize
from reglab.errors import ConfigError

pytest.importorskip("reglab.regularizers")
pytest.importorskip("reglab.layers")
pytest.importorskip("reglab.training")
for _optional in ("reglab.engine", "reglab.study", "reglab.data", "reglab.stats", "reglab.store"):
    with contextlib.suppress(ImportError):  # not written yet
        importlib.import_module(_optional)


def _regularizers() -> Any:
    return importlib.import_module("reglab.regularizers")


def _examples() -> dict[str, list[Callable[[], Configurable]]]:
    """Non-default instances (the default one is always tried when it can be built)."""
    r = _regularizers()
    return {
        "L1": [lambda: r.L1(0.25, mode="proximal")],
        "L2": [lambda: r.L2(1e-3)],
        "L1L2": [lambda: r.L1L2(l1=1e-4, l2=2e-3, mode="proximal")],
        "ElasticNet": [lambda: r.ElasticNet(alpha=0.3, l1_ratio=0.9, mode="proximal")],
        "MaxNorm": [lambda: r.MaxNorm(3.5)],
        "MinMaxNorm": [lambda: r.MinMaxNorm(0.5, 2.0, rate=0.5)],
        "Dense": [
            lambda: get_class("Dense")(3, 2),
            lambda: get_class("Dense")(
                4,
                5,
                activation="relu",
                kernel_regularizer=r.L1L2(l1=0.01, l2=0.02),
                bias_regularizer=r.L2(0.1),
                activity_regularizer=r.L1(1e-3),
                kernel_constraint=r.MaxNorm(2.0),
                bias_constraint=r.NonNeg(),
            ),
        ],
        "DropConnectLinear": [lambda: get_class("DropConnectLinear")(3, 2, p=0.25)],
        "MLP": [
            lambda: get_class("MLP")(3, 2),
            lambda: get_class("MLP")(
                3,
                2,
                hidden=(4, 4),
                dropout=(0.1, 0.2),
                kernel_regularizer=r.ElasticNet(0.01, 0.5),
                kernel_constraint=r.MaxNorm(3.0),
            ),
        ],
    }


def _has_defaults(cls: type[Configurable]) -> bool:
    import inspect

    sig = inspect.signature(cls.__init__)
    return all(
        p.default is not p.empty
        for p in sig.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )


def _instances(name: str, cls: type[Configurable]) -> list[Configurable]:
    out = [make() for make in _examples().get(name, [])]
    hook = getattr(cls, "config_example", None)
    if callable(hook):
        out.append(hook())
    if _has_defaults(cls):
        out.append(cls())
    return out


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, allow_nan=False))


CLASSES = sorted(REGISTRY.items())


def test_registry_holds_the_library_classes() -> None:
    expected = {"L1", "L2", "L1L2", "ElasticNet", "MaxNorm", "UnitNorm", "MinMaxNorm", "NonNeg"}
    assert expected <= set(REGISTRY)
    assert "_Regularizer" not in REGISTRY and "_Constraint" not in REGISTRY  # abstract bases


@pytest.mark.parametrize(("name", "cls"), CLASSES, ids=[name for name, _ in CLASSES])
def test_round_trip_through_json(name: str, cls: type[Configurable]) -> None:
    objects = _instances(name, cls)
    if not objects:
        pytest.fail(
            f"{name}: give every __init__ argument a default, add a `config_example()` "
            "classmethod, or add an example to tests/contracts/test_configs.py."
        )
    for obj in objects:
        assert type(obj) is cls
        config = obj.get_config()
        text = json.dumps(serialize(obj), allow_nan=False)  # plain JSON: no objects, no NaN
        rebuilt = deserialize(json.loads(text))
        assert type(rebuilt) is cls
        assert _json(rebuilt.get_config()) == _json(config)
        direct = cls.from_config(_json(config))
        assert _json(direct.get_config()) == _json(config)


@pytest.mark.parametrize(("name", "cls"), CLASSES, ids=[name for name, _ in CLASSES])
def test_registered_under_its_name(name: str, cls: type[Configurable]) -> None:
    assert get_class(name) is cls
    objects = _instances(name, cls)
    if objects:
        assert serialize(objects[0])["class_name"] == name


@pytest.mark.parametrize(("name", "cls"), CLASSES, ids=[name for name, _ in CLASSES])
def test_unknown_config_key_is_rejected(name: str, cls: type[Configurable]) -> None:
    objects = _instances(name, cls)
    if not objects:
        pytest.skip("no instance (reported by test_round_trip_through_json)")
    config = {**_json(objects[0].get_config()), "not_a_parameter": 1}
    with pytest.raises(ConfigError, match=r"unknown config keys \['not_a_parameter'\]"):
        cls.from_config(config)


def test_unknown_class_name_suggests_the_close_one() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown class name 'MaxNrom'\. Did you mean 'MaxNorm'\?"
    ):
        deserialize({"class_name": "MaxNrom", "config": {}})
