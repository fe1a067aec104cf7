"""The search space of ``reglab tune``: which techniques, which strengths, in which ranges.

A space is read from the technique registry (:mod:`reglab.techniques`): each technique named
in ``--strategy`` contributes one dimension per :class:`~reglab.techniques.Param`, with the
parameter's ``low``/``high`` range and its ``log``/``linear`` scale. ``--range KEY=LO:HI``
narrows or widens a dimension (``KEY`` is the technique, for its first parameter, or
``technique.param``), within the parameter's valid values.

``cocktail`` is every registered technique at once (but those that opt out with
``in_cocktail = False``: ``pgd``, whose steps cost ``K`` extra passes, and the ``adv-alpha``
modifier; and, on regression data, those that act on classification only): each gets an on/off
switch (``KEY:on``), and its strengths are asked only when it is on (conditional parameters).
Techniques that set the same :class:`~reglab.engine.spec.Strategy` field exclude each other:
the later one in canonical order is not asked when an earlier one is on (``elasticnet`` is
asked before ``l1`` and ``l2``, ``dropout`` before ``gaussian-dropout``; one technique that
reparametrizes the weights at most: ``learned-dropout`` before ``sparse-vd``). A technique that
requires another (``shake-drop`` needs ``residual``) is asked only when that one is on, and one
that acts on other model families than a technique already on is not asked (``sparse-vd``,
MLP only, and ``residual``).

A technique named with a schedule (``dropout@cosine``, :mod:`reglab.techniques.schedule`)
trains on it with its strength searched; alternatives separated by ``|`` are searched as a
categorical parameter named ``KEY@`` (``dropout@constant|cosine|warmup:5``; ``constant`` means
no schedule).

A trial's strengths are rounded to three significant digits before training, so the
strategy a trial trains is exactly the grammar text that reports it (``dropout=0.312+l2=4.1e-5``)
and ``reglab fit --strategy`` retrains it bit for bit.

>>> space = parse_space("dropout+l2", "dropout=0:0.6")
>>> [(d.name, d.low, d.high, d.log) for d in space.dims]
[('dropout', 0.0, 0.6, False), ('l2', 1e-06, 0.01, True)]
>>> round_strength(0.000123456), round_strength(0.31249)
(0.000123, 0.312)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reglab._numbers import NUMBER, format_number
from reglab._validation import Problems, message, suggest
from reglab.engine.spec import Strategy
from reglab.errors import ConfigError
from reglab.techniques import TechniqueConfig, builtins, get, keys
from reglab.techniques.base import Param

__all__ = ["COCKTAIL", "Dimension", "SearchSpace", "parse_space", "round_strength"]

COCKTAIL = "cocktail"
"""``--strategy cocktail``: every registered technique, each with an on/off switch."""

WHO = "tune"


def round_strength(value: float) -> float:
    """``value`` to three significant digits (what a trial trains and reports)."""
    return float(f"{value:.3g}")


@dataclass(frozen=True)
class Dimension:
    """One searched parameter.

    Attributes:
        technique: The registry key.
        param: The parameter's name.
        low, high: The range searched (inclusive).
        log: Sampled on a log scale.
        source: ``"registry"`` (the technique's :class:`Param` range) or ``"--range"``.
        first: Whether it is the technique's first parameter (named by the key alone).
    """

    technique: str
    param: str
    low: float
    high: float
    log: bool
    source: str = "registry"
    first: bool = True

    @property
    def spec(self) -> Param:
        """The technique's :class:`~reglab.techniques.Param` this dimension searches."""
        return next(q for q in get(self.technique).params if q.name == self.param)

    @property
    def name(self) -> str:
        """The Optuna parameter name: ``l2``, or ``elasticnet.l1_ratio``."""
        return self.technique if self.first else f"{self.technique}.{self.param}"

    def at_edge(self, value: float, fraction: float = 0.05) -> str | None:
        """``"low"``/``"high"`` when ``value`` lies in the outer ``fraction`` of the range
        (measured on the dimension's scale), else ``None``."""
        if self.log:
            lo, hi, v = math.log(self.low), math.log(self.high), math.log(max(value, self.low))
        else:
            lo, hi, v = self.low, self.high, value
        width = hi - lo
        if width <= 0:
            return None
        if v <= lo + fraction * width:
            return "low"
        if v >= hi - fraction * width:
            return "high"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "technique": self.technique,
            "param": self.param,
            "low": self.low,
            "high": self.high,
            "scale": "log" if self.log else "linear",
            "source": self.source,
        }


