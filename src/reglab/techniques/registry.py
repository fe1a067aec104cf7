"""The technique registry: one :class:`~reglab.techniques.base.Technique` subclass per key.

The strategy grammar, strategy labels and the engine's generic backend look techniques up
here, so registering a class is all it takes to make ``key=value`` a strategy term.

>>> from reglab.techniques import get, keys
>>> "activity-l2" in keys(), get("activity-l2").acts_on
(True, 'penalty')
"""

from __future__ import annotations

from reglab._validation import message, suggest
from reglab.errors import ConfigError
from reglab.techniques.base import ACTS_ON, Technique, TechniqueConfig

__all__ = ["build", "get", "keys", "register", "unregister"]

_REGISTRY: dict[str, type[Technique]] = {}


def register(cls: type[Technique], *, replace: bool = False) -> type[Technique]:
    """Register a technique class under its ``key`` (usable as a class decorator).

    Raises:
        ConfigError: When the key is malformed or taken (unless ``replace``), or the class
            declares an unknown ``acts_on`` or no parameters.
    """
    who = f"register({cls.__name__})"
    if not isinstance(cls, type) or not issubclass(cls, Technique):
        raise ConfigError(message("register", "cls", "a Technique subclass", cls))
    key = cls.key
    if not key or key != key.strip().lower() or any(c in key for c in "=+,:/ _"):
        raise ConfigError(message(who, "key", "a lower-case name such as 'act-noise'", key))
    if cls.acts_on not in ACTS_ON:
        raise ConfigError(message(who, "acts_on", "one of " + ", ".join(ACTS_ON), cls.acts_on))
    if not cls.params and not getattr(cls, "flag", False):
        raise ConfigError(message(who, "params", "at least one Param", cls.params))
    if key in _REGISTRY and _REGISTRY[key] is not cls and not replace:
        raise ConfigError(
            f"{who}: `key` must be free; got {key!r}, taken by {_REGISTRY[key].__name__}."
        )
    _REGISTRY[key] = cls
    return cls


def unregister(key: str) -> None:
    """Remove a technique (tests that register their own)."""
    _REGISTRY.pop(key, None)


def keys() -> tuple[str, ...]:
    """Every registered key."""
    return tuple(_REGISTRY)


def get(key: str) -> type[Technique]:
    """The technique class registered under ``key``."""
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ConfigError(
            message("techniques", "key", "a registered technique", key) + suggest(key, _REGISTRY)
        ) from None


def build(config: TechniqueConfig) -> Technique:
    """The technique instance of a strategy's configuration (validated)."""
    return get(config.key).from_config(config.values)
