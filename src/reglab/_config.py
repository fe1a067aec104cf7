"""Serializable configs: ``get_config()`` / ``from_config()`` and a registry by name.

A configurable class stores each ``__init__`` argument under the same attribute name, so its
config can be derived from its signature. Subclassing :class:`Configurable` registers the class
under ``registry_name`` (the class name unless set), and :func:`deserialize` rebuilds any
registered object from ``{"class_name": ..., "config": {...}}``, nested objects included.

>>> from reglab._config import Configurable, serialize, deserialize
>>> class Scale(Configurable):
...     def __init__(self, factor: float = 1.0) -> None:
...         self.factor = factor
>>> deserialize(serialize(Scale(2.0))).factor
2.0
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar, TypeVar

from reglab._validation import message, suggest
from reglab.errors import ConfigError

__all__ = ["REGISTRY", "Configurable", "as_instance", "deserialize", "get_class", "serialize"]

REGISTRY: dict[str, type[Configurable]] = {}

T = TypeVar("T", bound="Configurable")


class Configurable:
    """Mixin giving ``get_config``/``from_config`` from the ``__init__`` signature."""

    registry_name: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("registry_name") or cls.__name__
        if not name.startswith("_"):
            REGISTRY[name] = cls

    @classmethod
    def _init_params(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_config(self) -> dict[str, Any]:
        """The ``__init__`` arguments that rebuild this object (nested configurables serialized)."""
        return {name: _to_json(getattr(self, name)) for name in self._init_params()}

    @classmethod
    def from_config(cls: type[T], config: dict[str, Any]) -> T:
        """Rebuild an object from :meth:`get_config`'s output."""
        unknown = sorted(set(config) - set(cls._init_params()))
        if unknown:
            raise ConfigError(
                f"{cls.__name__}: unknown config keys {unknown}; "
                f"expected some of {cls._init_params()}."
            )
        return cls(**{k: _from_json(v) for k, v in config.items()})

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        parts = []
        for name in self._init_params():
            value = getattr(self, name)
            default = sig.parameters[name].default
            if default is inspect.Parameter.empty or value != default:
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _to_json(value: Any) -> Any:
    if isinstance(value, Configurable):
        return serialize(value)
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"class_name", "config"}:
        return deserialize(value)
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    return value


def get_class(name: str) -> type[Configurable]:
    """The registered class called ``name`` (with a did-you-mean when unknown)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"reglab: unknown class name {name!r}." + suggest(name, REGISTRY)
        ) from None


def serialize(obj: Configurable) -> dict[str, Any]:
    """``{"class_name": name, "config": obj.get_config()}``."""
    name = type(obj).__dict__.get("registry_name") or type(obj).__name__
    return {"class_name": name, "config": obj.get_config()}


def deserialize(data: dict[str, Any]) -> Any:
    """Rebuild a registered object from :func:`serialize`'s output."""
    return get_class(data["class_name"]).from_config(data["config"])


def as_instance(value: Any, cls: type[T], who: str, param: str, expected: str) -> T | None:
    """``None``, an instance of ``cls``, or a serialized one (``{"class_name", "config"}``).

    For layer arguments such as ``kernel_regularizer=``; anything else raises the standard
    message with ``expected``.
    """
    if value is None or isinstance(value, cls):
        return value
    if isinstance(value, dict) and set(value) == {"class_name", "config"}:
        obj = deserialize(value)
        if isinstance(obj, cls):
            return obj
    raise ConfigError(message(who, param, expected, value))
