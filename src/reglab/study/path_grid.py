"""Which strengths a path tries: the techniques it can vary and the grid syntax.

A path varies one technique (:data:`TECHNIQUES`; registered one-parameter techniques too).
Its grid is ``lo:hi:n`` (``n`` strengths, log-spaced for penalties and max-norm, evenly
spaced for rates) or a comma list; a strength of 0 means the technique is off, i.e. ``none``.

>>> parse_grid("l2", "1e-4:1e-2:3"), parse_grid("dropout", "0:0.6:4")
((0.0001, 0.001, 0.01), (0.0, 0.2, 0.4, 0.6))
>>> path_technique("max-norm").stronger
'smaller'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reglab._validation import suggest
from reglab.errors import ConfigError

__all__ = [
    "FLAGS",
    "MAX_GRID",
    "TECHNIQUES",
    "PathTechnique",
    "parse_grid",
    "path_technique",
    "problem",
]

MAX_GRID = 200
"""The most strengths a grid may hold (each is one strategy × every split)."""

FLAGS = {"technique": "--technique", "grid": "--grid", "l1_ratio": "--l1-ratio",
         "proximal": "--proximal", "metric": "--metric", "warm_start": "--warm-start",
         "warm_epochs": "--warm-epochs"}  # fmt: skip
"""The command-line flag of each of a path's own parameters."""


def problem(param: str, expected: str, got: Any) -> str:
    """The one-line message for a bad path parameter, naming its Python name and flag.

    >>> problem("grid", "at least 2 strengths", "1e-3")
    "path: `grid` (--grid) must be at least 2 strengths; got '1e-3'."
    """
    return f"path: `{param}` ({FLAGS.get(param, '--' + param)}) must be {expected}; got {got!r}."


@dataclass(frozen=True)
class PathTechnique:
    """A technique a path can vary, and how its strength reads.

    Attributes:
        key: The name after ``--technique`` (the grammar key).
        label: How sentences name it.
        scale: ``"log"`` (penalties, max-norm) or ``"linear"`` (rates): how ``lo:hi:n`` is
            spaced and how the figure's strength axis is drawn.
        stronger: ``"larger"`` or ``"smaller"``: which way regularizes more.
        default_grid: The grid used when none is given.
        minimum, maximum: Valid strengths; ``maximum_open`` excludes ``maximum`` (a rate < 1).
        zero_is_none: Whether strength 0 means the technique is off (then it is ``none``).
        features: Whether the path counts surviving input features (L1-like techniques).
    """

    key: str
    label: str
    scale: str
    stronger: str
    default_grid: str
    minimum: float = 0.0
    maximum: float = math.inf
    maximum_open: bool = False
    zero_is_none: bool = True
    features: bool = False

    @property
    def valid(self) -> str:
        """The valid strengths, in words."""
        if not self.zero_is_none:
            return "> 0"
        if self.maximum_open:
            return f"in [{self.minimum:g}, {self.maximum:g})"
        if math.isinf(self.maximum):
            return f">= {self.minimum:g}"
        return f"in [{self.minimum:g}, {self.maximum:g}]"

    def accepts(self, value: float) -> bool:
        if not math.isfinite(value) or value < self.minimum:
            return False
        if value == 0:
            return self.zero_is_none
        return value < self.maximum if self.maximum_open else value <= self.maximum

    def to_dict(self) -> dict[str, Any]:
        return {"technique": self.key, "label": self.label, "scale": self.scale,
                "stronger": self.stronger, "features": self.features}  # fmt: skip


def _rate(key: str, label: str, grid: str = "0:0.7:8") -> PathTechnique:
    return PathTechnique(key, label, "linear", "larger", grid, 0.0, 1.0, maximum_open=True)


TECHNIQUES: Mapping[str, PathTechnique] = {
    t.key: t
    for t in (
        PathTechnique("l1", "L1 penalty", "log", "larger", "1e-6:1e-2:9", features=True),
        PathTechnique("l2", "L2 penalty", "log", "larger", "1e-6:1e-1:11"),
        PathTechnique(
            "elasticnet", "elastic-net alpha", "log", "larger", "1e-6:1e-1:11", features=True
        ),
        PathTechnique("weight-decay", "weight decay", "log", "larger", "1e-5:1:11"),
        _rate("dropout", "dropout rate"),
        _rate("gaussian-dropout", "Gaussian dropout rate"),
        _rate("input-dropout", "input dropout rate", "0:0.5:6"),
        _rate("dropconnect", "DropConnect rate"),
        PathTechnique(
            "maxnorm", "max-norm bound c", "log", "smaller", "0.25:16:7", zero_is_none=False
        ),
    )
}
"""The built-in techniques a path can vary. Registered one-parameter techniques
(:mod:`reglab.techniques`, e.g. ``activity-l2``) work too, on their declared range and scale."""

_ALIASES = {"en": "elasticnet", "elastic-net": "elasticnet", "max-norm": "maxnorm",
            "drop-connect": "dropconnect", "adamw": "weight-decay"}  # fmt: skip


