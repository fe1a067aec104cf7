"""Lookahead (Zhang, Lucas, Hinton & Ba 2019): ``lookahead`` or ``lookahead=K:ALPHA``.

Around each member's optimizer (the study's Adam): slow weights ``φ`` start at the initial
weights; every ``k`` optimizer steps ``φ ← φ + α(θ − φ)`` and ``θ ← φ``
(:func:`reglab.optim.lookahead_sync_`; Adam's moments carry on). Defaults ``k = 5``,
``α = 0.5`` (the paper's). The member is **evaluated with its slow weights**, as the paper
does: its validation curve, early stopping's best epoch, the restored and stored weights and
the test scores are those of ``φ`` (the last synchronization's), while training goes on from
the fast weights ``θ``. Members of one stack may have different ``k`` and ``α``; the step
count ``t`` is the member's own (every member of a stack takes the same steps).

With batch norm, the slow weights are evaluated with running statistics recomputed for them
by one pass over the member's training rows (:mod:`reglab.engine.bn_refresh`; the running
statistics of training follow the fast weights). With ``swa``, SWA averages the slow weights
at each epoch's end (``lookahead+swa``); refused with ``snapshot`` (would its snapshots keep
the fast or the slow weights?). Its single-model form is
:class:`reglab.optim.Lookahead` around ``torch.optim.Adam``.

Search ranges: ``k`` in [2, 20] steps, ``α`` in [0.3, 0.9].

>>> Lookahead(k=5, alpha=0.5).values
{'k': 5.0, 'alpha': 0.5}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

from reglab.errors import ConfigError
from reglab.optim.lookahead import check_lookahead
from reglab.techniques.base import Param, Technique
from reglab.techniques.registry import register

__all__ = ["Lookahead"]

TRAJECTORY_KEYS = ("lookahead", "snapshot", "swa")
"""Techniques that each evaluate a member with weights of their own. ``lookahead+swa`` is
well defined (SWA averages the slow weights Lookahead evaluates); ``snapshot`` joins neither."""

_WHY = {
    "swa": "a snapshot ensemble predicts with its K snapshots, SWA with one average of the "
    "weights: which the member is would be ill-defined",
    "lookahead": "whether snapshots keep the fast or the slow weights would make two different "
    "methods",
}


def trajectory_conflict(key: str, keys: Sequence[str]) -> str | None:
    """Why ``key`` cannot join the strategy's ``keys``: ``snapshot`` with ``swa`` or
    ``lookahead`` (one line, with the reason)."""
    if key != "snapshot":  # lookahead+swa is allowed; snapshot says why it joins neither
        return None
    other = next((k for k in ("swa", "lookahead") if k in keys), None)
    if other is None:
        return None
    return f"`snapshot` must be used without `{other}` ({_WHY[other]})"


class Lookahead(Technique):
    """``lookahead=K:ALPHA``: slow weights every ``K`` steps, step size ``ALPHA``."""

    key = "lookahead"
    params = (
        Param("k", 2.0, 20.0, "linear", minimum=1.0, maximum=100_000.0, integer=True),
        Param("alpha", 0.3, 0.9, "linear", minimum=1e-6, maximum=1.0),
    )
    acts_on = "trajectory"
    label = "Lookahead"
    order = 96
    defaults: ClassVar[Mapping[str, float]] = MappingProxyType({"k": 5.0, "alpha": 0.5})
    fields: ClassVar[tuple[str, ...]] = TRAJECTORY_KEYS  # one of them per cocktail

    def __init__(self, k: Any, alpha: Any) -> None:
        off = k == 0 and alpha == 0  # the registry's "off" (a strategy leaves the term out)
        problems = [] if off else check_lookahead("Lookahead (lookahead)", k, alpha)
        if problems:
            raise ConfigError(" ".join(problems))
        super().__init__(k=k, alpha=alpha)

    @classmethod
    def conflict(cls, keys: Sequence[str]) -> str | None:
        return trajectory_conflict(cls.key, keys)

    @classmethod
    def weight_copies(cls, values: Mapping[str, float]) -> int:
        """The slow weights and, between an epoch's end and the next one's start, the fast
        ones, each twice while the stack drops finished members: 4 (0 when off)."""
        return 4 if values["k"] else 0


register(Lookahead)
