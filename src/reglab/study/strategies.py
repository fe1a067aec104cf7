"""Strategies by name: presets, the compact command-line grammar and strategy files.

A strategy is a :class:`~reglab.engine.spec.Strategy`: per-member strengths with Keras semantics
(``l1·Σ|w| + l2·Σw²`` added to the batch-mean data loss). This module turns what a practitioner
types into strategies.

**Grammar.** Strategies are separated by commas; a strategy is *terms* joined by ``+``; a term is
a preset name (:data:`PRESETS`, e.g. ``dropout``, ``l2``, ``batchnorm``), the flag ``proximal``,
or ``name=value``:

=====================  ====================================================================
term                   sets
=====================  ====================================================================
``l1=1e-4``            ``l1`` (Keras: ``l1·Σ|w|``)
``l2=1e-4``            ``l2`` (Keras: ``l2·Σw²``, no ½)
``elasticnet=A:R``     scikit-learn ``alpha=A, l1_ratio=R``: ``l1 = A·R``, ``l2 = ½·A·(1−R)``
``dropout=0.3``        dropout after every hidden block; ``dropout=0.2/0.5``: one per block
``gaussian-dropout=p`` multiplicative noise N(1, p/(1−p)) at the dropout places
``input-dropout=0.1``  dropout on the input features
``dropconnect=0.3``    DropConnect on hidden-layer weights
``maxnorm=3``          max-norm constraint on every unit's incoming weights
``weight-decay=1e-2``  decoupled (AdamW) weight decay, never mixed into ``l2``
``lr=3e-3``            learning rate for this strategy
``proximal``           ``l1_mode="proximal"`` (soft-threshold: exact zeros); ``l1-mode=...``
``penalty-layers=X``   which kernels carry l1/l2: ``hidden`` (default), ``all``, ``first``
``KEY=V`` / ``KEY=V:W`` a registered technique (:mod:`reglab.techniques`), its parameters in
                       order: ``activity-l1=1e-4``, ``activity-l2=1e-4``
``sparse-vd``          sparse variational dropout; ``sparse-vd=T:W`` prunes at ``log α > T``
                       (3) after a KL warm-up of ``W`` epochs (10)
``learned-dropout``    Gaussian dropout with learned α per unit; ``=A`` from α = A, ``=A:1``
                       one α per layer
=====================  ====================================================================

A preset term fills its defaults and explicit values override them (``dropout+dropout=0.5``);
one parameter given twice explicitly, or by two presets, is an error. Names are
case-insensitive and ``_`` reads as ``-`` (``max_norm=3``). A strategy's name is its canonical
text: aliases resolved, numbers shortest (``0.0001`` → ``1e-4``), terms in a fixed order, so
``l2+dropout`` is named ``dropout+l2``.

**Files** (:func:`load_strategy_file`) give full control with the :class:`Strategy` fields.

>>> [s.name for s in parse_strategies("none, l2+dropout, dropout=0.2/0.5+l2=0.0001")]
['none', 'dropout+l2', 'dropout=0.2/0.5+l2=1e-4']
>>> parse_strategy("elasticnet=1e-3:0.5+proximal").l1_mode
'proximal'
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import yaml

from reglab import techniques
from reglab._numbers import NUMBER, format_number
from reglab._validation import (
    Problems,
    check_choice,
    message,
    suggest,
)
from reglab.engine.spec import L1_MODES, LAYER_FIELDS, PENALTY_LAYERS, Strategy
from reglab.engine.strengths import schedule_suffixes
from reglab.errors import ConfigError
from reglab.techniques import TechniqueConfig
from reglab.techniques.schedule import Schedule

__all__ = [
    "ALIASES",
    "DEFAULT_PRESETS",
    "PRESETS",
    "Preset",
    "describe",
    "format_number",
    "is_combination",
    "load_strategy_file",
    "parse_strategies",
    "parse_strategy",
    "parts",
    "preset",
    "resolve_strategies",
    "strategy_to_text",
]

FIELDS = tuple(
    f.name
    for f in dataclasses.fields(Strategy)
    if f.name not in ("name", "techniques", "schedules")
)
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Strategy)}


# ---------------------------------------------------------------------------------- presets
@dataclass(frozen=True)
class Preset:
    """A named strategy with practitioner defaults and a one-line description."""

    name: str
    description: str
    strategy: Strategy

    @property
    def settings(self) -> dict[str, Any]:
        """The :class:`Strategy` fields this preset sets (those differing from the defaults,
        and its registry techniques)."""
        out = {k: getattr(self.strategy, k) for k in FIELDS if _differs(self.strategy, k)}
        if self.strategy.techniques:
            out["techniques"] = self.strategy.techniques
        if self.strategy.schedules:
            out["schedules"] = self.strategy.schedules
        return out


def _differs(s: Strategy, field: str) -> bool:
    value = getattr(s, field)
    return isinstance(value, tuple) or value != _DEFAULTS[field]


_NONE = "No regularization: the baseline every strategy is compared with."


def _make(name: str, description: str, *combine: str, **fields: Any) -> Preset:
    for part in combine:
        fields.update(_PRESET_LIST[part].settings)
    return Preset(name, description, Strategy(name=name, **fields))


_PRESET_LIST: dict[str, Preset] = {"none": _make("none", _NONE)}
for _cls in techniques.builtins():  # each built-in technique declares its preset
    if _cls.preset is not None:
        _desc, _values = _cls.preset
        _PRESET_LIST[_cls.key] = _make(_cls.key, _desc, **_cls.to_fields(_values))
for _name, _desc in (
    ("dropout+l1", "Dropout 0.3 with L1 1e-4."),
    ("dropout+l2", "Dropout 0.3 with L2 1e-4."),
    ("dropout+elasticnet", "Dropout 0.3 with elastic net (L1 5e-5 + L2 5e-5)."),
    ("dropout+maxnorm", "Dropout 0.3 with max-norm 3, as in Srivastava et al. (2014)."),
    ("batchnorm+dropout", "Batch normalization with dropout 0.3."),
):
    _PRESET_LIST[_name] = _make(_name, _desc, *_name.split("+"))
# RealMLP-TD's defaults as far as they are regularizers reglab expresses (docs/tune.md lists
# what it does not: the flat-cosine schedules, label smoothing, Adam's beta2 = 0.95, ...).
_PRESET_LIST["realmlp"] = _make(
    "realmlp",
    "RealMLP-TD's regularizers (Holzmüller et al. 2024): dropout 0.15, weight decay 2e-2.",
    dropout=0.15,
    weight_decay=2e-2,
)

for _key, _desc in (
    ("sparse-vd", "Sparse variational dropout (Molchanov et al. 2017): prune at log α > 3."),
    (
        "learned-dropout",
        "Gaussian dropout with α learned per unit (Kingma et al. 2015), from 0.25.",
    ),
):
    _registered = techniques.get(_key)
    _config = _registered(**dict(_registered.defaults or {})).config()
    _PRESET_LIST[_key] = Preset(_key, _desc, Strategy(name=_key, techniques=(_config,)))

# An automated strength: dropout that rises while the train–validation gap grows.
_PRESET_LIST["auto-dropout"] = Preset(
    "auto-dropout",
    "Dropout 0.1, +0.05 (up to 0.5) after each epoch whose train–validation gap grew.",
    Strategy(name="auto-dropout", dropout=0.1, schedules=(("dropout", "adaptive"),)),
)

_ORDERED = (
    "none", "l1", "l2", "elasticnet", "dropout", "dropout+l1", "dropout+l2", "dropout+elasticnet",
    "maxnorm", "dropout+maxnorm", "batchnorm", "batchnorm+dropout", "dropconnect",
    "gaussian-dropout", "weight-decay", "realmlp", "sparse-vd", "learned-dropout", "auto-dropout",
)  # fmt: skip
PRESETS: Mapping[str, Preset] = MappingProxyType({n: _PRESET_LIST[n] for n in _ORDERED})
"""Every preset by name, in the order practitioners meet them."""

ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "baseline": "none",
        "en": "elasticnet",
        "elastic-net": "elasticnet",
        "max-norm": "maxnorm",
        "batch-norm": "batchnorm",
        "bn": "batchnorm",
        "drop-connect": "dropconnect",
        "adamw": "weight-decay",
    }
)
"""Other names accepted for presets and parameters (after lower-casing and ``_`` → ``-``)."""

DEFAULT_PRESETS: tuple[str, ...] = (
    "none", "l1", "l2", "elasticnet", "dropout", "maxnorm", "batchnorm",
    "dropout+l1", "dropout+l2", "dropout+maxnorm",
)  # fmt: skip
"""What ``reglab bench`` runs without ``--strategies``: the baseline, each main technique alone,
and the three classic combinations, whose parts are all present so every combination gets its
verdicts. Ten strategies keep a 5-fold study at 50 members."""


def preset(name: str) -> Strategy:
    """The strategy of a preset (aliases accepted), named by the preset.

    >>> preset("dropout+l2")
    Strategy(name='dropout+l2', l1=0.0, l2=0.0001, ..., dropout=0.3, ...)
    """
    key = _normalize(name) if isinstance(name, str) else name
    key = ALIASES.get(key, key)
    if key not in PRESETS:
        raise ConfigError(
            message("preset", "name", "a preset name", name)
            + suggest(str(key), [*PRESETS, *ALIASES])
        )
    return PRESETS[key].strategy


# ---------------------------------------------------------------------------------- numbers
def _number(who: str, param: str, text: str) -> float:
    if not NUMBER.fullmatch(text.strip()):
        raise ConfigError(message(who, param, "a number such as 1e-4", text))
    return float(text)


def _rates(who: str, param: str, text: str) -> float | tuple[float, ...]:
    values = tuple(_number(who, param, v) for v in text.split("/"))
    return values if len(values) > 1 else values[0]


# ---------------------------------------------------------------------------------- terms
class _Term(NamedTuple):
    text: str  # canonical
    order: int
    explicit: bool  # name=value or a flag (presets only fill defaults)
    fields: dict[str, Any]
    role: str  # "technique", "modifier" or "none"


# Modifiers: options of how techniques train, not techniques; name → order in canonical text.
_MODIFIERS: dict[str, int] = {"proximal": 70, "l1-mode": 70, "penalty-layers": 75, "lr": 100}
_BUILTIN = {cls.key: cls for cls in techniques.builtins()}
_PARAMS: dict[str, tuple[int, str]] = dict(
    sorted(
        [
            *((key, (cls.order, "technique")) for key, cls in _BUILTIN.items()),
            *((key, (order, "modifier")) for key, order in _MODIFIERS.items()),
        ],
        key=lambda item: item[1][0],
    )
)
_VALUED = [n for n in _PARAMS if n != "proximal" and not getattr(_BUILTIN.get(n), "flag", False)]
_PARAM_ALIASES = {**ALIASES, "learning-rate": "lr"}


def _normalize(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _bare_terms() -> list[str]:
    """Every term the grammar reads without a value, as :func:`_term` accepts them: the presets
    (but combinations), ``proximal``, and the registered techniques that are switches or have
    defaults (``residual``, ``lookahead``)."""
    names = [n for n in PRESETS if "+" not in n]
    for key in ("proximal", *techniques.keys()):
        cls = techniques.get(key) if key != "proximal" else None
        if cls is None or key in _BUILTIN:
            bare = cls is None or getattr(cls, "flag", False)
        else:
            bare = not cls.params or cls.defaults is not None
        if bare and key not in names:
            names.append(key)
    return names


def _valued_terms() -> list[str]:
    """Every NAME of a ``NAME=VALUE`` term, as :func:`_term` accepts them, in canonical order."""
    registered = techniques.keys()
    names = [*_VALUED, *(k for k in registered if k not in _PARAMS and techniques.get(k).params)]
    order = {k: _PARAMS[k][0] if k in _PARAMS else techniques.get(k).order for k in names}
    return sorted(names, key=order.__getitem__)


def _builtin_values(who: str, cls: type[techniques.BuiltinTechnique], raw: str) -> dict[str, Any]:
    """A built-in technique's parameter values from ``v[:w…]`` (``v1/v2`` per layer)."""
    names = [q.name for q in cls.params]
    pieces = raw.split(":")
    if len(pieces) != len(names):
        expected = ":".join(n.upper() for n in names)
        if cls.key == "elasticnet":
            expected = "ALPHA:L1_RATIO such as 1e-3:0.5"
        raise ConfigError(message(who, cls.key, expected, raw))
    values: dict[str, Any] = {}
    p = Problems()
    for i, (q, piece) in enumerate(zip(cls.params, pieces, strict=True)):
        value = (
            _rates(who, cls.key, piece)
            if cls.per_layer and i == 0
            else _number(who, cls.key, piece)
        )
        if cls.zero_hint and value == q.off:
            raise ConfigError(message(who, cls.key, cls.zero_hint, raw))
        for v in value if isinstance(value, tuple) else (value,):
            if len(names) > 1:
                problem = q.check(who, v)
                if problem is not None:
                    p.add(problem)
        values[q.name] = value
    p.raise_if_any()
    return values


