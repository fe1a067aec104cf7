"""Which techniques a study's model family trains, checked before any data is read.

A technique acts on every family unless it declares ``families`` (``spatial-dropout``: ``cnn``
only; ``recurrent-dropout``: ``rnn`` only; ``lassonet``: the skip MLP, which an ``mlp`` study
builds for it; ``residual`` and ``shake-drop``: the residual MLP, likewise). A recurrent member
also refuses the terms
:func:`~reglab.engine.rnn.strategy_problems` names (DropConnect, Gaussian dropout, batch norm,
projections of dense kernels). ``reglab tune`` and ``reglab path`` use these checks to refuse a
technique of another family in one line, and to keep a cocktail to the techniques its family
trains.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reglab.engine.spec import Strategy
from reglab.errors import ConfigError
from reglab.study.tune_space import SearchSpace
from reglab.techniques import TechniqueConfig, get, keys

__all__ = ["family_of_model", "model_problem", "refused_keys", "space_for_model"]

_ACCEPTS = {"mlp": ("mlp", "skip-mlp", "residual-mlp"), "cnn": ("cnn", "cnn1d"), "rnn": ("rnn",)}
"""The technique families each study model trains (an ``mlp`` study builds the skip MLP for a
technique that needs it; a ``cnn`` study on sequences the 1-D conv family)."""


_NEEDS = {
    ("cnn", "cnn1d"): "--model cnn, the default for images, on image or sequence data",
    ("cnn",): "--model cnn, the default for images, on image data",
    ("rnn",): "--model rnn, the default for sequences, on sequence data",
}
"""What a technique of these families needs: the data and ``--model`` whose members train it
(:func:`~reglab.study.models.default_model`: images get ``cnn``, sequences ``rnn``)."""


def family_of_model(model: Any) -> str | None:
    """``"rnn?cell=gru"`` → ``"rnn"``; ``None`` for a model the study itself will refuse."""
    from reglab.study.run import _model_family

    try:
        family = _model_family(model)
    except ConfigError:
        return None
    return family if family in _ACCEPTS else None


def _probe(key: str) -> Strategy | None:
    """A strategy with ``key`` alone, each parameter at its registry's upper value (nonzero,
    so the term is on); ``None`` when it cannot be built that way."""
    params = tuple((q.name, float(q.high)) for q in get(key).params)
    try:
        return Strategy.of(key, TechniqueConfig(key, params))
    except ConfigError:
        return None


def _why(key: str, family: str, strategy: Strategy | None) -> str | None:
    """Why a ``family`` member cannot train ``key`` (in ``strategy``), or ``None``."""
    if key in keys():
        families = get(key).families
        if families and not set(families) & set(_ACCEPTS[family]):
            needs = f": it needs {_NEEDS[families]}" if families in _NEEDS else ""
            return f"`{key}` (acts on {' or '.join(families)} models only{needs})"
    if family == "rnn" and strategy is not None:
        from reglab.engine.rnn import strategy_problems

        refused = strategy_problems(strategy)
        if refused:
            return ", ".join(refused)
    return None


def refused_keys(techniques: Iterable[str], model: Any) -> dict[str, str]:
    """The techniques (registry keys) ``model``'s members cannot train, each with why."""
    family = family_of_model(model)
    if family is None:
        return {}
    out = {}
    for key in techniques:
        why = _why(key, family, _probe(key) if key in keys() else None)
        if why is not None:
            out[key] = why
    return out


def model_problem(
    techniques: Iterable[str],
    strategy: Strategy | None,
    model: Any,
    who: str,
    param: str,
    *,
    flag: str | None = None,
) -> str | None:
    """The one-line refusal of ``techniques`` (and the terms of ``strategy``, when given) for
    ``model``'s family, or ``None`` when its members train them all. ``flag`` is the
    command-line option that named them; a refused technique is said with the data and
    ``--model`` that train it."""
    family = family_of_model(model)
    if family is None:
        return None
    techniques = list(techniques)
    bad = list(refused_keys(techniques, model).values())
    if not bad and strategy is not None:
        why = _why("+".join(techniques), family, strategy)
        bad = [why] if why is not None else []
    if not bad:
        return None
    named = f"`{param}`" if flag is None else f"`{param}` ({flag})"
    return (
        f"{who}: {named} must name techniques that {family} models train (model {model!r}); "
        "got " + "; ".join(bad) + "."
    )


def space_for_model(space: SearchSpace, model: Any) -> SearchSpace:
    """``space`` without the techniques ``model``'s members cannot train: for a cocktail (a
    switched space); a space named technique by technique is checked by :func:`model_problem`
    instead, so that a technique the user named is refused rather than left out."""
    if not space.switches:
        return space
    refused = refused_keys(space.techniques, model)
    techs = tuple(k for k in space.techniques if k not in refused)
    dims = tuple(d for d in space.dims if d.technique in techs)
    return SearchSpace(space.text, techs, dims, space.switches, space.schedules)