@dataclass(frozen=True)
class SearchSpace:
    """The techniques searched, their dimensions, and whether each is switched (cocktail)."""

    text: str
    techniques: tuple[str, ...]
    dims: tuple[Dimension, ...]
    switches: bool = False
    schedules: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Per technique key, its schedule (one) or the schedules searched (several)."""

    def dim(self, technique: str, param: str) -> Dimension:
        return next(d for d in self.dims if d.technique == technique and d.param == param)

    def suggest(self, trial: Any) -> tuple[Strategy, dict[str, float]]:
        """Ask ``trial`` (an Optuna trial) for every parameter; the strategy it trains and the
        rounded strengths by dimension name."""
        configs: list[TechniqueConfig] = []
        values: dict[str, float] = {}
        taken: set[str] = set()
        allowed: set[str] | None = None  # the model families the trial's techniques allow
        for key in self.techniques:
            cls = get(key)
            fields = set(getattr(cls, "fields", ())) or {key}
            if cls.acts_on == "parametrization":  # one reparametrization of the weights at most
                fields = {"parametrization"}
            if self.switches:
                if fields & taken:  # an earlier technique sets the same field
                    continue
                if not cls.batch_norm and "batch_norm" in taken:  # swa: not with batch norm
                    continue
                if any(f"technique:{r}" not in taken for r in cls.requires):  # shake-drop
                    continue
                if cls.families and allowed is not None and not set(cls.families) & allowed:
                    continue  # residual blocks and sparse-vd exclude each other
                if not trial.suggest_categorical(f"{key}:on", [False, True]):
                    continue
            taken |= fields | {f"technique:{key}"}
            if cls.families:
                allowed = set(cls.families) if allowed is None else allowed & set(cls.families)
            params: list[tuple[str, float]] = []
            for q in cls.params:
                d = self.dim(key, q.name)
                if q.integer:  # whole numbers only (an epoch)
                    low, high = math.ceil(d.low), math.floor(d.high)
                    v = float(trial.suggest_int(d.name, low, high, log=d.log))
                else:
                    v = round_strength(trial.suggest_float(d.name, d.low, d.high, log=d.log))
                params.append((q.name, v))
                values[d.name] = v
            configs.append(TechniqueConfig(key, tuple(params)))
        pairs = self._schedules(trial, {c.key for c in configs})
        strategy = Strategy(name="trial", techniques=tuple(configs), schedules=pairs)
        from reglab.study.strategies import strategy_to_text

        return dataclasses.replace(strategy, name=strategy_to_text(strategy)), values

    def _schedules(self, trial: Any, used: set[str]) -> tuple[tuple[str, str], ...]:
        """The trial's schedules: the fixed ones, and a choice where several are searched."""
        pairs: list[tuple[str, str]] = []
        for key, choices in self.schedules:
            if key not in used:
                continue
            choice = (
                choices[0]
                if len(choices) == 1
                else trial.suggest_categorical(f"{key}@", list(choices))
            )
            if choice != "constant":
                pairs += [(k, choice) for k in (("l1", "l2") if key == "elasticnet" else (key,))]
        return tuple(pairs)

    def for_task(self, task: str, family: str = "mlp") -> SearchSpace:
        """The cocktail without the techniques that do not act on ``task`` (label smoothing
        on regression) or on the model ``family`` (spatial dropout on an MLP; an MLP keeps
        ``residual`` and ``shake-drop``, which build its residual form); a space named
        technique by technique is kept as it is."""
        if not self.switches:
            return self

        builds = (family, "residual-mlp") if family == "mlp" else (family,)

        def fits(key: str) -> bool:  # an mlp study switches residual blocks on and off
            cls = get(key)
            return (not cls.tasks or task in cls.tasks) and (
                not cls.families or bool(set(builds) & set(cls.families))
            )

        techs = tuple(k for k in self.techniques if fits(k))
        dims = tuple(d for d in self.dims if d.technique in techs)
        return SearchSpace(self.text, techs, dims, self.switches, self.schedules)

    def within_epochs(self, epochs: int) -> SearchSpace:
        """The space with every epoch parameter (``swa``'s start) searched below ``epochs``,
        the study's training length: a start after the last epoch would train nothing new."""
        dims = []
        for d in self.dims:
            if d.spec.epoch and d.high >= epochs:
                high = float(max(1, epochs - 1))
                d = dataclasses.replace(d, low=min(d.low, high), high=high)
            dims.append(d)
        return SearchSpace(self.text, self.techniques, tuple(dims), self.switches, self.schedules)

    def grid(self, points: int) -> dict[str, list[Any]]:
        """A grid of ``points`` values per dimension (log- or evenly spaced), for Optuna's
        grid sampler; searched schedules add their alternatives."""
        import numpy as np

        out: dict[str, list[Any]] = {
            f"{key}@": list(choices) for key, choices in self.schedules if len(choices) > 1
        }
        for d in self.dims:
            if d.log:
                axis = np.geomspace(d.low, d.high, points)
            else:
                axis = np.linspace(d.low, d.high, points)
            whole = d.spec.integer
            out[d.name] = sorted({float(round(v)) if whole else round_strength(float(v))
                                  for v in axis})  # fmt: skip
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.text,
            "techniques": list(self.techniques),
            "switches": self.switches,
            "dims": [d.to_dict() for d in self.dims],
            **({"schedules": {k: list(c) for k, c in self.schedules}} if self.schedules else {}),
        }