def _value_term(who: str, key: str, raw: str) -> tuple[dict[str, Any], str]:
    """Fields set by ``key=raw`` and the term's canonical value text."""
    cls = _BUILTIN.get(key)
    if cls is not None:
        values = _builtin_values(who, cls, raw)
        return cls.to_fields(values), cls.text(values).partition("=")[2]
    if key == "lr":
        value = _number(who, key, raw)
        return {"lr": value}, format_number(value)
    choices = L1_MODES if key == "l1-mode" else PENALTY_LAYERS
    choice = check_choice(who, key, _normalize(raw), choices)
    return {key.replace("-", "_"): choice}, choice


def _technique_term(who: str, key: str, eq: str, raw: str) -> _Term:
    """A registry technique's term ``key=v[:w…]`` (parameters in the technique's order)."""
    cls = techniques.get(key)
    if not cls.params:  # a switch without a value (``residual``)
        if eq:
            raise ConfigError(message(who, key, "given without a value", f"{key}={raw}"))
        config = TechniqueConfig(key, ())
        return _Term(key, cls.order, True, {"techniques": (config,)}, "technique")
    if not eq and cls.defaults is not None:  # the bare key: the technique's defaults
        raw = ":".join(format_number(cls.defaults[q.name]) for q in cls.params)
    elif not eq:
        raise ConfigError(message(who, key, f"given a value, as {key}=VALUE", key))
    names = [q.name for q in cls.params]
    pieces = raw.split(":")
    if not 1 <= len(pieces) <= len(names):
        expected = ":".join(n.upper() for n in names)
        raise ConfigError(message(who, key, f"{len(names)} value(s), as {key}={expected}", raw))
    values = {n: _number(who, key, v) for n, v in zip(names, pieces, strict=False)}
    fill = cls.defaults or {}
    values.update({q.name: fill.get(q.name, q.off) for q in cls.params[len(pieces) :]})
    try:
        technique = cls(**values)
    except ConfigError as err:
        raise ConfigError(f"{who}: {err}") from None
    if technique.off and cls.defaults is not None:  # a switch: off is leaving the term out
        raise ConfigError(
            message(who, key, "a value that turns it on (leave it out for none)", raw)
        )
    text = _technique_text(technique.config())
    return _Term(text, cls.order, True, {"techniques": (technique.config(),)}, "technique")