def path_technique(key: Any) -> PathTechnique:
    """The :class:`PathTechnique` named ``key`` (aliases accepted), or a one-line error."""
    name = key.strip().lower().replace("_", "-") if isinstance(key, str) else key
    name = _ALIASES.get(name, name)
    if name in TECHNIQUES:
        return TECHNIQUES[name]
    registered: dict[str, Any] = {}
    if isinstance(name, str):
        from reglab import techniques  # torch: only for names that are not built in

        registered = {k: techniques.get(k) for k in techniques.keys()}  # noqa: SIM118
    if name in registered and registered[name].params:  # the first parameter is the strength
        param = registered[name].params[0]
        grid = f"{param.low:g}:{param.high:g}:9"
        return PathTechnique(
            name, registered[name].label or name, param.scale, "larger", grid,
            param.minimum, param.maximum, zero_is_none=param.off == 0,
            features=registered[name].sparsifies_inputs,
        )  # fmt: skip
    one = [k for k, cls in registered.items() if cls.params]
    known = [*TECHNIQUES, *one]
    raise ConfigError(
        problem("technique", "one of " + ", ".join(known), key) + suggest(str(name), known)
    )


# -- grids --------------------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _rounded(values: np.ndarray, scale: str) -> tuple[float, ...]:
    """Grid values with as few significant digits as keep them apart (at least 3), so that
    strategy names read ``l2=3.16e-4``, not ``l2=3.1622776601683794e-4``."""
    if scale == "linear":
        return tuple(float(f"{v:.12g}") + 0.0 for v in values)
    for digits in range(3, 18):
        out = tuple(float(f"{v:.{digits - 1}e}") for v in values)
        if len(set(out)) == len(out):
            return out
    return tuple(float(v) for v in values)


def parse_grid(technique: str | PathTechnique, grid: Any = None) -> tuple[float, ...]:
    """The strengths of a grid, sorted ascending; every problem is one line naming ``grid``.

    ``grid`` is ``"lo:hi:n"`` (``n`` strengths from ``lo`` to ``hi``: log-spaced for a
    log-scaled technique, so ``lo > 0``, evenly spaced for a rate), a comma list
    (``"0,1e-4,1e-3"``), a sequence of numbers, or ``None`` for the technique's default.
    Log-spaced values are rounded to the fewest significant digits (at least 3) that keep them
    distinct; ``lo`` and ``hi`` are kept exactly.

    >>> parse_grid("l2", "1e-6:1e-1:6")
    (1e-06, 1e-05, 0.0001, 0.001, 0.01, 0.1)
    >>> parse_grid("l2", "1e-4:1e-3:3")
    (0.0001, 0.000316, 0.001)
    >>> parse_grid("maxnorm", "4,1,2")
    (1.0, 2.0, 4.0)
    >>> parse_grid("dropout", "0:1:5")
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: path: `grid` (--grid) must be dropout rates in [0, 1); got 1.0.
    """
    tech = technique if isinstance(technique, PathTechnique) else path_technique(technique)
    spec = tech.default_grid if grid is None else grid

    def bad(expected: str, got: Any) -> ConfigError:
        return ConfigError(problem("grid", expected, got))

    form = (
        f"LO:HI:N ({'log' if tech.scale == 'log' else 'evenly'}-spaced) or a comma list, "
        "such as " + tech.default_grid
    )
    if isinstance(spec, str):
        text = spec.strip()
        if ":" in text:
            pieces = [p.strip() for p in text.split(":")]
            if len(pieces) != 3 or not all(_NUMBER.fullmatch(p) for p in pieces[:2]):
                raise bad(form, spec)
            if not re.fullmatch(r"\+?\d+", pieces[2]):
                raise bad(f"{form}, with N a whole number of strengths", spec)
            lo, hi, n = float(pieces[0]), float(pieces[1]), int(pieces[2])
            if n < 2 or n > MAX_GRID:
                raise bad(f"a range of 2 to {MAX_GRID} strengths (N in LO:HI:N)", spec)
            if not lo < hi:
                raise bad("a range LO:HI:N with LO < HI", spec)
            if tech.scale == "log" and lo <= 0:
                raise bad(
                    f"a log-spaced range LO:HI:N with LO > 0 ({tech.key} {tech.valid}; "
                    "none, strength 0, is always trained)",
                    spec,
                )
            raw = np.geomspace(lo, hi, n) if tech.scale == "log" else np.linspace(lo, hi, n)
            values = list(_rounded(raw, tech.scale))
            values[0], values[-1] = lo, hi
        else:
            pieces = [p.strip() for p in text.split(",")]
            if not all(_NUMBER.fullmatch(p) for p in pieces):
                raise bad(form, spec)
            values = [float(p) for p in pieces]
    elif isinstance(spec, Sequence) and all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in spec
    ):
        values = [float(v) for v in spec]
    else:
        raise bad(form, spec)
    if len(values) > MAX_GRID:
        raise bad(f"at most {MAX_GRID} strengths", f"{len(values)} strengths")
    outside = [v for v in values if not tech.accepts(v)]
    if outside:
        what = "rates" if tech.scale == "linear" else "strengths"
        raise bad(f"{tech.key} {what} {tech.valid}", outside[0])
    if len(set(values)) != len(values):
        twice = next(v for v in values if values.count(v) > 1)
        raise bad("distinct strengths", f"{twice:g} twice")
    if len(values) < 2:
        raise bad("at least 2 strengths", spec)
    return tuple(sorted(values))