def _split_schedules(text: str, p: Problems) -> tuple[str, dict[str, tuple[str, ...]]]:
    """``dropout@cosine+l2`` → ``("dropout+l2", {"dropout": ("cosine",)})``; each schedule in
    canonical text (``constant`` for none), alternatives separated by ``|``."""
    from reglab.techniques.schedule import Schedule

    if not isinstance(text, str) or "@" not in text:
        return text, {}
    kept, schedules = [], {}
    for raw in text.split("+"):
        term, at, rest = raw.partition("@")
        kept.append(term)
        if not at:
            continue
        choices = []
        for alternative in rest.split("|"):
            alt = alternative.strip().lower()
            if alt == "constant":
                choices.append(alt)
                continue
            try:
                choices.append(Schedule.parse(alt, f"{WHO}: `strategy` {raw.strip()!r}").text())
            except ConfigError as err:
                p.add(str(err))
        key = term.strip().lower().replace("_", "-")
        schedules[key] = tuple(dict.fromkeys(choices))
    return "+".join(kept), schedules


def _technique_keys(text: str, p: Problems) -> tuple[tuple[str, ...], bool]:
    from reglab.study.strategies import ALIASES

    if not isinstance(text, str) or not text.strip():
        p.add(message(WHO, "strategy", "techniques joined by '+', or 'cocktail'", text))
        return (), False
    if text.strip().lower() == COCKTAIL:
        ordered = [c.key for c in builtins()]
        ordered += sorted(k for k in keys() if k not in ordered and get(k).in_cocktail)
        return tuple(ordered), True
    found: list[str] = []
    for raw in text.split("+"):
        term = raw.strip().lower().replace("_", "-")
        term = ALIASES.get(term, term)
        if "=" in term:
            p.add(
                message(WHO, "strategy", "technique names without values (tune searches the "
                        "strengths; set a range with --range KEY=LO:HI)", raw.strip())
            )  # fmt: skip
            continue
        if term not in keys():
            p.add(
                message(WHO, "strategy", "registered techniques joined by '+' or 'cocktail'", raw)
                + suggest(term, [*keys(), COCKTAIL])
            )
            continue
        if term in found:
            p.add(message(WHO, "strategy", "each technique once", text))
            continue
        found.append(term)
    order = {c.key: c.order for c in builtins()}
    return tuple(sorted(found, key=lambda k: (order.get(k, get(k).order), k))), False