def _technique_text(config: TechniqueConfig) -> str:
    """``key=v[:w…]``, trailing parameters at their default (else "off") value left out; the
    bare key when every value is the technique's default."""
    cls = techniques.get(config.key)
    if cls.defaults is not None and dict(config.params) == dict(cls.defaults):
        return config.key
    offs = [(cls.defaults or {}).get(q.name, q.off) for q in cls.params]
    values = [v for _, v in config.params]
    while len(values) > 1 and values[-1] == offs[len(values) - 1]:
        values.pop()
    return f"{config.key}=" + ":".join(format_number(v) for v in values)


def _scheduled(who: str, body: str, schedule_text: str) -> _Term:
    """``TERM@SCHEDULE[@PARAM=SCHEDULE…]``: the term's strength(s) on a schedule; a clause
    ``PARAM=SCHEDULE`` schedules a registry technique's parameter by name."""
    term = _term(who, body)
    keys = _scheduled_keys(term)
    if not keys:
        raise ConfigError(
            message(who, "@", "after a technique's term (such as l2=1e-4@warmup:10)", body)
        )
    cls = techniques.get(term.text.partition("=")[0]) if len(keys) == 1 else None
    names = [q.name for q in cls.params] if cls is not None else []
    pairs: list[tuple[str, str]] = []
    for clause in schedule_text.split("@"):
        name, eq, text = clause.partition("=")
        param = _normalize(name).replace("-", "_") if eq else None
        if param is not None and names and param == names[0]:
            param = None  # the first parameter is what a bare clause schedules
        if param is not None and param not in names:
            key = term.text.partition("=")[0]
            expected = (
                f"name one of its parameters ({', '.join(names)})"
                if names
                else f"be a bare schedule (its one strength sets {' and '.join(keys)})"
            )
            raise ConfigError(f"{who}: `{key}@PARAM=…` must {expected}; got {name.strip()!r}.")
        schedule = Schedule.parse(text if eq else clause, f"{who}: {body.strip() or 'term'}")
        q = cls.params[names.index(param)] if cls is not None and param is not None else None
        targets = keys if param is None else (f"{keys[0]}.{param}",)
        bounds = [q] if q is not None else [p for k in keys for p in techniques.get(k).params[:1]]
        bare = (text if eq else clause).strip().lower() == "adaptive"
        inverse = (q.inverse if q is not None else any(
            techniques.get(k).inverse_strength for k in keys))  # fmt: skip
        if bare and not inverse and any(b.maximum == math.inf for b in bounds):
            label = keys[0] if param is None else f"{keys[0]}@{param}="
            raise ConfigError(
                f"{who}: `{label}{'' if param else '@'}adaptive` must state STEP:CAP for a "
                "strength that is not a rate (such as @adaptive:1e-4:1e-3); got 'adaptive'."
            )
        for target in targets:
            if any(k == target for k, _ in pairs):
                raise ConfigError(
                    f"{who}: `{target}` must have one schedule; got two in {body.strip()!r}."
                )
            pairs.append((target, schedule.text()))
    if cls is None:  # elasticnet: l1 and l2 carry its one schedule
        text = f"{term.text}@{pairs[0][1]}"
    else:
        text = term.text + schedule_suffixes(pairs)[keys[0]]
    fields = {**term.fields, "schedules": tuple(pairs)}
    return term._replace(text=text, fields=fields, explicit=True)


def _scheduled_keys(term: _Term) -> tuple[str, ...]:
    """The technique keys a term's schedule applies to (elastic net's: ``l1`` and ``l2``)."""
    if term.role != "technique":
        return ()
    key = term.text.partition("=")[0]
    if key == "elasticnet":
        return ("l1", "l2")
    if key == "auto-dropout":
        return ()
    return (key,) if key in set(techniques.keys()) else ()


def _term(who: str, raw: str) -> _Term:
    text = raw.strip()
    if not text:
        raise ConfigError(f"{who}: every term must be non-empty; got an empty term.")
    body, at, schedule_text = text.partition("@")
    if at:
        return _scheduled(who, body, schedule_text)
    key, eq, value = text.partition("=")
    key = _normalize(key)
    key = _PARAM_ALIASES.get(key, key)
    registered = techniques.keys()
    if key not in _PARAMS and key in registered:
        return _technique_term(who, key, eq, value.strip())
    if not eq:
        if key == "auto-dropout":
            return _Term(key, _BUILTIN["dropout"].order, False, PRESETS[key].settings, "technique")
        if key in PRESETS and "+" not in key:
            order, role = _PARAMS.get(key, (0, "none"))
            return _Term(key, order, False, PRESETS[key].settings, role)
        if key in _BUILTIN:  # a switch without a preset of its own
            return _Term(key, _BUILTIN[key].order, True, _BUILTIN[key].to_fields({}), "technique")
        if key == "proximal":
            return _Term(key, 70, True, {"l1_mode": "proximal"}, "modifier")
        if key in _VALUED:
            raise ConfigError(message(who, key, f"given a value, as {key}=VALUE", text))
        bare = _bare_terms()
        expected = f"one of {', '.join(bare)}, or NAME=VALUE"
        known = [*bare, *ALIASES, *_valued_terms()]
        raise ConfigError(message(who, "term", expected, text) + suggest(key, known))
    if key == "name":
        raise ConfigError(message(who, "name", "set in a strategy file, not in the grammar", text))
    if key not in _VALUED:
        if key in PRESETS or key == "proximal":
            raise ConfigError(message(who, key, "given without a value", text))
        valued = _valued_terms()
        raise ConfigError(
            message(who, "parameter", "one of " + ", ".join(valued), key)
            + suggest(key, [*valued, *registered])
        )
    fields, canonical = _value_term(who, key, value.strip())
    if key == "l1-mode" and canonical == "proximal":
        return _Term("proximal", 70, True, fields, "modifier")
    order, role = _PARAMS[key]
    return _Term(f"{key}={canonical}", order, True, fields, role)