def _ranges(text: str | Mapping[str, Any] | None, p: Problems) -> dict[str, tuple[float, float]]:
    """``"dropout=0:0.6,l2=1e-6:1e-2"`` (or a mapping to ``(lo, hi)``) → ``{name: (lo, hi)}``."""
    if text is None or text == "":
        return {}
    if isinstance(text, Mapping):
        items = [(str(k), v) for k, v in text.items()]
    else:
        items = []
        for part in str(text).split(","):
            name, eq, rest = part.partition("=")
            if not eq:
                p.add(message(WHO, "range", "KEY=LO:HI, e.g. dropout=0:0.6", part.strip()))
                continue
            items.append((name.strip(), rest.strip()))
    out: dict[str, tuple[float, float]] = {}
    for name, raw in items:
        if isinstance(raw, str):
            lo_text, colon, hi_text = raw.partition(":")
            if not (colon and NUMBER.fullmatch(lo_text) and NUMBER.fullmatch(hi_text)):
                p.add(message(WHO, f"range {name}", "LO:HI with two numbers", raw))
                continue
            lo, hi = float(lo_text), float(hi_text)
        elif isinstance(raw, tuple | list) and len(raw) == 2:
            lo, hi = float(raw[0]), float(raw[1])
        else:
            p.add(message(WHO, f"range {name}", "(low, high)", raw))
            continue
        out[name.lower().replace("_", "-") if "." not in name else name.lower()] = (lo, hi)
    return out


def _dimension(key: str, q: Param, first: bool, given: tuple[float, float] | None,
               p: Problems) -> Dimension:  # fmt: skip
    if given is None:
        return Dimension(key, q.name, q.low, q.high, q.scale == "log", "registry", first)
    lo, hi = given
    name = key if first else f"{key}.{q.name}"
    who = f"range {name}"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        p.add(message(WHO, who, "finite bounds", f"{lo:g}:{hi:g}"))
    elif lo >= hi:
        what = "empty" if lo == hi else "inverted"
        p.add(message(WHO, who, "LO < HI", f"{format_number(lo)}:{format_number(hi)} ({what})"))
    elif q.scale == "log" and lo <= 0:
        p.add(message(WHO, who, f"LO > 0 ({name} is searched on a log scale)", lo))
    elif lo < q.minimum or hi > q.maximum or (hi == q.maximum and q.maximum != math.inf):
        upper = "" if q.maximum == math.inf else f", below {q.maximum:g}"
        p.add(message(WHO, who, f"bounds within [{q.minimum:g}{upper}]", f"{lo:g}:{hi:g}"))
    return Dimension(key, q.name, lo, hi, q.scale == "log", "--range", first)


def parse_space(strategy: str, ranges: str | Mapping[str, Any] | None = None) -> SearchSpace:
    """The search space of ``strategy`` (techniques joined by ``+``, or ``cocktail``), with
    ``ranges`` overriding the registry's.

    A switch named beside techniques with strengths (``residual+shake-drop``) is on in every
    trial.

    Raises:
        ConfigError: An unknown technique, only techniques without parameters outside cocktail,
            a malformed, empty or inverted range, a range outside the parameter's valid
            values, or a range for a technique not searched (every problem in one message).
    """
    p = Problems()
    strategy, scheduled = _split_schedules(strategy, p)
    techs, switches = _technique_keys(strategy, p)
    given = _ranges(ranges, p)
    for key in scheduled:
        if key in techs and key != "elasticnet" and not get(key).can_schedule():
            p.add(message(WHO, "strategy", f"schedules of strengths that may follow one ({key} "
                          "is constant)", f"{key}@"))  # fmt: skip
    dims: list[Dimension] = []
    names: set[str] = set()
    if techs and not switches and not any(get(k).params for k in techs):
        p.add(
            message(WHO, "strategy", "techniques with a strength (a switch such as "
                    f"{techs[0]!r} stays on beside them, and is searched in 'cocktail')",
                    strategy)
        )  # fmt: skip
    for key in techs:
        cls = get(key)
        for i, q in enumerate(cls.params):
            name = key if i == 0 else f"{key}.{q.name}"
            names.add(name)
            dims.append(_dimension(key, q, i == 0, given.get(name), p))
    for name in given:
        if name not in names:
            p.add(
                message(WHO, "range", "a searched parameter (" + ", ".join(sorted(names)) + ")",
                        name) + suggest(name, names)
            )  # fmt: skip
    p.raise_if_any()
    if not techs:
        raise ConfigError(message(WHO, "strategy", "at least one technique", strategy))
    order = tuple((k, scheduled[k]) for k in techs if k in scheduled)
    at = {k: "@" + "|".join(c) for k, c in order}
    text = COCKTAIL if switches else "+".join(k + at.get(k, "") for k in techs)
    return SearchSpace(text, techs, tuple(dims), switches, order)