_SPLIT = re.compile(r"(?<![0-9.][eE])\+")


def _terms(text: str) -> tuple[str, list[_Term], dict[str, Any]]:
    """The stripped text, its terms and the merged Strategy fields (grammar checks only)."""
    raw = text.strip() if isinstance(text, str) else text
    who = f"Strategy {raw!r}"
    if not isinstance(raw, str) or not raw:
        raise ConfigError(message("parse_strategy", "text", "a non-empty strategy text", text))
    terms = [_term(who, piece) for piece in _SPLIT.split(raw)]
    by: dict[bool, dict[str, str]] = {False: {}, True: {}}
    merged: dict[bool, dict[str, Any]] = {False: {}, True: {}}
    registered: dict[str, TechniqueConfig] = {}
    schedules: dict[str, tuple[str, str]] = {}
    for t in terms:
        for field, value in t.fields.items():
            if field == "schedules":
                for pair in value:
                    if pair[0] in schedules and schedules[pair[0]][1] != t.text:
                        raise ConfigError(
                            f"{who}: `{pair[0]}` must have one schedule; got "
                            f"{schedules[pair[0]][1]!r} and {t.text!r}."
                        )
                    schedules[pair[0]] = (pair[1], t.text)
                continue
            if field == "techniques":
                for config in value:
                    if config.key in registered:
                        raise ConfigError(
                            f"{who}: `{config.key}` must be given once; got "
                            f"{_technique_text(registered[config.key])!r} and {t.text!r}."
                        )
                    registered[config.key] = config
                continue
            if field in by[t.explicit]:
                expected = "given once" if t.explicit else "set by one preset"
                raise ConfigError(
                    f"{who}: `{field}` must be {expected}; got {by[t.explicit][field]!r} "
                    f"and {t.text!r}."
                )
            by[t.explicit][field] = t.text
            merged[t.explicit][field] = value
    fields = {**merged[False], **merged[True]}
    if schedules:
        fields["schedules"] = tuple((k, text) for k, (text, _) in schedules.items())
    if registered:
        order = {k: (techniques.get(k).order, k) for k in registered}
        fields["techniques"] = tuple(
            registered[k] for k in sorted(registered, key=order.__getitem__)
        )
    return raw, terms, fields


def _name_of(terms: Sequence[_Term]) -> str:
    kept = [t for t in terms if t.role != "none"] or list(terms[:1])
    return "+".join(t.text for t in sorted(kept, key=lambda t: (t.order, t.explicit)))


# ---------------------------------------------------------------------------------- parsing
def parse_strategy(text: str) -> Strategy:
    """One strategy from its grammar text (see the module docstring), named canonically.

    Errors are :class:`~reglab.errors.ConfigError` naming the text; range checks are the
    :class:`Strategy` constructor's own.

    >>> s = parse_strategy("dropout+l2=1e-3+penalty-layers=all")
    >>> (s.name, s.dropout, s.l2, s.penalty_layers)
    ('dropout+l2=1e-3+penalty-layers=all', 0.3, 0.001, 'all')
    >>> parse_strategy("dropuot")
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: Strategy 'dropuot': `term` must be ...; got 'dropuot'. Did you mean 'dropout'?
    """  # noqa: E501
    raw, terms, fields = _terms(text)
    strategy = Strategy(name=raw, **fields)  # the constructor's messages name the user's text
    return dataclasses.replace(strategy, name=_name_of(terms))


def parse_strategies(text: str) -> list[Strategy]:
    """Comma-separated strategies; names (and settings) must be distinct.

    >>> [s.name for s in parse_strategies("l2=1e-3, l2=1e-2, en=1e-3:0.5")]
    ['l2=1e-3', 'l2=0.01', 'elasticnet=1e-3:0.5']
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(
            message("parse_strategies", "text", "a comma-separated list of strategies", text)
        )
    pieces = text.split(",")
    if any(not p.strip() for p in pieces):
        raise ConfigError(
            message("parse_strategies", "text", "strategies separated by single commas", text)
        )
    return _unique([parse_strategy(p) for p in pieces], "parse_strategies")


def _same_settings(a: Strategy, b: Strategy) -> bool:
    return dataclasses.replace(a, name="") == dataclasses.replace(b, name="")


def _unique(strategies: list[Strategy], who: str) -> list[Strategy]:
    seen: dict[str, Strategy] = {}
    for s in strategies:
        if s.name in seen:
            raise ConfigError(f"{who}: strategy names must be distinct; got {s.name!r} twice.")
        twin = next((t for t in seen.values() if _same_settings(s, t)), None)
        if twin is not None:
            raise ConfigError(
                f"{who}: strategies must differ; got {twin.name!r} and {s.name!r}, "
                "which have the same settings."
            )
        seen[s.name] = s
    return strategies


def strategy_to_text(strategy: Strategy) -> str:
    """Canonical grammar text of a strategy's settings: ``parse_strategy`` reads it back equal.

    Every setting is written explicitly (a preset's name is not used), so the text is a pure
    function of the settings; its name is ignored.

    >>> strategy_to_text(preset("dropout+l2"))
    'dropout=0.3+l2=1e-4'
    >>> strategy_to_text(Strategy(l1=1e-3, l1_mode="proximal", batch_norm=True, lr=3e-3))
    'batchnorm+l1=1e-3+proximal+lr=3e-3'
    """
    s = strategy
    at = schedule_suffixes(s.schedules)
    terms: list[tuple[int, str]] = []
    for cls in _BUILTIN.values():
        values = cls.values_of(s)
        if values is not None:
            terms.append((cls.order, cls.text(values) + at.get(cls.key, "")))
    if s.l1_mode != _DEFAULTS["l1_mode"]:
        terms.append((_MODIFIERS["proximal"], "proximal"))
    if s.penalty_layers != _DEFAULTS["penalty_layers"]:
        terms.append((_MODIFIERS["penalty-layers"], f"penalty-layers={s.penalty_layers}"))
    terms.extend(
        (techniques.get(t.key).order, _technique_text(t) + at.get(t.key, "")) for t in s.techniques
    )
    if s.lr is not None:
        terms.append((_MODIFIERS["lr"], f"lr={format_number(s.lr)}"))
    return "+".join(text for _, text in sorted(terms, key=lambda t: t[0])) or "none"


# ---------------------------------------------------------------------------------- parts
def parts(strategy: str | Strategy) -> tuple[str, ...]:
    """The names of the component strategies of a combination (one name when it is not one).

    Techniques whose terms set the same parameters form one part (``dropout+dropout=0.5``);
    modifiers join the parts they modify: ``proximal`` the parts with L1, ``penalty-layers``
    those with L1 or L2, ``lr`` every part. Each part's name is what typing it alone gives, so
    the parts of a combination can be looked up among a study's strategies by name. A name that
    is not grammar text (a file's own name) is one part; pass the :class:`Strategy` to use its
    settings instead.

    >>> parts("dropout+l2")
    ('dropout', 'l2')
    >>> parts("dropout=0.3+l2=1e-4+lr=3e-3")
    ('dropout=0.3+lr=3e-3', 'l2=1e-4+lr=3e-3')
    >>> parts("elasticnet+proximal")
    ('elasticnet+proximal',)
    """
    text = strategy if isinstance(strategy, str) else _text_for(strategy)
    try:
        _, terms, _ = _terms(text)
    except ConfigError:
        return (text,)
    techs = [t for t in terms if t.role == "technique"]
    groups: list[list[_Term]] = []
    for t in techs:  # merge techniques that share a parameter
        hit = [g for g in groups if any(_touches(u) & _touches(t) for u in g)]
        merged = [t] + [u for g in hit for u in g]
        groups = [g for g in groups if g not in hit] + [merged]
    if len(groups) <= 1:
        return (_name_of(terms),)
    for m in (t for t in terms if t.role == "modifier"):
        wanted = {"l1_mode": {"l1"}, "penalty_layers": {"l1", "l2"}}.get(next(iter(m.fields)))
        targets = [g for g in groups if wanted is None or any(wanted & set(u.fields) for u in g)]
        for g in targets or groups:
            g.append(m)
    names = sorted((min(u.order for u in g), _name_of(g)) for g in groups)
    return tuple(name for _, name in names)


def _touches(term: _Term) -> set[str]:
    """The parameters a term sets; each registry technique counts as its own."""
    keys = {f for f in term.fields if f not in ("techniques", "schedules")}
    return keys | {f"technique:{c.key}" for c in term.fields.get("techniques", ())}


def _text_for(strategy: Strategy) -> str:
    try:
        if _same_settings(parse_strategy(strategy.name), strategy):
            return strategy.name
    except ConfigError:
        pass
    return strategy_to_text(strategy)


def is_combination(strategy: str | Strategy) -> bool:
    """Whether ``strategy`` combines several techniques (see :func:`parts`).

    >>> is_combination("dropout+l2"), is_combination("l2=1e-3+penalty-layers=all")
    (True, False)
    """
    return len(parts(strategy)) > 1


# ---------------------------------------------------------------------------------- describe
def describe(strategy: Strategy) -> str:
    """A short human phrase for a strategy.

    >>> describe(parse_strategy("dropout=0.3+l2=1e-4"))
    'dropout 0.3 + L2 1e-4'
    >>> describe(parse_strategy("l1=1e-3+proximal+penalty-layers=all+lr=3e-3"))
    'L1 1e-3 (proximal) on all layers, lr 3e-3'
    """
    s = strategy
    at = schedule_suffixes(s.schedules, sep=" ")
    phrases: list[tuple[int, str]] = []
    penalty: list[str] = []
    for cls in _BUILTIN.values():
        values = cls.values_of(s)
        if values is None:
            continue
        phrase = cls.phrase(values) + at.get(cls.key, "")
        if cls.key == "input-dropout" and s.dropout_kind == "gaussian":
            phrase = "Gaussian " + phrase
        if cls.key == "l1" and s.l1_mode == "proximal":
            phrase += " (proximal)"
        if cls.key in ("l1", "l2"):
            penalty.append(phrase)
        else:
            phrases.append((cls.order, phrase))
    if penalty:
        where = {"all": " on all layers", "first": " on the first layer"}
        phrases.append(
            (_BUILTIN["l1"].order, " + ".join(penalty) + where.get(s.penalty_layers, ""))
        )
    for config in s.techniques:
        registered = techniques.get(config.key)
        label = registered.label or config.key
        value = _technique_text(config).partition("=")[2]
        phrases.append((registered.order, f"{label} {value}".rstrip() + at.get(config.key, "")))
    text = " + ".join(p for _, p in sorted(phrases, key=lambda t: t[0])) or "no regularization"
    return text + (f", lr {format_number(s.lr)}" if s.lr is not None else "")


# ---------------------------------------------------------------------------------- files
_NUMERIC = ("l1", "l2", "input_dropout", "drop_connect", "max_norm", "weight_decay", "lr")


def _coerce(who: str, key: str, value: Any) -> Any:
    """File values as Strategy fields (YAML reads ``1e-4`` as a string: numbers accepted)."""
    if key in LAYER_FIELDS and isinstance(value, list | tuple):
        return tuple(_coerce(who, key, v) for v in value)
    if key in LAYER_FIELDS and isinstance(value, str):
        return _rates(who, key, value)
    if key in (*_NUMERIC, "dropout") and isinstance(value, str):
        return _number(who, key, value)
    if key in (*_NUMERIC, "dropout") and type(value) is int:
        return float(value)
    if key == "batch_norm" and not isinstance(value, bool):
        raise ConfigError(message(who, key, "true or false", value))
    return value


def _file_schedules(who: str, value: Any) -> tuple[tuple[str, str], ...]:
    """A file's ``schedules:`` mapping (technique key → schedule text, ``{l2: warmup:10}``;
    ``KEY.PARAM`` for another parameter of a registry technique, ``{group-l1.within: cosine}``)."""
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(
            message(who, "schedules", "a mapping of technique to schedule, such as "
                    "{l2: 'warmup:10'}", value)
        )  # fmt: skip
    pairs = []
    for k, v in value.items():
        key, dot, param = str(k).partition(".")
        pairs.append((_normalize(key) + (dot + param.strip().lower().replace("-", "_")), str(v)))
    return tuple(pairs)


def _entry(who: str, entry: Mapping[str, Any], name: str | None) -> Strategy:
    allowed = [*(["name"] if name is None else []), "preset", "grammar", *FIELDS, "schedules"]
    for key in entry:
        if key == "name" and name is not None:
            raise ConfigError(f"{who}: `name` must not be given; the mapping key names the entry.")
        if key not in allowed:
            expected = "one of " + ", ".join(allowed)
            raise ConfigError(message(who, "key", expected, key) + suggest(str(key), allowed))
    if "preset" in entry and "grammar" in entry:
        raise ConfigError(f"{who}: `preset` and `grammar` must not both be given.")
    name = entry.get("name", name)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError(message(who, "name", "a non-empty string", name))
    overrides = {k: _coerce(who, k, v) for k, v in entry.items() if k in FIELDS}
    schedules = _file_schedules(who, entry["schedules"]) if "schedules" in entry else None
    try:
        base = None
        if "preset" in entry:
            base = preset(entry["preset"])
        elif "grammar" in entry:
            base = parse_strategy(entry["grammar"])
        fields = {**({k: getattr(base, k) for k in FIELDS} if base else {}), **overrides}
        strategy = Strategy(
            name=name or (base.name if base else "unnamed"),
            **fields,
            techniques=base.techniques if base else (),
            schedules=schedules if schedules is not None else (base.schedules if base else ()),
        )
    except ConfigError as err:
        raise ConfigError(f"{who}: {err}") from None
    if name is None and (base is None or overrides or schedules is not None):
        return dataclasses.replace(strategy, name=strategy_to_text(strategy))
    return strategy


def _from_data(data: Any, source: str) -> list[Strategy]:
    """Strategies from a file's parsed content: a list of entries or a mapping name → entry."""
    if isinstance(data, Mapping):
        items: list[tuple[str, Any, str | None]] = [
            (f"{source}, entry {k!r}", v, str(k)) for k, v in data.items()
        ]
    elif isinstance(data, list):
        items = [(f"{source}, entry {i}", v, None) for i, v in enumerate(data, 1)]
    else:
        items = []
    if not items:
        expected = "a non-empty list or mapping of strategies"
        got = data if data is None or isinstance(data, list | dict) else type(data).__name__
        raise ConfigError(message(source, "strategies", expected, got))
    out = []
    for who, value, key in items:
        if value is None and key is not None:
            value = key  # `dropout+l2:` with no settings reads the key as grammar
        if isinstance(value, str):
            try:
                s = parse_strategy(value)
            except ConfigError as err:
                raise ConfigError(f"{who}: {err}") from None
            out.append(s if key is None or value == key else dataclasses.replace(s, name=key))
        elif isinstance(value, Mapping):
            out.append(_entry(who, value, key))
        else:
            expected = "a mapping of Strategy fields or a grammar string"
            raise ConfigError(message(who, "entry", expected, type(value).__name__))
    return _unique(out, source)


STRATEGY_FILE_MAX_BYTES = 1_000_000
"""A strategy file larger than this is refused unread (it lists strategies, not data)."""


def load_strategy_file(path: str | os.PathLike[str]) -> list[Strategy]:
    """Strategies from a YAML (``.yaml``/``.yml``) or JSON (``.json``) file.

    The file holds a list of entries or a mapping ``name → entry``. An entry is a mapping of
    :class:`Strategy` fields (``name`` too in a list), optionally based on ``preset:`` or
    ``grammar:`` whose settings the fields override; or a plain grammar string. Numbers may be
    strings (YAML reads ``1e-4`` as one). Without a name an entry is named by its preset or
    grammar, or by :func:`strategy_to_text` when it sets fields.

    Example (YAML)::

        - preset: dropout+l2
        - {name: wide-dropout, dropout: [0.5, 0.2], input_dropout: 0.1, penalty_layers: all}
        - {grammar: l1=1e-3+proximal, lr: 3e-3}
    """
    p = Path(path)
    who = "load_strategy_file"
    if p.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise ConfigError(message(who, "path", "a .yaml, .yml or .json file", str(p)))
    try:
        if p.exists() and not p.is_dir() and not p.is_file():  # a FIFO blocks, a device is endless
            raise ConfigError(
                f"{who}: `path` must be a regular file; got {str(p)!r} (a special file)."
            )
        if p.stat().st_size > STRATEGY_FILE_MAX_BYTES:
            raise ConfigError(
                f"{who}: `path` must be a strategy file of at most "
                f"{STRATEGY_FILE_MAX_BYTES // 1_000_000} MB; got {str(p)!r} "
                f"({p.stat().st_size:,} bytes)."
            )
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise ConfigError(
            f"{who}: `path` must be a readable file; got {str(p)!r} ({reason})."
        ) from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as err:
        where = f"{err.msg} at line {err.lineno}, column {err.colno}"
        raise ConfigError(f"{who}: {str(p)!r} must hold valid JSON; got {where}.") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = getattr(err, "problem", None) or type(err).__name__
        if mark is not None:
            where += f" at line {mark.line + 1}, column {mark.column + 1}"
        raise ConfigError(f"{who}: {str(p)!r} must hold valid YAML; got {where}.") from None
    return _from_data(data, f"Strategy file {str(p)!r}")


def resolve_strategies(spec: Any = None) -> list[Strategy]:
    """Strategies from whatever a user passed: the one entry point for the CLI and Python API.

    ``None`` → :data:`DEFAULT_PRESETS`; a :class:`Strategy`; a path (``Path`` or a string ending
    in ``.yaml``/``.yml``/``.json``) → :func:`load_strategy_file`; other text →
    :func:`parse_strategies`; a mapping → file content; an iterable of any of these, flattened.
    Names and settings must be distinct overall.

    >>> [s.name for s in resolve_strategies(["dropout", preset("l2"), {"name": "x", "l1": 1e-3}])]
    ['dropout', 'l2', 'x']
    """
    if spec is None:
        return [preset(n) for n in DEFAULT_PRESETS]
    if isinstance(spec, Strategy):
        return [spec]
    if isinstance(spec, os.PathLike) or (
        isinstance(spec, str) and spec.strip().lower().endswith((".yaml", ".yml", ".json"))
    ):
        return load_strategy_file(spec)
    if isinstance(spec, str):
        return parse_strategies(spec)
    if isinstance(spec, Mapping):
        return _from_data(spec, "resolve_strategies")
    if isinstance(spec, Iterable):
        out: list[Strategy] = []
        for i, item in enumerate(spec, 1):
            if isinstance(item, Mapping):
                out.extend(_from_data([item], f"resolve_strategies, item {i}"))
            else:
                out.extend(resolve_strategies(item))
        if not out:
            raise ConfigError(message("resolve_strategies", "strategies", "non-empty", spec))
        return _unique(out, "resolve_strategies")
    expected = "strategy text, a Strategy, a file path or a list of these"
    raise ConfigError(message("resolve_strategies", "strategies", expected, spec))
